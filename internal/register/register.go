// Package register keeps one service endpoint (a Lambda version or an HTTP
// URI) registered with a Restate environment, step by step as the CDK's
// registration handler does (@restatedev/restate-cdk): wait for the admin API
// to be healthy, register, check the expected service, mark services
// public or private, prune drained deployments; or deregister the
// endpoint. The `register` command of the function's binary runs it in a
// Job.
package register

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/restateadmin"
)

// Options of one run. Defaults (see Defaults) follow the CDK.
type Options struct {
	AdminURL string
	// Token is the admin API's bearer token, if it needs one.
	Token    string
	Insecure bool
	// AllowLoopback lets the admin URL be a loopback address.
	AllowLoopback bool

	// Exactly one of LambdaARN and URI is set.
	LambdaARN string
	URI       string
	// AssumeRoleARN is the role Restate assumes to invoke the Lambda.
	AssumeRoleARN string
	// Versioning qualifies an unqualified LambdaARN: Latest or Published.
	// Empty registers the ARN as given.
	Versioning string
	// CodeSHA256 is the code a Published version must have.
	CodeSHA256 string
	Publisher  Publisher
	// DeletePrunedVersions deletes the Lambda versions that only pruned
	// deployments used (with Publisher, which must be a VersionDeleter).
	DeletePrunedVersions bool

	Force, Breaking, Private bool
	// ExpectedService must be among the discovered services.
	ExpectedService string

	Prune                bool
	RevisionHistoryLimit int
	MaxPrunedPerRun      int

	Health           Backoff
	RegisterAttempts int
	RegisterBackoff  Backoff

	Log io.Writer
}

// Backoff is an exponential wait between attempts: Initial·2^n, at most
// Max, plus a random jitter of up to Jitter. Each attempt may take up to
// RequestTimeout.
type Backoff struct {
	Attempts       int
	Initial, Max   time.Duration
	Jitter         time.Duration
	RequestTimeout time.Duration
}

// Wait is the pause after the n-th failed attempt (n from 1).
func (b Backoff) Wait(n int) time.Duration {
	d := b.Max
	if n < 32 && b.Initial<<n > 0 && b.Initial<<n < b.Max {
		d = b.Initial << n
	}
	if b.Jitter > 0 {
		d += rand.N(b.Jitter) //nolint:gosec // jitter needs no secrecy
	}
	return d
}

// OptionsOf are the options of a run with the given arguments (the
// command's, defaults applied): everything but the token, the publisher
// and the log, which the command provides.
func OptionsOf(a regcontract.Args) Options {
	return Options{
		AdminURL: a.AdminURL, Insecure: a.Insecure, AllowLoopback: a.AllowLoopback,
		LambdaARN: a.LambdaARN, URI: a.URI, AssumeRoleARN: a.AssumeRoleARN,
		Versioning: a.Versioning, CodeSHA256: a.CodeSHA256, DeletePrunedVersions: a.DeletePrunedVersions,
		Force: a.Force, Breaking: a.Breaking, Private: a.Private, ExpectedService: a.ExpectedService,
		Prune: a.Prune, RevisionHistoryLimit: a.RevisionHistoryLimit, MaxPrunedPerRun: a.MaxPrunedPerRun,
		Health: Backoff{Attempts: a.HealthAttempts, Initial: a.HealthInitialBackoff, Max: a.HealthMaxBackoff,
			Jitter: a.HealthJitter, RequestTimeout: a.HealthTimeout},
		RegisterAttempts: a.RegisterAttempts,
		// Retries of a registration wait 1 s, doubling, at most 10 s,
		// with up to 2 s of jitter.
		RegisterBackoff: Backoff{Attempts: a.RegisterAttempts, Initial: time.Second, Max: 10 * time.Second,
			Jitter: 2 * time.Second, RequestTimeout: a.RegisterTimeout},
	}
}

// Defaults are the options of a run with the command's defaults.
func Defaults() Options { return OptionsOf(regcontract.Defaults()) }

