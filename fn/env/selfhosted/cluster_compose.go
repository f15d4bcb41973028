package selfhosted

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	ec2manual "github.com/crossplane-contrib/provider-aws/apis/ec2/manualv1alpha1"
	ec2 "github.com/crossplane-contrib/provider-aws/apis/ec2/v1beta1"
	xpv1 "github.com/crossplane/crossplane-runtime/apis/common/v1"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// Keys of a cluster's own resources; per-node keys carry the node's name
// (node-0, ...), so that adding nodes never renames one.
const (
	KeyFabricGroup         = "security-group-fabric"
	KeyFabricRule          = "security-group-rule-fabric"
	KeyPrivateSubnetPrefix = "subnet-private-"
	KeyNodeVolumePrefix    = "data-volume-"
)

// nodeVolumeKey is a node's data volume's key.
func nodeVolumeKey(i int) string { return KeyNodeVolumePrefix + nodeName(i) }

// nodeInstancePrefix starts the keys of a node's instances.
func nodeInstancePrefix(i int) string { return KeyInstancePrefix + nodeName(i) + "-" }

// zoneSubnetKey is the private subnet of a cluster's zone.
func zoneSubnetKey(zone string) string { return KeyPrivateSubnetPrefix + zone }

// observedNode is what is observed of one node.
type observedNode struct {
	// Instances are the keys of the node's observed instances.
	Instances []string
	VolumeID  string
}

// nodesOf reads each node's observed instances and volume id, for as many
// nodes as are observed or asked for.
func nodesOf(obs stack.Observed, want int) []observedNode {
	n := want
	for key := range obs {
		for i := n; i < 10; i++ {
			if key == nodeVolumeKey(i) || strings.HasPrefix(key, nodeInstancePrefix(i)) {
				n = i + 1
			}
		}
	}
	nodes := make([]observedNode, n)
	for key := range obs {
		for i := range nodes {
			if strings.HasPrefix(key, nodeInstancePrefix(i)) {
				nodes[i].Instances = append(nodes[i].Instances, key)
			}
		}
	}
	for i := range nodes {
		slices.Sort(nodes[i].Instances)
		for _, id := range []string{obs.Str(nodeVolumeKey(i), "status.atProvider.volumeID"), obs.Annotation(nodeVolumeKey(i), "crossplane.io/external-name")} {
			if volumeIDPattern.MatchString(id) {
				nodes[i].VolumeID = id
				break
			}
		}
	}
	return nodes
}

// composeCluster composes a cluster: a VPC with a private subnet per zone,
// the groups (the fabric port only within the cluster's own), one identity
// for every node with the store's permissions, and per node a data volume,
// an instance and a private DNS name; the load balancer in front.
// Instances are replaced one node at a time (rollout.go).
func (e *Env) composeCluster(s *stack.Stack) ([]stack.Part, error) {
	sh := e.Server
	parts, at := buildClusterNetwork(s, sh)
	zone0 := at[sh.Cluster.Zones[0]]
	parts = append(parts, buildSecurityGroups(s, sh, zone0)...)
	parts = append(parts, buildFabric(s, zone0)...)
	parts = append(parts, buildAdminAccess(s, sh)...)
	parts = append(parts, buildIdentity(s, sh)...)
	parts = append(parts, buildLogGroup(s, sh))

	if sh.Cluster.Endpoint == v1alpha1.EndpointInternalLoadBalancer {
		e.targetGroupKeys = nil
		for _, ep := range sh.endpoints() {
			key, _ := e.targetGroup(s, ep, zone0)
			e.targetGroupKeys = append(e.targetGroupKeys, key)
		}
	}
	hosts := make([]stack.Part, sh.Cluster.Nodes)
	launches := make([]nodeLaunch, sh.Cluster.Nodes)
	for i := range hosts {
		node := e.nodeServer(s, i)
		parts = append(parts, buildVolume(s, node, nodeVolumeKey(i)))
		host, err := buildHost(s, node, at[node.Node.Zone], fieldPath, e.userData)
		if err != nil {
			return nil, err
		}
		hosts[i] = host
		launches[i] = nodeLaunch{Want: host.Key, Have: e.observed[i].Instances, Serving: e.serving(i, host.Key)}
		if node.VolumeID == "" && len(launches[i].Have) > 0 {
			// The volume's id is lost (a status wiped): the node keeps
			// what it runs rather than be launched with none.
			launches[i].Want = launches[i].Have[0]
		}
	}
	plan, replacing := planRollout(launches)
	e.replacing = replacing
	e.instanceKeys = make([]string, len(hosts))
	e.composedInstances = plan
	for i, keys := range plan {
		for _, key := range keys {
			if key == hosts[i].Key {
				parts = append(parts, hosts[i])
			} else {
				held, err := e.heldInstance(key)
				if err != nil {
					return nil, err
				}
				parts = append(parts, held)
			}
		}
		e.instanceKeys[i] = e.currentInstance(i, keys)
	}
	parts = append(parts, e.buildNames(s, zone0)...)
	if sh.Cluster.Endpoint == v1alpha1.EndpointInternalLoadBalancer {
		parts = append(parts, e.buildLoadBalancer(s, sh, at)...)
	}
	return parts, nil
}

