package fn

import (
	"encoding/base64"
	"fmt"
	"time"

	secretsmanager "github.com/crossplane-contrib/provider-aws/apis/secretsmanager/v1beta1"
	"github.com/crossplane/function-sdk-go/resource"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

const (
	// agentAdminURL is the admin API as the agent reaches it, on its own
	// host; the agent aims every order there.
	agentAdminURL = "http://127.0.0.1:9070"
	// agentSilence is how long an agent may go without a heartbeat before
	// the claim says so. The agent beats every 15 s; provider-aws observes
	// the volume about every minute.
	agentSilence = 5 * time.Minute
)

// agentPlan is what the host agent is asked to do, by service: the
// revision each registration is at, and those being deregistered.
type agentPlan struct {
	register, deregister map[string]string
	// endpoint is each registered service's unqualified ARN or URI.
	endpoint map[string]string
	host     *stack.HostAgent
}

// buildAgentOrders composes the host agent's orders: per service whose
// endpoint is known, the register command line a Job would run, at a
// revision of everything it depends on; per service that left with removal
// policy Destroy, its deregistration, keeping its resources until the
// agent reports it done. The orders travel as a Kubernetes Secret, which
// provider-aws copies into the Secrets Manager secret the host reads; the
// secret's description carries the orders' hash, so that a change is a
// change of the managed resource, acted on at once rather than at the
// provider's next poll.
func buildAgentOrders(s *stack.Stack, env Environment, v stackView, desired map[resource.Name]*resource.DesiredComposed, obs stack.Observed) registrationPlan {
	plan := registrationPlan{kept: map[resource.Name]*resource.DesiredComposed{}, jobs: map[string]string{}, waiting: map[string]string{},
		agent: &agentPlan{register: map[string]string{}, deregister: map[string]string{}, endpoint: map[string]string{}, host: env.HostAgent()}}
	if s.Registration.Namespace == "" {
		for _, svc := range s.Services {
			plan.waiting[svc.Name] = "a namespace for the host agent's orders: the composite has no claim and the platform sets no registration namespace"
		}
		return plan
	}
	var orders agentcontract.Orders
	inSpec := map[string]bool{}
	for _, svc := range s.Services {
		inSpec[svc.Name] = true
		t, why := registrationTarget(s, svc, desired, obs)
		if why != "" {
			plan.waiting[svc.Name] = why
			continue
		}
		rec := registrationRecord{Service: svc.Name, Endpoint: t.endpoint, Lambda: svc.Lambda != nil, RemovalPolicy: svc.Registration.RemovalPolicy, AdminURL: agentAdminURL}
		args := registerArgs(s, svc, rec, t, v.invokerRoleARN)
		args.AllowLoopback, args.Insecure = true, false
		args.DeletePrunedVersions = svc.Lambda != nil && s.Versioning == v1alpha1.VersioningPublished && svc.Registration.Prune
		cmd := args.CommandLine()
		o := agentcontract.Order{Service: svc.Name, Revision: stack.HashOf(append([]string{s.Name, t.config}, cmd...)...), Command: cmd}
		if rec.RemovalPolicy == v1alpha1.RemovalDestroy {
			o.Undo = undoArgs(rec).CommandLine()
		}
		orders.Register = append(orders.Register, o)
		plan.agent.register[svc.Name] = o.Revision
		plan.agent.endpoint[svc.Name] = t.endpoint
	}

	// Services that left: deregister those whose last order says how,
	// until the agent reports them gone.
	report := obs.AgentReport(plan.agent.host.ReportKey)
	prev := previousOrders(obs)
	// Services registered by Jobs before the stack moved to the agent are
	// deregistered by the agent as well.
	jobRecords, jobDone := leftServices(s, obs)
	for _, svc := range stack.SortedKeys(jobRecords) {
		if !jobDone[svc] {
			cmd := undoArgs(jobRecords[svc]).CommandLine()
			prev.Deregister = append(prev.Deregister, agentcontract.Order{Service: svc, Revision: stack.HashOf(cmd...), Command: cmd})
		}
	}
	for _, o := range append(prev.Register, prev.Deregister...) {
		if inSpec[o.Service] || plan.agent.deregister[o.Service] != "" {
			continue
		}
		d := o
		if len(o.Undo) > 0 { // a registration order: its undo
			d = agentcontract.Order{Service: o.Service, Revision: stack.HashOf(o.Undo...), Command: o.Undo}
		} else if !isDeregistration(o) {
			continue // Retain: the service stays registered
		}
		if report.Gone[d.Service] == d.Revision {
			continue // deregistered: let its resources go
		}
		orders.Deregister = append(orders.Deregister, d)
		plan.agent.deregister[d.Service] = d.Revision
		for key, ob := range obs {
			if serviceOfKey(key) == d.Service {
				plan.kept[resource.Name(key)] = keepObserved(ob, obs.Ready(key))
			}
		}
	}

	doc, err := orders.Marshal()
	if err != nil {
		// Every order is built from a validated claim; a refusal here is
		// a bug, and composing nothing keeps the last orders in place.
		for _, svc := range s.Services {
			plan.waiting[svc.Name] = "orders the agent can read: " + err.Error()
		}
		return plan
	}
	plan.parts = append(plan.parts, agentChannel(s, doc)...)
	return plan
}

// agentChannel is the orders' way to the host: a Kubernetes Secret, and the
// Secrets Manager secret provider-aws keeps equal to it.
func agentChannel(s *stack.Stack, doc []byte) []stack.Part {
	name := stack.ResourceName(s.Name, stack.KeyAgentOrdersSource)
	src := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Registration.Namespace, Labels: map[string]string{labelStack: s.Name}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{agentcontract.SecretKey: doc},
	}
	sec := &secretsmanager.Secret{Spec: secretsmanager.SecretSpec{ForProvider: secretsmanager.SecretParameters{
		Description: ptr.To(fmt.Sprintf("Restate registration orders of stack %s for its host agent (orders %s)", s.Name, stack.HashOf(string(doc)))),
		CustomSecretParameters: secretsmanager.CustomSecretParameters{
			StringSecretRef: &secretsmanager.SecretReference{Name: name, Namespace: s.Registration.Namespace, Key: ptr.To(agentcontract.SecretKey)},
			// The name is free again at once when the stack goes, so that
			// the same claim can be created again.
			ForceDeleteWithoutRecovery: ptr.To(true),
		},
	}}}
	owner := stack.Owner{Concern: stack.ConcernRegistration}
	return []stack.Part{
		{Key: stack.KeyAgentOrdersSource, Name: name, MR: src, Owner: owner},
		{Key: stack.KeyAgentOrders, Name: stack.AgentOrdersName(s), MR: sec, Owner: owner, Needs: []string{stack.KeyAgentOrdersSource}},
	}
}

