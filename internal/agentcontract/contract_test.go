package agentcontract

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

func order(svc, rev string, a regcontract.Args) Order {
	return Order{Service: svc, Revision: rev, Command: a.CommandLine()}
}

func TestOrdersRoundTrip(t *testing.T) {
	lambda := regcontract.Args{AdminURL: "http://127.0.0.1:9070", LambdaARN: "arn:aws:lambda:eu-central-1:123456789012:function:demo-greeter",
		Versioning: regcontract.VersioningPublished, CodeSHA256: "abc=", Prune: true, RevisionHistoryLimit: 2, Deadline: 900 * time.Second}
	o := Orders{
		Register:   []Order{order("greeter", "0a1b2c", lambda), order("api", "ffee", regcontract.Args{AdminURL: "http://127.0.0.1:9070", URI: "http://api:9080"})},
		Deregister: []Order{order("old", "99", regcontract.Args{AdminURL: "http://127.0.0.1:9070", LambdaARN: lambda.LambdaARN + "-old", Deregister: true})},
	}
	b, err := o.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := o.Marshal()
	if err != nil || string(again) != string(b) {
		t.Fatalf("Marshal is not stable: %s\n%s", b, again)
	}
	got, err := ParseOrders(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Register[0].Service != "api" {
		t.Errorf("orders are not sorted by service: %+v", got.Register)
	}
	if !reflect.DeepEqual(got.Register, o.Register) || !reflect.DeepEqual(got.Deregister, o.Deregister) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, o)
	}
	// Defaults apply to what the command line leaves out, as in a Job.
	a, err := got.Register[1].Args()
	if err != nil {
		t.Fatal(err)
	}
	if d := regcontract.Defaults(); a.HealthAttempts != d.HealthAttempts || a.RegisterTimeout != d.RegisterTimeout || a.RevisionHistoryLimit != 2 || a.CodeSHA256 != "abc=" {
		t.Errorf("args with defaults: %+v", a)
	}
}

func TestOrdersRefused(t *testing.T) {
	ok := regcontract.Args{AdminURL: "http://127.0.0.1:9070", URI: "http://api:9080"}
	for name, tc := range map[string]struct {
		doc  string
		o    Orders
		want string
	}{
		"other version": {doc: `{"version":"v0"}`, want: "version"},
		"not json":      {doc: `{`, want: "not an orders document"},
		"service name":  {o: Orders{Register: []Order{order("Api_1", "a", ok)}}, want: "not a DNS label"},
		"twice":         {o: Orders{Register: []Order{order("api", "a", ok)}, Deregister: []Order{order("api", "b", ok)}}, want: "more than one order"},
		"revision":      {o: Orders{Register: []Order{order("api", "A/B", ok)}}, want: "revision"},
		"no endpoint":   {o: Orders{Register: []Order{order("api", "a", regcontract.Args{AdminURL: "x"})}}, want: "exactly one"},
		"bad command":   {o: Orders{Register: []Order{{Service: "api", Revision: "a", Command: []string{"rm", "-rf"}}}}, want: "not a register command line"},
	} {
		var err error
		if tc.doc != "" {
			_, err = ParseOrders([]byte(tc.doc))
		} else {
			_, err = tc.o.Marshal()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, tc.want)
		}
	}
}

func TestReportRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tags := map[string]string{TagHeartbeat: HeartbeatValue(at), "crossplane-kind": "volume.ec2.aws.crossplane.io"}
	want := Report{Heartbeat: at, Services: map[string]ServiceReport{
		"greeter": {Revision: "0a1b", DeploymentID: "dp_1", Version: "3"},
		"api":     {Revision: "ff", DeploymentID: "dp_2", Version: "$LATEST"},
		"broken":  {Revision: "77", Class: 6},
	}, Gone: map[string]string{"old": "99"}}
	for svc, r := range want.Services {
		k, v := ServiceKey(svc), r.Value()
		if strings.Contains(v, "$") || len(k) > 128 || len(v) > 256 {
			t.Errorf("tag %s=%s does not fit AWS's tag rules", k, v)
		}
		tags[k] = v
	}
	tags[GoneKey("old")] = "99"
	got, err := ParseReport(tags)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if _, err := ParseReport(map[string]string{tagService + "x": "only/two", TagHeartbeat: "yesterday"}); err == nil ||
		!strings.Contains(err.Error(), tagService+"x") || !strings.Contains(err.Error(), TagHeartbeat) {
		t.Errorf("malformed tags: got %v", err)
	}
}
