package fn

import (
	"fmt"
	"sort"
	"strings"

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

// stackStatus derives the stack's status from what is observed.
// waiting and groups are the desired resources not ready yet, and the same
// by concern.
func stackStatus(s *stack, desired map[resource.Name]*resource.DesiredComposed, obs observed, waiting []string, groups map[string][]string) v1alpha1.RestateStackStatus {
	st := v1alpha1.RestateStackStatus{
		Resources:      fmt.Sprintf("%d/%d", len(desired)-len(waiting), len(desired)),
		Services:       servicesStatus(s, obs, groups[concernServices]),
		InvokerRoleARN: invokerRoleARN(s, obs),
	}
	st.AdminURL, st.IngressURL = environmentURLs(s, desired, obs)
	if s.SelfHosted != nil {
		st.SelfHosted = selfHostedStatus(s, desired, obs)
	}
	return st
}

// environmentURLs are the environment's admin and ingress URLs, once known:
// a self-hosted server's once the instance reports its DNS name (the
// private one, or the public one in a public subnet).
func environmentURLs(s *stack, desired map[resource.Name]*resource.DesiredComposed, obs observed) (admin, ingress string) {
	switch {
	case s.Cloud != nil:
		return cloudURLs(s.Cloud)
	case s.External != nil:
		return s.External.AdminURL, s.External.IngressURL
	}
	sh := s.SelfHosted
	key := instanceKey(desired)
	host := obs.str(key, "status.atProvider.privateDnsName")
	if sh.Public() {
		host = obs.str(key, "status.atProvider.publicDnsName")
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

// instanceKey is the composition resource name of the desired instance,
// whose key carries a hash of its launch settings.
func instanceKey(desired map[resource.Name]*resource.DesiredComposed) string {
	for name := range desired {
		if strings.HasPrefix(string(name), keyInstancePrefix) {
			return string(name)
		}
	}
	return ""
}

// selfHostedStatus reports the server.
func selfHostedStatus(s *stack, desired map[resource.Name]*resource.DesiredComposed, obs observed) *v1alpha1.SelfHostedStatus {
	ingressPort, adminPort := s.SelfHosted.Ports()
	key := instanceKey(desired)
	return &v1alpha1.SelfHostedStatus{
		InstanceID:             obs.str(key, "status.atProvider.instanceId"),
		PrivateDNSName:         obs.str(key, "status.atProvider.privateDnsName"),
		PublicDNSName:          obs.str(key, "status.atProvider.publicDnsName"),
		IngressPort:            ingressPort,
		AdminPort:              adminPort,
		IngressSecurityGroupID: obs.str(keyIngressGroup, "status.atProvider.securityGroupID"),
		AdminSecurityGroupID:   obs.str(keyAdminGroup, "status.atProvider.securityGroupID"),
	}
}

// servicesStatus reports each service: what Lambda observed of its
// function, and whether all its resources are ready.
func servicesStatus(s *stack, obs observed, waiting []string) []v1alpha1.ServiceStatus {
	if len(s.Services) == 0 {
		return nil
	}
	busy := map[string]bool{}
	for _, key := range waiting {
		busy[serviceOfKey(key)] = true
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

// Concerns a composed resource belongs to, each with its condition.
const (
	concernEnvironment  = "environment"
	concernServices     = "services"
	concernRegistration = "registration"
)

// groupByConcern sorts resource names by the concern they belong to.
func groupByConcern(keys []string) map[string][]string {
	out := map[string][]string{}
	for _, k := range keys {
		switch {
		case serviceOfKey(k) != "":
			out[concernServices] = append(out[concernServices], k)
		case strings.HasPrefix(k, keyRegisterPrefix), strings.HasPrefix(k, keyDeregisterPrefix), strings.HasPrefix(k, "register-"):
			out[concernRegistration] = append(out[concernRegistration], k)
		default:
			out[concernEnvironment] = append(out[concernEnvironment], k)
		}
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
