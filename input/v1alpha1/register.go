package v1alpha1

import "k8s.io/apimachinery/pkg/runtime/schema"

// GroupVersion of the function's input.
var GroupVersion = schema.GroupVersion{Group: "input.restate-crossplane.io", Version: "v1alpha1"}
