package fn_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/proto"

	"github.com/restate-crossplane/function-restate-stack/fn"
	"github.com/restate-crossplane/function-restate-stack/hack/benchdata"
)

// BenchmarkRunFunction measures RunFunction on a request as the gRPC
// server hands it over (unmarshalled outside the timer: RunFunction's
// response shares the request's desired state, so each call gets a fresh
// one). BenchmarkFloor measures what any function pays for the same bytes:
// unmarshalling the request and marshalling the response, nothing else.
// `make bench` prints their ratio; `go test -bench` gives the raw numbers
// and, with -cpuprofile, the profile.
// A first reconcile runs on a new Function each call (benchdata.FunctionFor).
func BenchmarkRunFunction(b *testing.B) {
	forEachCase(b, func(b *testing.B, state string, req []byte) {
		var f *fn.Function
		b.ReportAllocs()
		for b.Loop() {
			f = benchdata.FunctionFor(state, f)
			benchdata.Run(b, f, req)
		}
	})
}

func BenchmarkFloor(b *testing.B) {
	forEachCase(b, func(b *testing.B, _ string, req []byte) {
		rsp := responseOf(b, req)
		b.ReportAllocs()
		for b.Loop() {
			benchdata.Floor(b, req, rsp)
		}
	})
}

func forEachCase(b *testing.B, run func(b *testing.B, state string, req []byte)) {
	cases, err := benchdata.Cases()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("state=%s/services=%d", c.State, c.Services), func(b *testing.B) { run(b, c.State, c.Request) })
	}
}

func responseOf(b *testing.B, req []byte) *fnv1.RunFunctionResponse {
	in := &fnv1.RunFunctionRequest{}
	if err := proto.Unmarshal(req, in); err != nil {
		b.Fatal(err)
	}
	rsp, err := (&fn.Function{Log: logging.NewNopLogger()}).RunFunction(context.Background(), in)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			b.Fatal(r.GetMessage())
		}
	}
	return rsp
}
