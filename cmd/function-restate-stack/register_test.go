package main

import (
	"reflect"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

// parse runs the binary's real command-line parser.
func parse(t *testing.T, args []string) cli {
	t.Helper()
	var c cli
	p, err := kong.New(&c, kongOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(args); err != nil {
		t.Fatalf("kong refused %q: %v", args, err)
	}
	return c
}

// TestCommandLineRoundTrip: what the function renders into a Job, the
// command parses back to the same arguments, every flag included.
func TestCommandLineRoundTrip(t *testing.T) {
	full := regcontract.Args{}
	v := reflect.ValueOf(&full).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64: // durations are int64
			f.SetInt(int64(7+i) * 1_000_000_000)
		case reflect.String:
			f.SetString("x" + v.Type().Field(i).Name)
		}
	}
	full.Versioning, full.TokenFile = regcontract.VersioningLatest, "/var/run/secrets/restate/token"
	// kong has an endpoint be one of --lambda-arn and --uri (xor).
	for _, a := range []regcontract.Args{
		func() regcontract.Args { a := full; a.URI = ""; return a }(),
		func() regcontract.Args { a := full; a.LambdaARN = ""; return a }(),
	} {
		got := parse(t, a.CommandLine()).Register.Args
		if !reflect.DeepEqual(got, a) {
			t.Errorf("kong parsed %q\n as %+v\nwant %+v", a.CommandLine(), got, a)
		}
	}
}

// TestDefaultsAreTheContract's: a command line that leaves the flags out
// runs with regcontract.Defaults.
func TestDefaultsAreTheContracts(t *testing.T) {
	a := regcontract.Args{AdminURL: "http://restate:9070", URI: "http://svc:9080"}
	got := parse(t, a.CommandLine()).Register.Args
	want := regcontract.Defaults()
	want.AdminURL, want.URI = a.AdminURL, a.URI
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kong's defaults\n %+v\nwant %+v", got, want)
	}
}
