package fn

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
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

// TestRefusalsNeverRepeatCredentials: a URL with credentials is refused
// without them, whichever check refuses it (the schema, the URL check, the
// admin hosts check), and so is every other URL in the same message.
func TestRefusalsNeverRepeatCredentials(t *testing.T) {
	const secret = "s3cr3t-pa55"
	for name, u := range map[string]string{
		"user and password":   "https://admin:" + secret + "@restate.example.com:9070",
		"a token as user":     "https://" + secret + "@restate.example.com:9070",
		"unparsable":          "https://admin:" + secret + "@[::1",
		"a metadata host too": "http://admin:" + secret + "@169.254.169.254/",
		"upper-case scheme":   "HTTPS://admin:" + secret + "@restate.example.com",
	} {
		xr := newXR(func(x *v1alpha1.XRestateStack) {
			x.Spec.Environment = v1alpha1.EnvironmentSpec{External: &v1alpha1.ExternalEnvironmentSpec{AdminURL: u, IngressURL: u}}
		}, withServices(httpService("orders", u)), inNamespace("team-a"))
		rsp := run(t, newRequest(t, xr, newPolicy()))
		var out strings.Builder
		for _, r := range rsp.GetResults() {
			out.WriteString(r.GetMessage())
		}
		for _, c := range rsp.GetConditions() {
			out.WriteString(c.GetMessage())
		}
		if out.Len() == 0 {
			t.Errorf("%s: not refused", name)
		}
		if strings.Contains(out.String(), secret) {
			t.Errorf("%s: the credentials reached a message: %s", name, out.String())
		}
	}
	for in, want := range map[string]string{
		`a "https://u:p@h/x" and ftp://tok@h`: `a "https://<redacted>@h/x" and ftp://<redacted>@h`,
		// Found by FuzzComposeSpec: url.Parse reads a user without a scheme.
		`Invalid value: "//0000000@"`: `Invalid value: "//<redacted>@"`,
		// A user may hold "@" and "'"; url.Parse splits at the last "@".
		`"https://ab'c@d:p@h:9070"`: `"https://<redacted>@h:9070"`,
	} {
		if got := redactURLs(in); got != want {
			t.Errorf("redactURLs(%s) = %s, want %s", in, got, want)
		}
	}
}
