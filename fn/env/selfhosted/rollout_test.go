package selfhosted

import (
	"fmt"
	"slices"
	"testing"
)

// TestRolloutOneNodeAtATime steps a stand-in of the provider and the
// nodes through reconciles: a composed instance that does not exist is
// launched and serves three reconciles later; an instance no longer
// composed is gone one reconcile later. Whatever the starting point, at
// most one node is ever without a serving instance, and every node ends on
// the wanted launch.
func TestRolloutOneNodeAtATime(t *testing.T) {
	type instance struct{ age int }
	for _, c := range []struct {
		name  string
		nodes int
		// start: each node's instance key and whether it serves.
		start []string
		down  []bool
		want  string
	}{
		{name: "a new release on three nodes", nodes: 3, start: []string{"v1", "v1", "v1"}, want: "v2"},
		{name: "five nodes", nodes: 5, start: []string{"v1", "v1", "v1", "v1", "v1"}, want: "v2"},
		{name: "a node down holds the rollout until it serves", nodes: 3, start: []string{"v1", "v1", "v1"}, down: []bool{false, true, false}, want: "v2"},
		{name: "a change during a rollout", nodes: 3, start: []string{"v2", "v1", "v1"}, want: "v3"},
		{name: "a new cluster launches every node at once", nodes: 3, start: []string{"", "", ""}, want: "v1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			have := make([]map[string]*instance, c.nodes)
			for i := range have {
				have[i] = map[string]*instance{}
				if c.start[i] != "" {
					have[i][c.start[i]] = &instance{age: 10}
				}
				if c.down != nil && c.down[i] {
					have[i][c.start[i]].age = -5 // comes back in a few reconciles
				}
			}
			const ready = 3
			newCluster := c.start[0] == ""
			for step := 0; step < 40; step++ {
				nodes := make([]nodeLaunch, c.nodes)
				notServing := 0
				for i := range nodes {
					keys := make([]string, 0, len(have[i]))
					serving := false
					for k, in := range have[i] {
						keys = append(keys, k)
						if in.age >= ready && (k == c.want || len(have[i]) == 1) {
							serving = true
						}
					}
					slices.Sort(keys)
					nodes[i] = nodeLaunch{Want: c.want, Have: keys, Serving: serving}
					if !serving {
						notServing++
					}
				}
				if notServing > 1 && !newCluster {
					t.Fatalf("step %d: %d nodes not serving: %+v", step, notServing, nodes)
				}
				plan, _ := planRollout(nodes)
				done := true
				for i, keys := range plan {
					for k := range have[i] {
						if !slices.Contains(keys, k) {
							delete(have[i], k) // withdrawn: Crossplane deletes it
						}
					}
					for _, k := range keys {
						if have[i][k] == nil {
							have[i][k] = &instance{}
						}
					}
					for _, in := range have[i] {
						in.age++
					}
					if len(have[i]) != 1 || have[i][c.want] == nil || have[i][c.want].age < ready {
						done = false
					}
				}
				if done {
					return
				}
			}
			t.Fatalf("the rollout did not finish: %v", fmt.Sprint(have))
		})
	}
}

// TestRolloutWaitsForEveryNode: nothing is replaced while a node does not
// serve, and only the first stale node is replaced.
func TestRolloutWaitsForEveryNode(t *testing.T) {
	stale := func(serving bool) nodeLaunch { return nodeLaunch{Want: "v2", Have: []string{"v1"}, Serving: serving} }
	plan, next := planRollout([]nodeLaunch{stale(true), stale(true), stale(true)})
	if next != 0 || !slices.Equal(plan[0], []string{"v2"}) || !slices.Equal(plan[1], []string{"v1"}) || !slices.Equal(plan[2], []string{"v1"}) {
		t.Errorf("all serving: replaced %d, plan %v; want node 0 alone", next, plan)
	}
	plan, next = planRollout([]nodeLaunch{stale(true), stale(false), stale(true)})
	if next != -1 || !slices.Equal(plan[0], []string{"v1"}) {
		t.Errorf("node 1 down: replaced %d, plan %v; want none", next, plan)
	}
	// A replacement in flight (the old instance still going) holds the rest.
	plan, next = planRollout([]nodeLaunch{{Want: "v2", Have: []string{"v1", "v2"}, Serving: true}, stale(true), stale(true)})
	if next != -1 || !slices.Equal(plan[0], []string{"v2"}) || !slices.Equal(plan[1], []string{"v1"}) {
		t.Errorf("node 0 in flight: replaced %d, plan %v; want node 0 on v2 alone and no other", next, plan)
	}
}
