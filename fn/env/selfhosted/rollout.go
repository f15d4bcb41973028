package selfhosted

import "slices"

// A cluster node's instance is named by a hash of what it is launched with
// (host.go), so a change of image, release, type or bootstrap is a new
// instance and the old one's withdrawal. On a cluster that must happen one
// node at a time: a node whose instance is stale keeps it (the observed one
// stays in the desired state) until every node serves again, and then only
// the first stale node is replaced.

// nodeLaunch is what one node's rollout is decided from.
type nodeLaunch struct {
	// Want is the key of the instance the claim asks for now.
	Want string
	// Have are the keys of the node's instances observed.
	Have []string
	// Serving is true when the node's instance of Want, or else its only
	// observed one, is ready and (behind a load balancer) its target
	// healthy.
	Serving bool
}

// stale is true when the node runs an instance the claim no longer wants.
func (n nodeLaunch) stale() bool {
	return len(n.Have) > 0 && !slices.Contains(n.Have, n.Want)
}

// settled is true when the node runs what the claim wants, alone, and
// serves.
func (n nodeLaunch) settled() bool {
	return n.Serving && len(n.Have) == 1 && n.Have[0] == n.Want
}

// planRollout returns, per node, the instance keys to compose: the wanted
// one, or, for a stale node that is not yet its turn, the ones it has. A new
// node (nothing observed) is launched at once: it replaces nothing. The
// second result is the index of the node being replaced now, or -1.
func planRollout(nodes []nodeLaunch) ([][]string, int) {
	out := make([][]string, len(nodes))
	// A replacement waits while any node does not serve what it runs: a
	// new instance starting (a replacement's, or a new node's), an old one
	// still going, or a stale node down.
	calm := true
	for _, n := range nodes {
		if n.stale() && !n.Serving || !n.stale() && !n.settled() {
			calm = false
		}
	}
	next := -1
	for i, n := range nodes {
		switch {
		case !n.stale():
			out[i] = []string{n.Want}
		case calm && next < 0:
			next = i
			out[i] = []string{n.Want}
		default:
			out[i] = n.Have
		}
	}
	return out, next
}
