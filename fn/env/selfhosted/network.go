package selfhosted

import (
	"strings"

	ec2manual "github.com/crossplane-contrib/provider-aws/apis/ec2/manualv1alpha1"
	ec2 "github.com/crossplane-contrib/provider-aws/apis/ec2/v1beta1"
	xpv1 "github.com/crossplane/crossplane-runtime/apis/common/v1"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

const anywhere = "0.0.0.0/0"

// placement says where the host goes: a subnet the stack composes (by
// reference) or one that exists (by id).
type placement struct {
	SubnetRef *xpv1.Reference
	SubnetID  *string
	VPCRef    *xpv1.Reference
	VPCID     *string
	// path is what the stack composes for the host's way out: its subnet,
	// the subnet's route table and, for a private subnet, the NAT gateway.
	path []string
}

// buildNetwork composes a new VPC when the stack has none: a public subnet
// with an internet gateway, and for a private host a private subnet whose
// egress leaves through a NAT gateway in the public subnet. It returns the
// parts and where the host goes.
func buildNetwork(s *stack.Stack, sh *Server) ([]stack.Part, placement) {
	if !sh.NewVPC() {
		e := sh.Network.Existing
		return nil, placement{SubnetID: ptr.To(e.SubnetID), VPCID: ptr.To(e.VPCID)}
	}
	v := sh.Network.NewVPC
	ref := func(key string) *xpv1.Reference { return &xpv1.Reference{Name: stack.ResourceName(s.Name, key)} }
	vpcRef := ref(KeyVPC)

	vpc := &ec2.VPC{Spec: ec2.VPCSpec{ForProvider: ec2.VPCParameters{
		CIDRBlock: v.CIDRBlock,
		// Instances need DNS names: the URLs in status are built from them.
		EnableDNSSupport:   ptr.To(true),
		EnableDNSHostNames: ptr.To(true),
	}}}
	igw := &ec2.InternetGateway{Spec: ec2.InternetGatewaySpec{ForProvider: ec2.InternetGatewayParameters{VPCIDRef: vpcRef}}}
	public := &ec2.Subnet{Spec: ec2.SubnetSpec{ForProvider: ec2.SubnetParameters{
		CIDRBlock:        v.PublicSubnetCIDR,
		AvailabilityZone: ptr.To(v.AvailabilityZone),
		// Only a public host needs a public IP: it is where its DNS name comes from.
		MapPublicIPOnLaunch: ptr.To(sh.Public()),
		VPCIDRef:            vpcRef,
	}}}
	publicRoutes := &ec2.RouteTable{Spec: ec2.RouteTableSpec{ForProvider: ec2.RouteTableParameters{
		VPCIDRef:     vpcRef,
		Routes:       []ec2.RouteBeta{{DestinationCIDRBlock: ptr.To(anywhere), GatewayIDRef: ref(KeyInternetGateway)}},
		Associations: []ec2.Association{{SubnetIDRef: ref(KeyPublicSubnet)}},
	}}}
	parts := []stack.Part{
		{Key: KeyVPC, MR: vpc},
		{Key: KeyInternetGateway, MR: igw},
		{Key: KeyPublicSubnet, MR: public},
		{Key: KeyPublicRouteTable, MR: publicRoutes},
	}
	if sh.Public() {
		return parts, placement{SubnetRef: ref(KeyPublicSubnet), VPCRef: vpcRef, path: []string{KeyPublicSubnet, KeyPublicRouteTable}}
	}

	eip := &ec2.Address{Spec: ec2.AddressSpec{ForProvider: ec2.AddressParameters{Domain: ptr.To("vpc")}}}
	nat := &ec2.NATGateway{Spec: ec2.NATGatewaySpec{ForProvider: ec2.NATGatewayParameters{
		AllocationIDRef: ref(KeyNATAddress),
		SubnetIDRef:     ref(KeyPublicSubnet),
	}}}
	private := &ec2.Subnet{Spec: ec2.SubnetSpec{ForProvider: ec2.SubnetParameters{
		CIDRBlock:           v.PrivateSubnetCIDR,
		AvailabilityZone:    ptr.To(v.AvailabilityZone),
		MapPublicIPOnLaunch: ptr.To(false),
		VPCIDRef:            vpcRef,
	}}}
	privateRoutes := &ec2.RouteTable{Spec: ec2.RouteTableSpec{ForProvider: ec2.RouteTableParameters{
		VPCIDRef:     vpcRef,
		Routes:       []ec2.RouteBeta{{DestinationCIDRBlock: ptr.To(anywhere), NatGatewayIDRef: ref(KeyNATGateway)}},
		Associations: []ec2.Association{{SubnetIDRef: ref(KeyPrivateSubnet)}},
	}}}
	parts = append(parts,
		stack.Part{Key: KeyNATAddress, MR: eip},
		stack.Part{Key: KeyNATGateway, MR: nat},
		stack.Part{Key: KeyPrivateSubnet, MR: private},
		stack.Part{Key: KeyPrivateRouteTable, MR: privateRoutes},
	)
	return parts, placement{SubnetRef: ref(KeyPrivateSubnet), VPCRef: vpcRef, path: []string{KeyPrivateSubnet, KeyPrivateRouteTable, KeyNATGateway}}
}

// buildSecurityGroups composes the ingress and admin groups the host is a
// member of. Ingress is open to the world only with publicIngress; else,
// like admin always, only to other members of its group. Rules are
// separate resources, since a group cannot reference itself before it
// exists; the groups leave them (and AWS's default allow-all egress, which
// the host needs to pull images) to those resources.
func buildSecurityGroups(s *stack.Stack, sh *Server, at placement) []stack.Part {
	ingressPort, adminPort := sh.Ports()
	group := func(key, description string) *ec2.SecurityGroup { return securityGroup(s, key, description, at) }
	rule := func(group string, port int32, description string) *ec2manual.SecurityGroupRule {
		return &ec2manual.SecurityGroupRule{Spec: ec2manual.SecurityGroupRuleSpec{ForProvider: ingressRule(s, group, port, description)}}
	}
	ingress := rule(KeyIngressGroup, ingressPort, "Restate ingress from members of this group")
	if sh.PublicIngress {
		ingress.Spec.ForProvider.CidrBlock = ptr.To(anywhere)
		ingress.Spec.ForProvider.Description = ptr.To("Restate ingress from anywhere")
	} else {
		ingress.Spec.ForProvider.SourceSecurityGroupIDRef = &xpv1.Reference{Name: stack.ResourceName(s.Name, KeyIngressGroup)}
	}
	admin := rule(KeyAdminGroup, adminPort, "Restate admin API from members of this group")
	admin.Spec.ForProvider.SourceSecurityGroupIDRef = &xpv1.Reference{Name: stack.ResourceName(s.Name, KeyAdminGroup)}
	// provider-aws revokes a new group's default egress, so the host has
	// none unless a rule gives it. It needs HTTPS to its image registries,
	// SSM, CloudWatch Logs, STS, Lambda and X-Ray, and HTTP services on
	// their own ports: all egress, as the CDK allows. Protocol -1 with ports
	// -1 is how EC2 reports such a rule, so the provider sees it up to date.
	egress := rule(KeyIngressGroup, -1, "Restate host egress: registries, AWS APIs, Lambda and HTTP services")
	egress.Spec.ForProvider.Type, egress.Spec.ForProvider.Protocol = ptr.To("egress"), ptr.To("-1")
	egress.Spec.ForProvider.CidrBlock = ptr.To(anywhere)

	return []stack.Part{
		// EC2 takes 255 characters of description; a stack's name may be
		// 253. The group's own name is bounded.
		{Key: KeyIngressGroup, MR: group(KeyIngressGroup, "Restate ingress: "+stack.ResourceName(s.Name, KeyIngressGroup))},
		{Key: KeyAdminGroup, MR: group(KeyAdminGroup, "Restate admin API: "+stack.ResourceName(s.Name, KeyAdminGroup))},
		{Key: KeyIngressRule, MR: ingress},
		{Key: KeyAdminRule, MR: admin},
		{Key: KeyEgressRule, MR: egress},
	}
}

// securityGroup is one of the stack's groups, whose rules are resources of
// their own (see buildSecurityGroups).
func securityGroup(s *stack.Stack, key, description string, at placement) *ec2.SecurityGroup {
	return &ec2.SecurityGroup{Spec: ec2.SecurityGroupSpec{ForProvider: ec2.SecurityGroupParameters{
		GroupName:     securityGroupName(s.Name, key),
		Description:   description,
		VPCID:         at.VPCID,
		VPCIDRef:      at.VPCRef,
		IgnoreIngress: ptr.To(true),
		IgnoreEgress:  ptr.To(true),
	}}}
}

// buildAdminAccess opens the admin port to where the platform's
// registration Jobs run (StackPolicy registration.adminAccess): source
// security groups, such as the cluster nodes', or address ranges, such as
// a peered cluster VPC's. Each source is a rule of its own, keyed by it.
func buildAdminAccess(s *stack.Stack, sh *Server) []stack.Part {
	return adminAccessRules(s, sh, KeyAdminGroup, KeyAdminAccessPrefix, "Restate admin API from registration Jobs at ")
}

// adminAccessRules opens the admin port of one of the stack's groups to
// each of the platform's declared sources, a rule each, keyed by prefix and
// a hash of the source.
func adminAccessRules(s *stack.Stack, sh *Server, group, prefix, description string) []stack.Part {
	_, adminPort := sh.Ports()
	access := s.Registration.AdminAccess
	var parts []stack.Part
	add := func(source string, set func(*ec2manual.SecurityGroupRuleParameters)) {
		p := ingressRule(s, group, adminPort, description+source)
		set(&p)
		parts = append(parts, stack.Part{Key: prefix + stack.HashOf(source), MR: &ec2manual.SecurityGroupRule{Spec: ec2manual.SecurityGroupRuleSpec{ForProvider: p}}})
	}
	for _, sg := range access.SourceSecurityGroupIDs {
		add(sg, func(p *ec2manual.SecurityGroupRuleParameters) { p.SourceSecurityGroupID = ptr.To(sg) })
	}
	for _, cidr := range access.CIDRBlocks {
		add(cidr, func(p *ec2manual.SecurityGroupRuleParameters) { p.CidrBlock = ptr.To(cidr) })
	}
	return parts
}

// ingressRule is a rule that opens a TCP port of one of the stack's
// groups; callers say from where.
func ingressRule(s *stack.Stack, group string, port int32, description string) ec2manual.SecurityGroupRuleParameters {
	return ec2manual.SecurityGroupRuleParameters{
		Type:               ptr.To("ingress"),
		Protocol:           ptr.To("tcp"),
		FromPort:           ptr.To(port),
		ToPort:             ptr.To(port),
		Description:        ptr.To(description),
		SecurityGroupIDRef: &xpv1.Reference{Name: stack.ResourceName(s.Name, group)},
	}
}

// securityGroupName is a group's name in EC2, which reserves names that
// start with sg- (they would read as group ids): a stack named so gets a
// prefix.
func securityGroupName(stackName, key string) string {
	n := stack.ResourceName(stackName, key)
	if strings.HasPrefix(strings.ToLower(n), "sg-") {
		return "restate-" + n
	}
	return n
}
