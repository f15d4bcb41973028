package selfhosted

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// envNameRE matches an environment variable name as Docker and the shell
// take it.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxEnvFileLine is the longest line Docker's --env-file reader takes
// (bufio.Scanner's 64 KiB buffer, newline included).
const maxEnvFileLine = 64*1024 - 1

// Server is a SelfHostedSpec with its defaults filled in.
type Server struct {
	v1alpha1.SelfHostedSpec
	// RestateImage and CollectorImage are normalized image references.
	RestateImage   string
	CollectorImage string
	// CLIVersion is the npm version of the restate CLIs.
	CLIVersion string
	// Memory is the server's memory budget for the instance type.
	Memory memoryBudget
	// VolumeID is the data volume's id once observed (or kept in the
	// composite's status); the host's user data names it.
	VolumeID string
	// Agent is the host agent the host runs, when it registers the
	// stack's services.
	Agent *AgentSettings
	// Node is the host's place in a Restate cluster; nil on a single node.
	Node *ClusterNode
	// Store is a cluster's S3 store, DNSZone its private hosted zone's
	// name (both empty on a single node).
	Store   clusterStore
	DNSZone string
	// NATPerZone gives a cluster's every zone its own NAT gateway.
	NATPerZone bool
	// NodeVolumeIDs are a cluster's nodes' data volumes, in node order
	// ("" where not known yet); VolumeID is node 0's.
	NodeVolumeIDs []string
}

// AgentSettings are what the host needs to run the host agent.
type AgentSettings struct {
	// Image holds the function's binary (the registration Jobs' image).
	Image string
	// OrdersSecret is the Secrets Manager secret of its orders.
	OrdersSecret string
}

// Zone is the availability zone of the host's subnet, and so of its data
// volume.
func (s *Server) Zone() string {
	if s.Node != nil {
		return s.Node.Zone
	}
	if s.Network.Existing != nil {
		return s.Network.Existing.AvailabilityZone
	}
	return s.Network.NewVPC.AvailabilityZone
}

// NewVPC is true when the stack creates its own VPC.
func (s *Server) NewVPC() bool { return s.Network.Existing == nil }

// Public is true when the host lives in a public subnet.
func (s *Server) Public() bool { return s.Network.SubnetType == v1alpha1.SubnetPublic }

// TLSEnabled is true when nginx terminates TLS on the host.
func (s *Server) TLSEnabled() bool { return s.TLS.Termination == v1alpha1.TLSSelfSigned }

// XRay is true when traces go to AWS X-Ray.
func (s *Server) XRay() bool { return s.Tracing.Mode == v1alpha1.TracingAWSXRay }

// Retain is true when the data volume and log group outlive the stack.
func (s *Server) Retain() bool { return s.RemovalPolicy == v1alpha1.RemovalRetain }

// Ports the server listens on, as seen from outside the host.
func (s *Server) Ports() (ingress, admin int32) {
	if s.TLSEnabled() {
		return 443, 9073
	}
	return 8080, 9070
}

// LogGroupScope is the part of CloudWatch Logs' names that belongs to a
// stack alone: /restate/<namespace>/<claim> for a claim's stack (a claim's
// name is unique in its namespace), /restate/<composite> for a composite
// without a claim. The default group, /restate/<composite>, has one part
// fewer than any claim's scope, so it meets none.
func LogGroupScope(xr *v1alpha1.XRestateStack) string {
	l := xr.GetLabels()
	if ns, claim := l[stack.LabelClaimNamespace], l[stack.LabelClaimName]; ns != "" && claim != "" {
		return "/restate/" + ns + "/" + claim
	}
	return "/restate/" + xr.GetName()
}

// Resolve fills in a self-hosted environment's defaults from the platform's
// policy and the CDK's, and validates it. userData renders the host's user
// data (RenderUserData when nil).
func Resolve(s *stack.Stack, logScope string, in v1alpha1.SelfHostedSpec, p *platform.StackPolicy, userData UserDataFunc, fp *field.Path) (*Env, field.ErrorList) {
	if userData == nil {
		userData = RenderUserData
	}
	sh, errs := resolveServer(s.Name, logScope, s.Region, in, p, fp)
	return &Env{Server: sh, userData: userData}, errs
}

