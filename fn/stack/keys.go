package stack

// KeyInvokerRole is the composition resource name ("key") of the role
// Restate assumes to invoke Lambda, which an environment may compose and
// the grants and registration refer to. Each environment's own keys are
// in its package; the services' and registration's in fn.
const KeyInvokerRole = "invoker-role"
