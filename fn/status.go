package fn

import (
	"fmt"
	"sort"
	"strings"

	ec2manual "github.com/crossplane-contrib/provider-aws/apis/ec2/manualv1alpha1"
	"github.com/crossplane/function-sdk-go/resource"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
)

// setReadiness marks each desired resource ready exactly when the provider
// says its observed counterpart is. A resource not yet observed is not
// ready.
func setReadiness(desired map[resource.Name]*resource.DesiredComposed, obs observed) {
	for name, d := range desired {
		d.Ready = resource.ReadyFalse
		if obs.ready(string(name)) {
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
func observedAccount(obs observed) string {
	for _, name := range sortedKeys(obs) {
		for _, path := range []string{"status.atProvider.arn", "status.atProvider.functionARN"} {
			if a := accountOfARN(obs.str(name, path)); a != "" {
				return a
			}
		}
	}
	return ""
}

// stackView is what the stack's observed resources say of it, read once
// per call: its URLs and the role Restate invokes Lambda with, for
// registration and status alike.
type stackView struct {
	adminURL, ingressURL string
	invokerRoleARN       string
	// instanceKey is the key of the desired instance, if any.
	instanceKey string
}

// viewOf reads the view from the built parts and what is observed.
func viewOf(s *stack, parts []part, obs observed) stackView {
	v := stackView{invokerRoleARN: invokerRoleARN(s, obs)}
	for _, p := range parts {
		if _, ok := p.mr.(*ec2manual.Instance); ok {
			v.instanceKey = p.key
		}
	}
	v.adminURL, v.ingressURL = environmentURLs(s, v.instanceKey, obs)
	return v
}

// stackReport is what the function reports on the composite: its status,
// the resources not ready yet by concern, and what each service waits for
// to be registered.
type stackReport struct {
	status       v1alpha1.RestateStackStatus
	waiting      map[concern][]string
	unregistered []string
}

// report derives the stack's status from what is observed.
func report(s *stack, v stackView, plan registrationPlan, desired map[resource.Name]*resource.DesiredComposed, owners map[string]owner, held []heldPart, obs observed) stackReport {
	notYet := notReady(desired)
	r := stackReport{waiting: map[concern][]string{}}
	for _, h := range held {
		r.waiting[h.owner.concern] = append(r.waiting[h.owner.concern], h.key+" (after "+strings.Join(h.waitsFor, ", ")+")")
	}
	busy := map[string]bool{}
	for _, key := range notYet {
		o := owners[key]
		r.waiting[o.concern] = append(r.waiting[o.concern], key)
		if o.concern == concernServices {
			busy[o.service] = true
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
	if s.SelfHosted != nil {
		r.status.SelfHosted = selfHostedStatus(s, v.instanceKey, obs)
	}
	r.unregistered = registrationStatus(s, plan, &r.status, obs)
	return r
}

// environmentURLs are the environment's admin and ingress URLs, once known:
// a self-hosted server's once the instance reports its DNS name (the
// private one, or the public one in a public subnet).
func environmentURLs(s *stack, instanceKey string, obs observed) (admin, ingress string) {
	switch {
	case s.Cloud != nil:
		return cloudURLs(s.Cloud)
	case s.External != nil:
		return s.External.AdminURL, s.External.IngressURL
	}
	sh := s.SelfHosted
	host := obs.str(instanceKey, "status.atProvider.privateDnsName")
	if sh.Public() {
		host = obs.str(instanceKey, "status.atProvider.publicDnsName")
	}
	if host == "" {
		return "", ""
	}
	ingressPort, adminPort := sh.Ports()
	return serverURLs(host, sh.TLSEnabled(), ingressPort, adminPort)
}

// invokerRoleARN is the role Restate assumes to invoke Lambda services:
// one the claim names, or the observed ARN of the one the stack composes.
func invokerRoleARN(s *stack, obs observed) string {
	if arn := s.existingInvokerRole(); arn != "" || s.External != nil {
		return arn
	}
	return obs.str(keyInvokerRole, "status.atProvider.arn")
}

// selfHostedStatus reports the server.
func selfHostedStatus(s *stack, key string, obs observed) *v1alpha1.SelfHostedStatus {
	ingressPort, adminPort := s.SelfHosted.Ports()
	return &v1alpha1.SelfHostedStatus{
		InstanceID:             obs.str(key, "status.atProvider.instanceId"),
		PrivateDNSName:         obs.str(key, "status.atProvider.privateDnsName"),
		PublicDNSName:          obs.str(key, "status.atProvider.publicDnsName"),
		IngressPort:            ingressPort,
		AdminPort:              adminPort,
		IngressSecurityGroupID: obs.str(keyIngressGroup, "status.atProvider.securityGroupID"),
		AdminSecurityGroupID:   obs.str(keyAdminGroup, "status.atProvider.securityGroupID"),
		DataVolumeID:           s.SelfHosted.VolumeID,
	}
}

// servicesStatus reports each service: what Lambda observed of its
// function, and whether all its resources are ready (not busy).
func servicesStatus(s *stack, obs observed, busy map[string]bool) []v1alpha1.ServiceStatus {
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
			st.FunctionARN = obs.str(key, "status.atProvider.functionARN")
			st.CodeSHA256 = obs.str(key, "status.atProvider.codeSHA256")
		}
		out = append(out, st)
	}
	return out
}

// concern is what a composed resource is for; each has its condition.
type concern string

const (
	concernEnvironment  concern = "environment"
	concernServices     concern = "services"
	concernRegistration concern = "registration"
)

// owner is what a part is for: its concern and, for a service's resources,
// the service.
type owner struct {
	concern concern
	service string
}

// ownedBy says what the parts are for.
func ownedBy(parts []part, o owner) []part {
	for i := range parts {
		parts[i].owner = o
	}
	return parts
}

// ownersOf maps every key composed in this call to its owner. Resources
// kept while their service is deregistered are known by key alone.
func ownersOf(parts []part, plan registrationPlan) map[string]owner {
	out := make(map[string]owner, len(parts)+len(plan.parts)+len(plan.kept))
	for _, p := range append(parts, plan.parts...) {
		out[p.key] = p.owner
	}
	for key := range plan.kept {
		out[string(key)] = owner{concern: concernServices, service: serviceOfKey(string(key))}
	}
	return out
}

// serverURLs builds the admin and ingress URLs of a host. With TLS the
// ingress is on https's own port, so it is left out.
func serverURLs(host string, tls bool, ingressPort, adminPort int32) (admin, ingress string) {
	if tls {
		return fmt.Sprintf("https://%s:%d", host, adminPort), "https://" + host
	}
	return fmt.Sprintf("http://%s:%d", host, adminPort), fmt.Sprintf("http://%s:%d", host, ingressPort)
}

// waitingMessage says what a stack that is not ready waits for.
func waitingMessage(waiting []string) string {
	return "waiting for " + strings.Join(waiting, ", ")
}