// Result is what a run registered, reported back to the stack.
type Result = regcontract.Report

// Register registers the endpoint, idempotently: a second run with the same
// options leaves the same single deployment.
func Register(ctx context.Context, o Options) (*Result, error) {
	c, err := restateadmin.New(o.AdminURL, o.Token, o.Insecure, o.AllowLoopback)
	if err != nil {
		return nil, fail(ClassUsage, err)
	}
	res := &Result{}
	req := restateadmin.RegisterRequest{URI: o.URI, AssumeRoleARN: o.AssumeRoleARN, Force: o.Force, Breaking: o.Breaking}
	switch {
	case o.URI != "" && o.LambdaARN != "":
		return nil, fail(ClassUsage, errors.New("give a Lambda ARN or a URI, not both"))
	case o.URI != "":
		res.Endpoint = o.URI
	case o.LambdaARN != "":
		if req.ARN, res.Version, err = qualify(ctx, o); err != nil {
			return nil, err
		}
		res.Endpoint = req.ARN
	default:
		return nil, fail(ClassUsage, errors.New("give a Lambda ARN or a URI to register"))
	}

	if err := waitHealthy(ctx, c, o); err != nil {
		return nil, err
	}
	if o.ExpectedService != "" {
		// Discover first, so that the wrong code is never registered.
		dry := req
		dry.DryRun = true
		found, err := registerWithRetries(ctx, c, dry, o)
		if err != nil {
			return nil, err
		}
		if names := serviceNames(found); !slices.Contains(names, o.ExpectedService) {
			return nil, fail(ClassExpectedServiceMissing, fmt.Errorf("%s offers services [%s], not the expected %q; nothing was registered",
				res.Endpoint, strings.Join(names, ", "), o.ExpectedService))
		}
	}
	rsp, err := registerWithRetries(ctx, c, req, o)
	if err != nil {
		return nil, err
	}
	res.DeploymentID, res.Services = rsp.ID, serviceNames(rsp)
	switch {
	case rsp.Created || o.Force:
		logf(o, "registered %s as deployment %s with services [%s]", res.Endpoint, rsp.ID, strings.Join(res.Services, ", "))
	default:
		logf(o, "%s is registered already as deployment %s with services [%s]; without force Restate keeps it as it was",
			res.Endpoint, rsp.ID, strings.Join(res.Services, ", "))
	}

	for _, s := range rsp.Services {
		if s.Public == !o.Private {
			continue
		}
		if err := c.SetPublic(ctx, s.Name, !o.Private); err != nil {
			return nil, classify(err)
		}
		logf(o, "marked service %s %s", s.Name, map[bool]string{true: "private", false: "public"}[o.Private])
	}
	if o.Prune {
		// Best effort, as in the CDK: the registration stands.
		if res.Pruned, err = prune(ctx, c, res, o); err != nil {
			logf(o, "pruning drained deployments failed: %v", err)
		}
	}
	return res, nil
}

// Deregister removes every deployment of the endpoint (the qualified ARN or
// URI that was registered).
func Deregister(ctx context.Context, o Options, endpoint string) (*Result, error) {
	c, err := restateadmin.New(o.AdminURL, o.Token, o.Insecure, o.AllowLoopback)
	if err != nil {
		return nil, fail(ClassUsage, err)
	}
	if err := waitHealthy(ctx, c, o); err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, "SELECT id, endpoint FROM sys_deployment")
	if err != nil {
		return nil, classify(err)
	}
	res := &Result{Endpoint: endpoint}
	for _, r := range rows {
		id, _ := r["id"].(string)
		ep, _ := r["endpoint"].(string)
		if id == "" || !sameEndpoint(ep, endpoint) {
			continue
		}
		if err := c.DeleteDeployment(ctx, id); err != nil {
			return res, classify(err)
		}
		res.Deregistered = append(res.Deregistered, id)
		logf(o, "deregistered deployment %s of %s", id, endpoint)
	}
	if len(res.Deregistered) == 0 {
		logf(o, "no deployment of %s is registered", endpoint)
	}
	return res, nil
}

