package selfhosted

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// FabricPort is the port Restate's nodes talk to each other on; it is never
// open beyond the cluster's own nodes.
const FabricPort = 5122

// defaultStorePrefix is where stacks' cluster data goes in the platform's
// bucket, unless the platform says.
const defaultStorePrefix = "restate"

// clusterStore is where a cluster keeps its metadata and snapshots.
type clusterStore struct {
	Bucket, Region string
	// Prefix is the stack's own: <platform prefix>/<stack>, without a
	// trailing slash.
	Prefix string
}

// URL is the store as Restate takes it, s3://bucket/prefix.
func (c clusterStore) URL() string { return "s3://" + c.Bucket + "/" + c.Prefix + "/" }

// resolveCluster fills in a cluster's defaults and checks what the claim
// and the platform's policy ask together: the store is the platform's, the
// zones are the region's, and the network is one the cluster can spread
// over.
func resolveCluster(name, region string, sh *Server, p *platform.StackPolicy, fp *field.Path) field.ErrorList {
	c := sh.Cluster
	cp := fp.Child("cluster")
	var errs field.ErrorList
	if c.Replication == 0 {
		c.Replication = 2
	}
	if c.Metadata == "" {
		c.Metadata = v1alpha1.MetadataObjectStore
	}
	if c.Endpoint == "" {
		c.Endpoint = v1alpha1.EndpointInternalLoadBalancer
	}
	if len(c.Zones) == 0 {
		c.Zones = []string{region + "a", region + "b", region + "c"}
	}
	for i, z := range c.Zones {
		errs = append(errs, zoneOf(region, z, cp.Child("zones").Index(i))...)
	}
	if c.Nodes < 3 || c.Nodes%2 == 0 {
		errs = append(errs, field.Invalid(cp.Child("nodes"), c.Nodes, "must be odd and at least 3"))
	}
	if c.Replication > c.Nodes {
		errs = append(errs, field.Invalid(cp.Child("replication"), c.Replication, "may not exceed nodes"))
	}
	if v := sh.Network.NewVPC; v != nil {
		np := fp.Child("network", "newVpc")
		if v.PrivateSubnetCIDR != "" {
			errs = append(errs, field.Forbidden(np.Child("privateSubnetCidr"), "a cluster has a private subnet per zone: the /24s after the public subnet's"))
		}
		if v.AvailabilityZone != "" {
			errs = append(errs, field.Forbidden(np.Child("availabilityZone"), "a cluster's zones are cluster.zones; the public subnet goes in the first"))
		}
	}
	store := p.ClusterStore
	if store == nil || store.Bucket == "" {
		return append(errs, field.Forbidden(cp, "the platform names no bucket for clusters (StackPolicy clusterStore.bucket in the Composition): ask the platform team"))
	}
	sh.Store = clusterStore{Bucket: store.Bucket, Region: store.Region, Prefix: store.Prefix}
	if sh.Store.Region == "" {
		sh.Store.Region = region
	}
	if sh.Store.Prefix == "" {
		sh.Store.Prefix = defaultStorePrefix
	}
	sh.Store.Prefix = strings.Trim(sh.Store.Prefix, "/") + "/" + name
	sh.DNSZone = dnsLabel(name) + ".restate.internal"
	sh.NATPerZone = p.ClusterNATGateways == platform.NATGatewaysPerZone
	return errs
}

// dnsLabel is a stack's name as one DNS label: itself when it is one (a
// composite's name usually is), else a hash of it.
func dnsLabel(name string) string {
	if len(name) <= 50 && !strings.Contains(name, ".") {
		return name
	}
	return "stack-" + stack.HashOf(name)
}

// nodeName is node i's permanent node-name.
func nodeName(i int) string { return fmt.Sprintf("node-%d", i) }

// node is node i of the cluster. Node i lives in zone i modulo the zones,
// so that adding nodes never moves one.
func (s *Server) node(region string, i int) *ClusterNode {
	c := s.Cluster
	peers := make([]string, c.Nodes)
	for j := range peers {
		peers[j] = nodeName(j) + "." + s.DNSZone
	}
	return &ClusterNode{
		Name: nodeName(i), Region: region, Zone: c.Zones[i%len(c.Zones)], Address: peers[i],
		Provisions: i == 0, Replication: c.Replication, Metadata: c.Metadata, Peers: peers,
		Store: s.Store.URL(), StoreRegion: s.Store.Region,
	}
}

