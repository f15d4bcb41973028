package fn

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// TestStatuslessObservationWithdrawsNothing: once a stack has settled,
// every resource observed without any status (a provider restarted or
// upgraded, a status wiped) stays in the desired state, with the
// composite's last status kept: Crossplane deletes what the function
// leaves out, the live host among it. For every registration path.
func TestStatuslessObservationWithdrawsNothing(t *testing.T) {
	destroy := s3Service("payments")
	destroy.Registration.RemovalPolicy = v1alpha1.RemovalDestroy
	for name, p := range map[string]*platform.StackPolicy{
		"host agent":                 newPolicy(withMode(platform.RegistrationAuto)),
		"Jobs":                       newPolicy(withMode(platform.RegistrationJob), func(p *platform.StackPolicy) { p.Registration.AdminAccess.CIDRBlocks = []string{"10.20.0.0/16"} }),
		"no account id in the input": newPolicy(withMode(platform.RegistrationAuto), func(p *platform.StackPolicy) { p.AccountID = "" }),
	} {
		xr := newXR(withServices(s3Service("greeter"), destroy, httpService("orders", "http://orders:9080")), inNamespace("team-a"))
		_, obs := settle(t, xr, p, nil)
		// The composite's status as the settled reconcile wrote it.
		rsp := run(t, newRequest(t, xr, p, obs...))
		st, _, _ := unstructured.NestedMap(rsp.GetDesired().GetComposite().GetResource().AsMap(), "status")
		kept := xr.DeepCopy()
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(st, &kept.Status); err != nil {
			t.Fatal(err)
		}
		bare := make([]*unstructured.Unstructured, 0, len(obs))
		for _, o := range obs {
			o = o.DeepCopy()
			delete(o.Object, "status")
			bare = append(bare, o)
		}
		d := desiredOf(run(t, newRequest(t, kept, p, bare...)))
		for _, o := range bare {
			key := o.GetAnnotations()["crossplane.io/composition-resource-name"]
			if d[key] == nil {
				t.Errorf("%s: %s (%s) withdrawn when observed without status", name, key, o.GetKind())
			}
		}
	}
}
