//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

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

const configurationSource = "xpkg.crossplane.io/restate-crossplane/configuration-restate-stack"

// installConfiguration installs the Configuration package (the README's
// step 3, examples/install/configuration.yaml) through Crossplane's package
// manager, from its cache: the package is compositions/ (its crossplane.yaml,
// the XRD and the Composition), but for one change to the Composition, which
// lets registration reach the test's restate-server on loopback. Its
// dependencies (the function, provider-aws) cannot be resolved from a
// registry offline: resolution is skipped, and the function is installed
// on its own (installFunction), the provider run as a process.
func (b *box) installConfiguration(repo string) {
	t := b.t
	t.Helper()
	read := func(name string) []byte {
		raw, err := os.ReadFile(filepath.Join(repo, "compositions", name))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	comp, err := yaml.YAMLToJSON(read("composition.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch([]byte(`[{"op":"add","path":"/spec/pipeline/0/input/registration/allowLoopback","value":true},` +
		`{"op":"add","path":"/spec/pipeline/0/input/registration/allowedAdminHosts/-","value":"127.0.0.1"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if comp, err = patch.Apply(comp); err != nil {
		t.Fatal(err)
	}
	digest := b.cachePackage(configurationSource, read("crossplane.yaml"), read("definition.yaml"), comp)
	b.applyInstall(repo, "configuration.yaml", fmt.Sprintf("spec: {package: %s@%s, packagePullPolicy: Never, skipDependencyResolution: true}", configurationSource, digest))
	eventually(t, 3*time.Minute, "the Configuration to be installed and healthy", func() string {
		out, _ := b.kubectl("get", "configurations.pkg.crossplane.io", "configuration-restate-stack", "-o",
			`jsonpath={.status.conditions[?(@.type=="Installed")].status}/{.status.conditions[?(@.type=="Healthy")].status}`)
		if out != "True/True" {
			rev, _ := b.kubectl("get", "configurationrevisions.pkg.crossplane.io", "-o", `jsonpath={.items[*].status.conditions}`)
			return "Installed/Healthy=" + out + "; revision: " + rev
		}
		return ""
	})
}
