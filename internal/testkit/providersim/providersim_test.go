package providersim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/yamldocs"
)

// TestObservesEveryComposedKind: the stand-in reports, for every kind the
// stack composes, the status fields the provider would, so that a new kind
// cannot be observed as an empty status by mistake.
func TestObservesEveryComposedKind(t *testing.T) {
	// A kind the real provider was seen to report nothing for (a target
	// group: provider-aws leaves its observation empty) is exempt.
	var real Shapes
	if raw, err := os.ReadFile(filepath.Join("testdata", "provider-shapes.json")); err == nil {
		if err := json.Unmarshal(raw, &real); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range kinds.All {
		if shape, seen := real[k.Kind]; seen && len(shape) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"forProvider": map[string]any{"region": "eu-central-1"}}}}
		u.SetGroupVersionKind(k.GroupVersionKind)
		u.SetName("demo-x7k2p-thing")
		if err := Observe(u); err != nil {
			t.Fatalf("%s: %v", k.Kind, err)
		}
		at, _, _ := unstructured.NestedMap(u.Object, "status", "atProvider")
		if len(at) == 0 && k.AWS && observes(k) {
			t.Errorf("%s: observed with an empty status.atProvider, though the provider reports fields there", k.Kind)
		}
		if k.AWS && !ready(u, "Ready") || k.Ready == kinds.JobComplete && !ready(u, "Complete") {
			t.Errorf("%s: not ready", k.Kind)
		}
	}
}

// observes says whether the provider's type for the kind has fields in
// status.atProvider.
func observes(k kinds.Kind) bool {
	st := reflect.ValueOf(k.New()).Elem().FieldByName("Status")
	at := st.FieldByName("AtProvider")
	return at.IsValid() && at.Kind() == reflect.Struct && at.NumField() > 0
}

func ready(u *unstructured.Unstructured, condition string) bool {
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range cs {
		if m, _ := c.(map[string]any); m["type"] == condition && m["status"] == "True" {
			return true
		}
	}
	return false
}

// TestReportsOnlyWhatTheProviderReports: for every provider-aws resource
// the example renders compose (the goldens), the stand-in reports only
// status fields, of the same types, that the real provider reported in the
// end-to-end test (testdata/provider-shapes.json, which make e2e records).
func TestReportsOnlyWhatTheProviderReports(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "provider-shapes.json"))
	if err != nil {
		t.Fatalf("%v: make e2e records it", err)
	}
	var real Shapes
	if err := json.Unmarshal(raw, &real); err != nil {
		t.Fatal(err)
	}
	goldens, _ := filepath.Glob(filepath.Join("..", "..", "..", "test", "golden", "*", "settled.yaml"))
	if len(goldens) == 0 {
		t.Fatal("no golden renders to take resources from")
	}
	ours := Shapes{}
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := yamldocs.Split(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range docs {
			k, ok := kinds.Of(u.GroupVersionKind())
			if !ok || !k.AWS {
				continue
			}
			delete(u.Object, "status")
			if err := Observe(u); err != nil {
				t.Fatal(err)
			}
			ours.Add(k.Kind, u.Object)
		}
	}
	for _, m := range ours.Missing(real) {
		t.Error(m)
	}
}
