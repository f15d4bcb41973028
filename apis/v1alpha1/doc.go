// Package v1alpha1 holds the RestateStack API: the composite resource
// (XRestateStack) and its namespaced claim (RestateStack). The XRD in
// compositions/definition.yaml is generated from these types by `make generate`.
//
// +kubebuilder:object:generate=true
// +groupName=stack.restate-crossplane.io
// +versionName=v1alpha1
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// Group and version of the RestateStack API.
const (
	Group   = "stack.restate-crossplane.io"
	Version = "v1alpha1"
)

var (
	// GroupVersion of the RestateStack API.
	GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

	// SchemeBuilder registers the API's types.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
)

func init() {
	SchemeBuilder.Register(&XRestateStack{})
}
