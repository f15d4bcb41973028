package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restate-crossplane/function-restate-stack/internal/testkit/localrender"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/yamldocs"
)

// TestPlainRenderFlow runs the README's plain flow, the Crossplane docs'
// own: the function started on its own at localhost:9443, then `crossplane
// composition render` of examples/xr.yaml (an XR derived from a claim) with
// examples/functions.yaml, with no flag of this repository's tooling but
// the render engine's binary, which stands in for Docker.
func TestPlainRenderFlow(t *testing.T) {
	// examples/xr.yaml is what Crossplane makes of the minimal claim; `make
	// golden` rewrites it.
	claim, err := os.ReadFile("../examples/claims/selfhosted-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	xr, err := localrender.ClaimToXR(claim)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("# The composite Crossplane makes of examples/claims/selfhosted-minimal.yaml,\n# for `crossplane composition render` (see the README). `make golden` writes it.\n"), xr...)
	if *update {
		if err := os.WriteFile("../examples/xr.yaml", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("../examples/xr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Fatalf("examples/xr.yaml is not the minimal claim's composite (run make golden) (-want +got):\n%s", d)
	}

	const addr = "localhost:9443"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log bytes.Buffer
	// As the README starts it: --insecure, and its default address.
	fn, err := localrender.Start(ctx, tools.Function, addr, &log, "--insecure")
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer fn.Stop()

	cmd := exec.CommandContext(ctx, tools.CLI, "composition", "render", "../examples/xr.yaml", repo.Composition, repo.Functions,
		"--crossplane-binary", tools.Core)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crossplane composition render: %v\n%s\nfunction log:\n%s", err, stderr.String(), log.String())
	}
	docs, err := yamldocs.Split(out)
	if err != nil {
		t.Fatal(err)
	}
	// A first reconcile composes the network and identity; the host waits
	// for them.
	keys := map[string]bool{}
	for _, d := range docs {
		keys[d.GetAnnotations()["crossplane.io/composition-resource-name"]] = true
	}
	for _, k := range []string{"vpc", "subnet-private", "security-group-admin", "instance-role", "log-group", "data-volume"} {
		if !keys[k] {
			t.Errorf("the render composes no %s; it composes %v", k, keys)
		}
	}
	if len(docs) == 0 || docs[0].GetKind() != "XRestateStack" || !strings.HasPrefix(docs[0].GetName(), "minimal-") {
		t.Errorf("the render's first document is not the composite: %s", out[:min(len(out), 300)])
	}
}
