package register

import (
	"errors"
	"net/http"

	"github.com/restate-crossplane/function-restate-stack/internal/restateadmin"
)

// Class is a kind of failure; each has its own exit code, so that a Job's
// pod status tells them apart.
type Class int

// Failure classes and their exit codes.
const (
	// ClassUsage: the command was given bad options.
	ClassUsage Class = 2
	// ClassUnreachable: the admin API did not become healthy in time.
	ClassUnreachable Class = 3
	// ClassUnauthorized: the admin API refused the token, or got none.
	ClassUnauthorized Class = 4
	// ClassRejected: Restate refused the registration or could not
	// discover the endpoint.
	ClassRejected Class = 5
	// ClassExpectedServiceMissing: discovery did not find the expected
	// service.
	ClassExpectedServiceMissing Class = 6
	// ClassPublish: publishing a Lambda version failed.
	ClassPublish Class = 7
	// ClassReport: the result could not be reported back.
	ClassReport Class = 8
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
