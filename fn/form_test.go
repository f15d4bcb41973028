package fn

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"sigs.k8s.io/yaml"
)

// TestFormCorpusRefused: each claim of catalog/testdata/refused.yaml is
// refused by the XRD's own schema, as the function applies it, naming the
// field the corpus names. test/backstage checks that the Backstage
// template's form refuses each too, so a claim the API server refuses
// cannot be submitted from the form.
func TestFormCorpusRefused(t *testing.T) {
	raw, err := os.ReadFile("../catalog/testdata/refused.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var corpus struct {
		Base  map[string]any `json:"base"`
		Cases []struct {
			Name       string         `json:"name"`
			Field      string         `json:"field"`
			FormCannot string         `json:"formCannot"`
			Patch      map[string]any `json:"patch"`
		} `json:"cases"`
	}
	if err := yaml.UnmarshalStrict(raw, &corpus); err != nil {
		t.Fatal(err)
	}
	base, _ := json.Marshal(corpus.Base)
	if errs := validateSpec(map[string]any{"spec": corpus.Base}, nil, nil); len(errs) > 0 {
		t.Fatalf("the base claim is refused: %v", errs)
	}
	for _, c := range corpus.Cases {
		t.Run(c.Name, func(t *testing.T) {
			patch, _ := json.Marshal(c.Patch)
			merged, err := jsonpatch.MergePatch(base, patch)
			if err != nil {
				t.Fatal(err)
			}
			var spec map[string]any
			if err := json.Unmarshal(merged, &spec); err != nil {
				t.Fatal(err)
			}
			errs := validateSpec(map[string]any{"spec": spec}, nil, nil)
			if len(errs) == 0 {
				t.Fatal("the XRD's schema accepts it")
			}
			if !strings.Contains(errs.ToAggregate().Error(), c.Field+":") {
				t.Errorf("refused, but not naming %s: %v", c.Field, errs)
			}
		})
	}
}
