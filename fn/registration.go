package fn

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	k8sobject "github.com/crossplane-contrib/provider-kubernetes/apis/cluster/object/v1alpha2"
	xpv2 "github.com/crossplane/crossplane-runtime/v2/apis/common/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"google.golang.org/protobuf/types/known/structpb"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/register"
)

// Composition resource names of registration. A service's Job Object is
// reg-<service>-<hash of what it registers>, its report ConfigMap's Object
// the same with .report; a new hash composes a new Job and drops the old.
const (
	keyRegisterPrefix   = "reg-"
	keyDeregisterPrefix = "dereg-"
	suffixReport        = "report"
	keyRegisterSA       = "register-sa"
	keyRegisterRole     = "register-role"
	keyRegisterBinding  = "register-rolebinding"
	keyPublishGrant     = "publish-grant"

	// annRegistration on a Job's Object records what deregistering its
	// service needs, for when the service has left the claim.
	annRegistration = "restate-crossplane.io/registration"
	labelStack      = "restate-crossplane.io/stack"
	labelService    = "restate-crossplane.io/service"

	// jobComplete is the Job Object's readiness: the wrapped Job succeeded.
	jobComplete = "object.status.conditions.exists(c, c.type == 'Complete' && c.status == 'True')"
	tokenDir    = "/var/run/secrets/restate"
	// registerDeadline bounds one run; the Job's own deadline adds room
	// for pulling the image and retries.
	registerDeadlineSeconds = 900
	jobDeadlineSeconds      = 1200
)

// registrationRecord is what deregistration needs of a service that is no
// longer in the claim.
type registrationRecord struct {
	Service       string                       `json:"service"`
	Endpoint      string                       `json:"endpoint"` // unqualified ARN or URI
	Lambda        bool                         `json:"lambda,omitempty"`
	RemovalPolicy v1alpha1.RemovalPolicy       `json:"removalPolicy"`
	AdminURL      string                       `json:"adminUrl"`
	Insecure      bool                         `json:"insecure,omitempty"`
	Token         *v1alpha1.SecretKeyReference `json:"token,omitempty"`
}

// registrationPlan is what buildRegistration decided: the parts to compose,
// observed resources to keep while their service is deregistered, and what
// each service waits for.
type registrationPlan struct {
	parts []part
	kept  map[resource.Name]*resource.DesiredComposed
	// jobs maps each service to its current Job's key, if it has one.
	jobs map[string]string
	// waiting says, per service, why it has no Job yet.
	waiting map[string]string
}

// buildRegistration composes, per service, a Job that registers it once
// its endpoint is known (the function observed ready, with its ARN and
// code hash; or the HTTP URI) and the admin URL is known; and a Job that
// deregisters a service with removal policy Destroy that left the claim,
// keeping its function until that Job has succeeded.
func buildRegistration(s *stack, desired map[resource.Name]*resource.DesiredComposed, obs observed) registrationPlan {
	plan := registrationPlan{kept: map[resource.Name]*resource.DesiredComposed{}, jobs: map[string]string{}, waiting: map[string]string{}}
	if len(s.Services) == 0 && !hasPrefixKey(obs, keyRegisterPrefix, keyDeregisterPrefix) {
		return plan
	}
	if s.Registration.Namespace == "" {
		for _, svc := range s.Services {
			plan.waiting[svc.Name] = "a namespace: the composite has no claim and the platform sets no registration namespace"
		}
		return plan
	}
	envAdmin, _ := environmentURLs(s, desired, obs)
	invoker := invokerRoleARN(s, obs)
	var reports []string

	for _, svc := range s.Services {
		admin := svc.Registration.AdminURL
		if admin == "" {
			admin = envAdmin
		}
		target, why := registrationTarget(s, svc, desired, obs)
		switch {
		case admin == "":
			plan.waiting[svc.Name] = "the environment's admin URL"
			continue
		case why != "":
			plan.waiting[svc.Name] = why
			continue
		}
		rec := registrationRecord{Service: svc.Name, Endpoint: target.endpoint, Lambda: svc.Lambda != nil, RemovalPolicy: svc.Registration.RemovalPolicy,
			AdminURL: admin, Insecure: svc.Registration.Insecure, Token: s.tokenRef()}
		args := registerArgs(s, svc, rec, target, invoker)
		key := keyRegisterPrefix + svc.Name + "-" + hashOf(append([]string{s.Name, s.Registration.Image, s.Registration.Namespace, target.config}, args...)...)
		name := awsName(s.Name, key)
		args = append(args, "--report-configmap="+name)
		plan.jobs[svc.Name] = key
		reports = append(reports, name)
		plan.parts = append(plan.parts,
			jobObject(s, key, name, svc.Name, args, rec, true),
			reportObject(s, key+"."+suffixReport, name, svc.Name),
		)
	}

	plan.parts = append(plan.parts, deregistrations(s, obs, plan.kept)...)
	if len(plan.parts) > 0 {
		plan.parts = append(plan.parts, registerRBAC(s, reports)...)
	}
	return plan
}

