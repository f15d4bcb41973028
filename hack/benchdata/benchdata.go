// Package benchdata builds the requests the benchmarks send: a real claim
// with a number of Lambda services on a self-hosted environment, as
// Crossplane sends it on the first reconcile (nothing observed) and in the
// steady state (every composed resource observed ready, with the status
// provider-aws and the job controller report, played by providersim).
package benchdata

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn"
	policy "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/providersim"
)

// Claim is a stack with n Lambda services shaped like the holiday example
// (nodejs22.x, 512 MiB, 10 s, code in S3) on a self-hosted server, as the
// API server hands it to the function: written as a claim is (only the
// fields it sets), with the XRD's defaults applied.
func Claim(n int) *unstructured.Unstructured {
	var services []any
	for i := range n {
		name := fmt.Sprintf("svc-%03d", i)
		services = append(services, map[string]any{
			"name": name, "expectedServiceName": name,
			"lambda": map[string]any{
				"runtime": "nodejs22.x", "handler": "index.handler", "memorySizeMiB": int64(512), "timeoutSeconds": int64(10),
				"code": map[string]any{"s3": map[string]any{"bucket": "team-a-artifacts", "key": name + "/1.4.0.zip"}},
			},
		})
	}
	xr := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"environment": map[string]any{"selfHosted": map[string]any{
			"network": map[string]any{"subnetType": string(v1alpha1.SubnetPublic)},
			"tracing": map[string]any{"mode": string(v1alpha1.TracingAWSXRay)},
		}},
		"tags":     map[string]any{"app": "bench"},
		"services": services,
	}}}
	xr.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("XRestateStack"))
	xr.SetName("bench-x7k2p")
	xr.SetLabels(map[string]string{"crossplane.io/claim-namespace": "team-a", "crossplane.io/claim-name": "bench"})
	if err := fn.ApplyXRDDefaults(xr.Object); err != nil {
		panic(fmt.Sprintf("the benchmark claim: %v", err)) // a bug of this package
	}
	return xr
}

// Policy is the platform's input of the example Composition, with the
// account id the provider stand-in reports and registration by Jobs.
func Policy() *policy.StackPolicy {
	p := &policy.StackPolicy{DefaultRegion: "eu-central-1", AccountID: providersim.Account, Tags: map[string]string{"managed-by": "crossplane"},
		// Registration Jobs, over a declared path: the host agent reports
		// on the data volume's tags, which caps its stacks at 44 services,
		// and the benchmarks go to 256.
		Registration: policy.RegistrationPolicy{Mode: policy.RegistrationJob, AdminAccess: policy.AdminAccess{CIDRBlocks: []string{"10.20.0.0/16"}}}}
	p.SetGroupVersionKind(policy.GroupVersion.WithKind("StackPolicy"))
	return p
}

// Requests returns the first and the steady-state request of a stack with
// n services, as protobuf bytes.
func Requests(n int) (first, steady []byte, err error) {
	xr, p := Claim(n), Policy()
	req, err := request(xr, p, nil)
	if err != nil {
		return nil, nil, err
	}
	if first, err = proto.Marshal(req); err != nil {
		return nil, nil, err
	}
	// Reconcile, observing everything composed, until nothing new appears.
	f := &fn.Function{Log: logging.NewNopLogger()}
	var observed []*unstructured.Unstructured
	for range 10 {
		// The response shares the request's desired state: run on a copy,
		// so the request stays as Crossplane sends it to the first step.
		rsp, err := f.RunFunction(context.Background(), proto.Clone(req).(*fnv1.RunFunctionRequest))
		if err != nil {
			return nil, nil, err
		}
		desired := rsp.GetDesired().GetResources()
		next := make([]*unstructured.Unstructured, 0, len(desired))
		for _, k := range slices.Sorted(maps.Keys(desired)) {
			u := &unstructured.Unstructured{Object: desired[k].GetResource().AsMap()}
			stored(u, xr, k)
			next = append(next, u)
		}
		if err := providersim.ObserveAll(next); err != nil {
			return nil, nil, err
		}
		if len(next) == len(observed) {
			steady, err := proto.Marshal(req)
			return first, steady, err
		}
		observed = next
		if req, err = request(xr, p, observed); err != nil {
			return nil, nil, err
		}
	}
	return nil, nil, fmt.Errorf("a stack of %d services did not settle", n)
}

