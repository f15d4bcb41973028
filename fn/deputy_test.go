package fn

import (
	"strings"
	"testing"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// TestConfusedDeputy: a claim cannot make the stack touch a role the
// platform does not let stacks touch, nor send its token (or the Job's
// requests) to a host the platform does not allow, to link-local or
// metadata addresses ever, or to loopback unless the platform allows it.
func TestConfusedDeputy(t *testing.T) {
	strict := func(p *platform.StackPolicy) {
		p.AllowedInvokerRoleARNs = []string{"arn:aws:iam::111122223333:role/restate/*"}
		p.Registration = platform.RegistrationPolicy{AllowedAdminHosts: []string{"*.restate.example.com", "127.0.0.1", "169.254.169.254"}}
	}
	loopback := func(p *platform.StackPolicy) { strict(p); p.Registration.AllowLoopback = true }
	ext := func(url string) func(*v1alpha1.XRestateStack) {
		return externalEnv(func(e *v1alpha1.ExternalEnvironmentSpec) { e.AdminURL = url })
	}
	const extPath = "spec.environment.external."
	for name, tc := range map[string]struct {
		xr        func(*v1alpha1.XRestateStack)
		policy    func(*platform.StackPolicy)
		wantField string // "" when accepted
		wantText  string
	}{
		"an allowed admin host":         {xr: ext("https://eu.restate.example.com:9070"), policy: strict},
		"another admin host":            {xr: ext("https://attacker.example.net:9070"), policy: strict, wantField: extPath + "adminUrl", wantText: "not among the admin hosts the platform allows"},
		"no admin host allowed at all":  {xr: ext("https://eu.restate.example.com:9070"), policy: func(p *platform.StackPolicy) { p.Registration.AllowedAdminHosts = nil }, wantField: extPath + "adminUrl", wantText: "allowedAdminHosts: []"},
		"the metadata service":          {xr: ext("http://169.254.169.254/latest/meta-data"), policy: strict, wantField: extPath + "adminUrl", wantText: "link-local"},
		"the metadata service, by name": {xr: ext("http://metadata.google.internal:9070"), policy: strict, wantField: extPath + "adminUrl", wantText: "metadata service"},
		"EC2's IPv6 metadata service":   {xr: ext("http://[fd00:ec2::254]:9070"), policy: strict, wantField: extPath + "adminUrl", wantText: "metadata service"},
		"loopback, not allowed":         {xr: ext("http://127.0.0.1:9070"), policy: strict, wantField: extPath + "adminUrl", wantText: "loopback"},
		"loopback, allowed":             {xr: ext("http://127.0.0.1:9070"), policy: loopback},
		"a service's admin URL elsewhere": {xr: func(xr *v1alpha1.XRestateStack) {
			ext("https://eu.restate.example.com:9070")(xr)
			withServices(httpService("orders", "http://orders:9080"))(xr)
			xr.Spec.Services[0].Registration.AdminURL = "http://10.0.0.1:9070"
		}, policy: strict, wantField: "spec.services[0].registration.adminUrl", wantText: "not among"},
		"the stack's admin URL elsewhere": {xr: func(xr *v1alpha1.XRestateStack) { xr.Spec.Registration.AdminURL = "http://[fe80::1]:9070" }, policy: strict, wantField: "spec.registration.adminUrl", wantText: "link-local"},
		"an allowed invoker role": {xr: cloudEnv(func(c *v1alpha1.CloudEnvironmentSpec) {
			c.InvokerRoleARN = "arn:aws:iam::111122223333:role/restate/invoker"
		}), policy: strict},
		"another invoker role":          {xr: cloudEnv(func(c *v1alpha1.CloudEnvironmentSpec) { c.InvokerRoleARN = "arn:aws:iam::111122223333:role/admin" }), policy: strict, wantField: "spec.environment.cloud.invokerRoleArn", wantText: "allowedInvokerRoleArns"},
		"an invoker role, none allowed": {xr: ext("https://eu.restate.example.com:9070"), policy: func(p *platform.StackPolicy) { strict(p); p.AllowedInvokerRoleARNs = nil }},
		"an external invoker, none allowed": {xr: externalEnv(func(e *v1alpha1.ExternalEnvironmentSpec) {
			e.AdminURL = "https://eu.restate.example.com:9070"
			e.InvokerRoleARN = "arn:aws:iam::111122223333:role/x"
		}), policy: func(p *platform.StackPolicy) { strict(p); p.AllowedInvokerRoleARNs = nil }, wantField: extPath + "invokerRoleArn", wantText: "leave it out"},
	} {
		t.Run(name, func(t *testing.T) {
			p := newPolicy(tc.policy)
			xr := newXR(tc.xr, inNamespace("team-a"))
			if tc.wantField != "" {
				wantRejected(t, xr, p, tc.wantField, tc.wantText)
				return
			}
			rsp := run(t, newRequest(t, xr, p))
			for _, r := range rsp.GetResults() {
				if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
					t.Fatalf("refused: %s", r.GetMessage())
				}
			}
		})
	}
}

// TestLoopbackReachesTheJob: the platform's allowance reaches the register
// command, which checks every address it dials again.
func TestLoopbackReachesTheJob(t *testing.T) {
	for _, allow := range []bool{false, true} {
		p := newPolicy(func(p *platform.StackPolicy) { p.Registration.AllowLoopback = allow })
		xr := newXR(externalEnv(func(e *v1alpha1.ExternalEnvironmentSpec) { e.AdminURL = "https://restate.example.com:9070" }),
			withServices(httpService("orders", "http://orders:9080")), inNamespace("team-a"))
		d, _ := settle(t, xr, p, nil)
		var args string
		for _, k := range keysWithPrefix(d, keyRegisterPrefix) {
			if reg, _ := jobKind(k); reg {
				args = strings.Join(argsOf(t, jobOf(t, d[k])), " ")
			}
		}
		if strings.Contains(args, "--allow-loopback") != allow {
			t.Errorf("platform allows loopback %v, the Job's arguments: %s", allow, args)
		}
	}
}
