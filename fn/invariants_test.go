package fn

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/response"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// Invariants every response holds, whatever the input: the fuzz targets
// check them on every input they try, and TestInvariantsCatch shows each
// catches what it is for.

// fatal reports whether the response refuses the stack: Crossplane then
// applies nothing of it, so what it desires does not matter.
func fatal(rsp *fnv1.RunFunctionResponse) bool {
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			return true
		}
	}
	return false
}

// live reports whether an observed resource exists outside the cluster: a
// managed resource of provider-aws that has an external name or any
// status. Withdrawing it from the desired state deletes it. Under a
// registration key the stack composes only Jobs and ConfigMaps, so an AWS
// kind observed there (FuzzObservedState tried a Volume) is none of the
// stack's, whatever it holds.
func live(key string, o *unstructured.Unstructured) bool {
	if reg, dereg := jobKind(key); reg || dereg || strings.HasSuffix(key, "."+suffixReport) {
		return false
	}
	if !strings.HasSuffix(o.GroupVersionKind().Group, ".aws.crossplane.io") {
		return false
	}
	if o.GetAnnotations()["crossplane.io/external-name"] != "" {
		return true
	}
	st, ok := o.Object["status"].(map[string]any)
	return ok && len(st) > 0
}

// dropped are the live observed resources a response withdraws that
// removed does not excuse (the claim no longer asks for them). An instance
// may go when another takes its place: EC2 cannot change how an instance
// was launched, so the stack replaces it by design (buildHost).
func dropped(req *fnv1.RunFunctionRequest, rsp *fnv1.RunFunctionResponse, removed func(key string) bool) []string {
	if fatal(rsp) {
		return nil
	}
	desired := rsp.GetDesired().GetResources()
	replaced := func(key string) bool {
		if !strings.HasPrefix(key, selfhosted.KeyInstancePrefix) {
			return false
		}
		for k := range desired {
			if k != key && strings.HasPrefix(k, selfhosted.KeyInstancePrefix) {
				return true
			}
		}
		return false
	}
	var out []string
	for _, key := range stack.SortedKeys(req.GetObserved().GetResources()) {
		o := &unstructured.Unstructured{Object: req.GetObserved().GetResources()[key].GetResource().AsMap()}
		if _, kept := desired[key]; !kept && live(key, o) && !removed(key) && !replaced(key) {
			out = append(out, key)
		}
	}
	return out
}