// stored adds what the API server and Crossplane add to a stored composed
// resource (managed fields aside).
func stored(u *unstructured.Unstructured, xr metav1.Object, key string) {
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann["crossplane.io/composition-resource-name"] = key
	ann["crossplane.io/external-create-pending"] = "2026-01-01T00:00:00Z"
	ann["crossplane.io/external-create-succeeded"] = "2026-01-01T00:00:01Z"
	u.SetAnnotations(ann)
	u.SetLabels(map[string]string{"crossplane.io/composite": xr.GetName(), "crossplane.io/claim-name": "bench", "crossplane.io/claim-namespace": "team-a"})
	u.SetUID(types.UID(fmt.Sprintf("0d4b7c3e-4f0e-4c6e-9d1a-%012x", len(key)*7919)))
	u.SetResourceVersion("123456")
	u.SetGeneration(2)
	u.SetFinalizers([]string{"finalizer.managedresource.crossplane.io"})
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "stack.restate-crossplane.io/v1alpha1", Kind: "XRestateStack", Name: xr.GetName(),
		UID: "447dd255-af30-5fce-97b9-4c6fd86d2e67", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}})
}

func request(xr runtime.Object, p *policy.StackPolicy, observed []*unstructured.Unstructured) (*fnv1.RunFunctionRequest, error) {
	oxr, err := asStruct(xr)
	if err != nil {
		return nil, err
	}
	in, err := asStruct(p)
	if err != nil {
		return nil, err
	}
	req := &fnv1.RunFunctionRequest{
		Meta:     &fnv1.RequestMeta{Tag: "bench"},
		Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: oxr}, Resources: map[string]*fnv1.Resource{}},
		Desired:  &fnv1.State{},
		Input:    in,
	}
	for _, o := range observed {
		s, err := structpb.NewStruct(o.Object)
		if err != nil {
			return nil, err
		}
		req.Observed.Resources[o.GetAnnotations()["crossplane.io/composition-resource-name"]] = &fnv1.Resource{Resource: s}
	}
	return req, nil
}

func asStruct(o runtime.Object) (*structpb.Struct, error) {
	return resource.AsStruct(o)
}

// Case is one benchmark case: a state of a stack of a number of services.
type Case struct {
	State    string // first or steady
	Services int
	Request  []byte
}

// Cases are the benchmark cases, smallest first.
func Cases() ([]Case, error) {
	var out []Case
	for _, n := range []int{1, 4, 16, 64, 256} {
		first, steady, err := Requests(n)
		if err != nil {
			return nil, err
		}
		out = append(out, Case{"first", n, first}, Case{"steady", n, steady})
	}
	return out, nil
}

// Run calls the function once on a freshly unmarshalled request; the
// unmarshalling is not timed, since RunFunction's response shares the
// request's desired state.
func Run(b *testing.B, f *fn.Function, req []byte) *fnv1.RunFunctionResponse {
	b.StopTimer()
	in := &fnv1.RunFunctionRequest{}
	if err := proto.Unmarshal(req, in); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	rsp, err := f.RunFunction(context.Background(), in)
	if err != nil {
		b.Fatal(err)
	}
	// A refused request measures the refusal: the benchmarks would rot
	// unnoticed (they did once).
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			b.Fatalf("the function refused the benchmark request: %s", r.GetMessage())
		}
	}
	return rsp
}

// Floor unmarshals the request and marshals the response: what any
// function pays for the same bytes.
func Floor(b *testing.B, req []byte, rsp *fnv1.RunFunctionResponse) {
	in := &fnv1.RunFunctionRequest{}
	if err := proto.Unmarshal(req, in); err != nil {
		b.Fatal(err)
	}
	if _, err := proto.Marshal(rsp); err != nil {
		b.Fatal(err)
	}
}

// FunctionFor is the function a case's next call runs on: a new one for a
// first reconcile, a claim the function has not seen (nothing it remembers
// across calls, the specs it found valid or the user data it rendered, is
// there yet), and the same one for a steady reconcile.
func FunctionFor(state string, f *fn.Function) *fn.Function {
	if state == "first" || f == nil {
		return &fn.Function{Log: logging.NewNopLogger()}
	}
	return f
}
