package fn

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// Fuzz targets call compose, not RunFunction: RunFunction recovers a panic
// into a fatal result, which would hide it from the fuzzer. `go test` runs
// their seeds; `go test -fuzz` explores.

// FuzzResourceName: names stay within bounds, never start or end with a dash,
// and stay distinct when their suffixes differ.
func FuzzResourceName(f *testing.F) {
	for _, seed := range [][2]string{{"demo-x7k2p", "vpc"}, {strings.Repeat("a", 80), "instance-role-policy"}, {"s", strings.Repeat("x", 300)}, {"", ""}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, stackName, suffix string) {
		n := stack.ResourceName(stackName, suffix)
		if len(stackName)+1+len(suffix) > stack.MaxNameLength && len(n) > stack.MaxNameLength {
			t.Errorf("ResourceName(%q, %q) = %q, over %d", stackName, suffix, n, stack.MaxNameLength)
		}
	})
}

// FuzzComposeSpec: any claim spec (JSON), applied over a settled stack,
// is composed or refused, never a panic, and the response holds every
// invariant (invariants_test.go): no live resource the claim still asks for
// is withdrawn (the claim asks for what it composes from nothing), no IAM
// wildcard beyond the documented ones, no URL credential in any output.
func FuzzComposeSpec(f *testing.F) {
	for _, seed := range []string{
		`{"environment":{"selfHosted":{}}}`,
		fuzzBaselineSpec,
		`{"environment":{"cloud":{"environmentId":"env_201hd7bh2yrxzmy6h1eqdfhx7g","apiKeySecretRef":{"name":"k"}}},"services":[{"name":"greeter","lambda":{"runtime":"nodejs22.x","handler":"index.handler","code":{"s3":{"bucket":"team-a-artifacts","key":"g.zip"}}}}]}`,
		`{"environment":{"external":{"adminUrl":"https://restate.example.com:9070"}},"services":[{"name":"orders","http":{"uri":"http://orders:9080"}}]}`,
		`{"environment":{"external":{"adminUrl":"https://operator:adm1nSecret@restate.example.com:9070"}},"services":[{"name":"orders","http":{"uri":"http://svc:s3rv1ceSecret@orders:9080"}}]}`,
		`{"environment":{"selfHosted":{"instanceType":"m7g.large","network":{"subnetType":"Public"},"tls":{"termination":"SelfSigned"},"tracing":{"mode":"AWSXRay"}}}}`,
	} {
		f.Add(seed)
	}
	fn := &Function{Log: logging.NewNopLogger()}
	settled := fuzzBaseline(f)
	f.Fuzz(func(t *testing.T, spec string) {
		var m map[string]any
		if json.Unmarshal([]byte(spec), &m) != nil {
			return
		}
		if _, err := structpb.NewStruct(m); err != nil {
			return
		}
		fresh, err := fn.compose(context.Background(), fuzzRequest(t, spec))
		if err != nil {
			t.Fatal(err)
		}
		req := fuzzRequest(t, spec)
		req.Observed.Resources = settled
		rsp, err := fn.compose(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, req, rsp, func(key string) bool { return fresh.GetDesired().GetResources()[key] == nil })
		checkInvariants(t, fuzzRequest(t, spec), fresh, func(string) bool { return true })
	})
}

