// Command function-restate-stack serves the RestateStack composition
// function.
package main

import (
	"net/http"
	_ "net/http/pprof" //nolint:gosec // served only with --pprof-address
	"time"

	"github.com/alecthomas/kong"
	function "github.com/crossplane/function-sdk-go"
	"github.com/crossplane/function-sdk-go/logging"

	"github.com/restate-crossplane/function-restate-stack/fn"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

// maxRecvMessageSizeMB bounds the requests the function accepts. A request
// carries every observed resource of a stack with its status: 5.4 MiB for
// the largest stack the XRD allows (256 services; BENCHMARKS.md), before
// managed fields. gRPC's default of 4 MiB would refuse it in the
// transport; 32 MiB leaves room and still bounds a request's memory.
const maxRecvMessageSizeMB = 32

// serveCmd serves the function over gRPC, as Crossplane calls it.
type serveCmd struct {
	Debug       bool   `short:"d" help:"Emit debug logs in addition to info logs."`
	Network     string `help:"Network on which to listen for gRPC connections." default:"tcp"`
	Address     string `help:"Address at which to listen for gRPC connections." default:":9443"`
	TLSCertsDir string `help:"Directory holding the server's certificate (tls.crt, tls.key) and the CA that signs client certificates (ca.crt)." env:"TLS_SERVER_CERTS_DIR"`
	Insecure    bool   `help:"Serve without mTLS, for local development such as crossplane composition render. --tls-certs-dir is then ignored."`
	// Off by default: profiles of a running function, for make bench-load.
	PprofAddress string `help:"Serve Go's pprof endpoints on this address, to profile a running function (off by default)."`
}

func (c *serveCmd) Run() error {
	log, err := logging.NewLogger(c.Debug)
	if err != nil {
		return err
	}
	if c.PprofAddress != "" {
		go func() {
			srv := &http.Server{Addr: c.PprofAddress, ReadHeaderTimeout: 10 * time.Second}
			log.Info("pprof stopped", "error", srv.ListenAndServe())
		}()
	}
	return function.Serve(&fn.Function{Log: log},
		function.Listen(c.Network, c.Address),
		function.MTLSCertificates(c.TLSCertsDir),
		function.Insecure(c.Insecure),
		function.MaxRecvMessageSize(maxRecvMessageSizeMB*1024*1024),
	)
}

type cli struct {
	Serve    serveCmd    `cmd:"" default:"withargs" help:"Serve the composition function (the default)."`
	Register registerCmd `cmd:"" help:"Register a service endpoint with a Restate environment (what registration Jobs run)."`
	Agent    agentCmd    `cmd:"" help:"Keep a self-hosted stack's services registered from its host (what the host runs)."`
}

// kongOptions configure the command line; the register command's defaults
// come from its contract.
func kongOptions() []kong.Option {
	return []kong.Option{kong.Name("function-restate-stack"),
		kong.Description("The RestateStack composition function: Restate on AWS through Crossplane."),
		kong.Vars(regcontract.KongVars())}
}

func main() {
	var c cli
	ctx := kong.Parse(&c, kongOptions()...)
	ctx.FatalIfErrorf(ctx.Run())
}
