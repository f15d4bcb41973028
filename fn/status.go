package fn

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/crossplane/function-sdk-go/resource"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// setReadiness marks each desired resource ready exactly when the provider
// says its observed counterpart is. A resource not yet observed is not
// ready.
func setReadiness(desired map[resource.Name]*resource.DesiredComposed, obs stack.Observed) {
	for name, d := range desired {
		d.Ready = resource.ReadyFalse
		if obs.Ready(string(name)) {
			d.Ready = resource.ReadyTrue
		}
	}
}

// notReady lists the desired resources that are not ready yet, sorted.
func notReady(desired map[resource.Name]*resource.DesiredComposed) []string {
	var waiting []string
	for name, d := range desired {
		if d.Ready != resource.ReadyTrue {
			waiting = append(waiting, string(name))
		}
	}
	sort.Strings(waiting)
	return waiting
}

// observedAccount finds the AWS account id in an observed ARN, for
// platforms that do not put it in the function's input. Roles are the
// first resources with an ARN in every kind of stack.
func observedAccount(obs stack.Observed) string {
	for _, name := range stack.SortedKeys(obs) {
		for _, path := range accountPaths {
			if a := stack.AccountOfARN(obs.Str(name, path)); a != "" {
				return a
			}
		}
	}
	return ""
}

// accountPaths are where observed resources carry an ARN.
var accountPaths = []string{"status.atProvider.arn", "status.atProvider.functionARN"}

// checkAccounts refuses a stack whose observed ARNs name another account
// than the stack's, or that no twelve digits make: policies are built
// from the account id, and one from the wrong account (or a wildcard in
// its place) would grant in the wrong place.
func checkAccounts(account string, obs stack.Observed) error {
	var bad []string
	for _, name := range stack.SortedKeys(obs) {
		for _, path := range accountPaths {
			arn := obs.Str(name, path)
			if arn == "" {
				continue
			}
			if a := stack.AccountOfARN(arn); a == "" || account != "" && a != account {
				bad = append(bad, fmt.Sprintf("%s (%s %s)", name, path, arn))
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("observed ARNs outside the stack's account %s, or without a twelve-digit account id: %s; nothing is composed from them until the resources are fixed", account, strings.Join(bad, ", "))
}

// stackView is what the stack's observed resources say of it, read once
// per call: its URLs and the role Restate invokes Lambda with, for
// registration and status alike.
type stackView struct {
	adminURL, ingressURL string
	invokerRoleARN       string
}

// viewOf reads the view from what is observed.
func viewOf(env Environment, obs stack.Observed) stackView {
	v := stackView{invokerRoleARN: invokerRoleARN(env, obs)}
	v.adminURL, v.ingressURL = env.URLs(obs)
	return v
}

// stackReport is what the function reports on the composite: its status,
// the resources not ready yet by concern, and what each service waits for
// to be registered.
type stackReport struct {
	status       v1alpha1.RestateStackStatus
	waiting      map[stack.Concern][]string
	unregistered []string
	// agentSilent: the host agent has not reported for too long.
	agentSilent bool
}

// report derives the stack's status from what is observed.
func report(s *stack.Stack, env Environment, v stackView, plan registrationPlan, desired map[resource.Name]*resource.DesiredComposed, owners map[string]stack.Owner, held []heldPart, obs stack.Observed) stackReport {
	notYet := notReady(desired)
	r := stackReport{waiting: map[stack.Concern][]string{}}
	for _, h := range held {
		r.waiting[h.Owner.Concern] = append(r.waiting[h.Owner.Concern], h.Key+" (after "+strings.Join(h.waitsFor, ", ")+")")
	}
	busy := map[string]bool{}
	for _, key := range notYet {
		o := owners[key]
		r.waiting[o.Concern] = append(r.waiting[o.Concern], key)
		if o.Concern == stack.ConcernServices {
			busy[o.Service] = true
		}
	}
	r.status = v1alpha1.RestateStackStatus{
		Resources:      fmt.Sprintf("%d/%d", len(desired)-len(notYet), len(desired)),
		Services:       servicesStatus(s, obs, busy),
		InvokerRoleARN: v.invokerRoleARN,
		AccountID:      s.AccountID,
		AdminURL:       v.adminURL,
		IngressURL:     v.ingressURL,
	}
	env.Status(obs, &r.status)
	if plan.agent != nil {
		r.unregistered, r.agentSilent = agentStatus(s, plan, &r.status, obs, time.Now())
	} else {
		r.unregistered = registrationStatus(s, plan, &r.status, obs)
	}
	return r
}

// invokerRoleARN is the role Restate assumes to invoke Lambda services:
// one the claim names, or the observed ARN of the one the stack composes.
func invokerRoleARN(env Environment, obs stack.Observed) string {
	if r := env.InvokerRole(); !r.Composed {
		return r.ARN
	}
	return obs.Str(stack.KeyInvokerRole, "status.atProvider.arn")
}

// servicesStatus reports each service: what Lambda observed of its
// function, and whether all its resources are ready (not busy).
func servicesStatus(s *stack.Stack, obs stack.Observed, busy map[string]bool) []v1alpha1.ServiceStatus {
	if len(s.Services) == 0 {
		return nil
	}
	out := make([]v1alpha1.ServiceStatus, 0, len(s.Services))
	for _, svc := range s.Services {
		st := v1alpha1.ServiceStatus{Name: svc.Name, Ready: !busy[svc.Name]}
		if svc.HTTP != nil {
			st.Kind, st.URI = "HTTP", svc.HTTP.URI
		} else {
			key := serviceKey(svc.Name, "")
			st.Kind = "Lambda"
			st.FunctionARN = obs.Str(key, "status.atProvider.functionARN")
			st.CodeSHA256 = obs.Str(key, "status.atProvider.codeSHA256")
		}
		out = append(out, st)
	}
	return out
}

const ()

// ownersOf maps every key composed in this call to its owner. Resources
// kept while their service is deregistered are known by key alone.
func ownersOf(parts []stack.Part, plan registrationPlan) map[string]stack.Owner {
	out := make(map[string]stack.Owner, len(parts)+len(plan.parts)+len(plan.kept))
	for _, p := range append(parts, plan.parts...) {
		out[p.Key] = p.Owner
	}
	for key := range plan.kept {
		out[string(key)] = stack.Owner{Concern: stack.ConcernServices, Service: serviceOfKey(string(key))}
	}
	return out
}

// waitingMessage says what a stack that is not ready waits for.
func waitingMessage(waiting []string) string {
	return "waiting for " + strings.Join(waiting, ", ")
}
