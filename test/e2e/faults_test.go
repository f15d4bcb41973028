//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crossplane/crossplane-runtime/pkg/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/accountaudit"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/faultproxy"
)

// faultSettings are the fault phase's, from the environment: make e2e
// runs one round at 15 % of provider-aws's calls; FAULT_ROUNDS, FAULT_RATE
// and FAULT_SEED (make variables) run it longer, harder or otherwise.
type faultSettings struct {
	rounds int
	rate   float64
	seed   uint64
}

func faultSettingsFromEnv(t *testing.T) faultSettings {
	t.Helper()
	s := faultSettings{rounds: 1, rate: 0.15, seed: 1}
	if v := os.Getenv("FAULT_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("FAULT_ROUNDS=%q: want a count", v)
		}
		s.rounds = n
	}
	if v := os.Getenv("FAULT_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1 {
			t.Fatalf("FAULT_RATE=%q: want a share between 0 and 1", v)
		}
		s.rate = r
	}
	if v := os.Getenv("FAULT_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FAULT_SEED=%q: want a number", v)
		}
		s.seed = n
	}
	return s
}

// unguardable are the creates provider-aws makes that EC2 cannot make
// idempotent (they take no client token): when the response to one is lost,
// provider-aws's AWS SDK sends it again and the first resource is never
// recorded anywhere, an orphan nothing composed can find or prevent
// (measured: seed 1 lost one CreateVpc response and left one VPC). A
// security group rule whose response is lost exists but is never recorded:
// provider-aws's next create fails with InvalidPermission.Duplicate, for
// ever (measured: seed 1, one lost AuthorizeSecurityGroupEgress). The fault
// phase loses no response of these unless FAULT_LOSE_ALL=1; every other
// fault still reaches them.
var unguardable = []string{"ec2:CreateVpc", "ec2:CreateSubnet", "ec2:CreateInternetGateway", "ec2:CreateRouteTable",
	"ec2:CreateSecurityGroup", "ec2:AllocateAddress", "ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress"}

// idempotentInAWS are creates AWS makes idempotent but moto does not:
// elbv2's API reference says CreateListener "completes at most one time. If
// you attempt to create multiple listeners with the same settings, each
// call succeeds", while moto 5.2.1 made a second listener on the same port
// when a response was lost (measured: seed 1, the audit found two admin
// listeners). Their responses are never lost: in AWS a resend is harmless.
var idempotentInAWS = []string{"elasticloadbalancing:CreateListener"}

