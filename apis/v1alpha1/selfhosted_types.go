package v1alpha1

// SubnetType says where the Restate host lives.
// +kubebuilder:validation:Enum=Public;Private
type SubnetType string

// Subnet types.
const (
	SubnetPublic  SubnetType = "Public"
	SubnetPrivate SubnetType = "Private"
)

// TracingMode says where the server sends traces.
// +kubebuilder:validation:Enum=Disabled;AWSXRay
type TracingMode string

// Tracing modes.
const (
	TracingDisabled TracingMode = "Disabled"
	TracingAWSXRay  TracingMode = "AWSXRay"
)

// TLSTermination says who terminates TLS in front of the server.
// +kubebuilder:validation:Enum=None;SelfSigned
type TLSTermination string

// TLS terminations.
const (
	TLSNone       TLSTermination = "None"
	TLSSelfSigned TLSTermination = "SelfSigned"
)

// RemovalPolicy says whether the server's data volume and log group outlive
// the stack.
// +kubebuilder:validation:Enum=Destroy;Retain
type RemovalPolicy string

// Removal policies.
const (
	RemovalDestroy RemovalPolicy = "Destroy"
	RemovalRetain  RemovalPolicy = "Retain"
)

// +kubebuilder:validation:XValidation:rule="has(self.cluster) == has(oldSelf.cluster)",message="a single node cannot become a cluster in place, nor a cluster a single node: create a new stack"
// +kubebuilder:validation:XValidation:rule="!has(self.cluster) || !has(self.network) || !has(self.network.existing)",message="a cluster composes its own VPC, with a subnet per zone: network.existing is not supported with cluster"
// +kubebuilder:validation:XValidation:rule="!has(self.cluster) || !has(self.network) || !has(self.network.subnetType) || self.network.subnetType == 'Private'",message="a cluster's nodes live in private subnets, reached through its load balancer or their own names"
// SelfHostedSpec is a single-node Restate server on EC2, the equivalent of
// the CDK's SingleNodeRestateDeployment. Every field is optional; defaults
// follow the CDK unless a safer one is documented.
type SelfHostedSpec struct {
	// InstanceType of the EC2 host. Defaults to the platform's default, else
	// t4g.micro. The platform may restrict the allowed types.
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9-]*\.[a-z0-9]+$`
	InstanceType string `json:"instanceType,omitempty"`

	// ImageID of the host: an AMI id, or an SSM parameter EC2 resolves at
	// launch (resolve:ssm:...). Defaults to the latest Amazon Linux 2023 for
	// the instance type's architecture (arm64 for Graviton types such as
	// t4g, else x86_64).
	// +optional
	// +kubebuilder:validation:Pattern=`^(ami-[0-9a-f]{8,17}|resolve:ssm:/[A-Za-z0-9_.\-/]+)$`
	ImageID string `json:"imageId,omitempty"`

	// Network the host runs in.
	// +optional
	Network NetworkSpec `json:"network,omitempty"`

	// PublicIngress opens the ingress port to 0.0.0.0/0. Otherwise only
	// members of the ingress security group reach it. The admin port is
	// never world-open. Defaults to false.
	// +optional
	PublicIngress bool `json:"publicIngress,omitempty"`

	// Logs of the server's containers, shipped to CloudWatch Logs.
	// +optional
	Logs LogsSpec `json:"logs,omitempty"`

	// Tracing of the server.
	// +optional
	Tracing TracingSpec `json:"tracing,omitempty"`

	// Restate server image and CLI.
	// +optional
	Restate RestateServerSpec `json:"restate,omitempty"`

	// DataVolume is the EBS volume holding the server's state, mounted at
	// /var/restate.
	// +optional
	DataVolume DataVolumeSpec `json:"dataVolume,omitempty"`

	// Config of the Restate server.
	// +optional
	Config RestateConfigSpec `json:"config,omitempty"`

	// TLS termination in front of the server.
	// +optional
	TLS TLSSpec `json:"tls,omitempty"`

	// RemovalPolicy of the server's data: Destroy deletes the data volume
	// with its instance and the log group with the stack; Retain keeps both
	// in AWS. Defaults to Destroy, as the CDK does. See the README's table of
	// removal settings.
	// +optional
	RemovalPolicy RemovalPolicy `json:"removalPolicy,omitempty"`

	// Cluster makes the server a highly available Restate cluster: several
	// nodes across zones, each with its own instance and data volume, a
	// replicated log, and metadata and snapshots in the platform's S3
	// bucket. Absent, the server is a single node. A single node cannot
	// become a cluster in place, nor a cluster a single node: Restate's
	// local log is not replicated, and its node identity is fixed.
	// +optional
	Cluster *ClusterSpec `json:"cluster,omitempty"`
}

// ClusterMetadata says where a cluster keeps its metadata.
// +kubebuilder:validation:Enum=ObjectStore;Replicated
type ClusterMetadata string

// Cluster metadata stores.
const (
	// MetadataObjectStore keeps metadata in the cluster's S3 store: no
	// quorum of nodes to lose, and one node provisions the cluster alone.
	MetadataObjectStore ClusterMetadata = "ObjectStore"
	// MetadataReplicated keeps metadata in Raft on every node; the host
	// agent provisions the cluster once a majority is up.
	MetadataReplicated ClusterMetadata = "Replicated"
)

// ClusterEndpoint says how the cluster's ingress and admin API are reached.
// +kubebuilder:validation:Enum=InternalLoadBalancer;None
type ClusterEndpoint string

// Cluster endpoints.
const (
	// EndpointInternalLoadBalancer puts an internal Network Load Balancer in
	// front of every node's ingress and admin API.
	EndpointInternalLoadBalancer ClusterEndpoint = "InternalLoadBalancer"
	// EndpointNone reaches nodes by their own names only.
	EndpointNone ClusterEndpoint = "None"
)

// ClusterSpec is a highly available Restate cluster. Every node carries
// every role (worker, admin, log server, ingress): at three to nine nodes,
// separate stateless nodes would add hosts without taking load off the
// stateful ones.
// +kubebuilder:validation:XValidation:rule="!has(self.replication) || self.replication <= self.nodes",message="replication may not exceed nodes"
// +kubebuilder:validation:XValidation:rule="has(self.zones) == has(oldSelf.zones)",message="zones are fixed once the cluster exists: set them when creating it, or leave them to the region's a, b and c zones"
type ClusterSpec struct {
	// Nodes in the cluster: odd, so that a majority survives the loss of
	// one node in three (two in five). Nodes may be added, never removed:
	// shrinking a Restate cluster is a manual procedure.
	// +kubebuilder:validation:Minimum=3
	// +kubebuilder:validation:Maximum=9
	// +kubebuilder:validation:XValidation:rule="self % 2 == 1",message="must be odd: 3, 5, 7 or 9"
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="nodes may grow but not shrink: removing a Restate node is a manual procedure"
	Nodes int32 `json:"nodes"`

	// Replication of the log and of partitions: how many nodes hold each
	// record. 2 of 3 nodes survives one node's loss. Fixed once the cluster
	// is provisioned. Defaults to 2.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="fixed once the cluster is provisioned"
	Replication int32 `json:"replication,omitempty"`

	// Zones the nodes are spread over, node i in zone i modulo their
	// number; each gets a private subnet. Defaults to the region's a, b and
	// c zones. Fixed: a node's location cannot change once it has joined.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=9
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="fixed: a node's location cannot change once it has joined"
	// +kubebuilder:validation:items:Pattern=`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]$`
	// +listType=set
	Zones []string `json:"zones,omitempty"`

	// Metadata store: ObjectStore (in S3, the default) or Replicated
	// (Raft on every node). Fixed once the cluster is provisioned.
	// +optional
	// +kubebuilder:default=ObjectStore
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="fixed once the cluster is provisioned"
	Metadata ClusterMetadata `json:"metadata,omitempty"`

	// Endpoint of the cluster's ingress and admin API: an internal Network
	// Load Balancer (the default), or None (each node by its own name).
	// +optional
	// +kubebuilder:default=InternalLoadBalancer
	Endpoint ClusterEndpoint `json:"endpoint,omitempty"`
}

// NetworkSpec places the host: in a new VPC the stack creates (the default),
// or in an existing VPC and subnet.
// +kubebuilder:validation:XValidation:rule="!(has(self.newVpc) && has(self.existing))",message="newVpc and existing are mutually exclusive"
type NetworkSpec struct {
	// SubnetType of the host. Public gives it a public IP and DNS name
	// (reachable from outside only as the security groups allow); Private
	// keeps it off the internet with egress through a NAT gateway. Defaults
	// to Private, as the CDK does.
	// +optional
	SubnetType SubnetType `json:"subnetType,omitempty"`

	// NewVPC creates a VPC for the stack. This is the default when existing
	// is not set.
	// +optional
	NewVPC *NewVPCSpec `json:"newVpc,omitempty"`

	// Existing places the host in a VPC and subnet that already exist. The
	// subnet must match subnetType: a public subnet must assign public IPs on
	// launch, a private one must route egress through a NAT.
	// +optional
	Existing *ExistingNetworkSpec `json:"existing,omitempty"`
}

// NewVPCSpec is the VPC the stack creates.
type NewVPCSpec struct {
	// CIDRBlock of the VPC. Defaults to 10.0.0.0/16.
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$`
	CIDRBlock string `json:"cidrBlock,omitempty"`

	// PublicSubnetCIDR of the public subnet (always created: it holds the
	// internet-facing host, or the NAT gateway of a private host). Defaults
	// to the first /24 of the VPC.
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$`
	PublicSubnetCIDR string `json:"publicSubnetCidr,omitempty"`

	// PrivateSubnetCIDR of the private subnet, created for subnetType
	// Private. Defaults to the second /24 of the VPC.
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$`
	PrivateSubnetCIDR string `json:"privateSubnetCidr,omitempty"`

	// AvailabilityZone of the subnets. Defaults to the region's "a" zone.
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]$`
	AvailabilityZone string `json:"availabilityZone,omitempty"`
}

// ExistingNetworkSpec names a VPC and subnet that already exist.
type ExistingNetworkSpec struct {
	// VPCID of the existing VPC.
	// +kubebuilder:validation:Pattern=`^vpc-[0-9a-f]{8,17}$`
	VPCID string `json:"vpcId"`

	// SubnetID of the existing subnet, in that VPC, for the host.
	// +kubebuilder:validation:Pattern=`^subnet-[0-9a-f]{8,17}$`
	SubnetID string `json:"subnetId"`

	// AvailabilityZone of that subnet, such as eu-west-1b. The data volume
	// is created there; a volume attaches only to instances of its zone.
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]$`
	AvailabilityZone string `json:"availabilityZone"`
}

