package selfhosted

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// learnCluster reads each node's instances and data volume id, observed or
// kept in the composite's status (the nodes' user data and the host policy
// name them).
func (e *Env) learnCluster(obs stack.Observed, kept v1alpha1.RestateStackStatus) {
	e.obs = obs
	e.replacing = -1
	e.observed = nodesOf(obs, int(e.Cluster.Nodes))
	if kept.SelfHosted != nil {
		e.kept = kept.SelfHosted.Cluster
	}
	if e.kept != nil {
		for i := range e.observed {
			if e.observed[i].VolumeID == "" && i < len(e.kept.Nodes) && volumeIDPattern.MatchString(e.kept.Nodes[i].DataVolumeID) {
				e.observed[i].VolumeID = e.kept.Nodes[i].DataVolumeID
			}
		}
	}
	e.NodeVolumeIDs = nil
	for i := range e.Cluster.Nodes {
		e.NodeVolumeIDs = append(e.NodeVolumeIDs, e.observed[i].VolumeID)
	}
	e.VolumeID = e.NodeVolumeIDs[0]
}

// clusterUnchanged refuses what a provisioned cluster cannot follow: fewer
// nodes, another zone for a node, another replication or metadata store,
// and a single node's resources beside the cluster's.
func (e *Env) clusterUnchanged(obs stack.Observed) field.ErrorList {
	cp := fieldPath.Child("cluster")
	var errs field.ErrorList
	if _, ok := obs[KeyDataVolume]; ok {
		errs = append(errs, field.Forbidden(cp, "the stack runs a single node: a single node cannot become a cluster in place; create a new stack"))
	}
	if n := len(e.observed); n > int(e.Cluster.Nodes) {
		errs = append(errs, field.Invalid(cp.Child("nodes"), e.Cluster.Nodes, fmt.Sprintf("the cluster has %d nodes: nodes may grow but not shrink (removing a Restate node is a manual procedure)", n)))
	}
	for i := range min(len(e.observed), int(e.Cluster.Nodes)) {
		node := e.Server.node("", i)
		errs = append(errs, volumeUnchanged(e.Server, obs, nodeVolumeKey(i), node.Zone, cp.Child("zones"))...)
	}
	if k := e.kept; k != nil {
		if k.Replication != 0 && k.Replication != e.Cluster.Replication {
			errs = append(errs, field.Invalid(cp.Child("replication"), e.Cluster.Replication, fmt.Sprintf("the cluster was provisioned with replication %d, which is fixed", k.Replication)))
		}
		if k.Metadata != "" && k.Metadata != e.Cluster.Metadata {
			errs = append(errs, field.Invalid(cp.Child("metadata"), e.Cluster.Metadata, fmt.Sprintf("the cluster was provisioned with metadata %s, which is fixed", k.Metadata)))
		}
	}
	return errs
}

// clusterURLs are the load balancer's, or node 0's by its private name.
func (e *Env) clusterURLs(obs stack.Observed) (admin, ingress string) {
	ingressPort, adminPort := e.Ports()
	if e.Cluster.Endpoint == v1alpha1.EndpointInternalLoadBalancer {
		host := obs.Str(KeyLoadBalancer, "status.atProvider.dnsName")
		if host == "" {
			return "", ""
		}
		return serverURLs(host, e.TLSEnabled(), ingressPort, adminPort)
	}
	if !obs.Ready(KeyNodeRecordPrefix + nodeName(0)) {
		return "", ""
	}
	return serverURLs(nodeName(0)+"."+e.DNSZone, e.TLSEnabled(), ingressPort, adminPort)
}

// clusterStatus reports the cluster and each node.
func (e *Env) clusterStatus(obs stack.Observed, st *v1alpha1.RestateStackStatus) {
	ingressPort, adminPort := e.Ports()
	cs := &v1alpha1.ClusterStatus{Replication: e.Cluster.Replication, Metadata: e.Cluster.Metadata, Store: e.Store.URL()}
	if e.replacing >= 0 {
		cs.Replacing = nodeName(e.replacing)
	}
	if at := obs.AgentReport(nodeVolumeKey(0)).ClusterProvisioned; !at.IsZero() {
		cs.Provisioned = at.UTC().Format(time.RFC3339)
	}
	for i := range e.Cluster.Nodes {
		node := e.Server.node("", int(i))
		key := ""
		if int(i) < len(e.instanceKeys) {
			key = e.instanceKeys[i]
		}
		cs.Nodes = append(cs.Nodes, v1alpha1.NodeStatus{
			Name: node.Name, Address: node.Address, Zone: node.Zone,
			InstanceID:   obs.Str(key, "status.atProvider.instanceId"),
			PrivateIP:    obs.Str(key, "status.atProvider.privateIpAddress"),
			DataVolumeID: e.NodeVolumeIDs[i],
			Serving:      key != "" && e.serving(int(i), key),
		})
	}
	st.SelfHosted = &v1alpha1.SelfHostedStatus{
		IngressPort:            ingressPort,
		AdminPort:              adminPort,
		IngressSecurityGroupID: obs.Str(KeyIngressGroup, "status.atProvider.securityGroupID"),
		AdminSecurityGroupID:   obs.Str(KeyAdminGroup, "status.atProvider.securityGroupID"),
		LoadBalancerDNSName:    obs.Str(KeyLoadBalancer, "status.atProvider.dnsName"),
		Cluster:                cs,
	}
}
