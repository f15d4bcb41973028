// Package testproc runs the real programs tests depend on (restate-server,
// a Restate service, a control plane) in process groups of their own, on
// loopback ports no other part of the test was given, and stops them.
package testproc

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/restate-crossplane/function-restate-stack/internal/testkit/loopback"
)

// handedOut are the ports FreePort gave: the kernel may offer a port again
// once its probe listener is closed, before the process meant to use it
// binds it.
var (
	portsMu   sync.Mutex
	handedOut = map[int]bool{}
)

// FreePort returns a loopback port nothing listens on and that no other
// part of the test binary was given.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		addr, err := loopback.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if !handedOut[port] {
			handedOut[port] = true
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// Start runs a program in a process group of its own, with out as its
// stdout and stderr and env added to the test's environment.
func Start(t testing.TB, out io.Writer, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cmd
}

// Stop ends a program and its children: SIGTERM, then SIGKILL after ten
// seconds. It waits for the program to exit.
func Stop(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Kill ends a program and its children with SIGKILL, as the loss of its
// host would, and waits for it.
func Kill(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// Moto runs the machine image's moto with the project's fidelity fixes
// (server, test/e2e/moto/server.py) on a free loopback port until the test
// ends, and returns its endpoint.
func Moto(t testing.TB, server string) string {
	t.Helper()
	port := FreePort(t)
	var log bytes.Buffer
	cmd := Start(t, &log, nil, "python3", server, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	t.Cleanup(func() { Stop(cmd) })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := loopback.WaitListening(addr, 30*time.Second); err != nil {
		t.Fatalf("moto (python3 %s, as the machine image has it) did not start: %v\n%s", server, err, log.String())
	}
	return "http://" + addr
}
