package fn

import (
	iam "github.com/crossplane-contrib/provider-aws/apis/iam/v1beta1"
	xpv1 "github.com/crossplane/crossplane-runtime/apis/common/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// buildInvokeGrant composes one policy on the invoker role that lets it
// invoke exactly the stack's functions and their versions, leaving out
// services that opt out. It needs the account id for the ARNs, and an
// invoker role in the stack's account: a role the stack composes, or one
// the claim names. An external environment without an invoker role
// invokes with its own identity, which the stack cannot grant to.
func buildInvokeGrant(s *stack.Stack, env Environment) []stack.Part {
	if s.AccountID == "" {
		return nil
	}
	var resources []string
	for _, svc := range s.Services {
		if svc.Lambda != nil && svc.Grant {
			arn := s.FunctionARN(functionName(s, svc.Name))
			resources = append(resources, arn, arn+":*")
		}
	}
	if len(resources) == 0 {
		return nil
	}
	p := iam.RolePolicyParameters{Document: extv1.JSON{Raw: []byte(stack.Policy(stack.Allow([]string{"lambda:InvokeFunction"}, resources...)))}}
	switch role := env.InvokerRole(); {
	case role.ARN != "" && stack.AccountOfARN(role.ARN) == s.AccountID:
		p.RoleName = stack.RoleNameOfARN(role.ARN)
	case role.ARN != "":
		// A role of another account: its owner grants the invocation.
		return nil
	case !role.Composed:
		return nil
	default:
		p.RoleNameRef = &xpv1.Reference{Name: stack.ResourceName(s.Name, stack.KeyInvokerRole)}
	}
	return []stack.Part{{Key: keyInvokeGrant, MR: &iam.RolePolicy{Spec: iam.RolePolicySpec{ForProvider: p}}}}
}

// buildPublishGrant lets the platform's publisher role publish versions of
// exactly this stack's functions (Published versioning), with an inline
// policy per stack on that role, when it is in the stack's account.
func buildPublishGrant(s *stack.Stack) []stack.Part {
	pub := s.Registration.Publisher
	if s.Versioning != v1alpha1.VersioningPublished || pub == nil || s.AccountID == "" || stack.AccountOfARN(pub.RoleARN) != s.AccountID {
		return nil
	}
	var resources []string
	for _, svc := range s.Services {
		if svc.Lambda != nil {
			resources = append(resources, s.FunctionARN(functionName(s, svc.Name)))
		}
	}
	if len(resources) == 0 {
		return nil
	}
	doc := stack.Policy(stack.Allow([]string{"lambda:PublishVersion"}, resources...))
	return []stack.Part{{Key: keyPublishGrant, MR: &iam.RolePolicy{Spec: iam.RolePolicySpec{ForProvider: iam.RolePolicyParameters{
		Document: extv1.JSON{Raw: []byte(doc)},
		RoleName: stack.RoleNameOfARN(pub.RoleARN),
	}}}}}
}
