package fn

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/userdataview"
)

// TestParity shows, for each option of the CDK's single-node deployment
// (SingleNodeRestateDeployment) and each stack-wide setting, its effect on
// the composed resources.
func TestParity(t *testing.T) {
	type check func(t *testing.T, d map[string]*unstructured.Unstructured, host *userdataview.View)
	sh := func(m func(*v1alpha1.SelfHostedSpec)) func(*v1alpha1.XRestateStack) {
		return func(xr *v1alpha1.XRestateStack) { m(xr.Spec.Environment.SelfHosted) }
	}
	cases := map[string]struct {
		xr    func(*v1alpha1.XRestateStack)
		check check
	}{
		"instanceType defaults to t4g.micro on arm64 Amazon Linux 2023": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				_, i := instanceOf(t, d)
				want(t, str(i, "spec", "forProvider", "instanceType"), "t4g.micro")
				want(t, str(i, "spec", "forProvider", "imageId"), "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64")
			},
		},
		"instanceType of an x86 family picks the x86_64 image": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) { s.InstanceType = "t3.small" }),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				_, i := instanceOf(t, d)
				want(t, str(i, "spec", "forProvider", "instanceType"), "t3.small")
				want(t, str(i, "spec", "forProvider", "imageId"), "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
			},
		},
		"machineImage: an explicit AMI": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) { s.ImageID = "ami-0123456789abcdef0" }),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				_, i := instanceOf(t, d)
				want(t, str(i, "spec", "forProvider", "imageId"), "ami-0123456789abcdef0")
			},
		},
		"vpc: a new VPC with DNS, private subnet behind NAT by default": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				vpc := d[selfhosted.KeyVPC]
				want(t, str(vpc, "spec", "forProvider", "cidrBlock"), "10.0.0.0/16")
				wantBool(t, vpc, true, "spec", "forProvider", "enableDnsSupport")
				wantBool(t, vpc, true, "spec", "forProvider", "enableDnsHostNames")
				want(t, str(d[selfhosted.KeyPublicSubnet], "spec", "forProvider", "cidrBlock"), "10.0.0.0/24")
				want(t, str(d[selfhosted.KeyPrivateSubnet], "spec", "forProvider", "cidrBlock"), "10.0.1.0/24")
				want(t, str(d[selfhosted.KeyPrivateSubnet], "spec", "forProvider", "availabilityZone"), "eu-central-1a")
				want(t, str(d[selfhosted.KeyNATGateway], "spec", "forProvider", "allocationIdRef", "name"), "demo-x7k2p-nat-address")
				want(t, str(d[selfhosted.KeyNATAddress], "spec", "forProvider", "domain"), "vpc")
				routes, _, _ := unstructured.NestedSlice(d[selfhosted.KeyPrivateRouteTable].Object, "spec", "forProvider", "routes")
				want(t, routes[0].(map[string]any)["natGatewayIdRef"].(map[string]any)["name"].(string), "demo-x7k2p-nat-gateway")
				routes, _, _ = unstructured.NestedSlice(d[selfhosted.KeyPublicRouteTable].Object, "spec", "forProvider", "routes")
				want(t, routes[0].(map[string]any)["gatewayIdRef"].(map[string]any)["name"].(string), "demo-x7k2p-internet-gateway")
				_, i := instanceOf(t, d)
				want(t, str(i, "spec", "forProvider", "subnetIdRef", "name"), "demo-x7k2p-subnet-private")
			},
		},
		"vpc: an existing VPC and subnet compose no network": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Network.Existing = &v1alpha1.ExistingNetworkSpec{VPCID: "vpc-0123456789abcdef0", SubnetID: "subnet-0123456789abcdef0", AvailabilityZone: "eu-central-1b"}
			}),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				for _, k := range []string{selfhosted.KeyVPC, selfhosted.KeyPublicSubnet, selfhosted.KeyPrivateSubnet, selfhosted.KeyNATGateway, selfhosted.KeyInternetGateway} {
					if _, ok := d[k]; ok {
						t.Errorf("%s composed in an existing VPC", k)
					}
				}
				_, i := instanceOf(t, d)
				want(t, str(i, "spec", "forProvider", "subnetId"), "subnet-0123456789abcdef0")
				want(t, str(d[selfhosted.KeyIngressGroup], "spec", "forProvider", "vpcId"), "vpc-0123456789abcdef0")
			},
		},
		"subnetType Public: no NAT, public IPs on launch": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) { s.Network.SubnetType = v1alpha1.SubnetPublic }),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				for _, k := range []string{selfhosted.KeyNATGateway, selfhosted.KeyNATAddress, selfhosted.KeyPrivateSubnet} {
					if _, ok := d[k]; ok {
						t.Errorf("%s composed for a public host", k)
					}
				}
				wantBool(t, d[selfhosted.KeyPublicSubnet], true, "spec", "forProvider", "mapPublicIPOnLaunch")
				_, i := instanceOf(t, d)
				want(t, str(i, "spec", "forProvider", "subnetIdRef", "name"), "demo-x7k2p-subnet-public")
			},
		},
		"publicIngress false: ingress only from the ingress group": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				r := d[selfhosted.KeyIngressRule]
				want(t, str(r, "spec", "forProvider", "sourceSecurityGroupIdRef", "name"), "demo-x7k2p-security-group-ingress")
				want(t, str(r, "spec", "forProvider", "cidrBlock"), "")
				wantInt(t, r, 8080, "spec", "forProvider", "fromPort")
			},
		},
		"publicIngress true: ingress open to the world, admin still not": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) { s.PublicIngress = true }),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				want(t, str(d[selfhosted.KeyIngressRule], "spec", "forProvider", "cidrBlock"), "0.0.0.0/0")
				want(t, str(d[selfhosted.KeyAdminRule], "spec", "forProvider", "cidrBlock"), "")
				want(t, str(d[selfhosted.KeyAdminRule], "spec", "forProvider", "sourceSecurityGroupIdRef", "name"), "demo-x7k2p-security-group-admin")
				wantInt(t, d[selfhosted.KeyAdminRule], 9070, "spec", "forProvider", "fromPort")
			},
		},
		"logGroup: default name and one month": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, str(d[selfhosted.KeyLogGroup], "spec", "forProvider", "logGroupName"), "/restate/demo-x7k2p")
				wantInt(t, d[selfhosted.KeyLogGroup], 30, "spec", "forProvider", "retentionInDays")
				want(t, fileOnHost(t, h, "log-group"), "/restate/demo-x7k2p")
			},
		},
		"logGroup: name and retention, and the host may write only there": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Logs = v1alpha1.LogsSpec{GroupName: "/restate/demo-x7k2p/server", RetentionDays: 365}
			}),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, str(d[selfhosted.KeyLogGroup], "spec", "forProvider", "logGroupName"), "/restate/demo-x7k2p/server")
				wantInt(t, d[selfhosted.KeyLogGroup], 365, "spec", "forProvider", "retentionInDays")
				want(t, fileOnHost(t, h, "log-group"), "/restate/demo-x7k2p/server")
				doc := policyDoc(t, d[selfhosted.KeyInstanceRolePolicy])
				wantContains(t, doc, `"arn:aws:logs:eu-central-1:123456789012:log-group:/restate/demo-x7k2p/server:*"`)
			},
		},
		"tracing Disabled: no collector, no X-Ray grant": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, h *userdataview.View) {
				if _, ok := d[selfhosted.KeyInstanceRoleXRay]; ok {
					t.Error("X-Ray policy attached without tracing")
				}
				if _, ok := h.Files[selfhosted.HostDir+"otel-collector.yaml"]; ok {
					t.Error("collector config written without tracing")
				}
				wantNotContains(t, h.Script, "adot-collector")
			},
		},
		"tracing AWSXRay: collector, endpoint and X-Ray write access": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Tracing = v1alpha1.TracingSpec{Mode: v1alpha1.TracingAWSXRay, CollectorImage: "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1"}
			}),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, str(d[selfhosted.KeyInstanceRoleXRay], "spec", "forProvider", "policyArn"), "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess")
				want(t, fileOnHost(t, h, "collector-image"), "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1")
				wantContains(t, fileOnHost(t, h, "otel-collector.yaml"), "awsxray")
				want(t, restateTOML(t, h)["tracing-endpoint"], "http://adot-collector:4317")
				wantContains(t, h.Script, `"$collector_image" --config /etc/otel-collector.yaml`)
			},
		},
		"restateImage and restateTag": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Restate = v1alpha1.RestateServerSpec{Image: "docker.restate.dev/restatedev/restate", Tag: "1.7.2"}
			}),
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, fileOnHost(t, h, "restate-image"), "docker.restate.dev/restatedev/restate:1.7.2")
				want(t, fileOnHost(t, h, "cli-version"), "1.7.2")
			},
		},
		"restateImage by digest": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Restate.Image = "docker.restate.dev/restatedev/restate@sha256:" + strings.Repeat("ab", 32)
			}),
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, fileOnHost(t, h, "restate-image"), "docker.restate.dev/restatedev/restate@sha256:"+strings.Repeat("ab", 32))
				want(t, fileOnHost(t, h, "cli-version"), "latest")
			},
		},
		"restate image defaults to the 1.7 line, CLIs too": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, fileOnHost(t, h, "restate-image"), "docker.restate.dev/restatedev/restate:1.7")
				want(t, fileOnHost(t, h, "cli-version"), "1.7")
			},
		},
		"restateNpmTag: the CLI version": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) { s.Restate.CLIVersion = "1.7.12" }),
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, fileOnHost(t, h, "cli-version"), "1.7.12")
				wantContains(t, h.Script, `"@restatedev/restate@${cli_version}"`)
			},
		},
		"dataVolumeOptions: defaults, always encrypted": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, h *userdataview.View) {
				ebs := dataVolume(t, d)
				want(t, ebs["volumeType"].(string), "gp3")
				wantNumber(t, ebs["size"], 8)
				want(t, ebs["availabilityZone"].(string), "eu-central-1a")
				if ebs["encrypted"] != true {
					t.Errorf("volume %v: want encrypted", ebs)
				}
				wantContains(t, h.Script, "device=/dev/sdd")
				if id := fileOnHost(t, h, "data-volume"); !strings.HasPrefix(id, "vol-") {
					t.Errorf("the host attaches volume %q, want the data volume's id", id)
				}
				wantContains(t, h.Script, "refusing to format")
			},
		},
		"dataVolumeOptions: size, type and KMS key": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.DataVolume = v1alpha1.DataVolumeSpec{SizeGiB: 100, Type: "io2", IOPS: 5000, KMSKeyID: "1234abcd-12ab-34cd-56ef-1234567890ab"}
			}),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				ebs := dataVolume(t, d)
				wantNumber(t, ebs["size"], 100)
				wantNumber(t, ebs["iops"], 5000)
				want(t, ebs["volumeType"].(string), "io2")
				want(t, ebs["kmsKeyId"].(string), "1234abcd-12ab-34cd-56ef-1234567890ab")
				// Attaching a volume of a customer managed key needs a
				// grant, which EC2 makes for the host on that key alone.
				wantContains(t, policyDoc(t, d[selfhosted.KeyInstanceRolePolicy]), `{"Action":["kms:CreateGrant"],"Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"},"StringEquals":{"kms:ViaService":"ec2.eu-central-1.amazonaws.com"}},"Effect":"Allow","Resource":["arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]}`)
			},
		},
		"restateConfig: defaults": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				c := restateTOML(t, h)
				want(t, c["cluster-name"], "demo-x7k2p")
				wantNumber(t, c["default-num-partitions"], 4)
				// Sized for the default t4g.micro (1 GiB): 40 % of the
				// 704 MiB left beside the OS (see memory.go), where the CDK
				// sets 512 MB next to Restate's other large defaults.
				want(t, c["rocksdb-total-memory-size"], "281 MiB")
				admin, _ := c["admin"].(map[string]any)
				qe, _ := admin["query-engine"].(map[string]any)
				want(t, qe["memory-size"], "70 MiB")
			},
		},
		"restateConfig: cluster name, partitions, RocksDB memory": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Config = v1alpha1.RestateConfigSpec{ClusterName: "payments", BootstrapNumPartitions: 24, RocksDBTotalMemorySize: "1 GiB"}
			}),
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				c := restateTOML(t, h)
				want(t, c["cluster-name"], "payments")
				wantNumber(t, c["default-num-partitions"], 24)
				want(t, c["rocksdb-total-memory-size"], "1 GiB")
			},
		},
		"environment: added to and overriding the defaults": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.Config.Environment = map[string]string{"RUST_LOG": "debug", "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": "5m"}
			}),
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, fileOnHost(t, h, "server.env"), "RESTATE_LOG_FORMAT=json\nRESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT=5m\nRUST_LOG=debug\n")
				want(t, h.Files[selfhosted.HostDir+"server.env"].Permissions, "0600")
			},
		},
		"restateConfigOverride replaces the whole config": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) { s.Config.Override = "cluster-name = \"mine\"\n" }),
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, fileOnHost(t, h, "restate.toml"), "cluster-name = \"mine\"\n")
			},
		},
		"removalPolicy Destroy: volume and logs go with the stack": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				want(t, str(d[selfhosted.KeyLogGroup], "spec", "deletionPolicy"), "Delete")
				want(t, str(d[selfhosted.KeyDataVolume], "spec", "deletionPolicy"), "Delete")
			},
		},
		"removalPolicy Retain: volume and logs outlive the stack": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) { s.RemovalPolicy = v1alpha1.RemovalRetain }),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				want(t, str(d[selfhosted.KeyLogGroup], "spec", "deletionPolicy"), "Orphan")
				want(t, str(d[selfhosted.KeyDataVolume], "spec", "deletionPolicy"), "Orphan")
				_, i := instanceOf(t, d)
				want(t, str(i, "spec", "deletionPolicy"), "Delete")
			},
		},
		"tlsTermination None: plain ports, server on all addresses": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, h *userdataview.View) {
				wantInt(t, d[selfhosted.KeyIngressRule], 8080, "spec", "forProvider", "fromPort")
				wantContains(t, h.Script, "--publish 8080:8080 --publish 9070:9070")
				wantNotContains(t, h.Script, "nginx")
			},
		},
		"tlsTermination SelfSigned: nginx on 443 and 9073, server on loopback": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) { s.TLS.Termination = v1alpha1.TLSSelfSigned }),
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, h *userdataview.View) {
				wantInt(t, d[selfhosted.KeyIngressRule], 443, "spec", "forProvider", "fromPort")
				wantInt(t, d[selfhosted.KeyAdminRule], 9073, "spec", "forProvider", "fromPort")
				wantContains(t, h.Script, "--publish 127.0.0.1:8080:8080 --publish 127.0.0.1:9070:9070")
				wantContains(t, h.Script, "openssl req -x509")
				n := fileOnHost(t, h, "nginx.conf")
				wantContains(t, n, "listen 443 ssl;")
				wantContains(t, n, "listen 9073 ssl;")
				wantContains(t, n, "proxy_read_timeout 3600s;")
			},
		},
		"ingressProxyReadTimeout": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.TLS = v1alpha1.TLSSpec{Termination: v1alpha1.TLSSelfSigned, ProxyReadTimeoutSeconds: 120}
			}),
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				wantContains(t, fileOnHost(t, h, "nginx.conf"), "proxy_read_timeout 120s;")
			},
		},
		"ingressNginxConfigOverride replaces the whole nginx config": {
			xr: sh(func(s *v1alpha1.SelfHostedSpec) {
				s.TLS = v1alpha1.TLSSpec{Termination: v1alpha1.TLSSelfSigned, NginxConfigOverride: "events {}\nhttp {}\n"}
			}),
			check: func(t *testing.T, _ map[string]*unstructured.Unstructured, h *userdataview.View) {
				want(t, fileOnHost(t, h, "nginx.conf"), "events {}\nhttp {}\n")
			},
		},
		"instance: IMDSv2 only with two hops, in both groups, with its profile": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				_, i := instanceOf(t, d)
				want(t, str(i, "spec", "forProvider", "metadataOptions", "httpTokens"), "required")
				want(t, str(i, "spec", "forProvider", "metadataOptions", "httpEndpoint"), "enabled")
				wantInt(t, i, 2, "spec", "forProvider", "metadataOptions", "httpPutResponseHopLimit")
				want(t, str(i, "spec", "forProvider", "iamInstanceProfile", "name"), "demo-x7k2p-instance-profile")
				groups, _, _ := unstructured.NestedSlice(i.Object, "spec", "forProvider", "securityGroupRefs")
				if len(groups) != 2 {
					t.Errorf("instance in %d groups, want ingress and admin", len(groups))
				}
			},
		},
		"identity: SSM access, and an invoker role only the host may assume": {
			xr: func(*v1alpha1.XRestateStack) {},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				want(t, str(d[selfhosted.KeyInstanceRoleSSM], "spec", "forProvider", "policyArn"), "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
				wantContains(t, str(d[selfhosted.KeyInstanceRole], "spec", "forProvider", "assumeRolePolicyDocument"), `"Service":"ec2.amazonaws.com"`)
				wantContains(t, str(d[stack.KeyInvokerRole], "spec", "forProvider", "assumeRolePolicyDocument"), `"AWS":"arn:aws:iam::123456789012:role/demo-x7k2p-instance-role"`)
				doc := policyDoc(t, d[selfhosted.KeyInstanceRolePolicy])
				wantContains(t, doc, `{"Action":["sts:AssumeRole"],"Effect":"Allow","Resource":["arn:aws:iam::123456789012:role/demo-x7k2p-invoker-role"]}`)
				wantNotContains(t, doc, `"*"`)
				want(t, str(d[selfhosted.KeyInstanceProfile], "spec", "forProvider", "roleRef", "name"), "demo-x7k2p-instance-role")
			},
		},
		"stack: region, provider config, deletion policy and tags on every resource": {
			xr: func(xr *v1alpha1.XRestateStack) {
				xr.Spec.Region = "eu-west-1"
				xr.Spec.ProviderConfigRef = &v1alpha1.ProviderConfigReference{Name: "team-a"}
				xr.Spec.DeletionPolicy = v1alpha1.DeletionOrphan
				xr.Spec.Tags = map[string]string{"team": "payments"}
			},
			check: func(t *testing.T, d map[string]*unstructured.Unstructured, _ *userdataview.View) {
				for k, u := range d {
					want(t, str(u, "spec", "providerConfigRef", "name"), "team-a")
					want(t, str(u, "spec", "deletionPolicy"), "Orphan")
					if !strings.HasPrefix(u.GetAPIVersion(), "iam.") {
						want(t, str(u, "spec", "forProvider", "region"), "eu-west-1")
					} else if _, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "forProvider", "region"); ok {
						t.Errorf("%s: IAM resource has a region", k)
					}
					k, _ := kinds.Of(u.GroupVersionKind())
					if k.Tags == kinds.NoTags {
						continue
					}
					tags, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "forProvider", "tags")
					if k.Tags == kinds.TagSpecifications {
						tags, _, _ = unstructured.NestedFieldNoCopy(u.Object, "spec", "forProvider", "tagSpecifications")
					}
					b, _ := json.Marshal(tags)
					wantContains(t, string(b), "payments")
					wantContains(t, string(b), stack.TagStack)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := composeHost(t, newXR(tc.xr), newPolicy())
			tc.check(t, d, hostOf(t, d))
		})
	}
}

