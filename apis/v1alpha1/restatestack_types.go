package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A DeletionPolicy says what happens to the AWS resources of a stack when the
// stack is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

// Deletion policies, as Crossplane managed resources spell them.
const (
	DeletionDelete DeletionPolicy = "Delete"
	DeletionOrphan DeletionPolicy = "Orphan"
)

// RestateStackSpec is what an application team asks for.
type RestateStackSpec struct {
	// AWS region of every regional resource of the stack, for example
	// eu-central-1. Defaults to the platform's default region; the platform may
	// restrict which regions a claim can use.
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`
	Region string `json:"region,omitempty"`

	// ProviderConfigRef names the provider-aws ProviderConfig (AWS account and
	// credentials) that every composed resource uses. Defaults to the
	// platform's default; the platform may restrict which ones a claim can use.
	// +optional
	ProviderConfigRef *ProviderConfigReference `json:"providerConfigRef,omitempty"`

	// Tags added to every taggable AWS resource of the stack, next to the
	// platform's tags (a claim cannot override a platform tag) and the
	// stack's own identifying tags.
	// +optional
	// +kubebuilder:validation:MaxProperties=40
	Tags map[string]string `json:"tags,omitempty"`

	// DeletionPolicy of every composed AWS resource: Delete removes them from
	// AWS when the stack is deleted; Orphan keeps them all in AWS. The
	// self-hosted removalPolicy can keep the data volume and logs even when
	// this is Delete; see the README's table of removal settings.
	// Defaults to Delete.
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// Environment is the Restate environment the stack's services register
	// with. Exactly one kind must be set.
	Environment EnvironmentSpec `json:"environment"`

	// Services of the stack, each registered with the environment.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Services []ServiceSpec `json:"services,omitempty"`

	// Registration defaults for every service; a service's own registration
	// options override them.
	// +optional
	Registration RegistrationOptions `json:"registration,omitempty"`

	// Versioning says which Lambda version is registered: Published (a
	// version per code change, which in-flight invocations keep) or Latest
	// ($LATEST, forced). Defaults to the platform's default, else Latest,
	// the one that needs no AWS identity in the cluster.
	// +optional
	Versioning VersioningMode `json:"versioning,omitempty"`
}

// ProviderConfigReference names a provider-aws ProviderConfig.
type ProviderConfigReference struct {
	// Name of the ProviderConfig.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// EnvironmentSpec chooses where Restate runs. It is a union: exactly one
// member is set.
// +kubebuilder:validation:XValidation:rule="[has(self.selfHosted), has(self.cloud), has(self.external)].filter(x, x).size() == 1",message="exactly one of selfHosted, cloud or external must be set"
type EnvironmentSpec struct {
	// SelfHosted runs a single-node Restate server on an EC2 instance that the
	// stack creates, with its network, IAM roles and log group.
	// +optional
	SelfHosted *SelfHostedSpec `json:"selfHosted,omitempty"`

	// Cloud is an environment of Restate Cloud.
	// +optional
	Cloud *CloudEnvironmentSpec `json:"cloud,omitempty"`

	// External is any other Restate environment that already runs.
	// +optional
	External *ExternalEnvironmentSpec `json:"external,omitempty"`
}

// RestateStackStatus is what the stack reports back.
type RestateStackStatus struct {
	// AdminURL of the Restate admin API, once known.
	// +optional
	AdminURL string `json:"adminUrl,omitempty"`

	// IngressURL where clients invoke Restate services, once known.
	// +optional
	IngressURL string `json:"ingressUrl,omitempty"`

	// AccountID is the AWS account the stack's resources are in, once known
	// (from the platform, or from an observed ARN). The function keeps it
	// here: the exact-ARN policies it composes depend on it, and must not be
	// withdrawn should an observation lose it.
	// +optional
	AccountID string `json:"accountId,omitempty"`

	// InvokerRoleARN is the IAM role Restate assumes to invoke Lambda
	// services, once known.
	// +optional
	InvokerRoleARN string `json:"invokerRoleArn,omitempty"`

	// SelfHosted reports the self-hosted server's details.
	// +optional
	SelfHosted *SelfHostedStatus `json:"selfHosted,omitempty"`

	// Services reports each service of spec.services, in that order.
	// +optional
	// +listType=map
	// +listMapKey=name
	Services []ServiceStatus `json:"services,omitempty"`

	// Resources counts the stack's composed AWS resources and how many are
	// ready, for example "14/16".
	// +optional
	Resources string `json:"resources,omitempty"`
}

// SelfHostedStatus reports what a self-hosted environment observed in AWS.
type SelfHostedStatus struct {
	// InstanceID of the EC2 instance running Restate.
	// +optional
	InstanceID string `json:"instanceId,omitempty"`
	// PrivateDNSName of the instance.
	// +optional
	PrivateDNSName string `json:"privateDnsName,omitempty"`
	// PublicDNSName of the instance, for a public subnet.
	// +optional
	PublicDNSName string `json:"publicDnsName,omitempty"`
	// IngressPort the ingress listens on (8080, or 443 with TLS termination).
	// +optional
	IngressPort int32 `json:"ingressPort,omitempty"`
	// AdminPort the admin API listens on (9070, or 9073 with TLS termination).
	// +optional
	AdminPort int32 `json:"adminPort,omitempty"`
	// IngressSecurityGroupID: members of this group may reach the ingress.
	// +optional
	IngressSecurityGroupID string `json:"ingressSecurityGroupId,omitempty"`
	// AdminSecurityGroupID: members of this group may reach the admin API.
	// +optional
	AdminSecurityGroupID string `json:"adminSecurityGroupId,omitempty"`
	// DataVolumeID of the EBS volume holding Restate's data. The function
	// keeps it here once observed: the host's user data and permissions
	// name it, and must not change should an observation lose it.
	// +optional
	DataVolumeID string `json:"dataVolumeId,omitempty"`
	// LoadBalancerDNSName of a cluster's internal load balancer.
	// +optional
	LoadBalancerDNSName string `json:"loadBalancerDnsName,omitempty"`
	// Cluster is what a cluster was provisioned with, and where its
	// rollout stands.
	// +optional
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// ClusterStatus is a cluster's provisioned settings and its nodes.
type ClusterStatus struct {
	// Replication and Metadata the cluster was composed with; fixed.
	// +optional
	Replication int32 `json:"replication,omitempty"`
	// +optional
	Metadata ClusterMetadata `json:"metadata,omitempty"`
	// Store is the S3 location of its metadata and snapshots.
	// +optional
	Store string `json:"store,omitempty"`
	// Provisioned is when node 0 provisioned the cluster's Raft metadata,
	// as its host reports it (Replicated metadata with the host agent;
	// with the object store, node 0 provisions it alone at first start).
	// +optional
	Provisioned string `json:"provisioned,omitempty"`
	// Replacing is the node whose instance is being replaced, if any: one
	// node at a time.
	// +optional
	Replacing string `json:"replacing,omitempty"`
	// Nodes of the cluster.
	// +optional
	Nodes []NodeStatus `json:"nodes,omitempty"`
}

// NodeStatus is one node of a cluster.
type NodeStatus struct {
	// Name is the node's permanent node-name.
	Name string `json:"name"`
	// Address is its private DNS name in the cluster's hosted zone.
	// +optional
	Address string `json:"address,omitempty"`
	// Zone of its instance and data volume.
	// +optional
	Zone string `json:"zone,omitempty"`
	// +optional
	InstanceID string `json:"instanceId,omitempty"`
	// +optional
	PrivateIP string `json:"privateIp,omitempty"`
	// DataVolumeID is kept here once observed, as for a single node.
	// +optional
	DataVolumeID string `json:"dataVolumeId,omitempty"`
	// Serving: its instance is ready and, behind the load balancer, its
	// targets are healthy.
	// +optional
	Serving bool `json:"serving,omitempty"`
}

// XRestateStack is a Restate environment on AWS, with everything it needs.
// Application teams create it through its namespaced claim, RestateStack.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=crossplane;composite;restate
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="ADMIN",type=string,JSONPath=".status.adminUrl"
// +kubebuilder:printcolumn:name="INGRESS",type=string,JSONPath=".status.ingressUrl"
// +kubebuilder:printcolumn:name="RESOURCES",type=string,JSONPath=".status.resources",priority=1
type XRestateStack struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RestateStackSpec   `json:"spec"`
	Status RestateStackStatus `json:"status,omitempty"`
}
