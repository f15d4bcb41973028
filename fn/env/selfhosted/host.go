package selfhosted

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"

	logs "github.com/crossplane-contrib/provider-aws/apis/cloudwatchlogs/v1alpha1"
	ec2manual "github.com/crossplane-contrib/provider-aws/apis/ec2/manualv1alpha1"
	ec2v1alpha1 "github.com/crossplane-contrib/provider-aws/apis/ec2/v1alpha1"
	xpv1 "github.com/crossplane/crossplane-runtime/apis/common/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// buildLogGroup composes the server's log group. With removal policy Retain
// it is orphaned rather than deleted with the stack.
func buildLogGroup(s *stack.Stack, sh *Server) stack.Part {
	lg := &logs.LogGroup{Spec: logs.LogGroupSpec{ForProvider: logs.LogGroupParameters{
		LogGroupName:             ptr.To(sh.Logs.GroupName),
		CustomLogGroupParameters: logs.CustomLogGroupParameters{RetentionInDays: ptr.To(int64(sh.Logs.RetentionDays))},
	}}}
	if sh.Retain() {
		lg.SetDeletionPolicy(xpv1.DeletionOrphan)
	}
	return stack.Part{Key: KeyLogGroup, MR: lg}
}

// buildVolume composes the encrypted EBS volume that holds Restate's data,
// in the host's zone. Its key never changes, so it outlives every instance
// the stack replaces; removal policy decides its fate only when the stack
// goes.
func buildVolume(s *stack.Stack, sh *Server, key string) stack.Part {
	v := sh.DataVolume
	p := ec2v1alpha1.VolumeParameters{
		AvailabilityZone: ptr.To(sh.Zone()),
		Size:             ptr.To(int64(v.SizeGiB)),
		VolumeType:       ptr.To(v.Type),
		Encrypted:        ptr.To(true),
	}
	if v.IOPS != 0 {
		p.IOPS = ptr.To(int64(v.IOPS))
	}
	if v.KMSKeyID != "" {
		p.KMSKeyID = ptr.To(v.KMSKeyID)
	}
	vol := &ec2v1alpha1.Volume{Spec: ec2v1alpha1.VolumeSpec{ForProvider: p}}
	if sh.Retain() {
		vol.SetDeletionPolicy(xpv1.DeletionOrphan)
	}
	return stack.Part{Key: key, MR: vol}
}

// buildHost composes the EC2 instance that runs Restate.
//
// EC2 cannot change user data, image or type of a running instance, and
// provider-aws does not try. So the instance's composition resource name
// (and its object name) carries a hash of everything it was launched with:
// when a claim changes any of it, the stack composes a new instance and
// Crossplane deletes the old one. Restate's data is on the data volume,
// which the new instance attaches at boot once the old one has let go of
// it (see buildDataVolume); the instance itself has only its root volume.
func buildHost(s *stack.Stack, sh *Server, at placement, fp *field.Path, userData UserDataFunc) (stack.Part, error) {
	ud, err := userData(s.Region, sh)
	var tooLarge ErrUserDataTooLarge
	if errors.As(err, &tooLarge) {
		return stack.Part{}, field.Invalid(fp, "<user data>", tooLarge.Error())
	}
	if err != nil {
		return stack.Part{}, err
	}
	p := ec2manual.InstanceParameters{
		ImageID:            ptr.To(sh.ImageID),
		InstanceType:       sh.InstanceType,
		IAMInstanceProfile: &ec2manual.IAMInstanceProfileSpecification{Name: ptr.To(stack.ResourceName(s.Name, KeyInstanceProfile))},
		// IMDSv2 only; two hops, since the server and collector run in
		// containers and read the instance role's credentials.
		MetadataOptions: &ec2manual.InstanceMetadataOptionsRequest{
			HTTPEndpoint:            "enabled",
			HTTPTokens:              "required",
			HTTPPutResponseHopLimit: ptr.To[int32](2),
		},
		SecurityGroupRefs: []xpv1.Reference{
			{Name: stack.ResourceName(s.Name, KeyIngressGroup)},
			{Name: stack.ResourceName(s.Name, KeyAdminGroup)},
		},
		SubnetID:    at.SubnetID,
		SubnetIDRef: at.SubnetRef,
		UserData:    ptr.To(base64.StdEncoding.EncodeToString(ud)),
	}
	prefix, volumeKey := KeyInstancePrefix, KeyDataVolume
	if n := sh.Node; n != nil {
		prefix, volumeKey = KeyInstancePrefix+n.Name+"-", KeyNodeVolumePrefix+n.Name
		p.SecurityGroupRefs = append(p.SecurityGroupRefs, xpv1.Reference{Name: stack.ResourceName(s.Name, KeyFabricGroup)})
	}
	launch, err := json.Marshal(p)
	if err != nil {
		return stack.Part{}, err
	}
	// Boot order: the instance boots once, and its bootstrap attaches its
	// data volume, pulls images and writes logs at once. It is first
	// created only once its way out (the subnet, its routes, the egress
	// rule; a public subnet's public addresses are set after the subnet is
	// created), its identity, its permissions to attach and write logs, and
	// its data volume exist. The bootstrap retries what may still lag.
	needs := append(slices.Clone(at.path), KeyEgressRule, KeyInstanceProfile, KeyInstanceRolePolicy, KeyLogGroup, volumeKey)
	if sh.Node != nil {
		needs = append(needs, KeyFabricRule)
	}
	if sh.VolumeID == "" {
		// No resource has this key: the instance waits until the volume's
		// id is known, which its user data names.
		needs = append(needs, volumeKey+" id")
	}
	// The client token makes launching this instance idempotent in EC2: a
	// launch provider-aws retries, or makes again after it lost the answer
	// (killed mid-create, or a response lost), returns the same instance
	// instead of starting a second one. It is set after the hash, which it
	// derives from.
	key := prefix + stack.HashOf(string(launch))
	p.ClientToken = ptr.To(stack.ClientToken(s, key))
	return stack.Part{Key: key, MR: &ec2manual.Instance{Spec: ec2manual.InstanceSpec{ForProvider: p}}, Needs: needs}, nil
}