// qualify returns the ARN to register and its version.
func qualify(ctx context.Context, o Options) (arn, version string, err error) {
	qualified := strings.Count(o.LambdaARN, ":") >= 7
	switch {
	case o.Versioning == "" || qualified:
		if qualified {
			version = o.LambdaARN[strings.LastIndex(o.LambdaARN, ":")+1:]
		}
		return o.LambdaARN, version, nil
	case o.Versioning == regcontract.VersioningLatest:
		return o.LambdaARN + ":$LATEST", "$LATEST", nil
	case o.Versioning == regcontract.VersioningPublished:
		if o.Publisher == nil {
			return "", "", fail(ClassUsage, errors.New("Published versioning needs a Lambda client"))
		}
		v, err := o.Publisher.Publish(ctx, o.LambdaARN, o.CodeSHA256)
		if err != nil {
			return "", "", fail(ClassPublish, err)
		}
		logf(o, "published version %s of %s", v, o.LambdaARN)
		return o.LambdaARN + ":" + v, v, nil
	}
	return "", "", fail(ClassUsage, fmt.Errorf("unknown versioning %q: want %s or %s", o.Versioning, regcontract.VersioningLatest, regcontract.VersioningPublished))
}

func waitHealthy(ctx context.Context, c *restateadmin.Client, o Options) error {
	var last error
	for n := 1; ; n++ {
		last = c.Health(ctx, o.Health.RequestTimeout)
		if last == nil {
			return nil
		}
		var apiErr *restateadmin.Error
		if errors.As(last, &apiErr) && apiErr.Unauthorized() {
			return classify(last)
		}
		logf(o, "health check %d of %d failed: %v", n, o.Health.Attempts, last)
		if n >= o.Health.Attempts {
			return fail(ClassUnreachable, fmt.Errorf("admin API %s not healthy after %d attempts: %w", o.AdminURL, n, last))
		}
		if err := sleep(ctx, o.Health.Wait(n)); err != nil {
			return fail(ClassUnreachable, fmt.Errorf("admin API %s not healthy before the deadline: %w", o.AdminURL, last))
		}
	}
}

// registerWithRetries retries what may pass on a second try: a network
// error or a server error (Restate reports failed discovery as one). A
// refusal (4xx) is final.
func registerWithRetries(ctx context.Context, c *restateadmin.Client, req restateadmin.RegisterRequest, o Options) (*restateadmin.RegisterResponse, error) {
	for n := 1; ; n++ {
		rctx, cancel := context.WithTimeout(ctx, o.RegisterBackoff.RequestTimeout)
		rsp, err := c.Register(rctx, req)
		cancel()
		if err == nil {
			return rsp, nil
		}
		var apiErr *restateadmin.Error
		if errors.As(err, &apiErr) && apiErr.Status < http.StatusInternalServerError {
			return nil, classify(err)
		}
		logf(o, "registration attempt %d of %d failed: %v", n, o.RegisterAttempts, err)
		if n >= o.RegisterAttempts || sleep(ctx, o.RegisterBackoff.Wait(n)) != nil {
			return nil, classify(fmt.Errorf("giving up after %d attempts: %w", n, err))
		}
	}
}

