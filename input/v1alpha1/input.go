// Package v1alpha1 holds the function's input: the platform team's defaults
// and guardrails, set once in the Composition. Its CRD in package/input/ is
// generated from these types by `make generate`.
//
// +kubebuilder:object:generate=true
// +groupName=input.restate-crossplane.io
// +versionName=v1alpha1
package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StackPolicy is the platform's defaults and guardrails for RestateStacks.
// Claims cannot change it: they only fill what it leaves open, within what it
// allows. An empty allow-list allows anything.
//
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:resource:categories=crossplane
type StackPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// DefaultRegion of stacks that name none.
	// +optional
	DefaultRegion string `json:"defaultRegion,omitempty"`

	// AllowedRegions a claim may use.
	// +optional
	AllowedRegions []string `json:"allowedRegions,omitempty"`

	// DefaultProviderConfigName of stacks that name none. Defaults to
	// "default".
	// +optional
	DefaultProviderConfigName string `json:"defaultProviderConfigName,omitempty"`

	// AllowedProviderConfigs a claim may name, that is which AWS accounts
	// and credentials it may reach.
	// +optional
	AllowedProviderConfigs []string `json:"allowedProviderConfigs,omitempty"`

	// Tags put on every taggable resource of every stack. A claim may add
	// tags but not change these.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`

	// AllowedInvokerRoleARNs are the existing IAM roles (shell patterns of
	// role ARNs, where * does not cross a /: list role/* and role/*/* for
	// roles with paths) a claim may name as its environment's invokerRoleArn. The
	// stack adds an inline policy to such a role when it is in the stack's
	// account, so a claim may only name roles the platform lets stacks
	// touch. With none listed, claims may name none.
	// +optional
	AllowedInvokerRoleARNs []string `json:"allowedInvokerRoleArns,omitempty"`

	// DefaultInstanceType of self-hosted servers. Defaults to t4g.micro.
	// +optional
	DefaultInstanceType string `json:"defaultInstanceType,omitempty"`

	// AllowedInstanceTypes a claim may use, as exact types or shell patterns
	// such as "t4g.*".
	// +optional
	AllowedInstanceTypes []string `json:"allowedInstanceTypes,omitempty"`

	// DefaultRestateImage of self-hosted servers, with a tag or digest.
	// Defaults to docker.restate.dev/restatedev/restate:1.7.
	// +optional
	DefaultRestateImage string `json:"defaultRestateImage,omitempty"`

	// AllowedImageRepositories a claim's Restate and collector images may
	// come from, as repository names without tag or digest, or shell patterns
	// such as "123456789012.dkr.ecr.*.amazonaws.com/*".
	// +optional
	AllowedImageRepositories []string `json:"allowedImageRepositories,omitempty"`

	// DefaultVersioning of stacks that name none: Published or Latest
	// (see the claim's spec.versioning). Defaults to Published where the
	// host agent registers (it publishes with the host's role), else to
	// Latest, which needs no AWS identity in the cluster.
	// +optional
	// +kubebuilder:validation:Enum=Published;Latest
	DefaultVersioning string `json:"defaultVersioning,omitempty"`

	// AllowedCodeBuckets a claim's Lambda code may come from, as bucket
	// names or shell patterns such as "team-*-artifacts".
	// +optional
	AllowedCodeBuckets []string `json:"allowedCodeBuckets,omitempty"`

	// AllowedFunctionImageRepositories a claim's Lambda container images
	// may come from, as ECR repository names without tag or digest, or shell
	// patterns such as "123456789012.dkr.ecr.*.amazonaws.com/*".
	// +optional
	AllowedFunctionImageRepositories []string `json:"allowedFunctionImageRepositories,omitempty"`

	// Registration says how registration Jobs run and where they may reach.
	// +optional
	Registration RegistrationPolicy `json:"registration,omitempty"`

	// ClusterStore is the S3 bucket where self-hosted clusters keep their
	// metadata and snapshots, each under a prefix of its own. Claims may
	// ask for a cluster only when it is set.
	// +optional
	ClusterStore *ClusterStorePolicy `json:"clusterStore,omitempty"`

	// ClusterNATGateways of a self-hosted cluster's VPC: One (the default),
	// in the first zone, which every zone's private subnet leaves through;
	// or PerZone, a public subnet and NAT gateway in every zone, so that a
	// zone's loss takes no other zone's way out with it (at a NAT gateway's
	// price per zone).
	// +optional
	// +kubebuilder:validation:Enum=One;PerZone
	ClusterNATGateways NATGateways `json:"clusterNatGateways,omitempty"`

	// AccountID of the AWS account the stacks live in. With it, policies
	// name exact ARNs from the first reconcile; without it, the function
	// waits until the ARNs are observed.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9]{12}$`
	AccountID string `json:"accountId,omitempty"`
}

