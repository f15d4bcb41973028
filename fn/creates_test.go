package fn

import (
	"strings"
	"testing"
	"time"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
)

// TestUnfinishedCreates: a create provider-aws began and never recorded
// (killed in between) is resumed for a kind a second create cannot
// duplicate, and named, untouched, for one it could.
func TestUnfinishedCreates(t *testing.T) {
	xr, p := newXR(), newPolicy()
	_, obs := settle(t, xr, p, nil)
	began := time.Date(2026, 12, 3, 17, 26, 38, 0, time.UTC)
	var marked []*unstructured.Unstructured
	for _, o := range obs {
		o = o.DeepCopy()
		switch o.GetAnnotations()["crossplane.io/composition-resource-name"] {
		case selfhosted.KeyInstanceRolePolicy, selfhosted.KeyVPC:
			ann := o.GetAnnotations()
			ann["crossplane.io/external-create-pending"] = began.Format(time.RFC3339)
			ann["crossplane.io/external-create-succeeded"] = began.Add(-time.Hour).Format(time.RFC3339)
			o.SetAnnotations(ann)
		}
		marked = append(marked, o)
	}
	rsp := run(t, newRequest(t, xr, p, marked...))
	d := desiredOf(rsp)
	if got := d[selfhosted.KeyInstanceRolePolicy].GetAnnotations()["crossplane.io/external-create-failed"]; got != "2026-12-03T17:26:39Z" {
		t.Errorf("the role policy's unfinished create is marked failed at %q, want a second after it began", got)
	}
	if got := d[selfhosted.KeyInstanceRolePolicy].GetAnnotations()[annResumedCreate]; got != "2026-12-03T17:26:38Z" {
		t.Errorf("the resumed create is annotated %q, want when it began (a change the provider's event filter passes)", got)
	}
	if got, ok := d[selfhosted.KeyVPC].GetAnnotations()["crossplane.io/external-create-failed"]; ok {
		t.Errorf("a VPC, which a second create would duplicate, was marked failed (%s)", got)
	}
	var warned []string
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_WARNING {
			warned = append(warned, r.GetMessage())
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "VPC demo-x7k2p-vpc") || !strings.Contains(warned[0], "crossplane.io/external-create-pending") {
		t.Errorf("want one warning naming the VPC and the annotation, got %q", warned)
	}

	// Settled, nothing is marked and nothing said.
	rsp = run(t, newRequest(t, xr, p, obs...))
	for k, u := range desiredOf(rsp) {
		if _, ok := u.GetAnnotations()["crossplane.io/external-create-failed"]; ok {
			t.Errorf("%s is marked failed with no unfinished create", k)
		}
	}
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_WARNING {
			t.Errorf("a warning with no unfinished create: %s", r.GetMessage())
		}
	}
}

// TestIdempotentLaunch: the instance's client token is the same on every
// reconcile of a stack and another for another stack of the same name,
// and a log group is named up front, so that one that exists is adopted.
func TestIdempotentLaunch(t *testing.T) {
	token := func(uid string) string {
		xr := newXR(func(xr *v1alpha1.XRestateStack) { xr.SetUID(types.UID(uid)) })
		d, _ := settle(t, xr, newPolicy(), nil)
		_, inst := instanceOf(t, d)
		if n := d[selfhosted.KeyLogGroup].GetAnnotations()["crossplane.io/external-name"]; n != str(d[selfhosted.KeyLogGroup], "spec", "forProvider", "logGroupName") || n == "" {
			t.Errorf("the log group's external name is %q, want its name", n)
		}
		return str(inst, "spec", "forProvider", "clientToken")
	}
	a, again, other := token("5b1c0e8e-0000-4000-8000-000000000001"), token("5b1c0e8e-0000-4000-8000-000000000001"), token("5b1c0e8e-0000-4000-8000-000000000002")
	if a == "" || a != again || a == other || len(a) > 64 {
		t.Errorf("client tokens %q, %q (same stack), %q (another): want stable, distinct, at most 64 characters", a, again, other)
	}
}
