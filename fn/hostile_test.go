package fn

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// TestLongServiceNameFromObservedState: a registration record read back
// from observed state names a service far longer than any claim may. The
// names derived from it once sliced out of range and crashed the process;
// now the deregistration Job gets a valid, bounded name.
func TestLongServiceNameFromObservedState(t *testing.T) {
	destroy := s3Service("payments")
	destroy.Registration.RemovalPolicy = v1alpha1.RemovalDestroy
	xr := newXR(cloudEnv(), withServices(destroy), inNamespace("team-a"))
	_, obs := settle(t, xr, newPolicy(), nil)

	long := strings.Repeat("p", 200)
	tampered := 0
	for _, o := range obs {
		ann := o.GetAnnotations()
		var rec registrationRecord
		if json.Unmarshal([]byte(ann[annRegistration]), &rec) != nil || rec.Service == "" {
			continue
		}
		rec.Service = long
		b, _ := json.Marshal(rec)
		ann[annRegistration] = string(b)
		o.SetAnnotations(ann)
		tampered++
	}
	if tampered == 0 {
		t.Fatal("no observed registration record to tamper with")
	}
	gone := newXR(cloudEnv(), withServices(), inNamespace("team-a"))
	d := compose(t, gone, newPolicy(), obs...)
	deregs := keysWithPrefix(d, keyDeregisterPrefix)
	if len(deregs) != 1 {
		t.Fatalf("deregistration Jobs %v, want one", deregs)
	}
	name := d[deregs[0]].GetName()
	if len(name) > stack.MaxNameLength || !strings.HasPrefix(name, "demo-x7k") {
		t.Errorf("deregistration Job name %q: want at most %d characters, starting with the stack's name (its first %d characters at least)", name, stack.MaxNameLength, stack.MinNamePrefix)
	}
}

// TestPanicBecomesFatal: a panic while composing is one fatal result for
// that composite; the process and the desired state survive.
func TestPanicBecomesFatal(t *testing.T) {
	f := &Function{Log: logging.NewNopLogger()}
	req := newRequest(t, newXR(), newPolicy())
	req.Desired = &fnv1.State{Resources: map[string]*fnv1.Resource{"vpc": {}}}
	var rsp *fnv1.RunFunctionResponse
	var err error
	func() {
		defer f.recoverInto(req, &rsp, &err)
		panic("index out of range")
	}()
	if err != nil || rsp == nil {
		t.Fatalf("got %v, %v; want a response and no error", rsp, err)
	}
	if len(rsp.GetResults()) != 1 || rsp.GetResults()[0].GetSeverity() != fnv1.Severity_SEVERITY_FATAL ||
		!strings.Contains(rsp.GetResults()[0].GetMessage(), "index out of range") {
		t.Errorf("results %v, want one fatal naming the panic", rsp.GetResults())
	}
	if rsp.GetDesired().GetResources()["vpc"] == nil {
		t.Error("the desired state that came in was dropped")
	}
	if _, err := f.RunFunction(context.Background(), req); err != nil {
		t.Errorf("the function no longer serves after a panic: %v", err)
	}
}

