// Command restateservice is a small real Restate service, built with the
// Restate Go SDK, that registration tests register with a real
// restate-server. Its flags shape what discovery finds, so that tests can
// produce a new revision, a breaking change or a wrong service name.
package main

import (
	"context"
	"flag"
	"log"
	"strings"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9080", "address to serve on")
	names := flag.String("services", "Greeter", "comma-separated service names")
	kind := flag.String("kind", "service", "service or object: changing it is a breaking change")
	handlers := flag.String("handlers", "greet", "comma-separated handler names: a new one is a new revision")
	flag.Parse()

	srv := server.NewRestate()
	for _, name := range strings.Split(*names, ",") {
		switch *kind {
		case "object":
			o := restate.NewObject(name)
			for _, h := range strings.Split(*handlers, ",") {
				o = o.Handler(h, restate.NewObjectHandler(func(ctx restate.ObjectContext, in string) (string, error) {
					return "hello " + in, nil
				}))
			}
			srv = srv.Bind(o)
		default:
			s := restate.NewService(name)
			for _, h := range strings.Split(*handlers, ",") {
				s = s.Handler(h, restate.NewServiceHandler(func(ctx restate.Context, in string) (string, error) {
					return "hello " + in, nil
				}))
			}
			srv = srv.Bind(s)
		}
	}
	if err := srv.Start(context.Background(), *listen); err != nil {
		log.Fatal(err)
	}
}
