//go:build e2e

package e2e

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/loopback"
)

const repo = "../.."

// TestControlPlaneInABox applies claims with kubectl through a real
// Crossplane and checks, through kubectl, what a platform engineer would.
func TestControlPlaneInABox(t *testing.T) {
	start := time.Now()
	b := startBox(t)
	t.Logf("control plane ready after %s", time.Since(start).Round(time.Second))
	b.startCrossplane()
	t.Logf("Crossplane ready after %s", time.Since(start).Round(time.Second))

	// The real provider-aws, against an emulated AWS account.
	moto := startMoto(t, b)
	// provider-aws reaches moto through the fault proxy, which faults
	// nothing until the fault phase at the end.
	faults := faultSettingsFromEnv(t)
	proxy, proxyURL := startFaultProxy(t, moto, faults.seed)
	b.startProviderAWS(repo, proxyURL)
	t.Logf("provider-aws and moto started after %s", time.Since(start).Round(time.Second))
	b.installFunction(repo)
	// The XRD and the Composition come from the Configuration package; its
	// Composition lets registration reach the test's restate-server on
	// loopback, which the platform's (rightly) does not.
	b.installConfiguration(repo)
	eventually(t, 2*time.Minute, "the XRD to offer its claim", func() string {
		out, _ := b.kubectl("get", "xrd", "xrestatestacks.stack.restate-crossplane.io", "-o", `jsonpath={.status.conditions[?(@.type=="Offered")].status}`)
		if out != "True" {
			// What stands in the way: the XRD's conditions, and the
			// package revision's (a package the manager refused).
			why, _ := b.kubectl("get", "xrd,configurationrevisions", "-o", `jsonpath={range .items[*]}{.metadata.name}: {range .status.conditions[*]}{.type}={.status} {.message}; {end}{"\n"}{end}`)
			return "Offered=" + out + "\n" + why
		}
		return ""
	})
	t.Logf("function and XRD installed after %s", time.Since(start).Round(time.Second))

	var platform []string // what the test created in the account for the examples
	// Lambda itself cannot run here: the test service plays its Invoke API
	// with the Restate SDK's own Lambda handler, and restate-server (whose
	// AWS SDK honours AWS_ENDPOINT_URL_LAMBDA) invokes it there, assuming
	// the invoker role in moto.
	lambdaAPI := startServiceProcess(t, b, "-lambda")
	admin := startRestate(t, b, "AWS_ENDPOINT_URL_LAMBDA="+lambdaAPI, "AWS_ENDPOINT_URL_STS="+moto,
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=e2e", "AWS_REGION=eu-central-1")
	prepared := map[string]string{}
	prov := b.startProviders(admin)
	b.must("create", "namespace", "team-a")
	b.must("create", "namespace", "team-b")

	t.Run("kubectl explain shows the documented fields", func(t *testing.T) {
		out := b.must("explain", "restatestacks.spec.environment", "--api-version=stack.restate-crossplane.io/v1alpha1")
		for _, want := range []string{"selfHosted", "cloud", "external", "Restate Cloud", "FIELD: environment", "Exactly one kind must be set"} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl explain lacks %q:\n%s", want, out)
			}
		}
	})

	// Why the package's XRD stays apiextensions.crossplane.io/v1: in
	// Crossplane v2.4.0 only v1 offers claims (its scope defaults to
	// LegacyCluster); v2 knows no LegacyCluster scope and refuses claimNames.
	// When a release accepts the v2 form, this fails and the XRD can move.
	t.Run("the v2 XRD API refuses claims, so the package's XRD stays v1 and LegacyCluster", func(t *testing.T) {
		name := "xrestatestacks.stack.restate-crossplane.io"
		if got := b.must("get", "xrd", name, "-o", "jsonpath={.spec.scope}"); got != "LegacyCluster" {
			t.Errorf("the installed XRD's scope is %q, want LegacyCluster", got)
		}
		raw, err := os.ReadFile(filepath.Join(repo, "compositions", "definition.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var xrd map[string]any
		if err := yaml.Unmarshal(raw, &xrd); err != nil {
			t.Fatal(err)
		}
		// A new XRD, so the server validates a create: on an update of the
		// installed one, ratcheting would pass the unchanged fields.
		spec := xrd["spec"].(map[string]any)
		xrd["apiVersion"] = "apiextensions.crossplane.io/v2"
		xrd["metadata"] = map[string]any{"name": "xv2checks.stack.restate-crossplane.io"}
		spec["names"] = map[string]any{"kind": "XV2Check", "plural": "xv2checks"}
		spec["claimNames"] = map[string]any{"kind": "V2Check", "plural": "v2checks"}
		for scope, want := range map[string]string{
			"LegacyCluster": `spec.scope: Unsupported value: "LegacyCluster"`,
			"Cluster":       "Claims aren't supported in apiextensions.crossplane.io/v2",
		} {
			spec["scope"] = scope
			v2, err := yaml.Marshal(xrd)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(b.dir, "xrd-v2.yaml")
			write(t, f, string(v2))
			if out, err := b.kubectl("apply", "--dry-run=server", "-f", f); err == nil || !strings.Contains(out, want) {
				t.Errorf("want a v2 XRD of scope %s with claims refused with %q, got %v: %s", scope, want, err, out)
			}
		}
	})

	var calm time.Duration // every example's convergence without faults
	t.Run("every example claim composes what make render shows, and becomes Ready", func(t *testing.T) {
		applied := time.Now()
		defer func() { calm = time.Since(applied) }()
		claims, _ := filepath.Glob(filepath.Join(repo, "examples", "claims", "*.yaml"))
		for _, f := range claims {
			claim, ids := prepareClaim(t, b, moto, f)
			platform = append(platform, ids...)
			prepared[strings.TrimSuffix(filepath.Base(f), ".yaml")] = claim
			b.apply(claim)
		}
		for _, f := range claims {
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			claim, ns := claimName(t, f)
			eventually(t, 3*time.Minute, name+" to be ready", func() string {
				out, _ := b.kubectl("-n", ns, "get", "restatestack", claim, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
				if out != "True" {
					xr, _ := b.kubectl("-n", ns, "get", "restatestack", claim, "-o", `jsonpath={range .status.conditions[*]}{.type}={.status} {.message}; {end}`)
					return xr + " not ready: " + notReady(b, claim)
				}
				return ""
			})
			want := goldenKeys(t, filepath.Join(repo, "test", "golden", name, "settled.yaml"))
			got := composedKeys(t, b, claim)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s composes %v in the API server, make render shows %v", name, got, want)
			}
		}
	})

	t.Run("the account audit finds each flow's path and nothing more open", func(t *testing.T) {
		claims, _ := filepath.Glob(filepath.Join(repo, "examples", "claims", "*.yaml"))
		var refs [][2]string
		for _, f := range claims {
			name, ns := claimName(t, f)
			refs = append(refs, [2]string{ns, name})
		}
		auditAccount(t, b, moto, refs)
	})

	t.Run("the provider's status shapes are what the render's stand-in is held to", func(t *testing.T) {
		recordShapes(t, b)
	})

	t.Run("crossplane resource trace shows every composed resource ready", func(t *testing.T) {
		for _, claim := range []string{"minimal", "holiday"} {
			cmd := exec.Command(bin(t, "CROSSPLANE"), "resource", "trace", "restatestack", claim, "-n", "team-a", "-o", "wide")
			cmd.Env = append(os.Environ(), "KUBECONFIG="+b.kubeconfig)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("crossplane resource trace %s: %v\n%s", claim, err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			want := len(composedKeys(t, b, claim)) + 2 // the claim and its composite
			if len(lines)-1 < want {
				t.Errorf("%s: trace shows %d resources, want %d:\n%s", claim, len(lines)-1, want, out)
			}
			for _, l := range lines[1:] {
				if f := strings.Fields(l); len(f) > 3 && slices.Contains(f[1:4], "False") {
					t.Errorf("%s: not ready in the trace: %s", claim, l)
				}
			}
			t.Logf("crossplane resource trace restatestack %s -n team-a:\n%s", claim, out)
		}
	})

	t.Run("the self-hosted claim is Ready with its URLs in kubectl get", func(t *testing.T) {
		out := b.must("-n", "team-a", "get", "restatestack", "minimal")
		if !strings.Contains(out, "ADMIN") || !strings.Contains(out, ":9070") || !strings.Contains(out, ":8080") || !strings.Contains(out, "True") {
			t.Errorf("kubectl get lacks the URL columns or readiness:\n%s", out)
		}
	})

	t.Run("the host agent registers the self-hosted examples under the shipped Composition, with published versions", func(t *testing.T) {
		minimal := startHostAgent(t, b, moto, admin, "team-a", "minimal")
		holiday := startHostAgent(t, b, moto, admin, "team-a", "holiday")
		// minimal has no services: its agent's heartbeat reaches the volume's
		// observed tags, through the real provider.
		eventually(t, 3*time.Minute, "minimal's agent to report through its volume", func() string {
			tags, _ := b.kubectl("get", "volumes.ec2.aws.crossplane.io", minimal.xr+"-data-volume", "-o", "jsonpath={.status.atProvider.tags}")
			if !strings.Contains(tags, "restate-agent/heartbeat") {
				return "tags " + tags + "; agent log: " + b.logTail("agent-minimal")
			}
			return ""
		})
		regs := holiday.waitRegistered(t, b, 3*time.Minute, map[string]string{"trips": "1", "cars": "1", "flights": "1", "payments": "1"})
		deployments := get(t, admin+"/deployments")
		for svc, r := range regs {
			if !strings.HasSuffix(r.Endpoint, ":function:"+holiday.xr+"-fn-"+svc+":1") || !strings.Contains(deployments, r.DeploymentID) {
				t.Errorf("%s: %+v is not a published version registered in restate-server", svc, r)
			}
		}

		// New code, three times: each publishes and registers the next
		// version. The latency runs from kubectl apply to the claim's
		// status showing it registered.
		claim := prepared["holiday"]
		var latencies []time.Duration
		for v := 2; v <= 4; v++ {
			key := fmt.Sprintf("holiday/trips-1.4.%d.zip", v)
			versions := map[string]string{}
			account(t, moto, &versions, "seed-code", "eu-central-1", "team-a-artifacts", key)
			claim = claimWith(t, claim, func(spec map[string]any) {
				s3 := servicesOf(spec)["trips"]["lambda"].(map[string]any)["code"].(map[string]any)["s3"].(map[string]any)
				s3["key"], s3["objectVersion"] = key, versions[key]
			})
			applied := time.Now()
			b.apply(claim)
			holiday.waitRegistered(t, b, 3*time.Minute, map[string]string{"trips": fmt.Sprint(v)})
			latencies = append(latencies, time.Since(applied))
		}
		t.Logf("new code -> published and registered by the host agent (Registered=True): median %s, max %s of %v (provider-aws applies the code and observes the volume's tags every 20 s; the agent passes every 2 s)",
			median(latencies).Round(time.Second), slices.Max(latencies).Round(time.Second), latencies)

		// payments (Destroy) leaves: the agent deregisters it, then its
		// function goes.
		b.apply(claimWith(t, claim, func(spec map[string]any) {
			var kept []any
			for _, s := range spec["services"].([]any) {
				if s.(map[string]any)["name"] != "payments" {
					kept = append(kept, s)
				}
			}
			spec["services"] = kept
		}))
		eventually(t, 3*time.Minute, "payments to be deregistered and its function to go", func() string {
			if strings.Contains(get(t, admin+"/deployments"), holiday.xr+"-fn-payments") {
				return "payments still registered; agent log: " + b.logTail("agent-holiday")
			}
			if out, _ := b.kubectl("get", "functions.lambda.aws.crossplane.io", holiday.xr+"-fn-payments", "--ignore-not-found", "-o", "name"); out != "" {
				return "its function is still there"
			}
			return ""
		})
	})

	uri := startServiceProcess(t, b, "-services", "Orders")
	t.Run("a services claim is registered in the real restate-server", func(t *testing.T) {
		b.apply(servicesClaim(admin, uri, "", "Destroy"))
		waitRegistered(t, b, "orders-e2e")
		if !strings.Contains(get(t, admin+"/services"), `"name":"Orders"`) {
			t.Error("Orders is not registered in restate-server")
		}
	})

	t.Run("a changed service is registered by a Job promptly", func(t *testing.T) {
		// Each new revision is a new Job; the claim is polled closely from
		// its apply, and the kubelet stand-in stamps each step.
		var runs []jobSteps
		for i := 1; i <= 3; i++ {
			applied := time.Now()
			b.apply(servicesClaim(admin, uri, fmt.Sprintf("timing-%d", i), "Destroy"))
			runs = append(runs, prov.registeredAfter(t, "team-a", "orders-e2e", applied))
		}
		step := func(name string, of func(jobSteps) time.Duration) string {
			var ds []time.Duration
			for _, r := range runs {
				ds = append(ds, of(r))
			}
			return fmt.Sprintf("%s median %s max %s", name, median(ds).Round(10*time.Millisecond), slices.Max(ds).Round(10*time.Millisecond))
		}
		t.Logf("a changed service -> registered by a Job (Registered=True), %d runs: %s; %s; %s; %s", len(runs),
			step("total", func(r jobSteps) time.Duration { return r.Total }),
			step("apply -> Pod", func(r jobSteps) time.Duration { return r.ToPod }),
			step("register", func(r jobSteps) time.Duration { return r.Register }),
			step("Pod finished -> Registered", func(r jobSteps) time.Duration { return r.ToStatus }))
		if max := slices.MaxFunc(runs, func(a, b jobSteps) int { return cmp.Compare(a.Total, b.Total) }); max.Total > 60*time.Second {
			t.Errorf("a registration by Job took %s, want well under the provider's 60 s poll: something waits on a poll", max.Total)
		}
	})

	t.Run("a new revision registers again", func(t *testing.T) {
		rev := revisionOf(t, admin, "Orders")
		stopService(t, uri)
		startServiceAt(t, b, uri, "-services", "Orders", "-handlers", "greet,cancel")
		b.apply(servicesClaim(admin, uri, "v2", "Destroy"))
		eventually(t, 3*time.Minute, "a new revision of Orders", func() string {
			if r := revisionOf(t, admin, "Orders"); r <= rev {
				return fmt.Sprintf("revision %d", r)
			}
			return ""
		})
	})

	t.Run("a registration Job's Pod killed mid-run: the next Pod registers the service, once", func(t *testing.T) {
		prov.killMidRun.Store(true)
		b.apply(servicesClaim(admin, uri, "v3", "Destroy"))
		eventually(t, 3*time.Minute, "a Pod to register after the killed one", func() string {
			prov.mu.Lock()
			defer prov.mu.Unlock()
			if n := len(prov.ran); n == 0 || strings.HasPrefix(prov.ran[n-1], "SIGKILLed") || !slices.ContainsFunc(prov.ran, func(r string) bool { return strings.HasPrefix(r, "SIGKILLed") }) {
				return fmt.Sprintf("ran %d registrations", n)
			}
			return ""
		})
		waitRegistered(t, b, "orders-e2e")
		var list struct {
			Deployments []struct {
				ID       string `json:"id"`
				URI      string `json:"uri"`
				Services []struct{ Name string }
			}
		}
		if err := json.Unmarshal([]byte(get(t, admin+"/deployments")), &list); err != nil {
			t.Fatal(err)
		}
		var ours []string
		for _, d := range list.Deployments {
			for _, s := range d.Services {
				if s.Name == "Orders" {
					ours = append(ours, d.ID+" "+d.URI)
				}
			}
		}
		if len(ours) != 1 {
			t.Errorf("Orders has %d deployments after a killed Pod, want 1: %v", len(ours), ours)
		}
		// The job controller's next Pod ran after the killed one.
		prov.mu.Lock()
		defer prov.mu.Unlock()
		killed := slices.IndexFunc(prov.ran, func(r string) bool { return strings.HasPrefix(r, "SIGKILLed mid-run: ") })
		if killed < 0 || killed == len(prov.ran)-1 || !slices.ContainsFunc(prov.failed, func(f string) bool { return strings.Contains(f, "SIGKILLed after Restate answered") }) {
			t.Errorf("want a Pod SIGKILLed after Restate answered, then another that registered; ran %v, failed %v", prov.ran, prov.failed)
		}
	})

	t.Run("removing a Destroy service deregisters it", func(t *testing.T) {
		b.apply(servicesClaim(admin, "", "", ""))
		eventually(t, 2*time.Minute, "Orders to be deregistered", func() string {
			if deployments := get(t, admin+"/deployments"); strings.Contains(deployments, uri) {
				prov.mu.Lock()
				defer prov.mu.Unlock()
				xr, _ := b.kubectl("-n", "team-a", "get", "restatestack", "orders-e2e", "-o", `jsonpath={range .status.conditions[*]}{.type}={.status} {.message}; {end}`)
				keys, _ := b.kubectl("-n", "team-a", "get", "jobs", "-o", `jsonpath={range .items[*]}{.metadata.annotations.crossplane\.io/composition-resource-name} {end}`)
				composite, _ := b.kubectl("get", "xrestatestack", "-l", "crossplane.io/claim-name=orders-e2e", "-o", `jsonpath={range .items[*]}{.spec.services} {range .status.conditions[*]}{.type}={.status} {.message}; {end}{end}`)
				events, _ := b.kubectl("get", "events", "-A", "--field-selector", "type=Warning", "-o", `jsonpath={range .items[*]}{.involvedObject.name}: {.message}{"\n"}{end}`)
				jobs, _ := b.kubectl("-n", "team-a", "get", "jobs", "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[*].type} {.metadata.annotations.restate-crossplane\.io/registration}{"\n"}{end}`)
				return "still registered; ran: " + strings.Join(prov.ran, " | ") + "; failed Pods: " + strings.Join(prov.failed, " | ") + "; claim: " + xr + "; Jobs: " + keys + "; composite: " + composite + "; warnings: " + events + "; jobs:\n" + jobs
			}
			return ""
		})
	})

	t.Run("removing a Retain service leaves it registered", func(t *testing.T) {
		kept := startServiceProcess(t, b, "-services", "Orders", "-handlers", "greet,refund")
		b.apply(servicesClaim(admin, kept, "", "Retain"))
		waitRegistered(t, b, "orders-e2e")
		b.apply(servicesClaim(admin, "", "", ""))
		eventually(t, 2*time.Minute, "the service's Job to go from the claim", func() string {
			out, _ := b.kubectl("-n", "team-a", "get", "restatestack", "orders-e2e", "-o", "jsonpath={.status.services}")
			if strings.TrimSpace(out) != "" {
				return "status still lists " + out
			}
			return ""
		})
		if !strings.Contains(get(t, admin+"/deployments"), kept) {
			t.Error("a Retain service was deregistered")
		}
		stack := strings.TrimSpace(b.must("-n", "team-a", "get", "restatestack", "orders-e2e", "-o", "jsonpath={.spec.resourceRef.name}"))
		eventually(t, 2*time.Minute, "the service's Jobs and Pods to go", func() string {
			out, _ := b.kubectl("-n", "team-a", "get", "jobs,pods", "-l", "restate-crossplane.io/stack="+stack+",restate-crossplane.io/service=orders", "-o", "name")
			return strings.TrimSpace(out)
		})
	})

	t.Run("a claim only the function can refuse gets a condition naming the field, and keeps what exists", func(t *testing.T) {
		b.apply(servicesClaim(admin, uri, "", "Retain"))
		waitRegistered(t, b, "orders-e2e")
		before := composedKeys(t, b, "orders-e2e")
		b.apply(servicesClaim(admin, strings.Replace(uri, "http://", "http://user:secret@", 1), "", "Retain"))
		eventually(t, 2*time.Minute, "Valid=False naming the field", func() string {
			out, _ := b.kubectl("-n", "team-a", "get", "restatestack", "orders-e2e", "-o", `jsonpath={.status.conditions[?(@.type=="Valid")].status} {.status.conditions[?(@.type=="Valid")].message}`)
			if !strings.HasPrefix(out, "False") || !strings.Contains(out, "spec.services[0].http.uri") {
				return out
			}
			return ""
		})
		time.Sleep(5 * time.Second) // a few reconciles of the bad spec
		if after := composedKeys(t, b, "orders-e2e"); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("the bad update changed what is composed: %v, before %v", after, before)
		}
	})

	t.Run("Lambda registrations reach Restate with the qualified ARN", func(t *testing.T) {
		prov.mu.Lock()
		defer prov.mu.Unlock()
		found := false
		for _, out := range prov.lambda {
			// Restate invoked the version the Job registers (through the
			// Lambda stand-in).
			if strings.Contains(out, "arn:aws:lambda:") && strings.Contains(out, ":$LATEST") {
				found = true
			}
		}
		if !found {
			t.Errorf("no Lambda registration reached restate-server with a qualified ARN: %q", prov.lambda)
		}
	})

	t.Run("registration ran as real Jobs and Pods, composed by Crossplane", func(t *testing.T) {
		prov.mu.Lock()
		ran := len(prov.ran)
		prov.mu.Unlock()
		if ran == 0 {
			t.Error("no registration Job ran for real")
		}
		out := b.must("get", "jobs", "-A", "-l", "restate-crossplane.io/stack", "-o",
			`jsonpath={range .items[*]}{.metadata.ownerReferences[0].kind}/{.status.conditions[?(@.type=="Complete")].status} {end}`)
		if !strings.Contains(out, "XRestateStack/True") {
			t.Errorf("no completed Job owned by a composite: %q", out)
		}
	})

	t.Run("without the package's ClusterRole Crossplane cannot compose Jobs, and says so only in events", func(t *testing.T) {
		b.must("delete", "clusterrole", "crossplane:restate-stack:registration")
		eventually(t, time.Minute, "the aggregated role to lose the Job rules", func() string {
			if out := b.must("get", "clusterrole", "crossplane", "-o", "jsonpath={.rules[*].resources}"); strings.Contains(out, "jobs") {
				return out
			}
			return ""
		})
		claim := strings.NewReplacer("name: orders-e2e", "name: unprivileged", "namespace: team-a", "namespace: team-b").Replace(servicesClaim(admin, uri, "", "Retain"))
		b.apply(claim)
		eventually(t, 2*time.Minute, "a Warning event that a composed resource is forbidden", func() string {
			out, _ := b.kubectl("get", "events", "-A", "--field-selector", "type=Warning,involvedObject.kind=XRestateStack", "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
			if !strings.Contains(out, "forbidden") {
				return "events: " + out
			}
			return ""
		})
		if out, _ := b.kubectl("-n", "team-b", "get", "jobs", "-l", "crossplane.io/claim-name=unprivileged", "-o", "name"); strings.TrimSpace(out) != "" {
			t.Errorf("Jobs composed without the permission: %s", out)
		}
		b.applyInstall(repo, "crossplane-rbac.yaml")
		eventually(t, 3*time.Minute, "registration once the ClusterRole is back", func() string {
			out, _ := b.kubectl("-n", "team-b", "get", "restatestack", "unprivileged", "-o", `jsonpath={.status.conditions[?(@.type=="Registered")].status}`)
			if out != "True" {
				return "Registered=" + out
			}
			return ""
		})
		b.must("-n", "team-b", "delete", "restatestack", "unprivileged")
	})

	t.Run("an invalid claim is refused by the API server, naming the field", func(t *testing.T) {
		bad := strings.Replace(servicesClaim(admin, uri, "", "Retain"), "name: orders\n", "name: Orders_V2\n", 1)
		f := filepath.Join(b.dir, "bad.yaml")
		write(t, f, bad)
		out, err := b.kubectl("apply", "-f", f)
		if err == nil || !strings.Contains(out, "spec.services[0].name") {
			t.Errorf("want a refusal naming spec.services[0].name, got %v: %s", err, out)
		}
		// The XRD's CEL rule: exactly one environment kind.
		twoKinds := strings.Replace(servicesClaim(admin, "", "", ""), "    external:", "    cloud: {environmentId: env_201hd7bh2yrxzmy6h1eqdfhx7g, apiKeySecretRef: {name: key}}\n    external:", 1)
		write(t, f, strings.Replace(twoKinds, "name: orders-e2e", "name: two-kinds", 1))
		out, err = b.kubectl("apply", "-f", f)
		if err == nil || !strings.Contains(out, "spec.environment") || !strings.Contains(out, "exactly one of selfHosted, cloud or external must be set") {
			t.Errorf("want the CEL rule's refusal at spec.environment, got %v: %s", err, out)
		}
	})

	t.Run("a cluster's fixed fields are refused by the API server, and an instance change is applied one node at a time", func(t *testing.T) {
		claim := prepared["selfhosted-cluster"]
		f := filepath.Join(b.dir, "cluster.yaml")
		for _, c := range []struct{ change, want string }{
			{"        nodes: 3\n        replication: 3\n", "fixed once the cluster is provisioned"},
			{"        nodes: 3\n        zones: [eu-central-1a, eu-central-1b]\n", "zones are fixed once the cluster exists"},
			{"", "a single node cannot become a cluster in place, nor a cluster a single node"},
		} {
			changed := strings.Replace(claim, "      cluster:\n        nodes: 3\n", "      cluster:\n"+c.change, 1)
			if c.change == "" {
				changed = strings.Replace(claim, "      cluster:\n        nodes: 3\n", "", 1)
			}
			write(t, f, changed)
			if out, err := b.kubectl("apply", "--dry-run=server", "-f", f); err == nil || !strings.Contains(out, c.want) {
				t.Errorf("want the API server to refuse %q with %q, got %v: %s", c.change, c.want, err, out)
			}
		}

		// The rollout, as the API server sees it: every node's instances,
		// each poll. A node is in flux while it has more than one instance,
		// or its one instance is new and not ready yet.
		type node struct{ keys, ready []string }
		nodes := func() map[string]*node {
			var list struct {
				Items []struct {
					Metadata struct{ Annotations map[string]string }
					Status   struct {
						Conditions []struct{ Type, Status string }
					}
				}
			}
			out := b.must("get", "instances.ec2.aws.crossplane.io", "-l", "crossplane.io/claim-name=payments-ha", "-o", "json")
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				t.Fatal(err)
			}
			m := map[string]*node{}
			for _, it := range list.Items {
				key := it.Metadata.Annotations["crossplane.io/composition-resource-name"]
				name := strings.Join(strings.SplitN(strings.TrimPrefix(key, "server-"), "-", 3)[:2], "-")
				if m[name] == nil {
					m[name] = &node{}
				}
				m[name].keys = append(m[name].keys, key)
				if slices.ContainsFunc(it.Status.Conditions, func(c struct{ Type, Status string }) bool { return c.Type == "Ready" && c.Status == "True" }) {
					m[name].ready = append(m[name].ready, key)
				}
			}
			return m
		}
		before := map[string]bool{}
		for _, n := range nodes() {
			for _, k := range n.keys {
				before[k] = true
			}
		}
		if len(before) != 3 {
			t.Fatalf("the cluster runs instances %v, want three", before)
		}
		write(t, f, strings.Replace(claim, "instanceType: m7g.large", "instanceType: m7g.xlarge", 1))
		b.must("apply", "-f", f)
		most := 0
		eventually(t, 8*time.Minute, "every node to run a new instance, one node at a time", func() string {
			m := nodes()
			flux, done := 0, 0
			for _, n := range m {
				fresh := len(n.keys) == 1 && !before[n.keys[0]]
				switch {
				case fresh && len(n.ready) == 1:
					done++
				case len(n.keys) > 1 || fresh:
					flux++
				}
			}
			most = max(most, flux)
			if flux > 1 {
				t.Fatalf("%d nodes are being replaced at once: %v", flux, m)
			}
			if done != 3 {
				return fmt.Sprintf("%d of 3 nodes replaced", done)
			}
			return ""
		})
		t.Logf("the rollout replaced every node, at most %d at a time", most)
		eventually(t, 3*time.Minute, "the cluster to be Ready again", func() string {
			out, _ := b.kubectl("-n", "team-a", "get", "restatestack", "payments-ha", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			if out != "True" {
				return "Ready=" + out + ": " + notReady(b, "payments-ha")
			}
			return ""
		})
	})

	t.Run("kubectl delete removes the composite and composed resources", func(t *testing.T) {
		xr := strings.TrimSpace(b.must("-n", "team-a", "get", "restatestack", "minimal", "-o", "jsonpath={.spec.resourceRef.name}"))
		b.must("-n", "team-a", "delete", "restatestack", "minimal", "--wait=false")
		eventually(t, 3*time.Minute, "the composite and its resources to go", func() string {
			if out, _ := b.kubectl("get", "xrestatestack", xr, "--ignore-not-found"); strings.TrimSpace(out) != "" {
				return "the composite remains"
			}
			out, _ := b.kubectl("get", "vpcs.ec2.aws.crossplane.io,instances.ec2.aws.crossplane.io", "-l", "crossplane.io/composite="+xr, "-o", "name")
			if strings.TrimSpace(out) != "" {
				return "composed resources remain: " + out
			}
			return ""
		})
		// A claim with registration: its Jobs and their Pods go with it.
		stack := strings.TrimSpace(b.must("-n", "team-a", "get", "restatestack", "orders-e2e", "-o", "jsonpath={.spec.resourceRef.name}"))
		if out := b.must("-n", "team-a", "get", "jobs,pods", "-l", "restate-crossplane.io/stack="+stack, "-o", "name"); strings.TrimSpace(out) == "" {
			t.Fatal("orders-e2e has no Jobs or Pods to delete")
		}
		b.must("-n", "team-a", "delete", "restatestack", "orders-e2e", "--wait=false")
		eventually(t, 3*time.Minute, "the claim's Jobs and Pods to go", func() string {
			out, _ := b.kubectl("-n", "team-a", "get", "jobs,pods,configmaps,roles,rolebindings,serviceaccounts", "-l", "restate-crossplane.io/stack="+stack, "-o", "name")
			return strings.TrimSpace(out)
		})
	})
	t.Run("deleting every example leaves the account empty but what Retain keeps, and the API server clean", func(t *testing.T) {
		claims, _ := filepath.Glob(filepath.Join(repo, "examples", "claims", "*.yaml"))
		for _, f := range claims {
			name, ns := claimName(t, f)
			b.must("-n", ns, "delete", "restatestack", name, "--ignore-not-found", "--wait=false")
		}
		eventually(t, 5*time.Minute, "every composite and composed resource to go", func() string {
			composites, _ := b.kubectl("get", "xrestatestacks", "-o", "name")
			composed, _ := b.kubectl("get", composedResources(false), "-A", "-l", "crossplane.io/claim-name", "-o", "name")
			return strings.TrimSpace(composites + composed)
		})
		// selfhosted-full keeps its data volume and log group (removal
		// policy Retain); nothing else of any stack stays.
		eventually(t, 3*time.Minute, "the account to hold only what Retain keeps", func() string {
			got := inventory(t, moto, platform)
			var unexpected []string
			kept := map[string]bool{}
			for _, r := range got {
				switch {
				case r == "log-group eu-west-1:/restate/team-a/full":
					kept["log group"] = true
				case strings.HasPrefix(r, "volume "):
					kept["data volume"] = true
				default:
					unexpected = append(unexpected, r)
				}
			}
			if len(unexpected) > 0 || !kept["log group"] || !kept["data volume"] {
				return fmt.Sprintf("left %v; kept %v", unexpected, kept)
			}
			return ""
		})
	})
	t.Run("under faults and crashes every example converges again, with no orphan, and deleting leaves only what Retain keeps", func(t *testing.T) {
		if faults.rounds == 0 {
			t.Skip("FAULT_ROUNDS=0")
		}
		if len(prepared) == 0 { // run alone (-run .../under_faults): the examples are prepared here
			claims, _ := filepath.Glob(filepath.Join(repo, "examples", "claims", "*.yaml"))
			for _, f := range claims {
				claim, ids := prepareClaim(t, b, moto, f)
				platform = append(platform, ids...)
				prepared[strings.TrimSuffix(filepath.Base(f), ".yaml")] = claim
			}
		}
		calls := proxy.Counts()
		for round := 1; round <= faults.rounds; round++ {
			took := faultRound(t, b, moto, proxy, faults.rate, prepared, platform)
			c := proxy.Counts()
			t.Logf("fault round %d (seed %d, rate %.2f): converged in %s (%s without faults); %s: %s",
				round, faults.seed, faults.rate, took.Round(time.Second), calm.Round(time.Second), "provider-aws's calls", c.Since(calls))
			t.Logf("lost responses by operation: %v", lostOps(proxy))
			calls = c
		}
	})
	t.Logf("all scenarios done after %s", time.Since(start).Round(time.Second))
}

// composedResources is every composed kind (or only provider-aws's) as
// one kubectl resource list.
func composedResources(awsOnly bool) string {
	var names []string
	for _, k := range kinds.All {
		if k.AWS || !awsOnly {
			names = append(names, k.Name())
		}
	}
	return strings.Join(names, ",")
}

// notReady lists a claim's composed resources that are not Ready, with
// their Synced message: what the provider says.
func notReady(b *box, claim string) string {
	out, _ := b.kubectl("get", composedResources(true), "-l", "crossplane.io/claim-name="+claim, "-o",
		`jsonpath={range .items[?(@.status.conditions[0].status!="True")]}{.kind}/{.metadata.name}: {.status.conditions[*].message}; {end}`)
	return out
}

// servicesClaim is a claim on an external environment (the local
// restate-server) with an HTTP service (the local Go SDK service), or none.
func servicesClaim(admin, uri, revision, removal string) string {
	services := "  services: []\n"
	if uri != "" {
		services = fmt.Sprintf(`  services:
  - name: orders
    expectedServiceName: Orders
    registration: {removalPolicy: %s}
    http: {uri: %q, revision: %q}
`, removal, uri, revision)
	}
	return fmt.Sprintf(`apiVersion: stack.restate-crossplane.io/v1alpha1
kind: RestateStack
metadata: {name: orders-e2e, namespace: team-a}
spec:
  environment:
    external: {adminUrl: %q}
%s`, admin, services)
}

func waitRegistered(t *testing.T, b *box, claim string) {
	t.Helper()
	eventually(t, 3*time.Minute, claim+" to be registered and ready", func() string {
		// A stale Registered=True may outlive a change until the next
		// reconcile: the service's own registration must be complete too.
		out, _ := b.kubectl("-n", "team-a", "get", "restatestack", claim, "-o",
			`jsonpath={.status.conditions[?(@.type=="Registered")].status}/{.status.conditions[?(@.type=="Ready")].status}/{.status.services[*].registration.complete} {.status.conditions[?(@.type=="Registered")].message}`)
		if !strings.HasPrefix(out, "True/True/true ") {
			return out
		}
		return ""
	})
}

// startRestate runs a real restate-server on free ports and returns its
// admin URL.
func startRestate(t *testing.T, b *box, env ...string) string {
	t.Helper()
	admin := freePort(t)
	b.start("restate-server", append([]string{
		fmt.Sprintf("RESTATE_ADMIN__BIND_ADDRESS=127.0.0.1:%d", admin),
		fmt.Sprintf("RESTATE_INGRESS__BIND_ADDRESS=127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("RESTATE_BIND_ADDRESS=127.0.0.1:%d", freePort(t)),
	}, env...), bin(t, "RESTATE_SERVER"), "--node-name", "n1", "--base-dir", filepath.Join(b.dir, "restate"))
	url := fmt.Sprintf("http://127.0.0.1:%d", admin)
	waitHTTP(t, "restate-server", url+"/health")
	return url
}

var services = map[string]*proc{}

func startServiceProcess(t *testing.T, b *box, args ...string) string {
	t.Helper()
	uri := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	startServiceAt(t, b, uri, args...)
	return uri
}

func startServiceAt(t *testing.T, b *box, uri string, args ...string) {
	t.Helper()
	addr := strings.TrimPrefix(uri, "http://")
	services[uri] = b.start("restateservice-"+strings.ReplaceAll(addr, ":", "-")+fmt.Sprint(time.Now().UnixNano()), nil, bin(t, "RESTATE_SERVICE"), append([]string{"-listen", addr}, args...)...)
	if err := loopback.WaitListening(addr, 10*time.Second); err != nil {
		t.Fatalf("the Restate service did not start: %v", err)
	}
}

func stopService(t *testing.T, uri string) {
	t.Helper()
	p := services[uri]
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_, _ = p.cmd.Process.Wait()
}

func get(t *testing.T, url string) string {
	t.Helper()
	rsp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(rsp.Body)
	return buf.String()
}

func revisionOf(t *testing.T, admin, service string) int {
	t.Helper()
	var svc struct{ Revision int }
	_ = json.Unmarshal([]byte(get(t, admin+"/services/"+service)), &svc)
	return svc.Revision
}

// applyCRD applies a provider's CRD as its package would. A conversion
// webhook's service is filled in by the package manager, which does not
// install these, and only one version of each kind is used here, so the
// conversion is dropped.

// hashSuffix matches the hashes in composition resource names, which
// depend on the composite's generated name.
var hashSuffix = regexp.MustCompile(`-[0-9a-f]{8}(\.|$)`)

// goldenKeys are the composition resource names of a rendered example.
func goldenKeys(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		u := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &u); err != nil {
			t.Fatal(err)
		}
		md, _ := u["metadata"].(map[string]any)
		ann, _ := md["annotations"].(map[string]any)
		if k, ok := ann["crossplane.io/composition-resource-name"].(string); ok {
			keys = append(keys, hashSuffix.ReplaceAllString(k, "-#$1"))
		}
	}
	sort.Strings(keys)
	return keys
}

// composedKeys are the composition resource names of a claim's composed
// resources in the API server.
func composedKeys(t *testing.T, b *box, claim string) []string {
	t.Helper()
	out := b.must("get", composedResources(false), "-A", "-l", "crossplane.io/claim-name="+claim, "-o",
		`jsonpath={range .items[*]}{.metadata.annotations.crossplane\.io/composition-resource-name}{"\n"}{end}`)
	var keys []string
	for _, k := range strings.Fields(out) {
		keys = append(keys, hashSuffix.ReplaceAllString(k, "-#$1"))
	}
	sort.Strings(keys)
	return keys
}

func claimName(t *testing.T, file string) (name, namespace string) {
	t.Helper()
	u := map[string]any{}
	readYAML(t, file, &u)
	md := u["metadata"].(map[string]any)
	return md["name"].(string), md["namespace"].(string)
}
