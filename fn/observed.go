package fn

import (
	"strings"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
)

// observed is what Crossplane observed of the composed resources, read
// straight from the request's protobuf structs. The function reads a
// handful of status fields of each; converting every observed resource to
// a map first cost more than the rest of a reconcile (BENCHMARKS.md).
type observed map[string]*structpb.Struct

func observedOf(req *fnv1.RunFunctionRequest) observed {
	o := observed{}
	for name, r := range req.GetObserved().GetResources() {
		if s := r.GetResource(); s != nil {
			o[name] = s
		}
	}
	return o
}

// value is the value at a dotted path of a resource, or nil.
func (o observed) value(key, path string) *structpb.Value {
	s, ok := o[key]
	if !ok {
		return nil
	}
	var v *structpb.Value
	for _, f := range strings.Split(path, ".") {
		if s == nil {
			return nil
		}
		v = s.GetFields()[f]
		s = v.GetStructValue()
	}
	return v
}

// str is the string at a dotted path of a resource, or "".
func (o observed) str(key, path string) string {
	return o.value(key, path).GetStringValue()
}

// ready says whether a resource is observed ready, as its kind shows it:
// a managed resource's Ready condition, a Job's Complete, or, for objects
// with nothing to wait for, that it exists.
func (o observed) ready(key string) bool {
	r, ok := o[key]
	if !ok {
		return false
	}
	gv, _ := schema.ParseGroupVersion(r.GetFields()["apiVersion"].GetStringValue())
	kind, _ := kinds.Of(gv.WithKind(r.GetFields()["kind"].GetStringValue()))
	switch kind.Ready {
	case kinds.Exists:
		return true
	case kinds.JobComplete:
		return conditionTrue(o.value(key, "status.conditions"), "Complete")
	}
	return conditionTrue(o.value(key, "status.conditions"), "Ready")
}

// hasJobs says whether any registration Job is observed.
func (o observed) hasJobs() bool {
	for key := range o {
		if reg, dereg := jobKind(key); reg || dereg {
			return true
		}
	}
	return false
}

// annotation is a metadata annotation of a resource, or "".
func (o observed) annotation(key, name string) string {
	return o.value(key, "metadata.annotations").GetStructValue().GetFields()[name].GetStringValue()
}

// conditionTrue says whether a list of conditions has one of the type with
// status True.
func conditionTrue(conditions *structpb.Value, typ string) bool {
	return conditionOfType(conditions, typ).GetFields()["status"].GetStringValue() == "True"
}

func conditionOfType(conditions *structpb.Value, typ string) *structpb.Struct {
	for _, c := range conditions.GetListValue().GetValues() {
		if cs := c.GetStructValue(); cs.GetFields()["type"].GetStringValue() == typ {
			return cs
		}
	}
	return nil
}
