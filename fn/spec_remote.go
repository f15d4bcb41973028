package fn

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	policy "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// Restate Cloud's own AWS identity, which assumes a stack's invoker role
// (the CDK's RestateCloudEnvironment trusts the same).
const (
	restateCloudAccount = "654654156625"
	restateCloudRoleARN = "arn:aws:iam::" + restateCloudAccount + ":role/RestateCloud"
	// defaultSecretKey is the key of a token Secret that names none.
	defaultSecretKey = "token"
)

var roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// resolveCloud validates a Restate Cloud environment and fills in its
// defaults.
func resolveCloud(in v1alpha1.CloudEnvironmentSpec, fp *field.Path) (*v1alpha1.CloudEnvironmentSpec, field.ErrorList) {
	var errs field.ErrorList
	c := in.DeepCopy()
	if c.Region == "" {
		c.Region = v1alpha1.CloudRegionUS
	}
	errs = append(errs, resolveSecretRef(&c.APIKeySecretRef, fp.Child("apiKeySecretRef"))...)
	errs = append(errs, checkRoleARN(c.InvokerRoleARN, fp.Child("invokerRoleArn"))...)
	return c, errs
}

// resolveExternal validates an existing environment.
func resolveExternal(in v1alpha1.ExternalEnvironmentSpec, fp *field.Path) (*v1alpha1.ExternalEnvironmentSpec, field.ErrorList) {
	e := in.DeepCopy()
	errs := checkURL(e.AdminURL, fp.Child("adminUrl"), true)
	errs = append(errs, checkURL(e.IngressURL, fp.Child("ingressUrl"), false)...)
	if e.AuthTokenSecretRef != nil {
		errs = append(errs, resolveSecretRef(e.AuthTokenSecretRef, fp.Child("authTokenSecretRef"))...)
	}
	return e, append(errs, checkRoleARN(e.InvokerRoleARN, fp.Child("invokerRoleArn"))...)
}

// cloudURLs derives a Restate Cloud environment's URLs, as the CDK does
// (admin on 9070, ingress on the same host).
func cloudURLs(c *v1alpha1.CloudEnvironmentSpec) (admin, ingress string) {
	host := strings.TrimPrefix(c.EnvironmentID, "env_") + ".env." + string(c.Region) + ".restate.cloud"
	return "https://" + host + ":9070", "https://" + host
}

// resolveSecretRef checks a Secret reference and defaults its key. Only
// the reference travels; the value stays in the Secret.
func resolveSecretRef(r *v1alpha1.SecretKeyReference, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Name == "" {
		errs = append(errs, field.Required(fp.Child("name"), "the name of a Secret in the claim's namespace"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
			errs = append(errs, field.Invalid(fp.Child("name"), r.Name, msg))
		}
	}
	if r.Key == "" {
		r.Key = defaultSecretKey
	}
	for _, msg := range validation.IsConfigMapKey(r.Key) {
		errs = append(errs, field.Invalid(fp.Child("key"), r.Key, msg))
	}
	return errs
}

// checkURL accepts an absolute http or https URL without credentials, query
// or fragment. Credentials belong in a Secret, never in a URL that composed
// resources and logs carry.
func checkURL(s string, fp *field.Path, required bool) field.ErrorList {
	if s == "" {
		if required {
			return field.ErrorList{field.Required(fp, "an http or https URL")}
		}
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(fp, s, "not a URL: "+err.Error())}
	case u.User != nil:
		return field.ErrorList{field.Invalid(fp, "<redacted>", "may not carry credentials; reference a token Secret instead")}
	case u.Scheme != "http" && u.Scheme != "https":
		return field.ErrorList{field.Invalid(fp, s, "must be an http or https URL")}
	case u.Host == "" || u.Hostname() == "":
		return field.ErrorList{field.Invalid(fp, s, "has no host")}
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, " \t\n"):
		return field.ErrorList{field.Invalid(fp, s, "may not have a query, fragment or whitespace")}
	}
	return nil
}

func checkRoleARN(arn string, fp *field.Path) field.ErrorList {
	if arn != "" && !roleARNRE.MatchString(arn) {
		return field.ErrorList{field.Invalid(fp, arn, "not an IAM role ARN such as arn:aws:iam::123456789012:role/restate-invoker")}
	}
	return nil
}

// environmentInsecure is whether the environment's admin API is expected to
// present a certificate no CA signed.
func (s *stack) environmentInsecure() bool {
	switch {
	case s.SelfHosted != nil:
		return s.SelfHosted.TLSEnabled()
	case s.External != nil:
		return s.External.Insecure
	}
	return false
}

// checkInvokerRole refuses an existing invoker role the platform does not
// let stacks touch: the stack adds an inline policy to a role of its own
// account, so any role a claim could name would be a role it could grant
// Lambda invocation to.
func checkInvokerRole(s *stack, p *policy.StackPolicy, env *field.Path) field.ErrorList {
	arn := s.existingInvokerRole()
	if arn == "" || !roleARNRE.MatchString(arn) {
		return nil // none, or refused as malformed already
	}
	if allowedBy(p.AllowedInvokerRoleARNs, arn) {
		return nil
	}
	fp := env.Child("external", "invokerRoleArn")
	if s.Cloud != nil {
		fp = env.Child("cloud", "invokerRoleArn")
	}
	return field.ErrorList{field.Forbidden(fp, fmt.Sprintf("the platform lets stacks use only the existing roles input.allowedInvokerRoleArns names (%v); leave it out to have the stack create its own", p.AllowedInvokerRoleARNs))}
}
