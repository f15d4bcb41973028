package fn

import (
	"fmt"
	"strings"
	"testing"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// TestInvalidClaims feeds bad claims and checks that each gets a fatal
// result and a Valid=False condition naming the exact field at fault, and
// that the desired state comes back as it went in, so nothing that exists
// is deleted.
func TestInvalidClaims(t *testing.T) {
	sh := func(m func(*v1alpha1.SelfHostedSpec)) func(*v1alpha1.XRestateStack) {
		return func(xr *v1alpha1.XRestateStack) { m(xr.Spec.Environment.SelfHosted) }
	}
	cases := map[string]rejection{
		"no environment": {
			xr:        func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment.SelfHosted = nil },
			wantField: "spec.environment", wantText: "exactly one of",
		},
		"no region anywhere": {
			xr:        func(*v1alpha1.XRestateStack) {},
			policy:    func(p *platform.StackPolicy) { p.DefaultRegion = "" },
			wantField: "spec.region", wantText: "Required value",
		},
		"a region the platform does not allow": {
			xr:        func(xr *v1alpha1.XRestateStack) { xr.Spec.Region = "ap-south-1" },
			policy:    func(p *platform.StackPolicy) { p.AllowedRegions = []string{"eu-central-1"} },
			wantField: "spec.region", wantText: `"ap-south-1"`,
		},
		"not a region": {
			xr:        func(xr *v1alpha1.XRestateStack) { xr.Spec.Region = "mars" },
			wantField: "spec.region", wantText: "should match",
		},
		"a provider config the platform does not allow": {
			xr: func(xr *v1alpha1.XRestateStack) {
				xr.Spec.ProviderConfigRef = &v1alpha1.ProviderConfigReference{Name: "prod"}
			},
			policy:    func(p *platform.StackPolicy) { p.AllowedProviderConfigs = []string{"default", "team-a"} },
			wantField: "spec.providerConfigRef.name", wantText: `"prod"`,
		},
		"a tag the platform sets differently": {
			xr:        func(xr *v1alpha1.XRestateStack) { xr.Spec.Tags = map[string]string{"cost-center": "mine"} },
			policy:    func(p *platform.StackPolicy) { p.Tags = map[string]string{"cost-center": "platform"} },
			wantField: "spec.tags[cost-center]", wantText: "the platform sets this tag",
		},
		"a reserved aws: tag": {
			xr:        func(xr *v1alpha1.XRestateStack) { xr.Spec.Tags = map[string]string{"aws:foo": "x"} },
			wantField: "spec.tags[aws:foo]", wantText: "not a valid AWS tag key",
		},
		"an instance type the platform does not allow": {
			xr:        sh(func(s *v1alpha1.SelfHostedSpec) { s.InstanceType = "p5.48xlarge" }),
			policy:    func(p *platform.StackPolicy) { p.AllowedInstanceTypes = []string{"t4g.*", "m7g.large"} },
			wantField: "spec.environment.selfHosted.instanceType", wantText: `"p5.48xlarge"`,
		},
		"not an instance type": {
			xr:        sh(func(s *v1alpha1.SelfHostedSpec) { s.InstanceType = "big" }),
			wantField: "spec.environment.selfHosted.instanceType", wantText: "should match",
		},
		"a bad image reference": {
			xr:        sh(func(s *v1alpha1.SelfHostedSpec) { s.Restate.Image = "Restate:: latest" }),
			wantField: "spec.environment.selfHosted.restate.image", wantText: "not an image reference",
		},
		"an image tag given twice and different": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Restate = v1alpha1.RestateServerSpec{Image: "docker.restate.dev/restatedev/restate:1.6", Tag: "1.7"}
			}),
			wantField: "spec.environment.selfHosted.restate.image", wantText: `has tag "1.6" but tag says "1.7"`,
		},
		"an image from a repository the platform does not allow": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) { s.Restate.Image = "evil.example.com/restate:1.7" }),
			policy: func(p *platform.StackPolicy) {
				p.AllowedImageRepositories = []string{"docker.restate.dev/restatedev/restate"}
			},
			wantField: "spec.environment.selfHosted.restate.image", wantText: "evil.example.com/restate",
		},
		"a collector image from a repository the platform does not allow": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Tracing = v1alpha1.TracingSpec{Mode: v1alpha1.TracingAWSXRay, CollectorImage: "evil.example.com/otel:1"}
			}),
			policy: func(p *platform.StackPolicy) {
				p.AllowedImageRepositories = []string{"docker.restate.dev/restatedev/restate"}
			},
			wantField: "spec.environment.selfHosted.tracing.collectorImage", wantText: "evil.example.com/otel",
		},
		"both a new and an existing VPC": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Network.NewVPC = &v1alpha1.NewVPCSpec{CIDRBlock: "10.0.0.0/16"}
				s.Network.Existing = &v1alpha1.ExistingNetworkSpec{VPCID: "vpc-0123456789abcdef0", SubnetID: "subnet-0123456789abcdef0", AvailabilityZone: "eu-central-1a"}
			}),
			wantField: "spec.environment.selfHosted.network", wantText: "newVpc and existing are mutually exclusive",
		},
		"a VPC range too small": {
			xr:        sh(func(s *v1alpha1.SelfHostedSpec) { s.Network.NewVPC = &v1alpha1.NewVPCSpec{CIDRBlock: "10.0.0.0/28"} }),
			wantField: "spec.environment.selfHosted.network.newVpc.cidrBlock", wantText: "between /16 and /24",
		},
		"a subnet outside its VPC": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Network.NewVPC = &v1alpha1.NewVPCSpec{CIDRBlock: "10.1.0.0/16", PublicSubnetCIDR: "10.2.0.0/24"}
			}),
			wantField: "spec.environment.selfHosted.network.newVpc.publicSubnetCidr", wantText: "within the VPC",
		},
		"overlapping subnets": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Network.NewVPC = &v1alpha1.NewVPCSpec{PublicSubnetCIDR: "10.0.0.0/23", PrivateSubnetCIDR: "10.0.1.0/24"}
			}),
			wantField: "spec.environment.selfHosted.network.newVpc.privateSubnetCidr", wantText: "overlaps",
		},
		"a zone of another region": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Network.NewVPC = &v1alpha1.NewVPCSpec{AvailabilityZone: "us-east-1a"}
			}),
			wantField: "spec.environment.selfHosted.network.newVpc.availabilityZone", wantText: "eu-central-1",
		},
		"a data volume too large": {
			xr:        sh(func(s *v1alpha1.SelfHostedSpec) { s.DataVolume.SizeGiB = 20000 }),
			wantField: "spec.environment.selfHosted.dataVolume.sizeGiB", wantText: "should be less than or equal to 16384",
		},
		"too many partitions": {
			xr:        sh(func(s *v1alpha1.SelfHostedSpec) { s.Config.BootstrapNumPartitions = 70000 }),
			wantField: "spec.environment.selfHosted.config.bootstrapNumPartitions", wantText: "less than or equal to 65535",
		},
		"a bad environment variable name": {
			xr:        sh(func(s *v1alpha1.SelfHostedSpec) { s.Config.Environment = map[string]string{"1BAD;rm": "x"} }),
			wantField: "spec.environment.selfHosted.config.environment[1BAD;rm]", wantText: "not an environment variable name",
		},
		"a newline in an environment value": {
			xr:        sh(func(s *v1alpha1.SelfHostedSpec) { s.Config.Environment = map[string]string{"TOKEN": "a\nEVIL=1"} }),
			wantField: "spec.environment.selfHosted.config.environment[TOKEN]", wantText: "newlines",
		},
		"an nginx override without TLS": {
			xr:        sh(func(s *v1alpha1.SelfHostedSpec) { s.TLS.NginxConfigOverride = "events {}" }),
			wantField: "spec.environment.selfHosted.tls.nginxConfigOverride", wantText: "SelfSigned",
		},
		"user data over EC2's limit even compressed": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Config.Environment = map[string]string{}
				for i := range 80 {
					s.Config.Environment[fmt.Sprintf("VAR_%d", i)] = incompressible(500 + i)
				}
			}),
			wantField: "spec.environment.selfHosted", wantText: "over EC2's limit of 16384",
		},
	}
	runRejections(t, cases)
}

