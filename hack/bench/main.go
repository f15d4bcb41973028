// Command bench runs the function's benchmarks with Go's own harness
// (testing.Benchmark) and prints, for every case, RunFunction's time as a
// ratio to the protobuf floor measured in the same run, its allocations,
// and the request and response sizes; then how time grows with services.
// `make bench` runs it; BENCHMARKS.md records its output.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/proto"

	"github.com/restate-crossplane/function-restate-stack/fn"
	"github.com/restate-crossplane/function-restate-stack/hack/benchdata"
)

func main() {
	count := flag.Int("count", 3, "runs of each benchmark; the median is reported, as this machine is shared and noisy")
	// testing's own flags: -test.benchtime=1x runs each case once (make
	// test does, so that the benchmarks cannot rot unnoticed).
	testing.Init()
	flag.Parse()
	cases, err := benchdata.Cases()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("GOMAXPROCS=%d, %s/%s, %s, median of %d runs\n\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), *count)
	fmt.Println("| state | services | RunFunction | floor | ratio | allocs/op | request | response |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	times := map[string]float64{}
	for _, c := range cases {
		var f *fn.Function
		var rsp *fnv1.RunFunctionResponse
		run := median(*count, func() testing.BenchmarkResult {
			return testing.Benchmark(func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					f = benchdata.FunctionFor(c.State, f)
					rsp = benchdata.Run(b, f, c.Request)
				}
			})
		})
		for _, r := range rsp.GetResults() {
			if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
				fmt.Fprintf(os.Stderr, "%s/%d: %s\n", c.State, c.Services, r.GetMessage())
				os.Exit(1)
			}
		}
		floor := median(*count, func() testing.BenchmarkResult {
			return testing.Benchmark(func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					benchdata.Floor(b, c.Request, rsp)
				}
			})
		})
		ns, floorNs := float64(run.NsPerOp()), float64(floor.NsPerOp())
		times[fmt.Sprintf("%s/%d", c.State, c.Services)] = ns
		fmt.Printf("| %s | %d | %s | %s | %.2fx | %d | %s | %s |\n", c.State, c.Services, dur(ns), dur(floorNs), ns/floorNs,
			run.AllocsPerOp(), size(len(c.Request)), size(proto.Size(rsp)))
	}
	fmt.Println()
	for _, state := range []string{"first", "steady"} {
		fmt.Printf("scaling, %s: 256 services take %.1fx the time of 16 (16x the services)\n", state, times[state+"/256"]/times[state+"/16"])
	}
}

// median runs a benchmark n times and returns the run of median time.
func median(n int, bench func() testing.BenchmarkResult) testing.BenchmarkResult {
	runs := make([]testing.BenchmarkResult, 0, n)
	for range n {
		runs = append(runs, bench())
	}
	slices.SortFunc(runs, func(a, b testing.BenchmarkResult) int { return cmp.Compare(a.NsPerOp(), b.NsPerOp()) })
	return runs[len(runs)/2]
}

func dur(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	default:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	}
}

func size(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}
