package regcontract

// Class is a kind of registration failure; each has its own exit code, so
// that a Job's pod status (and the host agent's report) tells them apart.
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

// String says what failed, for a claim's status.
func (c Class) String() string {
	switch c {
	case ClassUsage:
		return "bad options"
	case ClassUnreachable:
		return "the admin API did not become healthy"
	case ClassUnauthorized:
		return "the admin API refused the token"
	case ClassRejected:
		return "Restate refused the registration or could not discover the endpoint"
	case ClassExpectedServiceMissing:
		return "discovery did not find the expected service"
	case ClassPublish:
		return "publishing a Lambda version failed"
	case ClassReport:
		return "the result could not be reported"
	}
	return "an unexpected failure"
}