// rejection is a bad claim (xr changes a valid one), the platform's policy
// it meets, and the field and text its refusal must name.
type rejection struct {
	xr        func(*v1alpha1.XRestateStack)
	policy    func(*platform.StackPolicy)
	wantField string
	wantText  string
}

func runRejections(t *testing.T, cases map[string]rejection) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := newPolicy()
			if tc.policy != nil {
				tc.policy(p)
			}
			wantRejected(t, newXR(tc.xr), p, tc.wantField, tc.wantText)
		})
	}
}

// wantRejected runs the function on a bad claim and checks that it gets a
// fatal result and a Valid=False condition naming the exact field at fault,
// and that the desired state comes back as it went in, so nothing that
// exists is deleted.
func wantRejected(t *testing.T, xr *v1alpha1.XRestateStack, p *platform.StackPolicy, wantField, wantText string) {
	t.Helper()
	req := newRequest(t, xr, p)
	// What an earlier reconcile composed must survive the bad update.
	existing := &fnv1.Resource{Resource: &structpb.Struct{Fields: map[string]*structpb.Value{
		"apiVersion": structpb.NewStringValue("ec2.aws.crossplane.io/v1beta1"),
		"kind":       structpb.NewStringValue("VPC"),
	}}}
	req.Desired.Resources = map[string]*fnv1.Resource{selfhosted.KeyVPC: existing}
	rsp := run(t, req)

	var fatal string
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			fatal = r.GetMessage()
		}
	}
	if !strings.Contains(fatal, wantField+":") || !strings.Contains(fatal, wantText) {
		t.Errorf("fatal result %q: want field %s and %q", fatal, wantField, wantText)
	}
	var cond *fnv1.Condition
	for _, c := range rsp.GetConditions() {
		if c.GetType() == ConditionValid {
			cond = c
		}
	}
	if cond == nil || cond.GetStatus() != fnv1.Status_STATUS_CONDITION_FALSE || !strings.Contains(cond.GetMessage(), wantField) ||
		cond.GetTarget() != fnv1.Target_TARGET_COMPOSITE_AND_CLAIM {
		t.Errorf("Valid condition %v: want False on the claim, naming %s", cond, wantField)
	}
	if got := rsp.GetDesired().GetResources(); len(got) != 1 || got[selfhosted.KeyVPC] == nil {
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		t.Errorf("desired resources changed on a bad claim: %v", keys)
	}
}

// incompressible returns n bytes that gzip cannot shrink much.
func incompressible(n int) string {
	var b strings.Builder
	x := uint32(2463534242) ^ uint32(n)*2654435761
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(byte('!' + x%90))
	}
	return b.String()
}

// TestUnknownInstanceTypeNamesTheField: a type the budget does not know is
// refused at spec.environment.selfHosted.instanceType, unless the claim
// writes the whole config itself.
func TestUnknownInstanceTypeNamesTheField(t *testing.T) {
	p := newPolicy(func(p *platform.StackPolicy) { p.AllowedInstanceTypes = []string{"*"} })
	xr := newXR(func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment.SelfHosted.InstanceType = "x2gd.large" })
	wantRejected(t, xr, p, "spec.environment.selfHosted.instanceType", "no memory budget for x2gd.large")
	xr.Spec.Environment.SelfHosted.Config.Override = "cluster-name = \"own\"\n"
	compose(t, xr, p)
}
