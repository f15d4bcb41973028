package selfhosted

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/loopback"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/testproc"
)

// TestRealClusterFromComposedConfigs runs three real restate-server
// processes from the node configurations the function renders, once with
// the cluster's metadata in moto's S3 (Restate's object store takes a
// custom endpoint) and once in Raft on the nodes; snapshots go to moto's S3
// in both. Only what a host would differ in is set from the environment:
// the addresses, mapped to loopback ports (the DNS names of the nodes
// cannot resolve here), the S3 endpoint and test credentials, and a
// snapshot every second and few records, so that one appears within the
// test. The cluster provisions once (by node 0 itself, or with Raft by
// restatectl once the nodes are up, as the host agent will), serves a real
// Restate service, survives a node's SIGKILL, and takes the node back.
func TestRealClusterFromComposedConfigs(t *testing.T) {
	server, service, restatectl := os.Getenv("RESTATE_SERVER"), os.Getenv("RESTATE_SERVICE"), os.Getenv("RESTATECTL")
	if server == "" || service == "" || restatectl == "" {
		t.Skip("RESTATE_SERVER, RESTATE_SERVICE or RESTATECTL is not set; make test sets them")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 for moto")
	}
	for _, metadata := range []v1alpha1.ClusterMetadata{v1alpha1.MetadataObjectStore, v1alpha1.MetadataReplicated} {
		t.Run(string(metadata), func(t *testing.T) { realCluster(t, metadata, server, service, restatectl) })
	}
}

