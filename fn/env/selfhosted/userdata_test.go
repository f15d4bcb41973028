package selfhosted

import (
	"testing"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// TestUserDataMemoKeyCoversInputs: every field of the resolved server spec
// changes the memo's key, so a remembered user data is never stale.
func TestUserDataMemoKeyCoversInputs(t *testing.T) {
	const region = "eu-central-1"
	sh, errs := resolveServer("demo-x7k2p", "/restate/demo-x7k2p", region, v1alpha1.SelfHostedSpec{}, &platform.StackPolicy{}, fieldPath)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	f := &UserDataCache{}
	base, err := f.Render(region, sh)
	if err != nil {
		t.Fatal(err)
	}
	changed := *sh
	changed.Config.Environment = map[string]string{"RUST_LOG": "debug"}
	other, err := f.Render(region, &changed)
	if err != nil {
		t.Fatal(err)
	}
	if string(base) == string(other) {
		t.Error("a changed environment gave the remembered user data")
	}
	fresh, err := RenderUserData(region, &changed)
	if err != nil {
		t.Fatal(err)
	}
	if string(fresh) != string(other) {
		t.Error("the remembered user data differs from a fresh render")
	}
	if again, _ := f.Render("us-east-1", sh); string(again) == string(base) {
		t.Error("another region gave the remembered user data")
	}
	g := &UserDataCache{}
	if _, err := g.Render(region, &changed); err != nil {
		t.Fatal(err)
	}
	if len(f.memo.entries) != 3 || len(g.memo.entries) != 1 {
		t.Errorf("remembered %d and %d user data, want 3 and 1: each cache has its own memo", len(f.memo.entries), len(g.memo.entries))
	}
}
