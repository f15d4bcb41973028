package fn

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

// Registration's defaults are the register command's own.
var (
	defaultHealthAttempts = int32(regcontract.Defaults().HealthAttempts)
	defaultMaxBackoff     = int32(regcontract.Defaults().HealthMaxBackoff / time.Second)
	defaultMaxPruned      = int32(regcontract.Defaults().MaxPrunedPerRun)
)

// Defaults of Lambda services (Lambda's own, unless noted) and of
// registration (the CDK's ServiceDeployer).
const (
	defaultMemoryMiB      = 128
	defaultTimeoutSeconds = 3
	// maxLambdaEnvBytes is Lambda's limit on all environment variables.
	maxLambdaEnvBytes = 4096
	// codeRevisionVar carries a hash of the function's code source. The
	// provider never compares S3 code, so without it a new key or object
	// version would never be deployed (see lambda.go).
	codeRevisionVar = "RESTATE_STACK_CODE_REVISION"
)

var (
	// lambdaEnvNameRE is Lambda's own rule for variable names: a letter,
	// then at least one letter, digit or _.
	lambdaEnvNameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]+$`)
	bucketRE        = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// ecrImageRE matches a private ECR repository and captures its region.
	ecrImageRE = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/`)
	// Environment variables Lambda sets itself and refuses from a function.
	reservedLambdaEnv = map[string]bool{
		"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_REGION": true, "AWS_DEFAULT_REGION": true,
		"AWS_EXECUTION_ENV": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true,
		"AWS_SESSION_TOKEN": true, "LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true, codeRevisionVar: true,
	}
)

// resolveServices validates spec.services and resolves each entry's
// registration options over the stack's spec.registration.
func resolveServices(s *stack.Stack, env Environment, in []v1alpha1.ServiceSpec, defaults v1alpha1.RegistrationOptions, p *platform.StackPolicy, spec *field.Path) ([]stack.Service, field.ErrorList) {
	// The schema checks the rest of the options; the admin URL's
	// credentials and host are Go's.
	errs := stack.CheckURL(defaults.AdminURL, spec.Child("registration", "adminUrl"), false)
	// The schema bounds the services and keys them by name, unique.
	out := make([]stack.Service, 0, len(in))
	for i, sv := range in {
		fp := spec.Child("services").Index(i)

		r := stack.Service{Name: sv.Name, ExpectedServiceName: sv.ExpectedServiceName, Grant: !sv.SkipInvokeFunctionGrant}
		// The schema's CEL rules let exactly one of lambda and http be set.
		if sv.Lambda != nil {
			var lerrs field.ErrorList
			r.Lambda, lerrs = resolveLambda(s.Region, *sv.Lambda, p, fp.Child("lambda"))
			errs = append(errs, lerrs...)
		} else {
			r.HTTP = sv.HTTP.DeepCopy()
			r.Grant = false
			errs = append(errs, stack.CheckURL(r.HTTP.URI, fp.Child("http", "uri"), true)...)
		}
		var rerrs field.ErrorList
		r.Registration, rerrs = resolveRegistration(s, env.Insecure(), r, defaults, sv.Registration, fp.Child("registration"))
		errs = append(errs, rerrs...)
		out = append(out, r)
	}
	return out, errs
}

// resolveLambda validates a Lambda service and fills in its defaults.
func resolveLambda(region string, in v1alpha1.LambdaServiceSpec, p *platform.StackPolicy, fp *field.Path) (*v1alpha1.LambdaServiceSpec, field.ErrorList) {
	var errs field.ErrorList
	l := in.DeepCopy()
	code := fp.Child("code")
	// The schema's CEL rule lets exactly one of s3 and imageUri be set.
	switch {
	case l.Code.S3 != nil:
		b := l.Code.S3.Bucket
		switch {
		case !bucketRE.MatchString(b):
			errs = append(errs, field.Invalid(code.Child("s3", "bucket"), b, "not an S3 bucket name"))
		case !stack.MatchesAny(p.AllowedCodeBuckets, b):
			errs = append(errs, field.NotSupported(code.Child("s3", "bucket"), b, p.AllowedCodeBuckets))
		}
		if l.Runtime == "" {
			errs = append(errs, field.Required(fp.Child("runtime"), "code from S3 needs a runtime"))
		}
		if l.Handler == "" {
			errs = append(errs, field.Required(fp.Child("handler"), "code from S3 needs a handler"))
		}
	default:
		errs = append(errs, checkFunctionImage(region, l.Code.ImageURI, p.AllowedFunctionImageRepositories, code.Child("imageUri"))...)
		if l.Runtime != "" {
			errs = append(errs, field.Forbidden(fp.Child("runtime"), "an image brings its own runtime"))
		}
		if l.Handler != "" {
			errs = append(errs, field.Forbidden(fp.Child("handler"), "an image sets its handler itself"))
		}
	}
	if l.Architecture == "" {
		l.Architecture = v1alpha1.ArchitectureARM64
	}
	if l.MemorySizeMiB == 0 {
		l.MemorySizeMiB = defaultMemoryMiB
	}
	if l.TimeoutSeconds == 0 {
		l.TimeoutSeconds = defaultTimeoutSeconds
	}
	if l.LogRetentionDays == 0 {
		l.LogRetentionDays = stack.DefaultLogRetentionDays
	}
	size := len(codeRevisionVar) + 8
	for _, k := range stack.SortedKeys(l.Environment) {
		ep := fp.Child("environment").Key(k)
		switch {
		case !lambdaEnvNameRE.MatchString(k):
			errs = append(errs, field.Invalid(ep, k, "not a Lambda environment variable name: a letter, then at least one letter, digit or _"))
		case reservedLambdaEnv[k] || strings.HasPrefix(k, "AWS_LAMBDA_"):
			errs = append(errs, field.Forbidden(ep, "reserved: Lambda or this stack sets it"))
		}
		size += len(k) + len(l.Environment[k])
	}
	if size > maxLambdaEnvBytes {
		errs = append(errs, field.TooLong(fp.Child("environment"), "<environment>", maxLambdaEnvBytes))
	}
	return l, errs
}

