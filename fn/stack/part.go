package stack

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Managed is a typed object the stack composes: a provider-aws managed
// resource, or a Kubernetes object of registration. What they share is set
// on the unstructured form.
type Managed interface {
	runtime.Object
	metav1.Object
}

// A Part is one composed resource of a stack as a builder returns it: its
// composition resource name and the typed managed resource, before the
// fields every resource shares are stamped on.
type Part struct {
	Key string
	MR  Managed
	// Name of the object, if it must differ from <stack>-<key>.
	Name string
	// Owner says what the part is for (see OwnedBy).
	Owner Owner
	// Needs are the keys of resources that must be observed ready before
	// the part is first composed (see fn's gate).
	Needs []string
}

// Concern is what a composed resource is for; each has its condition.
type Concern string

const (
	ConcernEnvironment Concern = "environment"
)

const (
	ConcernServices Concern = "services"
)

const (
	ConcernRegistration Concern = "registration"
)

// Owner is what a part is for: its concern and, for a service's resources,
// the service.
type Owner struct {
	Concern Concern
	Service string
}

// OwnedBy says what the parts are for.
func OwnedBy(parts []Part, o Owner) []Part {
	for i := range parts {
		parts[i].Owner = o
	}
	return parts
}
