package fn

import (
	"context"
	"strings"
	"testing"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

func TestReadinessAndURLs(t *testing.T) {
	for name, tc := range map[string]struct {
		sh                  func(*v1alpha1.SelfHostedSpec)
		wantAdmin, wantIngr string
	}{
		"private host, plain": {
			sh:        func(*v1alpha1.SelfHostedSpec) {},
			wantAdmin: "http://ip-10-0-1-5.eu-central-1.compute.internal:9070", wantIngr: "http://ip-10-0-1-5.eu-central-1.compute.internal:8080",
		},
		"public host with TLS": {
			sh: func(s *v1alpha1.SelfHostedSpec) {
				s.Network.SubnetType = v1alpha1.SubnetPublic
				s.TLS.Termination = v1alpha1.TLSSelfSigned
			},
			wantAdmin: "https://ec2-198-51-100-5.eu-central-1.compute.amazonaws.com:9073", wantIngr: "https://ec2-198-51-100-5.eu-central-1.compute.amazonaws.com",
		},
	} {
		t.Run(name, func(t *testing.T) {
			xr := newXR(func(xr *v1alpha1.XRestateStack) { tc.sh(xr.Spec.Environment.SelfHosted) })
			first, settled := settle(t, xr, newPolicy(), nil)
			instKey, _ := instanceOf(t, first)

			// Nothing observed: nothing ready, no URLs.
			rsp := run(t, newRequest(t, xr, newPolicy()))
			for k, r := range rsp.GetDesired().GetResources() {
				if r.GetReady() != fnv1.Ready_READY_FALSE {
					t.Errorf("%s: ready before it was observed", k)
				}
			}
			st := statusOf(rsp)
			want(t, str(st, "status", "adminUrl"), "")
			wantCondition(t, rsp, ConditionEnvironmentReady, fnv1.Status_STATUS_CONDITION_FALSE)

			// Everything observed ready, the instance with its DNS names.
			var observed []*unstructured.Unstructured
			for k, u := range first {
				at := map[string]any{}
				if k == instKey {
					at = map[string]any{"instanceId": "i-0abc", "privateDnsName": "ip-10-0-1-5.eu-central-1.compute.internal",
						"publicDnsName": "ec2-198-51-100-5.eu-central-1.compute.amazonaws.com"}
				}
				if k == stack.KeyInvokerRole {
					at = map[string]any{"arn": "arn:aws:iam::123456789012:role/demo-x7k2p-invoker-role"}
				}
				if k == selfhosted.KeyDataVolume {
					at = atProviderOf(settled, selfhosted.KeyDataVolume)
				}
				observed = append(observed, observedReady(k, u.GetAPIVersion(), u.GetKind(), at))
			}
			rsp = run(t, newRequest(t, xr, newPolicy(), observed...))
			for k, r := range rsp.GetDesired().GetResources() {
				if r.GetReady() != fnv1.Ready_READY_TRUE {
					t.Errorf("%s: not ready though observed ready", k)
				}
			}
			st = statusOf(rsp)
			want(t, str(st, "status", "adminUrl"), tc.wantAdmin)
			want(t, str(st, "status", "ingressUrl"), tc.wantIngr)
			want(t, str(st, "status", "invokerRoleArn"), "arn:aws:iam::123456789012:role/demo-x7k2p-invoker-role")
			want(t, str(st, "status", "selfHosted", "instanceId"), "i-0abc")
			wantCondition(t, rsp, ConditionEnvironmentReady, fnv1.Status_STATUS_CONDITION_TRUE)
		})
	}
}

// TestAccountFromObservedARN: without the account id in the input, the
// policies that name exact ARNs wait until the instance role's ARN is
// observed, and then use its account.
func TestAccountFromObservedARN(t *testing.T) {
	noAccount := newPolicy(func(p *platform.StackPolicy) { p.AccountID = "" })
	d := compose(t, newXR(), noAccount)
	for _, k := range []string{stack.KeyInvokerRole, selfhosted.KeyInstanceRolePolicy} {
		if _, ok := d[k]; ok {
			t.Errorf("%s composed before the account is known", k)
		}
	}
	role := observedReady(selfhosted.KeyInstanceRole, "iam.aws.crossplane.io/v1beta1", "Role",
		map[string]any{"arn": "arn:aws:iam::444455556666:role/demo-x7k2p-instance-role"})
	d = compose(t, newXR(), noAccount, role, observedVolume("vol-0123456789abcdef0"))
	wantContains(t, str(d[stack.KeyInvokerRole], "spec", "forProvider", "assumeRolePolicyDocument"), "arn:aws:iam::444455556666:role/demo-x7k2p-instance-role")
	wantContains(t, policyDoc(t, d[selfhosted.KeyInstanceRolePolicy]), "arn:aws:iam::444455556666:role/demo-x7k2p-invoker-role")
}

// TestInstanceReplacedOnLaunchChanges: what EC2 cannot change in place
// gives the instance a new composition resource name (so Crossplane
// replaces it); what it can, such as tags, does not, and neither does the
// data volume, a resource of its own.
func TestInstanceReplacedOnLaunchChanges(t *testing.T) {
	key := func(m ...func(*v1alpha1.XRestateStack)) string {
		k, _ := instanceOf(t, composeHost(t, newXR(m...), newPolicy()))
		return k
	}
	base := key()
	want(t, key(), base)
	want(t, key(func(xr *v1alpha1.XRestateStack) { xr.Spec.Tags = map[string]string{"team": "a"} }), base)
	want(t, key(func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment.SelfHosted.DataVolume.SizeGiB = 20 }), base)
	for name, m := range map[string]func(*v1alpha1.XRestateStack){
		"restate version": func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment.SelfHosted.Restate.Tag = "1.7.3" },
		"config":          func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment.SelfHosted.Config.BootstrapNumPartitions = 8 },
		"instance type":   func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment.SelfHosted.InstanceType = "t4g.small" },
	} {
		if key(m) == base {
			t.Errorf("changing the %s keeps the instance", name)
		}
	}
}