// LogsSpec is the CloudWatch log group of the server.
type LogsSpec struct {
	// GroupName of the log group. Defaults to /restate/<stack name>. A
	// claim's stack may name /restate/<namespace>/<claim name> or a group
	// under it, which no other stack can name; a composite without a claim,
	// /restate/<composite name> or a group under it. Names under /aws/ are
	// AWS services' own.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[.\-_/#A-Za-z0-9]+$`
	GroupName string `json:"groupName,omitempty"`

	// RetentionDays of the log events. Defaults to 30, as the CDK's one
	// month.
	// +optional
	// +kubebuilder:validation:Enum=1;3;5;7;14;30;60;90;120;150;180;365;400;545;731;1096;1827;2192;2557;2922;3288;3653
	RetentionDays int32 `json:"retentionDays,omitempty"`
}

// TracingSpec configures tracing.
type TracingSpec struct {
	// Mode of tracing. AWSXRay runs an ADOT collector beside the server and
	// lets the instance role write to X-Ray. Defaults to Disabled.
	// +optional
	Mode TracingMode `json:"mode,omitempty"`

	// CollectorImage of the ADOT collector, as image:tag or image@digest.
	// Defaults to public.ecr.aws/aws-observability/aws-otel-collector:latest.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	CollectorImage string `json:"collectorImage,omitempty"`
}

