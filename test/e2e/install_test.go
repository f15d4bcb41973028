//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"sigs.k8s.io/yaml"
)

// The README's "Install into a cluster" applies the manifests of
// examples/install/. The box applies the same files, changed only where it
// must be: what it changes is the merge patch each call passes, so a
// reader sees exactly what differs from the README's steps.

// applyInstall applies examples/install/<file>, merged with each patch (a
// JSON merge patch written as YAML), once per patch; no patch applies it as
// it is.
func (b *box) applyInstall(repo, file string, patches ...string) {
	t := b.t
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "examples", "install", file))
	if err != nil {
		t.Fatal(err)
	}
	if len(patches) == 0 {
		b.apply(string(raw))
		return
	}
	doc, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, p := range patches {
		pj, err := yaml.YAMLToJSON([]byte(p))
		if err != nil {
			t.Fatalf("patch of %s: %v", file, err)
		}
		merged, err := jsonpatch.MergePatch(doc, pj)
		if err != nil {
			t.Fatalf("patch of %s: %v", file, err)
		}
		if !json.Valid(merged) {
			t.Fatalf("patch of %s gave invalid JSON", file)
		}
		b.apply(string(merged))
	}
}