// RegistrationPolicy is the platform's side of registration: what the
// registration Jobs run as, and how they reach the admin API.
type RegistrationPolicy struct {
	// Mode is how services are registered: Auto (the default) registers a
	// self-hosted stack's services from its own host (the host agent)
	// unless adminAccess declares a path from the cluster to its admin
	// API, and every other stack's with Jobs in the cluster; Job always
	// uses Jobs; HostAgent uses the host agent for every self-hosted stack.
	// +optional
	// +kubebuilder:validation:Enum=Auto;Job;HostAgent
	Mode RegistrationMode `json:"mode,omitempty"`

	// Image of the registration Jobs, with the function's binary. Defaults
	// to the function's own image.
	// +optional
	Image string `json:"image,omitempty"`

	// Resources of the registration container. Defaults to 10m CPU and
	// 32Mi memory requested, 64Mi memory limit.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Namespace of the Jobs of a composite that has no claim. A claim's
	// Jobs run in the claim's namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Publisher is the AWS identity of Jobs that publish Lambda versions
	// (Published versioning). Without it, claims cannot use Published.
	// +optional
	Publisher *PublisherIdentity `json:"publisher,omitempty"`

	// AllowedAdminHosts are the hosts (shell patterns, such as
	// "*.restate.example.com") of the admin URLs claims may name: an
	// existing environment's adminUrl and a service's registration
	// adminUrl. Registration Jobs send the claim's admin token there. A
	// claim naming another host is refused; with none listed, claims may
	// name no admin URL. Link-local and cloud metadata addresses are
	// refused whatever this says.
	// +optional
	AllowedAdminHosts []string `json:"allowedAdminHosts,omitempty"`

	// AllowLoopback lets admin URLs be loopback addresses (localhost,
	// 127.0.0.0/8, ::1): a restate-server beside the cluster in a test,
	// say. Off, the function and the register command refuse them.
	// +optional
	AllowLoopback bool `json:"allowLoopback,omitempty"`

	// AdminAccess opens a self-hosted server's admin port to where the
	// registration Jobs run: the cluster's nodes' or pods' security groups,
	// or its VPC's address ranges, reached through the same VPC or a
	// peering. Otherwise only members of the stack's admin group reach it.
	// +optional
	AdminAccess AdminAccess `json:"adminAccess,omitempty"`
}

// PublisherIdentity is a service account, in every namespace that files
// claims, bound to an AWS role (IRSA or EKS Pod Identity, say).
type PublisherIdentity struct {
	// ServiceAccountName the Jobs run as.
	// +kubebuilder:validation:MinLength=1
	ServiceAccountName string `json:"serviceAccountName"`

	// RoleARN of the AWS role behind the service account. Each stack adds
	// an inline policy to it that allows lambda:PublishVersion on exactly
	// that stack's functions.
	// +kubebuilder:validation:Pattern=`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`
	RoleARN string `json:"roleArn"`
}

// AdminAccess lists the sources that may reach a self-hosted admin port.
type AdminAccess struct {
	// SourceSecurityGroupIDs, such as the cluster's node security group.
	// +optional
	SourceSecurityGroupIDs []string `json:"sourceSecurityGroupIds,omitempty"`

	// CIDRBlocks, such as the cluster VPC's range. Never 0.0.0.0/0.
	// +optional
	CIDRBlocks []string `json:"cidrBlocks,omitempty"`
}

// Declared says whether the platform declares any path to the admin API.
func (a AdminAccess) Declared() bool {
	return len(a.SourceSecurityGroupIDs) > 0 || len(a.CIDRBlocks) > 0
}

// RegistrationMode is how a stack's services are registered.
type RegistrationMode string

// Registration modes.
const (
	RegistrationAuto      RegistrationMode = "Auto"
	RegistrationJob       RegistrationMode = "Job"
	RegistrationHostAgent RegistrationMode = "HostAgent"
)

// NATGateways says how many NAT gateways a cluster's VPC has.
type NATGateways string

// NAT gateway layouts.
const (
	NATGatewaysOne     NATGateways = "One"
	NATGatewaysPerZone NATGateways = "PerZone"
)

// ClusterStorePolicy is the S3 bucket of self-hosted clusters. The platform
// owns it: a bucket with objects in it cannot be deleted by provider-aws, so
// no stack composes one. Each stack's nodes may reach only its own prefix.
type ClusterStorePolicy struct {
	// Bucket name.
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`
	Bucket string `json:"bucket"`

	// Region of the bucket. Defaults to the stack's region; Restate reads
	// and writes it from every node, so another region costs transfer.
	// +optional
	Region string `json:"region,omitempty"`

	// Prefix under which each stack gets its own, <prefix>/<stack>/.
	// Defaults to "restate".
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$`
	Prefix string `json:"prefix,omitempty"`
}
