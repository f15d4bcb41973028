package fn

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// defaultProviderConfig is the ProviderConfig of a stack that names none
// where the platform sets no default.
const defaultProviderConfig = "default"

var (
	regionRE   = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	tagKeyRE   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// resolve fills in the claim's defaults from the platform's policy and the
// CDK's, and validates the result. Every error names the claim field at
// fault. It never touches the request or response.
func resolve(xr *v1alpha1.XRestateStack, p *platform.StackPolicy, ks *kindState) (*stack.Stack, Environment, field.ErrorList) {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	s := &stack.Stack{Name: xr.GetName(), UID: string(xr.GetUID()), AccountID: p.AccountID, DeletionPolicy: xr.Spec.DeletionPolicy}

	s.Region = xr.Spec.Region
	if s.Region == "" {
		s.Region = p.DefaultRegion
	}
	switch {
	case s.Region == "":
		errs = append(errs, field.Required(spec.Child("region"), "no region given and the platform sets no default region"))
	case !regionRE.MatchString(s.Region):
		errs = append(errs, field.Invalid(spec.Child("region"), s.Region, "not an AWS region name"))
	case len(p.AllowedRegions) > 0 && !slices.Contains(p.AllowedRegions, s.Region):
		errs = append(errs, field.NotSupported(spec.Child("region"), s.Region, p.AllowedRegions))
	}

	s.ProviderConfig = p.DefaultProviderConfigName
	if xr.Spec.ProviderConfigRef != nil {
		s.ProviderConfig = xr.Spec.ProviderConfigRef.Name
	}
	if s.ProviderConfig == "" {
		s.ProviderConfig = defaultProviderConfig
	}
	if len(p.AllowedProviderConfigs) > 0 && !slices.Contains(p.AllowedProviderConfigs, s.ProviderConfig) {
		errs = append(errs, field.NotSupported(spec.Child("providerConfigRef", "name"), s.ProviderConfig, p.AllowedProviderConfigs))
	}

	if s.DeletionPolicy == "" {
		s.DeletionPolicy = v1alpha1.DeletionDelete
	}

	var tagErrs field.ErrorList
	s.Tags, tagErrs = mergeTags(xr, p, spec.Child("tags"))
	errs = append(errs, tagErrs...)

	env, envErrs := resolveEnvironment(s, xr, p, ks, spec.Child("environment"))
	errs = append(errs, envErrs...)
	if env == nil {
		return s, nil, errs
	}
	errs = append(errs, checkInvokerRole(env, p)...)

	s.Registration.Agent = registersByAgent(env, p.Registration)
	s.Versioning = xr.Spec.Versioning
	if s.Versioning == "" {
		s.Versioning = v1alpha1.VersioningMode(p.DefaultVersioning)
	}
	switch {
	case s.Versioning != "":
	case s.Registration.Agent:
		// The agent publishes with the host's own role: new code never
		// replaces a deployment under invocations in flight.
		s.Versioning = v1alpha1.VersioningPublished
	default:
		s.Versioning = v1alpha1.VersioningLatest
	}
	if vs := []string{string(v1alpha1.VersioningPublished), string(v1alpha1.VersioningLatest)}; !slices.Contains(vs, string(s.Versioning)) {
		errs = append(errs, field.NotSupported(spec.Child("versioning"), s.Versioning, vs))
	}
	var svcErrs field.ErrorList
	s.Services, svcErrs = resolveServices(s, env, xr.Spec.Services, xr.Spec.Registration, p, spec)
	errs = append(errs, svcErrs...)
	return s, env, append(errs, resolveRegistrationSettings(s, env, xr, p, spec)...)
}

// mergeTags combines the stack's identity tag, the platform's tags and the
// claim's. A claim may add tags but not change the platform's.
func mergeTags(xr *v1alpha1.XRestateStack, p *platform.StackPolicy, fp *field.Path) (map[string]string, field.ErrorList) {
	var errs field.ErrorList
	tags := map[string]string{stack.TagStack: xr.GetName()}
	for k, v := range p.Tags {
		tags[k] = v
	}
	for _, k := range stack.SortedKeys(xr.Spec.Tags) {
		v := xr.Spec.Tags[k]
		switch {
		case !tagKeyRE.MatchString(k) || strings.HasPrefix(strings.ToLower(k), "aws:"):
			errs = append(errs, field.Invalid(fp.Key(k), k, "not a valid AWS tag key (1-128 letters, digits, spaces and _.:/=+-@; not aws:)"))
		case k == "Name":
			errs = append(errs, field.Forbidden(fp.Key(k), "the stack sets each EC2 resource's Name tag to the resource's name"))
		case utf8.RuneCountInString(v) > 256:
			errs = append(errs, field.TooLong(fp.Key(k), v, 256))
		case !tagValueRE.MatchString(v):
			// IAM and Lambda take fewer characters than EC2; the tags go to all.
			errs = append(errs, field.Invalid(fp.Key(k), v, "not a valid AWS tag value (letters, digits, spaces and _.:/=+-@)"))
		case k == stack.TagStack:
			errs = append(errs, field.Forbidden(fp.Key(k), "this tag identifies the stack and is set by the platform"))
		default:
			if pv, ok := p.Tags[k]; ok && pv != v {
				errs = append(errs, field.Forbidden(fp.Key(k), fmt.Sprintf("the platform sets this tag to %q", pv)))
				continue
			}
			tags[k] = v
		}
	}
	// EC2 allows 50 tags a resource; leave room for Name.
	if len(tags) > 49 {
		errs = append(errs, field.TooMany(fp, len(tags), 49))
	}
	return tags, errs
}
