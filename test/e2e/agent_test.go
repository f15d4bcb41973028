//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"sigs.k8s.io/yaml"
)

// hostAgent is the host agent of one self-hosted claim, run as a process
// in the box: what the stack's host runs in a container. It has the
// credentials of the stack's instance role (assumed in moto, as IMDS would
// hand them to the host) and reaches the test's restate-server as the
// host reaches its own.
type hostAgent struct {
	claim, namespace, xr string
}

// startHostAgent starts the agent of a claim once its data volume exists.
func startHostAgent(t *testing.T, b *box, moto, admin, namespace, claim string) *hostAgent {
	t.Helper()
	xr := b.must("-n", namespace, "get", "restatestack", claim, "-o", "jsonpath={.spec.resourceRef.name}")
	volume := b.must("-n", namespace, "get", "restatestack", claim, "-o", "jsonpath={.status.selfHosted.dataVolumeId}")
	role := b.must("get", "roles.iam.aws.crossplane.io", xr+"-instance-role", "-o", "jsonpath={.status.atProvider.arn}")
	if xr == "" || volume == "" || role == "" {
		t.Fatalf("%s: composite %q, volume %q, instance role %q", claim, xr, volume, role)
	}
	creds := assumeRole(t, moto, role)
	b.start("agent-"+claim, []string{
		"AWS_ENDPOINT_URL=" + moto, "AWS_ACCESS_KEY_ID=" + aws.ToString(creds.AccessKeyId), "AWS_SECRET_ACCESS_KEY=" + aws.ToString(creds.SecretAccessKey),
		"AWS_SESSION_TOKEN=" + aws.ToString(creds.SessionToken), "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}, bin(t, "FUNCTION"), "agent", "--region=eu-central-1", "--orders-secret="+xr+"-agent-orders", "--volume-id="+volume,
		"--admin-url="+admin, "--state-file="+filepath.Join(b.dir, "agent-"+claim, "state.json"), "--interval=2s", "--retry-after=10s")
	return &hostAgent{claim: claim, namespace: namespace, xr: xr}
}

// assumeRole is what IMDS gives a host: the instance role's session.
func assumeRole(t *testing.T, moto, role string) *ststypes.Credentials {
	t.Helper()
	c := sts.New(sts.Options{Region: "eu-central-1", BaseEndpoint: aws.String(moto),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "e2e", "")})
	out, err := c.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("i-host")})
	if err != nil {
		t.Fatalf("assuming %s in moto: %v", role, err)
	}
	return out.Credentials
}

// registration is a service's registration as the claim's status shows it.
type registration struct {
	Agent        bool   `json:"agent"`
	Complete     bool   `json:"complete"`
	Version      string `json:"version"`
	Endpoint     string `json:"endpoint"`
	DeploymentID string `json:"deploymentId"`
}

func (a *hostAgent) registrations(t *testing.T, b *box) map[string]registration {
	t.Helper()
	out, _ := b.kubectl("-n", a.namespace, "get", "restatestack", a.claim, "-o", "jsonpath={.status.services}")
	var list []struct {
		Name         string       `json:"name"`
		Registration registration `json:"registration"`
	}
	_ = yaml.Unmarshal([]byte(out), &list)
	m := map[string]registration{}
	for _, s := range list {
		m[s.Name] = s.Registration
	}
	return m
}

// waitRegistered waits for the claim's Registered condition and each
// service's registration at the version want gives it ("" for any).
func (a *hostAgent) waitRegistered(t *testing.T, b *box, timeout time.Duration, want map[string]string) map[string]registration {
	t.Helper()
	var regs map[string]registration
	eventually(t, timeout, a.claim+" to be registered by its host agent", func() string {
		cond, _ := b.kubectl("-n", a.namespace, "get", "restatestack", a.claim, "-o", `jsonpath={.status.conditions[?(@.type=="Registered")].status} {.status.conditions[?(@.type=="Registered")].message}`)
		regs = a.registrations(t, b)
		if !strings.HasPrefix(cond, "True") {
			return "Registered " + cond + "; agent log: " + b.logTail("agent-"+a.claim)
		}
		for svc, v := range want {
			if r := regs[svc]; !r.Complete || !r.Agent || v != "" && r.Version != v {
				return fmt.Sprintf("%s: %+v, want version %q", svc, r, v)
			}
		}
		return ""
	})
	return regs
}

// claimWith rewrites a prepared claim's spec.
func claimWith(t *testing.T, claim string, edit func(spec map[string]any)) string {
	t.Helper()
	var c map[string]any
	if err := yaml.Unmarshal([]byte(claim), &c); err != nil {
		t.Fatal(err)
	}
	edit(c["spec"].(map[string]any))
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// servicesOf returns a claim spec's services by name.
func servicesOf(spec map[string]any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, s := range spec["services"].([]any) {
		svc := s.(map[string]any)
		m[svc["name"].(string)] = svc
	}
	return m
}

// median of durations.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
