package fn

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource/composed"

	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// GraphNode is one resource of a stack: its key, its kind, and the keys it
// waits for before it is first composed (its readiness gates).
type GraphNode struct {
	Key, Kind string
	Needs     []string
}

// Graph is what a request would compose and what each part waits for,
// from the same parts and gates RunFunction applies, so that a picture of
// it cannot drift from what the function does. Render it with Mermaid.
func Graph(req *fnv1.RunFunctionRequest) ([]GraphNode, error) {
	xr, in, errs, err := admit(req, nil)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	observed := stack.ObservedOf(req)
	s, env, errs := resolve(xr, in, nil)
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	learn(s, env, observed, xr.Status)
	b, err := build(s, env, observed)
	if err != nil {
		return nil, err
	}
	var nodes []GraphNode
	for _, p := range append(b.all, b.plan.parts...) {
		if p.MR == nil {
			return nil, errors.New("a part without a resource: " + p.Key)
		}
		kind := p.MR.GetObjectKind().GroupVersionKind().Kind
		if gvks, _, err := composed.Scheme.ObjectKinds(p.MR); err == nil && len(gvks) > 0 {
			kind = gvks[0].Kind
		}
		nodes = append(nodes, GraphNode{Key: p.Key, Kind: kind, Needs: slices.Clone(p.Needs)})
	}
	return nodes, nil
}

// Mermaid draws a graph as a Mermaid flowchart: an arrow from what a
// resource waits for to the resource. A gate on something that is not a
// resource (the data volume's id, say) is drawn as a note.
func Mermaid(nodes []GraphNode) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	id := func(key string) string {
		return strings.NewReplacer("-", "_", ".", "_", " ", "_", "#", "_").Replace(key)
	}
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.Key] = true
	}
	for _, n := range nodes {
		fmt.Fprintf(&b, "  %s[\"%s<br/><small>%s</small>\"]\n", id(n.Key), n.Key, n.Kind)
	}
	for _, n := range nodes {
		for _, need := range n.Needs {
			if !known[need] {
				fmt.Fprintf(&b, "  %s([\"%s\"]) -.-> %s\n", id(need), need, id(n.Key))
				continue
			}
			fmt.Fprintf(&b, "  %s --> %s\n", id(need), id(n.Key))
		}
	}
	return b.String()
}
