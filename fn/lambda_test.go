package fn

import (
	"encoding/json"
	"strings"
	"testing"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/iampolicy"
)

// wantPolicy compares an IAM document (a JSON string, or the object a
// RolePolicy's document renders to) with the expected JSON, structurally.
func wantPolicy(t *testing.T, got any, want string) {
	t.Helper()
	if s, ok := got.(string); ok {
		if err := json.Unmarshal([]byte(s), &got); err != nil {
			t.Fatalf("policy is not JSON: %v", err)
		}
	}
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected policy is not JSON: %v", err)
	}
	if d := cmp.Diff(w, got); d != "" {
		t.Errorf("policy differs (-want +got):\n%s", d)
	}
}

func valueAt(u *unstructured.Unstructured, path ...string) any {
	if u == nil {
		return nil
	}
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
	return v
}

// TestLambdaService: the CDK's Lambda handler options; a service's function, execution
// role and log group, with least privilege on the log group.
func TestLambdaService(t *testing.T) {
	xr := newXR(withServices(s3Service("trips")))
	d := compose(t, xr, newPolicy())

	fn := d["fn-trips"]
	if fn == nil {
		t.Fatal("no function composed")
	}
	// provider-aws updates a function by its object name: it must be the
	// AWS function name.
	want(t, fn.GetName(), "demo-x7k2p-fn-trips")
	want(t, fn.GetKind(), "Function")
	want(t, fn.GetAPIVersion(), "lambda.aws.crossplane.io/v1beta1")
	if d := cmp.Diff(map[string]any{
		"architectures": []any{"arm64"},
		"code":          map[string]any{"s3Bucket": "team-a-artifacts", "s3Key": "trips-1.0.0.zip"},
		"environment":   map[string]any{"variables": map[string]any{codeRevisionVar: codeRevision(&v1alpha1.S3Code{Bucket: "team-a-artifacts", Key: "trips-1.0.0.zip"}, "")}},
		"handler":       "index.handler",
		"memorySize":    float64(128),
		"packageType":   "Zip",
		"region":        "eu-central-1",
		"roleRef":       map[string]any{"name": "demo-x7k2p-fn-trips.role"},
		"runtime":       "nodejs22.x",
		"tags":          map[string]any{stack.TagStack: "demo-x7k2p"},
		"timeout":       float64(3),
	}, fn.Object["spec"].(map[string]any)["forProvider"]); d != "" {
		t.Errorf("function forProvider (-want +got):\n%s", d)
	}

	role := d["fn-trips.role"]
	want(t, role.GetName(), "demo-x7k2p-fn-trips.role")
	wantPolicy(t, valueAt(role, "spec", "forProvider", "assumeRolePolicyDocument"),
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":["sts:AssumeRole"]}]}`)
	// Not AWSLambdaBasicExecutionRole, which writes to every log group.
	for k, u := range d {
		if u.GetKind() == "RolePolicyAttachment" && strings.HasPrefix(k, "fn-") {
			t.Errorf("%s attaches a managed policy to a function's role", k)
		}
	}
	pol := d["fn-trips.role-policy"]
	want(t, str(pol, "spec", "forProvider", "roleNameRef", "name"), "demo-x7k2p-fn-trips.role")
	wantPolicy(t, valueAt(pol, "spec", "forProvider", "document"),
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],
		  "Resource":["arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/demo-x7k2p-fn-trips:*"]}]}`)

	lg := d["fn-trips.log-group"]
	want(t, str(lg, "spec", "forProvider", "logGroupName"), "/aws/lambda/demo-x7k2p-fn-trips")
	if got := valueAt(lg, "spec", "forProvider", "retentionInDays"); got != float64(30) {
		t.Errorf("log retention %v, want the CDK's one month (30)", got)
	}
}

func TestLambdaServiceOptions(t *testing.T) {
	svc := s3Service("trips")
	svc.Lambda.Architecture = v1alpha1.ArchitectureX86_64
	svc.Lambda.MemorySizeMiB = 512
	svc.Lambda.TimeoutSeconds = 10
	svc.Lambda.Description = "Books a trip"
	svc.Lambda.LogRetentionDays = 90
	svc.Lambda.Environment = map[string]string{"NODE_OPTIONS": "--enable-source-maps"}
	svc.Lambda.Code.S3.ObjectVersion = "v7"
	img := v1alpha1.ServiceSpec{Name: "checkout", Lambda: &v1alpha1.LambdaServiceSpec{Code: v1alpha1.LambdaCode{ImageURI: testImage}}}
	d := compose(t, newXR(withServices(svc, img)), newPolicy())

	fn := d["fn-trips"]
	want(t, valueAt(fn, "spec", "forProvider", "architectures").([]any)[0], "x86_64")
	want(t, valueAt(fn, "spec", "forProvider", "memorySize"), float64(512))
	want(t, valueAt(fn, "spec", "forProvider", "timeout"), float64(10))
	want(t, str(fn, "spec", "forProvider", "description"), "Books a trip")
	want(t, str(fn, "spec", "forProvider", "code", "s3ObjectVersion"), "v7")
	want(t, str(fn, "spec", "forProvider", "environment", "variables", "NODE_OPTIONS"), "--enable-source-maps")
	want(t, valueAt(d["fn-trips.log-group"], "spec", "forProvider", "retentionInDays"), float64(90))

	im := d["fn-checkout"]
	want(t, str(im, "spec", "forProvider", "packageType"), "Image")
	want(t, str(im, "spec", "forProvider", "code", "imageURI"), testImage)
	for _, f := range []string{"runtime", "handler"} {
		if valueAt(im, "spec", "forProvider", f) != nil {
			t.Errorf("an image function sets %s", f)
		}
	}
}

// TestCodeChangeIsDeployed works around provider-aws v0.58.0, which never
// compares S3 code: every change of the code source must change a field it
// does compare (an environment variable), and nothing else may.
func TestCodeChangeIsDeployed(t *testing.T) {
	revision := func(m func(*v1alpha1.LambdaServiceSpec)) string {
		t.Helper()
		d := compose(t, newXR(lambdaOf(m)), newPolicy())
		return str(d["fn-trips"], "spec", "forProvider", "environment", "variables", codeRevisionVar)
	}
	base := revision(func(*v1alpha1.LambdaServiceSpec) {})
	if base == "" {
		t.Fatal("no code revision")
	}
	if again := revision(func(*v1alpha1.LambdaServiceSpec) {}); again != base {
		t.Errorf("the same code gives revisions %s and %s", base, again)
	}
	if r := revision(func(l *v1alpha1.LambdaServiceSpec) { l.MemorySizeMiB = 256 }); r != base {
		t.Errorf("a configuration change moved the code revision")
	}
	for name, m := range map[string]func(*v1alpha1.LambdaServiceSpec){
		"a new key":            func(l *v1alpha1.LambdaServiceSpec) { l.Code.S3.Key = "trips-1.0.1.zip" },
		"a new object version": func(l *v1alpha1.LambdaServiceSpec) { l.Code.S3.ObjectVersion = "v2" },
		"a new bucket":         func(l *v1alpha1.LambdaServiceSpec) { l.Code.S3.Bucket = "team-a-artifacts-2" },
	} {
		if r := revision(m); r == base {
			t.Errorf("%s leaves the code revision unchanged, so provider-aws would not deploy it", name)
		}
	}
}

// TestInvokeGrant: section 5's grant. The invoker role may invoke exactly
// the stack's functions and their versions, in one policy, never "*".
func TestInvokeGrant(t *testing.T) {
	skipped := s3Service("cars")
	skipped.SkipInvokeFunctionGrant = true
	xr := newXR(withServices(s3Service("trips"), skipped, s3Service("flights"), httpService("orders", "http://orders:9080")))
	d := compose(t, xr, newPolicy())
	g := d[keyInvokeGrant]
	want(t, str(g, "spec", "forProvider", "roleNameRef", "name"), "demo-x7k2p-invoker-role")
	wantPolicy(t, valueAt(g, "spec", "forProvider", "document"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:InvokeFunction"],"Resource":[
		"arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-trips",
		"arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-trips:*",
		"arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-flights",
		"arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-flights:*"]}]}`)

	t.Run("none when every service opts out or is HTTP", func(t *testing.T) {
		d := compose(t, newXR(withServices(skipped, httpService("orders", "http://orders:9080"))), newPolicy())
		if d[keyInvokeGrant] != nil {
			t.Error("a grant with no function in it")
		}
	})
	t.Run("waits for the account id, then takes it from an observed ARN", func(t *testing.T) {
		noAccount := newPolicy(func(p *platform.StackPolicy) { p.AccountID = "" })
		d := compose(t, xr, noAccount)
		for _, k := range []string{keyInvokeGrant, "fn-trips.role-policy"} {
			if d[k] != nil {
				t.Errorf("%s composed before the account is known", k)
			}
		}
		role := observedReady("fn-trips.role", "iam.aws.crossplane.io/v1beta1", "Role", map[string]any{"arn": "arn:aws:iam::444455556666:role/demo-x7k2p-fn-trips.role"})
		d = compose(t, xr, noAccount, role)
		wantContains(t, policyDoc(t, d[keyInvokeGrant]), "arn:aws:lambda:eu-central-1:444455556666:function:demo-x7k2p-fn-trips")
	})
	t.Run("other partitions", func(t *testing.T) {
		d := compose(t, newXR(withServices(s3Service("trips")), func(xr *v1alpha1.XRestateStack) { xr.Spec.Region = "cn-north-1" }), newPolicy())
		wantContains(t, policyDoc(t, d[keyInvokeGrant]), `"arn:aws-cn:lambda:cn-north-1:123456789012:function:demo-x7k2p-fn-trips"`)
	})
}

