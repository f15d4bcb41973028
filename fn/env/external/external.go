// Package external is an existing Restate environment (the CDK's
// RestateEnvironment.fromAttributes): it composes nothing.
package external

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// Env is a resolved existing environment.
type Env struct {
	*v1alpha1.ExternalEnvironmentSpec
	path *field.Path
}

// Resolve validates an existing environment.
func Resolve(in v1alpha1.ExternalEnvironmentSpec, fp *field.Path) (*Env, field.ErrorList) {
	e := in.DeepCopy()
	errs := stack.CheckURL(e.AdminURL, fp.Child("adminUrl"), true)
	errs = append(errs, stack.CheckURL(e.IngressURL, fp.Child("ingressUrl"), false)...)
	if e.AuthTokenSecretRef != nil {
		errs = append(errs, stack.ResolveSecretRef(e.AuthTokenSecretRef, fp.Child("authTokenSecretRef"))...)
	}
	return &Env{ExternalEnvironmentSpec: e, path: fp}, append(errs, stack.CheckRoleARN(e.InvokerRoleARN, fp.Child("invokerRoleArn"))...)
}

// Compose composes nothing: the environment exists.
func (e *Env) Compose(*stack.Stack) ([]stack.Part, error) { return nil, nil }

// Learn learns nothing.
func (e *Env) Learn(stack.Observed, v1alpha1.RestateStackStatus) {}

// CheckObserved has nothing to check.
func (e *Env) CheckObserved(stack.Observed) field.ErrorList { return nil }

// URLs are the claim's.
func (e *Env) URLs(stack.Observed) (admin, ingress string) {
	return e.ExternalEnvironmentSpec.AdminURL, e.IngressURL
}

// InvokerRole is the role the claim names, or none: the environment then
// invokes with its own identity, which the stack cannot grant to.
func (e *Env) InvokerRole() stack.InvokerRole {
	return stack.InvokerRole{ARN: e.InvokerRoleARN, Path: e.path.Child("invokerRoleArn")}
}

// Token is the admin API's token, if the claim names one.
func (e *Env) Token() *v1alpha1.SecretKeyReference { return e.AuthTokenSecretRef }

// Insecure is the claim's say.
func (e *Env) Insecure() bool { return e.ExternalEnvironmentSpec.Insecure }

// AdminURL is the claim's, which the platform's allowed hosts bound.
func (e *Env) AdminURL() (string, *field.Path) {
	return e.ExternalEnvironmentSpec.AdminURL, e.path.Child("adminUrl")
}

// AdminReachable: the claim says where the admin API is.
func (e *Env) AdminReachable(stack.RegistrationSettings) bool { return true }

// Status has nothing of its own to report.
func (e *Env) Status(stack.Observed, *v1alpha1.RestateStackStatus) {}

// HostAgent is none: the environment has no host of the stack's.
func (e *Env) HostAgent() *stack.HostAgent { return nil }
