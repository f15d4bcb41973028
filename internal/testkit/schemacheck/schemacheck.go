// Package schemacheck validates rendered resources offline, with the
// crossplane CLI's resource validate, against the providers' own CRDs, the
// XRD and Crossplane's CRDs: no cluster, no registry.
package schemacheck

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/restate-crossplane/function-restate-stack/internal/testkit/yamldocs"
)

// Schemas prepares what offline validation needs: provider-aws's CRDs and
// the XRD in schemaDir, and Crossplane's own CRDs in cacheDir, where
// crossplane resource validate looks for them before it would download
// them. modDir finds a module's directory in the module cache.
func Schemas(schemaDir, cacheDir, xrd string, modDir func(module, from string) (string, error)) error {
	aws, err := modDir("github.com/crossplane-contrib/provider-aws", ".")
	if err != nil {
		return err
	}
	core, err := modDir("github.com/crossplane/crossplane/v2", "hack/tools/crossplane")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(schemaDir, 0o755); err != nil {
		return err
	}
	var crds []string
	for _, provider := range []string{aws} {
		found, err := filepath.Glob(filepath.Join(provider, "package", "crds", "*.yaml"))
		if err != nil || len(found) == 0 {
			return fmt.Errorf("no CRDs in %s: %v", provider, err)
		}
		crds = append(crds, found...)
	}
	for _, f := range append(crds, xrd) {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(schemaDir, filepath.Base(f)), b, 0o644); err != nil {
			return err
		}
	}
	coreCRDs, err := filepath.Glob(filepath.Join(core, "cluster", "crds", "*.yaml"))
	if err != nil {
		return err
	}
	var pkg bytes.Buffer
	for _, f := range coreCRDs {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		pkg.WriteString("---\n")
		pkg.Write(b)
	}
	dir := filepath.Join(cacheDir, "xpkg.crossplane.io", "crossplane", "crossplane@stable")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "package.yaml"), pkg.Bytes(), 0o644)
}

// GoModDir asks the go command where a module of the build list of the
// module in dir lives.
func GoModDir(module, dir string) (string, error) {
	out, err := exec.Command("go", "list", "-C", dir, "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		return "", fmt.Errorf("cannot find module %s from %s: %w", module, dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Validate checks a render's output offline with cli's crossplane resource
// validate against the schemas Schemas prepared, failing on any unknown
// field, wrong type or missing schema. Function results are render's own
// records, not resources, and are left out.
func Validate(ctx context.Context, cli, schemaDir, cacheDir string, rendered []byte, work string) (string, error) {
	docs, err := yamldocs.Split(rendered)
	if err != nil {
		return "", err
	}
	resources := docs[:0]
	for _, d := range docs {
		if !strings.HasPrefix(d.GetAPIVersion(), "render.crossplane.io/") {
			resources = append(resources, d)
		}
	}
	b, err := yamldocs.Join(resources)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(work, b, 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, cli, "resource", "validate", schemaDir, work,
		"--cache-dir", cacheDir, "--error-on-missing-schemas", "--skip-success-results")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("crossplane resource validate %s: %w\n%s", work, err, out)
	}
	return string(out), nil
}
