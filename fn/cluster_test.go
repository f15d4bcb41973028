package fn

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/iampolicy"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/userdataview"
)

// clusterXR is a self-hosted cluster of n nodes with every other default.
func clusterXR(n int32, mutate ...func(*v1alpha1.ClusterSpec)) *v1alpha1.XRestateStack {
	return newXR(func(xr *v1alpha1.XRestateStack) {
		c := &v1alpha1.ClusterSpec{Nodes: n}
		for _, m := range mutate {
			m(c)
		}
		xr.Spec.Environment.SelfHosted.Cluster = c
	})
}

// clusterPolicy is newPolicy with the platform's cluster store, and the host
// agent registering (the shipped default for self-hosted stacks).
func clusterPolicy() *platform.StackPolicy {
	return newPolicy(func(p *platform.StackPolicy) {
		p.ClusterStore = &platform.ClusterStorePolicy{Bucket: "platform-restate", Prefix: "stacks"}
		p.Registration.Mode = platform.RegistrationAuto
	})
}

// nodeInstances are the composed instance keys of each node.
func nodeInstances(d map[string]*unstructured.Unstructured, nodes int) [][]string {
	out := make([][]string, nodes)
	for i := range out {
		out[i] = keysWithPrefix(d, selfhosted.KeyInstancePrefix+"node-"+string(rune('0'+i))+"-")
	}
	return out
}

// TestClusterComposesEveryNode: each node has its own volume and instance
// in its own zone, the fabric group, a configuration naming it, and a
// private name; the agent runs on node 0 alone; the host policy reaches the
// stack's prefix of the store only.
func TestClusterComposesEveryNode(t *testing.T) {
	d, _ := settle(t, clusterXR(3), clusterPolicy(), nil)
	zones := []string{"eu-central-1a", "eu-central-1b", "eu-central-1c"}
	for i, keys := range nodeInstances(d, 3) {
		if len(keys) != 1 {
			t.Fatalf("node %d: instances %v, want one", i, keys)
		}
		inst := d[keys[0]]
		if got := str(inst, "spec", "forProvider", "subnetIdRef", "name"); !strings.HasSuffix(got, "subnet-private-"+zones[i]) {
			t.Errorf("node %d in subnet %s, want %s's", i, got, zones[i])
		}
		vol := d[selfhosted.KeyNodeVolumePrefix+"node-"+string(rune('0'+i))]
		if vol == nil || str(vol, "spec", "forProvider", "availabilityZone") != zones[i] {
			t.Errorf("node %d: data volume %v, want one in %s", i, vol, zones[i])
		}
		groups, _, _ := unstructured.NestedSlice(inst.Object, "spec", "forProvider", "securityGroupRefs")
		if !strings.Contains(strings.Join(stringsOf(groups), " "), selfhosted.KeyFabricGroup) {
			t.Errorf("node %d is not in the fabric group: %v", i, groups)
		}
		v, err := userdataview.Decode(str(inst, "spec", "forProvider", "userData"))
		if err != nil {
			t.Fatal(err)
		}
		config := fileOnHost(t, v, "restate.toml")
		wantIn(t, config, `node-name = 'node-`+string(rune('0'+i))+`'`)
		wantIn(t, config, `location = 'eu-central-1.`+zones[i]+`'`)
		wantIn(t, config, `path = 's3://platform-restate/stacks/demo-x7k2p/metadata'`)
		wantIn(t, config, `auto-provision = `+map[bool]string{true: "true", false: "false"}[i == 0])
		if agent := strings.Contains(v.Script, "registration-agent"); agent != (i == 0) {
			t.Errorf("node %d runs the agent: %v, want %v", i, agent, i == 0)
		}
		if d[selfhosted.KeyNodeRecordPrefix+"node-"+string(rune('0'+i))] == nil {
			t.Errorf("node %d has no private name", i)
		}
	}
	if got := len(keysWithPrefix(d, selfhosted.KeyTargetPrefix+"ingress-")) + len(keysWithPrefix(d, selfhosted.KeyTargetPrefix+"admin-")); got != 6 {
		t.Errorf("%d targets, want one per node and endpoint", got)
	}
	// Listeners name their load balancer and target group by ARN, never by
	// a reference inside defaultActions (see buildLoadBalancer).
	for _, k := range keysWithPrefix(d, selfhosted.KeyListenerPrefix) {
		fp := d[k].Object["spec"].(map[string]any)["forProvider"].(map[string]any)
		actions := fp["defaultActions"].([]any)
		if !strings.HasPrefix(fmt.Sprint(fp["loadBalancerArn"]), "arn:aws:elasticloadbalancing:") || fp["loadBalancerArnRef"] != nil ||
			len(actions) != 1 || !strings.HasPrefix(fmt.Sprint(actions[0].(map[string]any)["targetGroupArn"]), "arn:aws:elasticloadbalancing:") {
			t.Errorf("listener %s: %v", k, fp)
		}
	}
	fabric := d[selfhosted.KeyFabricRule]
	if str(fabric, "spec", "forProvider", "cidrBlock") != "" || !strings.HasSuffix(str(fabric, "spec", "forProvider", "sourceSecurityGroupIdRef", "name"), selfhosted.KeyFabricGroup) {
		t.Errorf("the fabric port is open beyond the cluster's own group: %v", fabric.Object["spec"])
	}

	raw, _, _ := unstructured.NestedFieldNoCopy(d[selfhosted.KeyInstanceRolePolicy].Object, "spec", "forProvider", "document")
	b, _ := json.Marshal(raw)
	doc, err := iampolicy.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		action, resource string
		allowed          bool
	}{
		{"s3:PutObject", "arn:aws:s3:::platform-restate/stacks/demo-x7k2p/snapshots/x", true},
		{"s3:PutObject", "arn:aws:s3:::platform-restate/stacks/demo-other/snapshots/x", false},
		{"s3:GetObject", "arn:aws:s3:::another-bucket/stacks/demo-x7k2p/metadata/x", false},
	} {
		if got := doc.Allows(iampolicy.Request{Action: c.action, Resource: c.resource}); got != c.allowed {
			t.Errorf("%s on %s: allowed %v, want %v", c.action, c.resource, got, c.allowed)
		}
	}
}

