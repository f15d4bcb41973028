package fn

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// withObserved replaces one observed resource's object.
func withObserved(obs []*unstructured.Unstructured, key string, change func(*unstructured.Unstructured)) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(obs))
	for _, o := range obs {
		o = o.DeepCopy()
		if o.GetAnnotations()["crossplane.io/composition-resource-name"] == key {
			change(o)
		}
		out = append(out, o)
	}
	return out
}

// TestDataVolumeKeptAcrossReplacement: a launch change composes a new
// instance, drops the old, and keeps the same data volume, which the new
// instance's bootstrap attaches.
func TestDataVolumeKeptAcrossReplacement(t *testing.T) {
	xr := newXR()
	d, obs := settle(t, xr, newPolicy(), nil)
	oldKey, _ := instanceOf(t, d)
	volumeID := atProviderOf(obs, selfhosted.KeyDataVolume)["volumeID"].(string)

	bigger := newXR(func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment.SelfHosted.InstanceType = "t4g.small" })
	next := compose(t, bigger, newPolicy(), obs...)
	newKey, _ := instanceOf(t, next)
	if newKey == oldKey || next[oldKey] != nil {
		t.Fatalf("instance %s, then %s: want a new instance and the old one dropped", oldKey, newKey)
	}
	if !reflect.DeepEqual(next[selfhosted.KeyDataVolume].Object, d[selfhosted.KeyDataVolume].Object) {
		t.Errorf("the data volume changed with the instance:\n%v\n%v", d[selfhosted.KeyDataVolume].Object, next[selfhosted.KeyDataVolume].Object)
	}
	want(t, fileOnHost(t, hostOf(t, next), "data-volume"), volumeID)
}

// TestBootstrapChangeKeepsData: whatever the host's user data becomes (a
// new release of the bootstrap, say), the data volume is the same resource
// and the instance holds no data of its own.
func TestBootstrapChangeKeepsData(t *testing.T) {
	partsWith := func(script string) map[string]stack.Part {
		xr, p := newXR(), newPolicy()
		s, _, errs := resolve(xr, p, nil)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		env, errs := selfhosted.Resolve(s, selfhosted.LogGroupScope(xr), *xr.Spec.Environment.SelfHosted, p,
			func(string, *selfhosted.Server) ([]byte, error) { return []byte(script), nil }, field.NewPath("spec", "environment", "selfHosted"))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		env.VolumeID = "vol-0123456789abcdef0"
		parts, err := buildStack(s, env)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]stack.Part{}
		for _, p := range parts {
			m[p.Key] = p
		}
		return m
	}
	a, b := partsWith("#!/bin/bash\necho one\n"), partsWith("#!/bin/bash\necho two\n")
	if !reflect.DeepEqual(a[selfhosted.KeyDataVolume], b[selfhosted.KeyDataVolume]) {
		t.Error("a new bootstrap changes the data volume")
	}
	var instances int
	for k, p := range a {
		if _, ok := b[k]; !ok && p.Key != selfhosted.KeyDataVolume {
			instances++ // the instance, under a new key
		}
	}
	if instances != 1 {
		t.Errorf("%d resources are replaced by a new bootstrap, want the instance alone", instances)
	}
	d := composeHost(t, newXR(), newPolicy())
	dataVolume(t, d) // fails on any block device of the instance
}

// TestVolumeChangesRefused: provider-aws never changes a volume once
// created, so a claim that changes one is refused naming the field, and
// the existing resources stay.
func TestVolumeChangesRefused(t *testing.T) {
	_, obs := settle(t, newXR(), newPolicy(), nil)
	const fp = "spec.environment.selfHosted."
	for name, tc := range map[string]struct {
		sh        func(*v1alpha1.SelfHostedSpec)
		wantField string
	}{
		"size":    {func(s *v1alpha1.SelfHostedSpec) { s.DataVolume.SizeGiB = 20 }, fp + "dataVolume.sizeGiB"},
		"type":    {func(s *v1alpha1.SelfHostedSpec) { s.DataVolume.Type = "gp2" }, fp + "dataVolume.type"},
		"IOPS":    {func(s *v1alpha1.SelfHostedSpec) { s.DataVolume.IOPS = 4000 }, fp + "dataVolume.iops"},
		"KMS key": {func(s *v1alpha1.SelfHostedSpec) { s.DataVolume.KMSKeyID = "1234abcd-12ab-34cd-56ef-1234567890ab" }, fp + "dataVolume.kmsKeyId"},
		"zone": {func(s *v1alpha1.SelfHostedSpec) {
			s.Network.NewVPC = &v1alpha1.NewVPCSpec{AvailabilityZone: "eu-central-1b"}
		}, fp + "network.newVpc.availabilityZone"},
	} {
		t.Run(name, func(t *testing.T) {
			xr := newXR(func(xr *v1alpha1.XRestateStack) { tc.sh(xr.Spec.Environment.SelfHosted) })
			rsp := run(t, newRequest(t, xr, newPolicy(), obs...))
			wantFatal(t, rsp, tc.wantField+": Invalid value", "provider-aws never changes a volume")
		})
	}
}

// TestLearnedFactsKept: the account id and the data volume's id are kept in
// the composite's status; when an observation loses them (an ARN or the
// volume id gone from status.atProvider), nothing composed from them is
// withdrawn or replaced.
func TestLearnedFactsKept(t *testing.T) {
	noAccount := newPolicy(func(p *platform.StackPolicy) { p.AccountID = "" })
	xr := newXR()
	d, obs := settle(t, xr, noAccount, nil)
	rsp := run(t, newRequest(t, xr, noAccount, obs...))
	st := statusOf(rsp)
	account, volume := str(st, "status", "accountId"), str(st, "status", "selfHosted", "dataVolumeId")
	if account == "" || volume == "" {
		t.Fatalf("status keeps account %q and volume %q", account, volume)
	}

	// Every ARN and the volume id vanish from what is observed.
	lost := obs
	for _, o := range obs {
		key := o.GetAnnotations()["crossplane.io/composition-resource-name"]
		lost = withObserved(lost, key, func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "status", "atProvider", "arn")
			unstructured.RemoveNestedField(u.Object, "status", "atProvider", "functionARN")
			unstructured.RemoveNestedField(u.Object, "status", "atProvider", "volumeID")
		})
	}
	xr.Status.AccountID = account
	xr.Status.SelfHosted = &v1alpha1.SelfHostedStatus{DataVolumeID: volume}
	again := compose(t, xr, noAccount, lost...)
	if !reflect.DeepEqual(stack.SortedKeys(again), stack.SortedKeys(d)) {
		t.Errorf("composed %v, want %v as before", stack.SortedKeys(again), stack.SortedKeys(d))
	}
	want(t, policyDoc(t, again[selfhosted.KeyInstanceRolePolicy]), policyDoc(t, d[selfhosted.KeyInstanceRolePolicy]))

	// Without the kept status the stack would have withdrawn them: this is
	// what the status guards against.
	xr.Status = v1alpha1.RestateStackStatus{}
	forgot := compose(t, xr, noAccount, lost...)
	if _, ok := forgot[selfhosted.KeyInstanceRolePolicy]; ok {
		t.Error("the host's policy is composed with no account id known: the check above proves nothing")
	}
}
