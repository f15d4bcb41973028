package fn

import (
	"fmt"
	"net/netip"
	"regexp"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	policy "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/version"
)

// labelClaimNamespace is the label Crossplane puts on a claim's composite.
const labelClaimNamespace = "crossplane.io/claim-namespace"

var securityGroupIDRE = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)

// registrationPolicy is the platform's registration settings, resolved.
type registrationPolicy struct {
	// Namespace of the Jobs; empty when the composite has no claim and the
	// platform names none, and then nothing is registered.
	Namespace   string
	Image       string
	Resources   corev1.ResourceRequirements
	Publisher   *policy.PublisherIdentity
	AdminAccess policy.AdminAccess
}

// resolveRegistrationPolicy resolves where and as what registration Jobs
// run. Errors in the platform's input name its field under "input".
func resolveRegistrationPolicy(s *stack, xr *v1alpha1.XRestateStack, p *policy.StackPolicy, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	in := p.Registration
	fp := field.NewPath("input", "registration")
	r := registrationPolicy{Namespace: xr.GetLabels()[labelClaimNamespace], Image: in.Image, Publisher: in.Publisher, AdminAccess: in.AdminAccess}
	if r.Namespace == "" {
		r.Namespace = in.Namespace
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
		errs = append(errs, checkRoleARN(p.RoleARN, fp.Child("publisher", "roleArn"))...)
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
	if s.Versioning == v1alpha1.VersioningPublished && r.Publisher == nil && s.hasLambda() {
		errs = append(errs, field.Invalid(spec.Child("versioning"), s.Versioning,
			fmt.Sprintf("the platform provides no identity to publish Lambda versions (%s); use %s", fp.Child("publisher"), v1alpha1.VersioningLatest)))
	}
	s.Registration = r
	return errs
}

func (s *stack) hasLambda() bool {
	for _, svc := range s.Services {
		if svc.Lambda != nil {
			return true
		}
	}
	return false
}
