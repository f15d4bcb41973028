package fn

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

const (
	// annRegistration on a Job records what deregistering its
	// service needs, for when the service has left the claim.
	annRegistration = "restate-crossplane.io/registration"
	labelStack      = "restate-crossplane.io/stack"
	labelService    = "restate-crossplane.io/service"

	tokenDir = "/var/run/secrets/restate"
	// registerDeadline bounds one run; the Job's own deadline adds room
	// for pulling the image and retries.
	registerDeadline   = 900 * time.Second
	jobDeadlineSeconds = 1200
)

// registrationRecord is what deregistration needs of a service that is no
// longer in the claim.
type registrationRecord struct {
	Service       string                       `json:"service"`
	Endpoint      string                       `json:"endpoint"` // unqualified ARN or URI
	Lambda        bool                         `json:"lambda,omitempty"`
	RemovalPolicy v1alpha1.RemovalPolicy       `json:"removalPolicy"`
	AdminURL      string                       `json:"adminUrl"`
	Insecure      bool                         `json:"insecure,omitempty"`
	Token         *v1alpha1.SecretKeyReference `json:"token,omitempty"`
}

// registrationPlan is what buildRegistration decided: the parts to compose,
// observed resources to keep while their service is deregistered, and what
// each service waits for.
type registrationPlan struct {
	parts []stack.Part
	kept  map[resource.Name]*resource.DesiredComposed
	// jobs maps each service to its current Job's key, if it has one.
	jobs map[string]string
	// waiting says, per service, why it has no Job yet.
	waiting map[string]string
	// noPath: the cluster has no declared path to a self-hosted admin API.
	noPath bool
	// agent is what the host agent is asked, when it registers.
	agent *agentPlan
}

// noAdminPath is what a self-hosted stack's services wait for when the
// platform declares no way from the cluster to the admin API.
const noAdminPath = "a network path from the cluster to the self-hosted admin API, which the platform does not declare: " +
	"set the Composition's StackPolicy input registration.adminAccess (the cluster's security group ids, or its CIDR blocks), " +
	"or a registration.adminUrl the cluster reaches; until then no registration Job is composed"

// buildRegistration composes, per service, a Job that registers it once
// its endpoint is known (the function observed ready, with its ARN and
// code hash; or the HTTP URI) and the admin URL is known; and a Job that
// deregisters a service with removal policy Destroy that left the claim,
// keeping its function until that Job has succeeded.
func buildRegistration(s *stack.Stack, env Environment, v stackView, desired map[resource.Name]*resource.DesiredComposed, obs stack.Observed) registrationPlan {
	if s.Registration.Agent {
		return buildAgentOrders(s, env, v, desired, obs)
	}
	plan := registrationPlan{kept: map[resource.Name]*resource.DesiredComposed{}, jobs: map[string]string{}, waiting: map[string]string{}}
	if len(s.Services) == 0 && !hasJobs(obs) && len(previousOrders(obs).Register) == 0 {
		return plan
	}
	if s.Registration.Namespace == "" {
		for _, svc := range s.Services {
			plan.waiting[svc.Name] = "a namespace: the composite has no claim and the platform sets no registration namespace"
		}
		return plan
	}
	var reports []string
	var jobs []stack.Part
	for _, svc := range s.Services {
		admin := svc.Registration.AdminURL
		if admin == "" {
			admin = v.adminURL
		}
		target, why := registrationTarget(s, svc, desired, obs)
		switch {
		case svc.Registration.AdminURL == "" && !env.AdminReachable(s.Registration):
			// A Job could only fail, twenty minutes of health checks later.
			plan.waiting[svc.Name] = noAdminPath
			plan.noPath = true
			continue
		case admin == "":
			plan.waiting[svc.Name] = "the environment's admin URL"
			keepJobs(plan.kept, obs, svc.Name)
			continue
		case why != "":
			plan.waiting[svc.Name] = why
			// What is observed without status (a provider restarted, a
			// status wiped) looks not ready: the service's Job stays, as the
			// record of what is registered.
			keepJobs(plan.kept, obs, svc.Name)
			continue
		}
		rec := registrationRecord{Service: svc.Name, Endpoint: target.endpoint, Lambda: svc.Lambda != nil, RemovalPolicy: svc.Registration.RemovalPolicy,
			AdminURL: admin, Insecure: svc.Registration.Insecure, Token: env.Token()}
		args := registerArgs(s, svc, rec, target, v.invokerRoleARN)
		// The name covers all of the Job's template, which Kubernetes never
		// changes in place: what it registers, and how it runs.
		key := keyRegisterPrefix + svc.Name + "-" + stack.HashOf(append([]string{s.Name, s.Registration.Image, s.Registration.Namespace, target.config, s.Registration.Resources.String()},
			args.CommandLine()...)...)
		name := stack.ResourceName(s.Name, key)
		args.ReportConfigMap = name
		reports = append(reports, name)
		// The report ConfigMap first: the Job's pod writes into it.
		plan.parts = append(plan.parts, reportConfigMap(s, reportKey(key), name, svc.Name))
		jobs = append(jobs, registrationJob(s, key, svc.Name, args, rec, true))
	}
	jobs = append(jobs, deregistrations(s, env, obs, v.adminURL, plan.kept)...)
	if len(jobs) == 0 {
		if len(plan.kept) > 0 {
			// Kept Jobs keep their identity.
			for _, key := range []string{keyRegisterSA, keyRegisterRole, keyRegisterBinding} {
				if o, ok := obs[key]; ok {
					plan.kept[resource.Name(key)] = keepObserved(o, true)
				}
			}
		}
		return plan
	}
	rbac, rbacReady := registerRBAC(s, reports, obs)
	plan.parts = append(plan.parts, stack.OwnedBy(rbac, stack.Owner{Concern: stack.ConcernRegistration})...)
	// A Job starts its pod at once: it comes once its identity may write
	// its report (or once it exists, never to be withdrawn for that).
	for _, j := range jobs {
		_, exists := obs[j.Key]
		reg, _ := jobKind(j.Key)
		switch {
		case exists || rbacReady && (!reg || obs[reportKey(j.Key)] != nil):
			plan.parts = append(plan.parts, j)
			if reg {
				plan.jobs[j.Owner.Service] = j.Key
			}
		case reg:
			plan.waiting[j.Owner.Service] = "its Job's service account, RBAC and report ConfigMap"
			// The service's previous Job holds the record of what is
			// registered: it stays until the new Job is composed, so that a
			// service removed meanwhile is still deregistered.
			for _, key := range previousJobs(obs, j.Owner.Service, j.Key) {
				plan.kept[resource.Name(key)] = keepObserved(obs[key], obs.Ready(key))
				if r, ok := obs[reportKey(key)]; ok {
					plan.kept[resource.Name(reportKey(key))] = keepObserved(r, true)
				}
			}
		}
	}
	return plan
}