// TestCloudEnvironment: the CDK's RestateCloudEnvironment.
func TestCloudEnvironment(t *testing.T) {
	xr := newXR(cloudEnv(), withServices(s3Service("greeter")))
	rsp := run(t, newRequest(t, xr, newPolicy()))
	d := desiredOf(rsp)

	role := d[stack.KeyInvokerRole]
	want(t, role.GetName(), "demo-x7k2p-invoker-role")
	wantPolicy(t, valueAt(role, "spec", "forProvider", "assumeRolePolicyDocument"), `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::654654156625:root"},"Action":["sts:AssumeRole"],
		 "Condition":{"StringEquals":{"sts:ExternalId":"env_201hd7bh2yrxzmy6h1eqdfhx7g","aws:PrincipalArn":"arn:aws:iam::654654156625:role/RestateCloud"}}},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::654654156625:root"},"Action":["sts:TagSession"]}]}`)
	want(t, str(d[keyInvokeGrant], "spec", "forProvider", "roleNameRef", "name"), "demo-x7k2p-invoker-role")
	for k, u := range d {
		if u.GetKind() == "Instance" || u.GetKind() == "VPC" || k == selfhosted.KeyInstanceRole {
			t.Errorf("a cloud stack composes %s", k)
		}
	}
	st := statusOf(rsp)
	want(t, str(st, "status", "adminUrl"), "https://201hd7bh2yrxzmy6h1eqdfhx7g.env.us.restate.cloud:9070")
	want(t, str(st, "status", "ingressUrl"), "https://201hd7bh2yrxzmy6h1eqdfhx7g.env.us.restate.cloud")
	// The API key is a reference; nothing composed carries a Secret's name
	// as a value to send.
	for k, u := range d {
		b, _ := json.Marshal(u.Object)
		if strings.Contains(string(b), "restate-cloud-admin") {
			t.Errorf("%s carries the API key Secret's name", k)
		}
	}

	t.Run("eu region", func(t *testing.T) {
		rsp := run(t, newRequest(t, newXR(cloudEnv(func(c *v1alpha1.CloudEnvironmentSpec) { c.Region = v1alpha1.CloudRegionEU })), newPolicy()))
		want(t, str(statusOf(rsp), "status", "adminUrl"), "https://201hd7bh2yrxzmy6h1eqdfhx7g.env.eu.restate.cloud:9070")
	})
	t.Run("an existing invoker role of the stack's account gets the grant", func(t *testing.T) {
		existing := "arn:aws:iam::123456789012:role/platform/restate-invoker"
		rsp := run(t, newRequest(t, newXR(cloudEnv(func(c *v1alpha1.CloudEnvironmentSpec) { c.InvokerRoleARN = existing }), withServices(s3Service("greeter"))), newPolicy()))
		d := desiredOf(rsp)
		if d[stack.KeyInvokerRole] != nil {
			t.Error("composed an invoker role though the claim names one")
		}
		g := d[keyInvokeGrant]
		want(t, str(g, "spec", "forProvider", "roleName"), "restate-invoker")
		if valueAt(g, "spec", "forProvider", "roleNameRef") != nil {
			t.Error("the grant refers to a composed role")
		}
		want(t, str(statusOf(rsp), "status", "invokerRoleArn"), existing)
	})
	t.Run("an invoker role of another account gets no grant", func(t *testing.T) {
		d := compose(t, newXR(cloudEnv(func(c *v1alpha1.CloudEnvironmentSpec) {
			c.InvokerRoleARN = "arn:aws:iam::999988887777:role/restate-invoker"
		}), withServices(s3Service("greeter"))), newPolicy())
		if d[keyInvokeGrant] != nil {
			t.Error("a grant on another account's role, which provider-aws cannot change")
		}
	})
}

