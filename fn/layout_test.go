package fn

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/restate-crossplane/function-restate-stack/"

// TestOneVariationPoint: outside resolveEnvironment's file, no file of the
// pipeline imports an environment kind or reads which kind a claim sets,
// and no kind (nor the shared vocabulary) imports the pipeline.
func TestOneVariationPoint(t *testing.T) {
	fset := token.NewFileSet()
	pipeline, _ := filepath.Glob("*.go")
	for _, name := range pipeline {
		if strings.HasSuffix(name, "_test.go") || name == "environment.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, module+"fn/env/") {
				t.Errorf("%s imports the environment kind %s", name, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				switch sel.Sel.Name {
				case "SelfHosted", "Cloud", "External":
					t.Errorf("%s: %s reads the claim's environment kind", fset.Position(sel.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
	}
	kinds, _ := filepath.Glob("env/*/*.go")
	leaf, _ := filepath.Glob("stack/*.go")
	for _, name := range append(kinds, leaf...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == module+"fn" || (strings.HasPrefix(name, "stack/") && strings.HasPrefix(p, module+"fn/env/")) {
				t.Errorf("%s imports %s: the arrow points up", name, p)
			}
			if strings.HasPrefix(name, "env/") && strings.HasPrefix(p, module+"fn/env/") && !strings.HasPrefix(name, strings.TrimPrefix(p, module+"fn/")+"/") {
				t.Errorf("%s imports another kind, %s", name, p)
			}
		}
	}
	if len(kinds) == 0 || len(pipeline) == 0 {
		t.Fatal("no files found: run from fn/")
	}
}
