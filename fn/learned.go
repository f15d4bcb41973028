package fn

import (
	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// learn fills in what the stack learns from AWS rather than from the claim:
// the account id (from an observed ARN), and what its environment learns
// (a data volume's id). Resources
// composed from them (exact-ARN policies, the host's user data) must not be
// withdrawn, nor the host replaced, because one observation lacks a field:
// so each is kept in the composite's status once known, and read back from
// there when the observation has lost it.
func learn(s *stack.Stack, env Environment, obs stack.Observed, kept v1alpha1.RestateStackStatus) {
	if s.AccountID == "" {
		s.AccountID = observedAccount(obs)
	}
	if s.AccountID == "" {
		s.AccountID = kept.AccountID
	}
	// What the last status reported registered: a later Job of the same
	// service may fail without a report, and the service must still be
	// deregistered when it goes.
	s.Registered = map[string]string{}
	for _, svc := range kept.Services {
		if svc.Registration != nil && svc.Registration.Endpoint != "" {
			s.Registered[svc.Name] = svc.Registration.Endpoint
		}
	}
	env.Learn(obs, kept)
}
