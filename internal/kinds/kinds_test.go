package kinds

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// TestKindsMatchTheProvidersCRDs: each kind of the table is served by the
// provider's own CRD, under the resource name and version the table gives,
// and its Go type registers under that kind.
func TestKindsMatchTheProvidersCRDs(t *testing.T) {
	dirs := map[string]string{}
	for _, module := range []string{"github.com/crossplane-contrib/provider-aws"} {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", module, err)
		}
		dirs[module] = filepath.Join(strings.TrimSpace(string(out)), "package", "crds")
	}
	s := runtime.NewScheme()
	AddToScheme(s)
	for _, k := range All {
		if !k.AWS {
			continue // TestKubernetesKinds
		}
		var crd extv1.CustomResourceDefinition
		var raw []byte
		for _, dir := range dirs {
			if b, err := os.ReadFile(filepath.Join(dir, k.Group+"_"+k.Resource+".yaml")); err == nil {
				raw = b
			}
		}
		if raw == nil {
			t.Errorf("%s: no CRD %s_%s.yaml in the providers' packages", k.Kind, k.Group, k.Resource)
			continue
		}
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatal(err)
		}
		if crd.Spec.Names.Kind != k.Kind || !slices.ContainsFunc(crd.Spec.Versions, func(v extv1.CustomResourceDefinitionVersion) bool { return v.Name == k.Version && v.Served }) {
			t.Errorf("%s: the CRD serves kind %s, versions %v", k.GroupVersionKind, crd.Spec.Names.Kind, crd.Spec.Versions)
		}
		gvks, _, err := s.ObjectKinds(k.New())
		if err != nil || len(gvks) != 1 || gvks[0] != k.GroupVersionKind {
			t.Errorf("%s: its Go type registers as %v (%v)", k.GroupVersionKind, gvks, err)
		}
		if typ := reflect.TypeOf(k.New()).Elem(); typ.Name() != k.Kind || !strings.HasSuffix(typ.PkgPath(), k.Version) {
			t.Errorf("%s: its Go type is %s.%s", k.GroupVersionKind, typ.PkgPath(), typ.Name())
		}
		if got, ok := Of(k.GroupVersionKind); !ok || got.Resource != k.Resource {
			t.Errorf("Of(%s) = %v, %v", k.GroupVersionKind, got, ok)
		}
	}
}

// TestKubernetesKinds: the Kubernetes kinds of the table are the API's own,
// under their own resource names.
func TestKubernetesKinds(t *testing.T) {
	for _, k := range All {
		if k.AWS {
			continue
		}
		gvks, _, err := scheme.Scheme.ObjectKinds(k.New())
		if err != nil || len(gvks) != 1 || gvks[0] != k.GroupVersionKind {
			t.Errorf("%s: Kubernetes knows its Go type as %v (%v)", k.GroupVersionKind, gvks, err)
		}
		if plural, _ := meta.UnsafeGuessKindToResource(k.GroupVersionKind); plural.Resource != k.Resource {
			t.Errorf("%s: resource %s, want %s", k.GroupVersionKind, k.Resource, plural.Resource)
		}
		if k.Tags != NoTags {
			t.Errorf("%s: Kubernetes objects take no AWS tags", k.GroupVersionKind)
		}
		if want := strings.TrimSuffix(k.Resource+"."+k.Group, "."); k.Name() != want {
			t.Errorf("%s: kubectl name %q, want %q", k.GroupVersionKind, k.Name(), want)
		}
	}
}
