package v1alpha1

// CloudRegion is a Restate Cloud region.
// +kubebuilder:validation:Enum=us;eu
type CloudRegion string

// Restate Cloud regions.
const (
	CloudRegionUS CloudRegion = "us"
	CloudRegionEU CloudRegion = "eu"
)

// CloudEnvironmentSpec is an environment of Restate Cloud, the equivalent of
// the CDK's RestateCloudEnvironment. Nothing is created for the environment
// itself; the stack composes the role Restate Cloud assumes to invoke the
// stack's Lambda services, unless an existing one is named.
type CloudEnvironmentSpec struct {
	// EnvironmentID of the Restate Cloud environment, as the Cloud console
	// shows it, for example env_201hd7bh2yrxzmy6h1eqdfhx7g. The admin URL is
	// https://<id without env_>.env.<region>.restate.cloud:9070 and the
	// ingress URL the same host on https's own port.
	// +kubebuilder:validation:Pattern=`^env_[0-9a-z]{8,64}$`
	EnvironmentID string `json:"environmentId"`

	// Region of the environment. Defaults to us.
	// +optional
	Region CloudRegion `json:"region,omitempty"`

	// APIKeySecretRef names the Secret, in the claim's namespace, that holds
	// an admin-capable Restate Cloud API key. Registration sends it as a
	// bearer token; its value never appears in any composed resource.
	APIKeySecretRef SecretKeyReference `json:"apiKeySecretRef"`

	// InvokerRoleARN of an existing role Restate Cloud assumes to invoke the
	// stack's Lambda services. Without it the stack composes one that trusts
	// Restate Cloud's account for exactly this environment.
	// +optional
	// +kubebuilder:validation:Pattern=`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`
	InvokerRoleARN string `json:"invokerRoleArn,omitempty"`
}

// ExternalEnvironmentSpec is any Restate environment that already runs
// elsewhere, the equivalent of the CDK's RestateEnvironment.fromAttributes.
type ExternalEnvironmentSpec struct {
	// AdminURL of the environment's admin API, for example
	// https://restate.example.com:9070. Registration Jobs must reach it.
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+(/[^\s?#]*)?$`
	// +kubebuilder:validation:MaxLength=2048
	AdminURL string `json:"adminUrl"`

	// IngressURL where clients invoke services, reported in the status.
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+(/[^\s?#]*)?$`
	// +kubebuilder:validation:MaxLength=2048
	IngressURL string `json:"ingressUrl,omitempty"`

	// AuthTokenSecretRef names the Secret, in the claim's namespace, that
	// holds a bearer token for the admin API, if it needs one.
	// +optional
	AuthTokenSecretRef *SecretKeyReference `json:"authTokenSecretRef,omitempty"`

	// InvokerRoleARN of the role the environment assumes to invoke Lambda
	// services. Without it the server invokes them with its own identity,
	// which must already be allowed to.
	// +optional
	// +kubebuilder:validation:Pattern=`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`
	InvokerRoleARN string `json:"invokerRoleArn,omitempty"`

	// Insecure accepts a self-signed certificate on the admin API.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
}

// SecretKeyReference names one key of a Secret in the claim's namespace.
type SecretKeyReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key of the value in the Secret. Defaults to token.
	// +optional
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}
