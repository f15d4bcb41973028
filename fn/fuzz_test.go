package fn

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// Fuzz targets call compose, not RunFunction: RunFunction recovers a panic
// into a fatal result, which would hide it from the fuzzer. `go test` runs
// their seeds; `go test -fuzz` explores.

// FuzzAWSName: names stay within bounds, never start or end with a dash,
// and stay distinct when their suffixes differ.
func FuzzAWSName(f *testing.F) {
	for _, seed := range [][2]string{{"demo-x7k2p", "vpc"}, {strings.Repeat("a", 80), "instance-role-policy"}, {"s", strings.Repeat("x", 300)}, {"", ""}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, stack, suffix string) {
		n := awsName(stack, suffix)
		if len(stack)+1+len(suffix) > maxNameLength && len(n) > maxNameLength {
			t.Errorf("awsName(%q, %q) = %q, over %d", stack, suffix, n, maxNameLength)
		}
	})
}

// FuzzComposeSpec: any claim spec (JSON) is composed or refused, never a
// panic.
func FuzzComposeSpec(f *testing.F) {
	for _, seed := range []string{
		`{"environment":{"selfHosted":{}}}`,
		`{"environment":{"cloud":{"environmentId":"env_201hd7bh2yrxzmy6h1eqdfhx7g","apiKeySecretRef":{"name":"k"}}},"services":[{"name":"greeter","lambda":{"runtime":"nodejs22.x","handler":"index.handler","code":{"s3":{"bucket":"team-a-artifacts","key":"g.zip"}}}}]}`,
		`{"environment":{"external":{"adminUrl":"https://restate.example.com:9070"}},"services":[{"name":"orders","http":{"uri":"http://orders:9080"}}]}`,
		`{"environment":{"selfHosted":{"instanceType":"m7g.large","network":{"subnetType":"Public"},"tls":{"termination":"SelfSigned"},"tracing":{"mode":"AWSXRay"}}}}`,
	} {
		f.Add(seed)
	}
	fn := &Function{Log: logging.NewNopLogger()}
	f.Fuzz(func(t *testing.T, spec string) {
		var m map[string]any
		if json.Unmarshal([]byte(spec), &m) != nil {
			return
		}
		xr := map[string]any{"apiVersion": "stack.restate-crossplane.io/v1alpha1", "kind": "XRestateStack",
			"metadata": map[string]any{"name": "fuzz-x7k2p", "labels": map[string]any{labelClaimNamespace: "team-a"}}, "spec": m}
		s, err := structpb.NewStruct(xr)
		if err != nil {
			return
		}
		in, _ := structpb.NewStruct(map[string]any{"apiVersion": "input.restate-crossplane.io/v1alpha1", "kind": "StackPolicy",
			"defaultRegion": "eu-central-1", "accountId": "111122223333", "allowedInstanceTypes": []any{"*"}})
		req := &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: s}}, Desired: &fnv1.State{}, Input: in}
		if _, err := fn.compose(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	})
}
