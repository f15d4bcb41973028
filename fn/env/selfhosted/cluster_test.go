package selfhosted

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/iampolicy"
)

// testCluster resolves a three-node cluster claim of the stack "pay-x7k2p"
// under a platform whose cluster store is s3://platform-restate/stacks/.
func testCluster(t *testing.T, metadata v1alpha1.ClusterMetadata) *Server {
	t.Helper()
	policy := &platform.StackPolicy{ClusterStore: &platform.ClusterStorePolicy{Bucket: "platform-restate", Prefix: "stacks"}}
	sh, errs := resolveServer("pay-x7k2p", "/restate/pay-x7k2p", "eu-central-1",
		v1alpha1.SelfHostedSpec{Cluster: &v1alpha1.ClusterSpec{Nodes: 3, Metadata: metadata}}, policy, fieldPath)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return sh
}

// TestClusterNodeConfigReadByRestate hands each node's rendered config to a
// real restate-server (--dump-config) and checks that the server reads back
// every cluster setting: Restate ignores unknown keys, so reading them back
// is what proves the keys.
func TestClusterNodeConfigReadByRestate(t *testing.T) {
	server := os.Getenv("RESTATE_SERVER")
	if server == "" {
		t.Skip("RESTATE_SERVER is not set; make test sets it")
	}
	for _, c := range []struct {
		metadata v1alpha1.ClusterMetadata
		node     int
		want     []string
		not      []string
	}{
		{v1alpha1.MetadataObjectStore, 0, []string{
			`node-name = "node-0"`, `location = "eu-central-1.eu-central-1a"`, `auto-provision = true`, `default-replication = 2`,
			`bind-address = "0.0.0.0:5122"`, `advertised-address = "http://node-0.pay-x7k2p.restate.internal:5122/"`,
			`type = "object-store"`, `path = "s3://platform-restate/stacks/pay-x7k2p/metadata"`, `default-provider = "replicated"`,
			`destination = "s3://platform-restate/stacks/pay-x7k2p/snapshots"`, `snapshot-interval = "1h"`,
		}, []string{`"metadata-server"`}},
		// Only one node provisions the cluster.
		{v1alpha1.MetadataObjectStore, 2, []string{`node-name = "node-2"`, `auto-provision = false`, `location = "eu-central-1.eu-central-1c"`}, nil},
		// With Raft no node provisions alone: a majority must be up first.
		{v1alpha1.MetadataReplicated, 0, []string{`auto-provision = false`, `type = "replicated"`, `"metadata-server"`,
			`"http://node-2.pay-x7k2p.restate.internal:5122/"`}, []string{`type = "object-store"`}},
	} {
		node := *testCluster(t, c.metadata)
		node.Node = node.node("eu-central-1", c.node)
		config, err := serverConfig(&node)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "restate.toml")
		if err := os.WriteFile(f, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(server, "--config-file", f, "--dump-config").CombinedOutput()
		if err != nil {
			t.Fatalf("restate-server refused node %d's config: %v\n%s", c.node, err, out)
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s node %d: the server's config lacks %s:\n%s", c.metadata, c.node, w, config)
			}
		}
		for _, w := range c.not {
			if strings.Contains(string(out), w) {
				t.Errorf("%s node %d: the server's config has %s", c.metadata, c.node, w)
			}
		}
	}
	// A single node keeps its config: no cluster key appears.
	sh, errs := resolveServer("pay-x7k2p", "/restate/pay-x7k2p", "eu-central-1", v1alpha1.SelfHostedSpec{}, &platform.StackPolicy{}, fieldPath)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	single, err := serverConfig(sh)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"roles", "location", "auto-provision", "advertised-address", "metadata-client", "snapshots"} {
		if strings.Contains(single, key) {
			t.Errorf("a single node's config names %s:\n%s", key, single)
		}
	}
}

// TestClusterStoreOnlyTheStacksPrefix evaluates the nodes' store statements:
// everything Restate does under the stack's prefix, nothing elsewhere.
func TestClusterStoreOnlyTheStacksPrefix(t *testing.T) {
	s := &stack.Stack{Name: "pay-x7k2p", Region: "eu-central-1", AccountID: "111122223333"}
	doc, err := iampolicy.Parse(stack.Policy(clusterStoreStatements(s, "platform-restate", "stacks/pay-x7k2p")...))
	if err != nil {
		t.Fatal(err)
	}
	obj := func(key string) string { return "arn:aws:s3:::platform-restate/" + key }
	bucket := "arn:aws:s3:::platform-restate"
	for _, c := range []struct {
		name, action, resource, prefix string
		want                           bool
	}{
		{"read metadata", "s3:GetObject", obj("stacks/pay-x7k2p/metadata/nodes_config"), "", true},
		{"write metadata", "s3:PutObject", obj("stacks/pay-x7k2p/metadata/nodes_config"), "", true},
		{"delete an old snapshot", "s3:DeleteObject", obj("stacks/pay-x7k2p/snapshots/0/lsn_12/x.sst"), "", true},
		{"abort an upload", "s3:AbortMultipartUpload", obj("stacks/pay-x7k2p/snapshots/0/x.sst"), "", true},
		{"list snapshots", "s3:ListBucket", bucket, "stacks/pay-x7k2p/snapshots/", true},
		{"another stack's objects", "s3:GetObject", obj("stacks/pay-other/metadata/nodes_config"), "", false},
		{"a stack whose name extends this one's", "s3:PutObject", obj("stacks/pay-x7k2p2/metadata/x"), "", false},
		{"the bucket's other objects", "s3:GetObject", obj("secrets.txt"), "", false},
		{"another stack's listing", "s3:ListBucket", bucket, "stacks/pay-other/", false},
		{"the whole bucket's listing", "s3:ListBucket", bucket, "", false},
		{"another bucket", "s3:GetObject", "arn:aws:s3:::other/stacks/pay-x7k2p/metadata/x", "", false},
		{"the bucket's policy", "s3:PutBucketPolicy", bucket, "", false},
	} {
		r := iampolicy.Request{Action: c.action, Resource: c.resource}
		if c.prefix != "" {
			r.Context = map[string]string{"s3:prefix": c.prefix}
		}
		if got := doc.Allows(r); got != c.want {
			t.Errorf("%s: allowed = %v, want %v", c.name, got, c.want)
		}
	}
}
