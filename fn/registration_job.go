package fn

import (
	"encoding/json"
	"sort"

	k8sobject "github.com/crossplane-contrib/provider-kubernetes/apis/cluster/object/v1alpha2"
	xpv2 "github.com/crossplane/crossplane-runtime/v2/apis/common/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

// The Kubernetes objects of registration, each wrapped in a
// provider-kubernetes Object: the Job, its report ConfigMap, and the
// service account and RBAC the Jobs run with.

// jobObject wraps a registration Job in a provider-kubernetes Object that
// is ready once the Job has completed. Its pod meets the restricted Pod
// Security Standard and has a read-only root filesystem.
func jobObject(s *stack, key, name, svc string, args regcontract.Args, rec registrationRecord, report bool) part {
	labels := map[string]string{labelStack: s.Name, labelService: svc}
	sa := awsName(s.Name, "register")
	if s.Versioning == v1alpha1.VersioningPublished && s.Registration.Publisher != nil && rec.Lambda {
		sa = s.Registration.Publisher.ServiceAccountName
	}
	container := corev1.Container{
		Name:                     "register",
		Image:                    s.Registration.Image,
		Args:                     args.CommandLine(),
		Resources:                s.Registration.Resources,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	pod := corev1.PodSpec{
		RestartPolicy:      corev1.RestartPolicyNever,
		ServiceAccountName: sa,
		// Only to report; an AWS identity comes with its own token.
		AutomountServiceAccountToken: ptr.To(report),
		EnableServiceLinks:           ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](65532),
			RunAsGroup:     ptr.To[int64](65532),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if rec.Token != nil {
		pod.Volumes = []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: rec.Token.Name, Items: []corev1.KeyToPath{{Key: rec.Token.Key, Path: "token"}},
		}}}}
		container.VolumeMounts = []corev1.VolumeMount{{Name: "token", MountPath: tokenDir, ReadOnly: true}}
	}
	pod.Containers = []corev1.Container{container}
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Registration.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To[int32](2),
			ActiveDeadlineSeconds: ptr.To[int64](jobDeadlineSeconds),
			Template:              corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
	obj := &k8sobject.Object{Spec: k8sobject.ObjectSpec{
		Readiness: k8sobject.Readiness{Policy: k8sobject.ReadinessPolicyDeriveFromCelQuery, CelQuery: jobComplete},
		Watch:     true,
	}}
	b, _ := json.Marshal(rec)
	obj.SetAnnotations(map[string]string{annRegistration: string(b)})
	p := objectPart(key, obj, job)
	p.owner = owner{concern: concernRegistration, service: svc}
	return p
}

// reportObject is the ConfigMap a registration Job writes its result into.
// The Object creates it empty and never updates it, so what the Job wrote
// stays and is observed back.
func reportObject(s *stack, key, name, svc string) part {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Registration.Namespace, Labels: map[string]string{labelStack: s.Name, labelService: svc}},
	}
	obj := &k8sobject.Object{Spec: k8sobject.ObjectSpec{Watch: true}}
	obj.Spec.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve, xpv2.ManagementActionCreate, xpv2.ManagementActionDelete}
	p := objectPart(key, obj, cm)
	p.owner = owner{concern: concernRegistration, service: svc}
	return p
}

// registerRBAC is the Jobs' identity: a service account (unless the
// platform's publisher is used) that may get and patch exactly the
// stack's report ConfigMaps.
func registerRBAC(s *stack, reports []string) []part {
	ns := s.Registration.Namespace
	name := awsName(s.Name, "register")
	labels := map[string]string{labelStack: s.Name}
	wrap := func(key string, o runtime.Object) part { return objectPart(key, &k8sobject.Object{}, o) }
	parts := []part{wrap(keyRegisterSA, &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		AutomountServiceAccountToken: ptr.To(false),
	})}
	if len(reports) == 0 {
		// No resource names would mean every ConfigMap: no Role at all.
		return parts
	}
	sort.Strings(reports)
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}}
	if p := s.Registration.Publisher; p != nil && s.Versioning == v1alpha1.VersioningPublished {
		subjects = append(subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: p.ServiceAccountName, Namespace: ns})
	}
	return append(parts,
		wrap(keyRegisterRole, &rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "patch"}, ResourceNames: reports}},
		}),
		wrap(keyRegisterBinding, &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects:   subjects,
		}),
	)
}

// objectPart is a provider-kubernetes Object wrapping a Kubernetes object.
// The manifest travels beside the typed Object, as the map the desired
// state holds, and stamp puts it in place: marshalling it into the Object
// only for composed.From to parse it again cost a tenth of a reconcile
// (BENCHMARKS.md).
func objectPart(key string, obj *k8sobject.Object, o runtime.Object) part {
	return part{key: key, mr: obj, manifest: manifest(o)}
}

// manifest is a Kubernetes object as an Object carries it: no status, no
// empty creation timestamp.
func manifest(o runtime.Object) map[string]any {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		panic(err) // typed Kubernetes objects always convert
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
	return u
}