// TestExternalEnvironment: the CDK's RestateEnvironment.fromAttributes.
func TestExternalEnvironment(t *testing.T) {
	xr := newXR(externalEnv(func(e *v1alpha1.ExternalEnvironmentSpec) { e.IngressURL = "https://restate.example.com" }),
		withServices(s3Service("trips"), httpService("orders", "http://orders.team-a.svc:9080")))
	rsp := run(t, newRequest(t, xr, newPolicy()))
	d := desiredOf(rsp)
	for k := range d {
		if !strings.HasPrefix(k, "fn-trips") {
			t.Errorf("an external environment composes %s", k)
		}
	}
	st := statusOf(rsp)
	want(t, str(st, "status", "adminUrl"), "https://restate.example.com:9070")
	want(t, str(st, "status", "ingressUrl"), "https://restate.example.com")
	want(t, str(st, "status", "invokerRoleArn"), "")

	t.Run("with an invoker role", func(t *testing.T) {
		role := "arn:aws:iam::123456789012:role/restate-invoker"
		rsp := run(t, newRequest(t, newXR(externalEnv(func(e *v1alpha1.ExternalEnvironmentSpec) { e.InvokerRoleARN = role }), withServices(s3Service("trips"))), newPolicy()))
		want(t, str(desiredOf(rsp)[keyInvokeGrant], "spec", "forProvider", "roleName"), "restate-invoker")
		want(t, str(statusOf(rsp), "status", "invokerRoleArn"), role)
	})
}

