package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/register"
)

// tokenEnv holds the admin API token when no token file is given. There is
// no flag for it: a flag would show in the process list.
const tokenEnv = "RESTATE_ADMIN_TOKEN"

// registerCmd registers one endpoint with a Restate environment, or
// deregisters it. Registration Jobs run it; its defaults are the CDK's.
type registerCmd struct {
	// The flags are the contract's, so that what the function renders into
	// a Job is what this parses.
	regcontract.Args `embed:""`
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
	o := register.OptionsOf(c.Args)
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
	if c.Versioning == regcontract.VersioningPublished && !c.Deregister {
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
