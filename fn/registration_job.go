package fn

import (
	"encoding/json"
	"sort"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

// The Kubernetes objects of registration, composed directly in the claim's
// namespace (Crossplane v2 composes any kind): the Job, its report
// ConfigMap, and the service account and RBAC the Jobs run with.

// registrationJob is a Job that runs register; it is ready once it has
// completed. Its pod meets the restricted Pod Security Standard and has a
// read-only root filesystem. It records what deregistering its service
// needs, for when the service has left the claim.
func registrationJob(s *stack.Stack, key, svc string, args regcontract.Args, rec registrationRecord, report bool) stack.Part {
	labels := map[string]string{labelStack: s.Name, labelService: svc}
	sa := stack.ResourceName(s.Name, "register")
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
	b, _ := json.Marshal(rec)
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Registration.Namespace, Labels: labels,
			Annotations: map[string]string{annRegistration: string(b)}},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To[int32](2),
			ActiveDeadlineSeconds: ptr.To[int64](jobDeadlineSeconds),
			Template:              corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
	return stack.Part{Key: key, MR: job, Owner: stack.Owner{Concern: stack.ConcernRegistration, Service: svc}}
}

// reportConfigMap is the ConfigMap a registration Job writes its result
// into. The function never sets its data, so what the Job wrote (under
// its own field manager) stays, and is observed back.
func reportConfigMap(s *stack.Stack, key, name, svc string) stack.Part {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Registration.Namespace, Labels: map[string]string{labelStack: s.Name, labelService: svc}},
	}
	return stack.Part{Key: key, Name: name, MR: cm, Owner: stack.Owner{Concern: stack.ConcernRegistration, Service: svc}}
}

// registerRBAC is the Jobs' identity: a service account (unless the
// platform's publisher is used) that may get and patch exactly the
// stack's report ConfigMaps. The RoleBinding comes once its Role exists
// (applied together, the binding can be refused). ready says whether all of
// it is observed, so that Jobs may start.
func registerRBAC(s *stack.Stack, reports []string, obs stack.Observed) (parts []stack.Part, ready bool) {
	ns := s.Registration.Namespace
	name := stack.ResourceName(s.Name, "register")
	labels := map[string]string{labelStack: s.Name}
	parts = []stack.Part{{Key: keyRegisterSA, Name: name, MR: &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   metav1.ObjectMeta{Namespace: ns, Labels: labels},
		AutomountServiceAccountToken: ptr.To(false),
	}}}
	_, ready = obs[keyRegisterSA]
	if len(reports) == 0 {
		// No resource names would mean every ConfigMap: no Role at all.
		return parts, ready
	}
	sort.Strings(reports)
	parts = append(parts, stack.Part{Key: keyRegisterRole, Name: name, MR: &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: labels},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "patch"}, ResourceNames: reports}},
	}})
	if _, ok := obs[keyRegisterRole]; !ok {
		return parts, false
	}
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}}
	if p := s.Registration.Publisher; p != nil && s.Versioning == v1alpha1.VersioningPublished {
		subjects = append(subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: p.ServiceAccountName, Namespace: ns})
	}
	parts = append(parts, stack.Part{Key: keyRegisterBinding, Name: name, MR: &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   subjects,
	}})
	_, bound := obs[keyRegisterBinding]
	return parts, ready && bound
}
