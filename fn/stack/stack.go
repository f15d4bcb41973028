// Package stack is the function's shared vocabulary: the resolved stack,
// its parts, what is observed of them, names, IAM documents and ARNs, and
// the checks several environments share. The environments under fn/env
// build on it; it never imports fn.
package stack

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// Stack is a claim with every default resolved and every field validated.
// Builders read only this, never the request.
type Stack struct {
	Name string
	// UID is the composite's: what tells this stack from an earlier one of
	// the same name (client tokens, which AWS remembers).
	UID            string
	Region         string
	ProviderConfig string
	DeletionPolicy v1alpha1.DeletionPolicy
	// Tags for every taggable resource: the stack's identity, the platform's
	// and the claim's.
	Tags map[string]string
	// AccountID is known from the platform's input, or empty until ARNs are
	// observed.
	AccountID string
	// Registered is, by service, the endpoint the composite's last status
	// reported registered (see learn).
	Registered map[string]string

	Versioning v1alpha1.VersioningMode
	Services   []Service

	// Registration is how registration Jobs run.
	Registration RegistrationSettings
}

const (
	// TagStack identifies every AWS resource of a stack.
	TagStack = "restate-crossplane.io/stack"
	// DefaultLogRetentionDays is how long log groups keep events unless a
	// claim says otherwise.
	DefaultLogRetentionDays = 30
)

// The labels Crossplane puts on a claim's composite.
const (
	LabelClaimNamespace = "crossplane.io/claim-namespace"
	LabelClaimName      = "crossplane.io/claim-name"
)

// Service is a ServiceSpec with its defaults and registration options
// resolved.
type Service struct {
	Name   string
	Lambda *v1alpha1.LambdaServiceSpec
	HTTP   *v1alpha1.HTTPServiceSpec
	// ExpectedServiceName must be among the services discovery finds.
	ExpectedServiceName string
	// Grant puts the function in the invoker role's invoke grant.
	Grant        bool
	Registration ServiceRegistration
}

// ServiceRegistration is RegistrationOptions with every default resolved.
type ServiceRegistration struct {
	Private, Force, Breaking bool
	RemovalPolicy            v1alpha1.RemovalPolicy
	Prune                    bool
	RevisionHistoryLimit     int32
	MaxPrunedPerRun          int32
	AdminURL                 string
	// OwnAdminURL is the field of the service's own admin URL, when it
	// sets one rather than taking the stack's.
	OwnAdminURL         *field.Path
	Insecure            bool
	HealthCheckAttempts int32
	MaxBackoffSeconds   int32
}

// RegistrationSettings are the platform's registration settings, resolved.
type RegistrationSettings struct {
	// Namespace of the Jobs; empty when the composite has no claim and the
	// platform names none, and then nothing is registered.
	Namespace   string
	Image       string
	Resources   corev1.ResourceRequirements
	Publisher   *platform.PublisherIdentity
	AdminAccess platform.AdminAccess
	// AllowLoopback lets register dial loopback admin URLs.
	AllowLoopback bool
	// Agent: the host agent registers the services, from the self-hosted
	// host, instead of Jobs.
	Agent bool
}

// HasLambda says whether any service is a Lambda function.
func (s *Stack) HasLambda() bool {
	for _, svc := range s.Services {
		if svc.Lambda != nil {
			return true
		}
	}
	return false
}

// InvokerRole is the role Restate assumes to invoke a stack's Lambda
// functions: one the claim names (ARN, at Path), or one the environment
// composes under KeyInvokerRole, or none (Restate invokes with its own
// identity, which the stack cannot grant to).
type InvokerRole struct {
	ARN      string
	Path     *field.Path
	Composed bool
}

// HostAgent is where an environment's host agent reports: the key of the
// composed resource whose tags carry its report, and the log group that
// holds its log stream.
type HostAgent struct {
	ReportKey string
	LogGroup  string
}
