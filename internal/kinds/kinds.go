// Package kinds is the one table of the kinds a RestateStack composes: their
// Go types, API resources and tag shapes. The function registers and stamps
// them from it, the render stand-in observes them, and the end-to-end test
// watches them; a new kind is one line here.
package kinds

import (
	logs "github.com/crossplane-contrib/provider-aws/apis/cloudwatchlogs/v1alpha1"
	ec2manual "github.com/crossplane-contrib/provider-aws/apis/ec2/manualv1alpha1"
	ec2v1alpha1 "github.com/crossplane-contrib/provider-aws/apis/ec2/v1alpha1"
	ec2 "github.com/crossplane-contrib/provider-aws/apis/ec2/v1beta1"
	elbv2manual "github.com/crossplane-contrib/provider-aws/apis/elbv2/manualv1alpha1"
	elbv2 "github.com/crossplane-contrib/provider-aws/apis/elbv2/v1alpha1"
	iamv1alpha1 "github.com/crossplane-contrib/provider-aws/apis/iam/v1alpha1"
	iam "github.com/crossplane-contrib/provider-aws/apis/iam/v1beta1"
	lambda "github.com/crossplane-contrib/provider-aws/apis/lambda/v1beta1"
	route53 "github.com/crossplane-contrib/provider-aws/apis/route53/v1alpha1"
	secretsmanager "github.com/crossplane-contrib/provider-aws/apis/secretsmanager/v1beta1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TagShape is how a kind takes tags.
type TagShape int

// Tag shapes of provider-aws kinds.
const (
	// NoTags: the kind has no tags.
	NoTags TagShape = iota
	// TagList: a list of {key, value}; EC2 kinds also get a Name tag.
	TagList
	// TagMap: a map of key to value.
	TagMap
	// TagSpecifications: EC2's tag specifications, applied at creation
	// (with a Name tag too).
	TagSpecifications
)

// Readiness is how an object of a kind shows it is ready.
type Readiness int

// Readiness rules.
const (
	// ReadyCondition: its Ready condition is True (managed resources).
	ReadyCondition Readiness = iota
	// JobComplete: its Complete condition is True.
	JobComplete
	// Exists: it exists (objects with no status to wait for).
	Exists
)

// Kind is one kind the stack composes.
type Kind struct {
	schema.GroupVersionKind
	// Resource is its API resource (the plural).
	Resource string
	Tags     TagShape
	Ready    Readiness
	// AWS: a provider-aws managed resource, which gets the stack's region
	// (unless Global), provider config, deletion policy and tags.
	AWS bool
	// Global: the kind has no region (IAM, Route 53: a record's region
	// field is latency routing's, not where it lives).
	Global bool
	// New returns an empty typed object of the kind.
	New func() runtime.Object
	// Repeatable: a second create of the same resource cannot make a
	// second one in AWS, because AWS names it by the stack's name (a second
	// create fails, or updates it) or by a client token that is the same
	// each time (a volume's is its managed resource's UID, as provider-aws
	// sets it; an instance's the stack sets). A create provider-aws began
	// and never recorded may then safely be made again.
	Repeatable bool
	// NamedBy is the forProvider field that is the resource's name in AWS
	// and its external name in provider-aws, set by the stack up front so
	// that the provider adopts a resource of that name that already exists
	// (a retained log group, or one Lambda made first) instead of failing
	// to create it forever.
	NamedBy string
}

// Name is the kind's resource as kubectl takes it: resource.group, or the
// resource alone for the core group.
func (k Kind) Name() string {
	if k.Group == "" {
		return k.Resource
	}
	return k.Resource + "." + k.Group
}

// GVR is the kind's API resource.
func (k Kind) GVR() schema.GroupVersionResource {
	return k.GroupVersion().WithResource(k.Resource)
}

// All kinds the stack composes.
var All = []Kind{
	awsKind(ec2.SchemeGroupVersion, "VPC", "vpcs", TagList, func() runtime.Object { return &ec2.VPC{} }),
	awsKind(ec2.SchemeGroupVersion, "Subnet", "subnets", TagList, func() runtime.Object { return &ec2.Subnet{} }),
	awsKind(ec2.SchemeGroupVersion, "InternetGateway", "internetgateways", TagList, func() runtime.Object { return &ec2.InternetGateway{} }),
	awsKind(ec2.SchemeGroupVersion, "RouteTable", "routetables", TagList, func() runtime.Object { return &ec2.RouteTable{} }),
	awsKind(ec2.SchemeGroupVersion, "Address", "addresses", TagList, func() runtime.Object { return &ec2.Address{} }),
	awsKind(ec2.SchemeGroupVersion, "NATGateway", "natgateways", TagList, func() runtime.Object { return &ec2.NATGateway{} }),
	awsKind(ec2.SchemeGroupVersion, "SecurityGroup", "securitygroups", TagList, func() runtime.Object { return &ec2.SecurityGroup{} }),
	awsKind(ec2manual.SchemeGroupVersion, "SecurityGroupRule", "securitygrouprules", NoTags, func() runtime.Object { return &ec2manual.SecurityGroupRule{} }),
	repeatable(awsKind(ec2manual.SchemeGroupVersion, "Instance", "instances", TagList, func() runtime.Object { return &ec2manual.Instance{} })),
	repeatable(awsKind(ec2v1alpha1.GroupVersion, "Volume", "volumes", TagSpecifications, func() runtime.Object { return &ec2v1alpha1.Volume{} })),
	global(repeatable(awsKind(iam.SchemeGroupVersion, "Role", "roles", TagList, func() runtime.Object { return &iam.Role{} }))),
	global(repeatable(awsKind(iam.SchemeGroupVersion, "RolePolicy", "rolepolicies", NoTags, func() runtime.Object { return &iam.RolePolicy{} }))),
	global(repeatable(awsKind(iam.SchemeGroupVersion, "RolePolicyAttachment", "rolepolicyattachments", NoTags, func() runtime.Object { return &iam.RolePolicyAttachment{} }))),
	global(repeatable(awsKind(iamv1alpha1.GroupVersion, "InstanceProfile", "instanceprofiles", TagList, func() runtime.Object { return &iamv1alpha1.InstanceProfile{} }))),
	namedBy("logGroupName", repeatable(awsKind(logs.GroupVersion, "LogGroup", "loggroups", TagMap, func() runtime.Object { return &logs.LogGroup{} }))),
	repeatable(awsKind(lambda.GroupVersion, "Function", "functions", TagMap, func() runtime.Object { return &lambda.Function{} })),
	repeatable(awsKind(secretsmanager.GroupVersion, "Secret", "secrets", TagList, func() runtime.Object { return &secretsmanager.Secret{} })),

	// A cluster's names and load balancer. elbv2 names its resources (a
	// second create of the same name returns the first, or fails); a
	// record and a target are named by their external names; a hosted zone
	// takes a caller reference provider-aws derives from its object.
	global(repeatable(awsKind(route53.SchemeGroupVersion, "HostedZone", "hostedzones", TagMap, func() runtime.Object { return &route53.HostedZone{} }))),
	global(repeatable(awsKind(route53.SchemeGroupVersion, "ResourceRecordSet", "resourcerecordsets", NoTags, func() runtime.Object { return &route53.ResourceRecordSet{} }))),
	repeatable(awsKind(elbv2.GroupVersion, "LoadBalancer", "loadbalancers", TagList, func() runtime.Object { return &elbv2.LoadBalancer{} })),
	repeatable(awsKind(elbv2.GroupVersion, "TargetGroup", "targetgroups", TagList, func() runtime.Object { return &elbv2.TargetGroup{} })),
	repeatable(awsKind(elbv2.GroupVersion, "Listener", "listeners", TagList, func() runtime.Object { return &elbv2.Listener{} })),
	repeatable(awsKind(elbv2manual.SchemeGroupVersion, "Target", "targets", NoTags, func() runtime.Object { return &elbv2manual.Target{} })),

	// Registration, composed directly in the claim's namespace.
	{GroupVersionKind: batchv1.SchemeGroupVersion.WithKind("Job"), Resource: "jobs", Ready: JobComplete, New: func() runtime.Object { return &batchv1.Job{} }},
	{GroupVersionKind: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Resource: "configmaps", Ready: Exists, New: func() runtime.Object { return &corev1.ConfigMap{} }},
	{GroupVersionKind: corev1.SchemeGroupVersion.WithKind("Secret"), Resource: "secrets", Ready: Exists, New: func() runtime.Object { return &corev1.Secret{} }},
	{GroupVersionKind: corev1.SchemeGroupVersion.WithKind("ServiceAccount"), Resource: "serviceaccounts", Ready: Exists, New: func() runtime.Object { return &corev1.ServiceAccount{} }},
	{GroupVersionKind: rbacv1.SchemeGroupVersion.WithKind("Role"), Resource: "roles", Ready: Exists, New: func() runtime.Object { return &rbacv1.Role{} }},
	{GroupVersionKind: rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), Resource: "rolebindings", Ready: Exists, New: func() runtime.Object { return &rbacv1.RoleBinding{} }},
}

func awsKind(gv schema.GroupVersion, kind, resource string, tags TagShape, newObj func() runtime.Object) Kind {
	return Kind{GroupVersionKind: gv.WithKind(kind), Resource: resource, Tags: tags, AWS: true, New: newObj}
}

func repeatable(k Kind) Kind { k.Repeatable = true; return k }

func global(k Kind) Kind { k.Global = true; return k }

func namedBy(field string, k Kind) Kind { k.NamedBy = field; return k }

var byGVK = func() map[schema.GroupVersionKind]Kind {
	m := make(map[schema.GroupVersionKind]Kind, len(All))
	for _, k := range All {
		m[k.GroupVersionKind] = k
	}
	return m
}()

// Of returns the kind of a GroupVersionKind, if the stack composes it.
func Of(gvk schema.GroupVersionKind) (Kind, bool) {
	k, ok := byGVK[gvk]
	return k, ok
}

// AddToScheme registers every kind's Go type, so that a typed object can
// be converted to the unstructured form Crossplane takes.
func AddToScheme(s *runtime.Scheme) {
	for _, k := range All {
		s.AddKnownTypeWithName(k.GroupVersionKind, k.New())
	}
}
