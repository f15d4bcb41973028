package providersim

import (
	"fmt"
	"regexp"
	"sort"
)

var uuidRE = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// Shapes are the status fields a provider reports for each kind: the dotted
// path of each leaf under status.atProvider, with its JSON type. The
// end-to-end test records the real provider's (testdata/provider-shapes.json)
// and the unit tests hold the stand-in to them, so that the render's
// stand-in cannot report a field the provider does not.
type Shapes map[string]map[string]string

// Add records the status.atProvider fields of one observed object.
func (s Shapes) Add(kind string, obj map[string]any) {
	status, _ := obj["status"].(map[string]any)
	at, _ := status["atProvider"].(map[string]any)
	if s[kind] == nil {
		s[kind] = map[string]string{}
	}
	walk("", at, s[kind])
	// An empty list says less than one with elements: one object's empty
	// list and another's full one are one shape.
	for p, typ := range s[kind] {
		if _, full := s[kind][p+"[]"]; typ == "array" && full {
			delete(s[kind], p)
		}
	}
}

func walk(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if uuidRE.MatchString(k) {
				k = "{id}" // a map keyed by ids (Secrets Manager's versions)
			}
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			walk(p, child, out)
		}
	case []any:
		for _, child := range x {
			walk(prefix+"[]", child, out)
		}
		if len(x) == 0 && prefix != "" {
			out[prefix] = "array"
		}
	case nil:
	default:
		if prefix != "" {
			out[prefix] = jsonType(x)
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, int32, int64, float32, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// Missing lists what s has that real lacks: paths real never reported, or
// reported with another type.
func (s Shapes) Missing(real Shapes) []string {
	var out []string
	for kind, paths := range s {
		for p, typ := range paths {
			if got, ok := real[kind][p]; !ok || got != typ {
				out = append(out, fmt.Sprintf("%s %s (%s): the provider reported %q", kind, p, typ, got))
			}
		}
	}
	sort.Strings(out)
	return out
}