// RestateServerSpec picks the Restate server image and CLI version.
type RestateServerSpec struct {
	// Image of the Restate server: a repository, optionally with :tag or
	// @sha256:digest. Defaults to the platform's default image, else
	// docker.restate.dev/restatedev/restate:1.7 (the line the CDK 1.7 pins). The
	// platform may restrict the allowed repositories.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// Tag of the image, when image has none. Giving a tag here and a
	// different one in image is an error.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$`
	Tag string `json:"tag,omitempty"`

	// CLIVersion of the restate and restatectl CLIs installed on the host
	// from npm (an npm version or dist-tag). Defaults to the image's tag when
	// it is a version, else latest.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$`
	CLIVersion string `json:"cliVersion,omitempty"`
}

// DataVolumeSpec is the EBS volume that holds the server's state. It is
// always encrypted, and a resource of its own: it outlives the instance, which
// attaches it at boot, so replacing the instance keeps Restate's data.
// provider-aws never modifies a volume once created, so its size, type, IOPS
// and key cannot change; the function refuses such changes.
type DataVolumeSpec struct {
	// SizeGiB of the volume. Defaults to 8. io1 and io2 take 4 or more,
	// st1 and sc1 125 or more.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16384
	SizeGiB int32 `json:"sizeGiB,omitempty"`

	// Type of the volume. Defaults to gp3.
	// +optional
	// +kubebuilder:validation:Enum=gp3;gp2;io1;io2;st1;sc1
	Type string `json:"type,omitempty"`

	// IOPS provisioned for gp3 (3000 to 16000, at most 500 per GiB; AWS's
	// default is 3000), io1 (100 to 64000, at most 50 per GiB) or io2 (100
	// to 256000, at most 1000 per GiB). Required for io1 and io2; other
	// types take none.
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=256000
	IOPS int32 `json:"iops,omitempty"`

	// KMSKeyID encrypts the volume with a customer managed key instead of
	// the account's default EBS key: a key id or key ARN of the stack's
	// region (not an alias: the host's permission to use the key names it
	// exactly).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	KMSKeyID string `json:"kmsKeyId,omitempty"`
}

