package test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/testproc"
)

// TestHostAgent runs the host agent (the function's own binary) against a
// real restate-server and real Restate services, with moto standing in for
// AWS (Secrets Manager for the orders, EC2 for the volume's tags, Lambda
// for published versions), and the test service playing Lambda's Invoke
// API for Restate.
func TestHostAgent(t *testing.T) {
	requireRestate(t)
	aws := startMotoAccount(t)
	// Lambda itself cannot run here: the test service plays its Invoke
	// API, running the Restate SDK's own Lambda handler, and restate-server
	// is pointed at it as the AWS SDK allows.
	lambdaAPI := startServiceAt(t, freePort(t), "-lambda")
	srv := startRestateServer(t, 0, "AWS_ENDPOINT_URL_LAMBDA="+lambdaAPI, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=eu-central-1")
	agentLog := &syncBuffer{}
	stateFile := filepath.Join(t.TempDir(), "state", "agent-state.json")
	run := func(extra ...string) *exec.Cmd {
		args := append([]string{"agent", "--region=eu-central-1", "--orders-secret=" + aws.secret, "--volume-id=" + aws.volume,
			"--admin-url=" + srv.Admin, "--state-file=" + stateFile, "--interval=300ms", "--retry-after=2s"}, extra...)
		cmd := exec.Command(filepath.Join("..", "bin", "function"), args...)
		cmd.Env = append(os.Environ(), aws.env...)
		cmd.Stdout, cmd.Stderr = agentLog, agentLog
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _, _ = cmd.Process.Wait() })
		return cmd
	}
	fast := regcontract.Args{HealthAttempts: 3, HealthInitialBackoff: 50 * time.Millisecond, HealthMaxBackoff: 200 * time.Millisecond,
		RegisterAttempts: 2, RegisterTimeout: 10 * time.Second, Deadline: 60 * time.Second}
	httpOrder := func(svc, rev, uri, expected string) agentcontract.Order {
		a := fast
		a.AdminURL, a.URI, a.ExpectedService, a.Force = "http://restate:9070", uri, expected, true
		return agentcontract.Order{Service: svc, Revision: rev, Command: a.CommandLine()}
	}

	greeterPort, counterPort := freePort(t), freePort(t)
	greeter := fmt.Sprintf("http://127.0.0.1:%d", greeterPort)
	counter := fmt.Sprintf("http://127.0.0.1:%d", counterPort)
	startServiceAt(t, greeterPort, "-services", "Greeter")
	orders := agentcontract.Orders{Register: []agentcontract.Order{
		httpOrder("greeter", "r1", greeter, "Greeter"),
		// Not up yet: the agent is killed while it retries this one.
		httpOrder("counter", "r1", counter, "Counter"),
	}}
	aws.putOrders(t, orders)
	first := run()

	t.Run("registers and reports", func(t *testing.T) {
		waitForReport(t, aws, agentLog, func(r agentcontract.Report) bool { return r.Services["greeter"].DeploymentID != "" })
	})

	t.Run("killed mid-run, restarted: one deployment, a true report", func(t *testing.T) {
		waitFor(t, "the agent to try the counter", func() bool { return strings.Contains(agentLog.String(), "127.0.0.1:"+fmt.Sprint(counterPort)) })
		_ = syscall.Kill(-first.Process.Pid, syscall.SIGKILL)
		_, _ = first.Process.Wait()
		startServiceAt(t, counterPort, "-services", "Counter")
		run()
		r := waitForReport(t, aws, agentLog, func(r agentcontract.Report) bool {
			return r.Services["counter"].DeploymentID != "" && r.Services["counter"].Class == 0
		})
		for svc, uri := range map[string]string{"greeter": greeter, "counter": counter} {
			if n := deploymentsOf(t, srv, uri); n != 1 {
				t.Errorf("%s: %d deployments of %s, want 1", svc, n, uri)
			}
			if got := r.Services[svc].DeploymentID; got != deploymentOf(t, srv, uri) {
				t.Errorf("%s: reported deployment %s, Restate has %s", svc, got, deploymentOf(t, srv, uri))
			}
		}
	})

	t.Run("a refused registration is reported with its class and retried", func(t *testing.T) {
		// The greeter's endpoint offers Greeter, not Nope: discovery
		// refuses it (class 6), and nothing is registered.
		orders.Register[1] = httpOrder("greeter", "r2", greeter, "Nope")
		aws.putOrders(t, orders)
		waitForReport(t, aws, agentLog, func(r agentcontract.Report) bool {
			s := r.Services["greeter"]
			return s.Revision == "r2" && s.Class == 6
		})
		tries := strings.Count(agentLog.String(), "not the expected \"Nope\"")
		waitFor(t, "a retry after --retry-after", func() bool { return strings.Count(agentLog.String(), "not the expected \"Nope\"") > tries })
	})

	t.Run("publishes a Lambda version and registers it; new code, a new version; the old one pruned and deleted", func(t *testing.T) {
		lambdaOrder := func(rev, code string) agentcontract.Order {
			a := fast
			a.AdminURL, a.LambdaARN, a.Versioning, a.CodeSHA256, a.ExpectedService = "http://restate:9070", aws.function, regcontract.VersioningPublished, code, "trips"
			a.Prune, a.DeletePrunedVersions, a.MaxPrunedPerRun = true, true, 10
			return agentcontract.Order{Service: "trips", Revision: rev, Command: a.CommandLine()}
		}
		orders.Register[1] = httpOrder("greeter", "r3", greeter, "Greeter")
		orders.Register = append(orders.Register, lambdaOrder("l1", aws.codeSHA256))
		aws.putOrders(t, orders)
		r := waitForReport(t, aws, agentLog, func(r agentcontract.Report) bool { return r.Services["trips"].Revision == "l1" })
		if s := r.Services["trips"]; s.Class != 0 || s.Version != "1" || deploymentOf(t, srv, aws.function+":1") != s.DeploymentID {
			t.Fatalf("trips: %+v, want version 1 registered; agent log:\n%s", s, agentLog.String())
		}

		// New code: the order names its hash, the agent publishes version
		// 2, registers it and prunes version 1's drained deployment, and
		// deletes version 1, which nothing uses any more.
		code := aws.updateCode(t)
		orders.Register[2] = lambdaOrder("l2", code)
		aws.putOrders(t, orders)
		r = waitForReport(t, aws, agentLog, func(r agentcontract.Report) bool { return r.Services["trips"].Revision == "l2" })
		if s := r.Services["trips"]; s.Class != 0 || s.Version != "2" {
			t.Fatalf("trips: %+v, want version 2; agent log:\n%s", s, agentLog.String())
		}
		if n := deploymentsOf(t, srv, aws.function+":1"); n != 0 {
			t.Errorf("version 1's drained deployment was not pruned")
		}
		if v := aws.versions(t); slices.Contains(v, "1") || !slices.Contains(v, "2") {
			t.Errorf("moto has versions %v, want 2 and not 1", v)
		}
	})

	t.Run("deregisters a service that left, and forgets it once the order goes", func(t *testing.T) {
		orders.Register = orders.Register[:1] // counter stays; greeter and trips leave
		a := fast
		a.AdminURL, a.URI, a.Deregister = "http://restate:9070", greeter, true
		orders.Deregister = []agentcontract.Order{{Service: "greeter", Revision: "d1", Command: a.CommandLine()}}
		aws.putOrders(t, orders)
		waitForReport(t, aws, agentLog, func(r agentcontract.Report) bool {
			_, reported := r.Services["greeter"]
			_, trips := r.Services["trips"]
			return r.Gone["greeter"] == "d1" && !reported && !trips
		})
		if n := deploymentsOf(t, srv, greeter); n != 0 {
			t.Errorf("%d deployments of %s left, want 0", n, greeter)
		}
		orders.Deregister = nil
		aws.putOrders(t, orders)
		waitForReport(t, aws, agentLog, func(r agentcontract.Report) bool { _, gone := r.Gone["greeter"]; return !gone })
	})
}

