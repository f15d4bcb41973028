package fn

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	policy "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// Defaults that follow the CDK's SingleNodeRestateDeployment unless noted.
const (
	defaultInstanceType     = "t4g.micro"
	defaultRestateImage     = "docker.restate.dev/restatedev/restate:1.7"
	defaultCollectorImage   = "public.ecr.aws/aws-observability/aws-otel-collector:latest"
	defaultProviderConfig   = "default"
	defaultVPCCIDR          = "10.0.0.0/16"
	defaultLogRetentionDays = 30
	defaultVolumeGiB        = 8
	defaultVolumeType       = "gp3"
	defaultPartitions       = 4
	defaultProxyReadTimeout = 3600
	amiParameterPrefix      = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-"

	// tagStack identifies every AWS resource of a stack.
	tagStack = "restate-crossplane.io/stack"
)

// stack is a claim with every default resolved and every field validated.
// Builders read only this, never the request.
type stack struct {
	Name           string
	Region         string
	ProviderConfig string
	DeletionPolicy v1alpha1.DeletionPolicy
	// Tags for every taggable resource: the stack's identity, the platform's
	// and the claim's.
	Tags map[string]string
	// AccountID is known from the platform's input, or empty until ARNs are
	// observed.
	AccountID string
	// Registered is, by service, the endpoint the composite's last status
	// reported registered (see learn).
	Registered map[string]string

	// Exactly one environment is set.
	SelfHosted *selfHosted
	Cloud      *v1alpha1.CloudEnvironmentSpec
	External   *v1alpha1.ExternalEnvironmentSpec

	Versioning v1alpha1.VersioningMode
	Services   []service

	// Registration is how registration Jobs run.
	Registration registrationPolicy
}

var (
	envNameRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	// Graviton families carry a "g" after their generation: t4g, m7g, c7gn.
	gravitonRE = regexp.MustCompile(`^[a-z]+[0-9]+g[a-z]*\.`)
	regionRE   = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	tagKeyRE   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	// versionTagRE matches image tags that are also npm versions: 1.7, v1.7.12.
	versionTagRE = regexp.MustCompile(`^v?[0-9]+\.[0-9]+(\.[0-9]+)?$`)
)

// resolve fills in the claim's defaults from the platform's policy and the
// CDK's, and validates the result. Every error names the claim field at
// fault. It never touches the request or response.
func resolve(xr *v1alpha1.XRestateStack, p *policy.StackPolicy) (*stack, field.ErrorList) {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	s := &stack{Name: xr.GetName(), AccountID: p.AccountID, DeletionPolicy: xr.Spec.DeletionPolicy}

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

	errs = append(errs, resolveEnvironment(s, xr, p, spec.Child("environment"))...)
	errs = append(errs, checkInvokerRole(s, p, spec.Child("environment"))...)

	s.Versioning = xr.Spec.Versioning
	if s.Versioning == "" {
		s.Versioning = v1alpha1.VersioningMode(p.DefaultVersioning)
	}
	if s.Versioning == "" {
		s.Versioning = v1alpha1.VersioningLatest
	}
	if vs := []string{string(v1alpha1.VersioningPublished), string(v1alpha1.VersioningLatest)}; !slices.Contains(vs, string(s.Versioning)) {
		errs = append(errs, field.NotSupported(spec.Child("versioning"), s.Versioning, vs))
	}
	var svcErrs field.ErrorList
	s.Services, svcErrs = resolveServices(s, xr.Spec.Services, xr.Spec.Registration, p, spec)
	errs = append(errs, svcErrs...)
	return s, append(errs, resolveRegistrationPolicy(s, xr, p, spec)...)
}

// resolveEnvironment resolves the one environment kind the claim sets.
func resolveEnvironment(s *stack, xr *v1alpha1.XRestateStack, p *policy.StackPolicy, fp *field.Path) field.ErrorList {
	// The schema's CEL rule lets exactly one be set.
	env := xr.Spec.Environment
	var errs field.ErrorList
	switch {
	case env.SelfHosted != nil:
		s.SelfHosted, errs = resolveSelfHosted(xr.GetName(), logGroupScope(xr), s.Region, *env.SelfHosted, p, fp.Child("selfHosted"))
	case env.Cloud != nil:
		s.Cloud, errs = resolveCloud(*env.Cloud, fp.Child("cloud"))
	case env.External != nil:
		s.External, errs = resolveExternal(*env.External, fp.Child("external"))
	}
	return errs
}

// mergeTags combines the stack's identity tag, the platform's tags and the
// claim's. A claim may add tags but not change the platform's.
func mergeTags(xr *v1alpha1.XRestateStack, p *policy.StackPolicy, fp *field.Path) (map[string]string, field.ErrorList) {
	var errs field.ErrorList
	tags := map[string]string{tagStack: xr.GetName()}
	for k, v := range p.Tags {
		tags[k] = v
	}
	for _, k := range sortedKeys(xr.Spec.Tags) {
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
		case k == tagStack:
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

// allowedBy reports whether s matches one of the platform's patterns where
// an empty list allows nothing (what a claim may point the stack at).
func allowedBy(patterns []string, s string) bool {
	return len(patterns) > 0 && matchesAny(patterns, s)
}

// matchesAny reports whether s matches one of the shell patterns; an empty
// list allows everything.
func matchesAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok || p == s {
			return true
		}
	}
	return false
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