func resolveServer(name, logScope, region string, in v1alpha1.SelfHostedSpec, p *platform.StackPolicy, fp *field.Path) (*Server, field.ErrorList) {
	var errs field.ErrorList
	sh := &Server{SelfHostedSpec: *in.DeepCopy()}

	if sh.InstanceType == "" {
		sh.InstanceType = p.DefaultInstanceType
	}
	if sh.InstanceType == "" && sh.Cluster != nil {
		sh.InstanceType = defaultClusterInstanceType
	}
	if sh.InstanceType == "" {
		sh.InstanceType = defaultInstanceType
	}
	if !instanceTypeRE.MatchString(sh.InstanceType) {
		errs = append(errs, field.Invalid(fp.Child("instanceType"), sh.InstanceType, "not an EC2 instance type such as t4g.micro"))
	} else if !stack.MatchesAny(p.AllowedInstanceTypes, sh.InstanceType) {
		errs = append(errs, field.NotSupported(fp.Child("instanceType"), sh.InstanceType, p.AllowedInstanceTypes))
	}
	if sh.ImageID == "" {
		arch := "x86_64"
		if gravitonRE.MatchString(sh.InstanceType) {
			arch = "arm64"
		}
		sh.ImageID = amiParameterPrefix + arch
	}

	if sh.Cluster != nil {
		errs = append(errs, resolveCluster(name, region, sh, p, fp)...)
	}
	errs = append(errs, resolveNetwork(region, &sh.Network, sh.Cluster, fp.Child("network"))...)

	if sh.Logs.GroupName == "" {
		sh.Logs.GroupName = "/restate/" + name
	}
	switch g := sh.Logs.GroupName; {
	case strings.HasPrefix(g, "/aws/"):
		// AWS services' own groups (/aws/lambda/<function>, ...): the host
		// would be granted writes to another service's logs.
		errs = append(errs, field.Invalid(fp.Child("logs", "groupName"), g, "/aws/ is where AWS services keep their own log groups"))
	case g != "/restate/"+name && g != logScope && !strings.HasPrefix(g, logScope+"/"):
		// provider-aws adopts a group that exists: a stack naming another's
		// group would write to it, and delete it when deleted itself.
		errs = append(errs, field.Invalid(fp.Child("logs", "groupName"), g, fmt.Sprintf("must be %s or lie under %s/, where no other stack's group can be", logScope, logScope)))
	}
	if sh.Logs.RetentionDays == 0 {
		sh.Logs.RetentionDays = stack.DefaultLogRetentionDays
	}

	if sh.Tracing.Mode == "" {
		sh.Tracing.Mode = v1alpha1.TracingDisabled
	}
	if sh.Tracing.CollectorImage == "" {
		sh.Tracing.CollectorImage = defaultCollectorImage
	}
	var err *field.Error
	if sh.XRay() {
		if sh.CollectorImage, err = resolveImage(sh.Tracing.CollectorImage, "", p.AllowedImageRepositories, fp.Child("tracing", "collectorImage"), nil); err != nil {
			errs = append(errs, err)
		}
	}

	img := sh.Restate.Image
	imgPath := fp.Child("restate", "image")
	if img == "" {
		img = p.DefaultRestateImage
	}
	if img == "" {
		img = defaultRestateImage
	}
	if sh.Restate.Image == "" && sh.Restate.Tag != "" {
		// A tag alone picks that tag of the default repository.
		if ref, err := reference.ParseNormalizedNamed(img); err == nil {
			img = reference.TrimNamed(ref).String()
		}
	}
	var tag string
	if sh.RestateImage, err = resolveImage(img, sh.Restate.Tag, p.AllowedImageRepositories, imgPath, &tag); err != nil {
		errs = append(errs, err)
	}
	sh.CLIVersion = sh.Restate.CLIVersion
	if sh.CLIVersion == "" {
		sh.CLIVersion = cliVersionFor(tag)
	}

	errs = append(errs, resolveDataVolume(region, &sh.DataVolume, fp.Child("dataVolume"))...)

	c := &sh.Config
	if c.ClusterName == "" {
		c.ClusterName = name
	}
	if c.BootstrapNumPartitions == 0 {
		c.BootstrapNumPartitions = defaultPartitions
	}
	for _, k := range stack.SortedKeys(c.Environment) {
		ep := fp.Child("config", "environment").Key(k)
		if !envNameRE.MatchString(k) {
			errs = append(errs, field.Invalid(ep, k, "not an environment variable name (letters, digits and _, not starting with a digit)"))
		}
		// Docker's env file has one variable a line; anything else in a value
		// is passed to the container literally.
		switch v := c.Environment[k]; {
		case strings.ContainsAny(v, "\n\r\x00"):
			errs = append(errs, field.Invalid(ep, "<redacted>", "may not contain newlines or NUL characters"))
		case len(k)+1+len(v) > maxEnvFileLine:
			// Docker reads the file line by line with a 64 KiB buffer; a
			// longer line stops the bootstrap before Restate starts.
			errs = append(errs, field.Invalid(ep, "<redacted>", fmt.Sprintf("the line %s=<value> is %d bytes, over the %d Docker's env file takes", k, len(k)+1+len(v), maxEnvFileLine)))
		}
	}

	if sh.TLS.Termination == "" {
		sh.TLS.Termination = v1alpha1.TLSNone
	}
	if sh.TLS.ProxyReadTimeoutSeconds == 0 {
		sh.TLS.ProxyReadTimeoutSeconds = defaultProxyReadTimeout
	}
	if !sh.TLSEnabled() && sh.TLS.NginxConfigOverride != "" {
		errs = append(errs, field.Invalid(fp.Child("tls", "nginxConfigOverride"), "<config>", "only applies with termination SelfSigned"))
	}
	if sh.RemovalPolicy == "" {
		sh.RemovalPolicy = v1alpha1.RemovalDestroy
	}
	if c.Override == "" && instanceTypeRE.MatchString(sh.InstanceType) {
		b, err := budgetFor(sh.InstanceType, sh.XRay(), sh.TLSEnabled())
		if err != nil {
			errs = append(errs, field.Invalid(fp.Child("instanceType"), sh.InstanceType, err.Error()))
		} else if total, _ := instanceMemoryMiB(sh.InstanceType); sh.Cluster != nil && total < clusterNodeMinMiB {
			errs = append(errs, field.Invalid(fp.Child("instanceType"), sh.InstanceType, fmt.Sprintf("has %d MiB; a cluster node needs at least %d MiB (t4g.small or larger): it also keeps the replicated log and uploads snapshots", total, clusterNodeMinMiB)))
		}
		sh.Memory = b
		if c.RocksDBTotalMemorySize == "" {
			c.RocksDBTotalMemorySize = mib(b.RocksDBMiB)
		}
	}
	return sh, errs
}

