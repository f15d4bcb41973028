package fn

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

func withMode(m platform.RegistrationMode) func(*platform.StackPolicy) {
	return func(p *platform.StackPolicy) { p.Registration.Mode = m }
}

// ordersOf reads the orders the function composed.
func ordersOf(t *testing.T, d map[string]*unstructured.Unstructured) agentcontract.Orders {
	t.Helper()
	src := d[stack.KeyAgentOrdersSource]
	if src == nil {
		t.Fatalf("no orders composed; keys %v", stack.SortedKeys(d))
	}
	b, err := base64.StdEncoding.DecodeString(str(src, "data", agentcontract.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	o, err := agentcontract.ParseOrders(b)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func orderOf(t *testing.T, l []agentcontract.Order, svc string) regcontract.Args {
	t.Helper()
	for _, o := range l {
		if o.Service == svc {
			a, err := o.Args()
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
	}
	t.Fatalf("no order for %s in %+v", svc, l)
	return regcontract.Args{}
}

// TestAgentByDefault: under Auto, a self-hosted stack with no declared path
// is registered by its host agent: no Job, an order per service aimed at
// the host's own admin API, Lambda services as published versions, and the
// host's user data and policy set up for the agent. With a declared path,
// or in Job mode, Jobs as before.
func TestAgentByDefault(t *testing.T) {
	destroy := s3Service("payments")
	destroy.Registration.RemovalPolicy = v1alpha1.RemovalDestroy
	xr := newXR(withServices(s3Service("greeter"), destroy, httpService("orders", "http://orders:9080")), inNamespace("team-a"))
	d, _ := settle(t, xr, newPolicy(withMode(platform.RegistrationAuto)), nil)
	if jobs := keysWithPrefix(d, keyRegisterPrefix); len(jobs) > 0 {
		t.Errorf("Jobs %v, though the host agent registers", jobs)
	}
	o := ordersOf(t, d)
	if len(o.Register) != 3 || len(o.Deregister) != 0 {
		t.Fatalf("orders %+v, want three registrations", o)
	}
	g := orderOf(t, o.Register, "greeter")
	if g.AdminURL != agentAdminURL || !g.AllowLoopback || g.Versioning != regcontract.VersioningPublished || g.CodeSHA256 == "" ||
		!strings.HasSuffix(g.LambdaARN, ":function:demo-x7k2p-fn-greeter") || g.AssumeRoleARN == "" {
		t.Errorf("greeter's order: %+v", g)
	}
	if h := orderOf(t, o.Register, "orders"); h.URI != "http://orders:9080" {
		t.Errorf("orders' order: %+v", h)
	}
	for _, r := range o.Register {
		if (r.Service == "payments") != (len(r.Undo) > 0) {
			t.Errorf("%s: undo %q; only the Destroy service has one", r.Service, r.Undo)
		}
	}
	sec := d[stack.KeyAgentOrders]
	if sec == nil || str(sec, "spec", "forProvider", "stringSecretRef", "name") != str(d[stack.KeyAgentOrdersSource], "metadata", "name") ||
		str(sec, "metadata", "name") != "demo-x7k2p-agent-orders" {
		t.Fatalf("orders secret %v", sec)
	}
	if force, _, _ := unstructured.NestedBool(sec.Object, "spec", "forProvider", "forceDeleteWithoutRecovery"); !force {
		t.Error("the orders secret is not force-deleted: its name would block re-creating the stack")
	}
	host := hostOf(t, d)
	if fileOnHost(t, host, "orders-secret") != "demo-x7k2p-agent-orders" || fileOnHost(t, host, "agent-image") == "" {
		t.Error("the host is not told its orders secret and the agent's image")
	}
	policy := documentOf(d[selfhosted.KeyInstanceRolePolicy])
	for _, w := range []string{"secret:demo-x7k2p-agent-orders-??????", "lambda:PublishVersion", "function:demo-x7k2p-fn-greeter:*", `"aws:TagKeys":"restate-agent/*"`, `"Null"`} {
		if !strings.Contains(policy, w) {
			t.Errorf("the host's policy lacks %s: %s", w, policy)
		}
	}

	for name, p := range map[string]*platform.StackPolicy{
		"Job mode": newPolicy(withMode(platform.RegistrationJob), func(p *platform.StackPolicy) {
			p.Registration.AdminAccess.CIDRBlocks = []string{"10.20.0.0/16"}
		}),
		"a declared path": newPolicy(withMode(platform.RegistrationAuto), func(p *platform.StackPolicy) {
			p.Registration.AdminAccess.CIDRBlocks = []string{"10.20.0.0/16"}
		}),
	} {
		d, _ := settle(t, xr, p, nil)
		if d[stack.KeyAgentOrders] != nil || len(jobKeys(d)) != 3 {
			t.Errorf("%s: want three Jobs and no orders, got %v", name, stack.SortedKeys(d))
		}
		if policy := documentOf(d[selfhosted.KeyInstanceRolePolicy]); strings.Contains(policy, "secretsmanager") {
			t.Errorf("%s: the host may read orders it has none of: %s", name, policy)
		}
	}

	d, _ = settle(t, newXR(cloudEnv(), withServices(s3Service("greeter")), inNamespace("team-a")), newPolicy(withMode(platform.RegistrationHostAgent)), nil)
	if d[stack.KeyAgentOrders] != nil || len(jobKeys(d)) != 1 {
		t.Errorf("Restate Cloud under HostAgent: want a Job, got %v", stack.SortedKeys(d))
	}
}

// TestAgentDeregistration: a Destroy service that leaves is deregistered
// by the agent, its resources kept until the agent reports it gone; then
// the order and the resources go.
func TestAgentDeregistration(t *testing.T) {
	destroy := s3Service("payments")
	destroy.Registration.RemovalPolicy = v1alpha1.RemovalDestroy
	p := newPolicy(withMode(platform.RegistrationAuto))
	_, obs := settle(t, newXR(withServices(s3Service("greeter"), destroy), inNamespace("team-a")), p, nil)

	gone := newXR(withServices(s3Service("greeter")), inNamespace("team-a"))
	d := desiredOf(run(t, newRequest(t, gone, p, obs...)))
	o := ordersOf(t, d)
	if a := orderOf(t, o.Deregister, "payments"); !a.Deregister || !strings.HasSuffix(a.LambdaARN, ":function:demo-x7k2p-fn-payments") {
		t.Errorf("payments' deregistration: %+v", a)
	}
	for _, k := range []string{"fn-payments", "fn-payments.role"} {
		if d[k] == nil {
			t.Errorf("%s dropped before the agent deregistered payments", k)
		}
	}
	// The agent reports it (the stand-in plays the agent on the volume).
	obs = observe(t, d, nil)
	d = desiredOf(run(t, newRequest(t, gone, p, obs...)))
	if o := ordersOf(t, d); len(o.Deregister) != 0 {
		t.Errorf("deregistration still ordered after the agent reported it: %+v", o.Deregister)
	}
	for k := range d {
		if strings.Contains(k, "payments") {
			t.Errorf("%s still composed after deregistration", k)
		}
	}
}

// TestSwitchingModes: a live stack moved from Jobs to the agent and back
// registers nothing twice and drops nothing: the agent takes over the
// pending deregistration of a service Jobs registered, and Jobs take over
// one the agent registered.
func TestSwitchingModes(t *testing.T) {
	destroy := httpService("payments", "http://payments:9080")
	destroy.Registration.RemovalPolicy = v1alpha1.RemovalDestroy
	both := newXR(withServices(httpService("orders", "http://orders:9080"), destroy), inNamespace("team-a"))
	left := newXR(withServices(httpService("orders", "http://orders:9080")), inNamespace("team-a"))
	jobs := newPolicy(withMode(platform.RegistrationJob), func(p *platform.StackPolicy) { p.Registration.AdminAccess.CIDRBlocks = []string{"10.20.0.0/16"} })
	agent := newPolicy(withMode(platform.RegistrationHostAgent))

	// Jobs registered both; payments leaves as the stack moves to the agent.
	_, obs := settle(t, both, jobs, nil)
	d := desiredOf(run(t, newRequest(t, left, agent, obs...)))
	o := ordersOf(t, d)
	if len(keysWithPrefix(d, keyRegisterPrefix)) > 0 || len(keysWithPrefix(d, keyDeregisterPrefix)) > 0 {
		t.Errorf("Jobs composed under the agent: %v", stack.SortedKeys(d))
	}
	if a := orderOf(t, o.Deregister, "payments"); a.URI != "http://payments:9080" || !a.Deregister {
		t.Errorf("the agent did not take over payments' deregistration: %+v", o.Deregister)
	}
	if a := orderOf(t, o.Register, "orders"); a.URI != "http://orders:9080" || a.Force != orderOf(t, o.Register, "orders").Force {
		t.Errorf("orders: %+v", a)
	}

	// The agent registered both; payments leaves as the stack moves to Jobs.
	// The host is replaced (its user data no longer starts the agent), so
	// the admin URL is unknown for a while: the orders stay, holding what
	// to deregister, until a Job takes it over.
	_, obs = settle(t, both, agent, nil)
	for round := 0; ; round++ {
		d = desiredOf(run(t, newRequest(t, left, jobs, obs...)))
		if deregs := keysWithPrefix(d, keyDeregisterPrefix+"payments-"); len(deregs) > 0 {
			if args := argsOf(t, jobOf(t, d[deregs[0]])); !slices.Contains(args, "--uri=http://payments:9080") || !slices.Contains(args, "--deregister") {
				t.Errorf("deregistration Job args %v", args)
			}
			break
		}
		if d[stack.KeyAgentOrdersSource] == nil {
			t.Fatalf("round %d: the orders went before a Job took over payments' deregistration: %v", round, stack.SortedKeys(d))
		}
		if round == 8 {
			t.Fatal("no deregistration Job for payments")
		}
		obs = observe(t, d, nil)
	}
}

// jobKeys are the keys of registration Jobs (not their reports).
func jobKeys(d map[string]*unstructured.Unstructured) []string {
	var keys []string
	for _, k := range keysWithPrefix(d, keyRegisterPrefix) {
		if reg, _ := jobKind(k); reg {
			keys = append(keys, k)
		}
	}
	return keys
}

// documentOf is a RolePolicy's document as JSON.
func documentOf(u *unstructured.Unstructured) string {
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "forProvider", "document")
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAgentStatus: what the claim says while the agent works, when
// Restate refuses, when the agent has never reported and when it goes
// silent.
func TestAgentStatus(t *testing.T) {
	p := newPolicy(withMode(platform.RegistrationAuto))
	xr := newXR(withServices(httpService("orders", "http://orders:9080")), inNamespace("team-a"))
	d, obs := settle(t, xr, p, nil)
	rev := ordersOf(t, d).Register[0].Revision
	withTags := func(tags map[string]string) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, o := range obs {
			o = o.DeepCopy()
			if o.GetAnnotations()["crossplane.io/composition-resource-name"] == selfhosted.KeyDataVolume {
				var list []any
				for k, v := range tags {
					list = append(list, map[string]any{"key": k, "value": v})
				}
				_ = unstructured.SetNestedSlice(o.Object, list, "status", "atProvider", "tags")
			}
			out = append(out, o)
		}
		return out
	}
	now := agentcontract.HeartbeatValue(time.Now())
	for name, tc := range map[string]struct {
		tags   map[string]string
		status fnv1.Status
		reason string
		text   string
	}{
		"registered": {map[string]string{agentcontract.TagHeartbeat: now,
			agentcontract.ServiceKey("orders"): agentcontract.ServiceReport{Revision: rev, DeploymentID: "dp_1"}.Value()},
			fnv1.Status_STATUS_CONDITION_TRUE, "Registered", ""},
		"an older revision": {map[string]string{agentcontract.TagHeartbeat: now,
			agentcontract.ServiceKey("orders"): agentcontract.ServiceReport{Revision: "0ld", DeploymentID: "dp_1"}.Value()},
			fnv1.Status_STATUS_CONDITION_FALSE, "Registering", "the host agent is registering revision " + rev},
		"refused": {map[string]string{agentcontract.TagHeartbeat: now,
			agentcontract.ServiceKey("orders"): agentcontract.ServiceReport{Revision: rev, Class: 6}.Value()},
			fnv1.Status_STATUS_CONDITION_FALSE, "Registering", "(class 6: discovery did not find the expected service); it tries again; read the log stream registration-agent of the log group /restate/demo-x7k2p"},
		"never reported": {map[string]string{}, fnv1.Status_STATUS_CONDITION_FALSE, "Registering", "waiting for the host agent's first report"},
		"silent": {map[string]string{agentcontract.TagHeartbeat: "2026-01-01T00:00:00Z"}, fnv1.Status_STATUS_CONDITION_FALSE, "HostAgentSilent",
			"the host agent has not reported since 2026-01-01T00:00:00Z; read the log stream registration-agent"},
	} {
		rsp := run(t, newRequest(t, xr, p, withTags(tc.tags)...))
		c := conditionOf(rsp, ConditionRegistered)
		if c.GetStatus() != tc.status || c.GetReason() != tc.reason || !strings.Contains(c.GetMessage(), tc.text) {
			t.Errorf("%s: Registered = %v, want %v %s with %q", name, c, tc.status, tc.reason, tc.text)
		}
	}
}

// TestAgentRefusals: what the agent cannot do is refused at admission,
// naming the field.
func TestAgentRefusals(t *testing.T) {
	own := httpService("orders", "http://orders:9080")
	own.Registration.AdminURL = "http://restate.internal.example.com:9070"
	wantFatal(t, run(t, newRequest(t, newXR(withServices(own), inNamespace("team-a")), newPolicy(withMode(platform.RegistrationAuto)))),
		"spec.services[0].registration.adminUrl", "the host agent registers every service")

	var many []v1alpha1.ServiceSpec
	for i := range 46 {
		many = append(many, httpService(fmt.Sprintf("svc%d", i), "http://svc:9080"))
	}
	wantFatal(t, run(t, newRequest(t, newXR(withServices(many...), inNamespace("team-a")), newPolicy(withMode(platform.RegistrationAuto)))),
		"spec.services", "at most 44")

	wantFatal(t, run(t, newRequest(t, newXR(inNamespace("team-a")), newPolicy(withMode("Sometimes")))),
		"input.registration.mode", "Unsupported value")
}
