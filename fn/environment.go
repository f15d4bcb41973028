package fn

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/cloud"
	"github.com/restate-crossplane/function-restate-stack/fn/env/external"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// Environment is the Restate environment a stack's services register
// with: the one variation point of the function. Each kind lives in a
// package of its own under fn/env; resolveEnvironment is the only place
// that knows the kinds.
type Environment interface {
	// Compose returns what the environment composes (none, for an
	// environment that exists). Builders read the stack, never the request.
	Compose(s *stack.Stack) ([]stack.Part, error)
	// Learn takes what the environment learns from AWS rather than from
	// the claim, observed or kept in the composite's last status.
	Learn(obs stack.Observed, kept v1alpha1.RestateStackStatus)
	// CheckObserved refuses claim changes that what exists cannot follow.
	CheckObserved(obs stack.Observed) field.ErrorList
	// URLs are the admin and ingress URLs, once known.
	URLs(obs stack.Observed) (admin, ingress string)
	// InvokerRole is the role Restate assumes to invoke Lambda.
	InvokerRole() stack.InvokerRole
	// Token is the Secret holding the admin API's token, if any.
	Token() *v1alpha1.SecretKeyReference
	// Insecure says whether the admin API presents a certificate no CA
	// signed.
	Insecure() bool
	// AdminURL is an admin URL the claim gives, and its field, for the
	// platform's allowed hosts; "" for none.
	AdminURL() (string, *field.Path)
	// AdminReachable says whether registration Jobs in the cluster reach
	// the admin API, given the platform's registration settings.
	AdminReachable(r stack.RegistrationSettings) bool
	// HostAgent is where the host agent reports, where an agent on the
	// environment's own host can register the services (a self-hosted
	// server); nil where none can.
	HostAgent() *stack.HostAgent
	// Status fills in the environment's part of the stack's status.
	Status(obs stack.Observed, st *v1alpha1.RestateStackStatus)
}

// kindState is what the environment kinds keep across calls: the recent
// user data of self-hosted hosts. A nil kindState keeps nothing.
type kindState struct {
	userData selfhosted.UserDataCache
}

// resolveEnvironment resolves the one environment kind the claim sets.
func resolveEnvironment(s *stack.Stack, xr *v1alpha1.XRestateStack, p *platform.StackPolicy, ks *kindState, fp *field.Path) (Environment, field.ErrorList) {
	// The schema's CEL rule lets exactly one be set.
	env := xr.Spec.Environment
	switch {
	case env.SelfHosted != nil:
		var userData selfhosted.UserDataFunc
		if ks != nil {
			userData = ks.userData.Render
		}
		return selfhosted.Resolve(s, selfhosted.LogGroupScope(xr), *env.SelfHosted, p, userData, fp.Child("selfHosted"))
	case env.Cloud != nil:
		return cloud.Resolve(*env.Cloud, fp.Child("cloud"))
	case env.External != nil:
		return external.Resolve(*env.External, fp.Child("external"))
	}
	return nil, field.ErrorList{field.Required(fp, "exactly one of selfHosted, cloud or external must be set")}
}

// checkInvokerRole refuses an existing invoker role the platform does not
// let stacks touch: the stack adds an inline policy to a role of its own
// account, so any role a claim could name would be a role it could grant
// Lambda invocation to.
func checkInvokerRole(env Environment, p *platform.StackPolicy) field.ErrorList {
	r := env.InvokerRole()
	if r.ARN == "" || !stack.RoleARNRE.MatchString(r.ARN) {
		return nil // none, or refused as malformed already
	}
	if stack.AllowedBy(p.AllowedInvokerRoleARNs, r.ARN) {
		return nil
	}
	return field.ErrorList{field.Forbidden(r.Path, fmt.Sprintf("the platform lets stacks use only the existing roles input.allowedInvokerRoleArns names (%v); leave it out to have the stack create its own", p.AllowedInvokerRoleARNs))}
}
