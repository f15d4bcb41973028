package fn

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/providersim"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/userdataview"
)

const testAccount = providersim.Account // as the provider stand-in reports it

// newXR is a self-hosted stack with every default; tests change what they
// exercise.
func newXR(mutate ...func(*v1alpha1.XRestateStack)) *v1alpha1.XRestateStack {
	xr := &v1alpha1.XRestateStack{Spec: v1alpha1.RestateStackSpec{
		Environment: v1alpha1.EnvironmentSpec{SelfHosted: &v1alpha1.SelfHostedSpec{}},
	}}
	xr.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("XRestateStack"))
	xr.SetName("demo-x7k2p")
	for _, m := range mutate {
		m(xr)
	}
	return xr
}

// newPolicy is a platform policy with a default region and the account id,
// which lets claims name any existing invoker role and any admin host
// (TestConfusedDeputy narrows both).
func newPolicy(mutate ...func(*platform.StackPolicy)) *platform.StackPolicy {
	p := &platform.StackPolicy{DefaultRegion: "eu-central-1", AccountID: testAccount,
		AllowedInvokerRoleARNs: []string{"arn:aws:iam::*:role/*", "arn:aws:iam::*:role/*/*"},
		// Jobs, which most tests are about; the host agent's tests say so.
		Registration: platform.RegistrationPolicy{AllowedAdminHosts: []string{"*"}, Mode: platform.RegistrationJob}}
	p.SetGroupVersionKind(platform.GroupVersion.WithKind("StackPolicy"))
	for _, m := range mutate {
		m(p)
	}
	return p
}

// newRequest builds a RunFunctionRequest as Crossplane sends it.
func newRequest(t testing.TB, xr *v1alpha1.XRestateStack, in *platform.StackPolicy, observed ...*unstructured.Unstructured) *fnv1.RunFunctionRequest {
	t.Helper()
	req := &fnv1.RunFunctionRequest{
		Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: mustStruct(t, xr)}, Resources: map[string]*fnv1.Resource{}},
		Desired:  &fnv1.State{},
	}
	if in != nil {
		req.Input = mustStruct(t, in)
	}
	for _, o := range observed {
		key := o.GetAnnotations()["crossplane.io/composition-resource-name"]
		req.Observed.Resources[key] = &fnv1.Resource{Resource: mustStruct(t, o)}
	}
	return req
}

// mustStruct is an object as Crossplane sends it: its JSON, as the API
// server stores it (zero values the Go types omit stay omitted).
func mustStruct(t testing.TB, o runtime.Object) *structpb.Struct {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(b, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// run calls the function.
func run(t testing.TB, req *fnv1.RunFunctionRequest) *fnv1.RunFunctionResponse {
	t.Helper()
	f := &Function{Log: logging.NewNopLogger()}
	rsp, err := f.RunFunction(context.Background(), req)
	if err != nil {
		t.Fatalf("RunFunction returned an error: %v", err)
	}
	return rsp
}

// compose runs the function and fails on any fatal result.
func compose(t testing.TB, xr *v1alpha1.XRestateStack, in *platform.StackPolicy, observed ...*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	rsp := run(t, newRequest(t, xr, in, observed...))
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			t.Fatalf("fatal result: %s", r.GetMessage())
		}
	}
	return desiredOf(rsp)
}

func desiredOf(rsp *fnv1.RunFunctionResponse) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for k, r := range rsp.GetDesired().GetResources() {
		out[k] = &unstructured.Unstructured{Object: r.GetResource().AsMap()}
	}
	return out
}

// instanceOf returns the desired instance and its key.
func instanceOf(t *testing.T, d map[string]*unstructured.Unstructured) (string, *unstructured.Unstructured) {
	t.Helper()
	for k, u := range d {
		if u.GetKind() == "Instance" && strings.HasPrefix(k, selfhosted.KeyInstancePrefix) {
			return k, u
		}
	}
	t.Fatal("no instance composed")
	return "", nil
}

// hostOf decodes the user data of the desired instance.
func hostOf(t *testing.T, d map[string]*unstructured.Unstructured) *userdataview.View {
	t.Helper()
	_, inst := instanceOf(t, d)
	v, err := userdataview.Decode(str(inst, "spec", "forProvider", "userData"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fileOnHost(t *testing.T, v *userdataview.View, name string) string {
	t.Helper()
	f, ok := v.Files[selfhosted.HostDir+name]
	if !ok {
		t.Fatalf("no host file %s", name)
	}
	return f.Content
}

func str(u *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, path...)
	return s
}

// observedReady is what provider-aws reports for a ready resource, with the
// given status.atProvider fields.
func observedReady(key, apiVersion, kind string, atProvider map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"status": map[string]any{
			"atProvider": atProvider,
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "2026-01-01T00:00:00Z"}},
		},
	}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(stack.ResourceName("demo-x7k2p", key))
	u.SetAnnotations(map[string]string{"crossplane.io/composition-resource-name": key})
	return u
}

// composeHost composes a stack until it settles, every resource observed
// ready round by round, so that the instance, which waits for its network
// and identity (see gate), is composed.
func composeHost(t *testing.T, xr *v1alpha1.XRestateStack, in *platform.StackPolicy) map[string]*unstructured.Unstructured {
	t.Helper()
	d, _ := settle(t, xr, in, nil)
	return d
}

// observedVolume is the data volume as provider-aws reports it once created.
func observedVolume(id string) *unstructured.Unstructured {
	return observedReady(selfhosted.KeyDataVolume, "ec2.aws.crossplane.io/v1alpha1", "Volume", map[string]any{"volumeID": id, "state": "available"})
}

// atProviderOf is what is observed of a resource's status.atProvider.
func atProviderOf(obs []*unstructured.Unstructured, key string) map[string]any {
	for _, o := range obs {
		if o.GetAnnotations()["crossplane.io/composition-resource-name"] == key {
			at, _, _ := unstructured.NestedMap(o.Object, "status", "atProvider")
			return at
		}
	}
	return nil
}

// wantFatal checks that a response has a fatal result naming a field and a
// text, and a Valid=False condition.
func wantFatal(t *testing.T, rsp *fnv1.RunFunctionResponse, wantField, wantText string) {
	t.Helper()
	var fatal string
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			fatal = r.GetMessage()
		}
	}
	if !strings.Contains(fatal, wantField) || !strings.Contains(fatal, wantText) {
		t.Errorf("fatal result %q: want %q and %q", fatal, wantField, wantText)
	}
	wantCondition(t, rsp, ConditionValid, fnv1.Status_STATUS_CONDITION_FALSE)
}
