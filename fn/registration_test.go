package fn

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/providersim"
)

func inNamespace(ns string) func(*v1alpha1.XRestateStack) {
	return func(xr *v1alpha1.XRestateStack) { xr.SetLabels(map[string]string{stack.LabelClaimNamespace: ns}) }
}

// observe plays provider-aws and the job controller (internal/testkit/providersim,
// the same stand-in local renders use) for the desired resources that keep
// returns true for: each is observed ready, and a Job complete with its
// report written.
func observe(t testing.TB, d map[string]*unstructured.Unstructured, keep func(key string) bool) []*unstructured.Unstructured {
	t.Helper()
	var list []*unstructured.Unstructured
	for _, k := range stack.SortedKeys(d) {
		if keep != nil && !keep(k) {
			continue
		}
		u := d[k].DeepCopy()
		ann := u.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann["crossplane.io/composition-resource-name"] = k
		u.SetAnnotations(ann)
		list = append(list, u)
	}
	if err := providersim.ObserveAll(list); err != nil {
		t.Fatal(err)
	}
	return list
}

// settle reconciles until nothing new is composed, observing everything
// each round composes, except what skip names.
func settle(t testing.TB, xr *v1alpha1.XRestateStack, p *platform.StackPolicy, skip func(key string) bool) (map[string]*unstructured.Unstructured, []*unstructured.Unstructured) {
	t.Helper()
	keep := func(k string) bool { return skip == nil || !skip(k) }
	d := compose(t, xr, p)
	var obs []*unstructured.Unstructured
	for range 8 {
		obs = observe(t, d, keep)
		next := compose(t, xr, p, obs...)
		if slices.Equal(stack.SortedKeys(next), stack.SortedKeys(d)) {
			return next, obs
		}
		d = next
	}
	t.Fatal("the stack did not settle")
	return nil, nil
}

