package fn

import (
	"fmt"

	ec2 "github.com/crossplane-contrib/provider-aws/apis/ec2/v1beta1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
)

func init() {
	// composed.From needs the composed kinds' types in its scheme.
	kinds.AddToScheme(composed.Scheme)
}

// heldPart is a part gate holds back, and what it waits for.
type heldPart struct {
	stack.Part
	waitsFor []string
}

// gate holds back the parts whose needs are not all observed ready yet,
// and says, for each held, what it waits for. A part that exists is never
// held back, whatever its needs do: withdrawn from the desired state,
// Crossplane would delete it.
func gate(parts []stack.Part, obs stack.Observed) (composed []stack.Part, held []heldPart) {
	for _, p := range parts {
		var missing []string
		if _, exists := obs[p.Key]; !exists {
			for _, n := range p.Needs {
				if !obs.Ready(n) {
					missing = append(missing, n)
				}
			}
		}
		if len(missing) > 0 {
			held = append(held, heldPart{Part: p, waitsFor: missing})
			continue
		}
		composed = append(composed, p)
	}
	return composed, held
}

// stamp gives every part what all of a stack's resources share (object
// name, provider config, deletion policy, region, tags) and converts it to
// a desired composed resource. This is the only place these are set.
func stamp(s *stack.Stack, parts []stack.Part) (map[resource.Name]*resource.DesiredComposed, error) {
	out := make(map[resource.Name]*resource.DesiredComposed, len(parts))
	for _, p := range parts {
		mr := p.MR
		name := p.Name
		if name == "" {
			name = stack.ResourceName(s.Name, p.Key)
		}
		mr.SetName(name)
		cd, err := toComposed(mr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Key, err)
		}
		gvk := cd.GroupVersionKind()
		kind, ok := kinds.Of(gvk)
		switch {
		case !ok:
			return nil, fmt.Errorf("%s is a %s, which is not in the table of composed kinds", p.Key, gvk)
		case !kind.AWS:
			// Registration's Kubernetes objects are composed as built;
			// Crossplane deletes them with the stack.
			out[resource.Name(p.Key)] = &resource.DesiredComposed{Resource: cd}
			continue
		}

		// What every resource shares is set on the maps directly: the
		// SDK's path setters round-trip each value through JSON, which
		// cost a third of a reconcile (BENCHMARKS.md).
		spec, _ := cd.Object["spec"].(map[string]any)
		forProvider, _ := spec["forProvider"].(map[string]any)
		if forProvider == nil {
			return nil, fmt.Errorf("%s has no spec.forProvider", p.Key)
		}
		// A builder may orphan a resource (the retained log group); the
		// stack's Orphan orphans everything.
		if policy, _ := spec["deletionPolicy"].(string); s.DeletionPolicy == v1alpha1.DeletionOrphan || policy == "" {
			spec["deletionPolicy"] = string(s.DeletionPolicy)
		}
		spec["providerConfigRef"] = map[string]any{"name": s.ProviderConfig}
		if !kind.Global {
			forProvider["region"] = s.Region
		}
		if kind.NamedBy != "" {
			if n, _ := forProvider[kind.NamedBy].(string); n != "" {
				ann := cd.GetAnnotations()
				if ann == nil {
					ann = map[string]string{}
				}
				ann["crossplane.io/external-name"] = n
				cd.SetAnnotations(ann)
			}
		}
		if tags := tagsOf(kind, name, s.Tags); tags != nil {
			if kind.Tags == kinds.TagSpecifications {
				// The only kind of this shape is a volume.
				forProvider["tagSpecifications"] = []any{map[string]any{"resourceType": "volume", "tags": tags}}
			} else {
				forProvider["tags"] = tags
			}
		}
		out[resource.Name(p.Key)] = &resource.DesiredComposed{Resource: cd}
	}
	return out, nil
}

// toComposed converts a typed object to the desired state's form, without
// status (the provider's schema also refuses the null conditions a typed
// managed resource converts to). A Kubernetes object, which names its own
// kind, converts directly; a managed resource through composed.From, which
// finds its kind in the scheme.
func toComposed(o stack.Managed) (*composed.Unstructured, error) {
	if o.GetObjectKind().GroupVersionKind().Kind != "" {
		m, err := manifest(o)
		if err != nil {
			return nil, err
		}
		return &composed.Unstructured{Unstructured: unstructured.Unstructured{Object: m}}, nil
	}
	cd, err := composed.From(o)
	if err != nil {
		return nil, err
	}
	delete(cd.Object, "status")
	return cd, nil
}

// manifest is a typed Kubernetes object as the desired state holds it: no
// status, no empty creation timestamp. It is converted directly, without
// the JSON round trip composed.From makes (a tenth of a reconcile once;
// BENCHMARKS.md).
func manifest(o runtime.Object) (map[string]any, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	delete(u, "status")
	if md, ok := u["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	if spec, ok := u["spec"].(map[string]any); ok {
		if tpl, ok := spec["template"].(map[string]any); ok {
			if md, ok := tpl["metadata"].(map[string]any); ok {
				delete(md, "creationTimestamp")
			}
		}
	}
	return u, nil
}

// tagsOf is a resource's tags in the shape its kind takes: none, a map, or
// a list of key and value.
func tagsOf(kind kinds.Kind, name string, tags map[string]string) any {
	switch kind.Tags {
	case kinds.NoTags:
		return nil
	case kinds.TagMap:
		m := make(map[string]any, len(tags))
		for k, v := range tags {
			m[k] = v
		}
		return m
	}
	list := make([]any, 0, len(tags)+1)
	if kind.Group == ec2.Group {
		// EC2's console shows resources by their Name tag.
		list = append(list, map[string]any{"key": "Name", "value": name})
	}
	for _, k := range stack.SortedKeys(tags) {
		list = append(list, map[string]any{"key": k, "value": tags[k]})
	}
	return list
}