// TestNumbersThatDoNotFitAreRefused: a number too large for its int32 field
// once wrapped silently to a small valid one (4294967424 MiB became 128);
// it is refused naming the field. The largest int32 is held as given, and
// left to the field's own bounds.
func TestNumbersThatDoNotFitAreRefused(t *testing.T) {
	for _, tc := range []struct {
		path  []string
		value any
		field string
	}{
		{[]string{"environment", "selfHosted", "dataVolume", "sizeGiB"}, int64(4294967304), "spec.environment.selfHosted.dataVolume.sizeGiB"},
		{[]string{"environment", "selfHosted", "dataVolume", "sizeGiB"}, int64(-4294967288), "spec.environment.selfHosted.dataVolume.sizeGiB"},
	} {
		req := newRequest(t, newXR(), newPolicy())
		xr := req.Observed.Composite.Resource.AsMap()
		m := xr["spec"].(map[string]any)
		for _, k := range tc.path[:len(tc.path)-1] {
			next, _ := m[k].(map[string]any)
			if next == nil {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[tc.path[len(tc.path)-1]] = tc.value
		s, err := structpb.NewStruct(xr)
		if err != nil {
			t.Fatal(err)
		}
		req.Observed.Composite.Resource = s
		rsp := run(t, req)
		if len(rsp.GetResults()) == 0 || !strings.Contains(rsp.GetResults()[0].GetMessage(), tc.field+": Invalid value") {
			t.Errorf("%v = %v: results %v, want a refusal naming %s", tc.path, tc.value, rsp.GetResults(), tc.field)
		}
	}
	// The largest int32 passes this check; the field's bounds refuse it.
	req := newRequest(t, newXR(func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment.SelfHosted.DataVolume.SizeGiB = 2147483647 }), newPolicy())
	for _, r := range run(t, req).GetResults() {
		if strings.Contains(r.GetMessage(), "out of range for this field") {
			t.Errorf("the largest int32 called out of range: %s", r.GetMessage())
		}
	}
}

// TestSchemaValidation: the function checks a composite against the XRD's
// own schema and CEL rules (embedded from the same generation), so a
// composite the API server never saw (crossplane composition render, a composite made
// without a claim) is refused the same way, naming the field; a type error
// names its field, not spec; a field the schema does not know (a newer
// XRD's) is ignored, as decoding ignores it.
func TestSchemaValidation(t *testing.T) {
	withSpec := func(spec map[string]any) *fnv1.RunFunctionRequest {
		req := newRequest(t, newXR(), newPolicy())
		s, err := structpb.NewStruct(spec)
		if err != nil {
			t.Fatal(err)
		}
		req.Observed.Composite.Resource.Fields["spec"] = structpb.NewStructValue(s)
		return req
	}
	selfHosted := func(sh map[string]any) map[string]any {
		return map[string]any{"environment": map[string]any{"selfHosted": sh}}
	}
	for name, tc := range map[string]struct {
		spec      map[string]any
		wantField string // "" when accepted
		wantText  string
	}{
		"a string for a number":  {selfHosted(map[string]any{"dataVolume": map[string]any{"sizeGiB": "eight"}}), "spec.environment.selfHosted.dataVolume.sizeGiB", "must be of type integer"},
		"a list for an object":   {selfHosted(map[string]any{"tls": []any{"SelfSigned"}}), "spec.environment.selfHosted.tls", "must be of type object"},
		"an enum value":          {selfHosted(map[string]any{"tls": map[string]any{"termination": "LetsEncrypt"}}), "spec.environment.selfHosted.tls.termination", "Unsupported value"},
		"a CEL rule":             {map[string]any{"environment": map[string]any{"selfHosted": map[string]any{}, "cloud": map[string]any{"environmentId": "env_201hd7bh2yrxzmy6h1eqdfhx7g", "apiKeySecretRef": map[string]any{"name": "k"}}}}, "spec.environment", "exactly one of selfHosted, cloud or external must be set"},
		"a field of a newer XRD": {map[string]any{"environment": map[string]any{"selfHosted": map[string]any{"futureOption": true}}, "x-ui-order": 3}, "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			rsp := run(t, withSpec(tc.spec))
			if tc.wantField == "" {
				for _, r := range rsp.GetResults() {
					if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
						t.Fatalf("refused: %s", r.GetMessage())
					}
				}
				return
			}
			wantFatal(t, rsp, tc.wantField+":", tc.wantText)
		})
	}
}

// TestValidSpecsRemembered: one function serving a composite checks its
// spec once; the same spec again (with a field the schema does not know,
// pruned either way) is a hit, and a changed spec is checked again, so a claim
// edited into an invalid one is refused by the same function.
func TestValidSpecsRemembered(t *testing.T) {
	f := &Function{Log: logging.NewNopLogger()}
	call := func(mutate func(spec map[string]any)) *fnv1.RunFunctionResponse {
		req := newRequest(t, newXR(), newPolicy())
		spec := req.Observed.Composite.Resource.Fields["spec"].GetStructValue().AsMap()
		mutate(spec)
		s, err := structpb.NewStruct(spec)
		if err != nil {
			t.Fatal(err)
		}
		req.Observed.Composite.Resource.Fields["spec"] = structpb.NewStructValue(s)
		rsp, err := f.RunFunction(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return rsp
	}
	newer := func(spec map[string]any) { spec["x-newer-field"] = true }
	for i := range 2 {
		rsp := call(newer)
		for _, r := range rsp.GetResults() {
			if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
				t.Fatalf("call %d refused: %s", i, r.GetMessage())
			}
		}
		if got := len(f.valid.seen); got != 1 {
			t.Errorf("call %d: %d specs remembered, want 1", i, got)
		}
	}
	rsp := call(func(spec map[string]any) {
		newer(spec)
		spec["environment"].(map[string]any)["selfHosted"].(map[string]any)["tls"] = map[string]any{"termination": "LetsEncrypt"}
	})
	wantFatal(t, rsp, "spec.environment.selfHosted.tls.termination:", "Unsupported value")
	if got := len(f.valid.seen); got != 1 {
		t.Errorf("%d specs remembered after a refusal, want 1", got)
	}
}