// checkFunctionImage accepts a tagged or digested image of a private ECR
// repository in the stack's region, as Lambda requires.
func checkFunctionImage(region, image string, allowed []string, fp *field.Path) field.ErrorList {
	m := ecrImageRE.FindStringSubmatch(image)
	if m == nil {
		return field.ErrorList{field.Invalid(fp, image, "must be an image in Amazon ECR: <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>")}
	}
	if m[1] != region {
		return field.ErrorList{field.Invalid(fp, image, fmt.Sprintf("must be in the stack's region %s; Lambda pulls images only from its own region", region))}
	}
	ref, err := reference.ParseNamed(image)
	if err != nil {
		return field.ErrorList{field.Invalid(fp, image, "not an image reference: "+err.Error())}
	}
	_, tagged := ref.(reference.Tagged)
	_, digested := ref.(reference.Digested)
	if !tagged && !digested {
		return field.ErrorList{field.Invalid(fp, image, "needs a tag or digest")}
	}
	if !stack.MatchesAny(allowed, ref.Name()) {
		return field.ErrorList{field.NotSupported(fp, ref.Name(), allowed)}
	}
	return nil
}

// resolveRegistration merges a service's registration options over the
// stack's, field by field, and fills in the defaults.
func resolveRegistration(s *stack.Stack, insecure bool, sv stack.Service, stackOpts, own v1alpha1.RegistrationOptions, ownPath *field.Path) (stack.ServiceRegistration, field.ErrorList) {
	// Endpoints that stay the same across code changes must be forced to
	// be discovered again: $LATEST and an HTTP URI.
	sameEndpoint := sv.HTTP != nil || s.Versioning == v1alpha1.VersioningLatest
	r := stack.ServiceRegistration{
		Private:              pick(own.Private, stackOpts.Private, false),
		Force:                pick(own.Force, stackOpts.Force, sameEndpoint),
		Breaking:             pick(own.Breaking, stackOpts.Breaking, false),
		Prune:                pick(own.PruneDrainedDeployments, stackOpts.PruneDrainedDeployments, false),
		RevisionHistoryLimit: pick(own.RevisionHistoryLimit, stackOpts.RevisionHistoryLimit, 0),
		MaxPrunedPerRun:      pick(own.MaxPrunedPerRun, stackOpts.MaxPrunedPerRun, defaultMaxPruned),
		Insecure:             pick(own.Insecure, stackOpts.Insecure, insecure),
		HealthCheckAttempts:  pick(own.HealthCheck.Attempts, stackOpts.HealthCheck.Attempts, defaultHealthAttempts),
		MaxBackoffSeconds:    pick(own.HealthCheck.MaxBackoffSeconds, stackOpts.HealthCheck.MaxBackoffSeconds, defaultMaxBackoff),
		RemovalPolicy:        v1alpha1.RemovalRetain,
		AdminURL:             own.AdminURL,
	}
	if r.AdminURL == "" {
		r.AdminURL = stackOpts.AdminURL
	} else {
		r.OwnAdminURL = ownPath.Child("adminUrl")
	}
	for _, rp := range []v1alpha1.RemovalPolicy{stackOpts.RemovalPolicy, own.RemovalPolicy} {
		if rp != "" {
			r.RemovalPolicy = rp
		}
	}

	return r, stack.CheckURL(own.AdminURL, ownPath.Child("adminUrl"), false)
}

// pick returns the first value that is set, else the default.
func pick[T any](own, stackDefault *T, def T) T {
	return ptr.Deref(own, ptr.Deref(stackDefault, def))
}
