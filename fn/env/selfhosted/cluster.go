package selfhosted

import (
	"fmt"
	"strings"

	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// FabricPort is the port Restate's nodes talk to each other on; it is never
// open beyond the cluster's own nodes.
const FabricPort = 5122

// Metadata stores a cluster can keep its metadata in.
const (
	// MetadataObjectStore keeps metadata in S3: no quorum of nodes to lose,
	// and safe with one node provisioning the cluster on its own.
	MetadataObjectStore = "ObjectStore"
	// MetadataReplicated keeps metadata in Raft on every node.
	MetadataReplicated = "Replicated"
)

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
	// Metadata is MetadataObjectStore or MetadataReplicated.
	Metadata string
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
	provision := n.Provisions && n.Metadata == MetadataObjectStore
	cfg.AutoProvision = &provision
	cfg.DefaultReplication = n.Replication
	cfg.BindAddress = fmt.Sprintf("0.0.0.0:%d", FabricPort)
	cfg.AdvertisedAddress = nodeURL(n.Address)
	store := strings.TrimSuffix(n.Store, "/")
	switch n.Metadata {
	case MetadataReplicated:
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
