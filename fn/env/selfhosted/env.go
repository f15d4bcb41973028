// Package selfhosted is the self-hosted environment: a single-node Restate
// server on EC2 (the CDK's SingleNodeRestateDeployment) with its network,
// identity, host, user data, memory budget and data volume.
package selfhosted

import (
	"fmt"

	"github.com/crossplane/crossplane-runtime/pkg/meta"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// Env is a resolved self-hosted environment.
type Env struct {
	*Server
	userData UserDataFunc
	// instanceKey is the key of the instance Compose built.
	instanceKey string

	// A cluster's: what is observed of its nodes, and what Compose chose.
	obs      stack.Observed
	observed []observedNode
	// composedInstances are each node's instance keys composed;
	// instanceKeys the one its name and status follow.
	composedInstances [][]string
	instanceKeys      []string
	targetGroupKeys   []string
	// replacing is the node being replaced, or -1.
	replacing int
	// kept is the cluster's last status.
	kept *v1alpha1.ClusterStatus
}

// fieldPath is where a claim sets a self-hosted environment.
var fieldPath = field.NewPath("spec", "environment", "selfHosted")

// Compose composes the server with its network, identity and logs.
func (e *Env) Compose(s *stack.Stack) ([]stack.Part, error) {
	sh := e.Server
	if s.Registration.Agent {
		sh.Agent = &AgentSettings{Image: s.Registration.Image, OrdersSecret: stack.AgentOrdersName(s)}
	}
	if sh.Cluster != nil {
		return e.composeCluster(s)
	}
	netParts, at := buildNetwork(s, sh)
	parts := append(netParts, buildSecurityGroups(s, sh, at)...)
	parts = append(parts, buildAdminAccess(s, sh)...)
	parts = append(parts, buildIdentity(s, sh)...)
	parts = append(parts, buildLogGroup(s, sh), buildVolume(s, sh, KeyDataVolume))
	host, err := buildHost(s, sh, at, fieldPath, e.userData)
	if err != nil {
		return nil, err
	}
	e.instanceKey = host.Key
	return append(parts, host), nil
}

// Learn takes the data volume's id, since the host's user data and policy
// name it: observed, or, when the observation has lost it (a status wiped,
// a provider restarted), from the volume's external name, the composite's
// kept status, or the host policy the stack composed with it. Without it
// the live instance and policy would be withdrawn, and Crossplane would
// delete them.
func (e *Env) Learn(obs stack.Observed, kept v1alpha1.RestateStackStatus) {
	if e.Cluster != nil {
		e.learnCluster(obs, kept)
		return
	}
	// An id that is not a volume's is not used: the user data would name
	// it, and the host be replaced.
	for _, id := range []string{obs.Str(KeyDataVolume, "status.atProvider.volumeID"), obs.Annotation(KeyDataVolume, meta.AnnotationKeyExternalName)} {
		if volumeIDPattern.MatchString(id) {
			e.VolumeID = id
			break
		}
	}
	if e.VolumeID == "" && kept.SelfHosted != nil {
		e.VolumeID = kept.SelfHosted.DataVolumeID
	}
	if e.VolumeID == "" {
		e.VolumeID = volumeIDOfPolicy(obs)
	}
}

// CheckObserved refuses changes to what the data volume was created with.
func (e *Env) CheckObserved(obs stack.Observed) field.ErrorList {
	if e.Cluster != nil {
		return e.clusterUnchanged(obs)
	}
	if nodes := nodesOf(obs, 0); len(nodes) > 0 {
		return field.ErrorList{field.Forbidden(fieldPath.Child("cluster"), "the stack runs a cluster: a cluster cannot become a single node")}
	}
	return volumeUnchanged(e.Server, obs, KeyDataVolume, e.Zone(), zonePath(e.Server))
}

// URLs are the server's admin and ingress URLs once the instance reports
// its DNS name (the private one, or the public one in a public subnet).
func (e *Env) URLs(obs stack.Observed) (admin, ingress string) {
	if e.Cluster != nil {
		return e.clusterURLs(obs)
	}
	host := obs.Str(e.instanceKey, "status.atProvider.privateDnsName")
	if e.Public() {
		host = obs.Str(e.instanceKey, "status.atProvider.publicDnsName")
	}
	if host == "" {
		return "", ""
	}
	ingressPort, adminPort := e.Ports()
	return serverURLs(host, e.TLSEnabled(), ingressPort, adminPort)
}

// InvokerRole is the role the stack composes for the host to assume.
func (e *Env) InvokerRole() stack.InvokerRole { return stack.InvokerRole{Composed: true} }

// Token is none: the admin API is reached only from where the platform
// lets it be.
func (e *Env) Token() *v1alpha1.SecretKeyReference { return nil }

// Insecure: with TLS, nginx presents a self-signed certificate.
func (e *Env) Insecure() bool { return e.TLSEnabled() }

// AdminURL is none the claim gives.
func (e *Env) AdminURL() (string, *field.Path) { return "", nil }

// AdminReachable: the admin API is in the host's VPC, which the cluster
// reaches only where the platform declares a path.
func (e *Env) AdminReachable(r stack.RegistrationSettings) bool { return r.AdminAccess.Declared() }

// HostAgent: the host runs the agent when the stack registers by agent,
// and reports as tags of the data volume, which outlives every instance.
func (e *Env) HostAgent() *stack.HostAgent {
	if e.Cluster != nil {
		return &stack.HostAgent{ReportKey: nodeVolumeKey(0), LogGroup: e.Logs.GroupName}
	}
	return &stack.HostAgent{ReportKey: KeyDataVolume, LogGroup: e.Logs.GroupName}
}

// Status reports the server.
func (e *Env) Status(obs stack.Observed, st *v1alpha1.RestateStackStatus) {
	if e.Cluster != nil {
		e.clusterStatus(obs, st)
		return
	}
	key := e.instanceKey
	ingressPort, adminPort := e.Ports()
	st.SelfHosted = &v1alpha1.SelfHostedStatus{
		InstanceID:             obs.Str(key, "status.atProvider.instanceId"),
		PrivateDNSName:         obs.Str(key, "status.atProvider.privateDnsName"),
		PublicDNSName:          obs.Str(key, "status.atProvider.publicDnsName"),
		IngressPort:            ingressPort,
		AdminPort:              adminPort,
		IngressSecurityGroupID: obs.Str(KeyIngressGroup, "status.atProvider.securityGroupID"),
		AdminSecurityGroupID:   obs.Str(KeyAdminGroup, "status.atProvider.securityGroupID"),
		DataVolumeID:           e.VolumeID,
	}
}

// serverURLs builds the admin and ingress URLs of a host. With TLS the
// ingress is on https's own port, so it is left out.
func serverURLs(host string, tls bool, ingressPort, adminPort int32) (admin, ingress string) {
	if tls {
		return fmt.Sprintf("https://%s:%d", host, adminPort), "https://" + host
	}
	return fmt.Sprintf("http://%s:%d", host, adminPort), fmt.Sprintf("http://%s:%d", host, ingressPort)
}
