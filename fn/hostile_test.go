package fn

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
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
	if len(name) > maxNameLength || !strings.HasPrefix(name, "demo-x7k") {
		t.Errorf("deregistration Job name %q: want at most %d characters, starting with the stack's name (its first %d characters at least)", name, maxNameLength, minNamePrefix)
	}
}

func TestAWSNameWithLongSuffix(t *testing.T) {
	for _, stack := range []string{"demo-x7k2p", strings.Repeat("s", 80)} {
		for _, suffix := range []string{strings.Repeat("x", 54), strings.Repeat("x", 300), "dereg-" + strings.Repeat("-", 100)} {
			n := awsName(stack, suffix)
			if len(n) > maxNameLength || strings.HasSuffix(n, "-") || strings.HasPrefix(n, "-") {
				t.Errorf("awsName(%d chars, %d chars) = %q", len(stack), len(suffix), n)
			}
			if awsName(stack, suffix+"y") == n {
				t.Errorf("two suffixes that differ past the cut share %q", n)
			}
		}
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
