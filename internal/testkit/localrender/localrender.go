// Package localrender renders the example claims with the real crossplane
// CLI and render engine, against the function binary started locally: no
// cluster and no Docker. `make render` and the render tests share it.
package localrender

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/restate-crossplane/function-restate-stack/fn"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/loopback"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/providersim"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/yamldocs"
)

// Tools are the binaries a render needs.
type Tools struct {
	// CLI is the crossplane CLI (composition render, resource validate).
	CLI string
	// Core is the crossplane core binary that runs the render engine.
	Core string
	// Function is the function's binary.
	Function string
}

// Repo holds the repository files a render reads.
type Repo struct {
	// Composition is the platform's Composition.
	Composition string
	// Compositions is a directory of other Compositions, which a claim
	// picks by name (spec.compositionRef), as a cluster would.
	Compositions string
	Functions    string
	XRD          string
}

// compositionFor is the file of the Composition a claim picks: the one its
// spec.compositionRef names, else the platform's.
func (r Repo) compositionFor(claim []byte) (string, error) {
	var c struct {
		Spec struct {
			CompositionRef *struct{ Name string } `json:"compositionRef"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(claim, &c); err != nil {
		return "", err
	}
	if c.Spec.CompositionRef == nil {
		return r.Composition, nil
	}
	files, _ := filepath.Glob(filepath.Join(r.Compositions, "*.yaml"))
	for _, f := range append([]string{r.Composition}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		var comp struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if err := yaml.Unmarshal(b, &comp); err == nil && comp.Metadata.Name == c.Spec.CompositionRef.Name {
			return f, nil
		}
	}
	return "", fmt.Errorf("the claim picks Composition %q, which is neither %s nor in %s", c.Spec.CompositionRef.Name, r.Composition, r.Compositions)
}

// Function is a function binary serving on a loopback port.
type Function struct {
	Address string
	cmd     *exec.Cmd
}

// StartFunction starts the function (insecure gRPC, as crossplane composition render
// expects) on a free loopback port and waits until it accepts connections.
func StartFunction(ctx context.Context, binary string, log io.Writer) (*Function, error) {
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	return Start(ctx, binary, addr, log, "--insecure", "--address", addr)
}

// Start starts the function binary with args and waits until it accepts
// connections at addr.
func Start(ctx context.Context, binary, addr string, log io.Writer, args ...string) (*Function, error) {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start the function %s: %w", binary, err)
	}
	f := &Function{Address: addr, cmd: cmd}
	if err := loopback.WaitListening(addr, 20*time.Second); err != nil {
		f.Stop()
		return nil, fmt.Errorf("the function did not start: %w", err)
	}
	return f, nil
}

// Stop ends the function.
func (f *Function) Stop() {
	if f.cmd.Process != nil {
		_ = f.cmd.Process.Kill()
		_ = f.cmd.Wait()
	}
}

// ClaimToXR derives the composite resource Crossplane would create for a
// claim, so render sees exactly what users apply: same spec, a name with a
// stable five-character suffix, and the claim labels. The CLI's own
// `crossplane xr generate` (alpha in CLI v2) draws a random suffix on each
// run (golden files would change every render) and adds a spec.claimRef
// Crossplane itself does not set on a claim's composite; with --name it
// would need this hash anyway, so these lines stay.
func ClaimToXR(claim []byte) ([]byte, error) {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(claim, &u.Object); err != nil {
		return nil, err
	}
	if u.GetKind() != "RestateStack" {
		return nil, fmt.Errorf("not a RestateStack claim: kind %q", u.GetKind())
	}
	h := sha256.Sum256([]byte(u.GetNamespace() + "/" + u.GetName()))
	xr := &unstructured.Unstructured{Object: map[string]any{"spec": u.Object["spec"]}}
	xr.SetAPIVersion(u.GetAPIVersion())
	xr.SetKind("XRestateStack")
	xr.SetName(u.GetName() + "-" + hex.EncodeToString(h[:])[:5])
	xr.SetLabels(map[string]string{
		"crossplane.io/claim-name":      u.GetName(),
		"crossplane.io/claim-namespace": u.GetNamespace(),
	})
	return yaml.Marshal(xr.Object)
}

// Render runs crossplane composition render for one composite resource, with observed
// resources from observedDir when it is not empty.
func Render(ctx context.Context, t Tools, r Repo, fnAddress, xrFile, observedDir string) ([]byte, error) {
	args := []string{"composition", "render", xrFile, r.Composition, r.Functions,
		"--crossplane-binary", t.Core,
		"--xrd", r.XRD,
		"--function-annotations", "render.crossplane.io/runtime-development-target=" + fnAddress,
		"--include-function-results",
		"--include-full-xr",
		"--timeout", "30s",
	}
	if observedDir != "" {
		args = append(args, "--observed-resources", observedDir)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, t.CLI, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("crossplane composition render %s: %w\n%s", filepath.Base(xrFile), err, stderr.String())
	}
	return normalize(stdout.Bytes())
}

// normalize orders render's output, so that the same input always gives the
// same bytes: the composite first, then the composed resources by kind and
// name, then the results by message (render emits some in map order).
func normalize(out []byte) ([]byte, error) {
	docs, err := yamldocs.Split(out)
	if err != nil {
		return nil, err
	}
	rank := func(u *unstructured.Unstructured) int {
		switch {
		case u.GetKind() == "XRestateStack":
			return 0
		case strings.HasPrefix(u.GetAPIVersion(), "render.crossplane.io/"):
			return 2
		}
		return 1
	}
	key := func(u *unstructured.Unstructured) string {
		msg, _, _ := unstructured.NestedString(u.Object, "message")
		return u.GetKind() + "/" + u.GetName() + "/" + msg
	}
	sort.SliceStable(docs, func(i, j int) bool {
		if ri, rj := rank(docs[i]), rank(docs[j]); ri != rj {
			return ri < rj
		}
		return key(docs[i]) < key(docs[j])
	})
	return yamldocs.Join(docs)
}

// Composed returns the composed resources of a render's output: everything
// but the composite and the function results.
func Composed(docs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, d := range docs {
		if d.GetKind() == "XRestateStack" || strings.HasPrefix(d.GetAPIVersion(), "render.crossplane.io/") {
			continue
		}
		out = append(out, d)
	}
	return out
}

// WriteObserved writes what provider-aws would report for each composed
// resource (see providersim) into dir, one file each, for the next render.
func WriteObserved(composed []*unstructured.Unstructured, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	observed := make([]*unstructured.Unstructured, 0, len(composed))
	for _, c := range composed {
		observed = append(observed, c.DeepCopy())
	}
	if err := providersim.ObserveAll(observed); err != nil {
		return err
	}
	for _, o := range observed {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		// A Job and its report ConfigMap share a name.
		file := strings.ToLower(o.GetKind()) + "-" + o.GetName() + ".yaml"
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Example is one example claim rendered as it converges: the first
// reconcile, with nothing observed, and the settled state, once every
// resource composed so far is observed ready (two more reconciles, since
// some resources wait for observed ARNs).
type Example struct {
	Name  string
	XR    []byte
	First []byte
	// Second is the reconcile after the first resources are observed:
	// what waited for ARNs and DNS names, and registration Jobs, appear.
	Second  []byte
	Settled []byte
	// Graph is the settled stack's resources and what each waits for, as a
	// Mermaid flowchart (fn.Graph).
	Graph string
}

// RenderExamples renders every claim in claimsDir, working in workDir.
func RenderExamples(ctx context.Context, t Tools, r Repo, fnAddress, claimsDir, workDir string) ([]Example, error) {
	claims, err := filepath.Glob(filepath.Join(claimsDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(claims)
	var out []Example
	for _, c := range claims {
		name := strings.TrimSuffix(filepath.Base(c), ".yaml")
		ex, err := renderExample(ctx, t, r, fnAddress, c, filepath.Join(workDir, name))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ex.Name = name
		out = append(out, *ex)
	}
	return out, nil
}

func renderExample(ctx context.Context, t Tools, r Repo, fnAddress, claimFile, dir string) (*Example, error) {
	claim, err := os.ReadFile(claimFile)
	if err != nil {
		return nil, err
	}
	xr, err := ClaimToXR(claim)
	if err != nil {
		return nil, err
	}
	if r.Composition, err = r.compositionFor(claim); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	xrFile := filepath.Join(dir, "xr.yaml")
	if err := os.WriteFile(xrFile, xr, 0o644); err != nil {
		return nil, err
	}
	first, err := Render(ctx, t, r, fnAddress, xrFile, "")
	if err != nil {
		return nil, err
	}
	observed := filepath.Join(dir, "observed")
	if err := os.RemoveAll(observed); err != nil {
		return nil, err
	}
	// Each round observes everything the previous one composed, until a
	// round composes nothing new: what waits for observed ARNs, DNS names
	// or ready functions appears round by round.
	settled := first
	var second []byte
	var previous []*unstructured.Unstructured
	for round := 0; ; round++ {
		docs, err := yamldocs.Split(settled)
		if err != nil {
			return nil, err
		}
		composed := Composed(docs)
		if round > 0 && sameNames(composed, previous) {
			break
		}
		if round == maxRounds {
			return nil, fmt.Errorf("%s did not settle in %d reconciles", filepath.Base(claimFile), maxRounds)
		}
		previous = composed
		if err := WriteObserved(composed, observed); err != nil {
			return nil, err
		}
		dir := observed
		if len(composed) == 0 {
			dir = "" // render refuses an empty directory
		}
		if settled, err = Render(ctx, t, r, fnAddress, xrFile, dir); err != nil {
			return nil, err
		}
		if round == 0 {
			second = settled
		}
	}
	graph, err := graphOf(r.Composition, settled, previous)
	if err != nil {
		return nil, fmt.Errorf("the graph of %s: %w", filepath.Base(claimFile), err)
	}
	return &Example{XR: xr, First: first, Second: second, Settled: settled, Graph: graph}, nil
}

// graphOf draws the settled stack: the request the last reconcile had
// (the settled composite, what was observed, the Composition's input),
// through fn.Graph.
func graphOf(compositionFile string, settled []byte, observed []*unstructured.Unstructured) (string, error) {
	docs, err := yamldocs.Split(settled)
	if err != nil || len(docs) == 0 {
		return "", fmt.Errorf("no composite in the render: %v", err)
	}
	xr, err := structpb.NewStruct(docs[0].Object)
	if err != nil {
		return "", err
	}
	req := &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: xr}, Resources: map[string]*fnv1.Resource{}}}
	obs := make([]*unstructured.Unstructured, 0, len(observed))
	for _, o := range observed {
		obs = append(obs, o.DeepCopy())
	}
	if err := providersim.ObserveAll(obs); err != nil {
		return "", err
	}
	for _, o := range obs {
		s, err := structpb.NewStruct(o.Object)
		if err != nil {
			return "", err
		}
		req.Observed.Resources[o.GetAnnotations()["crossplane.io/composition-resource-name"]] = &fnv1.Resource{Resource: s}
	}
	b, err := os.ReadFile(compositionFile)
	if err != nil {
		return "", err
	}
	var comp struct {
		Spec struct {
			Pipeline []struct {
				Input map[string]any `json:"input"`
			} `json:"pipeline"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &comp); err != nil {
		return "", err
	}
	for _, step := range comp.Spec.Pipeline {
		if step.Input["kind"] == "StackPolicy" {
			if req.Input, err = structpb.NewStruct(step.Input); err != nil {
				return "", err
			}
		}
	}
	nodes, err := fn.Graph(req)
	if err != nil {
		return "", err
	}
	return fn.Mermaid(nodes), nil
}

// maxRounds bounds the reconciles of an example that never settles.
const maxRounds = 8

func sameNames(a, b []*unstructured.Unstructured) bool {
	names := map[string]bool{}
	for _, u := range a {
		names[u.GetKind()+"/"+u.GetName()] = true
	}
	for _, u := range b {
		if !names[u.GetKind()+"/"+u.GetName()] {
			return false
		}
	}
	return len(a) == len(b)
}

// Summarize prints what an example composes once settled: each resource's
// kind, name and readiness, and the stack's status.
func Summarize(w io.Writer, ex Example) error {
	docs, err := yamldocs.Split(ex.Settled)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "== %s\n", ex.Name)
	for _, d := range docs {
		switch {
		case d.GetKind() == "XRestateStack":
			st, _, _ := unstructured.NestedMap(d.Object, "status")
			fmt.Fprintf(w, "   status: adminUrl=%v ingressUrl=%v invokerRoleArn=%v resources=%v\n",
				st["adminUrl"], st["ingressUrl"], st["invokerRoleArn"], st["resources"])
			svcs, _, _ := unstructured.NestedSlice(d.Object, "status", "services")
			for _, sv := range svcs {
				m, _ := sv.(map[string]any)
				at := m["functionArn"]
				if m["uri"] != nil {
					at = m["uri"]
				}
				fmt.Fprintf(w, "   service %v (%v): ready=%v %v\n", m["name"], m["kind"], m["ready"], at)
				if reg, ok := m["registration"].(map[string]any); ok {
					fmt.Fprintf(w, "      registered=%v %v as %v by Job %v\n", reg["complete"], reg["endpoint"], reg["deploymentId"], reg["job"])
				}
			}
		case strings.HasPrefix(d.GetAPIVersion(), "render.crossplane.io/"):
			msg, _, _ := unstructured.NestedString(d.Object, "message")
			sev, _, _ := unstructured.NestedString(d.Object, "severity")
			fmt.Fprintf(w, "   result: %s %s\n", sev, msg)
		default:
			fmt.Fprintf(w, "   %-46s %s\n", d.GetAPIVersion()+"/"+d.GetKind(), d.GetName())
		}
	}
	return nil
}