// undoArgs deregister a record's endpoint through the agent.
func undoArgs(rec registrationRecord) regcontract.Args {
	rec.AdminURL, rec.Insecure, rec.Token = agentAdminURL, false, nil
	return deregisterArgs(rec, true)
}

func isDeregistration(o agentcontract.Order) bool {
	a, err := o.Args()
	return err == nil && a.Deregister
}

// previousOrders are the orders last composed, as observed in the
// Kubernetes Secret; none if it cannot be read.
func previousOrders(obs stack.Observed) agentcontract.Orders {
	b, err := base64.StdEncoding.DecodeString(obs.Str(stack.KeyAgentOrdersSource, "data."+agentcontract.SecretKey))
	if err != nil || len(b) == 0 {
		return agentcontract.Orders{}
	}
	o, err := agentcontract.ParseOrders(b)
	if err != nil {
		return agentcontract.Orders{}
	}
	return o
}

// agentStatus fills in each service's registration from the agent's
// report, and says what the services still wait for: an order not yet
// applied, a registration Restate refused (with its class), or an agent
// that has gone silent.
func agentStatus(s *stack.Stack, plan registrationPlan, st *v1alpha1.RestateStackStatus, obs stack.Observed, now time.Time) (waiting []string, silent bool) {
	a := plan.agent
	report := obs.AgentReport(a.host.ReportKey)
	logs := fmt.Sprintf("the log stream %s of the log group %s", agentcontract.LogStream, a.host.LogGroup)
	// What an agent that cannot reach AWS lacks, most often.
	const endpoints = "; a host in a private subnet without NAT needs VPC endpoints for secretsmanager, ec2, lambda, sts and logs"
	// An agent that never reported may still be starting with its host; one
	// that stopped reporting is silent.
	silent = !report.Heartbeat.IsZero() && now.Sub(report.Heartbeat) > agentSilence && len(a.register) > 0
	for i := range st.Services {
		svc := st.Services[i].Name
		rev, ok := a.register[svc]
		if !ok {
			waiting = append(waiting, plan.waitingFor(svc))
			continue
		}
		r := report.Services[svc]
		reg := &v1alpha1.RegistrationStatus{Agent: true, Revision: rev}
		if reg.Complete = r.Revision == rev && r.Class == 0 && r.DeploymentID != ""; reg.Complete {
			reg.Version, reg.DeploymentID, reg.Endpoint = r.Version, r.DeploymentID, a.endpoint[svc]
			if r.Version != "" {
				reg.Endpoint += ":" + r.Version
			}
		}
		st.Services[i].Registration = reg
		switch {
		case reg.Complete:
		case silent:
			waiting = append(waiting, fmt.Sprintf("%s: the host agent has not reported since %s; read %s%s", svc, report.Heartbeat.UTC().Format(time.RFC3339), logs, endpoints))
		case report.Heartbeat.IsZero():
			waiting = append(waiting, fmt.Sprintf("%s: waiting for the host agent's first report (it starts once Restate is healthy on the host; read %s%s)", svc, logs, endpoints))
		case r.Revision == rev:
			waiting = append(waiting, fmt.Sprintf("%s: the host agent's registration failed (class %d: %s); it tries again; read %s", svc, r.Class, regcontract.Class(r.Class), logs))
		default:
			waiting = append(waiting, fmt.Sprintf("%s: the host agent is registering revision %s", svc, rev))
		}
	}
	return waiting, silent
}
