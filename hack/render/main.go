// Command render renders every example claim with the real crossplane CLI
// and render engine and the function binary, started here: `make render`.
// It writes each example's composite, first reconcile and settled state
// under the output directory and prints what each stack composes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/restate-crossplane/function-restate-stack/internal/testkit/localrender"
)

func main() {
	var (
		t      localrender.Tools
		r      localrender.Repo
		claims string
		out    string
	)
	flag.StringVar(&t.CLI, "crossplane", "bin/crossplane", "crossplane CLI binary")
	flag.StringVar(&t.Core, "crossplane-core", "bin/crossplane-core", "crossplane core binary (the render engine)")
	flag.StringVar(&t.Function, "function", "bin/function", "function binary")
	flag.StringVar(&r.Composition, "composition", "compositions/composition.yaml", "Composition")
	flag.StringVar(&r.Compositions, "compositions", "examples/compositions", "directory of Compositions that claims pick by spec.compositionRef")
	flag.StringVar(&r.XRD, "xrd", "compositions/definition.yaml", "CompositeResourceDefinition")
	flag.StringVar(&r.Functions, "functions", "examples/functions.yaml", "Functions for render")
	flag.StringVar(&claims, "claims", "examples/claims", "directory of example claims")
	flag.StringVar(&out, "out", "_output/render", "output directory")
	flag.Parse()
	if err := run(t, r, claims, out); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(t localrender.Tools, r localrender.Repo, claims, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	fnLog, err := os.Create(filepath.Join(out, "function.log"))
	if err != nil {
		return err
	}
	defer fnLog.Close()
	f, err := localrender.StartFunction(ctx, t.Function, fnLog)
	if err != nil {
		return err
	}
	defer f.Stop()

	start := time.Now()
	examples, err := localrender.RenderExamples(ctx, t, r, f.Address, claims, out)
	if err != nil {
		return err
	}
	for _, ex := range examples {
		dir := filepath.Join(out, ex.Name)
		for file, b := range map[string][]byte{"first-reconcile.yaml": ex.First, "settled.yaml": ex.Settled} {
			if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
				return err
			}
		}
		if err := localrender.Summarize(os.Stdout, ex); err != nil {
			return err
		}
	}
	fmt.Printf("rendered %d examples in %s; output in %s/\n", len(examples), time.Since(start).Round(time.Millisecond), out)
	return nil
}
