// Package cloud is the Restate Cloud environment (the CDK's
// RestateCloudEnvironment): it composes the role Restate Cloud assumes to
// invoke the stack's Lambda functions.
package cloud

import (
	"strings"

	iam "github.com/crossplane-contrib/provider-aws/apis/iam/v1beta1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// Restate Cloud's own AWS identity, which assumes a stack's invoker role
// (the CDK's RestateCloudEnvironment trusts the same).
const (
	restateCloudAccount = "654654156625"
	restateCloudRoleARN = "arn:aws:iam::" + restateCloudAccount + ":role/RestateCloud"
)

// Env is a resolved Restate Cloud environment.
type Env struct {
	*v1alpha1.CloudEnvironmentSpec
	// path is where the claim sets it.
	path *field.Path
}

// Resolve validates a Restate Cloud environment and fills in its defaults.
func Resolve(in v1alpha1.CloudEnvironmentSpec, fp *field.Path) (*Env, field.ErrorList) {
	c, errs := resolveCloud(in, fp)
	return &Env{CloudEnvironmentSpec: c, path: fp}, errs
}

func resolveCloud(in v1alpha1.CloudEnvironmentSpec, fp *field.Path) (*v1alpha1.CloudEnvironmentSpec, field.ErrorList) {
	var errs field.ErrorList
	c := in.DeepCopy()
	if c.Region == "" {
		c.Region = v1alpha1.CloudRegionUS
	}
	errs = append(errs, stack.ResolveSecretRef(&c.APIKeySecretRef, fp.Child("apiKeySecretRef"))...)
	errs = append(errs, stack.CheckRoleARN(c.InvokerRoleARN, fp.Child("invokerRoleArn"))...)
	return c, errs
}

// URLs are derived from the environment's id, as the CDK does (admin on
// 9070, ingress on the same host).
func (c *Env) URLs(stack.Observed) (admin, ingress string) {
	host := strings.TrimPrefix(c.EnvironmentID, "env_") + ".env." + string(c.Region) + ".restate.cloud"
	return "https://" + host + ":9070", "https://" + host
}

// Compose composes the role Restate Cloud assumes to invoke the stack's
// functions, unless the claim names an existing one. Only Restate Cloud's
// own role may assume it, and only for this environment (the external id),
// as the CDK's RestateCloudEnvironment does.
func (c *Env) Compose(s *stack.Stack) ([]stack.Part, error) {
	if c.InvokerRoleARN != "" {
		return nil, nil
	}
	restate := map[string]string{"AWS": "arn:aws:iam::" + restateCloudAccount + ":root"}
	trust := stack.Policy(
		stack.Statement{Effect: "Allow", Principal: restate, Action: []string{"sts:AssumeRole"}, Condition: map[string]map[string]string{
			"StringEquals": {"sts:ExternalId": c.EnvironmentID, "aws:PrincipalArn": restateCloudRoleARN},
		}},
		stack.Statement{Effect: "Allow", Principal: restate, Action: []string{"sts:TagSession"}},
	)
	return []stack.Part{{Key: stack.KeyInvokerRole, MR: &iam.Role{Spec: iam.RoleSpec{ForProvider: iam.RoleParameters{
		Description:              ptr.To("Restate Cloud environment " + c.EnvironmentID + " invokes Lambda services of stack " + s.Name + " with this role"),
		AssumeRolePolicyDocument: trust,
	}}}}}, nil
}

// Learn learns nothing: a Cloud environment composes no resource with ids.
func (c *Env) Learn(stack.Observed, v1alpha1.RestateStackStatus) {}

// CheckObserved has nothing to check.
func (c *Env) CheckObserved(stack.Observed) field.ErrorList { return nil }

// InvokerRole is the role the claim names, or the one Compose composes.
func (c *Env) InvokerRole() stack.InvokerRole {
	return stack.InvokerRole{ARN: c.InvokerRoleARN, Path: c.path.Child("invokerRoleArn"), Composed: c.InvokerRoleARN == ""}
}

// Token is the environment's API key.
func (c *Env) Token() *v1alpha1.SecretKeyReference { return &c.APIKeySecretRef }

// Insecure: Restate Cloud's certificates are signed.
func (c *Env) Insecure() bool { return false }

// AdminURL is none the claim gives: it follows from the environment's id.
func (c *Env) AdminURL() (string, *field.Path) { return "", nil }

// AdminReachable: Restate Cloud is reached over the internet.
func (c *Env) AdminReachable(stack.RegistrationSettings) bool { return true }

// Status has nothing of its own to report.
func (c *Env) Status(stack.Observed, *v1alpha1.RestateStackStatus) {}

// HostAgent is none: the environment has no host of the stack's.
func (c *Env) HostAgent() *stack.HostAgent { return nil }
