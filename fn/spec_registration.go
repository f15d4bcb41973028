package fn

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/adminaddr"
	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/version"
)

var securityGroupIDRE = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)

// resolveRegistrationSettings resolves where and as what registration Jobs
// run. Errors in the platform's input name its field under "input".
func resolveRegistrationSettings(s *stack.Stack, env Environment, xr *v1alpha1.XRestateStack, p *platform.StackPolicy, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	in := p.Registration
	fp := field.NewPath("input", "registration")
	r := stack.RegistrationSettings{Namespace: xr.GetLabels()[stack.LabelClaimNamespace], Image: in.Image, Publisher: in.Publisher, AdminAccess: in.AdminAccess,
		AllowLoopback: in.AllowLoopback, Agent: s.Registration.Agent}
	if r.Namespace == "" {
		r.Namespace = in.Namespace
	}
	if modes := []string{"", string(platform.RegistrationAuto), string(platform.RegistrationJob), string(platform.RegistrationHostAgent)}; !slices.Contains(modes, string(in.Mode)) {
		errs = append(errs, field.NotSupported(fp.Child("mode"), in.Mode, modes[1:]))
	}
	if r.Image == "" {
		r.Image = version.Image
	} else if _, err := reference.ParseNormalizedNamed(r.Image); err != nil {
		errs = append(errs, field.Invalid(fp.Child("image"), r.Image, "not an image reference: "+err.Error()))
	}
	r.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	if in.Resources != nil {
		r.Resources = *in.Resources.DeepCopy()
	}
	if p := r.Publisher; p != nil {
		for _, msg := range validation.IsDNS1123Subdomain(p.ServiceAccountName) {
			errs = append(errs, field.Invalid(fp.Child("publisher", "serviceAccountName"), p.ServiceAccountName, msg))
		}
		errs = append(errs, stack.CheckRoleARN(p.RoleARN, fp.Child("publisher", "roleArn"))...)
	}
	for i, sg := range r.AdminAccess.SourceSecurityGroupIDs {
		if !securityGroupIDRE.MatchString(sg) {
			errs = append(errs, field.Invalid(fp.Child("adminAccess", "sourceSecurityGroupIds").Index(i), sg, "not a security group id such as sg-0123456789abcdef0"))
		}
	}
	for i, c := range r.AdminAccess.CIDRBlocks {
		pfx, err := netip.ParsePrefix(c)
		switch {
		case err != nil || !pfx.Addr().Is4() || pfx.Masked() != pfx:
			errs = append(errs, field.Invalid(fp.Child("adminAccess", "cidrBlocks").Index(i), c, "not an IPv4 network such as 10.20.0.0/16"))
		case pfx.Bits() == 0:
			errs = append(errs, field.Invalid(fp.Child("adminAccess", "cidrBlocks").Index(i), c, "the admin API is never open to the world"))
		}
	}
	errs = append(errs, checkAdminHosts(s, env, xr, in, spec)...)
	if r.Agent {
		// The agent reports on the data volume, whose tags AWS caps: the
		// stack's tags, Name, provider-aws's three, a heartbeat, and one a
		// service.
		if budget := agentcontract.MaxTags - len(s.Tags) - 1 - 3 - 1; len(s.Services) > budget {
			errs = append(errs, field.Invalid(spec.Child("services"), fmt.Sprintf("%d services", len(s.Services)),
				fmt.Sprintf("at most %d: the host agent reports each service as a tag of the data volume, where AWS allows %d with the stack's %d tags; use fewer tags or services, or have the platform set input.registration.mode to Job", budget, agentcontract.MaxTags, len(s.Tags))))
		}
		for _, svc := range s.Services {
			if svc.Registration.OwnAdminURL != nil {
				errs = append(errs, field.Invalid(svc.Registration.OwnAdminURL, svc.Registration.AdminURL,
					"the host agent registers every service of a self-hosted stack with its own server; leave adminUrl out, or have the platform set input.registration.mode to Job"))
			}
		}
	}
	if s.Versioning == v1alpha1.VersioningPublished && r.Publisher == nil && s.HasLambda() && !r.Agent {
		errs = append(errs, field.Invalid(spec.Child("versioning"), s.Versioning,
			fmt.Sprintf("the platform provides no identity to publish Lambda versions (%s); use %s", fp.Child("publisher"), v1alpha1.VersioningLatest)))
	}
	s.Registration = r
	return errs
}

// registersByAgent says whether the host agent registers the stack's
// services: under Auto where the environment has a host of its own and the
// platform declares no path from the cluster to its admin API.
func registersByAgent(env Environment, in platform.RegistrationPolicy) bool {
	switch in.Mode {
	case platform.RegistrationJob:
		return false
	case platform.RegistrationHostAgent:
		return env.HostAgent() != nil
	}
	return env.HostAgent() != nil && !env.AdminReachable(stack.RegistrationSettings{AdminAccess: in.AdminAccess})
}

// checkAdminHosts refuses admin URLs a claim names (an existing
// environment's, a service's override) that the platform does not allow:
// registration sends the claim's token there, and the Job's requests, so
// without this a claim could aim them at the cloud's metadata service or
// any host. The register command checks every address it dials again.
func checkAdminHosts(s *stack.Stack, env Environment, xr *v1alpha1.XRestateStack, in platform.RegistrationPolicy, spec *field.Path) field.ErrorList {
	type named struct {
		url  string
		path *field.Path
	}
	var urls []named
	if u, fp := env.AdminURL(); u != "" {
		urls = append(urls, named{u, fp})
	}
	if u := xr.Spec.Registration.AdminURL; u != "" {
		urls = append(urls, named{u, spec.Child("registration", "adminUrl")})
	}
	// A service's own URL; one it takes from the stack is checked above.
	for _, svc := range s.Services {
		if r := svc.Registration; r.OwnAdminURL != nil {
			urls = append(urls, named{r.AdminURL, r.OwnAdminURL})
		}
	}
	var errs field.ErrorList
	for _, u := range urls {
		parsed, err := url.Parse(u.url)
		if err != nil {
			continue // checkURL has refused it
		}
		host := parsed.Hostname()
		if why := adminaddr.RefusedHost(host, in.AllowLoopback); why != "" {
			errs = append(errs, field.Invalid(u.path, u.url, "refused: the host is "+why))
		} else if !stack.AllowedBy(in.AllowedAdminHosts, strings.ToLower(host)) {
			errs = append(errs, field.Invalid(u.path, u.url, fmt.Sprintf("the host %s is not among the admin hosts the platform allows (input.registration.allowedAdminHosts: %v)", host, in.AllowedAdminHosts)))
		}
	}
	return errs
}
