package agentcontract

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The agent reports as tags on the stack's data volume: provider-aws
// copies every tag of a volume into its status.atProvider.tags and never
// writes tags after creation, so the function reads them back on its next
// call. AWS allows tag keys of letters, digits, spaces and + - = . _ : / @,
// so a report holds nothing else ($LATEST is written Latest).
const (
	// TagPrefix starts every tag the agent writes; its IAM grant names it.
	TagPrefix = "restate-agent/"
	// TagHeartbeat holds the time of the agent's last pass (RFC 3339).
	TagHeartbeat = TagPrefix + "heartbeat"
	// TagClusterProvisioned holds when a cluster's node 0 provisioned its
	// Raft metadata (RFC 3339); its bootstrap writes it, once.
	TagClusterProvisioned = TagPrefix + "cluster-provisioned"
	// tagService and tagGone start the tags of registered and
	// deregistered services.
	tagService = TagPrefix + "svc/"
	tagGone    = TagPrefix + "gone/"
	// MaxTags is AWS's limit of tags on one resource.
	MaxTags = 50
)

// ServiceReport is what the agent last did for one service's order.
type ServiceReport struct {
	Revision string
	// Class is 0 for success, else the register package's failure class.
	Class        int
	DeploymentID string
	// Version is the Lambda version registered: a number or $LATEST.
	Version string
}

// Report is the agent's report, as tags.
type Report struct {
	Heartbeat time.Time
	// ClusterProvisioned is when node 0 provisioned the cluster, if it did.
	ClusterProvisioned time.Time
	// Services are the registered services' reports; Gone the revisions
	// at which services were deregistered.
	Services map[string]ServiceReport
	Gone     map[string]string
}

// ServiceKey is the tag key that reports a service.
func ServiceKey(service string) string { return tagService + service }

// GoneKey is the tag key that reports a service deregistered; its value is
// the order's revision.
func GoneKey(service string) string { return tagGone + service }

// Value is the report's tag value.
func (r ServiceReport) Value() string {
	v := r.Version
	if v == "$LATEST" {
		v = "Latest"
	}
	return strings.Join([]string{r.Revision, strconv.Itoa(r.Class), r.DeploymentID, v}, "/")
}

// ParseServiceValue reads a service tag's value.
func ParseServiceValue(v string) (ServiceReport, error) {
	f := strings.Split(v, "/")
	if len(f) != 4 {
		return ServiceReport{}, fmt.Errorf("%q is not revision/class/deployment/version", v)
	}
	class, err := strconv.Atoi(f[1])
	if err != nil {
		return ServiceReport{}, fmt.Errorf("%q: class: %w", v, err)
	}
	version := f[3]
	if version == "Latest" {
		version = "$LATEST"
	}
	return ServiceReport{Revision: f[0], Class: class, DeploymentID: f[2], Version: version}, nil
}

// HeartbeatValue is the heartbeat tag's value at t.
func HeartbeatValue(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// IsReportTag says whether a tag key is one the agent writes.
func IsReportTag(key string) bool { return strings.HasPrefix(key, TagPrefix) }

// ParseReport reads the agent's tags out of a resource's tags; other tags
// are ignored, and malformed ones reported.
func ParseReport(tags map[string]string) (Report, error) {
	r := Report{Services: map[string]ServiceReport{}, Gone: map[string]string{}}
	var bad []string
	for k, v := range tags {
		switch {
		case k == TagHeartbeat, k == TagClusterProvisioned:
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				bad = append(bad, k)
			}
			if k == TagHeartbeat {
				r.Heartbeat = t
			} else {
				r.ClusterProvisioned = t
			}
		case strings.HasPrefix(k, tagService):
			sr, err := ParseServiceValue(v)
			if err != nil {
				bad = append(bad, k)
				continue
			}
			r.Services[strings.TrimPrefix(k, tagService)] = sr
		case strings.HasPrefix(k, tagGone):
			r.Gone[strings.TrimPrefix(k, tagGone)] = v
		}
	}
	if len(bad) > 0 {
		return r, fmt.Errorf("malformed agent tags: %s", strings.Join(bad, ", "))
	}
	return r, nil
}