// target is a service's endpoint as registration sees it.
type target struct {
	endpoint   string // unqualified function ARN, or the URI
	codeSHA256 string
	// config changes whenever the function's configuration does, so that
	// $LATEST is registered again after a configuration change.
	config string
}

// registrationTarget returns a service's endpoint, or what it waits for.
func registrationTarget(s *stack.Stack, svc stack.Service, desired map[resource.Name]*resource.DesiredComposed, obs stack.Observed) (target, string) {
	if svc.HTTP != nil {
		return target{endpoint: svc.HTTP.URI, config: svc.HTTP.Revision}, ""
	}
	key := serviceKey(svc.Name, "")
	d := desired[resource.Name(key)]
	arn := obs.Str(key, "status.atProvider.functionARN")
	code := obs.Str(key, "status.atProvider.codeSHA256")
	if d == nil || d.Ready != resource.ReadyTrue || arn == "" || code == "" {
		return target{}, "its function to be ready"
	}
	// Restate invokes the function during discovery: the invoker role and
	// its grant must be in place first.
	for _, k := range []string{stack.KeyInvokerRole, keyInvokeGrant, keyPublishGrant} {
		if g := desired[resource.Name(k)]; g != nil && g.Ready != resource.ReadyTrue && (k != keyInvokeGrant || svc.Grant) {
			return target{}, "the " + k
		}
	}
	forProvider, _ := json.Marshal(d.Resource.Object["spec"])
	return target{endpoint: arn, codeSHA256: code, config: stack.HashOf(string(forProvider))}, ""
}

// registerArgs are the register command's arguments for a service.
func registerArgs(s *stack.Stack, svc stack.Service, rec registrationRecord, t target, invoker string) regcontract.Args {
	r := svc.Registration
	a := regcontract.Args{
		AdminURL: rec.AdminURL,
		Force:    r.Force, Breaking: r.Breaking, Private: r.Private, Insecure: r.Insecure, AllowLoopback: s.Registration.AllowLoopback,
		ExpectedService: svc.ExpectedServiceName,
		Prune:           r.Prune, RevisionHistoryLimit: int(r.RevisionHistoryLimit), MaxPrunedPerRun: int(r.MaxPrunedPerRun),
		HealthAttempts: int(r.HealthCheckAttempts), HealthMaxBackoff: time.Duration(r.MaxBackoffSeconds) * time.Second,
		Deadline: registerDeadline,
	}
	if svc.Lambda != nil {
		a.LambdaARN, a.Versioning, a.CodeSHA256, a.AssumeRoleARN = t.endpoint, string(s.Versioning), t.codeSHA256, invoker
	} else {
		a.URI = t.endpoint
	}
	if rec.Token != nil {
		a.TokenFile = tokenDir + "/token"
	}
	return a
}

