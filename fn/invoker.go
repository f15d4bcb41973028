package fn

import (
	"strings"

	iam "github.com/crossplane-contrib/provider-aws/apis/iam/v1beta1"
	xpv1 "github.com/crossplane/crossplane-runtime/apis/common/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
)

// buildCloudInvokerRole composes the role Restate Cloud assumes to invoke
// the stack's functions, unless the claim names an existing one. Only
// Restate Cloud's own role may assume it, and only for this environment
// (the external id), as the CDK's RestateCloudEnvironment does.
func buildCloudInvokerRole(s *stack) []part {
	if s.Cloud.InvokerRoleARN != "" {
		return nil
	}
	restate := map[string]string{"AWS": "arn:aws:iam::" + restateCloudAccount + ":root"}
	trust := iamPolicy(
		statement{Effect: "Allow", Principal: restate, Action: []string{"sts:AssumeRole"}, Condition: map[string]map[string]string{
			"StringEquals": {"sts:ExternalId": s.Cloud.EnvironmentID, "aws:PrincipalArn": restateCloudRoleARN},
		}},
		statement{Effect: "Allow", Principal: restate, Action: []string{"sts:TagSession"}},
	)
	return []part{{key: keyInvokerRole, mr: &iam.Role{Spec: iam.RoleSpec{ForProvider: iam.RoleParameters{
		Description:              ptr.To("Restate Cloud environment " + s.Cloud.EnvironmentID + " invokes Lambda services of stack " + s.Name + " with this role"),
		AssumeRolePolicyDocument: trust,
	}}}}}
}

// buildInvokeGrant composes one policy on the invoker role that lets it
// invoke exactly the stack's functions and their versions, leaving out
// services that opt out. It needs the account id for the ARNs, and an
// invoker role in the stack's account: a role the stack composes, or one
// the claim names. An external environment without an invoker role
// invokes with its own identity, which the stack cannot grant to.
func buildInvokeGrant(s *stack) []part {
	if s.AccountID == "" {
		return nil
	}
	var resources []string
	for _, svc := range s.Services {
		if svc.Lambda != nil && svc.Grant {
			arn := s.functionARN(functionName(s, svc.Name))
			resources = append(resources, arn, arn+":*")
		}
	}
	if len(resources) == 0 {
		return nil
	}
	p := iam.RolePolicyParameters{Document: extv1.JSON{Raw: []byte(iamPolicy(allow([]string{"lambda:InvokeFunction"}, resources...)))}}
	switch existing := s.existingInvokerRole(); {
	case existing != "" && accountOfARN(existing) == s.AccountID:
		p.RoleName = roleNameOfARN(existing)
	case existing != "":
		// A role of another account: its owner grants the invocation.
		return nil
	case s.External != nil:
		return nil
	default:
		p.RoleNameRef = &xpv1.Reference{Name: awsName(s.Name, keyInvokerRole)}
	}
	return []part{{key: keyInvokeGrant, mr: &iam.RolePolicy{Spec: iam.RolePolicySpec{ForProvider: p}}}}
}

// existingInvokerRole is the invoker role ARN the claim names, if any.
func (s *stack) existingInvokerRole() string {
	switch {
	case s.Cloud != nil:
		return s.Cloud.InvokerRoleARN
	case s.External != nil:
		return s.External.InvokerRoleARN
	}
	return ""
}

// roleNameOfARN is the name of a role, without its path.
func roleNameOfARN(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}

// buildPublishGrant lets the platform's publisher role publish versions of
// exactly this stack's functions (Published versioning), with an inline
// policy per stack on that role, when it is in the stack's account.
func buildPublishGrant(s *stack) []part {
	pub := s.Registration.Publisher
	if s.Versioning != v1alpha1.VersioningPublished || pub == nil || s.AccountID == "" || accountOfARN(pub.RoleARN) != s.AccountID {
		return nil
	}
	var resources []string
	for _, svc := range s.Services {
		if svc.Lambda != nil {
			resources = append(resources, s.functionARN(functionName(s, svc.Name)))
		}
	}
	if len(resources) == 0 {
		return nil
	}
	doc := iamPolicy(allow([]string{"lambda:PublishVersion"}, resources...))
	return []part{{key: keyPublishGrant, mr: &iam.RolePolicy{Spec: iam.RolePolicySpec{ForProvider: iam.RolePolicyParameters{
		Document: extv1.JSON{Raw: []byte(doc)},
		RoleName: roleNameOfARN(pub.RoleARN),
	}}}}}
}