func keysWithPrefix(d map[string]*unstructured.Unstructured, prefix string) []string {
	var out []string
	for _, k := range stack.SortedKeys(d) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// jobOf is a composed registration Job.
func jobOf(t *testing.T, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	if o == nil || o.GetKind() != "Job" || o.GetAPIVersion() != "batch/v1" {
		t.Fatalf("%v is no Job", o)
	}
	return o
}

func argsOf(t *testing.T, job *unstructured.Unstructured) []string {
	t.Helper()
	return providersim.JobArgs(job.Object)
}

func conditionOf(rsp *fnv1.RunFunctionResponse, typ string) *fnv1.Condition {
	for _, c := range rsp.GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// TestRegistrationStages: a Lambda service on Restate Cloud through its
// three stages: function not ready (no Job), ready (a Job that carries the
// function ARN, code hash and versioning), Job complete (Registered).
func TestRegistrationStages(t *testing.T) {
	xr := newXR(cloudEnv(), withServices(s3Service("greeter")), inNamespace("team-a"))
	p := newPolicy()

	// 1: nothing observed, no Job.
	rsp := run(t, newRequest(t, xr, p))
	d := desiredOf(rsp)
	if jobs := keysWithPrefix(d, keyRegisterPrefix); len(jobs) > 0 {
		t.Fatalf("Jobs before the function is ready: %v", jobs)
	}
	wantMessage(t, rsp, ConditionRegistered, fnv1.Status_STATUS_CONDITION_FALSE, "greeter: waiting for its function to be ready")

	// 2: everything observed but the Job, which runs.
	settled, _ := settle(t, xr, p, func(k string) bool {
		return strings.HasPrefix(k, keyRegisterPrefix) && !strings.HasSuffix(k, suffixReport)
	})
	jobs := keysWithPrefix(settled, keyRegisterPrefix+"greeter-")
	if len(jobs) != 2 {
		t.Fatalf("registration resources %v, want a Job and its report", jobs)
	}
	jobKey := jobs[0]
	job := jobOf(t, settled[jobKey])
	name := job.GetName()
	if len(name) > 63 || job.GetNamespace() != "team-a" || settled[reportKey(jobKey)].GetName() != name {
		t.Errorf("Job %s/%s: want at most 63 characters, in the claim's namespace, named as its report ConfigMap", job.GetNamespace(), name)
	}
	args := argsOf(t, job)
	for _, want := range []string{
		"--lambda-arn=arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-greeter",
		"--versioning=Latest", "--force",
		"--admin-url=https://201hd7bh2yrxzmy6h1eqdfhx7g.env.us.restate.cloud:9070",
		"--assume-role-arn=arn:aws:iam::123456789012:role/demo-x7k2p-invoker-role",
		"--token-file=/var/run/secrets/restate/token",
		"--report-configmap=" + name,
	} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--code-sha256=") && len(a) > len("--code-sha256=") }) {
		t.Errorf("args %v carry no code hash", args)
	}
	if _, ok := job.Object["spec"].(map[string]any)["providerConfigRef"]; ok {
		t.Error("a Job with a provider config: it is composed directly")
	}
	if _, ok := settled[reportKey(jobKey)].Object["data"]; ok {
		t.Error("the function sets the report's data, which would overwrite what the Job writes")
	}
	rsp = run(t, newRequest(t, xr, p, observe(t, settled, func(k string) bool { return k != jobKey })...))
	wantMessage(t, rsp, ConditionRegistered, fnv1.Status_STATUS_CONDITION_FALSE, "greeter: Job team-a/"+name+" running")

	// 3: the Job completed and reported.
	rsp = run(t, newRequest(t, xr, p, observe(t, settled, nil)...))
	wantCondition(t, rsp, ConditionRegistered, fnv1.Status_STATUS_CONDITION_TRUE)
	reg := servicesOf(t, rsp)[0].Registration
	if reg == nil || !reg.Complete || reg.Endpoint != "arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-greeter:$LATEST" ||
		reg.Version != "$LATEST" || !strings.HasPrefix(reg.DeploymentID, "dp_") || reg.Job != name {
		t.Errorf("registration status %+v", reg)
	}
	for k, r := range rsp.GetDesired().GetResources() {
		if r.GetReady() != fnv1.Ready_READY_TRUE {
			t.Errorf("%s not ready once settled", k)
		}
	}
}

func wantMessage(t *testing.T, rsp *fnv1.RunFunctionResponse, typ string, status fnv1.Status, text string) {
	t.Helper()
	c := conditionOf(rsp, typ)
	if c == nil || c.GetStatus() != status || !strings.Contains(c.GetMessage(), text) {
		t.Errorf("condition %s = %v, want %v with %q", typ, c, status, text)
	}
}

// TestJobPodIsRestricted: the registration pod meets the restricted Pod
// Security Standard, with a read-only root filesystem, bounded retries
// and deadline, and no ttlSecondsAfterFinished (Crossplane would recreate
// a Job that disappears from the desired state's objects, and so run it
// again).
func TestJobPodIsRestricted(t *testing.T) {
	d, _ := settle(t, newXR(cloudEnv(), withServices(s3Service("greeter")), inNamespace("team-a")), newPolicy(), nil)
	job := jobOf(t, d[keysWithPrefix(d, keyRegisterPrefix+"greeter-")[0]])
	spec := job.Object["spec"].(map[string]any)
	if _, ok := spec["ttlSecondsAfterFinished"]; ok {
		t.Error("the Job sets ttlSecondsAfterFinished")
	}
	want(t, spec["backoffLimit"], float64(2))
	want(t, spec["activeDeadlineSeconds"], float64(jobDeadlineSeconds))
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	want(t, str(&unstructured.Unstructured{Object: pod}, "securityContext", "seccompProfile", "type"), "RuntimeDefault")
	wantBool(t, &unstructured.Unstructured{Object: pod}, true, "securityContext", "runAsNonRoot")
	c := &unstructured.Unstructured{Object: pod["containers"].([]any)[0].(map[string]any)}
	wantBool(t, c, false, "securityContext", "allowPrivilegeEscalation")
	wantBool(t, c, true, "securityContext", "readOnlyRootFilesystem")
	wantBool(t, c, true, "securityContext", "runAsNonRoot")
	drop, _, _ := unstructured.NestedStringSlice(c.Object, "securityContext", "capabilities", "drop")
	if !slices.Equal(drop, []string{"ALL"}) {
		t.Errorf("capabilities dropped: %v", drop)
	}
	want(t, str(c, "image"), "ghcr.io/restate-crossplane/function-restate-stack:v0.1.0")
	// The token by reference: a Secret volume, never a value.
	vols, _, _ := unstructured.NestedSlice(pod, "volumes")
	want(t, str(&unstructured.Unstructured{Object: vols[0].(map[string]any)}, "secret", "secretName"), "restate-cloud-admin")

	// RBAC: get and patch on exactly the report ConfigMaps.
	b, _ := json.Marshal(d[keyRegisterRole].Object["rules"])
	wantContains(t, string(b), `"resourceNames":["`+job.GetName()+`"]`)
	wantContains(t, string(b), `"verbs":["get","patch"]`)
}

// TestNewCodeNewJob: a new observed code hash composes a new Job and drops
// the old one once the new one is composed; the same hash keeps the same
// Job.
func TestNewCodeNewJob(t *testing.T) {
	xr := newXR(cloudEnv(), withServices(s3Service("greeter")), inNamespace("team-a"))
	d, obs := settle(t, xr, newPolicy(), nil)
	old := keysWithPrefix(d, keyRegisterPrefix+"greeter-")[0]
	same := desiredOf(run(t, newRequest(t, xr, newPolicy(), obs...)))
	if same[old] == nil {
		t.Error("the Job changed though nothing did")
	}
	for _, o := range obs {
		if o.GetKind() == "Function" {
			_ = unstructured.SetNestedField(o.Object, "bmV3LWNvZGU=", "status", "atProvider", "codeSHA256")
		}
	}
	next := desiredOf(run(t, newRequest(t, xr, newPolicy(), obs...)))
	var report string
	for _, k := range keysWithPrefix(next, keyRegisterPrefix+"greeter-") {
		if k != old && k != reportKey(old) {
			report = k
		}
	}
	// The new Job's report first; the old Job (the record of what is
	// registered) stays until the new Job is composed.
	if report != reportKey(strings.TrimSuffix(report, "."+suffixReport)) || next[old] == nil || next[reportKey(old)] == nil {
		t.Errorf("after new code: %v, want the new Job's report, and %s kept", keysWithPrefix(next, keyRegisterPrefix), old)
	}
	// The new report observed, the new Job comes, and the old one goes.
	obs = append(obs, observe(t, next, func(k string) bool { return k == report })...)
	next = desiredOf(run(t, newRequest(t, xr, newPolicy(), obs...)))
	job := strings.TrimSuffix(report, "."+suffixReport)
	if got := keysWithPrefix(next, keyRegisterPrefix+"greeter-"); !slices.Equal(got, []string{job, report}) {
		t.Errorf("after new code and its report: %v, want %v", got, []string{job, report})
	}
	if !slices.Contains(argsOf(t, jobOf(t, next[job])), "--code-sha256=bmV3LWNvZGU=") {
		t.Error("the new Job does not carry the new code hash")
	}
}

// TestDeregistration: a service with removal policy Destroy that leaves
// the claim is deregistered before its function goes; with Retain it stays
// registered and its function goes at once.
func TestDeregistration(t *testing.T) {
	destroy := s3Service("payments")
	destroy.Registration.RemovalPolicy = v1alpha1.RemovalDestroy
	both := newXR(cloudEnv(), withServices(s3Service("greeter"), destroy), inNamespace("team-a"))
	_, obs := settle(t, both, newPolicy(), nil)

	gone := newXR(cloudEnv(), withServices(), inNamespace("team-a"))
	rsp := run(t, newRequest(t, gone, newPolicy(), obs...))
	d := desiredOf(rsp)
	deregs := keysWithPrefix(d, keyDeregisterPrefix+"payments-")
	if len(deregs) != 1 {
		t.Fatalf("deregistration Jobs %v, want one for payments", keysWithPrefix(d, keyDeregisterPrefix))
	}
	args := argsOf(t, jobOf(t, d[deregs[0]]))
	for _, w := range []string{"--deregister", "--lambda-arn=arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-payments", "--token-file=/var/run/secrets/restate/token"} {
		if !slices.Contains(args, w) {
			t.Errorf("deregistration args %v lack %s", args, w)
		}
	}
	for _, k := range []string{"fn-payments", "fn-payments.role", "fn-payments.log-group"} {
		if d[k] == nil {
			t.Errorf("%s dropped before payments is deregistered", k)
		}
	}
	if d["fn-greeter"] != nil || len(keysWithPrefix(d, keyDeregisterPrefix+"greeter-")) > 0 {
		t.Error("greeter (Retain) is kept or deregistered")
	}

	// The deregistration Job completes: everything of payments goes.
	obs = append(obs, observe(t, d, func(k string) bool { return strings.HasPrefix(k, keyDeregisterPrefix) })...)
	d = desiredOf(run(t, newRequest(t, gone, newPolicy(), obs...)))
	for k := range d {
		if strings.Contains(k, "payments") {
			t.Errorf("%s still composed after deregistration", k)
		}
	}
}

func TestRegistrationNeedsANamespace(t *testing.T) {
	xr := newXR(externalEnv(), withServices(httpService("orders", "http://orders:9080")))
	rsp := run(t, newRequest(t, xr, newPolicy()))
	if len(keysWithPrefix(desiredOf(rsp), keyRegisterPrefix)) > 0 {
		t.Error("a Job without a namespace")
	}
	wantMessage(t, rsp, ConditionRegistered, fnv1.Status_STATUS_CONDITION_FALSE, "orders: waiting for a namespace")

	d, _ := settle(t, xr, newPolicy(func(p *platform.StackPolicy) { p.Registration.Namespace = "restate-jobs" }), nil)
	jobs := keysWithPrefix(d, keyRegisterPrefix+"orders-")
	if len(jobs) != 2 || jobOf(t, d[jobs[0]]).GetNamespace() != "restate-jobs" {
		t.Errorf("with the platform's namespace: %v", jobs)
	}
}

// TestHTTPServiceRegistersAtOnce: an HTTP service needs only the admin URL
// (and the Job's identity); a new revision is a new Job.
func TestHTTPServiceRegistersAtOnce(t *testing.T) {
	svc := httpService("orders", "http://orders.team-a.svc:9080")
	xr := newXR(externalEnv(), withServices(svc), inNamespace("team-a"))
	d, obs := settle(t, xr, newPolicy(), nil)
	jobs := keysWithPrefix(d, keyRegisterPrefix+"orders-")
	if len(jobs) != 2 {
		t.Fatalf("registration resources %v", jobs)
	}
	args := argsOf(t, jobOf(t, d[jobs[0]]))
	for _, w := range []string{"--uri=http://orders.team-a.svc:9080", "--admin-url=https://restate.example.com:9070", "--force"} {
		if !slices.Contains(args, w) {
			t.Errorf("args %v lack %s", args, w)
		}
	}
	svc.HTTP.Revision = "v2"
	d2 := compose(t, newXR(externalEnv(), withServices(svc), inNamespace("team-a")), newPolicy(), obs...)
	if d2[jobs[0]] == nil || len(keysWithPrefix(d2, keyRegisterPrefix+"orders-")) != 3 {
		t.Errorf("a new revision: %v, want the new Job's report, and the old Job kept until the new one comes", keysWithPrefix(d2, keyRegisterPrefix))
	}
	d2, _ = settle(t, newXR(externalEnv(), withServices(svc), inNamespace("team-a")), newPolicy(), nil)
	if next := keysWithPrefix(d2, keyRegisterPrefix+"orders-"); len(next) != 2 || next[0] == jobs[0] {
		t.Errorf("after a new revision: %v, want a new Job and report", next)
	}
}

// TestSelfHostedRegistrationWaitsForTheServer: no Job until the instance
// reports its address; the platform's admin access opens the admin port to
// the cluster, never to the world.
func TestSelfHostedRegistrationWaitsForTheServer(t *testing.T) {
	xr := newXR(withServices(httpService("orders", "http://orders:9080")), inNamespace("team-a"))
	p := newPolicy(func(p *platform.StackPolicy) {
		p.Registration.AdminAccess = platform.AdminAccess{SourceSecurityGroupIDs: []string{"sg-0123456789abcdef0"}, CIDRBlocks: []string{"10.20.0.0/16"}}
	})
	rsp := run(t, newRequest(t, xr, p))
	wantMessage(t, rsp, ConditionRegistered, fnv1.Status_STATUS_CONDITION_FALSE, "orders: waiting for the environment's admin URL")
	d := desiredOf(rsp)
	rules := keysWithPrefix(d, selfhosted.KeyAdminAccessPrefix)
	if len(rules) != 2 {
		t.Fatalf("admin access rules %v, want one per source", rules)
	}
	var sources []string
	for _, k := range rules {
		r := d[k]
		want(t, str(r, "spec", "forProvider", "securityGroupIdRef", "name"), "demo-x7k2p-security-group-admin")
		want(t, valueAt(r, "spec", "forProvider", "fromPort"), float64(9070))
		sources = append(sources, str(r, "spec", "forProvider", "sourceSecurityGroupId")+str(r, "spec", "forProvider", "cidrBlock"))
	}
	slices.Sort(sources)
	if !slices.Equal(sources, []string{"10.20.0.0/16", "sg-0123456789abcdef0"}) {
		t.Errorf("admin access from %v", sources)
	}
	settled, _ := settle(t, xr, p, nil)
	if len(keysWithPrefix(settled, keyRegisterPrefix+"orders-")) != 2 {
		t.Error("no Job once the server is observed")
	}

	open := newPolicy(func(p *platform.StackPolicy) { p.Registration.AdminAccess.CIDRBlocks = []string{"0.0.0.0/0"} })
	wantRejected(t, xr, open, "input.registration.adminAccess.cidrBlocks[0]", "never open to the world")
}

// TestPublishedVersioning: the platform's publisher identity runs the Job
// and may publish versions of exactly the stack's functions.
func TestPublishedVersioning(t *testing.T) {
	xr := newXR(cloudEnv(), withServices(s3Service("greeter")), inNamespace("team-a"), func(xr *v1alpha1.XRestateStack) {
		xr.Spec.Versioning = v1alpha1.VersioningPublished
	})
	wantRejected(t, xr, newPolicy(), "spec.versioning", "the platform provides no identity to publish Lambda versions")

	p := newPolicy(withPublisher)
	d, _ := settle(t, xr, p, nil)
	g := d[keyPublishGrant]
	want(t, str(g, "spec", "forProvider", "roleName"), "restate-publisher")
	wantPolicy(t, valueAt(g, "spec", "forProvider", "document"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:PublishVersion"],
		"Resource":["arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-greeter"]}]}`)
	job := jobOf(t, d[keysWithPrefix(d, keyRegisterPrefix+"greeter-")[0]])
	want(t, str(job, "spec", "template", "spec", "serviceAccountName"), "restate-publisher")
	args := argsOf(t, job)
	if !slices.Contains(args, "--versioning=Published") || slices.Contains(args, "--force") {
		t.Errorf("args %v: want Published without force", args)
	}
	b, _ := json.Marshal(d[keyRegisterBinding].Object["subjects"])
	wantContains(t, string(b), `"name":"restate-publisher"`)
}

// TestFailedJobIsReported: a Job that failed is named in the Registered
// condition with how to read its logs.
func TestFailedJobIsReported(t *testing.T) {
	xr := newXR(externalEnv(), withServices(httpService("orders", "http://orders:9080")), inNamespace("team-a"))
	_, obs := settle(t, xr, newPolicy(), nil)
	for _, o := range obs {
		if o.GetKind() == "Job" {
			_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}},
				"status", "conditions")
		}
	}
	rsp := run(t, newRequest(t, xr, newPolicy(), obs...))
	wantMessage(t, rsp, ConditionRegistered, fnv1.Status_STATUS_CONDITION_FALSE, "failed (BackoffLimitExceeded); see kubectl logs -n team-a job/")
}

// TestRegistrationOrder: round by round, as Crossplane calls the function,
// the RoleBinding comes only once its Role exists, and a Job only once its
// service account, binding and report ConfigMap do (its pod starts at
// once and must be able to report).
func TestRegistrationOrder(t *testing.T) {
	xr := newXR(cloudEnv(), withServices(s3Service("greeter"), httpService("orders", "http://orders:9080")), inNamespace("team-a"))
	var obs []*unstructured.Unstructured
	seen := func(key string) bool {
		return slices.ContainsFunc(obs, func(o *unstructured.Unstructured) bool {
			return o.GetAnnotations()["crossplane.io/composition-resource-name"] == key
		})
	}
	jobs := 0
	for round := range 8 {
		d := compose(t, xr, newPolicy(), obs...)
		if d[keyRegisterBinding] != nil && !seen(keyRegisterRole) {
			t.Errorf("round %d: the RoleBinding before its Role exists", round)
		}
		for k := range d {
			if reg, _ := jobKind(k); reg {
				jobs++
				if !seen(k) && !(seen(keyRegisterSA) && seen(keyRegisterBinding) && seen(reportKey(k))) {
					t.Errorf("round %d: Job %s before its service account, binding and report exist", round, k)
				}
			}
		}
		obs = observe(t, d, nil)
	}
	if jobs == 0 {
		t.Error("no Job was ever composed")
	}
}

// TestOutputIsDeterministic: the same request gives the same bytes, status
// included (Crossplane's circuit breaker trips on a composite whose
// desired state keeps changing).
func TestOutputIsDeterministic(t *testing.T) {
	destroy := s3Service("payments")
	destroy.Registration.RemovalPolicy = v1alpha1.RemovalDestroy
	for name, xr := range map[string]*v1alpha1.XRestateStack{
		"self-hosted": newXR(withServices(s3Service("greeter"), httpService("orders", "http://orders:9080")), inNamespace("team-a")),
		"cloud":       newXR(cloudEnv(), withServices(s3Service("greeter"), destroy, httpService("orders", "http://orders:9080")), inNamespace("team-a")),
	} {
		_, obs := settle(t, xr, newPolicy(), nil)
		var first []byte
		for i := range 5 {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(run(t, newRequest(t, xr, newPolicy(), obs...)))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = b
			} else if !bytes.Equal(b, first) {
				t.Errorf("%s: call %d answered differently from the first", name, i)
			}
		}
	}
}

// TestNoAdminPathNoJob: a self-hosted admin API the platform declares no
// path to gets no Job (it could only fail after twenty minutes of health
// checks); the claim says which StackPolicy field to set. A registration
// admin URL the cluster reaches is a path.
func TestNoAdminPathNoJob(t *testing.T) {
	xr := newXR(withServices(httpService("orders", "http://orders:9080")), inNamespace("team-a"))
	d, obs := settle(t, xr, newPolicy(), nil)
	if jobs := keysWithPrefix(d, keyRegisterPrefix); len(jobs) > 0 {
		t.Errorf("Jobs %v without a path to the admin API", jobs)
	}
	rsp := run(t, newRequest(t, xr, newPolicy(), obs...))
	c := conditionOf(rsp, ConditionRegistered)
	if c.GetStatus() != fnv1.Status_STATUS_CONDITION_FALSE || c.GetReason() != "NoAdminPath" || !strings.Contains(c.GetMessage(), "StackPolicy input registration.adminAccess") {
		t.Errorf("Registered = %v, want False, NoAdminPath, naming registration.adminAccess", c)
	}

	private := httpService("orders", "http://orders:9080")
	private.Registration.AdminURL = "http://restate.internal.example.com:9070"
	d, _ = settle(t, newXR(withServices(private), inNamespace("team-a")), newPolicy(), nil)
	if len(keysWithPrefix(d, keyRegisterPrefix+"orders-")) != 2 {
		t.Error("no Job with a registration admin URL the cluster reaches")
	}
}

// TestDeregistrationOfARunningJob: a Destroy service that leaves the claim
// while its Job runs (it may have registered, not yet reported) is
// deregistered; one whose Job failed without a report is not.
func TestDeregistrationOfARunningJob(t *testing.T) {
	svc := httpService("orders", "http://orders:9080")
	svc.Registration.RemovalPolicy = v1alpha1.RemovalDestroy
	xr := newXR(externalEnv(), withServices(svc), inNamespace("team-a"))
	_, obs := settle(t, xr, newPolicy(), func(k string) bool { reg, _ := jobKind(k); return reg })
	// The Job exists and runs: observed, not complete, nothing reported.
	d := compose(t, xr, newPolicy(), obs...)
	job := keysWithPrefix(d, keyRegisterPrefix+"orders-")[0]
	running := observedReady(job, "batch/v1", "Job", map[string]any{})
	delete(running.Object, "status")
	running.SetAnnotations(map[string]string{"crossplane.io/composition-resource-name": job, annRegistration: d[job].GetAnnotations()[annRegistration]})
	obs = append(obs, running)

	gone := newXR(externalEnv(), withServices(), inNamespace("team-a"))
	if len(keysWithPrefix(compose(t, gone, newPolicy(), obs...), keyDeregisterPrefix+"orders-")) != 1 {
		t.Error("a service that left while its Job ran is not deregistered")
	}
	_ = unstructured.SetNestedSlice(running.Object, []any{map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}}, "status", "conditions")
	if len(keysWithPrefix(compose(t, gone, newPolicy(), obs...), keyDeregisterPrefix)) != 0 {
		t.Error("a service whose only Job failed without a report is deregistered")
	}
	// An earlier Job registered it (the last status says so), and a new Job
	// of the same service failed: it is still deregistered. (The likely
	// cause of a deregistration the end-to-end test once waited for in
	// vain: a second Job of the same revision, which failed, after the
	// first had registered.)
	gone.Status.Services = []v1alpha1.ServiceStatus{{Name: "orders", Registration: &v1alpha1.RegistrationStatus{Endpoint: "http://orders:9080", Complete: true}}}
	if len(keysWithPrefix(compose(t, gone, newPolicy(), obs...), keyDeregisterPrefix+"orders-")) != 1 {
		t.Error("a service an earlier Job registered is not deregistered after a later Job failed")
	}
}

// TestRemovedWhileNextJobWaits: a new revision's Job waits for its report
// ConfigMap; the previous Job, which holds the record of what is
// registered, stays meanwhile, so a service removed right then is still
// deregistered. (The end-to-end test removed a service this way and waited
// in vain for its deregistration while the previous Job was dropped at
// once.)
func TestRemovedWhileNextJobWaits(t *testing.T) {
	svc := httpService("orders", "http://orders.team-a.svc:9080")
	svc.Registration.RemovalPolicy = v1alpha1.RemovalDestroy
	_, obs := settle(t, newXR(externalEnv(), withServices(svc), inNamespace("team-a")), newPolicy(), nil)
	svc.HTTP.Revision = "v2"
	d := compose(t, newXR(externalEnv(), withServices(svc), inNamespace("team-a")), newPolicy(), obs...)
	// Crossplane keeps what the function keeps: the observed state stays.
	for _, o := range obs {
		if key := o.GetAnnotations()["crossplane.io/composition-resource-name"]; strings.HasPrefix(key, keyRegisterPrefix) && d[key] == nil {
			t.Fatalf("%s dropped while the next Job waits", key)
		}
	}
	gone := compose(t, newXR(externalEnv(), withServices(), inNamespace("team-a")), newPolicy(), obs...)
	if len(keysWithPrefix(gone, keyDeregisterPrefix+"orders-")) != 1 {
		t.Errorf("removed while its next Job waited: %v, want a deregistration Job", stack.SortedKeys(gone))
	}
}
