package fn

import (
	"strings"
	"testing"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
)

// TestHostHasEgress: provider-aws revokes a new security group's default
// egress, so the host reaches nothing (image registries, SSM, Logs, STS,
// Lambda, X-Ray) unless a rule on one of its groups allows it.
func TestHostHasEgress(t *testing.T) {
	d := composeHost(t, newXR(), newPolicy())
	r := d[selfhosted.KeyEgressRule]
	if r == nil {
		t.Fatal("no egress rule")
	}
	want(t, str(r, "spec", "forProvider", "type"), "egress")
	want(t, str(r, "spec", "forProvider", "protocol"), "-1")
	want(t, str(r, "spec", "forProvider", "cidrBlock"), "0.0.0.0/0")
	want(t, valueAt(r, "spec", "forProvider", "fromPort"), float64(-1))
	want(t, valueAt(r, "spec", "forProvider", "toPort"), float64(-1))
	want(t, str(r, "spec", "forProvider", "securityGroupIdRef", "name"), "demo-x7k2p-security-group-ingress")
	_, inst := instanceOf(t, d)
	refs, _, _ := unstructured.NestedSlice(inst.Object, "spec", "forProvider", "securityGroupRefs")
	if len(refs) == 0 || refs[0].(map[string]any)["name"] != "demo-x7k2p-security-group-ingress" {
		t.Errorf("the instance's groups %v lack the group with egress", refs)
	}
}

// TestHostWaitsForItsWayOut: the instance boots once and pulls images and
// writes logs at once, so it is first created only once its subnet, routes,
// NAT gateway, egress rule, profile and log permission are ready (a public
// subnet's public addresses, too, are set only after the subnet is
// created). Once it exists it stays, whatever those do.
func TestHostWaitsForItsWayOut(t *testing.T) {
	xr := newXR()
	rsp := run(t, newRequest(t, xr, newPolicy()))
	for k := range desiredOf(rsp) {
		if strings.HasPrefix(k, selfhosted.KeyInstancePrefix) {
			t.Fatalf("%s composed before its network exists", k)
		}
	}
	wantMessage(t, rsp, ConditionEnvironmentReady, fnv1.Status_STATUS_CONDITION_FALSE,
		"(after subnet-private, route-table-private, nat-gateway, security-group-rule-egress, instance-profile, instance-role-policy, log-group, data-volume, data-volume id)")

	d, obs := settle(t, xr, newPolicy(), nil)
	key, _ := instanceOf(t, d)
	// The NAT gateway turns not ready: the live instance is kept.
	for _, o := range obs {
		if o.GetAnnotations()["crossplane.io/composition-resource-name"] == selfhosted.KeyNATGateway {
			_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"type": "Ready", "status": "False", "reason": "Unavailable"}}, "status", "conditions")
		}
	}
	if desiredOf(run(t, newRequest(t, xr, newPolicy(), obs...)))[key] == nil {
		t.Error("an existing instance was withdrawn (Crossplane would delete it) because its NAT gateway turned not ready")
	}
}

// TestInstanceProfileWaitsForItsRole: provider-aws adds the role to an
// instance profile only right after creating the profile; a profile created
// before its role exists in AWS stays empty for good. It is composed only
// once the role is ready, and kept once it exists.
func TestInstanceProfileWaitsForItsRole(t *testing.T) {
	xr := newXR()
	if _, ok := compose(t, xr, newPolicy())[selfhosted.KeyInstanceProfile]; ok {
		t.Fatal("the instance profile is composed before its role exists")
	}
	role := observedReady(selfhosted.KeyInstanceRole, "iam.aws.crossplane.io/v1beta1", "Role", map[string]any{"arn": "arn:aws:iam::123456789012:role/demo-x7k2p-instance-role"})
	if _, ok := compose(t, xr, newPolicy(), role)[selfhosted.KeyInstanceProfile]; !ok {
		t.Error("the instance profile is not composed once its role is ready")
	}
	notReady := role.DeepCopy()
	_ = unstructured.SetNestedSlice(notReady.Object, []any{map[string]any{"type": "Ready", "status": "False", "reason": "Unavailable"}}, "status", "conditions")
	profile := observedReady(selfhosted.KeyInstanceProfile, "iam.aws.crossplane.io/v1alpha1", "InstanceProfile", map[string]any{})
	if _, ok := compose(t, xr, newPolicy(), notReady, profile)[selfhosted.KeyInstanceProfile]; !ok {
		t.Error("an existing instance profile was withdrawn because its role turned not ready")
	}
}