func statusOf(rsp *fnv1.RunFunctionResponse) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: rsp.GetDesired().GetComposite().GetResource().AsMap()}
}

func wantCondition(t *testing.T, rsp *fnv1.RunFunctionResponse, typ string, status fnv1.Status) {
	t.Helper()
	for _, c := range rsp.GetConditions() {
		if c.GetType() == typ {
			if c.GetStatus() != status {
				t.Errorf("condition %s is %v (%s), want %v", typ, c.GetStatus(), c.GetMessage(), status)
			}
			return
		}
	}
	t.Errorf("no condition %s", typ)
}

// TestTTL: short while anything is pending, long once settled.
func TestTTL(t *testing.T) {
	xr := newXR(externalEnv(), withServices(httpService("orders", "http://orders:9080")), inNamespace("team-a"))
	rsp := run(t, newRequest(t, xr, newPolicy()))
	want(t, rsp.GetMeta().GetTtl().AsDuration(), pendingTTL)
	_, obs := settle(t, xr, newPolicy(), nil)
	rsp = run(t, newRequest(t, xr, newPolicy(), obs...))
	want(t, rsp.GetMeta().GetTtl().AsDuration(), settledTTL)
}

// TestResponseTooLarge: a stack whose response exceeds what Crossplane
// accepts is refused naming the limit, and keeps what exists.
func TestResponseTooLarge(t *testing.T) {
	f := &Function{Log: logging.NewNopLogger(), MaxResponseBytes: 8 << 10}
	req := newRequest(t, newXR(withServices(s3Service("a"), s3Service("b"), s3Service("c"))), newPolicy())
	rsp, err := f.RunFunction(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var fatal string
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			fatal = r.GetMessage()
		}
	}
	wantContains(t, fatal, "over the 0.01 MiB Crossplane accepts from a function; split it into smaller stacks")
	if len(rsp.GetDesired().GetResources()) != 0 {
		t.Error("a refused response carries resources")
	}
}

// TestObservedAccountsMustAgree: an observed ARN of another account, or
// with no twelve digits in its account field ("*" would be a wildcard in
// every policy built from it), refuses the stack, naming the resource, and
// keeps what exists.
func TestObservedAccountsMustAgree(t *testing.T) {
	xr := newXR(withServices(s3Service("greeter")), inNamespace("team-a"))
	_, obs := settle(t, xr, newPolicy(), nil)
	for name, arn := range map[string]string{
		"another account": "arn:aws:iam::999988887777:role/demo-x7k2p-instance-role",
		"a wildcard":      "arn:aws:iam::************:role/demo-x7k2p-instance-role",
	} {
		broken := make([]*unstructured.Unstructured, 0, len(obs))
		for _, o := range obs {
			o = o.DeepCopy()
			if o.GetAnnotations()["crossplane.io/composition-resource-name"] == "instance-role" {
				_ = unstructured.SetNestedField(o.Object, arn, "status", "atProvider", "arn")
			}
			broken = append(broken, o)
		}
		req := newRequest(t, xr, newPolicy(), broken...)
		rsp := run(t, req)
		c := conditionOf(rsp, ConditionValid)
		if c.GetStatus() != fnv1.Status_STATUS_CONDITION_FALSE || !strings.Contains(c.GetMessage(), "instance-role (status.atProvider.arn "+arn+")") {
			t.Errorf("%s: Valid = %v", name, c)
		}
		if len(rsp.GetDesired().GetResources()) != len(req.GetDesired().GetResources()) {
			t.Errorf("%s: the desired state changed", name)
		}
	}
}
