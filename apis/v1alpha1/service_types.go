package v1alpha1

// ServiceSpec is one Restate deployment of the stack: a Lambda function the
// stack creates, or an HTTP endpoint that runs elsewhere. Each is registered
// with the stack's environment.
// +kubebuilder:validation:XValidation:rule="[has(self.lambda), has(self.http)].filter(x, x).size() == 1",message="exactly one of lambda or http must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.skipInvokeFunctionGrant) || !self.skipInvokeFunctionGrant || has(self.lambda)",message="skipInvokeFunctionGrant only applies to lambda services"
type ServiceSpec struct {
	// Name of the service within the stack: lowercase letters, digits and
	// dashes. It names the service's AWS resources (the Lambda function is
	// <stack>-fn-<name>) and is not the Restate service name, which the
	// service itself reports at discovery.
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="!('-' + self).contains('-fn-')",message="may not start with fn- or contain -fn-: <stack>-fn-<name> would also be another stack's <stack>-fn-<name> (stack a, service b-fn-c; stack a-fn-b, service c)"
	Name string `json:"name"`

	// Lambda runs the service as an AWS Lambda function that the stack
	// creates, with its execution role and log group.
	// +optional
	Lambda *LambdaServiceSpec `json:"lambda,omitempty"`

	// HTTP registers a service endpoint that runs elsewhere, in Kubernetes
	// for example. Nothing is created in AWS for it.
	// +optional
	HTTP *HTTPServiceSpec `json:"http,omitempty"`

	// ExpectedServiceName is a Restate service name the deployment must
	// offer: registration fails when discovery does not find it. It guards
	// against registering the wrong code. Unset skips the check.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	ExpectedServiceName string `json:"expectedServiceName,omitempty"`

	// SkipInvokeFunctionGrant leaves this function out of the invoker role's
	// lambda:InvokeFunction grant, for teams that grant it themselves.
	// +optional
	SkipInvokeFunctionGrant bool `json:"skipInvokeFunctionGrant,omitempty"`

	// Registration options of this service; unset fields take the stack's
	// spec.registration values.
	// +optional
	Registration RegistrationOptions `json:"registration,omitempty"`
}

// LambdaRuntime is a runtime AWS Lambda supports for new functions.
// +kubebuilder:validation:Enum=nodejs22.x;nodejs24.x;python3.11;python3.12;python3.13;python3.14;java17;java21;java25;dotnet8;dotnet10;ruby3.3;ruby3.4;provided.al2;provided.al2023
type LambdaRuntime string

// LambdaArchitecture is the instruction set of a Lambda function.
// +kubebuilder:validation:Enum=arm64;x86_64
type LambdaArchitecture string

// Lambda architectures.
const (
	ArchitectureARM64  LambdaArchitecture = "arm64"
	ArchitectureX86_64 LambdaArchitecture = "x86_64"
)

// LambdaServiceSpec is a Lambda function that serves Restate handlers.
type LambdaServiceSpec struct {
	// Code of the function: a zip archive in S3 or a container image.
	Code LambdaCode `json:"code"`

	// Runtime of the function, for example nodejs22.x. Required for code
	// from S3; not allowed for an image, which brings its own.
	// +optional
	Runtime LambdaRuntime `json:"runtime,omitempty"`

	// Handler of the function, for example index.handler. Required for code
	// from S3; not allowed for an image.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[^\s]+$`
	Handler string `json:"handler,omitempty"`

	// Architecture of the function. Defaults to arm64, as the CDK guide's
	// functions use.
	// +optional
	Architecture LambdaArchitecture `json:"architecture,omitempty"`

	// MemorySizeMiB of the function. Defaults to 128, Lambda's own default.
	// +optional
	// +kubebuilder:validation:Minimum=128
	// +kubebuilder:validation:Maximum=10240
	MemorySizeMiB int32 `json:"memorySizeMiB,omitempty"`

	// TimeoutSeconds of one invocation. Defaults to 3, Lambda's own default.
	// Restate resumes a handler that needs longer in a new invocation.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=900
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`

	// Environment variables of the function. Lambda allows 4 KiB in all.
	// +optional
	Environment map[string]string `json:"environment,omitempty"`

	// Description of the function.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`

	// LogRetentionDays of the function's log group, /aws/lambda/<function>.
	// Defaults to 30, the CDK's one month.
	// +optional
	// +kubebuilder:validation:Enum=1;3;5;7;14;30;60;90;120;150;180;365;400;545;731;1096;1827;2192;2557;2922;3288;3653
	LogRetentionDays int32 `json:"logRetentionDays,omitempty"`
}

// LambdaCode is where a function's code comes from. Exactly one source is
// set.
// +kubebuilder:validation:XValidation:rule="[has(self.s3), has(self.imageUri)].filter(x, x).size() == 1",message="exactly one of s3 or imageUri must be set"
type LambdaCode struct {
	// S3 holds a zip archive of the code.
	// +optional
	S3 *S3Code `json:"s3,omitempty"`

	// ImageURI of a container image in Amazon ECR, in the stack's region,
	// with a tag or digest.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ImageURI string `json:"imageUri,omitempty"`
}

