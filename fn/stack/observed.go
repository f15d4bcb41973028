package stack

import (
	"strings"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
)

// Observed is what Crossplane observed of the composed resources, read
// straight from the request's protobuf structs. The function reads a
// handful of status fields of each; converting every observed resource to
// a map first cost more than the rest of a reconcile (BENCHMARKS.md).
type Observed map[string]*structpb.Struct

// ObservedOf reads what the request observed.
func ObservedOf(req *fnv1.RunFunctionRequest) Observed {
	o := Observed{}
	for name, r := range req.GetObserved().GetResources() {
		if s := r.GetResource(); s != nil {
			o[name] = s
		}
	}
	return o
}

// Value is the value at a dotted path of a resource, or nil.
func (o Observed) Value(key, path string) *structpb.Value {
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

// Str is the string at a dotted path of a resource, or "".
func (o Observed) Str(key, path string) string {
	return o.Value(key, path).GetStringValue()
}

// Ready says whether a resource is observed ready, as its kind shows it:
// a managed resource's Ready condition, a Job's Complete, or, for objects
// with nothing to wait for, that it exists.
func (o Observed) Ready(key string) bool {
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
		return ConditionTrue(o.Value(key, "status.conditions"), "Complete")
	}
	return ConditionTrue(o.Value(key, "status.conditions"), "Ready")
}

// Annotation is a metadata annotation of a resource, or "".
func (o Observed) Annotation(key, name string) string {
	return o.Value(key, "metadata.annotations").GetStructValue().GetFields()[name].GetStringValue()
}

// ConditionTrue says whether a list of conditions has one of the type with
// status True.
func ConditionTrue(conditions *structpb.Value, typ string) bool {
	return ConditionOfType(conditions, typ).GetFields()["status"].GetStringValue() == "True"
}

// ConditionOfType is the condition of the type in a list, or nil.
func ConditionOfType(conditions *structpb.Value, typ string) *structpb.Struct {
	for _, c := range conditions.GetListValue().GetValues() {
		if cs := c.GetStructValue(); cs.GetFields()["type"].GetStringValue() == typ {
			return cs
		}
	}
	return nil
}

// AgentReport reads the host agent's report from the tags provider-aws
// observes on the resource key names.
func (o Observed) AgentReport(key string) agentcontract.Report {
	tags := map[string]string{}
	for _, t := range o.Value(key, "status.atProvider.tags").GetListValue().GetValues() {
		f := t.GetStructValue().GetFields()
		if k := f["key"].GetStringValue(); agentcontract.IsReportTag(k) {
			tags[k] = f["value"].GetStringValue()
		}
	}
	r, _ := agentcontract.ParseReport(tags) // a malformed tag reports nothing
	return r
}