func stringsOf(refs []any) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.(map[string]any)["name"].(string))
	}
	return out
}

// TestClusterRollsOneNodeAtATime steps a change that replaces every
// instance through reconciles: no round ever has more than one node being
// replaced, a node is replaced only once the one before serves again, and
// in the end every node runs the new launch.
func TestClusterRollsOneNodeAtATime(t *testing.T) {
	p := clusterPolicy()
	d, obs := settle(t, clusterXR(3), p, nil)
	before := nodeInstances(d, 3)
	bigger := clusterXR(3)
	bigger.Spec.Environment.SelfHosted.InstanceType = "t4g.medium"

	// A replacement that does not come up holds the others back.
	var newKey string
	stuck := compose(t, bigger, p, obs...)
	for i, keys := range nodeInstances(stuck, 3) {
		if !slices.Equal(keys, before[i]) {
			newKey = keys[0]
		}
	}
	for range 3 {
		stuck = compose(t, bigger, p, observe(t, stuck, func(k string) bool { return k != newKey })...)
		changed := 0
		for i, keys := range nodeInstances(stuck, 3) {
			if !slices.Equal(keys, before[i]) {
				changed++
			}
		}
		if changed != 1 {
			t.Fatalf("with node 0's new instance not up, %d nodes are replaced, want 1 (still node 0)", changed)
		}
	}

	replaced := map[int]int{}
	for round := range 12 {
		d = compose(t, bigger, p, obs...)
		replacing := 0
		now := nodeInstances(d, 3)
		for i, keys := range now {
			// A node is being replaced in this round when it is composed
			// with an instance not yet observed.
			for _, k := range keys {
				if !slices.ContainsFunc(obs, func(o *unstructured.Unstructured) bool { return o.GetName() == d[k].GetName() }) && !slices.Contains(before[i], k) {
					replacing++
					replaced[i] = round
				}
			}
		}
		if replacing > 1 {
			t.Fatalf("round %d replaces %d nodes at once: %v", round, replacing, now)
		}
		obs = observe(t, d, nil)
	}
	if len(replaced) != 3 || replaced[0] >= replaced[1] || replaced[1] >= replaced[2] {
		t.Errorf("nodes replaced in rounds %v, want each of the three in turn", replaced)
	}
	for i, keys := range nodeInstances(d, 3) {
		if len(keys) != 1 || slices.Equal(keys, before[i]) {
			t.Errorf("node %d runs %v at the end, want one new instance", i, keys)
		}
	}
}