// nodeServer is the server as node i runs it: its place in the cluster,
// its own volume, and the agent on node 0 alone (one registrar, never two
// at once).
func (e *Env) nodeServer(s *stack.Stack, i int) *Server {
	node := *e.Server
	node.Node = e.Server.node(s.Region, i)
	node.VolumeID = e.observed[i].VolumeID
	if i != 0 {
		node.Agent = nil
	}
	return &node
}

// currentInstance is the key of the instance a node's name and targets
// point at: the newest observed with an address, else the first composed.
func (e *Env) currentInstance(i int, keys []string) string {
	for _, k := range slices.Backward(keys) {
		if e.obs.Str(k, "status.atProvider.privateIpAddress") != "" {
			return k
		}
	}
	return keys[0]
}

// serving says whether node i serves with the instance it is asked to run
// (or, stale, with the one it has): the instance is ready and, behind the
// load balancer, its targets are healthy.
func (e *Env) serving(i int, want string) bool {
	key := want
	if have := e.observed[i].Instances; !slices.Contains(have, want) && len(have) == 1 {
		key = have[0]
	}
	if !e.obs.Ready(key) {
		return false
	}
	if e.Cluster.Endpoint != v1alpha1.EndpointInternalLoadBalancer {
		return true
	}
	for _, k := range e.targetKeys(i, key) {
		if !e.obs.Ready(k) {
			return false
		}
	}
	return true
}

// heldInstance is an observed instance kept as it is, while its node
// waits for its turn to be replaced: its desired state is what it was
// created with.
func (e *Env) heldInstance(key string) (stack.Part, error) {
	fp := e.obs.Value(key, "spec.forProvider")
	raw, err := fp.MarshalJSON()
	if err != nil {
		return stack.Part{}, fmt.Errorf("%s: cannot read the observed instance: %w", key, err)
	}
	var p ec2manual.InstanceParameters
	if err := json.Unmarshal(raw, &p); err != nil {
		return stack.Part{}, fmt.Errorf("%s: cannot read the observed instance: %w", key, err)
	}
	return stack.Part{Key: key, MR: &ec2manual.Instance{Spec: ec2manual.InstanceSpec{ForProvider: p}}}, nil
}

