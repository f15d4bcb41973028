package agent

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
)

// channel is an in-memory channel: the orders given, the tags written.
// (The agent against a real restate-server and moto is test/agent_test.go.)
type channel struct {
	orders []byte
	tags   map[string]string
	writes int
}

func (c *channel) Orders(context.Context) ([]byte, error) { return c.orders, nil }

func (c *channel) Tag(_ context.Context, set map[string]string, del []string) error {
	c.writes++
	for k, v := range set {
		c.tags[k] = v
	}
	for _, k := range del {
		delete(c.tags, k)
	}
	return nil
}

// TestHeartbeat: with nothing to do the agent writes its heartbeat once a
// HeartbeatEvery, not every pass, and a restarted agent (its state file)
// deletes the tags it wrote that no order asks for.
func TestHeartbeat(t *testing.T) {
	empty, err := agentcontract.Orders{}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ch := &channel{orders: empty, tags: map[string]string{}}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	state := filepath.Join(t.TempDir(), "state.json")
	a := &Agent{Channel: ch, StateFile: state, HeartbeatEvery: time.Minute, Now: func() time.Time { return now }}
	for range 3 {
		if err := a.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(15 * time.Second)
	}
	if ch.writes != 1 {
		t.Errorf("%d writes in 45 s with nothing to do, want 1", ch.writes)
	}
	now = now.Add(time.Minute)
	if err := a.Step(context.Background()); err != nil || ch.writes != 2 || ch.tags[agentcontract.TagHeartbeat] != agentcontract.HeartbeatValue(now) {
		t.Errorf("after a minute: %v, %d writes, heartbeat %s", err, ch.writes, ch.tags[agentcontract.TagHeartbeat])
	}

	// A tag it wrote, which no order asks for any more, goes after a
	// restart too.
	ch.tags[agentcontract.ServiceKey("old")] = "r1/0/dp_1/1"
	a.state.Tags[agentcontract.ServiceKey("old")] = "r1/0/dp_1/1"
	if err := a.save(); err != nil {
		t.Fatal(err)
	}
	restarted := &Agent{Channel: ch, StateFile: state, HeartbeatEvery: time.Minute, Now: func() time.Time { return now }}
	if err := restarted.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := ch.tags[agentcontract.ServiceKey("old")]; ok {
		t.Error("a restarted agent left a tag no order asks for")
	}
}
