// Package regcontract is the contract between the composition function and
// the `register` command that its registration Jobs run: the command's
// arguments as one typed struct, their defaults, and the report the
// command writes back. The function renders Args into a Job, the command
// parses them (its flags are these fields, through kong's struct tags), and
// the local render's stand-in and the end-to-end test read them back from a
// Job. It depends on the standard library alone, so the function does not
// pull in what the command needs (the AWS SDK, the admin API client).
package regcontract

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Command is the binary's subcommand that registration Jobs run.
const Command = "register"

// Versioning modes of a Lambda endpoint, as the claim API spells them.
const (
	// VersioningLatest registers <arn>:$LATEST.
	VersioningLatest = "Latest"
	// VersioningPublished publishes a version of the observed code and
	// registers <arn>:<version>.
	VersioningPublished = "Published"
)

// Args are the register command's arguments. Each field's `name` tag is its
// flag; kong reads the same tags to parse the command line, and a default
// written as ${var} takes its value from Defaults (see KongVars).
type Args struct {
	AdminURL      string `name:"admin-url" help:"URL of the Restate admin API." required:"" env:"RESTATE_ADMIN_URL"`
	LambdaARN     string `name:"lambda-arn" help:"Lambda function ARN to register; unqualified with --versioning." xor:"endpoint"`
	URI           string `name:"uri" help:"HTTP endpoint to register." xor:"endpoint"`
	AssumeRoleARN string `name:"assume-role-arn" help:"Role Restate assumes to invoke the Lambda."`
	Versioning    string `name:"versioning" help:"Qualify an unqualified ARN: Latest ($LATEST) or Published (publish a version with --code-sha256)." enum:"Latest,Published," default:""`
	CodeSHA256    string `name:"code-sha256" help:"Code hash a Published version must have."`

	Force           bool   `name:"force" help:"Overwrite an existing deployment of the same endpoint."`
	Breaking        bool   `name:"breaking" help:"Allow breaking changes to the services."`
	Private         bool   `name:"private" help:"Make the discovered services private (not reachable through the ingress)."`
	ExpectedService string `name:"expected-service" help:"Fail unless discovery finds this service; nothing is registered then."`

	DeletePrunedVersions bool `name:"delete-pruned-versions" help:"Delete the Lambda versions that only pruned deployments used."`
	Prune                bool `name:"prune" help:"Prune drained deployments of the same services after registering."`
	RevisionHistoryLimit int  `name:"revision-history-limit" help:"Drained deployments pruning keeps." default:"${revision_history_limit}"`
	MaxPrunedPerRun      int  `name:"max-pruned-per-run" help:"Deployments one run prunes at most." default:"${max_pruned_per_run}"`

	Insecure      bool   `name:"insecure" help:"Accept any certificate on the admin API."`
	AllowLoopback bool   `name:"allow-loopback" help:"Let the admin URL be a loopback address (a local restate-server); link-local and metadata addresses are always refused."`
	TokenFile     string `name:"token-file" help:"File holding the admin API's bearer token (a mounted Secret). Else $RESTATE_ADMIN_TOKEN, if set." type:"path"`

	HealthAttempts       int           `name:"health-attempts" help:"Health checks before giving up." default:"${health_attempts}"`
	HealthInitialBackoff time.Duration `name:"health-initial-backoff" help:"First wait between health checks; it doubles." default:"${health_initial_backoff}"`
	HealthMaxBackoff     time.Duration `name:"health-max-backoff" help:"Cap of the wait between health checks." default:"${health_max_backoff}"`
	HealthJitter         time.Duration `name:"health-jitter" help:"Random extra wait, up to this." default:"${health_jitter}"`
	HealthTimeout        time.Duration `name:"health-timeout" help:"Time one health check may take." default:"${health_timeout}"`
	RegisterAttempts     int           `name:"register-attempts" help:"Registration attempts on network and server errors." default:"${register_attempts}"`
	RegisterTimeout      time.Duration `name:"register-timeout" help:"Time one registration request may take (discovery included)." default:"${register_timeout}"`
	Deadline             time.Duration `name:"deadline" help:"Overall deadline of the run." default:"${deadline}"`

	Deregister bool `name:"deregister" help:"Remove every deployment of the endpoint (the qualified ARN or URI) instead of registering."`

	ReportConfigMap string `name:"report-configmap" help:"ConfigMap, in --report-namespace, to write the result into."`
	ReportNamespace string `name:"report-namespace" help:"Namespace of the report ConfigMap; defaults to the pod's."`
}

