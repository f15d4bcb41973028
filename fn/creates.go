package fn

import (
	"fmt"
	"time"

	"github.com/crossplane/crossplane-runtime/pkg/meta"
	"github.com/crossplane/function-sdk-go/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
)

// Creates provider-aws began and never recorded. The provider's reconciler
// marks a create pending before it calls AWS and succeeded or failed after;
// a provider killed in between (a restart, an upgrade, an OOM kill) leaves
// the mark, and the reconciler refuses to touch the resource again until
// someone removes it ("cannot determine creation result"): the stack never
// converges. Whether it is safe to go on depends on the kind.
//
// For a kind a second create cannot duplicate (kinds.Kind.Repeatable), the
// stack records the create as failed a second after it began, which is
// what the provider itself writes when a create fails: it then observes
// the resource and creates it only if it is not there. For other kinds only
// the account can tell whether the create happened, so the stack says
// which resource, and what to check, and leaves the mark alone.

// annResumedCreate records, on a resource whose unfinished create the
// stack resumed, when that create began.
const annResumedCreate = "restate-crossplane.io/resumed-create"

// unfinishedCreate says whether an observed resource's create began and
// was never recorded, and when it began.
func unfinishedCreate(o *unstructured.Unstructured) (time.Time, bool) {
	if !meta.ExternalCreateIncomplete(o) {
		return time.Time{}, false
	}
	return meta.GetExternalCreatePending(o), true
}

// resumeCreates marks the unfinished creates of repeatable kinds failed in
// the desired state, and returns, for the others, what to tell the claim.
func resumeCreates(s *stack.Stack, desired map[resource.Name]*resource.DesiredComposed, observed stack.Observed) (stuck []string) {
	for _, key := range stack.SortedKeys(desired) {
		// Only the annotations are read (converting the whole resource, a
		// host's user data and all, cost a tenth of a steady reconcile).
		obsAnn := observed.Value(string(key), "metadata.annotations").GetStructValue()
		if obsAnn.GetFields()[meta.AnnotationKeyExternalCreatePending] == nil {
			continue
		}
		o := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"annotations": obsAnn.AsMap()}}}
		began, ok := unfinishedCreate(o)
		if !ok {
			continue
		}
		o.SetAPIVersion(observed.Str(string(key), "apiVersion"))
		o.SetKind(observed.Str(string(key), "kind"))
		o.SetName(observed.Str(string(key), "metadata.name"))
		kind, known := kinds.Of(schema.FromAPIVersionAndKind(o.GetAPIVersion(), o.GetKind()))
		if !known || !kind.Repeatable {
			stuck = append(stuck, fmt.Sprintf("%s %s: provider-aws began creating it at %s and never recorded the result (was it restarted?); "+
				"if the account has no %s tagged %s=%s that no managed resource names, remove its annotation %s",
				o.GetKind(), o.GetName(), began.UTC().Format(time.RFC3339), o.GetKind(), stack.TagStack, s.Name, meta.AnnotationKeyExternalCreatePending))
			continue
		}
		d := desired[key].Resource
		ann := d.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[meta.AnnotationKeyExternalCreateFailed] = began.Add(time.Second).UTC().Format(time.RFC3339)
		// The provider's event filter ignores changes of its own create
		// annotations; a change of this one is what wakes it (the stuck
		// reconcile asked for no retry).
		ann[annResumedCreate] = began.UTC().Format(time.RFC3339)
		d.SetAnnotations(ann)
	}
	return stuck
}
