package regcontract

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Full has every field of Args set, each to a value that is not its
// default, so that a round trip covers every flag, including ones added
// later.
func Full() Args {
	var a Args
	v := reflect.ValueOf(&a).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Type() == durationType:
			f.SetInt(int64(time.Duration(i+1) * 1500 * time.Millisecond))
		case f.Kind() == reflect.Int:
			f.SetInt(int64(100 + i))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		default:
			f.SetString("value-" + strings.ToLower(v.Type().Field(i).Name))
		}
	}
	a.Versioning = VersioningPublished // an enum
	return a
}

func TestParseIsTheInverseOfCommandLine(t *testing.T) {
	for name, a := range map[string]Args{
		"every flag":            Full(),
		"the defaults, pruning": func() Args { a := Defaults(); a.Prune = true; return a }(),
		"nothing":               {},
		"prune, limits zero":    {AdminURL: "http://restate:9070", URI: "http://svc:9080", Prune: true},
	} {
		got, err := Parse(a.CommandLine())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("%s: Parse(%q)\n got %+v\nwant %+v", name, a.CommandLine(), got, a)
		}
	}
}

// TestCommandLineShape: the subcommand, then --admin-url, the other flags
// in name order, the report flags last; unset flags are left out, and the
// pruning limits go with --prune even at zero.
func TestCommandLineShape(t *testing.T) {
	a := Args{AdminURL: "http://restate:9070", URI: "http://svc:9080", Force: true, Prune: true, HealthAttempts: 10,
		Deadline: 900 * time.Second, HealthMaxBackoff: 20 * time.Second, ReportConfigMap: "demo-reg-1"}
	want := []string{"register", "--admin-url=http://restate:9070", "--deadline=900s", "--force", "--health-attempts=10", "--health-max-backoff=20s",
		"--max-pruned-per-run=0", "--prune", "--revision-history-limit=0", "--uri=http://svc:9080", "--report-configmap=demo-reg-1"}
	if got := a.CommandLine(); !slices.Equal(got, want) {
		t.Errorf("CommandLine()\n got %q\nwant %q", got, want)
	}
	a.Prune = false
	for _, arg := range a.CommandLine() {
		if strings.Contains(arg, "prune") {
			t.Errorf("%s without --prune", arg)
		}
	}
	if got := (Args{HealthTimeout: 1500 * time.Millisecond}).CommandLine(); !slices.Contains(got, "--health-timeout=1.5s") {
		t.Errorf("a fractional duration: %q", got)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, line := range [][]string{
		nil,
		{"serve"},
		{"register", "--no-such-flag"},
		{"register", "admin-url=x"},
		{"register", "--health-attempts=ten"},
		{"register", "--deadline=soon"},
		{"register", "--force=maybe"},
	} {
		if _, err := Parse(line); err == nil {
			t.Errorf("Parse(%q) accepted", line)
		}
	}
}

func TestKongVarsCoverEveryDefault(t *testing.T) {
	vars := KongVars()
	eachFlag(func(f reflect.StructField, _ int) {
		if d := f.Tag.Get("default"); strings.HasPrefix(d, "${") {
			if _, ok := vars[strings.Trim(d, "${}")]; !ok {
				t.Errorf("%s: no value for %s", f.Name, d)
			}
		}
	})
	if vars["deadline"] != "900s" || vars["health_attempts"] != "10" {
		t.Errorf("vars %v", vars)
	}
}

func TestReportRoundTrip(t *testing.T) {
	r := Report{Endpoint: "arn:aws:lambda:eu-central-1:123456789012:function:f:3", DeploymentID: "dp_1", Services: []string{"A", "B"}, Version: "3", Deregistered: []string{"dp_0"}}
	data := r.Data()
	got := ReportFromData(func(k string) string { return data[k] })
	if !reflect.DeepEqual(got, r) {
		t.Errorf("got %+v, want %+v", got, r)
	}
	if empty := ReportFromData(func(string) string { return "" }); empty.Services != nil || empty.Endpoint != "" {
		t.Errorf("an empty report reads as %+v", empty)
	}
}
