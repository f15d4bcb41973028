package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/restate-crossplane/function-restate-stack/internal/agent"
	"github.com/restate-crossplane/function-restate-stack/internal/register"
)

// agentCmd keeps a self-hosted stack's services registered from its host
// (see internal/agent). The host's bootstrap runs it in a container once
// Restate is healthy.
type agentCmd struct {
	Region       string        `help:"AWS region of the stack." required:""`
	OrdersSecret string        `help:"Secrets Manager secret holding the orders." required:""`
	VolumeID     string        `help:"Data volume whose tags carry the report." required:""`
	AdminURL     string        `help:"This host's Restate admin API." default:"http://127.0.0.1:9070"`
	StateFile    string        `help:"Where the agent remembers its report (on the data volume, to outlive the instance)." default:"/state/agent-state.json"`
	Interval     time.Duration `help:"Time between passes." default:"15s"`
	RetryAfter   time.Duration `help:"Time before a failed registration is tried again at the same revision." default:"2m"`
	Heartbeat    time.Duration `help:"Time between heartbeats when nothing else changes." default:"1m"`
	Once         bool          `help:"Run one pass and exit."`
}

func (c *agentCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(c.Region))
	if err != nil {
		return fmt.Errorf("cannot load AWS configuration: %w", err)
	}
	pub, err := register.NewLambdaPublisher(ctx, c.Region)
	if err != nil {
		return err
	}
	a := &agent.Agent{
		AdminURL: c.AdminURL, Channel: agent.NewAWSChannel(cfg, c.OrdersSecret, c.VolumeID), Publisher: pub,
		StateFile: c.StateFile, RetryAfter: c.RetryAfter, HeartbeatEvery: c.Heartbeat, Log: os.Stderr,
	}
	if c.Once {
		return a.Step(ctx)
	}
	if err := a.Run(ctx, c.Interval); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
