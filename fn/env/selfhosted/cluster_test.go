package selfhosted

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// clusterNode is node i of a three-node cluster of the stack "pay-x7k2p".
func clusterNode(i int, metadata string) *ClusterNode {
	peers := []string{"node-0.pay-x7k2p.restate.internal", "node-1.pay-x7k2p.restate.internal", "node-2.pay-x7k2p.restate.internal"}
	return &ClusterNode{
		Name: "node-" + string(rune('0'+i)), Region: "eu-central-1", Zone: "eu-central-1" + string(rune('a'+i)),
		Address: peers[i], Provisions: i == 0, Replication: 2, Metadata: metadata, Peers: peers,
		Store: "s3://platform-restate/stacks/pay-x7k2p/", StoreRegion: "eu-central-1",
	}
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
	sh, errs := resolveServer("pay-x7k2p", "/restate/pay-x7k2p", "eu-central-1", v1alpha1.SelfHostedSpec{}, &platform.StackPolicy{}, fieldPath)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct {
		metadata string
		node     int
		want     []string
		not      []string
	}{
		{MetadataObjectStore, 0, []string{
			`node-name = "node-0"`, `location = "eu-central-1.eu-central-1a"`, `auto-provision = true`, `default-replication = 2`,
			`bind-address = "0.0.0.0:5122"`, `advertised-address = "http://node-0.pay-x7k2p.restate.internal:5122/"`,
			`type = "object-store"`, `path = "s3://platform-restate/stacks/pay-x7k2p/metadata"`, `default-provider = "replicated"`,
			`destination = "s3://platform-restate/stacks/pay-x7k2p/snapshots"`, `snapshot-interval = "1h"`,
		}, []string{`"metadata-server"`}},
		// Only one node provisions the cluster.
		{MetadataObjectStore, 2, []string{`node-name = "node-2"`, `auto-provision = false`, `location = "eu-central-1.eu-central-1c"`}, nil},
		// With Raft no node provisions alone: a majority must be up first.
		{MetadataReplicated, 0, []string{`auto-provision = false`, `type = "replicated"`, `"metadata-server"`,
			`"http://node-2.pay-x7k2p.restate.internal:5122/"`}, []string{`type = "object-store"`}},
	} {
		node := *sh
		node.Node = clusterNode(c.node, c.metadata)
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