// resolveNetwork fills in the network defaults: a new VPC whose public and
// private subnets are the first two /24s of its range, in the region's "a"
// zone.
func resolveNetwork(region string, n *v1alpha1.NetworkSpec, cluster *v1alpha1.ClusterSpec, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if n.SubnetType == "" {
		n.SubnetType = v1alpha1.SubnetPrivate
	}
	if n.Existing != nil {
		// The schema's CEL rule refuses newVpc beside it.
		return append(errs, zoneOf(region, n.Existing.AvailabilityZone, fp.Child("existing", "availabilityZone"))...)
	}
	if n.NewVPC == nil {
		n.NewVPC = &v1alpha1.NewVPCSpec{}
	}
	v := n.NewVPC
	if v.CIDRBlock == "" {
		v.CIDRBlock = defaultVPCCIDR
	}
	vpc, err := netip.ParsePrefix(v.CIDRBlock)
	if err != nil || !vpc.Addr().Is4() || vpc.Bits() < 16 || vpc.Bits() > 24 || vpc.Masked() != vpc {
		return append(errs, field.Invalid(fp.Child("newVpc", "cidrBlock"), v.CIDRBlock, "must be an IPv4 network between /16 and /24, such as 10.0.0.0/16"))
	}
	if v.PublicSubnetCIDR == "" {
		v.PublicSubnetCIDR = nth24(vpc, 0).String()
	}
	if cluster != nil {
		// A private subnet per zone, the /24s after the first; the public
		// subnet (the NAT gateway's) goes in the first zone, and with a NAT
		// gateway per zone the other zones' public subnets follow the
		// private ones.
		v.AvailabilityZone = cluster.Zones[0]
		if last := nth24(vpc, 2*len(cluster.Zones)-1); !vpc.Contains(last.Addr()) {
			errs = append(errs, field.Invalid(fp.Child("newVpc", "cidrBlock"), v.CIDRBlock, fmt.Sprintf("too small for %d /24 subnets: a public and a private one per zone", 2*len(cluster.Zones))))
		}
	}
	if v.PrivateSubnetCIDR == "" {
		v.PrivateSubnetCIDR = nth24(vpc, 1).String()
	}
	subnets := []struct {
		name, cidr string
		used       bool
	}{{"publicSubnetCidr", v.PublicSubnetCIDR, true}, {"privateSubnetCidr", v.PrivateSubnetCIDR, n.SubnetType == v1alpha1.SubnetPrivate}}
	var parsed []netip.Prefix
	for _, sn := range subnets {
		if !sn.used {
			continue
		}
		p, err := netip.ParsePrefix(sn.cidr)
		switch {
		case err != nil || !p.Addr().Is4() || p.Masked() != p:
			errs = append(errs, field.Invalid(fp.Child("newVpc", sn.name), sn.cidr, "not an IPv4 network such as 10.0.1.0/24"))
		case p.Bits() < vpc.Bits() || p.Bits() > 28 || !vpc.Contains(p.Addr()):
			errs = append(errs, field.Invalid(fp.Child("newVpc", sn.name), sn.cidr, fmt.Sprintf("must lie within the VPC's %s and be /28 or larger", vpc)))
		default:
			for _, q := range parsed {
				if q.Overlaps(p) {
					errs = append(errs, field.Invalid(fp.Child("newVpc", sn.name), sn.cidr, "overlaps the public subnet"))
				}
			}
			parsed = append(parsed, p)
		}
	}
	if v.AvailabilityZone == "" {
		v.AvailabilityZone = region + "a"
	}
	return append(errs, zoneOf(region, v.AvailabilityZone, fp.Child("newVpc", "availabilityZone"))...)
}

