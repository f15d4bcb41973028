// Command load drives the real function binary over insecure gRPC, as
// Crossplane would, and reports throughput, latency percentiles and peak
// memory; then a soak of many calls with the server's heap and goroutines
// before and after. Client and server share the machine's two cores: each
// runs with GOMAXPROCS=1 (the server through its environment, the client
// through runtime.GOMAXPROCS). `make bench-load` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/restate-crossplane/function-restate-stack/hack/benchdata"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/loopback"
)

func main() {
	binary := flag.String("function", "bin/function", "the function binary")
	duration := flag.Duration("duration", 10*time.Second, "how long the load runs")
	clients := flag.Int("clients", 8, "concurrent clients")
	services := flag.Int("services", 4, "services of the stack under load (steady state)")
	soak := flag.Int("soak", 100000, "calls of the soak")
	soakServices := flag.Int("soak-services", 1, "services of the stack in the soak (steady state)")
	cpuProfile := flag.String("cpuprofile", "", "write the server's CPU profile of the load phase to this file (go tool pprof reads it)")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	if err := run(*binary, *duration, *clients, *services, *soak, *soakServices, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(binary string, duration time.Duration, clients, services, soak, soakServices int, cpuProfile string) error {
	grpcAddr, err := loopback.FreeAddr()
	if err != nil {
		return err
	}
	pprofAddr, err := loopback.FreeAddr()
	if err != nil {
		return err
	}
	cmd := exec.Command(binary, "serve", "--insecure", "--address", grpcAddr, "--pprof-address", pprofAddr)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20), grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := fnv1.NewFunctionRunnerServiceClient(conn)
	for _, addr := range []string{grpcAddr, pprofAddr} {
		if err := loopback.WaitListening(addr, 10*time.Second); err != nil {
			return fmt.Errorf("the function did not start: %w", err)
		}
	}

	req, err := steadyRequest(services)
	if err != nil {
		return err
	}
	fmt.Printf("machine: %d CPUs, %s; server and client GOMAXPROCS=1 each; %d clients\n\n", runtime.NumCPU(), runtime.Version(), clients)
	callFor(client, req, clients, time.Second, 0) // warm up
	// The server profiles itself over the load phase, from its pprof
	// endpoint: what a call costs end to end, transport included.
	profiled := make(chan error, 1)
	go func() {
		if cpuProfile != "" {
			profiled <- serverProfile(pprofAddr, duration, cpuProfile)
		}
		close(profiled)
	}()
	lat, calls, elapsed := callFor(client, req, clients, duration, 0)
	if err := <-profiled; err != nil {
		return err
	}
	slices.Sort(lat)
	fmt.Printf("load: steady state of %d services, %s: %d calls, %.0f calls/s, p50 %s, p99 %s, server peak RSS %s\n",
		services, elapsed.Round(time.Millisecond), calls, float64(calls)/elapsed.Seconds(),
		pct(lat, 0.50), pct(lat, 0.99), peakRSS(cmd.Process.Pid))

	if soak == 0 {
		return nil
	}
	soakReq, err := steadyRequest(soakServices)
	if err != nil {
		return err
	}
	heap0, gor0, err := serverState(pprofAddr)
	if err != nil {
		return err
	}
	_, n, took := callFor(client, soakReq, clients, 0, soak)
	heap1, gor1, err := serverState(pprofAddr)
	if err != nil {
		return err
	}
	fmt.Printf("soak: %d calls (steady state of %d service) in %s: server heap after GC %s -> %s, goroutines %d -> %d, peak RSS %s\n",
		n, soakServices, took.Round(time.Second), mib(heap0), mib(heap1), gor0, gor1, peakRSS(cmd.Process.Pid))
	return nil
}

func steadyRequest(services int) (*fnv1.RunFunctionRequest, error) {
	_, steady, err := benchdata.Requests(services)
	if err != nil {
		return nil, err
	}
	req := &fnv1.RunFunctionRequest{}
	return req, proto.Unmarshal(steady, req)
}

// callFor calls the function from concurrent clients for a duration, or
// until total calls are made, and returns every call's latency.
func callFor(client fnv1.FunctionRunnerServiceClient, req *fnv1.RunFunctionRequest, clients int, d time.Duration, total int) ([]time.Duration, int, time.Duration) {
	var (
		mu    sync.Mutex
		lat   []time.Duration
		count atomic.Int64
		wg    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				if total > 0 && count.Add(1) > int64(total) {
					break
				}
				if total == 0 && time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				rsp, err := client.RunFunction(context.Background(), req)
				if err != nil || len(rsp.GetDesired().GetResources()) == 0 {
					fmt.Fprintln(os.Stderr, "load: a call failed:", err)
					os.Exit(1)
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, len(lat), time.Since(start)
}

var (
	heapRE      = regexp.MustCompile(`# HeapAlloc = (\d+)`)
	goroutineRE = regexp.MustCompile(`goroutine profile: total (\d+)`)
)

// serverState reads the server's heap after a GC and its goroutines.
func serverState(pprofAddr string) (heap, goroutines int, err error) {
	get := func(path string, re *regexp.Regexp) (int, error) {
		rsp, err := http.Get("http://" + pprofAddr + path)
		if err != nil {
			return 0, err
		}
		defer rsp.Body.Close()
		b, err := io.ReadAll(rsp.Body)
		if err != nil {
			return 0, err
		}
		m := re.FindSubmatch(b)
		if m == nil {
			return 0, fmt.Errorf("%s: no %s", path, re)
		}
		return strconv.Atoi(string(m[1]))
	}
	if heap, err = get("/debug/pprof/heap?gc=1&debug=1", heapRE); err != nil {
		return 0, 0, err
	}
	goroutines, err = get("/debug/pprof/goroutine?debug=1", goroutineRE)
	return heap, goroutines, err
}

// serverProfile writes the server's CPU profile over d to file.
func serverProfile(pprofAddr string, d time.Duration, file string) error {
	rsp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		return fmt.Errorf("the server's CPU profile: %s", rsp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rsp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// peakRSS is the process's peak resident set size (VmHWM).
func peakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return mib(kb * 1024)
		}
	}
	return "unknown"
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Round(10 * time.Microsecond)
}

func mib(b int) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
