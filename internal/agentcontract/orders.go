// Package agentcontract is the contract between the composition function
// and the host agent (`function-restate-stack agent`), which registers a
// self-hosted stack's services from the host itself, where the cluster has
// no network path to the admin API: the orders the function composes (one
// document, delivered through a Secrets Manager secret) and the report the
// agent writes back (tags on the stack's data volume, which provider-aws
// observes). It sits beside regcontract, whose Args each order carries, so
// that a Job and the agent run the same registration with the same
// options. It depends on the standard library and regcontract alone.
package agentcontract

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

// Version is the orders document's version; an agent refuses another.
const Version = "agent.restate-crossplane.io/v1"

// Command is the binary's subcommand the host runs.
const Command = "agent"

// SecretKey is the key of the orders in the Kubernetes Secret the function
// composes (and provider-aws copies into Secrets Manager).
const SecretKey = "orders"

// LogStream is the agent's stream in the stack's log group.
const LogStream = "registration-agent"

// Orders are what the agent keeps true: each Register order's service
// registered at its revision, each Deregister order's service gone.
type Orders struct {
	Version    string  `json:"version"`
	Register   []Order `json:"register,omitempty"`
	Deregister []Order `json:"deregister,omitempty"`
}

// Order is one service's registration (or deregistration).
type Order struct {
	// Service is the claim's name for the service.
	Service string `json:"service"`
	// Revision changes whenever anything the registration depends on
	// does; the agent applies an order once per revision.
	Revision string `json:"revision"`
	// Command is the register command line a Job would run
	// (regcontract.Args.CommandLine); the agent runs it in process, aimed
	// at its own host's admin API.
	Command []string `json:"command"`
	// Undo is the command line that deregisters the order's endpoint once
	// its service leaves the claim; none when the service's removal policy
	// is Retain. The function keeps it to compose the Deregister order;
	// the agent does not run it.
	Undo []string `json:"undo,omitempty"`
}

// Args are the order's register arguments, defaults applied as the
// command applies them.
func (o Order) Args() (regcontract.Args, error) {
	return regcontract.ParseWithDefaults(o.Command)
}

// serviceRE is what a service's name may be to appear in a tag key.
var serviceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// revisionRE is what a revision may be to appear in a tag value.
var revisionRE = regexp.MustCompile(`^[a-z0-9]{1,32}$`)

// Marshal writes the orders in a stable form (sorted by service), so that
// the same orders are always the same bytes.
func (o Orders) Marshal() ([]byte, error) {
	o.Version = Version
	for _, l := range [][]Order{o.Register, o.Deregister} {
		slices.SortFunc(l, func(a, b Order) int { return strings.Compare(a.Service, b.Service) })
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(o)
}

// ParseOrders reads an orders document and checks it.
func ParseOrders(b []byte) (Orders, error) {
	var o Orders
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("not an orders document: %w", err)
	}
	if o.Version != Version {
		return o, fmt.Errorf("orders of version %q, not %q", o.Version, Version)
	}
	return o, o.Validate()
}

// Validate checks that every order can be reported: a service name that
// fits a tag key, a revision that fits a tag value, one order per service,
// and an endpoint.
func (o Orders) Validate() error {
	seen := map[string]bool{}
	var errs []error
	for _, ord := range slices.Concat(o.Register, o.Deregister) {
		switch {
		case !serviceRE.MatchString(ord.Service):
			errs = append(errs, fmt.Errorf("service %q: not a DNS label", ord.Service))
		case seen[ord.Service]:
			errs = append(errs, fmt.Errorf("service %q: more than one order", ord.Service))
		case !revisionRE.MatchString(ord.Revision):
			errs = append(errs, fmt.Errorf("service %q: revision %q is not 1 to 32 lower-case letters and digits", ord.Service, ord.Revision))
		default:
			a, err := ord.Args()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("service %q: %w", ord.Service, err))
			case (a.LambdaARN == "") == (a.URI == ""):
				errs = append(errs, fmt.Errorf("service %q: exactly one of a Lambda ARN and a URI", ord.Service))
			}
		}
		seen[ord.Service] = true
	}
	return errors.Join(errs...)
}