// nth24 is the n-th /24 of a network.
func nth24(vpc netip.Prefix, n int) netip.Prefix {
	a := vpc.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 + uint32(n)<<8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)
}

// privateSubnetCIDR is the private subnet of a cluster's j-th zone.
func privateSubnetCIDR(v *v1alpha1.NewVPCSpec, j int) string {
	return nth24(netip.MustParsePrefix(v.CIDRBlock), 1+j).String()
}

// publicSubnetCIDR is the public subnet of a cluster's j-th zone (j > 0;
// the first zone's is the VPC's first /24), after the private ones.
func publicSubnetCIDR(v *v1alpha1.NewVPCSpec, zones, j int) string {
	return nth24(netip.MustParsePrefix(v.CIDRBlock), zones+j).String()
}

// zoneOf checks that a zone is one of the region's.
func zoneOf(region, zone string, fp *field.Path) field.ErrorList {
	if zone == "" {
		return field.ErrorList{field.Required(fp, fmt.Sprintf("the subnet's zone, such as %sa: the data volume is created there", region))}
	}
	if !strings.HasPrefix(zone, region) || len(zone) != len(region)+1 || zone[len(zone)-1] < 'a' || zone[len(zone)-1] > 'z' {
		return field.ErrorList{field.Invalid(fp, zone, fmt.Sprintf("must be a zone of region %s, such as %sa", region, region))}
	}
	return nil
}

// resolveImage parses an image reference, applies a separately given tag,
// and checks the repository against the platform's allow-list. It returns
// the normalized reference and, through tagOut, its tag.
func resolveImage(image, tag string, allowed []string, fp *field.Path, tagOut *string) (string, *field.Error) {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", field.Invalid(fp, image, "not an image reference: "+err.Error())
	}
	if t, ok := ref.(reference.Tagged); ok && tag != "" && t.Tag() != tag {
		return "", field.Invalid(fp, image, fmt.Sprintf("has tag %q but tag says %q", t.Tag(), tag))
	}
	if _, ok := ref.(reference.Tagged); !ok && tag != "" {
		if ref, err = reference.WithTag(ref, tag); err != nil {
			return "", field.Invalid(fp, image, fmt.Sprintf("cannot apply tag %q: %v", tag, err))
		}
	}
	ref = reference.TagNameOnly(ref) // no tag and no digest means latest
	if !stack.MatchesAny(allowed, ref.Name()) && !stack.MatchesAny(allowed, reference.FamiliarName(ref)) {
		return "", field.NotSupported(fp, reference.FamiliarName(ref), allowed)
	}
	if t, ok := ref.(reference.Tagged); ok && tagOut != nil {
		*tagOut = t.Tag()
	}
	return ref.String(), nil
}

// cliVersionFor picks the npm version of the restate CLIs that matches a
// server image tag: "1.7" and "1.7.12" name npm versions, "latest" and
// other tags do not.
func cliVersionFor(tag string) string {
	if versionTagRE.MatchString(tag) {
		return strings.TrimPrefix(tag, "v")
	}
	return "latest"
}

const (
	defaultInstanceType = "t4g.micro"
)

const (
	defaultRestateImage = "docker.restate.dev/restatedev/restate:1.7"
)

const (
	defaultCollectorImage = "public.ecr.aws/aws-observability/aws-otel-collector:latest"
)

const (
	defaultVPCCIDR = "10.0.0.0/16"
)

const (
	defaultVolumeGiB = 8
)

const (
	defaultVolumeType = "gp3"
)

const (
	defaultPartitions = 4
)

const (
	defaultProxyReadTimeout = 3600
)

const (
	amiParameterPrefix = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-"
)

var (
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

var (
	// Graviton families carry a "g" after their generation: t4g, m7g, c7gn.
	gravitonRE = regexp.MustCompile(`^[a-z]+[0-9]+g[a-z]*\.`)
)

var (
	// versionTagRE matches image tags that are also npm versions: 1.7, v1.7.12.
	versionTagRE = regexp.MustCompile(`^v?[0-9]+\.[0-9]+(\.[0-9]+)?$`)
)