// deregistrations composes a deregistration Job for each service that left
// the claim with removal policy Destroy after it was registered, and keeps
// that service's resources until the Job has succeeded. admin is the
// environment's admin URL, for services the host agent registered before
// the stack moved to Jobs.
func deregistrations(s *stack.Stack, env Environment, obs stack.Observed, admin string, kept map[resource.Name]*resource.DesiredComposed) []stack.Part {
	records, done := leftServices(s, obs)
	for _, o := range previousOrders(obs).Register {
		a, err := regcontract.ParseWithDefaults(o.Undo)
		if _, known := records[o.Service]; len(o.Undo) == 0 || err != nil || known || inSpec(s, o.Service) {
			continue
		}
		// Until a deregistration Job exists to carry the record, the orders
		// stay as the record of what to deregister (and the agent, while
		// its host runs, applies them).
		for _, key := range []string{stack.KeyAgentOrdersSource, stack.KeyAgentOrders} {
			if ob, ok := obs[key]; ok {
				kept[resource.Name(key)] = keepObserved(ob, obs.Ready(key))
			}
		}
		if admin == "" {
			continue
		}
		records[o.Service] = registrationRecord{Service: o.Service, Endpoint: a.LambdaARN + a.URI, Lambda: a.LambdaARN != "",
			RemovalPolicy: v1alpha1.RemovalDestroy, AdminURL: admin, Insecure: env.Insecure()}
	}
	var parts []stack.Part
	for _, svc := range stack.SortedKeys(records) {
		if done[svc] {
			continue // deregistered: let the function and the Job go
		}
		rec := records[svc]
		args := deregisterArgs(rec, s.Registration.AllowLoopback)
		key := keyDeregisterPrefix + svc + "-" + stack.HashOf(args.CommandLine()...)
		parts = append(parts, registrationJob(s, key, svc, args, rec, false))
		for key, o := range obs {
			if serviceOfKey(key) == svc {
				kept[resource.Name(key)] = keepObserved(o, obs.Ready(key))
			}
		}
	}
	return parts
}

// leftServices are the registration records, from observed Jobs, of the
// services that left the claim with removal policy Destroy after they
// were registered, and which of them a deregistration Job has removed.
func leftServices(s *stack.Stack, obs stack.Observed) (records map[string]registrationRecord, done map[string]bool) {
	records, done = map[string]registrationRecord{}, map[string]bool{}
	for _, key := range stack.SortedKeys(obs) {
		isReg, isDereg := jobKind(key)
		if !isReg && !isDereg {
			continue
		}
		var rec registrationRecord
		if err := json.Unmarshal([]byte(obs.Annotation(key, annRegistration)), &rec); err != nil || rec.Service == "" || inSpec(s, rec.Service) ||
			rec.RemovalPolicy != v1alpha1.RemovalDestroy {
			continue
		}
		// A Job that has not reported may have registered all the same (it
		// may still be running); one that failed without a report is taken
		// to have registered nothing, unless the last status reported the
		// service registered (by an earlier Job: a new Job of the same
		// service may fail where the earlier one succeeded). Deregistering
		// what is not registered does nothing.
		if isReg && obs.Str(reportKey(key), "data."+regcontract.ReportEndpoint) == "" && jobFailed(obs, key) != "" && s.Registered[rec.Service] == "" {
			continue
		}
		records[rec.Service] = rec
		if isDereg && obs.Ready(key) {
			done[rec.Service] = true
		}
	}
	return records, done
}

// inSpec says whether the claim has the service.
func inSpec(s *stack.Stack, svc string) bool {
	for _, x := range s.Services {
		if x.Name == svc {
			return true
		}
	}
	return false
}

// keepJobs keeps a service's observed registration Jobs and their reports
// while no new Job can be composed for it.
func keepJobs(kept map[resource.Name]*resource.DesiredComposed, obs stack.Observed, svc string) {
	for _, key := range previousJobs(obs, svc, "") {
		kept[resource.Name(key)] = keepObserved(obs[key], obs.Ready(key))
		if r, ok := obs[reportKey(key)]; ok {
			kept[resource.Name(reportKey(key))] = keepObserved(r, true)
		}
	}
}

