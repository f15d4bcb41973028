// Package fn is the RestateStack composition function: it turns a
// RestateStack into provider-aws managed resources and reports the stack's
// status back.
package fn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"strings"
	"time"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/request"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/response"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// Response TTLs. With realtime compositions Crossplane (v2.4) reconciles
// the composite again after the shortest TTL of the pipeline: while
// anything is still being created or registered, a short TTL brings URLs,
// versions and registration results into the claim's status promptly. A
// settled stack changes only on watch events. Crossplane reuses a response
// until its TTL ends only with its alpha response cache
// (--enable-function-response-cache), off by default.
const (
	pendingTTL = 30 * time.Second
	settledTTL = 5 * time.Minute
)

// DefaultMaxResponseBytes is what Crossplane accepts from a function: its
// gRPC client keeps the default 4 MiB receive limit. A stack whose response
// would be larger is refused with this limit named, rather than failing in
// the transport.
const DefaultMaxResponseBytes = 4 << 20

// Condition types the function reports on the composite and the claim.
const (
	// ConditionValid says whether the claim passed validation.
	ConditionValid = "Valid"
	// ConditionEnvironmentReady says whether every composed resource of the
	// Restate environment is ready.
	ConditionEnvironmentReady = "EnvironmentReady"
	// ConditionServicesReady says whether every composed resource of the
	// stack's services is ready.
	ConditionServicesReady = "ServicesReady"
	// ConditionRegistered says whether every service's current endpoint is
	// registered with the environment.
	ConditionRegistered = "Registered"
)

// Function is the RestateStack composition function.
type Function struct {
	fnv1.UnimplementedFunctionRunnerServiceServer

	Log logging.Logger
	// MaxResponseBytes overrides DefaultMaxResponseBytes.
	MaxResponseBytes int

	// What the environment kinds keep across calls.
	kinds kindState
	// The specs found valid, so that a reconcile of an unchanged claim
	// does not check it again.
	valid validSpecs
}

// RunFunction composes a RestateStack. function-sdk-go's server recovers
// no panic, and one would stop every composite that uses the function: a
// panic becomes a fatal result for this composite alone (which keeps what
// exists), and its stack goes to the log.
func (f *Function) RunFunction(ctx context.Context, req *fnv1.RunFunctionRequest) (rsp *fnv1.RunFunctionResponse, err error) {
	defer f.recoverInto(req, &rsp, &err)
	return f.compose(ctx, req)
}

