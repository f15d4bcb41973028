package test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restate-crossplane/function-restate-stack/internal/restateadmin"
)

// TestRegisterAgainstRestate drives the register command (the function's
// own binary) against a real restate-server and a real Restate service
// built with the Go SDK. Lambda endpoints go as far as Restate's discovery,
// which needs AWS and fails here, as it should, with its error surfaced.
func TestRegisterAgainstRestate(t *testing.T) {
	requireRestate(t)
	srv := startRestateServer(t, 0)
	admin := "--admin-url=" + srv.Admin

	t.Run("registers an HTTP service, public by default", func(t *testing.T) {
		uri := startService(t, "-services", "Greeter")
		r := runRegister(t, nil, admin, "--uri="+uri, "--expected-service=Greeter")
		r.want(t, 0, "registered "+uri)
		id := r.Result["deploymentId"].(string)
		if !strings.HasPrefix(id, "dp_") {
			t.Fatalf("deployment id %q", id)
		}
		var svc restateadmin.ServiceMetadata
		srv.get(t, "/services/Greeter", &svc)
		if svc.DeploymentID != id || !svc.Public {
			t.Errorf("Greeter: %+v, want public on %s", svc, id)
		}

		t.Run("idempotent: a rerun leaves exactly one deployment", func(t *testing.T) {
			again := runRegister(t, nil, admin, "--uri="+uri, "--expected-service=Greeter")
			again.want(t, 0, "")
			if again.Result["deploymentId"] != id {
				t.Errorf("rerun registered %v, want %s", again.Result["deploymentId"], id)
			}
			n := 0
			for _, r := range srv.query(t, "SELECT endpoint FROM sys_deployment") {
				if strings.TrimSuffix(r["endpoint"].(string), "/") == uri {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d deployments of %s, want 1", n, uri)
			}
		})
		t.Run("private marking", func(t *testing.T) {
			runRegister(t, nil, admin, "--uri="+uri, "--private").want(t, 0, "marked service Greeter private")
			srv.get(t, "/services/Greeter", &svc)
			if svc.Public {
				t.Error("Greeter is still public")
			}
			runRegister(t, nil, admin, "--uri="+uri).want(t, 0, "marked service Greeter public")
		})
		t.Run("deregistration removes the endpoint's deployments", func(t *testing.T) {
			r := runRegister(t, nil, admin, "--uri="+uri, "--deregister")
			r.want(t, 0, "deregistered deployment "+id)
			waitFor(t, "the deployment to go", func() bool {
				for _, d := range deploymentIDs(t, srv) {
					if d == id {
						return false
					}
				}
				return true
			})
			runRegister(t, nil, admin, "--uri="+uri, "--deregister").want(t, 0, "no deployment of "+uri)
		})
	})

	t.Run("expected service missing: exit 6 and nothing registered", func(t *testing.T) {
		uri := startService(t, "-services", "Payments")
		before := len(deploymentIDs(t, srv))
		r := runRegister(t, nil, admin, "--uri="+uri, "--expected-service=Trips")
		r.want(t, 6, `offers services [Payments], not the expected "Trips"; nothing was registered`)
		if after := len(deploymentIDs(t, srv)); after != before {
			t.Errorf("%d deployments after a refused registration, want %d", after, before)
		}
	})

	t.Run("force: a changed service at the same URI needs it", func(t *testing.T) {
		port := freePort(t)
		first := startServiceAt(t, port, "-services", "Cars", "-handlers", "book")
		runRegister(t, nil, admin, "--uri="+first).want(t, 0, "")
		stopServiceAt(t, port)
		startServiceAt(t, port, "-services", "Cars", "-handlers", "book,cancel")
		// Without force Restate answers with the existing deployment and
		// changes nothing.
		runRegister(t, nil, admin, "--uri="+first).want(t, 0, "without force Restate keeps it as it was")
		var svc restateadmin.ServiceMetadata
		srv.get(t, "/services/Cars", &svc)
		if svc.Revision != 1 {
			t.Errorf("Cars revision %d after an unforced registration, want 1", svc.Revision)
		}
		runRegister(t, nil, admin, "--uri="+first, "--force").want(t, 0, "registered "+first)
		srv.get(t, "/services/Cars", &svc)
		if svc.Revision != 2 {
			t.Errorf("Cars revision %d after a forced registration, want 2", svc.Revision)
		}
	})

	t.Run("breaking: an incompatible revision needs it", func(t *testing.T) {
		runRegister(t, nil, admin, "--uri="+startService(t, "-services", "Flights")).want(t, 0, "")
		object := startService(t, "-services", "Flights", "-kind", "object")
		runRegister(t, nil, admin, "--uri="+object).want(t, 5, "POST /deployments: 4")
		runRegister(t, nil, admin, "--uri="+object, "--breaking").want(t, 0, "")
	})

	t.Run("pruning keeps the history limit and only drained deployments of the same services", func(t *testing.T) {
		var ids []string
		for i := range 4 {
			r := runRegister(t, nil, admin, "--uri="+startService(t, "-services", "Hotels", "-handlers", "book"+strings.Repeat(",x", i)))
			r.want(t, 0, "")
			ids = append(ids, r.Result["deploymentId"].(string))
		}
		other := runRegister(t, nil, admin, "--uri="+startService(t, "-services", "Unrelated"))
		other.want(t, 0, "")
		// A drained deployment of another service: not ours to prune.
		runRegister(t, nil, admin, "--uri="+startService(t, "-services", "Unrelated", "-handlers", "a,b")).want(t, 0, "")

		r := runRegister(t, nil, admin, "--uri="+startService(t, "-services", "Hotels", "-handlers", "book,y,y,y,y"),
			"--prune", "--revision-history-limit=1", "--max-pruned-per-run=2")
		r.want(t, 0, "")
		// Drained: ids[0..3], newest first ids[3], ids[2], ... Keep one
		// (ids[3]); prune at most two, oldest first: ids[0], ids[1].
		if got := r.Result["pruned"]; !reflect.DeepEqual(got, []any{ids[0], ids[1]}) {
			t.Errorf("pruned %v, want %v", got, ids[:2])
		}
		left := strings.Join(deploymentIDs(t, srv), " ")
		waitFor(t, "pruned deployments to go", func() bool {
			left = strings.Join(deploymentIDs(t, srv), " ")
			return !strings.Contains(left, ids[0]) && !strings.Contains(left, ids[1])
		})
		for _, keep := range []string{ids[2], ids[3], other.Result["deploymentId"].(string)} {
			if !strings.Contains(left, keep) {
				t.Errorf("%s was pruned", keep)
			}
		}
	})

	t.Run("an unqualified Lambda ARN: Restate's refusal surfaced", func(t *testing.T) {
		r := runRegister(t, nil, admin, "--lambda-arn=arn:aws:lambda:eu-central-1:123456789012:function:trips")
		r.want(t, 5, "A qualified ARN needs a version or alias suffix")
	})
	t.Run("a qualified Lambda ARN: discovery fails without AWS, surfaced", func(t *testing.T) {
		r := runRegister(t, nil, admin, "--lambda-arn=arn:aws:lambda:eu-central-1:123456789012:function:trips", "--versioning=Latest",
			"--assume-role-arn=arn:aws:iam::123456789012:role/invoker")
		r.want(t, 5, "error when calling 'arn:aws:lambda:eu-central-1:123456789012:function:trips:$LATEST'")
	})
}

func TestRegisterWaitsForTheServer(t *testing.T) {
	requireRestate(t)
	t.Run("a server that comes up late: registered within the deadline", func(t *testing.T) {
		srv := startRestateServer(t, 2*time.Second)
		uri := startService(t, "-services", "Late")
		r := runRegister(t, nil, "--admin-url="+srv.Admin, "--uri="+uri, "--health-attempts=60", "--health-max-backoff=500ms")
		r.want(t, 0, "health check 1 of 60 failed")
	})
	t.Run("a server that never comes up: exit 3 at the deadline", func(t *testing.T) {
		start := time.Now()
		r := runRegister(t, nil, "--admin-url=http://127.0.0.1:"+itoa(freePort(t)), "--uri=http://127.0.0.1:1")
		r.want(t, 3, "not healthy after 3 attempts")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("gave up after %s; 3 attempts with 50-200ms waits should take under a second or two", d)
		}
		r = runRegister(t, nil, "--admin-url=http://127.0.0.1:"+itoa(freePort(t)), "--uri=http://127.0.0.1:1", "--health-attempts=1000", "--deadline=1s")
		r.want(t, 3, "not healthy before the deadline")
	})
}

