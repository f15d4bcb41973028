package fn

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestRefusalSaysEachErrorOnce: the same error in 256 services is one line
// naming the indices, and any refusal stays within its bound, saying how
// much it left out.
func TestRefusalSaysEachErrorOnce(t *testing.T) {
	var errs field.ErrorList
	for i := range 256 {
		errs = append(errs, field.NotSupported(field.NewPath("spec", "services").Index(i).Child("lambda", "logRetentionDays"), 0, []string{"1", "3", "5"}))
	}
	errs = append(errs, field.Required(field.NewPath("spec", "region"), "no region"))
	got := refusal(errs)
	want := `invalid RestateStack: spec.services[0-255].lambda.logRetentionDays: Unsupported value: 0: supported values: "1", "3", "5"; spec.region: Required value: no region`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if r := ranges([]int{0, 1, 2, 5, 7, 8}); r != "0-2,5,7-8" {
		t.Errorf("ranges: %s", r)
	}

	errs = nil
	for i := range 500 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "tags").Key(fmt.Sprintf("k%03d", i)), "v", "not a valid tag"))
	}
	got = refusal(errs)
	if len(got) > maxRefusalBytes+32 || !strings.HasSuffix(got, " more") || !strings.Contains(got, "spec.tags[k000]") {
		t.Errorf("a long refusal: %d bytes, ends %q", len(got), got[len(got)-40:])
	}
}
