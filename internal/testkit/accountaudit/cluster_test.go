package accountaudit

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// healthyCluster is healthy() with a three-node cluster "k" beside the
// single hosts: one role for its nodes (every node's volume, the store's
// prefix, the agent on node 0), the fabric group, and an internal load
// balancer with its own group forwarding to the three nodes.
func healthyCluster() (Account, []Stack) {
	a, stacks := healthy()
	const sgIngress, sgAdmin, sgFabric, sgLB = "sg-k1", "sg-k2", "sg-kf", "sg-klb"
	all := []Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, CIDRs: []string{anywhere}}}
	a.SecurityGroups = append(a.SecurityGroups,
		SecurityGroup{ID: sgIngress, Egress: all, Ingress: []Rule{
			{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Groups: []string{sgIngress}},
			{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Groups: []string{sgLB}}}},
		SecurityGroup{ID: sgAdmin, Ingress: []Rule{
			{Protocol: "tcp", FromPort: 9070, ToPort: 9070, Groups: []string{sgAdmin}},
			{Protocol: "tcp", FromPort: 9070, ToPort: 9070, Groups: []string{sgLB}}}},
		SecurityGroup{ID: sgFabric, Ingress: []Rule{{Protocol: "tcp", FromPort: 5122, ToPort: 5122, Groups: []string{sgFabric}}}},
		SecurityGroup{ID: sgLB, Ingress: []Rule{
			{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Groups: []string{sgIngress}},
			{Protocol: "tcp", FromPort: 9070, ToPort: 9070, Groups: []string{sgAdmin}}}})
	profile := "arn:aws:iam::" + acct + ":instance-profile/k-profile"
	a.InstanceProfiles = append(a.InstanceProfiles, InstanceProfile{ARN: profile, Roles: []string{roleARN("k-instance-role")}})
	a.LogGroups = append(a.LogGroups, LogGroup{Name: "/restate/k", ARN: logARN("/restate/k")})
	group := strings.TrimSuffix(logARN("/restate/k"), ":*")
	secret := "arn:aws:secretsmanager:eu-central-1:" + acct + ":secret:k-agent-orders"
	a.Secrets = append(a.Secrets, Secret{Name: "k-agent-orders", ARN: secret + "-Zz12Yy"})
	c := &Cluster{FabricGroup: sgFabric, LoadBalancer: "rs-k-lb", LBGroup: sgLB,
		LBIngressSources: []string{sgIngress}, LBAdminSources: []string{sgAdmin}, StoreBucket: "platform", StorePrefix: "stacks/k"}
	var volumes, ids []string
	for i := range 3 {
		zone := fmt.Sprintf("eu-central-1%c", 'a'+i)
		id, vol, subnet := fmt.Sprintf("i-k%d", i), fmt.Sprintf("vol-k%d", i), fmt.Sprintf("subnet-k%d", i)
		a.Instances = append(a.Instances, Instance{ID: id, Region: "eu-central-1", Zone: zone, Tags: map[string]string{"stack": "k"},
			SubnetID: subnet, Groups: []string{sgIngress, sgAdmin, sgFabric}, ProfileARN: profile})
		a.Volumes = append(a.Volumes, Volume{ID: vol, Region: "eu-central-1", Zone: zone, Encrypted: true})
		a.Subnets = append(a.Subnets, Subnet{ID: subnet, Routes: []Route{{anywhere, "nat-k"}}})
		volumes, ids = append(volumes, "arn:aws:ec2:eu-central-1:"+acct+":volume/"+vol), append(ids, id)
		h := Host{InstanceID: id, IngressPort: 8080, AdminPort: 9070, IngressSources: []string{sgIngress, sgLB}, AdminSources: []string{sgAdmin, sgLB},
			InstanceRole: "k-instance-role", LogGroup: "/restate/k", DataVolumeID: vol}
		if i == 0 {
			h.OrdersSecret = "k-agent-orders"
		}
		c.Nodes = append(c.Nodes, h)
	}
	a.Roles = append(a.Roles,
		Role{Name: "k-instance-role", ARN: roleARN("k-instance-role"),
			Trust:    policy(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole"]}`),
			Attached: []string{"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
			Inline: map[string]string{"p": policy(allow("sts:AssumeRole", roleARN("k-invoker-role")),
				allow("logs:CreateLogStream", group+":*"), allow("logs:PutLogEvents", group+":*"),
				allow("ec2:AttachVolume", volumes...),
				`{"Effect":"Allow","Action":["ec2:AttachVolume"],"Resource":["arn:aws:ec2:eu-central-1:`+acct+`:instance/*"],"Condition":{"StringEquals":{"aws:ResourceTag/stack":"k"}}}`,
				`{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::platform"],"Condition":{"StringLike":{"s3:prefix":"stacks/k/*"}}}`,
				`{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload"],"Resource":["arn:aws:s3:::platform/stacks/k/*"]}`,
				allow("secretsmanager:GetSecretValue", secret+"-??????"),
				`{"Effect":"Allow","Action":["ec2:CreateTags","ec2:DeleteTags"],"Resource":["`+volumes[0]+`"],"Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"restate-agent/*"},"Null":{"aws:TagKeys":"false"}}}`)}},
		Role{Name: "k-invoker-role", ARN: roleARN("k-invoker-role"),
			Trust: policy(`{"Effect":"Allow","Principal":{"AWS":"` + roleARN("k-instance-role") + `"},"Action":["sts:AssumeRole"]}`)})
	a.LoadBalancers = append(a.LoadBalancers, LoadBalancer{Name: "rs-k-lb", ARN: "arn:lb/k", Scheme: "internal", Groups: []string{sgLB},
		Listeners: []Listener{{Port: 8080, TargetGroups: []string{"arn:tg/k-ingress"}}, {Port: 9070, TargetGroups: []string{"arn:tg/k-admin"}}}})
	a.TargetGroups = append(a.TargetGroups, TargetGroup{ARN: "arn:tg/k-ingress", Port: 8080, Targets: slices.Clone(ids)},
		TargetGroup{ARN: "arn:tg/k-admin", Port: 9070, Targets: slices.Clone(ids)})
	return a, append(stacks, Stack{Name: "k", InvokerRole: "k-invoker-role", Host: &c.Nodes[0], Cluster: c})
}

func TestHealthyClusterHasNoFindings(t *testing.T) {
	a, stacks := healthyCluster()
	for _, f := range Audit(a, stacks) {
		t.Error(f)
	}
}

// TestBrokenClusters: each flaw of a cluster's fabric, store or load
// balancer is found, by its flow.
func TestBrokenClusters(t *testing.T) {
	group := func(a *Account, id string) *SecurityGroup {
		i := slices.IndexFunc(a.SecurityGroups, func(g SecurityGroup) bool { return g.ID == id })
		return &a.SecurityGroups[i]
	}
	role := func(a *Account) *Role {
		return &a.Roles[slices.IndexFunc(a.Roles, func(r Role) bool { return r.Name == "k-instance-role" })]
	}
	for _, tc := range []struct {
		name    string
		breakIt func(a *Account)
		want    string
	}{
		{"the fabric port open to the VPC", func(a *Account) {
			group(a, "sg-kf").Ingress[0].CIDRs = []string{"10.0.0.0/16"}
		}, `k: flow "nodes -> fabric": port 5122 -> group sg-kf: open to [10.0.0.0/16 sg-kf]`},
		{"the fabric port from another stack's instance", func(a *Account) {
			a.Instances[0].Groups = append(a.Instances[0].Groups, "sg-kf")
		}, `k: flow "nodes -> fabric": instance i-a -> group sg-kf: in the cluster's group: true; a node of the cluster: false`},
		{"a node outside the fabric group", func(a *Account) {
			i := slices.IndexFunc(a.Instances, func(x Instance) bool { return x.ID == "i-k2" })
			a.Instances[i].Groups = a.Instances[i].Groups[:2]
		}, `k: flow "nodes -> fabric": instance i-k2 -> group sg-kf: in the cluster's group: false; a node of the cluster: true`},
		{"the fabric group opening more ports", func(a *Account) {
			group(a, "sg-kf").Ingress[0].ToPort = 5200
		}, `k: flow "nodes -> fabric": group sg-kf -> tcp 5122-5200: the cluster's group opens more than the fabric port`},
		{"the whole bucket", func(a *Account) {
			r := role(a)
			r.Inline["p"] = strings.ReplaceAll(r.Inline["p"], "arn:aws:s3:::platform/stacks/k/*", "arn:aws:s3:::platform/*")
		}, `k: flow "nodes -> the store's prefix": role k-instance-role -> arn:aws:s3:::platform/top-level-object: s3:GetObject allowed, want denied`},
		{"a listing of every prefix", func(a *Account) {
			r := role(a)
			r.Inline["p"] = strings.ReplaceAll(r.Inline["p"], `"stacks/k/*"`, `"*"`)
		}, `k: flow "nodes -> the store's prefix": role k-instance-role -> arn:aws:s3:::platform: s3:ListBucket allowed, want denied`},
		{"a prefix without its slash", func(a *Account) {
			r := role(a)
			r.Inline["p"] = strings.ReplaceAll(r.Inline["p"], "platform/stacks/k/*", "platform/stacks/k*")
		}, `k: flow "nodes -> the store's prefix": role k-instance-role -> arn:aws:s3:::platform/stacks/kx/metadata/nodes_config: s3:GetObject allowed, want denied`},
		{"an internet-facing load balancer", func(a *Account) {
			a.LoadBalancers[0].Scheme = "internet-facing"
		}, `k: flow "load balancer -> nodes": load balancer rs-k-lb -> the internet: scheme "internet-facing", not internal`},
		{"the admin listener open to the world", func(a *Account) {
			group(a, "sg-klb").Ingress[1].CIDRs = []string{anywhere}
		}, `k: flow "load balancer -> nodes": port 9070 -> load balancer rs-k-lb: the admin port is open to the world`},
		{"a listener on another port", func(a *Account) {
			a.LoadBalancers[0].Listeners = append(a.LoadBalancers[0].Listeners, Listener{Port: 5122})
		}, `k: flow "load balancer -> nodes": load balancer rs-k-lb -> its listeners: on ports [5122 8080 9070], want [8080 9070]`},
		{"a target that is not a node", func(a *Account) {
			a.TargetGroups[0].Targets = append(a.TargetGroups[0].Targets, "i-a")
		}, `k: flow "load balancer -> nodes": load balancer rs-k-lb -> listener 8080: forwards to [i-k0 i-k1 i-k2 i-a]`},
		{"a second group on the load balancer", func(a *Account) {
			a.LoadBalancers[0].Groups = append(a.LoadBalancers[0].Groups, "sg-a1")
		}, `k: flow "load balancer -> nodes": load balancer rs-k-lb -> its groups: [sg-klb sg-a1], not its own group sg-klb alone`},
		{"a node's volume no node may attach", func(a *Account) {
			r := role(a)
			r.Inline["p"] = strings.ReplaceAll(r.Inline["p"], `,"arn:aws:ec2:eu-central-1:`+acct+`:volume/vol-k2"`, "")
		}, `k: flow "host -> its data volume": role k-instance-role -> arn:aws:ec2:eu-central-1:123456789012:volume/vol-k2: ec2:AttachVolume denied, want allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, stacks := healthyCluster()
			tc.breakIt(&a)
			var got []string
			for _, f := range Audit(a, stacks) {
				got = append(got, f.String())
			}
			if !slices.ContainsFunc(got, func(f string) bool { return strings.HasPrefix(f, tc.want) }) {
				t.Errorf("want a finding starting %q, got:\n%s", tc.want, strings.Join(got, "\n"))
			}
		})
	}
}
