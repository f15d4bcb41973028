package regcontract

import "strings"

// Keys of a report ConfigMap's data, which the stack observes back.
const (
	ReportEndpoint     = "endpoint"
	ReportDeploymentID = "deploymentId"
	ReportServices     = "services"
	ReportVersion      = "version"
	ReportDeregistered = "deregistered"
)

// Report is what one run of the command registered or removed. The command
// prints it as one JSON line and writes it into the Job's report ConfigMap.
type Report struct {
	// Endpoint is the qualified Lambda ARN or the URI registered.
	Endpoint     string   `json:"endpoint"`
	DeploymentID string   `json:"deploymentId,omitempty"`
	Services     []string `json:"services,omitempty"`
	// Version is the Lambda version registered: a number or $LATEST.
	Version      string   `json:"version,omitempty"`
	Pruned       []string `json:"pruned,omitempty"`
	Deregistered []string `json:"deregistered,omitempty"`
}

// Data is the report as a ConfigMap holds it (lists joined by commas; what
// was pruned stays in the Job's log).
func (r Report) Data() map[string]string {
	return map[string]string{
		ReportEndpoint:     r.Endpoint,
		ReportDeploymentID: r.DeploymentID,
		ReportServices:     strings.Join(r.Services, ","),
		ReportVersion:      r.Version,
		ReportDeregistered: strings.Join(r.Deregistered, ","),
	}
}

// ReportFromData reads a report ConfigMap's data back; get returns the
// value of a key, or "".
func ReportFromData(get func(key string) string) Report {
	return Report{
		Endpoint:     get(ReportEndpoint),
		DeploymentID: get(ReportDeploymentID),
		Services:     split(get(ReportServices)),
		Version:      get(ReportVersion),
		Deregistered: split(get(ReportDeregistered)),
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
