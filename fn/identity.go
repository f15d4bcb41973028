package fn

import (
	iamv1alpha1 "github.com/crossplane-contrib/provider-aws/apis/iam/v1alpha1"
	iam "github.com/crossplane-contrib/provider-aws/apis/iam/v1beta1"
	xpv1 "github.com/crossplane/crossplane-runtime/apis/common/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"
)

// AWS managed policies the host may need.
const (
	ssmManagedInstanceCore = "AmazonSSMManagedInstanceCore"
	xrayWriteOnlyAccess    = "AWSXrayWriteOnlyAccess"
)

// buildIdentity composes the host's instance role and profile (SSM access
// always, X-Ray with tracing) and the invoker role Restate assumes to call
// Lambda. The invoker role's trust and the instance role's own policy name
// exact ARNs, so they wait until the account id is known (from the
// platform's input, or observed from the instance role's ARN).
func buildIdentity(s *stack) []part {
	sh := s.SelfHosted
	instanceRole := awsName(s.Name, keyInstanceRole)
	invokerRole := awsName(s.Name, keyInvokerRole)
	roleRef := &xpv1.Reference{Name: instanceRole}
	attach := func(policyName string) *iam.RolePolicyAttachment {
		return &iam.RolePolicyAttachment{Spec: iam.RolePolicyAttachmentSpec{ForProvider: iam.RolePolicyAttachmentParameters{
			PolicyARN:   s.managedPolicyARN(policyName),
			RoleNameRef: roleRef,
		}}}
	}

	parts := []part{
		{key: keyInstanceRole, mr: &iam.Role{Spec: iam.RoleSpec{ForProvider: iam.RoleParameters{
			Description:              ptr.To("Restate server host of stack " + s.Name),
			AssumeRolePolicyDocument: trustService("ec2.amazonaws.com"),
		}}}},
		{key: keyInstanceRoleSSM, mr: attach(ssmManagedInstanceCore)},
		// provider-aws adds the role to the profile once, right after
		// creating the profile, and never again: created before the role
		// exists in AWS, the profile stays empty and the host runs with no
		// identity (the account audit caught this). So the profile waits
		// until the role is ready.
		{key: keyInstanceProfile, mr: &iamv1alpha1.InstanceProfile{Spec: iamv1alpha1.InstanceProfileSpec{ForProvider: iamv1alpha1.InstanceProfileParameters{
			CustomInstanceProfileParameters: iamv1alpha1.CustomInstanceProfileParameters{RoleRef: roleRef},
		}}}, needs: []string{keyInstanceRole}},
	}
	if sh.XRay() {
		parts = append(parts, part{key: keyInstanceRoleXRay, mr: attach(xrayWriteOnlyAccess)})
	}
	if s.AccountID == "" {
		return parts
	}

	parts = append(parts, part{key: keyInvokerRole, mr: &iam.Role{Spec: iam.RoleSpec{ForProvider: iam.RoleParameters{
		Description:              ptr.To("Restate invokes Lambda services of stack " + s.Name + " with this role"),
		AssumeRolePolicyDocument: trustRole(s.roleARN(instanceRole)),
	}}}})
	if sh.VolumeID == "" {
		// The host's own policy names its data volume; the instance waits
		// for both.
		return parts
	}
	return append(parts, part{key: keyInstanceRolePolicy, mr: &iam.RolePolicy{Spec: iam.RolePolicySpec{ForProvider: iam.RolePolicyParameters{
		Document:    extv1.JSON{Raw: []byte(hostPolicy(s, invokerRole))},
		RoleNameRef: roleRef,
	}}}})
}

// hostPolicy is what the host may do: assume the invoker role, write its
// own log group, and attach its data volume. Attaching names the volume
// exactly, and only to instances tagged as this stack's: the host's role
// cannot tag, so its credentials cannot move the data to another instance.
// A customer managed key also needs a grant EC2 makes on the host's behalf.
func hostPolicy(s *stack, invokerRole string) string {
	sh := s.SelfHosted
	st := []statement{
		allow([]string{"sts:AssumeRole"}, s.roleARN(invokerRole)),
		allow([]string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}, s.logGroupARN(sh.Logs.GroupName)+":*"),
		allow([]string{"ec2:AttachVolume"}, s.ec2ARN("volume/"+sh.VolumeID)),
		{Effect: "Allow", Action: []string{"ec2:AttachVolume"}, Resource: []string{s.ec2ARN("instance/*")},
			Condition: map[string]map[string]string{"StringEquals": {"aws:ResourceTag/" + tagStack: s.Name}}},
	}
	if key := sh.DataVolume.KMSKeyID; key != "" {
		st = append(st, statement{Effect: "Allow", Action: []string{"kms:CreateGrant"}, Resource: []string{s.kmsKeyARN(key)},
			Condition: map[string]map[string]string{
				"Bool":         {"kms:GrantIsForAWSResource": "true"},
				"StringEquals": {"kms:ViaService": "ec2." + s.Region + ".amazonaws.com"},
			}})
	}
	return iamPolicy(st...)
}
