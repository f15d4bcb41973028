package stack

import "strings"

// KeyInvokerRole is the composition resource name ("key") of the role
// Restate assumes to invoke Lambda, which an environment may compose and
// the grants and registration refer to. Each environment's own keys are
// in its package; the services' and registration's in fn.
const KeyInvokerRole = "invoker-role"

// The host agent's orders: a Secrets Manager secret, which the self-hosted
// host reads, fed from a Kubernetes Secret in the registration namespace.
// The function composes both; the self-hosted environment names the first
// in the host's user data and policy.
const (
	KeyAgentOrders       = "agent-orders"
	KeyAgentOrdersSource = "agent-orders-source"
)

// KeyServicePrefix starts the keys of a Lambda service's family: the
// function is fn-<service>.
const KeyServicePrefix = "fn-"

// FunctionName is the Lambda function name of a service.
func FunctionName(s *Stack, svc string) string {
	return strings.ReplaceAll(ResourceName(s.Name, KeyServicePrefix+svc), ".", "-")
}

// AgentOrdersName is the name of the host agent's orders secret.
func AgentOrdersName(s *Stack) string { return ResourceName(s.Name, KeyAgentOrders) }