// S3Code is a zip archive in an S3 bucket of the stack's region.
type S3Code struct {
	// Bucket name.
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`
	Bucket string `json:"bucket"`

	// Key of the archive. A new key deploys new code.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Key string `json:"key"`

	// ObjectVersion of the archive, for a versioned bucket. A new version
	// deploys new code.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ObjectVersion string `json:"objectVersion,omitempty"`
}

// HTTPServiceSpec is a Restate service endpoint served over HTTP.
type HTTPServiceSpec struct {
	// URI of the endpoint, which the environment must reach, for example
	// http://greeter.apps.svc.cluster.local:9080.
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+(/[^\s?#]*)?$`
	// +kubebuilder:validation:MaxLength=2048
	URI string `json:"uri"`

	// Revision of the code behind the URI. Restate discovers an endpoint
	// once; change this (to an image digest or a build number, say) to
	// register new code at the same URI.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Revision string `json:"revision,omitempty"`
}

// VersioningMode says which version of a Lambda function is registered.
// +kubebuilder:validation:Enum=Published;Latest
type VersioningMode string

// Versioning modes.
const (
	// VersioningPublished registers a version that the registration Job
	// publishes for each new code hash, so in-flight invocations keep the
	// code they started with. The Job needs an AWS identity, which the
	// platform provides.
	VersioningPublished VersioningMode = "Published"
	// VersioningLatest registers <function ARN>:$LATEST with force, again
	// whenever the code hash or configuration changes. It needs no AWS
	// identity in the cluster, but code changes under in-flight
	// invocations.
	VersioningLatest VersioningMode = "Latest"
)

// RegistrationOptions say how services are registered with the
// environment. At stack level they are defaults; a service's own options
// override them field by field.
type RegistrationOptions struct {
	// Private services are reachable only from other Restate services, not
	// through the ingress. Defaults to false.
	// +optional
	Private *bool `json:"private,omitempty"`

	// Force overwrites an existing deployment of the same endpoint, and so
	// also allows breaking changes. Defaults to true where the endpoint
	// stays the same when its code changes (Latest versioning, HTTP
	// services), else false.
	// +optional
	Force *bool `json:"force,omitempty"`

	// Breaking allows breaking changes to the services' interfaces without
	// overwriting an existing deployment. Defaults to false.
	// +optional
	Breaking *bool `json:"breaking,omitempty"`

	// RemovalPolicy when a service leaves the stack: Retain (the default)
	// leaves its deployment registered; Destroy removes it from Restate.
	// +optional
	RemovalPolicy RemovalPolicy `json:"removalPolicy,omitempty"`

	// PruneDrainedDeployments removes drained deployments (no services, no
	// pinned invocations) after each registration. Defaults to false.
	// +optional
	PruneDrainedDeployments *bool `json:"pruneDrainedDeployments,omitempty"`

	// RevisionHistoryLimit is how many drained deployments pruning keeps,
	// newest first. Defaults to 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// MaxPrunedPerRun caps the deployments one registration prunes.
	// Defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxPrunedPerRun *int32 `json:"maxPrunedPerRun,omitempty"`

	// AdminURL overrides the environment's admin URL for registration, for
	// an admin API the cluster reaches at another address (a load balancer,
	// say).
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+(/[^\s?#]*)?$`
	// +kubebuilder:validation:MaxLength=2048
	AdminURL string `json:"adminUrl,omitempty"`

	// Insecure accepts a self-signed certificate on the admin API. Defaults
	// to the environment's setting: true for a self-hosted server with
	// SelfSigned TLS, the external environment's insecure, else false.
	// +optional
	Insecure *bool `json:"insecure,omitempty"`

	// HealthCheck before registering.
	// +optional
	HealthCheck HealthCheckOptions `json:"healthCheck,omitempty"`
}

// HealthCheckOptions say how long registration waits for the admin API to
// become healthy.
type HealthCheckOptions struct {
	// Attempts at GET <admin>/health. Defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Attempts *int32 `json:"attempts,omitempty"`

	// MaxBackoffSeconds caps the exponential wait between attempts.
	// Defaults to 20.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=600
	MaxBackoffSeconds *int32 `json:"maxBackoffSeconds,omitempty"`
}

// ServiceStatus is what the stack observed of one service.
type ServiceStatus struct {
	// Name of the service in spec.services.
	Name string `json:"name"`
	// Kind of the service: Lambda or HTTP.
	Kind string `json:"kind"`
	// FunctionARN of a Lambda service, unqualified, once created.
	// +optional
	FunctionARN string `json:"functionArn,omitempty"`
	// CodeSHA256 of the code the function runs, as Lambda reports it.
	// +optional
	CodeSHA256 string `json:"codeSha256,omitempty"`
	// URI of an HTTP service.
	// +optional
	URI string `json:"uri,omitempty"`
	// Ready is true when every AWS resource of the service is ready (always
	// for an HTTP service).
	Ready bool `json:"ready"`
	// Registration of the service's current endpoint with the environment.
	// +optional
	Registration *RegistrationStatus `json:"registration,omitempty"`
}

// RegistrationStatus is what the service's registration Job reported.
type RegistrationStatus struct {
	// Job that registers the current endpoint, in the claim's namespace.
	// +optional
	Job string `json:"job,omitempty"`
	// Agent is true when the host agent registers the service, from the
	// self-hosted host (see the orders secret and the data volume's
	// restate-agent/ tags).
	// +optional
	Agent bool `json:"agent,omitempty"`
	// Revision of the registration the host agent is asked for.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Complete is true once the Job (or the host agent) succeeded and
	// reported.
	Complete bool `json:"complete"`
	// Endpoint registered: the qualified Lambda ARN or the URI.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// Version of the Lambda function registered: a number or $LATEST.
	// +optional
	Version string `json:"version,omitempty"`
	// DeploymentID Restate gave the deployment.
	// +optional
	DeploymentID string `json:"deploymentId,omitempty"`
	// Services Restate discovered at the endpoint.
	// +optional
	Services []string `json:"services,omitempty"`
}
