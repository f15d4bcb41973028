package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/restate-crossplane/function-restate-stack/internal/register"
)

// tokenEnv holds the admin API token when no token file is given. There is
// no flag for it: a flag would show in the process list.
const tokenEnv = "RESTATE_ADMIN_TOKEN"

// registerCmd registers one endpoint with a Restate environment, or
// deregisters it. Registration Jobs run it; its defaults are the CDK's.
type registerCmd struct {
	AdminURL      string `help:"URL of the Restate admin API." required:"" env:"RESTATE_ADMIN_URL"`
	LambdaARN     string `help:"Lambda function ARN to register; unqualified with --versioning." name:"lambda-arn" xor:"endpoint"`
	URI           string `help:"HTTP endpoint to register." name:"uri" xor:"endpoint"`
	AssumeRoleARN string `help:"Role Restate assumes to invoke the Lambda." name:"assume-role-arn"`
	Versioning    string `help:"Qualify an unqualified ARN: Latest ($LATEST) or Published (publish a version with --code-sha256)." enum:"Latest,Published," default:""`
	CodeSHA256    string `help:"Code hash a Published version must have." name:"code-sha256"`

	Force           bool   `help:"Overwrite an existing deployment of the same endpoint."`
	Breaking        bool   `help:"Allow breaking changes to the services."`
	Private         bool   `help:"Make the discovered services private (not reachable through the ingress)."`
	ExpectedService string `help:"Fail unless discovery finds this service; nothing is registered then."`

	Prune                bool `help:"Prune drained deployments of the same services after registering."`
	RevisionHistoryLimit int  `help:"Drained deployments pruning keeps." default:"0"`
	MaxPrunedPerRun      int  `help:"Deployments one run prunes at most." default:"10"`

	Insecure  bool   `help:"Accept any certificate on the admin API."`
	TokenFile string `help:"File holding the admin API's bearer token (a mounted Secret). Else $RESTATE_ADMIN_TOKEN, if set." type:"path"`

	HealthAttempts       int           `help:"Health checks before giving up." default:"10"`
	HealthInitialBackoff time.Duration `help:"First wait between health checks; it doubles." default:"1s"`
	HealthMaxBackoff     time.Duration `help:"Cap of the wait between health checks." default:"20s"`
	HealthJitter         time.Duration `help:"Random extra wait, up to this." default:"2s"`
	HealthTimeout        time.Duration `help:"Time one health check may take." default:"5s"`
	RegisterAttempts     int           `help:"Registration attempts on network and server errors." default:"3"`
	RegisterTimeout      time.Duration `help:"Time one registration request may take (discovery included)." default:"30s"`
	Deadline             time.Duration `help:"Overall deadline of the run." default:"15m"`

	Deregister bool `help:"Remove every deployment of the endpoint (the qualified ARN or URI) instead of registering."`

	ReportConfigMap string `help:"ConfigMap, in --report-namespace, to write the result into."`
	ReportNamespace string `help:"Namespace of the report ConfigMap; defaults to the pod's."`
}

func (c *registerCmd) Run() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.Deadline)
	defer cancel()
	res, err := c.run(ctx)
	if err != nil {
		// One line, and an exit code per failure class.
		fmt.Fprintf(os.Stderr, "register: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(register.ExitCode(err))
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return nil
}

func (c *registerCmd) run(ctx context.Context) (*register.Result, error) {
	o, err := c.options(ctx)
	if err != nil {
		return nil, err
	}
	var res *register.Result
	if c.Deregister {
		endpoint := c.URI
		if endpoint == "" {
			endpoint = c.LambdaARN
		}
		res, err = register.Deregister(ctx, o, endpoint)
	} else {
		res, err = register.Register(ctx, o)
	}
	if err != nil || c.ReportConfigMap == "" {
		return res, err
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return res, &register.Error{Class: register.ClassReport, Err: fmt.Errorf("cannot report outside a cluster: %w", err)}
	}
	ns := c.ReportNamespace
	if ns == "" {
		b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		if err != nil {
			return res, &register.Error{Class: register.ClassReport, Err: fmt.Errorf("cannot tell the pod's namespace: %w", err)}
		}
		ns = strings.TrimSpace(string(b))
	}
	return res, register.Report(ctx, cfg, ns, c.ReportConfigMap, res)
}

func (c *registerCmd) options(ctx context.Context) (register.Options, error) {
	usage := func(err error) error { return &register.Error{Class: register.ClassUsage, Err: err} }
	o := register.Defaults()
	o.AdminURL, o.Insecure = c.AdminURL, c.Insecure
	o.LambdaARN, o.URI, o.AssumeRoleARN = c.LambdaARN, c.URI, c.AssumeRoleARN
	o.Versioning, o.CodeSHA256 = c.Versioning, c.CodeSHA256
	o.Force, o.Breaking, o.Private, o.ExpectedService = c.Force, c.Breaking, c.Private, c.ExpectedService
	o.Prune, o.RevisionHistoryLimit, o.MaxPrunedPerRun = c.Prune, c.RevisionHistoryLimit, c.MaxPrunedPerRun
	o.Health = register.Backoff{Attempts: c.HealthAttempts, Initial: c.HealthInitialBackoff, Max: c.HealthMaxBackoff, Jitter: c.HealthJitter, RequestTimeout: c.HealthTimeout}
	o.RegisterAttempts = c.RegisterAttempts
	o.RegisterBackoff.RequestTimeout = c.RegisterTimeout
	o.Log = os.Stderr
	if c.HealthAttempts < 1 || c.RegisterAttempts < 1 {
		return o, usage(errors.New("--health-attempts and --register-attempts must be at least 1"))
	}

	o.Token = os.Getenv(tokenEnv)
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return o, usage(fmt.Errorf("cannot read the token file: %w", err))
		}
		o.Token = strings.TrimSpace(string(b))
	}
	if c.Versioning == register.VersioningPublished && !c.Deregister {
		region := arnField(c.LambdaARN, 3)
		if region == "" {
			return o, usage(fmt.Errorf("--lambda-arn %q is not a Lambda function ARN", c.LambdaARN))
		}
		p, err := register.NewLambdaPublisher(ctx, region)
		if err != nil {
			return o, &register.Error{Class: register.ClassPublish, Err: err}
		}
		o.Publisher = p
	}
	return o, nil
}

// arnField returns field i of an ARN (3 is the region), or "".
func arnField(arn string, i int) string {
	f := strings.Split(arn, ":")
	if len(f) < 7 || f[0] != "arn" {
		return ""
	}
	return f[i]
}
