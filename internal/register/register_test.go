package register

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 20 * time.Second}
	for n, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 4: 16 * time.Second, 5: 20 * time.Second, 40: 20 * time.Second, 100: 20 * time.Second} {
		if got := b.Wait(n); got != want {
			t.Errorf("wait after attempt %d: %s, want %s", n, got, want)
		}
	}
	b.Jitter = 2 * time.Second
	for range 100 {
		if got := b.Wait(1); got < 2*time.Second || got >= 4*time.Second {
			t.Fatalf("wait with jitter %s, want in [2s, 4s)", got)
		}
	}
}

func TestExitCodes(t *testing.T) {
	seen := map[int]bool{0: true, 1: true}
	for _, c := range []Class{ClassUsage, ClassUnreachable, ClassUnauthorized, ClassRejected, ClassExpectedServiceMissing, ClassPublish, ClassReport} {
		code := ExitCode(fail(c, io.EOF))
		if seen[code] {
			t.Errorf("class %d shares exit code %d", c, code)
		}
		seen[code] = true
	}
}

// TestReport writes the result with a merge patch on exactly the named
// ConfigMap. An httptest server stands in for the Kubernetes API server,
// which does not run in unit tests.
func TestReport(t *testing.T) {
	var method, path, contentType string
	var body map[string]map[string]string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path, contentType = r.Method, r.URL.Path, r.Header.Get("Content-Type")
		_ = json.NewDecoder(r.Body).Decode(&body)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer api.Close()
	res := &Result{Endpoint: "arn:aws:lambda:eu-central-1:123456789012:function:trips:3", DeploymentID: "dp_1", Services: []string{"Cars", "Trips"}, Version: "3"}
	if err := Report(context.Background(), &rest.Config{Host: api.URL}, "team-a", "reg-trips-1a2b", res); err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPatch || path != "/api/v1/namespaces/team-a/configmaps/reg-trips-1a2b" || contentType != "application/merge-patch+json" {
		t.Errorf("%s %s (%s)", method, path, contentType)
	}
	want := map[string]string{regcontract.ReportEndpoint: res.Endpoint, regcontract.ReportDeploymentID: "dp_1", regcontract.ReportServices: "Cars,Trips",
		regcontract.ReportVersion: "3", regcontract.ReportDeregistered: ""}
	for k, v := range want {
		if body["data"][k] != v {
			t.Errorf("data[%s] = %q, want %q", k, body["data"][k], v)
		}
	}

	api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"forbidden"}`, http.StatusForbidden)
	})
	if err := Report(context.Background(), &rest.Config{Host: api.URL}, "team-a", "x", res); ExitCode(err) != int(ClassReport) {
		t.Errorf("a refused report: %v (exit %d)", err, ExitCode(err))
	}
}