// TestClusterRefusals: what a cluster cannot follow is refused, naming the
// field, and nothing that exists is withdrawn.
func TestClusterRefusals(t *testing.T) {
	p := clusterPolicy()
	_, five := settle(t, clusterXR(5), p, nil)
	wantFatal(t, run(t, newRequest(t, clusterXR(3), p, five...)), "spec.environment.selfHosted.cluster.nodes", "may grow but not shrink")

	_, single := settle(t, newXR(), p, nil)
	wantFatal(t, run(t, newRequest(t, clusterXR(3), p, single...)), "spec.environment.selfHosted.cluster", "cannot become a cluster in place")
	_, three := settle(t, clusterXR(3), p, nil)
	wantFatal(t, run(t, newRequest(t, newXR(), p, three...)), "spec.environment.selfHosted.cluster", "cannot become a single node")

	kept := clusterXR(3, func(c *v1alpha1.ClusterSpec) { c.Replication = 3 })
	kept.Status.SelfHosted = &v1alpha1.SelfHostedStatus{Cluster: &v1alpha1.ClusterStatus{Replication: 2, Metadata: v1alpha1.MetadataObjectStore}}
	wantFatal(t, run(t, newRequest(t, kept, p, three...)), "spec.environment.selfHosted.cluster.replication", "provisioned with replication 2")

	twoZones := clusterXR(3, func(c *v1alpha1.ClusterSpec) { c.Zones = []string{"eu-central-1a", "eu-central-1b"} })
	wantFatal(t, run(t, newRequest(t, twoZones, p, three...)), "spec.environment.selfHosted.cluster.zones", "created with availabilityZone eu-central-1c")

	noStore := newPolicy()
	wantFatal(t, run(t, newRequest(t, clusterXR(3), noStore)), "spec.environment.selfHosted.cluster", "clusterStore.bucket")

	for _, c := range []struct {
		name        string
		xr          *v1alpha1.XRestateStack
		field, text string
	}{
		{"even", clusterXR(4), "cluster.nodes", "must be odd"},
		{"a node too small", func() *v1alpha1.XRestateStack {
			xr := clusterXR(3)
			xr.Spec.Environment.SelfHosted.InstanceType = "t4g.micro"
			return xr
		}(), "selfHosted.instanceType", "a cluster node needs at least 2048 MiB"},
		{"one node", clusterXR(1), "cluster.nodes", "should be greater than or equal to 3"},
		{"replication over nodes", clusterXR(3, func(c *v1alpha1.ClusterSpec) { c.Replication = 5 }), "cluster", "replication may not exceed nodes"},
		{"same zone twice", clusterXR(3, func(c *v1alpha1.ClusterSpec) { c.Zones = []string{"eu-central-1a", "eu-central-1a"} }), "cluster.zones[1]", "Duplicate value"},
		{"another region's zone", clusterXR(3, func(c *v1alpha1.ClusterSpec) { c.Zones = []string{"us-east-1a"} }), "cluster.zones[0]", "must be a zone of region eu-central-1"},
		{"existing network", func() *v1alpha1.XRestateStack {
			xr := clusterXR(3)
			xr.Spec.Environment.SelfHosted.Network.Existing = &v1alpha1.ExistingNetworkSpec{VPCID: "vpc-0123456789abcdef0", SubnetID: "subnet-0123456789abcdef0", AvailabilityZone: "eu-central-1a"}
			return xr
		}(), "selfHosted", "network.existing is not supported with cluster"},
		{"public subnet", func() *v1alpha1.XRestateStack {
			xr := clusterXR(3)
			xr.Spec.Environment.SelfHosted.Network.SubnetType = v1alpha1.SubnetPublic
			return xr
		}(), "selfHosted", "private subnets"},
		{"a VPC too small", func() *v1alpha1.XRestateStack {
			xr := clusterXR(3)
			xr.Spec.Environment.SelfHosted.Network.NewVPC = &v1alpha1.NewVPCSpec{CIDRBlock: "10.0.0.0/23"}
			return xr
		}(), "newVpc.cidrBlock", "too small for 6 /24 subnets: a public and a private one per zone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantFatal(t, run(t, newRequest(t, c.xr, p)), c.field, c.text)
		})
	}
}