func realCluster(t *testing.T, metadata v1alpha1.ClusterMetadata, server, service, restatectl string) {
	s3 := testproc.Moto(t, filepath.Join("..", "..", "..", "test", "e2e", "moto", "server.py"))
	bucketURL := s3 + "/platform-restate"
	if _, err := s3Do(http.MethodPut, bucketURL, `<CreateBucketConfiguration><LocationConstraint>eu-central-1</LocationConstraint></CreateBucketConfiguration>`); err != nil {
		t.Fatal(err)
	}

	sh := testCluster(t, metadata)
	type node struct {
		env         []string
		fabric      string
		admin, ingr string
		dir, config string
		cmd         *exec.Cmd
		log         bytes.Buffer
	}
	nodes := make([]*node, 3)
	fabrics := make([]int, len(nodes))
	peers := make([]string, len(nodes))
	for i := range fabrics {
		fabrics[i] = testproc.FreePort(t)
		peers[i] = fmt.Sprintf("%q", fmt.Sprintf("http://127.0.0.1:%d/", fabrics[i]))
	}
	for i := range nodes {
		n := &node{dir: t.TempDir()}
		host := *sh
		host.Node = sh.node("eu-central-1", i)
		config, err := serverConfig(&host)
		if err != nil {
			t.Fatal(err)
		}
		n.config = filepath.Join(n.dir, "restate.toml")
		if err := os.WriteFile(n.config, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		fabric, admin, ingress := fabrics[i], testproc.FreePort(t), testproc.FreePort(t)
		n.fabric = fmt.Sprintf("http://127.0.0.1:%d", fabric)
		n.admin, n.ingr = fmt.Sprintf("http://127.0.0.1:%d", admin), fmt.Sprintf("http://127.0.0.1:%d", ingress)
		n.env = []string{
			fmt.Sprintf("RESTATE_BIND_ADDRESS=127.0.0.1:%d", fabric),
			fmt.Sprintf("RESTATE_ADVERTISED_ADDRESS=http://127.0.0.1:%d/", fabric),
			fmt.Sprintf("RESTATE_ADMIN__BIND_ADDRESS=127.0.0.1:%d", admin),
			fmt.Sprintf("RESTATE_INGRESS__BIND_ADDRESS=127.0.0.1:%d", ingress),
			"RESTATE_METADATA_CLIENT__AWS_ENDPOINT_URL=" + s3, "RESTATE_METADATA_CLIENT__AWS_ALLOW_HTTP=true",
			"RESTATE_WORKER__SNAPSHOTS__AWS_ENDPOINT_URL=" + s3, "RESTATE_WORKER__SNAPSHOTS__AWS_ALLOW_HTTP=true",
			// Both must pass before a snapshot is taken (measured: the composed
			// hourly interval alone holds a 5-record threshold back).
			"RESTATE_WORKER__SNAPSHOTS__SNAPSHOT_INTERVAL=1s", "RESTATE_WORKER__SNAPSHOTS__SNAPSHOT_INTERVAL_NUM_RECORDS=5",
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=eu-central-1",
			"RESTATE_LOG_FORMAT=compact",
		}
		if metadata == v1alpha1.MetadataReplicated {
			n.env = append(n.env, "RESTATE_METADATA_CLIENT__ADDRESSES=["+strings.Join(peers, ",")+"]")
		}
		nodes[i] = n
	}
	start := func(n *node) {
		n.cmd = testproc.Start(t, &n.log, n.env, server, "--config-file", n.config, "--base-dir", n.dir, "--no-logo")
	}
	for _, n := range nodes {
		start(n)
		t.Cleanup(func() {
			if n.cmd != nil {
				testproc.Stop(n.cmd)
			}
		})
	}
	logs := func() string {
		var b strings.Builder
		for i, n := range nodes {
			fmt.Fprintf(&b, "--- node %d:\n%s\n", i, tail(n.log.String(), 2000))
		}
		return b.String()
	}
	var out string
	ctl := func(args ...string) (string, error) {
		b, err := exec.Command(restatectl, append([]string{"--address", nodes[0].fabric}, args...)...).CombinedOutput()
		out = string(b)
		return out, err
	}
	last := func() string { return "restatectl said:\n" + out + logs() }
	if metadata == v1alpha1.MetadataReplicated {
		// No node provisions a Raft cluster on its own: once the metadata
		// servers are up, it is provisioned once, with the configured
		// replication. restatectl 1.7.12 exits 0 when provisioning failed
		// ("[ERR]: Failed to provision cluster: Timeout expired"), so its
		// answer is read; a retry after a slow success finds it done.
		waitFor(t, 120*time.Second, "restatectl provision", last, func() bool {
			out, _ := ctl("provision", "--yes")
			return strings.Contains(out, "Cluster has been successfully provisioned") || strings.Contains(out, "Cluster has been provisioned by somebody else")
		})
	}
	for i, n := range nodes {
		waitFor(t, 90*time.Second, fmt.Sprintf("node %d's admin API", i), logs, func() bool { return status(n.admin+"/health") == http.StatusOK })
	}

	// Provisioned once: with the object store, by node 0, and the metadata
	// is in the stack's prefix; with Raft, none is in S3.
	keys := s3Keys(t, bucketURL, "stacks/pay-x7k2p/metadata/")
	if has := slices.Contains(keys, "stacks/pay-x7k2p/metadata/nodes_config"); has != (metadata == v1alpha1.MetadataObjectStore) {
		t.Fatalf("%s metadata: the objects under the stack's metadata prefix are %v\n%s", metadata, keys, logs())
	}

	// Restate's own tool reads the cluster: three nodes, each in its zone,
	// and logs replicated on two nodes.
	waitFor(t, 60*time.Second, "three nodes in restatectl status", last, func() bool {
		_, _ = ctl("status")
		return strings.Contains(out, "node-0") && strings.Contains(out, "node-1") && strings.Contains(out, "node-2")
	})
	waitFor(t, 60*time.Second, "every log replicated on two of the three nodes", last, func() bool {
		_, _ = ctl("logs", "list")
		return strings.Contains(out, "Log replication: {node: 2}") && strings.Contains(out, "[N1, N2, N3]")
	})

	uri := startTestService(t, service)
	if code, body := post(nodes[1].admin+"/deployments", `{"uri":"`+uri+`"}`); code/100 != 2 {
		t.Fatalf("registering the service on node 1: %d %s", code, body)
	}
	invoke := func(n *node, who string) (int, string) { return post(n.ingr+"/Greeter/greet", `"`+who+`"`) }
	for i, n := range nodes {
		waitFor(t, 60*time.Second, fmt.Sprintf("an invocation through node %d", i), logs, func() bool {
			code, body := invoke(n, "node")
			return code == http.StatusOK && body == `"hello node"`
		})
	}

	// A node dies: the others keep serving (replication 2 of 3).
	testproc.Kill(nodes[2].cmd)
	nodes[2].cmd = nil
	for k := range 20 {
		for i, n := range nodes[:2] {
			waitFor(t, 60*time.Second, fmt.Sprintf("invocation %d through node %d with node 2 down", k, i), logs, func() bool {
				code, _ := invoke(n, fmt.Sprint(k))
				return code == http.StatusOK
			})
		}
	}
	waitFor(t, 60*time.Second, "a partition snapshot under the stack's prefix", logs, func() bool {
		return len(s3Keys(t, bucketURL, "stacks/pay-x7k2p/snapshots/")) > 0
	})

	// The node comes back with its data directory and name, and serves.
	start(nodes[2])
	waitFor(t, 90*time.Second, "node 2 to rejoin and serve", logs, func() bool {
		code, body := invoke(nodes[2], "again")
		return code == http.StatusOK && body == `"hello again"`
	})
}

// startTestService runs the Go SDK test service (a Greeter) on a free port.
func startTestService(t *testing.T, service string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))
	var log bytes.Buffer
	cmd := testproc.Start(t, &log, nil, service, "-listen", addr)
	t.Cleanup(func() { testproc.Stop(cmd) })
	if err := loopback.WaitListening(addr, 30*time.Second); err != nil {
		t.Fatalf("the test service: %v\n%s", err, log.String())
	}
	return "http://" + addr
}

var s3KeyRE = regexp.MustCompile(`<Key>([^<]+)</Key>`)

// s3Keys lists a prefix of a moto bucket (moto takes unsigned requests).
func s3Keys(t *testing.T, bucketURL, prefix string) []string {
	t.Helper()
	body, err := s3Do(http.MethodGet, bucketURL+"?list-type=2&prefix="+prefix, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range s3KeyRE.FindAllStringSubmatch(body, -1) {
		keys = append(keys, m[1])
	}
	return keys
}

func s3Do(method, url, body string) (string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer rsp.Body.Close()
	b, _ := io.ReadAll(rsp.Body)
	if rsp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s %s: %s %s", method, url, rsp.Status, b)
	}
	return string(b), nil
}

func post(url, body string) (int, string) {
	rsp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer rsp.Body.Close()
	b, _ := io.ReadAll(rsp.Body)
	return rsp.StatusCode, string(b)
}

func status(url string) int {
	rsp, err := http.Get(url)
	if err != nil {
		return 0
	}
	rsp.Body.Close()
	return rsp.StatusCode
}

func waitFor(t *testing.T, d time.Duration, what string, logs func() string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
