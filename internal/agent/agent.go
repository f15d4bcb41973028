// Package agent is the host agent: on a self-hosted Restate host, it keeps
// the stack's services registered as the function's orders say, against
// the admin API on its own host, and reports back as tags (see
// agentcontract). Each registration is internal/register's, as a Job runs
// it, so the two paths cannot drift.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/register"
)

// Channel is how the agent reads its orders and writes its report.
type Channel interface {
	// Orders returns the orders document.
	Orders(ctx context.Context) ([]byte, error)
	// Tag sets and deletes tags of the report's resource.
	Tag(ctx context.Context, set map[string]string, del []string) error
}

// Agent applies orders, one pass at a time.
type Agent struct {
	// AdminURL is the admin API on this host; every order is aimed at it.
	AdminURL  string
	Channel   Channel
	Publisher register.Publisher
	// StateFile remembers the tags written and when a failed order was
	// last tried. On the data volume it outlives the instance, so a
	// replacement host knows which tags are its to delete.
	StateFile string
	// RetryAfter is how long a failed order waits before it is tried again
	// at the same revision.
	RetryAfter time.Duration
	// HeartbeatEvery is how often the heartbeat is written when nothing
	// else changed (every pass when zero): each write is a change
	// provider-aws observes and the function reconciles.
	HeartbeatEvery time.Duration
	Log            io.Writer
	Now            func() time.Time

	state *state
}

// state is what the agent keeps across passes and restarts.
type state struct {
	// Tags are the report's tags as last written.
	Tags map[string]string `json:"tags"`
	// Tried is when each failed order was last tried.
	Tried map[string]time.Time `json:"tried,omitempty"`
}

// Step runs one pass: it reads the orders, applies what changed since the
// report, and writes the report with a heartbeat. A registration that
// fails is reported with its class; the pass goes on.
func (a *Agent) Step(ctx context.Context) error {
	if err := a.load(); err != nil {
		return err
	}
	now := a.now()
	tags := maps.Clone(a.state.Tags)
	if last, err := time.Parse(time.RFC3339, tags[agentcontract.TagHeartbeat]); err != nil || now.Sub(last) >= a.HeartbeatEvery {
		tags[agentcontract.TagHeartbeat] = agentcontract.HeartbeatValue(now)
	}

	raw, err := a.Channel.Orders(ctx)
	var orders agentcontract.Orders
	if err == nil {
		orders, err = agentcontract.ParseOrders(raw)
	}
	if err != nil {
		// Report the heartbeat alone: the function says the agent lives
		// but is not applying, and the log says why.
		a.logf("cannot read the orders: %v", err)
		return errors.Join(err, a.write(ctx, tags))
	}

	wanted := map[string]bool{}
	for _, o := range orders.Register {
		key := agentcontract.ServiceKey(o.Service)
		wanted[key] = true
		if a.current(tags[key], o.Revision, now, o.Service) {
			continue
		}
		r := a.register(ctx, o)
		if r.Class != 0 {
			a.state.Tried[o.Service] = now
		} else {
			delete(a.state.Tried, o.Service)
		}
		tags[key] = r.Value()
	}
	for _, o := range orders.Deregister {
		key := agentcontract.GoneKey(o.Service)
		wanted[key] = true
		if tags[key] == o.Revision {
			continue
		}
		if err := a.deregister(ctx, o); err != nil {
			a.logf("service %s: deregistration failed, tried again next pass: %v", o.Service, err)
			continue
		}
		tags[key] = o.Revision
		delete(tags, agentcontract.ServiceKey(o.Service))
	}
	// What no order asks about any more is no longer reported.
	for key := range tags {
		if key != agentcontract.TagHeartbeat && !wanted[key] {
			delete(tags, key)
		}
	}
	for svc := range a.state.Tried {
		if !wanted[agentcontract.ServiceKey(svc)] {
			delete(a.state.Tried, svc)
		}
	}
	return a.write(ctx, tags)
}