// prune deletes drained deployments (no service points at them, no
// invocation is pinned to them) that offered the services just registered,
// keeping the newest RevisionHistoryLimit and deleting at most
// MaxPrunedPerRun, oldest first among the rest.
func prune(ctx context.Context, c *restateadmin.Client, res *Result, o Options) ([]string, error) {
	rows, err := c.Query(ctx, `SELECT d.id AS id, d.created_at AS created_at, d.services AS services, d.endpoint AS endpoint
		FROM sys_deployment d
		LEFT JOIN sys_service s ON d.id = s.deployment_id
		LEFT JOIN sys_invocation_status i ON d.id = i.pinned_deployment_id AND i.status != 'completed'
		WHERE s.name IS NULL AND i.id IS NULL`)
	if err != nil {
		return nil, err
	}
	endpoints := map[string]string{}
	for _, r := range rows {
		id, _ := r["id"].(string)
		endpoints[id], _ = r["endpoint"].(string)
	}
	var pruned, versions []string
	for _, id := range toPrune(rows, res, o.RevisionHistoryLimit, o.MaxPrunedPerRun) {
		if err := c.DeleteDeployment(ctx, id); err != nil {
			return pruned, err
		}
		pruned = append(pruned, id)
		logf(o, "pruned drained deployment %s", id)
		if v := endpoints[id]; isPublishedVersion(v) {
			versions = append(versions, v)
		}
	}
	if o.DeletePrunedVersions && len(versions) > 0 {
		return pruned, deleteVersions(ctx, c, o, versions)
	}
	return pruned, nil
}

// deleteVersions deletes the Lambda versions of pruned deployments that no
// remaining deployment uses (two deployments may share a version when one
// was registered again with force).
func deleteVersions(ctx context.Context, c *restateadmin.Client, o Options, versions []string) error {
	d, ok := o.Publisher.(VersionDeleter)
	if !ok {
		return errors.New("deleting pruned versions needs a Lambda client")
	}
	rows, err := c.Query(ctx, "SELECT endpoint FROM sys_deployment")
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, r := range rows {
		ep, _ := r["endpoint"].(string)
		used[ep] = true
	}
	for _, v := range versions {
		if used[v] {
			continue
		}
		if err := d.DeleteVersion(ctx, v); err != nil {
			return err
		}
		logf(o, "deleted Lambda version %s, which only pruned deployments used", v)
	}
	return nil
}

// isPublishedVersion says whether an endpoint is a Lambda ARN qualified by
// a version number (not $LATEST, not an alias).
func isPublishedVersion(endpoint string) bool {
	f := strings.Split(endpoint, ":")
	if len(f) != 8 || f[0] != "arn" || f[5] != "function" || f[7] == "" {
		return false
	}
	return strings.Trim(f[7], "0123456789") == ""
}

// toPrune chooses, among drained deployments (rows of id, created_at and
// services), those that offered a service just registered, but for the
// one just registered: all but the newest keep, oldest first, at most
// perRun (at least one).
func toPrune(rows []map[string]any, res *Result, keep, perRun int) []string {
	type drained struct{ id, created string }
	var candidates []drained
	for _, r := range rows {
		id, _ := r["id"].(string)
		created, _ := r["created_at"].(string)
		svcs, _ := r["services"].([]any)
		if id == "" || id == res.DeploymentID || !slices.ContainsFunc(svcs, func(s any) bool { n, _ := s.(string); return slices.Contains(res.Services, n) }) {
			continue
		}
		candidates = append(candidates, drained{id, created})
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].created > candidates[j].created }) // newest first
	if keep >= len(candidates) {
		return nil
	}
	candidates = candidates[max(keep, 0):]
	slices.Reverse(candidates) // oldest first
	ids := make([]string, 0, len(candidates))
	for _, d := range candidates[:min(len(candidates), max(perRun, 1))] {
		ids = append(ids, d.id)
	}
	return ids
}

func serviceNames(r *restateadmin.RegisterResponse) []string {
	names := make([]string, 0, len(r.Services))
	for _, s := range r.Services {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

// sameEndpoint says whether a registered endpoint is the one to
// deregister: the same URI, whether or not Restate added a slash, the same
// qualified ARN, or any version of an unqualified function ARN.
func sameEndpoint(registered, endpoint string) bool {
	if strings.TrimSuffix(registered, "/") == strings.TrimSuffix(endpoint, "/") {
		return true
	}
	return strings.HasPrefix(endpoint, "arn:") && strings.Count(endpoint, ":") == 6 && strings.HasPrefix(registered, endpoint+":")
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func logf(o Options, format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}
