package selfhosted

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// volumeLimits are EBS's rules for a volume type: its sizes, and its
// provisioned IOPS (none when maxIOPS is 0), absolute and per GiB.
type volumeLimits struct {
	minGiB, maxGiB           int32
	minIOPS, maxIOPS, perGiB int32
	iopsRequired             bool
}

// ebsLimits are the volume types a stack may use, from the EC2
// CreateVolume reference.
var ebsLimits = map[string]volumeLimits{
	"gp3": {minGiB: 1, maxGiB: 16384, minIOPS: 3000, maxIOPS: 16000, perGiB: 500},
	"gp2": {minGiB: 1, maxGiB: 16384},
	"io1": {minGiB: 4, maxGiB: 16384, minIOPS: 100, maxIOPS: 64000, perGiB: 50, iopsRequired: true},
	"io2": {minGiB: 4, maxGiB: 16384, minIOPS: 100, maxIOPS: 256000, perGiB: 1000, iopsRequired: true},
	"st1": {minGiB: 125, maxGiB: 16384},
	"sc1": {minGiB: 125, maxGiB: 16384},
}

// kmsKeyRE matches a KMS key id (a UUID, or a multi-Region key's mrk-),
// and kmsKeyARNRE a key's ARN; aliases are neither.
var (
	kmsKeyRE    = regexp.MustCompile(`^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	kmsKeyARNRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:kms:([a-z0-9-]+):([0-9]{12}):key/(.+)$`)
)

