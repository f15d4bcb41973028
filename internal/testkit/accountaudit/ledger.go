package accountaudit

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/restate-crossplane/function-restate-stack/internal/testkit/iampolicy"
)

// FlowNothingMore is where a grant or trust no flow asks for is reported.
const FlowNothingMore = "nothing more"

// grant is one thing a role may do, as a policy writes it: an action on a
// resource (an ARN or the pattern the function writes), under conditions,
// or, in a trust, a principal doing an action.
type grant struct {
	role, action, target, conditions string
}

// justify records that a flow asks for a grant.
func (au *auditor) justify(role, action, target string, cond map[string]map[string][]string) {
	if au.justified == nil {
		au.justified = map[grant]bool{}
	}
	au.justified[grant{role, action, target, canonical(cond)}] = true
}

// canonical writes conditions in one order: op key=value,value; ...
func canonical(cond map[string]map[string][]string) string {
	var parts []string
	for op, keys := range cond {
		for k, v := range keys {
			values := slices.Clone(v)
			sort.Strings(values)
			parts = append(parts, op+" "+k+"="+strings.Join(values, ","))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// conditions are a statement's, as canonical takes them.
func conditions(st iampolicy.Statement) map[string]map[string][]string {
	m := map[string]map[string][]string{}
	for op, keys := range st.Condition {
		m[op] = map[string][]string{}
		for k, v := range keys {
			m[op][k] = []string(v)
		}
	}
	return m
}

// accountFor reports every grant of a role that no flow asked for: each
// action on each resource of each statement of each inline policy, and
// each principal and action of each statement of its trust.
func (au *auditor) accountFor(s Stack, r Role) {
	identity := "role " + r.Name
	for _, name := range slices.Sorted(maps.Keys(r.Inline)) {
		d, err := iampolicy.Parse(r.Inline[name])
		if err != nil {
			continue // reported by the flow that evaluates it
		}
		for i, st := range d.Statement {
			cond := canonical(conditions(st))
			for _, a := range st.Action {
				for _, res := range st.Resource {
					if !au.justified[grant{r.Name, a, res, cond}] {
						au.fail(s, FlowNothingMore, identity, fmt.Sprintf("policy %s statement %d", name, i),
							"%s on %s%s, which no flow asks for", a, res, when(cond))
					}
				}
			}
		}
	}
	d, err := iampolicy.Parse(r.Trust)
	if err != nil {
		return
	}
	for i, st := range d.Statement {
		cond := canonical(conditions(st))
		for kind, ps := range st.Principal {
			for _, p := range ps {
				for _, a := range st.Action {
					if !au.justified[grant{r.Name, a, kind + ":" + p, cond}] {
						au.fail(s, FlowNothingMore, kind+" "+p, fmt.Sprintf("trust of role %s statement %d", r.Name, i),
							"may %s%s, which no flow asks for", a, when(cond))
					}
				}
			}
		}
	}
}

func when(cond string) string {
	if cond == "" {
		return ""
	}
	return " when " + cond
}
