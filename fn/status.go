package fn

import (
	"fmt"
	"sort"
	"strings"

	xpv1 "github.com/crossplane/crossplane-runtime/v2/apis/common/v1"
	"github.com/crossplane/function-sdk-go/resource"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
)

// setReadiness marks each desired resource ready exactly when the provider
// says its observed counterpart is. A resource not yet observed is not
// ready.
func setReadiness(desired map[resource.Name]*resource.DesiredComposed, observed map[resource.Name]resource.ObservedComposed) {
	for name, d := range desired {
		d.Ready = resource.ReadyFalse
		if o, ok := observed[name]; ok && o.Resource.GetCondition(xpv1.TypeReady).Status == "True" {
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

// observedString reads a string field of an observed resource, or "".
func observedString(observed map[resource.Name]resource.ObservedComposed, name, path string) string {
	o, ok := observed[resource.Name(name)]
	if !ok {
		return ""
	}
	v, _ := o.Resource.GetString(path)
	return v
}

// observedAccount finds the AWS account id in an observed role's ARN, for
// platforms that do not put it in the function's input.
func observedAccount(observed map[resource.Name]resource.ObservedComposed) string {
	for _, key := range []string{keyInstanceRole, keyInvokerRole} {
		if a := accountOfARN(observedString(observed, key, "status.atProvider.arn")); a != "" {
			return a
		}
	}
	return ""
}

// stackStatus derives the stack's status from what is observed. The URLs
// appear once the instance reports its DNS name: the private one, or the
// public one for a host in a public subnet.
func stackStatus(s *stack, instanceKey string, desired map[resource.Name]*resource.DesiredComposed, observed map[resource.Name]resource.ObservedComposed) v1alpha1.RestateStackStatus {
	sh := s.SelfHosted
	ingressPort, adminPort := sh.Ports()
	st := v1alpha1.RestateStackStatus{
		InvokerRoleARN: observedString(observed, keyInvokerRole, "status.atProvider.arn"),
		SelfHosted: &v1alpha1.SelfHostedStatus{
			InstanceID:             observedString(observed, instanceKey, "status.atProvider.instanceId"),
			PrivateDNSName:         observedString(observed, instanceKey, "status.atProvider.privateDnsName"),
			PublicDNSName:          observedString(observed, instanceKey, "status.atProvider.publicDnsName"),
			IngressPort:            ingressPort,
			AdminPort:              adminPort,
			IngressSecurityGroupID: observedString(observed, keyIngressGroup, "status.atProvider.securityGroupID"),
			AdminSecurityGroupID:   observedString(observed, keyAdminGroup, "status.atProvider.securityGroupID"),
		},
		Resources: fmt.Sprintf("%d/%d", len(desired)-len(notReady(desired)), len(desired)),
	}
	host := st.SelfHosted.PrivateDNSName
	if sh.Public() {
		host = st.SelfHosted.PublicDNSName
	}
	if host != "" {
		st.AdminURL, st.IngressURL = serverURLs(host, sh.TLSEnabled(), ingressPort, adminPort)
	}
	return st
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