func want(t *testing.T, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func wantBool(t *testing.T, u *unstructured.Unstructured, w bool, path ...string) {
	t.Helper()
	b, ok, _ := unstructured.NestedBool(u.Object, path...)
	if !ok || b != w {
		t.Errorf("%s: got %v (set: %v), want %v", strings.Join(path, "."), b, ok, w)
	}
}

func wantInt(t *testing.T, u *unstructured.Unstructured, w float64, path ...string) {
	t.Helper()
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
	wantNumber(t, v, w)
}

func wantNumber(t *testing.T, v any, w float64) {
	t.Helper()
	var got float64
	switch n := v.(type) {
	case float64:
		got = n
	case int64:
		got = float64(n)
	case int:
		got = float64(n)
	default:
		t.Errorf("got %v (%T), want the number %v", v, v, w)
		return
	}
	if got != w {
		t.Errorf("got %v, want %v", got, w)
	}
}

func wantContains(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}

func wantNotContains(t *testing.T, s, sub string) {
	t.Helper()
	if strings.Contains(s, sub) {
		t.Errorf("%q contains %q", s, sub)
	}
}

// dataVolume is the data volume's parameters. The instance has no block
// device of its own beyond its root: the data is on the volume, which
// outlives it.
func dataVolume(t *testing.T, d map[string]*unstructured.Unstructured) map[string]any {
	t.Helper()
	_, i := instanceOf(t, d)
	if bdm, ok, _ := unstructured.NestedSlice(i.Object, "spec", "forProvider", "blockDeviceMappings"); ok {
		t.Errorf("the instance has block devices %v: data on them would go with it", bdm)
	}
	v, ok, _ := unstructured.NestedMap(d[selfhosted.KeyDataVolume].Object, "spec", "forProvider")
	if !ok {
		t.Fatal("no data volume composed")
	}
	return v
}

func policyDoc(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	if u == nil {
		t.Fatal("no policy composed")
	}
	doc, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "forProvider", "document")
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func restateTOML(t *testing.T, h *userdataview.View) map[string]any {
	t.Helper()
	c := map[string]any{}
	if err := toml.Unmarshal([]byte(fileOnHost(t, h, "restate.toml")), &c); err != nil {
		t.Fatalf("restate.toml: %v", err)
	}
	return c
}