// buildClusterNetwork composes the cluster's VPC: the public subnet (the NAT
// gateway's) in the first zone, and a private subnet in every zone, all
// leaving through the one NAT gateway; or, with a NAT gateway per zone (the
// platform's choice), a public subnet, NAT gateway and private route table
// in every zone. It returns where each zone's nodes go.
func buildClusterNetwork(s *stack.Stack, sh *Server) ([]stack.Part, map[string]placement) {
	parts, single := buildNetwork(s, sh)
	ref := func(key string) *xpv1.Reference { return &xpv1.Reference{Name: stack.ResourceName(s.Name, key)} }
	v := sh.Network.NewVPC
	var routes, publicRoutes *ec2.RouteTable
	at := map[string]placement{}
	for i, p := range parts {
		switch p.Key {
		case KeyPrivateSubnet:
			parts[i].Key = zoneSubnetKey(sh.Cluster.Zones[0])
		case KeyPrivateRouteTable:
			routes = p.MR.(*ec2.RouteTable)
		case KeyPublicRouteTable:
			publicRoutes = p.MR.(*ec2.RouteTable)
		}
	}
	routes.Spec.ForProvider.Associations = nil
	for j, zone := range sh.Cluster.Zones {
		key := zoneSubnetKey(zone)
		routesKey, natKey := KeyPrivateRouteTable, KeyNATGateway
		if j > 0 {
			parts = append(parts, stack.Part{Key: key, MR: &ec2.Subnet{Spec: ec2.SubnetSpec{ForProvider: ec2.SubnetParameters{
				CIDRBlock:           privateSubnetCIDR(v, j),
				AvailabilityZone:    ptr.To(zone),
				MapPublicIPOnLaunch: ptr.To(false),
				VPCIDRef:            single.VPCRef,
			}}}})
		}
		zoneRoutes := routes
		if j > 0 && sh.NATPerZone {
			public, address := KeyPublicSubnet+"-"+zone, KeyNATAddress+"-"+zone
			routesKey, natKey = KeyPrivateRouteTable+"-"+zone, KeyNATGateway+"-"+zone
			zoneRoutes = &ec2.RouteTable{Spec: ec2.RouteTableSpec{ForProvider: ec2.RouteTableParameters{
				VPCIDRef: single.VPCRef,
				Routes:   []ec2.RouteBeta{{DestinationCIDRBlock: ptr.To(anywhere), NatGatewayIDRef: ref(natKey)}},
			}}}
			parts = append(parts,
				stack.Part{Key: public, MR: &ec2.Subnet{Spec: ec2.SubnetSpec{ForProvider: ec2.SubnetParameters{
					CIDRBlock:           publicSubnetCIDR(v, len(sh.Cluster.Zones), j),
					AvailabilityZone:    ptr.To(zone),
					MapPublicIPOnLaunch: ptr.To(false),
					VPCIDRef:            single.VPCRef,
				}}}},
				stack.Part{Key: address, MR: &ec2.Address{Spec: ec2.AddressSpec{ForProvider: ec2.AddressParameters{Domain: ptr.To("vpc")}}}},
				stack.Part{Key: natKey, MR: &ec2.NATGateway{Spec: ec2.NATGatewaySpec{ForProvider: ec2.NATGatewayParameters{
					AllocationIDRef: ref(address),
					SubnetIDRef:     ref(public),
				}}}},
				stack.Part{Key: routesKey, MR: zoneRoutes},
			)
			publicRoutes.Spec.ForProvider.Associations = append(publicRoutes.Spec.ForProvider.Associations, ec2.Association{SubnetIDRef: ref(public)})
		}
		zoneRoutes.Spec.ForProvider.Associations = append(zoneRoutes.Spec.ForProvider.Associations, ec2.Association{SubnetIDRef: ref(key)})
		at[zone] = placement{SubnetRef: ref(key), VPCRef: single.VPCRef, path: []string{key, routesKey, natKey}}
	}
	return parts, at
}

// buildFabric composes the cluster's own group, which every node is a
// member of, and its one rule: the fabric port from its members only.
func buildFabric(s *stack.Stack, at placement) []stack.Part {
	g := securityGroup(s, KeyFabricGroup, "Restate cluster fabric: "+stack.ResourceName(s.Name, KeyFabricGroup), at)
	rule := ingressRule(s, KeyFabricGroup, FabricPort, "Restate node-to-node fabric, from the cluster's nodes only")
	rule.SourceSecurityGroupIDRef = &xpv1.Reference{Name: stack.ResourceName(s.Name, KeyFabricGroup)}
	return []stack.Part{
		{Key: KeyFabricGroup, MR: g},
		{Key: KeyFabricRule, MR: &ec2manual.SecurityGroupRule{Spec: ec2manual.SecurityGroupRuleSpec{ForProvider: rule}}},
	}
}
