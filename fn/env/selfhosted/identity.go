package selfhosted

import (
	"slices"

	iamv1alpha1 "github.com/crossplane-contrib/provider-aws/apis/iam/v1alpha1"
	iam "github.com/crossplane-contrib/provider-aws/apis/iam/v1beta1"
	xpv1 "github.com/crossplane/crossplane-runtime/apis/common/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
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
func buildIdentity(s *stack.Stack, sh *Server) []stack.Part {
	instanceRole := stack.ResourceName(s.Name, KeyInstanceRole)
	invokerRole := stack.ResourceName(s.Name, stack.KeyInvokerRole)
	roleRef := &xpv1.Reference{Name: instanceRole}
	attach := func(policyName string) *iam.RolePolicyAttachment {
		return &iam.RolePolicyAttachment{Spec: iam.RolePolicyAttachmentSpec{ForProvider: iam.RolePolicyAttachmentParameters{
			PolicyARN:   s.ManagedPolicyARN(policyName),
			RoleNameRef: roleRef,
		}}}
	}

	parts := []stack.Part{
		{Key: KeyInstanceRole, MR: &iam.Role{Spec: iam.RoleSpec{ForProvider: iam.RoleParameters{
			Description:              ptr.To("Restate server host of stack " + s.Name),
			AssumeRolePolicyDocument: stack.TrustService("ec2.amazonaws.com"),
		}}}},
		{Key: KeyInstanceRoleSSM, MR: attach(ssmManagedInstanceCore)},
		// provider-aws adds the role to the profile once, right after
		// creating the profile, and never again: created before the role
		// exists in AWS, the profile stays empty and the host runs with no
		// identity (the account audit caught this). So the profile waits
		// until the role is ready.
		{Key: KeyInstanceProfile, MR: &iamv1alpha1.InstanceProfile{Spec: iamv1alpha1.InstanceProfileSpec{ForProvider: iamv1alpha1.InstanceProfileParameters{
			CustomInstanceProfileParameters: iamv1alpha1.CustomInstanceProfileParameters{RoleRef: roleRef},
		}}}, Needs: []string{KeyInstanceRole}},
	}
	if sh.XRay() {
		parts = append(parts, stack.Part{Key: KeyInstanceRoleXRay, MR: attach(xrayWriteOnlyAccess)})
	}
	if s.AccountID == "" {
		return parts
	}

	parts = append(parts, stack.Part{Key: stack.KeyInvokerRole, MR: &iam.Role{Spec: iam.RoleSpec{ForProvider: iam.RoleParameters{
		Description:              ptr.To("Restate invokes Lambda services of stack " + s.Name + " with this role"),
		AssumeRolePolicyDocument: stack.TrustRole(s.RoleARN(instanceRole)),
	}}}})
	if sh.VolumeID == "" || slices.Contains(sh.NodeVolumeIDs, "") {
		// The host's own policy names its data volume (a cluster's, every
		// node's); the instance waits for both.
		return parts
	}
	return append(parts, stack.Part{Key: KeyInstanceRolePolicy, MR: &iam.RolePolicy{Spec: iam.RolePolicySpec{ForProvider: iam.RolePolicyParameters{
		Document:    extv1.JSON{Raw: []byte(hostPolicy(s, sh, invokerRole))},
		RoleNameRef: roleRef,
	}}}})
}

// hostPolicy is what the host may do: assume the invoker role, write its
// own log group, and attach its data volume. Attaching names the volume
// exactly, and only to instances tagged as this stack's: the host's role
// cannot tag, so its credentials cannot move the data to another instance.
// A customer managed key also needs a grant EC2 makes on the host's behalf.
func hostPolicy(s *stack.Stack, sh *Server, invokerRole string) string {
	st := []stack.Statement{
		stack.Allow([]string{"sts:AssumeRole"}, s.RoleARN(invokerRole)),
		stack.Allow([]string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}, s.LogGroupARN(sh.Logs.GroupName)+":*"),
		stack.Allow([]string{"ec2:AttachVolume"}, volumeARNs(s, sh)...),
		{Effect: "Allow", Action: []string{"ec2:AttachVolume"}, Resource: []string{s.EC2ARN("instance/*")},
			Condition: map[string]map[string]string{"StringEquals": {"aws:ResourceTag/" + stack.TagStack: s.Name}}},
	}
	if sh.Cluster != nil {
		st = append(st, clusterStoreStatements(s, sh.Store.Bucket, sh.Store.Prefix)...)
	}
	if sh.Agent != nil {
		st = append(st, agentStatements(s, sh)...)
	}
	if key := sh.DataVolume.KMSKeyID; key != "" {
		st = append(st, stack.Statement{Effect: "Allow", Action: []string{"kms:CreateGrant"}, Resource: []string{s.KMSKeyARN(key)},
			Condition: map[string]map[string]string{
				"Bool":         {"kms:GrantIsForAWSResource": "true"},
				"StringEquals": {"kms:ViaService": "ec2." + s.Region + ".amazonaws.com"},
			}})
	}
	return stack.Policy(st...)
}

// volumeARNs are the data volumes the host may attach: its own, or, on a
// cluster, every node's (the nodes share one role; a node attaches only
// to instances tagged as the stack's).
func volumeARNs(s *stack.Stack, sh *Server) []string {
	if sh.Cluster == nil {
		return []string{s.EC2ARN("volume/" + sh.VolumeID)}
	}
	arns := make([]string, len(sh.NodeVolumeIDs))
	for i, id := range sh.NodeVolumeIDs {
		arns[i] = s.EC2ARN("volume/" + id)
	}
	return arns
}

// agentStatements are what the host agent may do, with the host's role:
// read exactly its stack's orders (Secrets Manager adds six characters to
// a secret's name in its ARN), publish versions of exactly the stack's
// functions and delete their versions (a qualified ARN only, so never a
// function itself), and write exactly its own tag keys on exactly the data
// volume. ForAllValues holds on an empty set of keys, and a DeleteTags
// without keys deletes every tag: the Null condition refuses that.
func agentStatements(s *stack.Stack, sh *Server) []stack.Statement {
	st := []stack.Statement{
		stack.Allow([]string{"secretsmanager:GetSecretValue"}, s.RegionalARN("secretsmanager", "secret:"+sh.Agent.OrdersSecret+"-??????")),
		{Effect: "Allow", Action: []string{"ec2:CreateTags", "ec2:DeleteTags"}, Resource: []string{s.EC2ARN("volume/" + sh.VolumeID)},
			Condition: map[string]map[string]string{
				"ForAllValues:StringLike": {"aws:TagKeys": agentcontract.TagPrefix + "*"},
				"Null":                    {"aws:TagKeys": "false"},
			}},
	}
	var functions, versions []string
	for _, svc := range s.Services {
		if svc.Lambda != nil {
			arn := s.FunctionARN(stack.FunctionName(s, svc.Name))
			functions, versions = append(functions, arn), append(versions, arn+":*")
		}
	}
	if len(functions) > 0 {
		st = append(st, stack.Allow([]string{"lambda:PublishVersion"}, functions...), stack.Allow([]string{"lambda:DeleteFunction"}, versions...))
	}
	return st
}