// TestServicesStatus: per service, the function ARN, its code hash and
// readiness; an HTTP service reports its URI and is ready at once.
func TestServicesStatus(t *testing.T) {
	xr := newXR(cloudEnv(), withServices(s3Service("greeter"), httpService("orders", "http://orders:9080")))
	first := compose(t, xr, newPolicy())

	rsp := run(t, newRequest(t, xr, newPolicy()))
	wantCondition(t, rsp, ConditionServicesReady, fnv1.Status_STATUS_CONDITION_FALSE)
	got := servicesOf(t, rsp)
	want(t, got[0].Ready, false)
	want(t, got[1], v1alpha1.ServiceStatus{Name: "orders", Kind: "HTTP", URI: "http://orders:9080", Ready: true})

	var observed []*unstructured.Unstructured
	for k, u := range first {
		at := map[string]any{}
		if k == "fn-greeter" {
			at = map[string]any{"functionARN": "arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-greeter", "codeSHA256": "c2hhMjU2", "version": "$LATEST"}
		}
		observed = append(observed, observedReady(k, u.GetAPIVersion(), u.GetKind(), at))
	}
	rsp = run(t, newRequest(t, xr, newPolicy(), observed...))
	wantCondition(t, rsp, ConditionServicesReady, fnv1.Status_STATUS_CONDITION_TRUE)
	wantCondition(t, rsp, ConditionEnvironmentReady, fnv1.Status_STATUS_CONDITION_TRUE)
	want(t, servicesOf(t, rsp)[0], v1alpha1.ServiceStatus{
		Name: "greeter", Kind: "Lambda", Ready: true,
		FunctionARN: "arn:aws:lambda:eu-central-1:123456789012:function:demo-x7k2p-fn-greeter", CodeSHA256: "c2hhMjU2",
	})
}

func servicesOf(t *testing.T, rsp *fnv1.RunFunctionResponse) []v1alpha1.ServiceStatus {
	t.Helper()
	b, err := json.Marshal(valueAt(statusOf(rsp), "status", "services"))
	if err != nil {
		t.Fatal(err)
	}
	var out []v1alpha1.ServiceStatus
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStackNameWithDots: Lambda function names allow no dots; a claim name
// may have them.
func TestStackNameWithDots(t *testing.T) {
	xr := newXR(withServices(s3Service("trips")), func(xr *v1alpha1.XRestateStack) { xr.SetName("shop.eu-x7k2p") })
	d := compose(t, xr, newPolicy())
	want(t, d["fn-trips"].GetName(), "shop-eu-x7k2p-fn-trips")
	wantContains(t, policyDoc(t, d[keyInvokeGrant]), ":function:shop-eu-x7k2p-fn-trips")
}

// TestPoliciesAreAuditable: every policy document the stacks compose is of
// the forms the account audit's evaluator (internal/testkit/iampolicy) decides, so
// the audit never has to guess at one.
func TestPoliciesAreAuditable(t *testing.T) {
	for name, xr := range map[string]*v1alpha1.XRestateStack{
		"self-hosted with services": newXR(withServices(s3Service("greeter")), inNamespace("team-a")),
		"cloud, published":          newXR(cloudEnv(), withServices(s3Service("greeter")), inNamespace("team-a"), func(x *v1alpha1.XRestateStack) { x.Spec.Versioning = v1alpha1.VersioningPublished }),
	} {
		d, _ := settle(t, xr, newPolicy(withPublisher), nil)
		documents := 0
		for k, u := range d {
			for _, field := range []string{"assumeRolePolicyDocument", "document"} {
				v, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "forProvider", field)
				if !ok {
					continue
				}
				doc, isString := v.(string) // a RolePolicy's document is an object
				if !isString {
					b, _ := json.Marshal(v)
					doc = string(b)
				}
				documents++
				if _, err := iampolicy.Parse(doc); err != nil {
					t.Errorf("%s: %s's %s: %v", name, k, field, err)
				}
			}
		}
		if documents < 4 {
			t.Errorf("%s: only %d policy documents composed", name, documents)
		}
	}
}
