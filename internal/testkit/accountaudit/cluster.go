package accountaudit

import (
	"fmt"
	"slices"
	"strings"
)

// cluster checks what a cluster's nodes share: the fabric port open only
// within the cluster's own group, and every node in it; the store's prefix,
// and nothing else of the bucket or of another stack's prefix; the load
// balancer internal, behind its own group, open only to the declared
// sources on the ingress and admin ports, and forwarding to exactly the
// stack's nodes.
func (au *auditor) cluster(s Stack, others []Stack) {
	c := s.Cluster
	ids := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		ids[i] = n.InstanceID
	}

	// Fabric.
	fabric, ok := find(au.a.SecurityGroups, func(g SecurityGroup) bool { return g.ID == c.FabricGroup })
	if !ok {
		au.fail(s, FlowFabric, "group "+c.FabricGroup, "the account", "no such group")
	} else {
		var sources []string
		for _, r := range fabric.Ingress {
			if !r.covers(fabricPort) || r.FromPort != r.ToPort {
				au.fail(s, FlowFabric, "group "+fabric.ID, fmt.Sprintf("%s %d-%d", r.Protocol, r.FromPort, r.ToPort), "the cluster's group opens more than the fabric port")
			}
			sources = append(sources, append(slices.Clone(r.CIDRs), r.Groups...)...)
		}
		if !sameSet(dedupe(sources), []string{fabric.ID}) {
			au.fail(s, FlowFabric, fmt.Sprintf("port %d", fabricPort), "group "+fabric.ID, "open to %v, not to the cluster's own group alone", sources)
		}
	}
	for _, inst := range au.a.Instances {
		member := slices.Contains(inst.Groups, c.FabricGroup)
		if ours := slices.Contains(ids, inst.ID); member != ours {
			au.fail(s, FlowFabric, "instance "+inst.ID, "group "+c.FabricGroup, "in the cluster's group: %v; a node of the cluster: %v", member, ours)
		}
		if slices.Contains(ids, inst.ID) {
			continue
		}
		// No other instance's group opens the fabric port to anything.
		for _, g := range au.a.SecurityGroups {
			if !slices.Contains(inst.Groups, g.ID) {
				continue
			}
			for _, r := range g.Ingress {
				if r.covers(fabricPort) && slices.Contains(r.Groups, c.FabricGroup) {
					au.fail(s, FlowFabric, "group "+g.ID, "instance "+inst.ID, "another instance's group lets the cluster's nodes in on the fabric port")
				}
			}
		}
	}

	// The store.
	if role, ok := au.role(s.Host.InstanceRole); ok {
		bucket := "arn:aws:s3:::" + c.StoreBucket
		prefix := c.StorePrefix + "/"
		au.justify(role.Name, "s3:ListBucket", bucket, map[string]map[string][]string{"StringLike": {"s3:prefix": {prefix + "*"}}})
		for _, a := range []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"} {
			au.justify(role.Name, a, bucket+"/"+prefix+"*", nil)
			au.allow(s, FlowStore, role, a, bucket+"/"+prefix+"snapshots/0/x.sst", true)
			au.allow(s, FlowStore, role, a, bucket+"/"+strings.TrimSuffix(c.StorePrefix, "/")+"x/metadata/nodes_config", false)
			au.allow(s, FlowStore, role, a, "arn:aws:s3:::another-bucket/"+prefix+"x", false)
			au.allow(s, FlowStore, role, a, bucket+"/top-level-object", false)
		}
		au.allowWith(s, FlowStore, role, "s3:ListBucket", bucket, map[string]string{"s3:prefix": prefix + "snapshots/"}, true)
		au.allowWith(s, FlowStore, role, "s3:ListBucket", bucket, map[string]string{"s3:prefix": ""}, false)
		for _, o := range others {
			if o.Cluster == nil {
				continue
			}
			other := "arn:aws:s3:::" + o.Cluster.StoreBucket
			au.allow(s, FlowStore, role, "s3:GetObject", other+"/"+o.Cluster.StorePrefix+"/metadata/nodes_config", o.Cluster.StoreBucket == c.StoreBucket && o.Cluster.StorePrefix == c.StorePrefix)
			au.allowWith(s, FlowStore, role, "s3:ListBucket", other, map[string]string{"s3:prefix": o.Cluster.StorePrefix + "/"}, false)
		}
	}

	// The load balancer.
	if c.LoadBalancer == "" {
		return
	}
	lb, ok := find(au.a.LoadBalancers, func(l LoadBalancer) bool { return l.Name == c.LoadBalancer || l.ARN == c.LoadBalancer })
	if !ok {
		au.fail(s, FlowLoadBalancer, "load balancer "+c.LoadBalancer, "the account", "no such load balancer")
		return
	}
	identity := "load balancer " + lb.Name
	if lb.Scheme != "internal" {
		au.fail(s, FlowLoadBalancer, identity, "the internet", "scheme %q, not internal", lb.Scheme)
	}
	if !sameSet(lb.Groups, []string{c.LBGroup}) {
		au.fail(s, FlowLoadBalancer, identity, "its groups", "%v, not its own group %s alone", lb.Groups, c.LBGroup)
	}
	h := c.Nodes[0]
	if g, ok := find(au.a.SecurityGroups, func(g SecurityGroup) bool { return g.ID == c.LBGroup }); ok {
		open := map[int][]string{}
		for _, r := range g.Ingress {
			switch {
			case r.covers(h.IngressPort) && r.FromPort == r.ToPort:
				open[h.IngressPort] = append(open[h.IngressPort], append(slices.Clone(r.CIDRs), r.Groups...)...)
			case r.covers(h.AdminPort) && r.FromPort == r.ToPort:
				open[h.AdminPort] = append(open[h.AdminPort], append(slices.Clone(r.CIDRs), r.Groups...)...)
			default:
				au.fail(s, FlowLoadBalancer, "group "+g.ID, fmt.Sprintf("%s %d-%d", r.Protocol, r.FromPort, r.ToPort), "open beyond the ingress and admin ports")
			}
		}
		for port, want := range map[int][]string{h.IngressPort: c.LBIngressSources, h.AdminPort: c.LBAdminSources} {
			if got := dedupe(open[port]); !sameSet(got, want) {
				au.fail(s, FlowLoadBalancer, fmt.Sprintf("port %d", port), identity, "open to %v, declared %v", got, want)
			}
		}
		if slices.Contains(open[h.AdminPort], anywhere) {
			au.fail(s, FlowLoadBalancer, fmt.Sprintf("port %d", h.AdminPort), identity, "the admin port is open to the world")
		}
	}
	var ports []int
	for _, l := range lb.Listeners {
		ports = append(ports, l.Port)
		for _, arn := range l.TargetGroups {
			tg, ok := find(au.a.TargetGroups, func(t TargetGroup) bool { return t.ARN == arn })
			if !ok {
				au.fail(s, FlowLoadBalancer, identity, "target group "+arn, "no such target group")
				continue
			}
			if !sameSet(dedupe(tg.Targets), ids) {
				au.fail(s, FlowLoadBalancer, identity, fmt.Sprintf("listener %d", l.Port), "forwards to %v, the cluster's nodes are %v", tg.Targets, ids)
			}
		}
	}
	slices.Sort(ports)
	want := []int{h.IngressPort, h.AdminPort}
	slices.Sort(want)
	if !slices.Equal(ports, want) {
		au.fail(s, FlowLoadBalancer, identity, "its listeners", "on ports %v, want %v", ports, want)
	}
}
