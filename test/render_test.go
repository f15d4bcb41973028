// Package test renders every example claim with the real crossplane CLI,
// render engine and function binary, compares the output with golden files,
// and validates it offline against provider-aws's CRDs, the XRD and
// Crossplane's own schemas. `make test` builds the binaries first;
// `make golden` regenerates the golden files.
package test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/internal/testkit/localrender"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/providersim"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/schemacheck"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/userdataview"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/yamldocs"
)

var update = flag.Bool("update", false, "rewrite the golden files under test/golden")

var (
	tools = localrender.Tools{CLI: "../bin/crossplane", Core: "../bin/crossplane-core", Function: "../bin/function"}
	repo  = localrender.Repo{
		Composition:  "../compositions/composition.yaml",
		Compositions: "../examples/compositions",
		Functions:    "../examples/functions.yaml",
		XRD:          "../compositions/definition.yaml",
	}
)

// renderAll starts the function and renders every example once per test
// binary run.
func renderAll(t *testing.T) []localrender.Example {
	t.Helper()
	for _, b := range []string{tools.CLI, tools.Core, tools.Function} {
		if _, err := os.Stat(b); err != nil {
			t.Fatalf("%s is missing: run `make test`, which builds it", b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	var log bytes.Buffer
	f, err := localrender.StartFunction(ctx, tools.Function, &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	examples, err := localrender.RenderExamples(ctx, tools, repo, f.Address, "../examples/claims", t.TempDir())
	if err != nil {
		t.Fatalf("%v\nfunction log:\n%s", err, log.String())
	}
	if len(examples) < 3 {
		t.Fatalf("rendered %d examples, want at least 3", len(examples))
	}
	return examples
}

func TestRender(t *testing.T) {
	examples := renderAll(t)

	t.Run("golden", func(t *testing.T) {
		for _, ex := range examples {
			files := map[string][]byte{"first-reconcile.yaml": ex.First, "second-reconcile.yaml": ex.Second, "settled.yaml": ex.Settled, "graph.mmd": []byte(ex.Graph)}
			if ud, hostFiles, ok := hostView(t, ex.Settled); ok {
				files["user-data.txt"], files["host-files.txt"] = ud, hostFiles
			}
			for file, got := range files {
				golden(t, filepath.Join("golden", ex.Name, file), got)
			}
		}
	})

	// The picture is drawn from the function's own parts and gates: it
	// shows exactly what the settled render composes, and the README shows
	// the default self-hosted stack's as make render draws it.
	t.Run("graph", func(t *testing.T) {
		nodeRE := regexp.MustCompile(`(?m)^  \w+\["([^<]+)<br/>`)
		for _, ex := range examples {
			var drawn, composed []string
			for _, m := range nodeRE.FindAllStringSubmatch(ex.Graph, -1) {
				drawn = append(drawn, m[1])
			}
			for _, d := range localrender.Composed(mustSplit(t, ex.Settled)) {
				composed = append(composed, d.GetAnnotations()["crossplane.io/composition-resource-name"])
			}
			sort.Strings(drawn)
			sort.Strings(composed)
			if !slices.Equal(drawn, composed) {
				t.Errorf("%s: the graph draws %v, the render composes %v", ex.Name, drawn, composed)
			}
			if ex.Name != "selfhosted-minimal" {
				continue
			}
			readme, err := os.ReadFile("../README.md")
			if err != nil {
				t.Fatal(err)
			}
			const start, end = "<!-- graph: selfhosted-minimal (make golden rewrites it) -->\n```mermaid\n", "```\n<!-- /graph -->"
			i, j := bytes.Index(readme, []byte(start)), bytes.Index(readme, []byte(end))
			if i < 0 || j < i {
				t.Fatalf("README.md has no graph block %q", start)
			}
			if got := string(readme[i+len(start) : j]); got != ex.Graph {
				if *update {
					readme = append(append(append([]byte{}, readme[:i+len(start)]...), ex.Graph...), readme[j:]...)
					if err := os.WriteFile("../README.md", readme, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				t.Errorf("README.md's graph of selfhosted-minimal differs from what make render draws: run make golden")
			}
		}
	})

	t.Run("validate", func(t *testing.T) {
		schemas, cache := t.TempDir(), t.TempDir()
		if err := schemacheck.Schemas(schemas, cache, repo.XRD, func(m, dir string) (string, error) {
			return schemacheck.GoModDir(m, filepath.Join("..", dir))
		}); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		configs, err := filepath.Glob("../examples/install/providerconfig-*.yaml")
		if err != nil || len(configs) == 0 {
			t.Fatalf("no provider config examples: %v", err)
		}
		for _, f := range configs {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := schemacheck.Validate(ctx, tools.CLI, schemas, cache, b, filepath.Join(t.TempDir(), "config.yaml")); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
		for _, ex := range examples {
			for stage, out := range map[string][]byte{"first-reconcile": ex.First, "second-reconcile": ex.Second, "settled": ex.Settled} {
				report, err := schemacheck.Validate(ctx, tools.CLI, schemas, cache, out, filepath.Join(t.TempDir(), "rendered.yaml"))
				if err != nil {
					t.Errorf("%s %s: %v", ex.Name, stage, err)
					continue
				}
				if !strings.Contains(report, "0 missing schemas") || !strings.Contains(report, "0 failure cases") {
					t.Errorf("%s %s: validation reported problems:\n%s", ex.Name, stage, report)
				}
			}
		}
	})

	t.Run("settled stacks are ready with URLs", func(t *testing.T) {
		for _, ex := range examples {
			xr := composite(t, ex.Settled)
			fields := []string{"adminUrl", "ingressUrl", "invokerRoleArn"}
			if _, external, _ := unstructured.NestedMap(xr.Object, "spec", "environment", "external"); external {
				// An external environment has an invoker role only if the
				// claim names one; the example does not.
				fields = fields[:2]
			}
			for _, f := range fields {
				if v, _, _ := unstructured.NestedString(xr.Object, "status", f); v == "" {
					t.Errorf("%s: settled status.%s is empty", ex.Name, f)
				}
			}
			if c := condition(xr, "Ready"); c != "True" {
				t.Errorf("%s: settled Ready condition is %q, want True", ex.Name, c)
			}
			if c := condition(composite(t, ex.First), "Ready"); c == "True" && len(localrender.Composed(mustSplit(t, ex.First))) > 0 {
				t.Errorf("%s: first reconcile is Ready before anything exists", ex.Name)
			}
			// A Lambda is registered only once observed ready: never in the
			// first reconcile.
			for _, d := range localrender.Composed(mustSplit(t, ex.First)) {
				if d.GetKind() == "Job" && strings.Contains(strings.Join(jobArgs(d), " "), "--lambda-arn") {
					t.Errorf("%s: first reconcile registers a Lambda that does not exist yet: %s", ex.Name, d.GetName())
				}
			}
			specs, _, _ := unstructured.NestedSlice(xr.Object, "spec", "services")
			st, _, _ := unstructured.NestedSlice(xr.Object, "status", "services")
			if len(st) != len(specs) {
				t.Errorf("%s: status lists %d services, spec %d", ex.Name, len(st), len(specs))
			}
			_, selfHosted, _ := unstructured.NestedMap(xr.Object, "spec", "environment", "selfHosted")
			// A recipe declares a path from the cluster to the admin API.
			ref, _, _ := unstructured.NestedString(xr.Object, "spec", "compositionRef", "name")
			recipe := ref != "" && declaresAdminPath(t, ref)
			byAgent := selfHosted && !recipe
			if byAgent {
				// The shipped Composition declares no path from the cluster
				// to a self-hosted admin API: the host agent registers, from
				// its orders, with no Job; Lambda services as published
				// versions. The recipes (examples/compositions) declare a
				// path, and use Jobs.
				var orders int
				for _, d := range localrender.Composed(mustSplit(t, ex.Settled)) {
					switch {
					case d.GetKind() == "Job":
						t.Errorf("%s: Job %s, though the host agent registers", ex.Name, d.GetName())
					case d.GetKind() == "Secret" && d.GetAPIVersion() != "v1":
						orders++
					}
				}
				if orders != 1 {
					t.Errorf("%s: %d orders secrets, want 1", ex.Name, orders)
				}
				for _, sv := range st {
					m := sv.(map[string]any)
					reg, _ := m["registration"].(map[string]any)
					if reg["agent"] != true || m["kind"] == "Lambda" && reg["version"] != "1" {
						t.Errorf("%s: service %v: registration %v, want the host agent's, of version 1 for a Lambda", ex.Name, m["name"], reg)
					}
				}
			} else if recipe {
				// The recipe's path: the admin port open to its declared
				// source, and a Job per service.
				var rules, jobs int
				for _, d := range localrender.Composed(mustSplit(t, ex.Settled)) {
					if strings.HasPrefix(d.GetAnnotations()["crossplane.io/composition-resource-name"], "security-group-rule-admin-from-") {
						rules++
					}
					if d.GetKind() == "Job" {
						jobs++
					}
				}
				if rules != 1 || jobs != len(specs) {
					t.Errorf("%s: %d admin access rules and %d Jobs, want 1 and %d", ex.Name, rules, jobs, len(specs))
				}
			}
			if len(specs) > 0 && condition(xr, "Registered") != "True" {
				t.Errorf("%s: settled Registered condition is %q, want True", ex.Name, condition(xr, "Registered"))
			}
			for _, sv := range st {
				m := sv.(map[string]any)
				reg, _ := m["registration"].(map[string]any)
				if reg["complete"] != true || reg["endpoint"] == "" || reg["deploymentId"] == "" {
					t.Errorf("%s: settled service %v is not registered: %v", ex.Name, m["name"], reg)
				}
				if m["ready"] != true {
					t.Errorf("%s: settled service %v is not ready", ex.Name, m["name"])
				}
				want := []string{"uri"}
				if m["kind"] == "Lambda" {
					want = []string{"functionArn", "codeSha256"}
				}
				for _, f := range want {
					if v, _ := m[f].(string); v == "" {
						t.Errorf("%s: settled service %v has no %s", ex.Name, m["name"], f)
					}
				}
			}
		}
	})
}

func mustSplit(t *testing.T, out []byte) []*unstructured.Unstructured {
	t.Helper()
	docs, err := yamldocs.Split(out)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func composite(t *testing.T, out []byte) *unstructured.Unstructured {
	t.Helper()
	for _, d := range mustSplit(t, out) {
		if d.GetKind() == "XRestateStack" {
			return d
		}
	}
	t.Fatal("no composite in the render output")
	return nil
}

// condition is the status of a condition of u, conditionReason its
// reason.
func condition(u *unstructured.Unstructured, typ string) string {
	return conditionField(u, typ, "status")
}

func conditionReason(u *unstructured.Unstructured, typ string) string {
	return conditionField(u, typ, "reason")
}

func conditionField(u *unstructured.Unstructured, typ, field string) string {
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			s, _ := m[field].(string)
			return s
		}
	}
	return ""
}

// hostView decodes the instance's user data for reviewers: the MIME
// document as the host receives it, and each file cloud-init writes. A
// stack without a self-hosted server has none.
func hostView(t *testing.T, out []byte) (userData, files []byte, ok bool) {
	t.Helper()
	for _, d := range mustSplit(t, out) {
		if d.GetKind() != "Instance" {
			continue
		}
		enc, _, _ := unstructured.NestedString(d.Object, "spec", "forProvider", "userData")
		v, err := userdataview.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		return v.MIME, []byte(v.FilesText()), true
	}
	return nil, nil, false
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make golden` to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs from the render (-golden +render); run `make golden` if the change is intended:\n%s", path, d)
	}
}

func jobArgs(o *unstructured.Unstructured) []string {
	return providersim.JobArgs(o.Object)
}

// declaresAdminPath says whether the example Composition of that name
// declares registration.adminAccess.
func declaresAdminPath(t *testing.T, name string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "examples", "compositions", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range mustSplit(t, b) {
			if d.GetName() != name {
				continue
			}
			pipeline, _, _ := unstructured.NestedSlice(d.Object, "spec", "pipeline")
			for _, step := range pipeline {
				if _, ok, _ := unstructured.NestedMap(step.(map[string]any), "input", "registration", "adminAccess"); ok {
					return true
				}
			}
			return false
		}
	}
	t.Fatalf("no example Composition %s", name)
	return false
}
