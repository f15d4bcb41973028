package fn

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
)

// specSchema validates a composite's spec as the API server validates a
// claim: the XRD's OpenAPI schema and its CEL rules, the same the XRD
// serves (both are generated from apis/v1alpha1). Without it, `crossplane
// render` and composites created without a claim would skip them, and the
// function would repeat them in Go. Built once per process.
type specSchema struct {
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
	cel        *cel.Validator
}

var loadSpecSchema = sync.OnceValues(func() (*specSchema, error) {
	var v1 extv1.JSONSchemaProps
	if err := json.Unmarshal(v1alpha1.Schema, &v1); err != nil {
		return nil, err
	}
	var internal apiextensions.JSONSchemaProps
	if err := extv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(&v1, &internal, nil); err != nil {
		return nil, err
	}
	ss, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, err
	}
	sv, _, err := validation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, err
	}
	return &specSchema{structural: ss, validator: sv, cel: cel.NewValidator(ss, false, celconfig.PerCallLimit)}, nil
})

// validateSpec checks a composite's spec against the XRD's schema and CEL
// rules. Errors name the field (spec.services[0].name, ...). Fields the
// schema does not know (a newer XRD's, say) are not errors: they are
// pruned from xr, as the API server prunes them from a claim, and the
// function composes as if they were not there. A spec found valid before
// (valid, by its bytes in the request) is pruned but not checked again.
func validateSpec(xr map[string]any, valid *validSpecs, raw *structpb.Value) field.ErrorList {
	s, err := loadSpecSchema()
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), fmt.Errorf("the function's embedded schema: %w", err))}
	}
	obj := map[string]any{"spec": xr["spec"]}
	pruning.Prune(obj, s.structural, false)
	xr["spec"] = obj["spec"]
	key, known := valid.lookup(raw)
	if known {
		return nil
	}
	errs := validation.ValidateCustomResource(nil, obj, s.validator)
	// Keyed lists (services by name) as the API server checks them.
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, s.structural, obj)...)
	if len(errs) > 0 {
		// CEL rules assume the types the schema checks.
		return errs
	}
	integers(obj, s.structural)
	celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	if len(celErrs) == 0 {
		valid.remember(key)
	}
	return celErrs
}

// integers turns the whole numbers of integer fields into int64, as the API
// server's JSON decoder hands them to CEL: the request's structpb holds
// every number as a float64, which CEL refuses to compare with an int.
func integers(v any, ss *structuralschema.Structural) any {
	if ss == nil {
		return v
	}
	switch x := v.(type) {
	case float64:
		if ss.Type == "integer" && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case map[string]any:
		for k, e := range x {
			if p, ok := ss.Properties[k]; ok {
				x[k] = integers(e, &p)
			} else if ss.AdditionalProperties != nil {
				x[k] = integers(e, ss.AdditionalProperties.Structural)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = integers(e, ss.Items)
		}
	}
	return v
}

// validSpecs remembers the specs found valid, by a hash of their bytes in
// the request: a composite is reconciled again and again with a spec that
// has not changed, and checking it again cost as much as composing the
// stack (BENCHMARKS.md). The schema is the function's own, so a spec valid
// once stays valid for the life of the process. A nil validSpecs remembers
// nothing.
type validSpecs struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]struct{}
}

// validSpecsSize bounds what is remembered: one spec per composite the
// function serves, up to this many, then it starts over.
const validSpecsSize = 1024

// lookup hashes a spec and says whether it was found valid before. ok is
// false, and key unusable, when there is nothing to remember by.
func (v *validSpecs) lookup(raw *structpb.Value) (key [sha256.Size]byte, known bool) {
	if v == nil || raw == nil {
		return key, false
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(raw)
	if err != nil {
		return key, false
	}
	key = sha256.Sum256(b)
	v.mu.Lock()
	defer v.mu.Unlock()
	_, known = v.seen[key]
	return key, known
}

func (v *validSpecs) remember(key [sha256.Size]byte) {
	if v == nil || key == ([sha256.Size]byte{}) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil || len(v.seen) >= validSpecsSize {
		v.seen = make(map[[sha256.Size]byte]struct{}, validSpecsSize)
	}
	v.seen[key] = struct{}{}
}

// ApplyXRDDefaults sets the XRD's defaults in a composite's spec, as the API
// server sets them in a claim, for tools that build composites without
// one (the benchmarks): the function itself never defaults, it validates
// what the API server hands it.
func ApplyXRDDefaults(xr map[string]any) error {
	s, err := loadSpecSchema()
	if err != nil {
		return err
	}
	obj := map[string]any{"spec": xr["spec"]}
	defaulting.Default(obj, s.structural)
	xr["spec"] = obj["spec"]
	return nil
}
