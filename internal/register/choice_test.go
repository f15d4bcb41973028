package register

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func row(id, created string, services ...string) map[string]any {
	svcs := make([]any, 0, len(services))
	for _, s := range services {
		svcs = append(svcs, s)
	}
	return map[string]any{"id": id, "created_at": created, "services": svcs}
}

// TestToPrune: drained deployments of the services just registered go,
// oldest first, but for the newest `keep` and the one just registered, at
// most perRun at a time; other services' deployments stay.
func TestToPrune(t *testing.T) {
	rows := []map[string]any{
		row("dp_3", "2026-01-03", "Hotels"),
		row("dp_1", "2026-01-01", "Hotels", "Cars"),
		row("dp_other", "2026-01-02", "Flights"),
		row("dp_2", "2026-01-02", "Cars"),
		row("dp_new", "2026-01-04", "Hotels"),
		{"created_at": "2026-01-01", "services": []any{"Hotels"}}, // no id
		row("dp_odd", "2026-01-01", ""),
	}
	res := &Result{DeploymentID: "dp_new", Services: []string{"Cars", "Hotels"}}
	for _, tc := range []struct {
		name         string
		keep, perRun int
		want         []string
	}{
		{"keep none", 0, 10, []string{"dp_1", "dp_2", "dp_3"}},
		{"keep the newest", 1, 10, []string{"dp_1", "dp_2"}},
		{"keep as many as there are", 3, 10, nil},
		{"keep more than there are", 9, 10, nil},
		{"at most one a run, the oldest", 0, 1, []string{"dp_1"}},
		{"per run at least one", 0, 0, []string{"dp_1"}},
		{"a negative limit keeps none", -1, 10, []string{"dp_1", "dp_2", "dp_3"}},
	} {
		if got := toPrune(rows, res, tc.keep, tc.perRun); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSameEndpoint(t *testing.T) {
	fn := "arn:aws:lambda:eu-central-1:123456789012:function:trips"
	for _, tc := range []struct {
		registered, endpoint string
		want                 bool
	}{
		{"http://orders:9080/", "http://orders:9080", true},
		{"http://orders:9080", "http://orders:9080/", true},
		{"http://orders:9080/v2", "http://orders:9080", false},
		{fn + ":3", fn, true},
		{fn + ":$LATEST", fn, true},
		{fn + ":3", fn + ":3", true},
		{fn + ":3", fn + ":4", false},
		{fn + "-other:3", fn, false},
		{fn + "s:3", fn, false},
		{"arn:aws:lambda:eu-central-1:123456789012:function:trip", fn, false},
	} {
		if got := sameEndpoint(tc.registered, tc.endpoint); got != tc.want {
			t.Errorf("sameEndpoint(%q, %q) = %v, want %v", tc.registered, tc.endpoint, got, tc.want)
		}
	}
}

// publisher stands in for Lambda's PublishVersion, which needs AWS.
type publisher struct {
	version string
	err     error
	calls   []string
}

func (p *publisher) Publish(_ context.Context, arn, code string) (string, error) {
	p.calls = append(p.calls, arn+" "+code)
	return p.version, p.err
}

func TestQualify(t *testing.T) {
	fn := "arn:aws:lambda:eu-central-1:123456789012:function:trips"
	ctx := context.Background()
	for _, tc := range []struct {
		name, arn, versioning string
		pub                   *publisher
		wantARN, wantVersion  string
		wantClass             Class
	}{
		{"as given", fn, "", nil, fn, "", 0},
		{"qualified stays", fn + ":7", "Latest", nil, fn + ":7", "7", 0},
		{"an alias stays", fn + ":live", "Published", nil, fn + ":live", "live", 0},
		{"latest", fn, "Latest", nil, fn + ":$LATEST", "$LATEST", 0},
		{"published", fn, "Published", &publisher{version: "12"}, fn + ":12", "12", 0},
		{"published without a client", fn, "Published", nil, "", "", ClassUsage},
		{"publishing fails", fn, "Published", &publisher{err: errors.New("CodeSHA256 does not match")}, "", "", ClassPublish},
		{"unknown versioning", fn, "Sometimes", nil, "", "", ClassUsage},
	} {
		o := Options{LambdaARN: tc.arn, Versioning: tc.versioning, CodeSHA256: "abc="}
		if tc.pub != nil {
			o.Publisher = tc.pub
		}
		arn, version, err := qualify(ctx, o)
		var e *Error
		switch {
		case tc.wantClass != 0 && (!errors.As(err, &e) || e.Class != tc.wantClass):
			t.Errorf("%s: error %v, want class %d", tc.name, err, tc.wantClass)
		case tc.wantClass == 0 && (err != nil || arn != tc.wantARN || version != tc.wantVersion):
			t.Errorf("%s: %q, %q, %v; want %q, %q", tc.name, arn, version, err, tc.wantARN, tc.wantVersion)
		}
		if tc.pub != nil && tc.wantClass == 0 && !slices.Equal(tc.pub.calls, []string{fn + " abc="}) {
			t.Errorf("%s: published %v, want the unqualified ARN with the code hash", tc.name, tc.pub.calls)
		}
	}
}

// TestIsPublishedVersion: pruning deletes versions, never a function, an
// alias or $LATEST.
func TestIsPublishedVersion(t *testing.T) {
	const fn = "arn:aws:lambda:eu-central-1:123456789012:function:trips"
	for arn, want := range map[string]bool{
		fn + ":7": true, fn + ":12": true,
		fn: false, fn + ":$LATEST": false, fn + ":live": false, fn + ":": false,
		"http://svc:9080/": false, "arn:aws:iam::123456789012:role/x:1": false,
	} {
		if got := isPublishedVersion(arn); got != want {
			t.Errorf("isPublishedVersion(%q) = %v, want %v", arn, got, want)
		}
	}
}