// ClusterNode is one host's place in a Restate cluster. Everything in it is
// fixed once the node has joined: its name names its data directory, its
// location cannot change once registered, and its advertised address is a
// DNS name that stays when the instance behind it is replaced, so that
// replacing one node changes no other node's configuration.
type ClusterNode struct {
	// Name is the node's permanent node-name.
	Name string
	// Region and Zone are its location.
	Region, Zone string
	// Address is the node's stable private DNS name.
	Address string
	// Provisions is true on the one node that provisions the cluster, once
	// (object-store metadata only: with Raft a majority must be up first).
	Provisions bool
	// Replication is the replicated log's and partitions' replication,
	// which counts only when the cluster is provisioned.
	Replication int32
	// Metadata is where the cluster keeps its metadata.
	Metadata v1alpha1.ClusterMetadata
	// Peers are every node's Address, this one's included (the metadata
	// servers, with Raft).
	Peers []string
	// Store is the S3 location of the stack's cluster data, as
	// s3://bucket/prefix (metadata and snapshots below it).
	Store string
	// StoreRegion is the bucket's region.
	StoreRegion string
}

// metadataClientConfig is where a node finds the cluster's metadata.
type metadataClientConfig struct {
	Type      string   `toml:"type"`
	Path      string   `toml:"path,omitempty"`
	AWSRegion string   `toml:"aws-region,omitempty"`
	Addresses []string `toml:"addresses,omitempty"`
}

// snapshotsConfig is where a worker writes its partitions' snapshots, which
// a replicated log needs to be trimmed and a node to catch up.
type snapshotsConfig struct {
	Destination string `toml:"destination"`
	// Interval makes snapshots periodic; without one a worker takes none
	// unless asked, and the replicated log is never trimmed.
	Interval  string `toml:"snapshot-interval"`
	AWSRegion string `toml:"aws-region,omitempty"`
}

// fabricPort is the port a node publishes for its peers; 0 on a single node.
func fabricPort(sh *Server) int {
	if sh.Node == nil {
		return 0
	}
	return FabricPort
}

// nodeURL is a node's fabric address as Restate advertises it.
func nodeURL(address string) string {
	return fmt.Sprintf("http://%s:%d/", address, FabricPort)
}

// configure turns a single node's configuration into this node's. Every
// node carries every role: at three to seven nodes, separate stateless
// nodes would add hosts without taking load off the stateful ones.
func (n *ClusterNode) configure(cfg *restateConfig) {
	cfg.NodeName = n.Name
	cfg.Roles = []string{"worker", "admin", "log-server", "http-ingress"}
	cfg.Location = n.Region + "." + n.Zone
	provision := n.Provisions && n.Metadata == v1alpha1.MetadataObjectStore
	cfg.AutoProvision = &provision
	cfg.DefaultReplication = n.Replication
	cfg.BindAddress = fmt.Sprintf("0.0.0.0:%d", FabricPort)
	cfg.AdvertisedAddress = nodeURL(n.Address)
	store := strings.TrimSuffix(n.Store, "/")
	switch n.Metadata {
	case v1alpha1.MetadataReplicated:
		cfg.Roles = append(cfg.Roles, "metadata-server")
		peers := make([]string, len(n.Peers))
		for i, p := range n.Peers {
			peers[i] = nodeURL(p)
		}
		cfg.MetadataClient = &metadataClientConfig{Type: "replicated", Addresses: peers}
	default:
		cfg.MetadataClient = &metadataClientConfig{Type: "object-store", Path: store + "/metadata", AWSRegion: n.StoreRegion}
	}
	cfg.Bifrost.DefaultProvider = "replicated"
	cfg.Worker.Snapshots = &snapshotsConfig{Destination: store + "/snapshots", Interval: "1h", AWSRegion: n.StoreRegion}
}

// clusterStoreStatements are what a node may do in the cluster's store:
// list the bucket under the stack's prefix only, and read, write and
// delete objects under it (Restate deletes the snapshots it no longer
// keeps, and aborts the multipart uploads of large ones). The prefix ends
// in "/", so that stack "a" never matches stack "ab"'s objects.
func clusterStoreStatements(s *stack.Stack, bucket, prefix string) []stack.Statement {
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	return []stack.Statement{
		{Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{s.S3ARN(bucket)},
			Condition: map[string]map[string]string{"StringLike": {"s3:prefix": prefix + "*"}}},
		stack.Allow([]string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}, s.S3ARN(bucket+"/"+prefix+"*")),
	}
}
