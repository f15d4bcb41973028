package register

import (
	"errors"
	"net/http"

	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/restateadmin"
)

// Class is a kind of failure (see regcontract).
type Class = regcontract.Class

// Failure classes and their exit codes.
const (
	ClassUsage                  = regcontract.ClassUsage
	ClassUnreachable            = regcontract.ClassUnreachable
	ClassUnauthorized           = regcontract.ClassUnauthorized
	ClassRejected               = regcontract.ClassRejected
	ClassExpectedServiceMissing = regcontract.ClassExpectedServiceMissing
	ClassPublish                = regcontract.ClassPublish
	ClassReport                 = regcontract.ClassReport
)

// Error is a failure of a run, with its class.
type Error struct {
	Class Class
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the process exit code for err: 0 for nil, the class's code
// for an *Error, else 1.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return int(e.Class)
	}
	return 1
}

func fail(c Class, err error) error { return &Error{Class: c, Err: err} }

// classify sorts an admin API error into its class: refused tokens,
// Restate's refusals and server errors, and everything else (the network)
// as unreachable.
func classify(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var apiErr *restateadmin.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Unauthorized():
		return fail(ClassUnauthorized, err)
	case errors.As(err, &apiErr) && apiErr.Status != http.StatusServiceUnavailable:
		return fail(ClassRejected, err)
	default:
		return fail(ClassUnreachable, err)
	}
}
