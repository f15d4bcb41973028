package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/restate-crossplane/function-restate-stack/internal/testkit/loopback"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/testproc"
)

// Real Restate parts for the registration tests: restate-server from npm
// and a Restate service built with the Go SDK (test/restateservice). `make
// test` installs and builds both and passes their paths.
var (
	restateServerBin  = os.Getenv("RESTATE_SERVER")
	restateServiceBin = os.Getenv("RESTATE_SERVICE")
)

func requireRestate(t *testing.T) {
	t.Helper()
	for name, p := range map[string]string{"RESTATE_SERVER": restateServerBin, "RESTATE_SERVICE": restateServiceBin} {
		if p == "" {
			t.Fatalf("%s is not set: run `make test`, which installs restate-server and builds the test service", name)
		}
	}
}

func freePort(t *testing.T) int { return testproc.FreePort(t) }

// process runs a command until the test ends, then stops it and its
// children.
func process(t *testing.T, log *bytes.Buffer, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := testproc.Start(t, log, env, name, args...)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { testproc.Stop(cmd) }) })
	return cmd
}

// restateServer is a real restate-server on free loopback ports, with its
// data in a temporary directory.
type restateServer struct {
	Admin string
	log   bytes.Buffer
}

func startRestateServer(t *testing.T, delay time.Duration, extraEnv ...string) *restateServer {
	t.Helper()
	s := &restateServer{}
	admin := freePort(t)
	s.Admin = fmt.Sprintf("http://127.0.0.1:%d", admin)
	env := []string{
		fmt.Sprintf("RESTATE_ADMIN__BIND_ADDRESS=127.0.0.1:%d", admin),
		fmt.Sprintf("RESTATE_INGRESS__BIND_ADDRESS=127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("RESTATE_BIND_ADDRESS=127.0.0.1:%d", freePort(t)),
		"RESTATE_LOG_FORMAT=compact",
	}
	env = append(env, extraEnv...)
	dir := t.TempDir()
	start := func() { process(t, &s.log, env, restateServerBin, "--node-name", "n1", "--base-dir", dir) }
	if delay > 0 {
		timer := time.AfterFunc(delay, start)
		t.Cleanup(func() { timer.Stop() })
		return s
	}
	start()
	s.waitHealthy(t)
	return s
}

func (s *restateServer) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if rsp, err := http.Get(s.Admin + "/health"); err == nil {
			rsp.Body.Close()
			if rsp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restate-server did not become healthy:\n%s", s.log.String())
}

// query runs SQL on the server's admin API.
func (s *restateServer) query(t *testing.T, sql string) []map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": sql})
	req, _ := http.NewRequest(http.MethodPost, s.Admin+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	var out struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.NewDecoder(rsp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Rows
}

// get decodes a JSON document of the admin API.
func (s *restateServer) get(t *testing.T, path string, out any) {
	t.Helper()
	rsp, err := http.Get(s.Admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	if err := json.NewDecoder(rsp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// startService runs the Go SDK test service on a free port and returns its
// URI once it accepts connections.
func startService(t *testing.T, args ...string) string {
	t.Helper()
	return startServiceAt(t, freePort(t), args...)
}

// registerRun is one run of the function binary's register command.
type registerRun struct {
	Code           int
	Stdout, Stderr string
	Result         map[string]any
}

// runRegister runs `function register` with short deadlines, as tests
// need them (the CDK's defaults wait minutes).
func runRegister(t *testing.T, env []string, args ...string) registerRun {
	t.Helper()
	// The local restate-server listens on loopback, which register refuses
	// unless told (a platform allows it in StackPolicy.registration).
	fast := []string{"--allow-loopback", "--health-attempts=3", "--health-initial-backoff=50ms", "--health-max-backoff=200ms", "--health-jitter=0s",
		"--health-timeout=2s", "--register-attempts=2", "--register-timeout=20s", "--deadline=90s"}
	cmd := exec.Command(filepath.Join("..", "bin", "function"), append(append([]string{"register"}, fast...), args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := registerRun{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if r.Code == 0 {
		if err := json.Unmarshal(stdout.Bytes(), &r.Result); err != nil {
			t.Fatalf("register printed no JSON result: %v\nstdout: %s\nstderr: %s", err, r.Stdout, r.Stderr)
		}
	}
	return r
}

func (r registerRun) want(t *testing.T, code int, stderrHas string) {
	t.Helper()
	if r.Code != code || !strings.Contains(r.Stderr, stderrHas) {
		t.Fatalf("exit %d, want %d with %q in stderr\nstdout: %s\nstderr: %s", r.Code, code, stderrHas, r.Stdout, r.Stderr)
	}
	if code != 0 {
		// The failure is one line, the last of stderr.
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "register: ") || !strings.Contains(last, stderrHas) {
			t.Errorf("the failure is not one clear line: %q", last)
		}
	}
}

func deploymentIDs(t *testing.T, s *restateServer) []string {
	t.Helper()
	var ids []string
	for _, r := range s.query(t, "SELECT id FROM sys_deployment ORDER BY created_at") {
		ids = append(ids, r["id"].(string))
	}
	return ids
}

func mustContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// services run by port, so a test can replace the service behind a URI.
var (
	servicesMu sync.Mutex
	services   = map[int]*exec.Cmd{}
)

func startServiceAt(t *testing.T, port int, args ...string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var log bytes.Buffer
	cmd := process(t, &log, nil, restateServiceBin, append([]string{"-listen", addr}, args...)...)
	servicesMu.Lock()
	services[port] = cmd
	servicesMu.Unlock()
	if err := loopback.WaitListening(addr, 10*time.Second); err != nil {
		t.Fatalf("the Restate service did not start: %v\n%s", err, log.String())
	}
	return "http://" + addr
}

func stopServiceAt(t *testing.T, port int) {
	t.Helper()
	servicesMu.Lock()
	cmd := services[port]
	delete(services, port)
	servicesMu.Unlock()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_, _ = cmd.Process.Wait()
}
