// Command restateservice is a small real Restate service, built with the
// Restate Go SDK, that registration tests register with a real
// restate-server. Its flags shape what discovery finds, so that tests can
// produce a new revision, a breaking change or a wrong service name.
//
// With -lambda it plays AWS Lambda's Invoke API instead (AWS itself is not
// reachable here; restate-server is pointed at it with
// AWS_ENDPOINT_URL_LAMBDA): each function runs the SDK's own Lambda
// handler, offering one service named after the function (the part after
// its last "-fn-", as a stack names its functions, or the whole name), so
// that Restate discovers and invokes real Lambda services.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"net/url"
	"strings"
	"sync"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9080", "address to serve on")
	names := flag.String("services", "Greeter", "comma-separated service names")
	kind := flag.String("kind", "service", "service or object: changing it is a breaking change")
	handlers := flag.String("handlers", "greet", "comma-separated handler names: a new one is a new revision")
	lambda := flag.Bool("lambda", false, "serve Lambda's Invoke API, one service per function")
	flag.Parse()

	if *lambda {
		log.Fatal(serveLambda(*listen, *kind, *handlers))
	}
	if err := bind(server.NewRestate(), strings.Split(*names, ","), *kind, *handlers).Start(context.Background(), *listen); err != nil {
		log.Fatal(err)
	}
}

// bind binds the named services, each with the given handlers.
func bind(srv *server.Restate, names []string, kind, handlers string) *server.Restate {
	for _, name := range names {
		switch kind {
		case "object":
			o := restate.NewObject(name)
			for _, h := range strings.Split(handlers, ",") {
				o = o.Handler(h, restate.NewObjectHandler(func(ctx restate.ObjectContext, in string) (string, error) {
					return "hello " + in, nil
				}))
			}
			srv = srv.Bind(o)
		default:
			s := restate.NewService(name)
			for _, h := range strings.Split(handlers, ",") {
				s = s.Handler(h, restate.NewServiceHandler(func(ctx restate.Context, in string) (string, error) {
					return "hello " + in, nil
				}))
			}
			srv = srv.Bind(s)
		}
	}
	return srv
}

// serveLambda serves POST /2015-03-31/functions/{name}/invocations, as
// Lambda does for a synchronous Invoke: the payload is the event, the
// answer the handler's response.
func serveLambda(listen, kind, handlers string) error {
	var mu sync.Mutex
	functions := map[string]server.LambdaHandlerFunc{}
	return http.ListenAndServe(listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/2015-03-31/functions/")
		name, _ := url.PathUnescape(strings.TrimSuffix(rest, "/invocations"))
		if !ok || r.Method != http.MethodPost {
			http.Error(w, "not a Lambda Invoke", http.StatusNotFound)
			return
		}
		// An ARN, qualified or not, or a name: the function's name.
		if f := strings.Split(name, ":"); len(f) >= 7 {
			name = f[6]
		}
		svc := name
		if i := strings.LastIndex(name, "-fn-"); i >= 0 {
			svc = name[i+len("-fn-"):]
		}
		mu.Lock()
		h, ok := functions[name]
		if !ok {
			var err error
			if h, err = bind(server.NewRestate(), []string{svc}, kind, handlers).LambdaHandler(); err != nil {
				mu.Unlock()
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			functions[name] = h
		}
		mu.Unlock()
		var event server.LambdaRequest
		if err := json.NewDecoder(r.Body).Decode(&event); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rsp, err := h(r.Context(), event)
		if err != nil {
			// Lambda reports a function's error in a header, with 200.
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			_ = json.NewEncoder(w).Encode(map[string]string{"errorMessage": err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rsp)
	}))
}
