// Package catalogform reads catalog/form.yaml, the one declaration of the
// claim's form: the XRD generator writes its hints into the schema
// (x-ui-order, x-ui-advanced, x-ui-hidden) and the template generator its
// pages. Schemas here are the XRD's, as generic JSON maps, since the typed
// JSONSchemaProps has no room for extensions.
package catalogform

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// Form is catalog/form.yaml.
type Form struct {
	XRDAnnotations map[string]string   `json:"xrdAnnotations"`
	Pages          []Page              `json:"pages"`
	Order          map[string][]string `json:"order"`
	Advanced       []string            `json:"advanced"`
	Hidden         []string            `json:"hidden"`
}

// Page is one page of the template's form after the first.
type Page struct {
	Name        string   `json:"name"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Fields      []string `json:"fields"`
}

// Load reads and checks a form declaration.
func Load(path string) (*Form, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f := &Form{}
	if err := yaml.UnmarshalStrict(raw, f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// TopLevelOrder is the order of the spec's own fields: as the pages list
// them.
func (f *Form) TopLevelOrder() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range f.Pages {
		for _, field := range p.Fields {
			top, _, _ := strings.Cut(field, ".")
			if !seen[top] {
				seen[top] = true
				out = append(out, top)
			}
		}
	}
	return out
}

// Apply writes the form's hints into spec, the schema of a claim's spec.
// A path that names no field is an error, so the declaration cannot drift
// from the API.
func (f *Form) Apply(spec map[string]any) error {
	set := func(path, key string, v any) error {
		n, err := Node(spec, path)
		if err != nil {
			return err
		}
		n[key] = v
		return nil
	}
	orders := map[string][]string{"": f.TopLevelOrder()}
	for path, names := range f.Order {
		orders[path] = names
	}
	for path, names := range orders {
		for i, name := range names {
			child := name
			if path != "" {
				child = path + "." + name
			}
			if err := set(child, "x-ui-order", i+1); err != nil {
				return fmt.Errorf("order of %q: %w", path, err)
			}
		}
	}
	for _, p := range f.Advanced {
		if err := set(p, "x-ui-advanced", true); err != nil {
			return fmt.Errorf("advanced: %w", err)
		}
	}
	for _, p := range f.Hidden {
		if err := set(p, "x-ui-hidden", true); err != nil {
			return fmt.Errorf("hidden: %w", err)
		}
	}
	for _, pg := range f.Pages {
		for _, field := range pg.Fields {
			if _, err := Node(spec, field); err != nil {
				return fmt.Errorf("page %s: %w", pg.Name, err)
			}
		}
	}
	return nil
}

// Node returns the schema of the field at a dotted path under spec; an
// array's path leads to its items' schema.
func Node(spec map[string]any, path string) (map[string]any, error) {
	n := spec
	if path == "" {
		return n, nil
	}
	for _, name := range strings.Split(path, ".") {
		if items, ok := n["items"].(map[string]any); ok && n["type"] == "array" {
			n = items
		}
		props, _ := n["properties"].(map[string]any)
		next, ok := props[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("spec.%s: no such field", path)
		}
		n = next
	}
	return n, nil
}
