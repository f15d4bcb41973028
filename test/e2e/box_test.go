//go:build e2e

// Package e2e runs the stack through a real control plane in a box: etcd, a
// Kubernetes API server and controller manager (garbage collector,
// namespaces, Jobs, ClusterRole aggregation), Crossplane core running as its
// own service account with its Helm chart's roles and this package's
// ClusterRole, and this function, all on loopback and torn down after the
// test. Stand-ins, each named so, play what cannot run here: provider-aws
// (no AWS), the kubelet (no container runtime), Crossplane's RBAC manager
// and its package runtime.
// `make e2e` builds the binaries and runs it.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/restate-crossplane/function-restate-stack/internal/testkit/testproc"
)

// bin returns the path of a tool make e2e built, from its variable.
func bin(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: run `make e2e`, which builds the control plane", env)
	}
	return p
}

// box is a running control plane.
type box struct {
	t          *testing.T
	dir        string
	kubeconfig string
	apiServer  string
	token      string
	xpkgCache  string
	procs      []*proc
}

// proc is a process of the box, in a process group of its own so that its
// children stop with it.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	// what started it, to start it again
	env  []string
	path string
	args []string
}

func (b *box) start(name string, env []string, path string, args ...string) *proc {
	b.t.Helper()
	p := &proc{name: name, log: &bytes.Buffer{}, env: env, path: path, args: args}
	f, err := os.Create(filepath.Join(b.dir, name+".log"))
	if err != nil {
		b.t.Fatal(err)
	}
	p.cmd = testproc.Start(b.t, f, env, path, args...)
	b.procs = append(b.procs, p)
	return p
}

// crash kills a process of the box with SIGKILL (its whole group, no
// chance to clean up) and starts it again as it was started, its log
// continued.
func (b *box) crash(name string) {
	b.t.Helper()
	var p *proc
	for _, q := range b.procs {
		if q.name == name {
			p = q
		}
	}
	if p == nil {
		b.t.Fatalf("no process %s to crash", name)
	}
	testproc.Kill(p.cmd)
	f, err := os.OpenFile(filepath.Join(b.dir, name+".log"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	fmt.Fprintf(f, "\n=== SIGKILLed by the test at %s, started again ===\n", time.Now().UTC().Format(time.RFC3339))
	p.cmd = testproc.Start(b.t, f, p.env, p.path, p.args...)
}

// stop ends every process, newest first, and waits for each.
func (b *box) stop() {
	for i := len(b.procs) - 1; i >= 0; i-- {
		testproc.Stop(b.procs[i].cmd)
	}
}

// logTail is the end of a process's log, for failure messages.
func (b *box) logTail(name string) string {
	out, _ := os.ReadFile(filepath.Join(b.dir, name+".log"))
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	return string(out)
}

func freePort(t *testing.T) int { return testproc.FreePort(t) }

// startBox starts etcd, the API server and the controller manager, and
// stops them and removes their data when the test ends, pass or fail.
func startBox(t *testing.T) *box {
	t.Helper()
	dir, err := os.MkdirTemp("", "restate-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	b := &box{t: t, dir: dir}
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			for _, p := range b.procs {
				t.Logf("--- %s log (end):\n%s", p.name, b.logTail(p.name))
			}
		}
		if os.Getenv("E2E_KEEP") != "" {
			t.Logf("E2E_KEEP: the box's logs and data stay in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})

	etcdPort, peerPort := freePort(t), freePort(t)
	b.start("etcd", nil, bin(t, "ETCD"),
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--advertise-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", peerPort),
		"--listen-metrics-urls", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))

	// A random admin token and a service account signing key, made here.
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	b.token = hex.EncodeToString(tok)
	tokens := filepath.Join(dir, "tokens.csv")
	write(t, tokens, b.token+",admin,admin,system:masters\n")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	saKey := filepath.Join(dir, "sa.key")
	saPub := filepath.Join(dir, "sa.pub")
	write(t, saKey, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	write(t, saPub, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})))

	apiPort := freePort(t)
	b.apiServer = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	b.start("kube-apiserver", nil, bin(t, "KUBE_APISERVER"),
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--cert-dir", filepath.Join(dir, "apiserver-certs"),
		"--secure-port", fmt.Sprint(apiPort),
		"--bind-address", "127.0.0.1",
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", saPub,
		"--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range", "10.96.0.0/16")
	b.kubeconfig = filepath.Join(dir, "kubeconfig")
	write(t, b.kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: box
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: %q}
contexts:
- name: box
  context: {cluster: box, user: admin}
current-context: box
`, b.apiServer, b.token))
	b.waitReady()

	b.start("kube-controller-manager", nil, bin(t, "KUBE_CONTROLLER_MANAGER"),
		"--kubeconfig", b.kubeconfig,
		// The job controller makes real Jobs create real Pods (a kubelet
		// stand-in runs them); clusterrole-aggregation builds Crossplane's
		// ClusterRole from the labelled ones, as in a cluster.
		"--controllers", "garbagecollector,namespace,job,clusterrole-aggregation",
		"--leader-elect=false",
		"--secure-port", fmt.Sprint(freePort(t)),
		"--bind-address", "127.0.0.1")
	return b
}

// waitReady waits for the API server's /readyz.
func (b *box) waitReady() {
	b.t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 2 * time.Second} //nolint:gosec // the box's own self-signed API server
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, b.apiServer+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+b.token)
		if rsp, err := c.Do(req); err == nil {
			rsp.Body.Close()
			if rsp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.t.Fatalf("the API server did not become ready:\n%s", b.logTail("kube-apiserver"))
}

// kubectl runs kubectl against the box and returns its output.
func (b *box) kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin(b.t, "KUBECTL"), append([]string{"--kubeconfig", b.kubeconfig}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String() + errOut.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// must runs kubectl and fails the test on an error.
func (b *box) must(args ...string) string {
	b.t.Helper()
	out, err := b.kubectl(args...)
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

// eventually retries check until it returns "" or the timeout ends.
func eventually(t *testing.T, timeout time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		if last = check(); last == "" {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, last)
}

// waitHTTP waits until a server answers a GET at url.
func waitHTTP(t *testing.T, what, url string) {
	t.Helper()
	eventually(t, time.Minute, what, func() string {
		rsp, err := http.Get(url) //nolint:gosec // the test's own loopback servers
		if err != nil {
			return err.Error()
		}
		rsp.Body.Close()
		return ""
	})
}

// readYAML reads a YAML file into v and returns its bytes.
func readYAML(t *testing.T, file string, v any) []byte {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return raw
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