// Defaults are the Restate CDK registration handler's: 10 health checks of
// 5 s each, the wait between them growing from 1 s (doubling) to at most
// 20 s with up to 2 s of jitter; three registration attempts of 30 s each
// (discovery included); prune at most 10 deployments a run; 15 minutes in
// all.
func Defaults() Args {
	return Args{
		RevisionHistoryLimit: 0,
		MaxPrunedPerRun:      10,
		HealthAttempts:       10,
		HealthInitialBackoff: time.Second,
		HealthMaxBackoff:     20 * time.Second,
		HealthJitter:         2 * time.Second,
		HealthTimeout:        5 * time.Second,
		RegisterAttempts:     3,
		RegisterTimeout:      30 * time.Second,
		Deadline:             15 * time.Minute,
	}
}

// KongVars are the values of the ${var} defaults in Args's tags, from
// Defaults: the command's help and its parsing show the same defaults.
func KongVars() map[string]string {
	vars := map[string]string{}
	d := reflect.ValueOf(Defaults())
	eachFlag(func(f reflect.StructField, i int) {
		if v, ok := strings.CutPrefix(f.Tag.Get("default"), "${"); ok {
			vars[strings.TrimSuffix(v, "}")] = format(d.Field(i))
		}
	})
	return vars
}

// CommandLine renders the arguments as a Job's container args: the
// subcommand, --admin-url, every other flag that is set (in name order),
// then where to report. A flag at its zero value is left out, and the
// command uses its default; the pruning limits go with --prune, whatever
// their value.
func (a Args) CommandLine() []string {
	v := reflect.ValueOf(a)
	var head, mid, tail []string
	eachFlag(func(f reflect.StructField, i int) {
		name := f.Tag.Get("name")
		fv := v.Field(i)
		pruning := name == "revision-history-limit" || name == "max-pruned-per-run"
		if fv.IsZero() && !(pruning && a.Prune) || pruning && !a.Prune {
			return
		}
		arg := "--" + name
		if fv.Kind() != reflect.Bool {
			arg += "=" + format(fv)
		}
		switch {
		case name == "admin-url":
			head = append(head, arg)
		case strings.HasPrefix(name, "report-"):
			tail = append(tail, arg)
		default:
			mid = append(mid, arg)
		}
	})
	sort.Strings(mid)
	return append(append(append([]string{Command}, head...), mid...), tail...)
}

// Parse reads a command line CommandLine rendered back into Args. Flags it
// leaves out are zero, not defaulted: Parse(a.CommandLine()) is a, but for
// pruning limits without --prune, which are not rendered.
func Parse(line []string) (Args, error) {
	return parseOnto(Args{}, line)
}

// ParseWithDefaults reads a command line as the command does: flags it
// leaves out take their defaults.
func ParseWithDefaults(line []string) (Args, error) {
	return parseOnto(Defaults(), line)
}

func parseOnto(a Args, line []string) (Args, error) {
	if len(line) == 0 || line[0] != Command {
		return a, fmt.Errorf("not a %s command line: %q", Command, line)
	}
	fields := map[string]int{}
	eachFlag(func(f reflect.StructField, i int) { fields[f.Tag.Get("name")] = i })
	v := reflect.ValueOf(&a).Elem()
	for _, arg := range line[1:] {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		i, ok := fields[name]
		if !ok || !strings.HasPrefix(arg, "--") {
			return a, fmt.Errorf("unknown argument %q", arg)
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Bool && !hasValue {
			value = "true"
		}
		if err := set(fv, value); err != nil {
			return a, fmt.Errorf("--%s: %w", name, err)
		}
	}
	return a, nil
}

// eachFlag calls fn with every field of Args and its index.
func eachFlag(fn func(f reflect.StructField, i int)) {
	t := reflect.TypeFor[Args]()
	for i := range t.NumField() {
		fn(t.Field(i), i)
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// format renders a field's value as its flag takes it.
func format(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return formatDuration(time.Duration(v.Int()))
	case v.Kind() == reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case v.Kind() == reflect.Bool:
		return strconv.FormatBool(v.Bool())
	}
	return v.String()
}

// formatDuration writes whole seconds as "900s", the form Jobs have
// always carried, and anything finer as Go writes it.
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

func set(v reflect.Value, s string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		v.SetInt(int64(d))
		return err
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		v.SetInt(int64(n))
		return err
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		v.SetBool(b)
		return err
	}
	v.SetString(s)
	return nil
}