// motoAccount is moto on a free loopback port with what a self-hosted
// stack gives its host: the orders secret, the data volume, a function.
type motoAccount struct {
	env                                  []string
	secret, volume, function, codeSHA256 string
	sm                                   *secretsmanager.Client
	ec2                                  *ec2.Client
	lambda                               *lambda.Client
}

func startMotoAccount(t *testing.T) *motoAccount {
	t.Helper()
	endpoint := testproc.Moto(t, filepath.Join("e2e", "moto", "server.py"))
	m := &motoAccount{env: []string{"AWS_ENDPOINT_URL=" + endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}}
	for _, e := range m.env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	ctx := mustContext(t)
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-central-1"))
	if err != nil {
		t.Fatal(err)
	}
	m.sm, m.ec2, m.lambda = secretsmanager.NewFromConfig(cfg), ec2.NewFromConfig(cfg), lambda.NewFromConfig(cfg)
	sec, err := m.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("demo-agent-orders"), SecretString: aws.String("{}")})
	if err != nil {
		t.Fatal(err)
	}
	vol, err := m.ec2.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("eu-central-1a"), Size: aws.Int32(8)})
	if err != nil {
		t.Fatal(err)
	}
	m.secret, m.volume = aws.ToString(sec.Name), aws.ToString(vol.VolumeId)
	// A function needs a role Lambda may assume; boto3 makes both (the Go
	// module has no IAM client, and needs none elsewhere).
	out, err := exec.Command("python3", "-c", `import boto3, io, json, sys, zipfile
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="eu-central-1")
role = iam.create_role(RoleName="trips", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("index.js", "exports.handler = async () => ({})")
fn = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="eu-central-1").create_function(
    FunctionName="trips", Runtime="nodejs20.x", Role=role, Handler="index.handler", Code={"ZipFile": buf.getvalue()})
print(json.dumps({"arn": fn["FunctionArn"], "sha": fn["CodeSha256"]}))`, endpoint).Output()
	if err != nil {
		t.Fatalf("creating the function in moto: %v", err)
	}
	var fn struct{ ARN, SHA string }
	if err := json.Unmarshal(out, &fn); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m.function, m.codeSHA256 = fn.ARN, fn.SHA
	return m
}

