package fn

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// numbersHeld refuses the numbers of a composite's spec that its typed
// form does not hold as given: the conversion wraps a number too large for
// an int32 field (4294967424 MiB of memory becomes 128), silently. Each is
// compared with its value after the round trip through the typed spec.
func numbersHeld(obj map[string]any, typed runtime.Object) field.ErrorList {
	back, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), err)}
	}
	var errs field.ErrorList
	compareNumbers(field.NewPath("spec"), obj["spec"], back["spec"], &errs)
	return errs
}

func compareNumbers(p *field.Path, given, held any, errs *field.ErrorList) {
	switch g := given.(type) {
	case map[string]any:
		h, _ := held.(map[string]any)
		for k, v := range g {
			compareNumbers(p.Child(k), v, h[k], errs)
		}
	case []any:
		h, _ := held.([]any)
		for i, v := range g {
			var hv any
			if i < len(h) {
				hv = h[i]
			}
			compareNumbers(p.Index(i), v, hv, errs)
		}
	case int64, float64:
		// A zero is left out of the typed spec's form (omitempty).
		if number(held) != number(g) {
			*errs = append(*errs, field.Invalid(p, g, "out of range for this field"))
		}
	}
}

// number is a JSON number's value, or 0 for anything else.
func number(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return 0
}