// FuzzObservedState: whatever provider-aws (or anything that can write a
// composed resource's status) reports, the function composes or refuses,
// never a panic, and holds every invariant: the claim is the same, so no
// live resource it composes may be withdrawn. The fuzzer writes one
// observed resource's JSON, under a key chosen among the stack's, over a
// settled stack's observed state.
func FuzzObservedState(f *testing.F) {
	keys := []string{selfhosted.KeyDataVolume, selfhosted.KeyInstanceRole, stack.KeyInvokerRole, selfhosted.KeyInstanceProfile, selfhosted.KeyIngressGroup, selfhosted.KeyVPC,
		selfhosted.KeyInstancePrefix + "00000000", serviceKey("greeter", ""), keyRegisterPrefix + "greeter-00000000", reportKey(keyRegisterPrefix + "greeter-00000000")}
	for i, seed := range []string{
		`{"apiVersion":"ec2.aws.crossplane.io/v1alpha1","kind":"Volume","status":{"atProvider":{"volumeID":"vol-0123456789abcdef0"},"conditions":[{"type":"Ready","status":"True"}]}}`,
		`{"apiVersion":"iam.aws.crossplane.io/v1beta1","kind":"Role","status":{"atProvider":{"arn":"arn:aws:iam::111122223333:role/x"}}}`,
		`{"apiVersion":"ec2.aws.crossplane.io/v1alpha1","kind":"Instance","status":{"atProvider":{"privateDnsName":"ip-10-0-1-5.eu-central-1.compute.internal"}}}`,
		`{"apiVersion":"lambda.aws.crossplane.io/v1beta1","kind":"Function","status":{"atProvider":{"functionARN":"arn:aws:lambda:eu-central-1:123456789012:function:f","version":"7"}}}`,
		`{"apiVersion":"iam.aws.crossplane.io/v1beta1","kind":"Role","metadata":{"annotations":{"crossplane.io/external-name":"x"}}}`,
		`{"apiVersion":"ec2.aws.crossplane.io/v1beta1","kind":"VPC","status":{}}`,
		`{"apiVersion":"batch/v1","kind":"Job","metadata":{"annotations":{"restate-crossplane.io/registration":"{\"service\":\"greeter\",\"removalPolicy\":\"Destroy\"}"}},"status":{"conditions":[{"type":"Failed","status":"True"}]}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","data":{"endpoint":"x","deploymentId":"dp_1"}}`,
		`{"kind":7,"status":[]}`,
	} {
		f.Add(uint8(i), seed)
	}
	fn := &Function{Log: logging.NewNopLogger()}
	settled := fuzzBaseline(f)
	f.Fuzz(func(t *testing.T, which uint8, observed string) {
		var m map[string]any
		if json.Unmarshal([]byte(observed), &m) != nil {
			return
		}
		o, err := structpb.NewStruct(m)
		if err != nil {
			return
		}
		req := fuzzRequest(t, fuzzBaselineSpec)
		req.Observed.Resources = maps.Clone(settled)
		key := keys[int(which)%len(keys)]
		req.Observed.Resources[key] = &fnv1.Resource{Resource: o}
		rsp, err := fn.compose(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		// The claim is unchanged: only what the settled stack itself
		// no longer composes (an earlier instance, a finished Job) may go.
		checkInvariants(t, req, rsp, func(k string) bool { return settled[k] == nil && k != key })
	})
}

// FuzzUserData: any server settings a claim can reach render user data
// that stays within EC2's limit, or are refused; never a panic.
func FuzzUserData(f *testing.F) {
	f.Add("payments", "RUST_LOG", "debug", "", "")
	f.Add("a", "X", strings.Repeat("v", 20000), "", "")
	f.Add("c", "Y", "$(reboot)`x`\"'", "cluster-name = 'x'\n", "events {}\n")
	f.Fuzz(func(t *testing.T, cluster, envKey, envValue, override, nginx string) {
		xr := newXR(func(xr *v1alpha1.XRestateStack) {
			sh := xr.Spec.Environment.SelfHosted
			sh.Config.ClusterName, sh.Config.Environment, sh.Config.Override = cluster, map[string]string{envKey: envValue}, override
			if nginx != "" {
				sh.TLS = v1alpha1.TLSSpec{Termination: v1alpha1.TLSSelfSigned, NginxConfigOverride: nginx}
			}
		})
		s, env, errs := resolve(xr, newPolicy(), nil)
		if len(errs) > 0 {
			return
		}
		sh := env.(*selfhosted.Env).Server
		sh.VolumeID = "vol-0123456789abcdef0"
		ud, err := selfhosted.RenderUserData(s.Region, sh)
		var tooLarge selfhosted.ErrUserDataTooLarge
		switch {
		case errors.As(err, &tooLarge):
		case err != nil:
			t.Fatalf("user data failed without a field error: %v", err)
		case len(ud) > selfhosted.MaxUserData:
			t.Fatalf("user data of %d bytes, over EC2's %d", len(ud), selfhosted.MaxUserData)
		}
	})
}

// fuzzBaselineSpec is the stack the fuzz targets settle first: the
// default self-hosted environment with one Lambda service.
const fuzzBaselineSpec = `{"environment":{"selfHosted":{}},"services":[{"name":"greeter","lambda":{"runtime":"nodejs22.x","handler":"index.handler","code":{"s3":{"bucket":"team-a-artifacts","key":"g.zip"}}}}]}`

// fuzzBaseline is the baseline stack's observed state once it has settled
// (every resource ready, as the provider stand-in reports them).
func fuzzBaseline(tb testing.TB) map[string]*fnv1.Resource {
	tb.Helper()
	raw, err := protojson.Marshal(fuzzRequest(tb, fuzzBaselineSpec).GetObserved().GetComposite().GetResource())
	if err != nil {
		tb.Fatal(err)
	}
	xr := &v1alpha1.XRestateStack{}
	if err := json.Unmarshal(raw, xr); err != nil {
		tb.Fatal(err)
	}
	_, observed := settle(tb, xr, fuzzPolicy(), nil)
	out := map[string]*fnv1.Resource{}
	for _, o := range observed {
		out[o.GetAnnotations()["crossplane.io/composition-resource-name"]] = &fnv1.Resource{Resource: mustStruct(tb, o)}
	}
	return out
}

// fuzzPolicy is the platform's policy in the fuzz targets: every instance
// type and admin host, registration as the platform gets it by default.
func fuzzPolicy() *platform.StackPolicy {
	return newPolicy(func(p *platform.StackPolicy) {
		p.AllowedInstanceTypes = []string{"*"}
		p.Registration.Mode = platform.RegistrationAuto
	})
}

// fuzzRequest is a request for a claim spec, as the other targets build it.
func fuzzRequest(t testing.TB, spec string) *fnv1.RunFunctionRequest {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(spec), &m); err != nil {
		t.Fatal(err)
	}
	s, err := structpb.NewStruct(map[string]any{"apiVersion": "stack.restate-crossplane.io/v1alpha1", "kind": "XRestateStack",
		"metadata": map[string]any{"name": "fuzz-x7k2p", "labels": map[string]any{stack.LabelClaimNamespace: "team-a"}}, "spec": m})
	if err != nil {
		t.Fatal(err)
	}
	return &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: s}}, Desired: &fnv1.State{}, Input: mustStruct(t, fuzzPolicy())}
}
