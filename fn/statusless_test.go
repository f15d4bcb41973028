package fn

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
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

// TestStatuslessVolumeWithoutKeptStatus: the data volume observed without
// its status, and no status kept on the composite either (FuzzObservedState
// found this): its id is recovered from the volume's external name, or else
// from the host policy composed with it, so the live instance and its
// policy stay, naming the same volume.
func TestStatuslessVolumeWithoutKeptStatus(t *testing.T) {
	p := newPolicy(withMode(platform.RegistrationAuto))
	xr := newXR(withServices(s3Service("greeter")))
	settled, obs := settle(t, xr, p, nil)
	var volumeID string
	for _, o := range obs {
		if o.GetAnnotations()["crossplane.io/composition-resource-name"] == selfhosted.KeyDataVolume {
			volumeID, _, _ = unstructured.NestedString(o.Object, "status", "atProvider", "volumeID")
		}
	}
	if volumeID == "" {
		t.Fatal("the settled stack observes no data volume id")
	}
	for name, strip := range map[string]func(o *unstructured.Unstructured){
		"external name kept": func(o *unstructured.Unstructured) {
			delete(o.Object, "status")
			o.SetAnnotations(map[string]string{"crossplane.io/external-name": volumeID})
		},
		"nothing but the host policy": func(o *unstructured.Unstructured) { o.Object = map[string]any{} },
	} {
		var bare []*unstructured.Unstructured
		for _, o := range obs {
			o = o.DeepCopy()
			if o.GetAnnotations()["crossplane.io/composition-resource-name"] == selfhosted.KeyDataVolume {
				strip(o)
			}
			bare = append(bare, o)
		}
		d := desiredOf(run(t, newRequest(t, xr, p, bare...)))
		for key := range settled {
			if d[key] == nil {
				t.Errorf("%s: %s withdrawn", name, key)
			}
		}
		doc := d[selfhosted.KeyInstanceRolePolicy]
		if doc == nil || !strings.Contains(fmt.Sprint(doc.Object["spec"]), "volume/"+volumeID) {
			t.Errorf("%s: the host policy does not name %s: %v", name, volumeID, doc)
		}
	}
}