// target is a service's endpoint as registration sees it.
type target struct {
	endpoint   string // unqualified function ARN, or the URI
	codeSHA256 string
	// config changes whenever the function's configuration does, so that
	// $LATEST is registered again after a configuration change.
	config string
}

// registrationTarget returns a service's endpoint, or what it waits for.
func registrationTarget(s *stack, svc service, desired map[resource.Name]*resource.DesiredComposed, obs observed) (target, string) {
	if svc.HTTP != nil {
		return target{endpoint: svc.HTTP.URI, config: svc.HTTP.Revision}, ""
	}
	key := serviceKey(svc.Name, "")
	d := desired[resource.Name(key)]
	arn := obs.str(key, "status.atProvider.functionARN")
	code := obs.str(key, "status.atProvider.codeSHA256")
	if d == nil || d.Ready != resource.ReadyTrue || arn == "" || code == "" {
		return target{}, "its function to be ready"
	}
	// Restate invokes the function during discovery: the invoker role and
	// its grant must be in place first.
	for _, k := range []string{keyInvokerRole, keyInvokeGrant, keyPublishGrant} {
		if g := desired[resource.Name(k)]; g != nil && g.Ready != resource.ReadyTrue && (k != keyInvokeGrant || svc.Grant) {
			return target{}, "the " + k
		}
	}
	forProvider, _ := json.Marshal(d.Resource.Object["spec"])
	return target{endpoint: arn, codeSHA256: code, config: hashOf(string(forProvider))}, ""
}

// registerArgs are the register command's arguments for a service.
func registerArgs(s *stack, svc service, rec registrationRecord, t target, invoker string) []string {
	r := svc.Registration
	args := []string{"register", "--admin-url=" + rec.AdminURL}
	if svc.Lambda != nil {
		args = append(args, "--lambda-arn="+t.endpoint, "--versioning="+string(s.Versioning), "--code-sha256="+t.codeSHA256)
		if invoker != "" {
			args = append(args, "--assume-role-arn="+invoker)
		}
	} else {
		args = append(args, "--uri="+t.endpoint)
	}
	for flag, on := range map[string]bool{"--force": r.Force, "--breaking": r.Breaking, "--private": r.Private, "--insecure": r.Insecure} {
		if on {
			args = append(args, flag)
		}
	}
	if svc.ExpectedServiceName != "" {
		args = append(args, "--expected-service="+svc.ExpectedServiceName)
	}
	if r.Prune {
		args = append(args, "--prune", "--revision-history-limit="+strconv.Itoa(int(r.RevisionHistoryLimit)), "--max-pruned-per-run="+strconv.Itoa(int(r.MaxPrunedPerRun)))
	}
	args = append(args, "--health-attempts="+strconv.Itoa(int(r.HealthCheckAttempts)), fmt.Sprintf("--health-max-backoff=%ds", r.MaxBackoffSeconds),
		fmt.Sprintf("--deadline=%ds", registerDeadlineSeconds))
	if rec.Token != nil {
		args = append(args, "--token-file="+tokenDir+"/token")
	}
	sort.Strings(args[2:]) // stable, whatever the map order
	return args
}

// deregistrations composes a deregistration Job for each service that left
// the claim with removal policy Destroy after it was registered, and keeps
// that service's resources until the Job has succeeded.
func deregistrations(s *stack, obs observed, kept map[resource.Name]*resource.DesiredComposed) []part {
	inSpec := map[string]bool{}
	for _, svc := range s.Services {
		inSpec[svc.Name] = true
	}
	records := map[string]registrationRecord{}
	done := map[string]bool{}
	for _, key := range sortedKeys(obs) {
		isReg, isDereg := strings.HasPrefix(key, keyRegisterPrefix), strings.HasPrefix(key, keyDeregisterPrefix)
		if (!isReg && !isDereg) || strings.HasSuffix(key, "."+suffixReport) {
			continue
		}
		var rec registrationRecord
		if err := json.Unmarshal([]byte(obs.annotation(key, annRegistration)), &rec); err != nil || rec.Service == "" || inSpec[rec.Service] ||
			rec.RemovalPolicy != v1alpha1.RemovalDestroy {
			continue
		}
		if isReg && obs.str(key+"."+suffixReport, "status.atProvider.manifest.data."+register.ReportEndpoint) == "" {
			continue // never registered: nothing to remove
		}
		records[rec.Service] = rec
		if isDereg && obs.ready(key) {
			done[rec.Service] = true
		}
	}
	var parts []part
	for _, svc := range sortedKeys(records) {
		if done[svc] {
			continue // deregistered: let the function and the Job go
		}
		rec := records[svc]
		args := []string{"register", "--deregister", "--admin-url=" + rec.AdminURL, fmt.Sprintf("--deadline=%ds", registerDeadlineSeconds)}
		if rec.Lambda {
			args = append(args, "--lambda-arn="+rec.Endpoint)
		} else {
			args = append(args, "--uri="+rec.Endpoint)
		}
		if rec.Insecure {
			args = append(args, "--insecure")
		}
		if rec.Token != nil {
			args = append(args, "--token-file="+tokenDir+"/token")
		}
		key := keyDeregisterPrefix + svc + "-" + hashOf(args...)
		parts = append(parts, jobObject(s, key, awsName(s.Name, key), svc, args, rec, false))
		for key, o := range obs {
			if serviceOfKey(key) == svc {
				kept[resource.Name(key)] = keepObserved(o, obs.ready(key))
			}
		}
	}
	return parts
}

