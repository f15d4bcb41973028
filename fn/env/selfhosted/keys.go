package selfhosted

// Composition resource names ("keys") of a self-hosted server: how
// Crossplane tells its composed resources apart from one call to the next.
// They are the only schema observed state has; the keys every kind shares
// are in fn/stack, the services' and registration's in fn.
const (
	// The network.
	KeyVPC               = "vpc"
	KeyInternetGateway   = "internet-gateway"
	KeyPublicSubnet      = "subnet-public"
	KeyPublicRouteTable  = "route-table-public"
	KeyNATAddress        = "nat-address"
	KeyNATGateway        = "nat-gateway"
	KeyPrivateSubnet     = "subnet-private"
	KeyPrivateRouteTable = "route-table-private"
	KeyIngressGroup      = "security-group-ingress"
	KeyAdminGroup        = "security-group-admin"
	KeyIngressRule       = "security-group-rule-ingress"
	KeyAdminRule         = "security-group-rule-admin"
	KeyEgressRule        = "security-group-rule-egress"
	KeyAdminAccessPrefix = "security-group-rule-admin-from-"

	// The host's identity.
	KeyInstanceRole       = "instance-role"
	KeyInstanceRoleSSM    = "instance-role-ssm"
	KeyInstanceRoleXRay   = "instance-role-xray"
	KeyInstanceRolePolicy = "instance-role-policy"
	KeyInstanceProfile    = "instance-profile"

	// The host. The instance's key carries a hash of its launch settings
	// (see buildHost).
	KeyLogGroup       = "log-group"
	KeyDataVolume     = "data-volume"
	KeyInstancePrefix = "server-"
)