// wantIn checks that text holds a line.
func wantIn(t *testing.T, text, line string) {
	t.Helper()
	if !strings.Contains(text, line) {
		t.Errorf("%q is not in:\n%s", line, text)
	}
}

// TestClusterRetiresTargets: the targets of current instances are orphaned
// on deletion (provider-aws cannot delete a target once its group is gone,
// which a stack's deletion does beside it); a replaced instance's targets
// are composed once with Delete, then withdrawn, so that provider-aws
// deregisters them while their group exists.
func TestClusterRetiresTargets(t *testing.T) {
	p := clusterPolicy()
	d, obs := settle(t, clusterXR(3), p, nil)
	old := keysWithPrefix(d, selfhosted.KeyTargetPrefix+"ingress-node-0-")
	if len(old) != 1 || str(d[old[0]], "spec", "deletionPolicy") != "Orphan" {
		t.Fatalf("node 0's ingress targets %v, want one, orphaned on deletion", old)
	}
	bigger := clusterXR(3)
	bigger.Spec.Environment.SelfHosted.InstanceType = "t4g.medium"
	steps := []string{}
	for range 4 {
		d = compose(t, bigger, p, obs...)
		switch {
		case d[old[0]] == nil:
			steps = append(steps, "withdrawn")
		default:
			steps = append(steps, str(d[old[0]], "spec", "deletionPolicy"))
		}
		obs = observe(t, d, nil)
	}
	// Replaced in the first round (the new instance's targets once it is
	// observed), the old target retired in the next, withdrawn after.
	if i := slices.Index(steps, "Delete"); i < 0 || len(steps) <= i+1 || steps[i+1] != "withdrawn" {
		t.Errorf("node 0's old ingress target went %v, want Orphan, then Delete once, then withdrawn", steps)
	}
}

// TestClusterJobsThroughTheLoadBalancer: where the platform declares a path,
// registration Jobs reach the admin API at the load balancer's name, and
// the declared source may reach its admin listener (and nothing else of it).
func TestClusterJobsThroughTheLoadBalancer(t *testing.T) {
	p := clusterPolicy()
	p.Registration.Mode = platform.RegistrationAuto
	p.Registration.AdminAccess = platform.AdminAccess{SourceSecurityGroupIDs: []string{"sg-0c1a5e2b3d4f56789"}}
	xr := clusterXR(3)
	inNamespace("team-a")(xr)
	xr.Spec.Services = []v1alpha1.ServiceSpec{{Name: "orders", HTTP: &v1alpha1.HTTPServiceSpec{URI: "http://orders.example.com:9080"}}}
	d, _ := settle(t, xr, p, nil)
	var rules []string
	for _, k := range keysWithPrefix(d, selfhosted.KeyLBRulePrefix+"admin-from-") {
		rules = append(rules, str(d[k], "spec", "forProvider", "sourceSecurityGroupId"))
	}
	if !slices.Equal(rules, []string{"sg-0c1a5e2b3d4f56789"}) {
		t.Errorf("the load balancer's admin listener is open to %v, want the declared group alone", rules)
	}
	var args, jobs []string
	for k, o := range d {
		if o.GetKind() == "Job" {
			jobs = append(jobs, k)
			args = append(args, argsOf(t, o)...)
		}
	}
	if !slices.ContainsFunc(args, func(a string) bool {
		return strings.HasPrefix(a, "--admin-url=http://internal-rs-") && strings.HasSuffix(a, ".elb.eu-central-1.amazonaws.com:9070")
	}) {
		t.Errorf("no registration Job reaches the admin API at the load balancer: %v (jobs %v)", args, jobs)
	}
	if d[selfhosted.KeyNodeVolumePrefix+"node-0"] == nil || len(keysWithPrefix(d, "agent-orders")) != 0 {
		t.Errorf("with a declared path, Jobs register and no host agent runs: %v", keysWithPrefix(d, "agent-"))
	}
}