// RestateConfigSpec is the Restate server's configuration.
type RestateConfigSpec struct {
	// ClusterName written into the server's config. Defaults to the stack's
	// name.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`
	ClusterName string `json:"clusterName,omitempty"`

	// BootstrapNumPartitions is the number of partitions a new cluster
	// starts with. Defaults to 4.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	BootstrapNumPartitions int32 `json:"bootstrapNumPartitions,omitempty"`

	// RocksDBTotalMemorySize bounds RocksDB's memory, as Restate writes
	// sizes, for example "512 MB" or "1 GiB". Defaults to 40% of what the
	// instance type leaves Restate beside the OS and the host's other
	// containers (281 MiB on a t4g.micro); Restate's other memory settings
	// are sized the same way.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)? ?([KMGT]i?B|B)$`
	RocksDBTotalMemorySize string `json:"rocksdbTotalMemorySize,omitempty"`

	// Environment variables of the server container, added to (and
	// overriding) RESTATE_LOG_FORMAT=json and RUST_LOG=info. Values reach the
	// host encoded and are passed to the container literally; they may not
	// contain newlines.
	// +optional
	// +kubebuilder:validation:MaxProperties=100
	Environment map[string]string `json:"environment,omitempty"`

	// Override replaces the whole generated TOML config with this text. The
	// fields above that feed the config are then ignored.
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	Override string `json:"override,omitempty"`
}

// TLSSpec configures TLS termination on the host.
type TLSSpec struct {
	// Termination of TLS. SelfSigned puts nginx with a self-signed
	// certificate in front of the server: ingress on 443, admin on 9073, and
	// the server itself bound to 127.0.0.1. Defaults to None.
	// +optional
	Termination TLSTermination `json:"termination,omitempty"`

	// ProxyReadTimeoutSeconds of nginx for ingress requests. Defaults to
	// 3600.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	ProxyReadTimeoutSeconds int32 `json:"proxyReadTimeoutSeconds,omitempty"`

	// NginxConfigOverride replaces the whole generated nginx config.
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	NginxConfigOverride string `json:"nginxConfigOverride,omitempty"`
}