// Run runs a pass every interval until ctx ends.
func (a *Agent) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := a.Step(ctx); err != nil {
			a.logf("pass failed: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// current says whether a service's report already answers its order: the
// same revision, done, or failed less than RetryAfter ago.
func (a *Agent) current(tagValue, revision string, now time.Time, svc string) bool {
	if tagValue == "" {
		return false
	}
	r, err := agentcontract.ParseServiceValue(tagValue)
	if err != nil || r.Revision != revision {
		return false
	}
	return r.Class == 0 || now.Sub(a.state.Tried[svc]) < a.RetryAfter
}

// register runs one order's registration and returns its report.
func (a *Agent) register(ctx context.Context, o agentcontract.Order) agentcontract.ServiceReport {
	r := agentcontract.ServiceReport{Revision: o.Revision}
	opts, err := a.options(o)
	if err == nil {
		var res *register.Result
		if res, err = register.Register(ctx, opts); err == nil {
			r.DeploymentID, r.Version = res.DeploymentID, res.Version
			a.logf("service %s: registered %s (revision %s)", o.Service, res.Endpoint, o.Revision)
			return r
		}
	}
	r.Class = register.ExitCode(err)
	a.logf("service %s: registration failed (class %d), tried again in %s: %v", o.Service, r.Class, a.RetryAfter, err)
	return r
}

func (a *Agent) deregister(ctx context.Context, o agentcontract.Order) error {
	opts, err := a.options(o)
	if err != nil {
		return err
	}
	endpoint := opts.URI
	if endpoint == "" {
		endpoint = opts.LambdaARN
	}
	_, err = register.Deregister(ctx, opts, endpoint)
	return err
}

// options are an order's register options, aimed at this host.
func (a *Agent) options(o agentcontract.Order) (register.Options, error) {
	args, err := o.Args()
	if err != nil {
		return register.Options{}, &register.Error{Class: register.ClassUsage, Err: err}
	}
	args.AdminURL, args.AllowLoopback, args.Insecure = a.AdminURL, true, false
	opts := register.OptionsOf(args)
	opts.Publisher, opts.Log = a.Publisher, a.Log
	return opts, nil
}

// write writes the tags that changed and remembers them.
func (a *Agent) write(ctx context.Context, tags map[string]string) error {
	if len(tags) > agentcontract.MaxTags {
		return fmt.Errorf("the report needs %d tags, over AWS's %d", len(tags), agentcontract.MaxTags)
	}
	set := map[string]string{}
	for k, v := range tags {
		if a.state.Tags[k] != v {
			set[k] = v
		}
	}
	var del []string
	for k := range a.state.Tags {
		if _, ok := tags[k]; !ok {
			del = append(del, k)
		}
	}
	slices.Sort(del)
	if len(set) > 0 && set[agentcontract.TagHeartbeat] == "" && a.HeartbeatEvery > 0 {
		// Something changed: the report says when, too.
		set[agentcontract.TagHeartbeat] = agentcontract.HeartbeatValue(a.now())
		tags[agentcontract.TagHeartbeat] = set[agentcontract.TagHeartbeat]
	}
	if len(set) == 0 && len(del) == 0 {
		return a.save()
	}
	if err := a.Channel.Tag(ctx, set, del); err != nil {
		return fmt.Errorf("cannot write the report: %w", err)
	}
	a.state.Tags = tags
	return a.save()
}

func (a *Agent) load() error {
	if a.state != nil {
		return nil
	}
	a.state = &state{Tags: map[string]string{}, Tried: map[string]time.Time{}}
	if a.StateFile == "" {
		return nil
	}
	b, err := os.ReadFile(a.StateFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	if err := json.Unmarshal(b, a.state); err != nil {
		// A torn file is not a reason to stop: the next write replaces
		// it, and tags it forgot are rewritten or outlived.
		a.logf("ignoring an unreadable state file %s: %v", a.StateFile, err)
	}
	if a.state.Tags == nil {
		a.state.Tags = map[string]string{}
	}
	if a.state.Tried == nil {
		a.state.Tried = map[string]time.Time{}
	}
	return nil
}

// save writes the state file whole or not at all.
func (a *Agent) save() error {
	if a.StateFile == "" {
		return nil
	}
	b, err := json.Marshal(a.state)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(a.StateFile), 0o700); err != nil {
		return err
	}
	tmp := a.StateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, a.StateFile)
}

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Agent) logf(format string, args ...any) {
	if a.Log != nil {
		fmt.Fprintf(a.Log, "agent: "+format+"\n", args...)
	}
}