// keepObserved turns an observed resource back into a desired one, so that
// it stays while its service is deregistered.
func keepObserved(o *structpb.Struct, ready bool) *resource.DesiredComposed {
	m := o.AsMap()
	u := composed.New()
	u.SetAPIVersion(asString(m["apiVersion"]))
	u.SetKind(asString(m["kind"]))
	md, _ := m["metadata"].(map[string]any)
	u.SetName(asString(md["name"]))
	u.Object["spec"] = m["spec"]
	d := &resource.DesiredComposed{Resource: u, Ready: resource.ReadyFalse}
	if ready {
		d.Ready = resource.ReadyTrue
	}
	return d
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// jobObject wraps a registration Job in a provider-kubernetes Object that
// is ready once the Job has completed. Its pod meets the restricted Pod
// Security Standard and has a read-only root filesystem.
func jobObject(s *stack, key, name, svc string, args []string, rec registrationRecord, report bool) part {
	labels := map[string]string{labelStack: s.Name, labelService: svc}
	sa := awsName(s.Name, "register")
	if s.Versioning == v1alpha1.VersioningPublished && s.Registration.Publisher != nil && rec.Lambda {
		sa = s.Registration.Publisher.ServiceAccountName
	}
	container := corev1.Container{
		Name:                     "register",
		Image:                    s.Registration.Image,
		Args:                     args,
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
	return objectPart(key, obj, job)
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
	return objectPart(key, obj, cm)
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

// tokenRef is the Secret holding the admin API's token, if any.
func (s *stack) tokenRef() *v1alpha1.SecretKeyReference {
	switch {
	case s.Cloud != nil:
		return &s.Cloud.APIKeySecretRef
	case s.External != nil:
		return s.External.AuthTokenSecretRef
	}
	return nil
}

func hasPrefixKey(obs observed, prefixes ...string) bool {
	for name := range obs {
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
	}
	return false
}

// registrationStatus fills in each service's registration from its Job's
// Object and its report, and says what the services still wait for.
func registrationStatus(s *stack, plan registrationPlan, st *v1alpha1.RestateStackStatus, obs observed) (waiting []string) {
	for i := range st.Services {
		svc := st.Services[i].Name
		key, ok := plan.jobs[svc]
		if !ok {
			why := plan.waiting[svc]
			if why == "" {
				why = "registration"
			}
			waiting = append(waiting, svc+": waiting for "+why)
			continue
		}
		data := func(k string) string {
			return obs.str(key+"."+suffixReport, "status.atProvider.manifest.data."+k)
		}
		job := awsName(s.Name, key)
		r := &v1alpha1.RegistrationStatus{Job: job, Endpoint: data(register.ReportEndpoint), Version: data(register.ReportVersion), DeploymentID: data(register.ReportDeploymentID)}
		if svcs := data(register.ReportServices); svcs != "" {
			r.Services = strings.Split(svcs, ",")
		}
		_, seen := obs[key]
		r.Complete = seen && obs.ready(key) && r.Endpoint != ""
		st.Services[i].Registration = r
		switch {
		case r.Complete:
		case seen && jobFailed(obs, key) != "":
			waiting = append(waiting, fmt.Sprintf("%s: Job %s/%s failed (%s); see kubectl logs -n %s job/%s", svc, s.Registration.Namespace, job, jobFailed(obs, key), s.Registration.Namespace, job))
		default:
			waiting = append(waiting, fmt.Sprintf("%s: Job %s/%s running", svc, s.Registration.Namespace, job))
		}
	}
	return waiting
}

// jobFailed is the reason of a failed Job observed through its Object, or
// "".
func jobFailed(obs observed, key string) string {
	c := conditionOfType(obs.value(key, "status.atProvider.manifest.status.conditions"), "Failed")
	if c.GetFields()["status"].GetStringValue() != "True" {
		return ""
	}
	if r := c.GetFields()["reason"].GetStringValue(); r != "" {
		return r
	}
	return "Failed"
}