// deregisterArgs are the register command's arguments that deregister a
// record's endpoint (every version of a function, or the URI).
func deregisterArgs(rec registrationRecord, allowLoopback bool) regcontract.Args {
	a := regcontract.Args{Deregister: true, AdminURL: rec.AdminURL, Insecure: rec.Insecure, AllowLoopback: allowLoopback, Deadline: registerDeadline}
	if rec.Lambda {
		a.LambdaARN = rec.Endpoint
	} else {
		a.URI = rec.Endpoint
	}
	if rec.Token != nil {
		a.TokenFile = tokenDir + "/token"
	}
	return a
}

// previousJobs are the observed registration Jobs of a service other than
// its current one, by the record each carries.
func previousJobs(obs stack.Observed, svc, current string) []string {
	var keys []string
	for _, key := range stack.SortedKeys(obs) {
		if reg, _ := jobKind(key); !reg || key == current {
			continue
		}
		var rec registrationRecord
		if json.Unmarshal([]byte(obs.Annotation(key, annRegistration)), &rec) == nil && rec.Service == svc {
			keys = append(keys, key)
		}
	}
	return keys
}

// keepObserved turns an observed resource back into a desired one, so that
// it stays while its service is deregistered (or its next Job waits): its
// spec, and its namespace, labels and
// annotations, which hold a Job's registration record; and the orders of
// the host agent's Secret. A report ConfigMap's data is its Job's to
// write, never the function's.
func keepObserved(o *structpb.Struct, ready bool) *resource.DesiredComposed {
	m := o.AsMap()
	u := composed.New()
	u.SetAPIVersion(asString(m["apiVersion"]))
	u.SetKind(asString(m["kind"]))
	md, _ := m["metadata"].(map[string]any)
	u.SetName(asString(md["name"]))
	u.SetNamespace(asString(md["namespace"]))
	u.SetLabels(stringMap(md["labels"]))
	u.SetAnnotations(stringMap(md["annotations"]))
	if spec, ok := m["spec"]; ok {
		u.Object["spec"] = spec
	}
	if u.GetAPIVersion() == "v1" && u.GetKind() == "Secret" {
		// The host agent's orders: the function wrote them, and they are
		// what is kept.
		u.Object["type"], u.Object["data"] = m["type"], m["data"]
	}
	d := &resource.DesiredComposed{Resource: u, Ready: resource.ReadyFalse}
	if ready {
		d.Ready = resource.ReadyTrue
	}
	return d
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = asString(x)
	}
	return out
}

// waitingFor says what a service without a registration waits for.
func (p registrationPlan) waitingFor(svc string) string {
	why := p.waiting[svc]
	if why == "" {
		why = "registration"
	}
	return svc + ": waiting for " + why
}

// registrationStatus fills in each service's registration from its Job's
// report ConfigMap, and says what the services still wait for.
func registrationStatus(s *stack.Stack, plan registrationPlan, st *v1alpha1.RestateStackStatus, obs stack.Observed) (waiting []string) {
	for i := range st.Services {
		svc := st.Services[i].Name
		key, ok := plan.jobs[svc]
		if !ok {
			waiting = append(waiting, plan.waitingFor(svc))
			continue
		}
		report := regcontract.ReportFromData(func(k string) string {
			return obs.Str(reportKey(key), "data."+k)
		})
		job := stack.ResourceName(s.Name, key)
		r := &v1alpha1.RegistrationStatus{Job: job, Endpoint: report.Endpoint, Version: report.Version, DeploymentID: report.DeploymentID, Services: report.Services}
		_, seen := obs[key]
		r.Complete = seen && obs.Ready(key) && r.Endpoint != ""
		st.Services[i].Registration = r
		switch {
		case r.Complete:
		case seen && jobFailed(obs, key) != "":
			waiting = append(waiting, fmt.Sprintf("%s: Job %s/%s failed (%s); see kubectl logs -n %s job/%s", svc, s.Registration.Namespace, job, jobFailed(obs, key), s.Registration.Namespace, job))
		default:
			waiting = append(waiting, fmt.Sprintf("%s: Job %s/%s running", svc, s.Registration.Namespace, job))
		}
	}
	return waiting
}

// jobFailed is the reason of a failed Job, or "".
func jobFailed(obs stack.Observed, key string) string {
	c := stack.ConditionOfType(obs.Value(key, "status.conditions"), "Failed")
	if c.GetFields()["status"].GetStringValue() != "True" {
		return ""
	}
	if r := c.GetFields()["reason"].GetStringValue(); r != "" {
		return r
	}
	return "Failed"
}

// hasJobs says whether any registration Job is observed.
func hasJobs(obs stack.Observed) bool {
	for key := range obs {
		if reg, dereg := jobKind(key); reg || dereg {
			return true
		}
	}
	return false
}