// resolveDataVolume fills in the data volume's defaults and checks it
// against EBS's rules, which the schema cannot relate to each other.
func resolveDataVolume(region string, v *v1alpha1.DataVolumeSpec, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if v.SizeGiB == 0 {
		v.SizeGiB = defaultVolumeGiB
	}
	if v.Type == "" {
		v.Type = defaultVolumeType
	}
	lim, ok := ebsLimits[v.Type]
	if !ok {
		return append(errs, field.NotSupported(fp.Child("type"), v.Type, stack.SortedKeys(ebsLimits)))
	}
	if v.SizeGiB < lim.minGiB || v.SizeGiB > lim.maxGiB {
		errs = append(errs, field.Invalid(fp.Child("sizeGiB"), v.SizeGiB, fmt.Sprintf("a %s volume takes %d to %d GiB", v.Type, lim.minGiB, lim.maxGiB)))
	}
	switch {
	case lim.maxIOPS == 0 && v.IOPS != 0:
		errs = append(errs, field.Invalid(fp.Child("iops"), v.IOPS, fmt.Sprintf("a %s volume takes no provisioned IOPS", v.Type)))
	case lim.iopsRequired && v.IOPS == 0:
		errs = append(errs, field.Required(fp.Child("iops"), fmt.Sprintf("a %s volume needs provisioned IOPS (%d to %d)", v.Type, lim.minIOPS, lim.maxIOPS)))
	case v.IOPS != 0 && (v.IOPS < lim.minIOPS || v.IOPS > lim.maxIOPS):
		errs = append(errs, field.Invalid(fp.Child("iops"), v.IOPS, fmt.Sprintf("a %s volume takes %d to %d IOPS", v.Type, lim.minIOPS, lim.maxIOPS)))
	case v.IOPS != 0 && int64(v.IOPS) > int64(lim.perGiB)*int64(v.SizeGiB):
		errs = append(errs, field.Invalid(fp.Child("iops"), v.IOPS, fmt.Sprintf("a %s volume takes at most %d IOPS per GiB: %d for %d GiB", v.Type, lim.perGiB, int64(lim.perGiB)*int64(v.SizeGiB), v.SizeGiB)))
	}
	if v.KMSKeyID != "" {
		if err := kmsKeyOf(region, v.KMSKeyID, fp.Child("kmsKeyId")); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// kmsKeyOf checks a KMS key reference: a key id, or a key ARN of the
// region (EBS encrypts only with keys of the volume's region).
func kmsKeyOf(region, key string, fp *field.Path) *field.Error {
	if kmsKeyRE.MatchString(key) {
		return nil
	}
	m := kmsKeyARNRE.FindStringSubmatch(key)
	switch {
	case strings.Contains(key, "alias/"):
		return field.Invalid(fp, key, "an alias cannot be used: give the key's id or ARN, which the host's permission to use the key names")
	case m == nil || !kmsKeyRE.MatchString(m[4]):
		return field.Invalid(fp, key, "not a KMS key id (such as 1234abcd-12ab-34cd-56ef-1234567890ab) or key ARN")
	case m[2] != region:
		return field.Invalid(fp, key, fmt.Sprintf("the key is in region %s; the volume is in %s, and EBS takes keys of its own region", m[2], region))
	}
	return nil
}

// volumeUnchanged refuses a claim that changes what an existing data volume
// was created with. provider-aws never modifies a volume (its controller
// reports every volume up to date), so such a change would silently not
// apply; a change of zone would strand the data away from the host.
func volumeUnchanged(sh *Server, obs stack.Observed, key, zone string, zonePath *field.Path) field.ErrorList {
	if _, ok := obs[key]; !ok {
		return nil
	}
	fp := fieldPath
	const why = "the data volume was created with %s %s, and provider-aws never changes a volume; keep it, or move the data to a new stack"
	var errs field.ErrorList
	for _, c := range []struct {
		path     *field.Path
		field    string
		want     string
		optional bool // absent when not set
	}{
		{zonePath, "availabilityZone", zone, false},
		{fp.Child("dataVolume", "sizeGiB"), "size", fmt.Sprint(sh.DataVolume.SizeGiB), false},
		{fp.Child("dataVolume", "type"), "volumeType", sh.DataVolume.Type, false},
		{fp.Child("dataVolume", "iops"), "iops", optionalInt(sh.DataVolume.IOPS), true},
		{fp.Child("dataVolume", "kmsKeyId"), "kmsKeyId", sh.DataVolume.KMSKeyID, true},
	} {
		v := obs.Value(key, "spec.forProvider."+c.field)
		if v == nil && !c.optional {
			continue // not observed: nothing to compare with
		}
		got := v.GetStringValue()
		if _, isNumber := v.GetKind().(*structpb.Value_NumberValue); isNumber {
			got = strconv.FormatFloat(v.GetNumberValue(), 'f', -1, 64)
		}
		if got != c.want {
			if got == "" {
				got = "none"
			}
			errs = append(errs, field.Invalid(c.path, c.want, fmt.Sprintf(why, c.field, got)))
		}
	}
	return errs
}

// zonePath is the field that sets a single node's zone.
func zonePath(sh *Server) *field.Path {
	if sh.Network.Existing != nil {
		return fieldPath.Child("network", "existing", "availabilityZone")
	}
	return fieldPath.Child("network", "newVpc", "availabilityZone")
}

// optionalInt is a number as observed state holds it, or "" for zero.
func optionalInt(n int32) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n))
}

// volumeIDPattern is an EBS volume id.
var volumeIDPattern = regexp.MustCompile(`^vol-[0-9a-f]{8,17}$`)

// policyVolumeID finds the volume a host policy lets the host attach.
var policyVolumeID = regexp.MustCompile(`:volume/(vol-[0-9a-f]{8,17})"`)

// volumeIDOfPolicy is the data volume's id as the observed host policy
// names it (the stack composed the policy only once it knew the id), or "".
func volumeIDOfPolicy(obs stack.Observed) string {
	doc := obs.Value(KeyInstanceRolePolicy, "spec.forProvider.document")
	if doc == nil {
		return ""
	}
	raw, err := doc.MarshalJSON()
	if err != nil {
		return ""
	}
	if s, ok := doc.GetKind().(*structpb.Value_StringValue); ok {
		raw = []byte(s.StringValue)
	}
	if m := policyVolumeID.FindSubmatch(raw); m != nil {
		return string(m[1])
	}
	return ""
}