func (m *motoAccount) putOrders(t *testing.T, o agentcontract.Orders) {
	t.Helper()
	b, err := o.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(m.secret), SecretString: aws.String(string(b))}); err != nil {
		t.Fatal(err)
	}
}

// tags are the volume's tags, as DescribeVolumes (and so provider-aws)
// reports them.
func (m *motoAccount) tags(t *testing.T) map[string]string {
	t.Helper()
	out, err := m.ec2.DescribeVolumes(context.Background(), &ec2.DescribeVolumesInput{VolumeIds: []string{m.volume}})
	if err != nil || len(out.Volumes) != 1 {
		t.Fatalf("DescribeVolumes: %v", err)
	}
	tags := map[string]string{}
	for _, tag := range out.Volumes[0].Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return tags
}

// updateCode gives the function new code and returns its hash.
func (m *motoAccount) updateCode(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, _ := w.Create("index.js")
	_, _ = f.Write([]byte("exports.handler = async () => ({v: 2})"))
	_ = w.Close()
	out, err := m.lambda.UpdateFunctionCode(context.Background(), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("trips"), ZipFile: buf.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.CodeSha256)
}

func (m *motoAccount) versions(t *testing.T) []string {
	t.Helper()
	out, err := m.lambda.ListVersionsByFunction(context.Background(), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("trips")})
	if err != nil {
		t.Fatal(err)
	}
	var v []string
	for _, c := range out.Versions {
		v = append(v, aws.ToString(c.Version))
	}
	return v
}

func waitForReport(t *testing.T, m *motoAccount, log *syncBuffer, ok func(agentcontract.Report) bool) agentcontract.Report {
	t.Helper()
	var r agentcontract.Report
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if r, err = agentcontract.ParseReport(m.tags(t)); err != nil {
			t.Fatal(err)
		}
		if ok(r) {
			if time.Since(r.Heartbeat) > time.Minute {
				t.Errorf("stale heartbeat %s", r.Heartbeat)
			}
			return r
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the report never got there: %+v\nagent log:\n%s", r, log.String())
	return r
}

func deploymentsOf(t *testing.T, s *restateServer, uri string) int {
	n := 0
	for _, r := range s.query(t, "SELECT endpoint FROM sys_deployment") {
		if strings.TrimSuffix(r["endpoint"].(string), "/") == uri {
			n++
		}
	}
	return n
}

func deploymentOf(t *testing.T, s *restateServer, uri string) string {
	for _, r := range s.query(t, "SELECT id, endpoint FROM sys_deployment") {
		if strings.TrimSuffix(r["endpoint"].(string), "/") == uri {
			return r["id"].(string)
		}
	}
	return ""
}

// syncBuffer is a log two goroutines write and the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