// recoverInto turns a panic into a fatal result; deferred.
func (f *Function) recoverInto(req *fnv1.RunFunctionRequest, rsp **fnv1.RunFunctionResponse, err *error) {
	r := recover()
	if r == nil {
		return
	}
	f.Log.Info("RunFunction panicked; the composite is left as it is", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	*rsp = response.To(req, pendingTTL)
	response.Fatal(*rsp, fmt.Errorf("internal error composing the RestateStack (a bug; the function's log has the details): %v", r))
	*err = nil
}

// compose is RunFunction's work.
func (f *Function) compose(_ context.Context, req *fnv1.RunFunctionRequest) (*fnv1.RunFunctionResponse, error) {
	// The response starts as a copy of the desired state so far: returning
	// it early (on a bad claim) leaves every existing resource in place.
	rsp := response.To(req, pendingTTL)
	// The response shares the request's desired state; keep what came in,
	// should the stack be refused after all.
	incoming := &fnv1.RunFunctionRequest{Meta: req.GetMeta(), Context: req.GetContext(),
		Desired: &fnv1.State{Composite: req.GetDesired().GetComposite(), Resources: maps.Clone(req.GetDesired().GetResources())}}

	xr, in, errs, err := admit(req, &f.valid)
	switch {
	case err != nil:
		response.Fatal(rsp, err)
		return rsp, nil
	case len(errs) > 0:
		invalid(rsp, errs)
		return rsp, nil
	}
	log := f.Log.WithValues("xr", xr.GetName())
	observed := stack.ObservedOf(req)

	s, env, errs := resolve(xr, in, &f.kinds)
	if len(errs) > 0 {
		invalid(rsp, errs)
		return rsp, nil
	}
	learn(s, env, observed, xr.Status)
	if err := checkAccounts(s.AccountID, observed); err != nil {
		response.Fatal(rsp, err)
		response.ConditionFalse(rsp, ConditionValid, "ObservedAccountMismatch").WithMessage(err.Error()).TargetCompositeAndClaim()
		return rsp, nil
	}
	if errs := env.CheckObserved(observed); len(errs) > 0 {
		invalid(rsp, errs)
		return rsp, nil
	}

	b, err := build(s, env, observed)
	if err != nil {
		var ferr *field.Error
		if errors.As(err, &ferr) {
			invalid(rsp, field.ErrorList{ferr})
			return rsp, nil
		}
		response.Fatal(rsp, err)
		return rsp, nil
	}
	ours, view, plan, held := b.desired, b.view, b.plan, b.held

	desired, err := request.GetDesiredComposedResources(req)
	if err != nil {
		response.Fatal(rsp, fmt.Errorf("cannot read the desired resources: %w", err))
		return rsp, nil
	}
	maps.Copy(desired, ours)
	if err := response.SetDesiredComposedResources(rsp, desired); err != nil {
		response.Fatal(rsp, fmt.Errorf("cannot set the desired resources: %w", err))
		return rsp, nil
	}

	// Report.
	rep := report(s, env, view, plan, ours, ownersOf(b.composed, plan), held, observed)
	if err := setStatus(req, rsp, rep.status); err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	response.ConditionTrue(rsp, ConditionValid, "ValidSpec").TargetCompositeAndClaim()
	for _, msg := range b.stuck {
		response.Warning(rsp, errors.New(msg)).TargetCompositeAndClaim()
	}
	readiness(rsp, ConditionEnvironmentReady, rep.waiting[stack.ConcernEnvironment])
	if len(s.Services) > 0 {
		readiness(rsp, ConditionServicesReady, rep.waiting[stack.ConcernServices])
		if len(rep.unregistered) > 0 {
			reason := "Registering"
			switch {
			case plan.noPath:
				reason = "NoAdminPath"
			case rep.agentSilent:
				reason = "HostAgentSilent"
			}
			response.ConditionFalse(rsp, ConditionRegistered, reason).WithMessage(strings.Join(rep.unregistered, "; ")).TargetCompositeAndClaim()
		} else {
			response.ConditionTrue(rsp, ConditionRegistered, "Registered").TargetCompositeAndClaim()
		}
	}
	if len(rep.waiting) == 0 && len(rep.unregistered) == 0 {
		rsp.Meta.Ttl = durationpb.New(settledTTL)
	}
	limit := f.MaxResponseBytes
	if limit == 0 {
		limit = DefaultMaxResponseBytes
	}
	if size := proto.Size(rsp); size > limit {
		tooLarge := response.To(incoming, pendingTTL)
		response.Fatal(tooLarge, fmt.Errorf("the stack's %d composed resources take %.2f MiB, over the %.2f MiB Crossplane accepts from a function; split it into smaller stacks",
			len(ours), float64(size)/(1<<20), float64(limit)/(1<<20)))
		return tooLarge, nil
	}
	log.Debug("Composed a RestateStack", "resources", len(ours), "account-known", s.AccountID != "")
	return rsp, nil
}

// admit reads the composite and the platform's input as the API server
// would hand them over: the XRD's own schema and CEL rules first, as the
// API server checks a claim (errors name the field, and the typed decoding
// sees only the types it expects), then the numbers the typed spec holds.
// A claim at fault gives errs; a request that cannot be read, err.
func admit(req *fnv1.RunFunctionRequest, valid *validSpecs) (*v1alpha1.XRestateStack, *platform.StackPolicy, field.ErrorList, error) {
	oxr, err := request.GetObservedCompositeResource(req)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cannot read the composite resource: %w", err)
	}
	if errs := validateSpec(oxr.Resource.Object, valid, req.GetObserved().GetComposite().GetResource().GetFields()["spec"]); len(errs) > 0 {
		return nil, nil, errs, nil
	}
	xr := &v1alpha1.XRestateStack{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(oxr.Resource.Object, xr); err != nil {
		return nil, nil, field.ErrorList{field.Invalid(field.NewPath("spec"), "<spec>", err.Error())}, nil
	}
	if errs := numbersHeld(oxr.Resource.Object, xr); len(errs) > 0 {
		return nil, nil, errs, nil
	}
	in := &platform.StackPolicy{}
	if req.GetInput() != nil {
		if err := request.GetInput(req, in); err != nil {
			return nil, nil, nil, fmt.Errorf("cannot read the function input (StackPolicy) of the Composition: %w", err)
		}
	}
	return xr, in, nil, nil
}

// built is what one call composes: every part of the stack, those its
// gates let through and those they hold, their desired state with
// registration's, and what registration planned.
type built struct {
	all, composed []stack.Part
	held          []heldPart
	desired       map[resource.Name]*resource.DesiredComposed
	view          stackView
	plan          registrationPlan
	// stuck are creates provider-aws never recorded that only the account
	// can settle (creates.go).
	stuck []string
}

// build runs the builders, the gates and the stamp, then registration,
// which follows what is observed of the rest. An error from a builder may
// be a *field.Error naming the claim field at fault.
func build(s *stack.Stack, env Environment, observed stack.Observed) (*built, error) {
	all, err := buildStack(s, env)
	if err != nil {
		return nil, err
	}
	b := &built{all: all}
	b.composed, b.held = gate(all, observed)
	if b.desired, err = stamp(s, b.composed); err != nil {
		return nil, fmt.Errorf("cannot compose resources: %w", err)
	}
	setReadiness(b.desired, observed)
	b.stuck = resumeCreates(s, b.desired, observed)
	// What the stack observed of itself, once.
	b.view = viewOf(env, observed)
	b.plan = buildRegistration(s, env, b.view, b.desired, observed)
	regs, err := stamp(s, b.plan.parts)
	if err != nil {
		return nil, fmt.Errorf("cannot compose registration: %w", err)
	}
	setReadiness(regs, observed)
	maps.Copy(b.desired, regs)
	maps.Copy(b.desired, b.plan.kept)
	return b, nil
}

// buildStack runs the builders of the stack's environment and services,
// and says what each part is for.
func buildStack(s *stack.Stack, env Environment) ([]stack.Part, error) {
	parts, err := env.Compose(s)
	if err != nil {
		return nil, err
	}
	// The grants belong to the environment's access to the functions.
	parts = append(parts, buildInvokeGrant(s, env)...)
	parts = stack.OwnedBy(append(parts, buildPublishGrant(s)...), stack.Owner{Concern: stack.ConcernEnvironment})
	for _, svc := range s.Services {
		if svc.Lambda != nil {
			parts = append(parts, stack.OwnedBy(buildLambdaService(s, svc), stack.Owner{Concern: stack.ConcernServices, Service: svc.Name})...)
		}
	}
	return parts, nil
}

// readiness reports one readiness condition on the composite and claim.
func readiness(rsp *fnv1.RunFunctionResponse, condition string, waiting []string) {
	if len(waiting) > 0 {
		response.ConditionFalse(rsp, condition, "Creating").WithMessage(waitingMessage(waiting)).TargetCompositeAndClaim()
		return
	}
	response.ConditionTrue(rsp, condition, "Available").TargetCompositeAndClaim()
}

// setStatus writes the stack's status into the desired composite.
func setStatus(req *fnv1.RunFunctionRequest, rsp *fnv1.RunFunctionResponse, st v1alpha1.RestateStackStatus) error {
	dxr, err := request.GetDesiredCompositeResource(req)
	if err != nil {
		return fmt.Errorf("cannot read the desired composite resource: %w", err)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&st)
	if err != nil {
		return fmt.Errorf("cannot convert the status: %w", err)
	}
	// Set on the map: the SDK's path setter round-trips it through JSON.
	dxr.Resource.Object["status"] = m
	if err := response.SetDesiredCompositeResource(rsp, dxr); err != nil {
		return fmt.Errorf("cannot set the desired composite resource: %w", err)
	}
	return nil
}

// invalid reports a claim that failed validation: a fatal result naming
// every field at fault, and a Valid=False condition on the claim. The
// desired state stays as it came in, so nothing that exists is deleted.
func invalid(rsp *fnv1.RunFunctionResponse, errs field.ErrorList) {
	msg := refusal(errs)
	response.Fatal(rsp, errors.New(msg))
	response.ConditionFalse(rsp, ConditionValid, "InvalidSpec").WithMessage(msg).TargetCompositeAndClaim()
}