// The only wildcards the function's policies hold, each documented where
// it is built: a log group's streams and a function's versions (":*" after
// an exact ARN), instances tagged as the stack's (with that condition), and
// the six characters Secrets Manager adds to a secret's name.
var (
	arnAccount     = regexp.MustCompile(`^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|aws)?:`)
	qualifiedAll   = regexp.MustCompile(`^arn:aws[a-z-]*:(logs|lambda):[a-z0-9-]+:\d{12}:(log-group|function):[^*?]+:\*$`)
	taggedInstance = regexp.MustCompile(`^arn:aws[a-z-]*:ec2:[a-z0-9-]+:\d{12}:instance/\*$`)
	secretSuffix   = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^*?]+-\?{6}$`)
)

// wildcards are the IAM resources and principals of the desired policies
// that hold a wildcard beyond the documented ones, or an account that is
// not twelve digits.
func wildcards(rsp *fnv1.RunFunctionResponse) []string {
	if fatal(rsp) {
		return nil
	}
	var out []string
	for _, key := range stack.SortedKeys(rsp.GetDesired().GetResources()) {
		o := rsp.GetDesired().GetResources()[key].GetResource().AsMap()
		fp, _, _ := unstructured.NestedMap(o, "spec", "forProvider")
		for _, field := range []string{"document", "assumeRolePolicyDocument", "policyDocument"} {
			doc, _ := fp[field].(string)
			if doc == "" {
				continue
			}
			var p struct {
				Statement []struct {
					Resource  any
					Principal any
					Condition map[string]map[string]any
				}
			}
			if err := json.Unmarshal([]byte(doc), &p); err != nil {
				out = append(out, key+": "+field+" is not a policy: "+err.Error())
				continue
			}
			for _, st := range p.Statement {
				for _, r := range strings1(st.Resource) {
					if bad := badResource(r, st.Condition); bad != "" {
						out = append(out, key+": "+r+": "+bad)
					}
				}
				if pr, ok := st.Principal.(map[string]any); ok {
					for _, a := range strings1(pr["AWS"]) {
						if strings.ContainsAny(a, "*?") || !arnAccount.MatchString(a) {
							out = append(out, key+": principal "+a)
						}
					}
				} else if st.Principal != nil {
					out = append(out, key+": principal "+stringOf(st.Principal))
				}
			}
		}
	}
	return out
}

func badResource(r string, cond map[string]map[string]any) string {
	if !arnAccount.MatchString(r) {
		return "not an ARN of a twelve-digit account"
	}
	if !strings.ContainsAny(r, "*?") {
		return ""
	}
	switch {
	case qualifiedAll.MatchString(r), secretSuffix.MatchString(r):
		return ""
	case taggedInstance.MatchString(r):
		if cond["StringEquals"]["aws:ResourceTag/"+stack.TagStack] == nil {
			return "every instance, without the stack's tag condition"
		}
		return ""
	}
	return "a wildcard beyond the documented ones"
}

// strings1 is an IAM field that is a string or a list of strings.
func strings1(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, stringOf(e))
		}
		return out
	}
	return nil
}

func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// urlSecrets are the credentials URLs in the request's composite carry
// (user and password, each at least six characters and said only once in
// the request, so that finding it in the response means it was copied).
func urlSecrets(req *fnv1.RunFunctionRequest) []string {
	raw, _ := protojson.Marshal(req.GetObserved().GetComposite().GetResource())
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			u, err := url.Parse(strings.TrimSpace(v))
			if err != nil || u.User == nil {
				return
			}
			pw, _ := u.User.Password()
			for _, s := range []string{u.User.Username(), pw} {
				if len(s) >= 6 && strings.Count(string(raw), s) == 1 {
					out = append(out, s)
				}
			}
		}
	}
	walk(req.GetObserved().GetComposite().GetResource().AsMap())
	return out
}

// leaked are the URL credentials of the request found anywhere in the
// response: desired resources, results, conditions, status.
func leaked(req *fnv1.RunFunctionRequest, rsp *fnv1.RunFunctionResponse) []string {
	raw, _ := protojson.Marshal(rsp)
	var out []string
	for _, s := range urlSecrets(req) {
		if strings.Contains(string(raw), s) || strings.Contains(string(raw), url.QueryEscape(s)) {
			out = append(out, s)
		}
	}
	return out
}

// checkInvariants fails the test on any invariant a response breaks.
func checkInvariants(t *testing.T, req *fnv1.RunFunctionRequest, rsp *fnv1.RunFunctionResponse, removed func(key string) bool) {
	t.Helper()
	if d := dropped(req, rsp, removed); len(d) > 0 {
		t.Errorf("live observed resources withdrawn that the claim still asks for: %v", d)
	}
	if w := wildcards(rsp); len(w) > 0 {
		t.Errorf("IAM wildcards beyond the documented ones: %v", w)
	}
	if l := leaked(req, rsp); len(l) > 0 {
		t.Errorf("URL credentials in the response: %q", l)
	}
}

// TestInvariantsCatch: each invariant the fuzz targets check fails on what
// it is for and passes on the settled stack itself.
func TestInvariantsCatch(t *testing.T) {
	settled := fuzzBaseline(t)
	req := fuzzRequest(t, fuzzBaselineSpec)
	req.Observed.Resources = settled
	rsp, err := (&Function{Log: logging.NewNopLogger()}).compose(context.Background(), req)
	if err != nil || fatal(rsp) {
		t.Fatalf("the settled stack: %v %v", err, rsp.GetResults())
	}
	none := func(string) bool { return false }
	if d, w, l := dropped(req, rsp, none), wildcards(rsp), leaked(req, rsp); len(d)+len(w)+len(l) > 0 {
		t.Fatalf("the settled stack breaks an invariant: %v %v %v", d, w, l)
	}

	t.Run("a withdrawn live resource", func(t *testing.T) {
		cut := proto.Clone(rsp).(*fnv1.RunFunctionResponse)
		delete(cut.Desired.Resources, selfhosted.KeyDataVolume)
		if d := dropped(req, cut, none); len(d) != 1 || d[0] != selfhosted.KeyDataVolume {
			t.Errorf("dropped = %v, want the data volume", d)
		}
		if d := dropped(req, cut, func(k string) bool { return k == selfhosted.KeyDataVolume }); len(d) != 0 {
			t.Errorf("a resource the claim removed is reported: %v", d)
		}
	})

	policy := func(resource, cond string) *fnv1.RunFunctionResponse {
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["x:Y"],"Resource":["` + resource + `"]` + cond + `}]}`
		r, _ := structpb.NewStruct(map[string]any{"apiVersion": "iam.aws.crossplane.io/v1beta1", "kind": "RolePolicy", "spec": map[string]any{"forProvider": map[string]any{"document": doc}}})
		return &fnv1.RunFunctionResponse{Desired: &fnv1.State{Resources: map[string]*fnv1.Resource{"p": {Resource: r}}}}
	}
	tagged := `,"Condition":{"StringEquals":{"aws:ResourceTag/` + stack.TagStack + `":"s"}}`
	for resource, bad := range map[string]bool{
		"arn:aws:lambda:eu-central-1:123456789012:function:s-fn-a":                false,
		"arn:aws:lambda:eu-central-1:123456789012:function:s-fn-a:*":              false,
		"arn:aws:lambda:eu-central-1:123456789012:function:*":                     true,
		"arn:aws:lambda:eu-central-1:123456789012:function:s-*":                   true,
		"arn:aws:lambda:eu-central-1:*:function:s-fn-a":                           true,
		"arn:aws:lambda:eu-central-1:12345678901:function:s-fn-a":                 true,
		"arn:aws:logs:eu-central-1:123456789012:log-group:/restate/s:*":           false,
		"arn:aws:secretsmanager:eu-central-1:123456789012:secret:s-orders-??????": false,
		"arn:aws:secretsmanager:eu-central-1:123456789012:secret:s-*":             true,
		"arn:aws:ec2:eu-central-1:123456789012:volume/*":                          true,
		"*": true,
	} {
		if got := len(wildcards(policy(resource, ""))) > 0; got != bad {
			t.Errorf("%s: reported %v, want %v", resource, got, bad)
		}
	}
	instances := "arn:aws:ec2:eu-central-1:123456789012:instance/*"
	if len(wildcards(policy(instances, ""))) == 0 || len(wildcards(policy(instances, tagged))) != 0 {
		t.Error("every instance must be refused without the stack's tag condition, and allowed with it")
	}

	t.Run("URL credentials in the response", func(t *testing.T) {
		req := fuzzRequest(t, `{"environment":{"external":{"adminUrl":"https://operator:adm1nSecret@restate.example.com:9070"}}}`)
		clean := &fnv1.RunFunctionResponse{}
		response.Fatal(clean, errors.New("spec.environment.external.adminUrl: https://<redacted>@restate.example.com:9070"))
		if l := leaked(req, clean); len(l) != 0 {
			t.Errorf("a redacted message is reported: %v", l)
		}
		dirty := &fnv1.RunFunctionResponse{}
		response.Fatal(dirty, errors.New("cannot reach https://operator:adm1nSecret@restate.example.com:9070"))
		if l := leaked(req, dirty); len(l) != 2 {
			t.Errorf("leaked = %q, want the user and the password", l)
		}
	})
}