// TestRegisterUnauthorized: Restate's own server has no authentication;
// Restate Cloud does. A stand-in admin API that refuses every token shows
// the exit code and that the token is never printed.
func TestRegisterUnauthorized(t *testing.T) {
	var got []string
	var mu sync.Mutex
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"invalid API key"}`))
	}))
	defer admin.Close()
	const token = "s3cr3t-t0ken-value"
	r := runRegister(t, []string{"RESTATE_ADMIN_TOKEN=" + token}, "--admin-url="+admin.URL, "--uri=http://127.0.0.1:1")
	r.want(t, 4, "401 Unauthorized: invalid API key")
	if strings.Contains(r.Stdout+r.Stderr, token) {
		t.Error("the token was printed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 || got[0] != "Bearer "+token {
		t.Errorf("Authorization header %q, want the bearer token", got)
	}
}

// lambdaStandIn stands in for the AWS Lambda API's PublishVersion, which
// cannot be reached here: the SDK is pointed at it with
// AWS_ENDPOINT_URL_LAMBDA. Like Lambda, it refuses a code hash that is not
// the function's, and returns the latest version when nothing changed.
type lambdaStandIn struct {
	mu        sync.Mutex
	code      string
	versions  int
	published string // code of the latest version
	calls     int
}

func (l *lambdaStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	name, ok := strings.CutPrefix(r.URL.EscapedPath(), "/2015-03-31/functions/")
	name, _ = url.PathUnescape(strings.TrimSuffix(name, "/versions"))
	if !ok || r.Method != http.MethodPost {
		http.Error(w, "unexpected call", http.StatusNotFound)
		return
	}
	var in struct{ CodeSha256 string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	w.Header().Set("Content-Type", "application/json")
	if in.CodeSha256 != l.code {
		w.Header().Set("X-Amzn-ErrorType", "PreconditionFailedException")
		w.WriteHeader(http.StatusPreconditionFailed)
		_, _ = w.Write([]byte(`{"message":"CodeSHA256 does not match the function's code"}`))
		return
	}
	if l.published != l.code {
		l.versions++
		l.published = l.code
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"FunctionArn": name + ":" + itoa(l.versions), "Version": itoa(l.versions), "CodeSha256": l.code})
}

// TestRegisterPublished: Published versioning against the Lambda stand-in
// (AWS is not reachable here), then Restate, whose discovery of the
// version fails without AWS, with the version's ARN in its message.
func TestRegisterPublished(t *testing.T) {
	requireRestate(t)
	srv := startRestateServer(t, 0)
	lambda := &lambdaStandIn{code: "Y29kZS12MQ=="}
	api := httptest.NewServer(lambda)
	defer api.Close()
	env := []string{"AWS_ENDPOINT_URL_LAMBDA=" + api.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	const fn = "arn:aws:lambda:eu-central-1:123456789012:function:trips"
	publish := func(code string) registerRun {
		return runRegister(t, env, "--admin-url="+srv.Admin, "--lambda-arn="+fn, "--versioning=Published", "--code-sha256="+code, "--register-attempts=1")
	}

	r := publish("Y29kZS12MQ==")
	r.want(t, 5, "error when calling '"+fn+":1'")
	if !strings.Contains(r.Stderr, "published version 1 of "+fn) {
		t.Errorf("no publish step in:\n%s", r.Stderr)
	}
	publish("Y29kZS12MQ==").want(t, 5, "'"+fn+":1'") // a rerun reuses version 1

	lambda.mu.Lock()
	lambda.code = "Y29kZS12Mg=="
	lambda.mu.Unlock()
	publish("Y29kZS12MQ==").want(t, 7, "PreconditionFailed") // the old hash no longer matches
	publish("Y29kZS12Mg==").want(t, 5, "'"+fn+":2'")
	if lambda.versions != 2 {
		t.Errorf("%d versions published, want 2", lambda.versions)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestAdminTypesMatchOpenAPI checks the hand-written admin API types of
// internal/restateadmin against the OpenAPI document of the real server:
// every JSON field they send or read is in the schema, and every endpoint
// and method they call exists.
func TestAdminTypesMatchOpenAPI(t *testing.T) {
	requireRestate(t)
	srv := startRestateServer(t, 0)
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
				OneOf      []struct {
					Title      string         `json:"title"`
					Properties map[string]any `json:"properties"`
				} `json:"oneOf"`
			} `json:"schemas"`
		} `json:"components"`
	}
	srv.get(t, "/openapi", &doc)

	for path, method := range map[string]string{
		"/health": "get", "/deployments": "post", "/deployments/{deployment}": "delete",
		"/services/{service}": "patch", "/query": "post",
	} {
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("the admin API has no %s %s", strings.ToUpper(method), path)
		}
	}
	if !strings.Contains(string(doc.Paths["/deployments/{deployment}"]["delete"]), `"name":"force"`) {
		t.Error("DELETE /deployments/{deployment} has no force parameter")
	}

	props := func(schema string) map[string]bool {
		out := map[string]bool{}
		s, ok := doc.Components.Schemas[schema]
		if !ok {
			t.Fatalf("no schema %s", schema)
		}
		for k := range s.Properties {
			out[k] = true
		}
		for _, v := range s.OneOf {
			for k := range v.Properties {
				out[k] = true
			}
		}
		return out
	}
	for schema, typ := range map[string]any{
		"RegisterDeploymentRequest":  restateadmin.RegisterRequest{},
		"RegisterDeploymentResponse": restateadmin.RegisterResponse{},
		"ServiceMetadata":            restateadmin.ServiceMetadata{},
		"ModifyServiceRequest":       restateadmin.ModifyServiceRequest{},
		"QueryRequest":               restateadmin.QueryRequest{},
	} {
		have := props(schema)
		rt := reflect.TypeOf(typ)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !have[name] {
				t.Errorf("%s.%s: the server's %s has no field %q", rt.Name(), rt.Field(i).Name, schema, name)
			}
		}
	}
}

// TestRegisterInsecure: a stand-in admin API with a self-signed
// certificate (a self-hosted server with SelfSigned TLS has one) is refused
// unless --insecure is given.
func TestRegisterInsecure(t *testing.T) {
	admin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/deployments" {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"dp_1","services":[{"name":"Greeter","revision":1,"public":true,"deployment_id":"dp_1"}]}`))
		}
	}))
	defer admin.Close()
	runRegister(t, nil, "--admin-url="+admin.URL, "--uri=http://127.0.0.1:1").want(t, 3, "certificate")
	r := runRegister(t, nil, "--admin-url="+admin.URL, "--uri=http://127.0.0.1:1", "--insecure")
	r.want(t, 0, "registered http://127.0.0.1:1 as deployment dp_1")
}