// startFaultProxy puts the fault proxy between provider-aws and moto; it
// faults nothing until the fault phase sets its rate.
func startFaultProxy(t *testing.T, moto string, seed uint64) (*faultproxy.Proxy, string) {
	t.Helper()
	spare := append(slices.Clone(unguardable), idempotentInAWS...)
	if os.Getenv("FAULT_LOSE_ALL") == "1" {
		spare = idempotentInAWS
	}
	p, err := faultproxy.New(moto, seed, 0, spare...)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := &http.Server{Addr: addr, Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
	t.Cleanup(func() { _ = srv.Close() })
	url := "http://" + addr
	waitHTTP(t, "the fault proxy", url+"/moto-api/")
	return p, url
}

// idKinds are the inventory's kinds AWS names by an id it makes up: a
// create that is retried after its response was lost makes a second one,
// which only its id tells apart. (Roles, functions, log groups, secrets and
// instance profiles are named by the stack: a second create of one fails.)
var idKinds = []string{"vpc", "subnet", "internet-gateway", "route-table", "nat-gateway", "address", "security-group", "instance", "volume"}

// orphans are the entries of the account, not in before, that no managed
// resource of any claim names as its external name: what a lost response
// left behind, which nothing would ever delete.
func orphans(t *testing.T, b *box, moto string, platform, before []string) []string {
	t.Helper()
	out := b.must("get", composedResources(true), "-A", "-l", "crossplane.io/claim-name", "-o",
		`jsonpath={range .items[*]}{.metadata.annotations.crossplane\.io/external-name}{"\n"}{end}`)
	names := map[string]bool{}
	for _, n := range strings.Fields(out) {
		names[n] = true
	}
	had := map[string]bool{}
	for _, r := range before {
		had[r] = true
	}
	var left []string
	for _, r := range inventory(t, moto, platform) {
		kind, id, _ := strings.Cut(r, " ")
		for _, k := range idKinds {
			if kind == k && !had[r] && !names[id] {
				left = append(left, r)
			}
		}
	}
	return left
}

// runbookKinds are the kinds a second create could duplicate whose
// leftovers the account inventory lists, by their inventory kind.
var runbookKinds = map[string]string{"VPC": "vpc", "Subnet": "subnet", "InternetGateway": "internet-gateway", "RouteTable": "route-table",
	"NATGateway": "nat-gateway", "Address": "address", "SecurityGroup": "security-group"}

// runbook does what the README's troubleshooting says for a create
// provider-aws began and never recorded (it was killed in between), of a
// kind a second create could duplicate, which the stack cannot resume by
// itself: when the account holds no resource of that kind that no managed
// resource names, the create did not happen, and the annotation goes. A
// leftover keeps it (the orphan check then fails the round); so does a
// kind the inventory does not list.
func runbook(t *testing.T, b *box, moto string, platform, before []string, claim string) {
	t.Helper()
	var list struct {
		Items []unstructured.Unstructured `json:"items"`
	}
	if err := json.Unmarshal([]byte(b.must("get", composedResources(true), "-l", "crossplane.io/claim-name="+claim, "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, u := range list.Items {
		// Only a create the provider itself reports stuck: one still in
		// flight also shows the annotation, and removing it then races the
		// provider's own record of the result.
		if !meta.ExternalCreateIncomplete(&u) || !strings.Contains(syncedMessage(&u), "cannot determine creation result") {
			continue
		}
		kind, listed := runbookKinds[u.GetKind()]
		switch k, _ := kinds.Of(u.GroupVersionKind()); {
		case k.Repeatable:
			// A second create cannot duplicate it: what the function does
			// itself while it composes, and what is left to do while the
			// stack is deleted (the function is not called then).
			kind = "repeatable"
		case u.GetKind() == "SecurityGroupRule":
			// A rule is found in its group: the same type, port and source.
			kind = "rule"
			if ruleExists(t, moto, &u) {
				continue
			}
		case !listed:
			continue
		case slices.ContainsFunc(orphans(t, b, moto, platform, before), func(r string) bool { return strings.HasPrefix(r, kind+" ") }):
			continue
		}
		gvk := u.GroupVersionKind()
		b.must("annotate", strings.ToLower(gvk.Kind)+"."+gvk.Group+"/"+u.GetName(), meta.AnnotationKeyExternalCreatePending+"-")
		why := "the account holds no unnamed " + kind
		if kind == "repeatable" {
			why = "a second create cannot duplicate it"
		}
		t.Logf("runbook: %s %s's create was never recorded and %s: its annotation removed", u.GetKind(), u.GetName(), why)
	}
}

// syncedMessage is a managed resource's Synced condition's message.
func syncedMessage(u *unstructured.Unstructured) string {
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		if m, _ := c.(map[string]any); m["type"] == "Synced" {
			msg, _ := m["message"].(string)
			return msg
		}
	}
	return ""
}

// ruleExists says whether a security group rule's group in the account
// already holds the rule it describes.
func ruleExists(t *testing.T, moto string, u *unstructured.Unstructured) bool {
	t.Helper()
	p := func(f string) string {
		v, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "forProvider", f)
		return fmt.Sprint(v)
	}
	var acct accountaudit.Account
	account(t, moto, &acct, "describe", "eu-central-1", "eu-west-1", "us-east-1")
	for _, g := range acct.SecurityGroups {
		if g.ID != p("securityGroupId") {
			continue
		}
		rules := g.Ingress
		if p("type") == "egress" {
			rules = g.Egress
		}
		for _, r := range rules {
			if fmt.Sprint(r.FromPort) == p("fromPort") && (slices.Contains(r.Groups, p("sourceSecurityGroupId")) || slices.Contains(r.CIDRs, p("cidrBlock"))) {
				return true
			}
		}
	}
	return false
}

// faultRound applies every example again with provider-aws's calls
// faulted, SIGKILLs provider-aws, the function and Crossplane while the
// claims converge, and checks that every claim becomes Ready, that the
// account holds no orphan, that the audit passes, and that deleting the
// claims leaves only what Retain keeps. It returns the time to converge.
func faultRound(t *testing.T, b *box, moto string, proxy *faultproxy.Proxy, rate float64, claims map[string]string, platform []string) time.Duration {
	t.Helper()
	before := inventory(t, moto, platform)
	proxy.SetRate(rate)
	start := time.Now()
	names := make([]string, 0, len(claims))
	for name := range claims {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b.apply(claims[name])
	}
	// Each part of the control plane dies once while the claims converge.
	for _, name := range []string{"provider-aws", "function", "crossplane"} {
		time.Sleep(15 * time.Second)
		b.crash(name)
		t.Logf("SIGKILLed and restarted %s %s after the claims were applied", name, time.Since(start).Round(time.Second))
	}
	for _, name := range names {
		claim, ns := claimNameOf(t, claims[name])
		eventually(t, 8*time.Minute, name+" to be ready under faults", func() string {
			out, _ := b.kubectl("-n", ns, "get", "restatestack", claim, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			if out != "True" {
				runbook(t, b, moto, platform, before, claim)
				xr, _ := b.kubectl("-n", ns, "get", "restatestack", claim, "-o", `jsonpath={range .status.conditions[*]}{.type}={.status} {.message}; {end}`)
				stuck, _ := b.kubectl("get", composedResources(true), "-l", "crossplane.io/claim-name="+claim, "-o",
					`jsonpath={range .items[?(@.metadata.annotations.crossplane\.io/external-create-pending)]}{.kind}/{.metadata.name}: {.metadata.annotations}; {end}`)
				return "not ready: " + notReady(b, claim) + "; claim: " + xr + "; create annotations: " + stuck + "; faults so far: " + proxy.Counts().String()
			}
			return ""
		})
	}
	converged := time.Since(start)
	// The checks read the account through moto itself; the deletion below
	// runs under the same faults.
	defer proxy.SetRate(0)
	if left := orphans(t, b, moto, platform, before); len(left) > 0 {
		t.Errorf("under faults the account gained what no managed resource names (orphans that would keep costing): %v\nlost responses: %v", left, lostOps(proxy))
	}
	var refs [][2]string
	for _, name := range names {
		claim, ns := claimNameOf(t, claims[name])
		refs = append(refs, [2]string{ns, claim})
	}
	auditAccount(t, b, moto, refs)

	for _, name := range names {
		claim, ns := claimNameOf(t, claims[name])
		b.must("-n", ns, "delete", "restatestack", claim, "--wait=false")
	}
	eventually(t, 6*time.Minute, "every composite and composed resource to go", func() string {
		composites, _ := b.kubectl("get", "xrestatestacks", "-o", "name")
		composed, _ := b.kubectl("get", composedResources(false), "-A", "-l", "crossplane.io/claim-name", "-o", "name")
		if left := strings.TrimSpace(composites + composed); left != "" {
			for _, name := range names {
				claim, _ := claimNameOf(t, claims[name])
				runbook(t, b, moto, platform, before, claim)
			}
			// Why each is still there, as provider-aws says it.
			why, _ := b.kubectl("get", composedResources(false), "-A", "-l", "crossplane.io/claim-name", "-o",
				`jsonpath={range .items[*]}{.kind}/{.metadata.name}: {.status.conditions[?(@.type=="Synced")].message}; {end}`)
			return left + "\n" + why
		}
		return ""
	})
	// What Retain keeps: selfhosted-full's new data volume, and its log
	// group (a fixed name: one kept before was adopted and kept again).
	eventually(t, 3*time.Minute, "the account to hold only what it held before and what Retain keeps", func() string {
		had := map[string]bool{}
		for _, r := range before {
			had[r] = true
		}
		var gained []string
		volumes := 0
		for _, r := range inventory(t, moto, platform) {
			if had[r] {
				delete(had, r)
				continue
			}
			if strings.HasPrefix(r, "volume ") && volumes == 0 {
				volumes++
				continue
			}
			if r == "log-group eu-west-1:/restate/team-a/full" {
				continue
			}
			gained = append(gained, r)
		}
		if len(gained) > 0 || volumes != 1 || len(had) > 0 {
			return fmt.Sprintf("gained %v, kept volumes %d, lost %v", gained, volumes, had)
		}
		return ""
	})
	return converged
}

// lostOps are the operations whose responses the proxy lost, with counts.
func lostOps(proxy *faultproxy.Proxy) []string {
	var out []string
	for op, n := range proxy.Counts().ByOperation {
		if strings.HasPrefix(op, string(faultproxy.Lost)+" ") {
			out = append(out, fmt.Sprintf("%s x%d", strings.TrimPrefix(op, string(faultproxy.Lost)+" "), n))
		}
	}
	sort.Strings(out)
	return out
}

// claimNameOf is a claim's name and namespace, from its YAML.
func claimNameOf(t *testing.T, claim string) (name, namespace string) {
	t.Helper()
	var c struct {
		Metadata struct{ Name, Namespace string }
	}
	if err := yaml.Unmarshal([]byte(claim), &c); err != nil {
		t.Fatal(err)
	}
	return c.Metadata.Name, c.Metadata.Namespace
}