// TestClusterRaftProvisioning: with Raft metadata no node provisions alone;
// node 0's bootstrap runs restatectl provision (reading its answer, since
// restatectl exits 0 on failure) and reports it beside the agent's tags,
// which the status then shows.
func TestClusterRaftProvisioning(t *testing.T) {
	p := clusterPolicy()
	xr := clusterXR(3, func(c *v1alpha1.ClusterSpec) { c.Metadata = v1alpha1.MetadataReplicated })
	d, obs := settle(t, xr, p, nil)
	for i, keys := range nodeInstances(d, 3) {
		v, err := userdataview.Decode(str(d[keys[0]], "spec", "forProvider", "userData"))
		if err != nil {
			t.Fatal(err)
		}
		provisions := strings.Contains(v.Script, `provision --yes`) && strings.Contains(v.Script, "restate-agent/cluster-provisioned")
		if provisions != (i == 0) {
			t.Errorf("node %d provisions the cluster: %v, want %v", i, provisions, i == 0)
		}
		wantIn(t, fileOnHost(t, v, "restate.toml"), "auto-provision = false")
	}
	obs = withObserved(obs, selfhosted.KeyNodeVolumePrefix+"node-0", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"key": "restate-agent/cluster-provisioned", "value": "2026-12-04T10:00:00Z"}}, "status", "atProvider", "tags")
	})
	st := statusOf(run(t, newRequest(t, xr, p, obs...)))
	if got := str(st, "status", "selfHosted", "cluster", "provisioned"); got != "2026-12-04T10:00:00Z" {
		t.Errorf("status.selfHosted.cluster.provisioned = %q, want node 0's report", got)
	}
}

// TestClusterNATPerZone: with the platform's NAT gateway per zone, each
// zone's nodes leave through their own zone's gateway.
func TestClusterNATPerZone(t *testing.T) {
	p := clusterPolicy()
	p.ClusterNATGateways = platform.NATGatewaysPerZone
	d, _ := settle(t, clusterXR(3), p, nil)
	if got := len(keysWithPrefix(d, "nat-gateway")); got != 3 {
		t.Fatalf("%d NAT gateways, want one per zone", got)
	}
	for i, zone := range []string{"eu-central-1a", "eu-central-1b", "eu-central-1c"} {
		routes := "route-table-private"
		nat := "nat-gateway"
		if i > 0 {
			routes, nat = routes+"-"+zone, nat+"-"+zone
			if az := str(d[nat], "spec", "forProvider", "subnetIdRef", "name"); !strings.HasSuffix(az, "subnet-public-"+zone) {
				t.Errorf("zone %s's NAT gateway is in %s", zone, az)
			}
		}
		assoc, _, _ := unstructured.NestedSlice(d[routes].Object, "spec", "forProvider", "associations")
		if len(assoc) != 1 || !strings.HasSuffix(assoc[0].(map[string]any)["subnetIdRef"].(map[string]any)["name"].(string), "subnet-private-"+zone) {
			t.Errorf("zone %s: route table %s associates %v", zone, routes, assoc)
		}
		r, _, _ := unstructured.NestedSlice(d[routes].Object, "spec", "forProvider", "routes")
		if !strings.HasSuffix(r[0].(map[string]any)["natGatewayIdRef"].(map[string]any)["name"].(string), nat) {
			t.Errorf("zone %s leaves through %v, want %s", zone, r, nat)
		}
	}
	public, _, _ := unstructured.NestedSlice(d["route-table-public"].Object, "spec", "forProvider", "associations")
	if len(public) != 3 {
		t.Errorf("the public route table associates %d subnets, want the three public ones", len(public))
	}
}
