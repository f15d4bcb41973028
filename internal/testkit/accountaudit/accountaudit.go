// Package accountaudit proves, from what an AWS account holds (read through
// the AWS APIs, not from a render), that each flow a RestateStack exists for
// has its path, and that nothing more is open: the host reaches the
// internet; clients reach the ingress and registration the admin API from
// exactly the declared sources; the host attaches exactly its data volume,
// to itself; Restate assumes exactly its invoker role,
// which invokes exactly the stack's functions; the host and each function
// write exactly their own logs; Restate Cloud assumes its role only with
// the environment's external id; the host agent reads exactly its orders
// and writes exactly its tags. Each identity is also denied the same
// action on the matching resource of every other stack in the account.
// And nothing more: every statement of every inline policy and trust of
// every role the stacks compose, and every role an instance profile
// holds, must be one a flow asks for (ledger.go); anything else is a
// finding naming the statement.
//
// IAM decisions come from internal/iampolicy, which fails closed. AWS
// managed policies that grant on "*" by design (SSM's core, X-Ray's write)
// are recorded as such, not evaluated; any other attached policy is a
// finding.
package accountaudit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/restate-crossplane/function-restate-stack/internal/testkit/iampolicy"
)

// Account is what the account holds (test/e2e/moto/account.py describe).
type Account struct {
	Instances        []Instance        `json:"instances"`
	SecurityGroups   []SecurityGroup   `json:"securityGroups"`
	Subnets          []Subnet          `json:"subnets"`
	Roles            []Role            `json:"roles"`
	InstanceProfiles []InstanceProfile `json:"instanceProfiles"`
	Functions        []Function        `json:"functions"`
	LogGroups        []LogGroup        `json:"logGroups"`
	Volumes          []Volume          `json:"volumes"`
	Secrets          []Secret          `json:"secrets"`
	LoadBalancers    []LoadBalancer    `json:"loadBalancers"`
	TargetGroups     []TargetGroup     `json:"targetGroups"`
}

// LoadBalancer is an elbv2 load balancer with its groups and listeners.
type LoadBalancer struct {
	Name      string     `json:"name"`
	ARN       string     `json:"arn"`
	Scheme    string     `json:"scheme"`
	Groups    []string   `json:"groups"`
	Listeners []Listener `json:"listeners"`
}

// Listener is a load balancer's listener: its port and where it forwards.
type Listener struct {
	Port         int      `json:"port"`
	TargetGroups []string `json:"targetGroups"`
}

// TargetGroup is a target group and the ids of its targets.
type TargetGroup struct {
	ARN     string   `json:"arn"`
	Port    int      `json:"port"`
	Targets []string `json:"targets"`
}

// Secret is a Secrets Manager secret.
type Secret struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

// Instance is an EC2 instance.
type Instance struct {
	ID         string            `json:"id"`
	Region     string            `json:"region"`
	Zone       string            `json:"zone"`
	Tags       map[string]string `json:"tags"`
	SubnetID   string            `json:"subnetId"`
	Groups     []string          `json:"groups"`
	PublicIP   string            `json:"publicIp"`
	ProfileARN string            `json:"profileArn"`
}

// Volume is an EBS volume.
type Volume struct {
	ID        string            `json:"id"`
	Region    string            `json:"region"`
	Zone      string            `json:"zone"`
	Encrypted bool              `json:"encrypted"`
	Tags      map[string]string `json:"tags"`
	// KMSKeyID is the key ARN of an encrypted volume.
	KMSKeyID string `json:"kmsKeyId"`
}

// SecurityGroup is a security group and its rules.
type SecurityGroup struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Ingress []Rule `json:"ingress"`
	Egress  []Rule `json:"egress"`
}

// Rule is one permission of a security group.
type Rule struct {
	Protocol string   `json:"protocol"`
	FromPort int      `json:"fromPort"`
	ToPort   int      `json:"toPort"`
	CIDRs    []string `json:"cidrs"`
	Groups   []string `json:"groups"`
}

// Subnet is a subnet with the routes of its route table.
type Subnet struct {
	ID     string  `json:"id"`
	Routes []Route `json:"routes"`
}

// Route is a route: a destination and the gateway (igw-, nat-, local).
type Route struct {
	Destination string `json:"destination"`
	Gateway     string `json:"gateway"`
}

// Role is an IAM role with its trust, inline and attached policies.
type Role struct {
	Name     string            `json:"name"`
	ARN      string            `json:"arn"`
	Trust    string            `json:"trust"`
	Inline   map[string]string `json:"inline"`
	Attached []string          `json:"attached"`
}

// InstanceProfile is an instance profile and its roles' ARNs.
type InstanceProfile struct {
	ARN   string   `json:"arn"`
	Roles []string `json:"roles"`
}

// Function is a Lambda function.
type Function struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
	Role string `json:"role"`
}

// LogGroup is a CloudWatch Logs group.
type LogGroup struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

// Stack is what one stack's composite says it built, by AWS identifier.
type Stack struct {
	Name string
	// Host of a self-hosted environment, if any.
	Host *Host
	// Functions of its Lambda services.
	Functions []StackFunction
	// InvokerRole is the name of the role that invokes the functions, if
	// the stack grants it (self-hosted, Cloud, or an invoker of its own
	// account).
	InvokerRole string
	// Cloud is the Restate Cloud environment, if the stack composes its
	// invoker role.
	Cloud *Cloud
	// Cluster is a self-hosted cluster: Host is then its node 0 (where
	// the host agent runs), and Cluster.Nodes every node.
	Cluster *Cluster
}

// Cluster is a self-hosted cluster's nodes and what they share.
type Cluster struct {
	Nodes []Host
	// FabricGroup is the cluster's own group, the only source of the
	// fabric port.
	FabricGroup string
	// LoadBalancer is its load balancer's name and LBGroup its group
	// ("" with endpoint None); LBIngressSources and LBAdminSources are
	// what the load balancer's listeners are declared open to.
	LoadBalancer, LBGroup            string
	LBIngressSources, LBAdminSources []string
	// StoreBucket and StorePrefix are the platform's bucket and the
	// stack's prefix in it (no trailing slash).
	StoreBucket, StorePrefix string
}

// Host is a self-hosted server.
type Host struct {
	InstanceID             string
	IngressPort, AdminPort int
	// IngressSources and AdminSources are the declared sources: CIDRs and
	// security group ids.
	IngressSources, AdminSources []string
	InstanceRole                 string
	LogGroup                     string
	// DataVolumeID is the volume holding Restate's data.
	DataVolumeID string
	// OrdersSecret is the host agent's orders secret (its name or ARN),
	// where the host agent registers; "" where Jobs do.
	OrdersSecret string
}

// StackFunction is a Lambda service's function and its execution role.
type StackFunction struct {
	Name, ExecRole string
}

// Cloud is a Restate Cloud environment's trust.
type Cloud struct {
	Role, EnvironmentID string
}

// Finding is a flow without its path, or open beyond it.
type Finding struct {
	Stack, Flow, Identity, Resource, Problem string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: flow %q: %s -> %s: %s", f.Stack, f.Flow, f.Identity, f.Resource, f.Problem)
}

// Flows the audit checks.
const (
	FlowHostInternet    = "host -> internet"
	FlowClientsIngress  = "clients -> ingress"
	FlowRegistration    = "registration -> admin API"
	FlowRestateInvoker  = "Restate -> invoker role"
	FlowInvokerLambda   = "invoker -> Lambda"
	FlowHostLogs        = "host -> its log group"
	FlowHostVolume      = "host -> its data volume"
	FlowHostAgent       = "host agent -> its orders, versions and report"
	FlowLambdaLogs      = "Lambda -> its log group"
	FlowCloudInvoker    = "Restate Cloud -> invoker role"
	FlowManagedPolicies = "managed policies"
	FlowFabric          = "nodes -> fabric"
	FlowStore           = "nodes -> the store's prefix"
	FlowLoadBalancer    = "load balancer -> nodes"
	fabricPort          = 5122
	restateCloudRoleARN = "arn:aws:iam::654654156625:role/RestateCloud"
	restateCloudSession = "arn:aws:sts::654654156625:assumed-role/RestateCloud/restate"
	anywhere            = "0.0.0.0/0"
	httpsPort           = 443
)

// managedByDesign are the AWS managed policies a host may carry, which
// grant on "*" by design.
var managedByDesign = []string{
	"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
	"arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}

// Audit checks every stack's flows in the account.
func Audit(a Account, stacks []Stack) []Finding {
	au := &auditor{a: a}
	for i, s := range stacks {
		others := append(slices.Clone(stacks[:i]), stacks[i+1:]...)
		if s.Cluster != nil {
			for i, n := range s.Cluster.Nodes {
				node := s
				node.Host = &n
				au.host(node, others, i == 0)
			}
			au.cluster(s, others)
		} else if s.Host != nil {
			au.host(s, others, true)
		}
		for _, f := range s.Functions {
			au.function(s, f, others)
		}
		if s.Cloud != nil {
			au.cloud(s)
		}
	}
	// Nothing more: every grant and trust of every role the stacks compose
	// is one a flow above asked for.
	for _, s := range stacks {
		var roles []string
		if s.Host != nil {
			roles = append(roles, s.Host.InstanceRole)
		}
		if s.Host != nil || s.Cloud != nil {
			roles = append(roles, s.InvokerRole)
		}
		if s.Cloud != nil {
			roles = append(roles, s.Cloud.Role)
		}
		for _, f := range s.Functions {
			roles = append(roles, f.ExecRole)
		}
		for _, name := range dedupe(roles) {
			if r, ok := au.role(name); ok {
				au.accountFor(s, r)
			}
		}
	}
	return au.findings
}

type auditor struct {
	a        Account
	findings []Finding
	// justified are the grants and trusts the flows ask for.
	justified map[grant]bool
}

func (au *auditor) fail(s Stack, flow, identity, resource, format string, args ...any) {
	au.findings = append(au.findings, Finding{Stack: s.Name, Flow: flow, Identity: identity, Resource: resource, Problem: fmt.Sprintf(format, args...)})
}

// host checks a host's flows; registrar says whether it is where the host
// agent runs (a cluster's node 0; a single host always).
func (au *auditor) host(s Stack, others []Stack, registrar bool) {
	h := s.Host
	inst, ok := find(au.a.Instances, func(i Instance) bool { return i.ID == h.InstanceID })
	if !ok {
		au.fail(s, FlowHostInternet, "instance "+h.InstanceID, "the account", "no such running instance")
		return
	}
	groups := filter(au.a.SecurityGroups, func(g SecurityGroup) bool { return slices.Contains(inst.Groups, g.ID) })
	identity := "instance " + inst.ID

	// Host -> internet: egress on 443 anywhere, a default route, a public
	// address behind an internet gateway.
	if !slices.ContainsFunc(groups, func(g SecurityGroup) bool {
		return slices.ContainsFunc(g.Egress, func(r Rule) bool { return r.covers(httpsPort) && slices.Contains(r.CIDRs, anywhere) })
	}) {
		au.fail(s, FlowHostInternet, identity, "0.0.0.0/0:443", "no egress rule on the instance's groups %v", inst.Groups)
	}
	subnet, _ := find(au.a.Subnets, func(n Subnet) bool { return n.ID == inst.SubnetID })
	route, ok := find(subnet.Routes, func(r Route) bool { return r.Destination == anywhere })
	switch {
	case !ok || !(strings.HasPrefix(route.Gateway, "nat-") || strings.HasPrefix(route.Gateway, "igw-")):
		au.fail(s, FlowHostInternet, identity, "0.0.0.0/0", "subnet %s has no default route to a NAT or internet gateway", inst.SubnetID)
	case strings.HasPrefix(route.Gateway, "igw-") && inst.PublicIP == "":
		au.fail(s, FlowHostInternet, identity, "0.0.0.0/0", "behind internet gateway %s without a public address", route.Gateway)
	}

	// Clients -> ingress, registration -> admin: exactly the declared
	// sources; nothing else open; the admin port never to the world.
	open := map[int][]string{}
	for _, g := range groups {
		for _, r := range g.Ingress {
			for _, port := range []int{h.IngressPort, h.AdminPort} {
				if r.covers(port) {
					open[port] = append(open[port], append(slices.Clone(r.CIDRs), r.Groups...)...)
				}
			}
			if s.Cluster != nil && g.ID == s.Cluster.FabricGroup && r.covers(fabricPort) {
				continue // the fabric flow's (see cluster)
			}
			if !r.covers(h.IngressPort) && !r.covers(h.AdminPort) {
				au.fail(s, FlowClientsIngress, identity, fmt.Sprintf("%s %d-%d", r.Protocol, r.FromPort, r.ToPort), "open beyond the ingress and admin ports, from %v", append(r.CIDRs, r.Groups...))
			}
		}
	}
	for flow, port := range map[string]int{FlowClientsIngress: h.IngressPort, FlowRegistration: h.AdminPort} {
		want := map[int][]string{h.IngressPort: h.IngressSources, h.AdminPort: h.AdminSources}[port]
		got := dedupe(open[port])
		if !sameSet(got, want) {
			au.fail(s, flow, fmt.Sprintf("port %d", port), identity, "open to %v, declared %v", got, want)
		}
		if port == h.AdminPort && slices.Contains(got, anywhere) {
			au.fail(s, flow, fmt.Sprintf("port %d", port), identity, "the admin port is open to the world")
		}
	}

	// Identities.
	profile, found := find(au.a.InstanceProfiles, func(p InstanceProfile) bool { return p.ARN == inst.ProfileARN })
	role, ok := au.role(h.InstanceRole)
	if !ok || !slices.Contains(profile.Roles, role.ARN) {
		au.fail(s, FlowRestateInvoker, identity, "role "+h.InstanceRole, "the instance does not run as its role %s (profile %s, in the account %v, with roles %v)", role.ARN, inst.ProfileARN, found, profile.Roles)
		return
	}
	au.managed(s, role)
	au.justify(role.Name, "sts:AssumeRole", "Service:ec2.amazonaws.com", nil)
	if len(profile.Roles) != 1 {
		au.fail(s, FlowNothingMore, identity, "instance profile "+profile.ARN, "carries the roles %v; only its instance role belongs", profile.Roles)
	}
	hostIdentity := "role " + role.Name
	if invoker, ok := au.role(s.InvokerRole); ok {
		au.justify(role.Name, "sts:AssumeRole", invoker.ARN, nil)
		au.justify(invoker.Name, "sts:AssumeRole", "AWS:"+role.ARN, nil)
		au.allow(s, FlowRestateInvoker, role, "sts:AssumeRole", invoker.ARN, true)
		au.trusts(s, FlowRestateInvoker, invoker, role.ARN, "sts:AssumeRole", nil, true)
		for _, o := range others {
			if o.InvokerRole != "" {
				if other, ok := au.role(o.InvokerRole); ok {
					au.allow(s, FlowRestateInvoker, role, "sts:AssumeRole", other.ARN, false)
				}
			}
			if o.Host != nil {
				if other, ok := au.role(o.Host.InstanceRole); ok {
					au.trusts(s, FlowRestateInvoker, invoker, other.ARN, "sts:AssumeRole", nil, false)
				}
			}
		}
	} else if s.InvokerRole != "" {
		au.fail(s, FlowRestateInvoker, hostIdentity, "role "+s.InvokerRole, "no such role")
	}
	au.volume(s, inst, role, others)
	if registrar {
		au.agent(s, role, others)
	}
	logs, ok := au.logGroup(h.LogGroup)
	if !ok {
		au.fail(s, FlowHostLogs, hostIdentity, "log group "+h.LogGroup, "no such log group")
		return
	}
	for _, action := range []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"} {
		au.justify(role.Name, action, logs+":*", nil)
	}
	for _, action := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		au.allow(s, FlowHostLogs, role, action, logs+":log-stream:i-0example", true)
		for _, o := range others {
			if o.Host != nil {
				if other, ok := au.logGroup(o.Host.LogGroup); ok && other != logs {
					au.allow(s, FlowHostLogs, role, action, other+":log-stream:i-0example", false)
				}
			}
		}
	}
}

// volume checks the host's data volume: encrypted, in the instance's zone,
// and attachable by the host's role exactly there: to its own instance, as
// the instance's tags show it; not the volume of any other stack, not to any
// other stack's instance, nor to an instance of no stack.
func (au *auditor) volume(s Stack, inst Instance, role Role, others []Stack) {
	h := s.Host
	identity := "role " + role.Name
	v, ok := find(au.a.Volumes, func(v Volume) bool { return v.ID == h.DataVolumeID })
	if !ok {
		au.fail(s, FlowHostVolume, identity, "volume "+h.DataVolumeID, "no such volume")
		return
	}
	if !v.Encrypted {
		au.fail(s, FlowHostVolume, identity, "volume "+v.ID, "not encrypted")
	}
	if v.Zone != inst.Zone {
		au.fail(s, FlowHostVolume, identity, "volume "+v.ID, "in zone %s, the instance %s in %s: it cannot attach", v.Zone, inst.ID, inst.Zone)
	}
	account := strings.Split(role.ARN, ":")[4]
	arn := func(region, resource string) string { return "arn:aws:ec2:" + region + ":" + account + ":" + resource }
	tagged := func(i Instance) map[string]string {
		ctx := map[string]string{}
		for k, v := range i.Tags {
			ctx["aws:ResourceTag/"+k] = v
		}
		return ctx
	}
	const attach = "ec2:AttachVolume"
	au.justify(role.Name, attach, arn(v.Region, "volume/"+v.ID), nil)
	for k, val := range inst.Tags {
		au.justify(role.Name, attach, arn(inst.Region, "instance/*"), map[string]map[string][]string{"StringEquals": {"aws:ResourceTag/" + k: {val}}})
	}
	if v.KMSKeyID != "" {
		au.justify(role.Name, "kms:CreateGrant", v.KMSKeyID, map[string]map[string][]string{
			"Bool": {"kms:GrantIsForAWSResource": {"true"}}, "StringEquals": {"kms:ViaService": {"ec2." + v.Region + ".amazonaws.com"}}})
	}
	au.allowWith(s, FlowHostVolume, role, attach, arn(v.Region, "volume/"+v.ID), nil, true)
	au.allowWith(s, FlowHostVolume, role, attach, arn(inst.Region, "instance/"+inst.ID), tagged(inst), true)
	au.allowWith(s, FlowHostVolume, role, attach, arn(inst.Region, "instance/i-0ofnostack"), nil, false)
	for _, o := range others {
		if o.Host == nil {
			continue
		}
		if ov, ok := find(au.a.Volumes, func(x Volume) bool { return x.ID == o.Host.DataVolumeID }); ok {
			au.allowWith(s, FlowHostVolume, role, attach, arn(ov.Region, "volume/"+ov.ID), nil, false)
		}
		if oi, ok := find(au.a.Instances, func(x Instance) bool { return x.ID == o.Host.InstanceID }); ok {
			au.allowWith(s, FlowHostVolume, role, attach, arn(oi.Region, "instance/"+oi.ID), tagged(oi), false)
		}
	}
}

// agent checks the host agent's grants, both sides: its own orders secret,
// not another stack's; versions of its own functions published and
// deleted, never a function itself nor another stack's; its own tag keys
// on its own volume, not another key, not a DeleteTags without keys (which
// deletes every tag), not another stack's volume. A host registered by
// Jobs has none of it.
func (au *auditor) agent(s Stack, role Role, others []Stack) {
	h := s.Host
	v, _ := find(au.a.Volumes, func(v Volume) bool { return v.ID == h.DataVolumeID })
	account := strings.Split(role.ARN, ":")[4]
	volumeARN := func(region, id string) string { return "arn:aws:ec2:" + region + ":" + account + ":volume/" + id }
	tags := func(action, resource string, keys ...string) iampolicy.Request {
		return iampolicy.Request{Action: action, Resource: resource, Values: map[string][]string{"aws:TagKeys": keys}}
	}
	own := volumeARN(v.Region, v.ID)
	if h.OrdersSecret == "" {
		au.allowReq(s, FlowHostAgent, role, tags("ec2:CreateTags", own, "restate-agent/heartbeat"), false)
		for _, f := range s.Functions {
			if fn, ok := find(au.a.Functions, func(x Function) bool { return x.Name == f.Name }); ok {
				au.allowReq(s, FlowHostAgent, role, iampolicy.Request{Action: "lambda:PublishVersion", Resource: fn.ARN}, false)
			}
		}
		return
	}
	secret, ok := find(au.a.Secrets, func(x Secret) bool { return x.Name == h.OrdersSecret || x.ARN == h.OrdersSecret })
	if !ok {
		au.fail(s, FlowHostAgent, "role "+role.Name, "secret "+h.OrdersSecret, "no such secret")
		return
	}
	au.justify(role.Name, "secretsmanager:GetSecretValue", secret.ARN[:max(len(secret.ARN)-7, 0)]+"-??????", nil)
	for _, a := range []string{"ec2:CreateTags", "ec2:DeleteTags"} {
		au.justify(role.Name, a, own, map[string]map[string][]string{
			"ForAllValues:StringLike": {"aws:TagKeys": {"restate-agent/*"}}, "Null": {"aws:TagKeys": {"false"}}})
	}
	au.allow(s, FlowHostAgent, role, "secretsmanager:GetSecretValue", secret.ARN, true)
	au.allowReq(s, FlowHostAgent, role, tags("ec2:CreateTags", own, "restate-agent/heartbeat", "restate-agent/svc/x"), true)
	au.allowReq(s, FlowHostAgent, role, tags("ec2:DeleteTags", own, "restate-agent/svc/x"), true)
	au.allowReq(s, FlowHostAgent, role, tags("ec2:CreateTags", own, "restate-agent/heartbeat", "Name"), false)
	au.allowReq(s, FlowHostAgent, role, iampolicy.Request{Action: "ec2:DeleteTags", Resource: own}, false)
	for _, f := range s.Functions {
		fn, ok := find(au.a.Functions, func(x Function) bool { return x.Name == f.Name })
		if !ok {
			continue
		}
		au.justify(role.Name, "lambda:PublishVersion", fn.ARN, nil)
		au.justify(role.Name, "lambda:DeleteFunction", fn.ARN+":*", nil)
		au.allow(s, FlowHostAgent, role, "lambda:PublishVersion", fn.ARN, true)
		au.allow(s, FlowHostAgent, role, "lambda:DeleteFunction", fn.ARN+":1", true)
		au.allow(s, FlowHostAgent, role, "lambda:DeleteFunction", fn.ARN, false)
	}
	for _, o := range others {
		for _, f := range o.Functions {
			if fn, ok := find(au.a.Functions, func(x Function) bool { return x.Name == f.Name }); ok {
				au.allow(s, FlowHostAgent, role, "lambda:PublishVersion", fn.ARN, false)
				au.allow(s, FlowHostAgent, role, "lambda:DeleteFunction", fn.ARN+":1", false)
			}
		}
		if o.Host == nil {
			continue
		}
		if ov, ok := find(au.a.Volumes, func(x Volume) bool { return x.ID == o.Host.DataVolumeID }); ok {
			au.allowReq(s, FlowHostAgent, role, tags("ec2:CreateTags", volumeARN(ov.Region, ov.ID), "restate-agent/heartbeat"), false)
		}
		if osec, ok := find(au.a.Secrets, func(x Secret) bool {
			return o.Host.OrdersSecret != "" && (x.Name == o.Host.OrdersSecret || x.ARN == o.Host.OrdersSecret)
		}); ok {
			au.allow(s, FlowHostAgent, role, "secretsmanager:GetSecretValue", osec.ARN, false)
		}
	}
}

func (au *auditor) function(s Stack, f StackFunction, others []Stack) {
	fn, ok := find(au.a.Functions, func(x Function) bool { return x.Name == f.Name })
	if !ok {
		au.fail(s, FlowInvokerLambda, "the stack", "function "+f.Name, "no such function")
		return
	}
	if invoker, ok := au.role(s.InvokerRole); ok {
		au.justify(invoker.Name, "lambda:InvokeFunction", fn.ARN, nil)
		au.justify(invoker.Name, "lambda:InvokeFunction", fn.ARN+":*", nil)
		for _, arn := range []string{fn.ARN, fn.ARN + ":$LATEST", fn.ARN + ":1"} {
			au.allow(s, FlowInvokerLambda, invoker, "lambda:InvokeFunction", arn, true)
		}
		for _, o := range others {
			for _, of := range o.Functions {
				if other, ok := find(au.a.Functions, func(x Function) bool { return x.Name == of.Name }); ok {
					au.allow(s, FlowInvokerLambda, invoker, "lambda:InvokeFunction", other.ARN, false)
				}
			}
		}
	}
	exec, ok := au.role(f.ExecRole)
	if !ok || exec.ARN != fn.Role {
		au.fail(s, FlowLambdaLogs, "function "+f.Name, "role "+f.ExecRole, "the function does not run as its role (%s)", fn.Role)
		return
	}
	au.managed(s, exec)
	au.justify(exec.Name, "sts:AssumeRole", "Service:lambda.amazonaws.com", nil)
	au.trusts(s, FlowLambdaLogs, exec, "lambda.amazonaws.com", "sts:AssumeRole", nil, true)
	own, ok := au.logGroup("/aws/lambda/" + f.Name)
	if !ok {
		// Lambda creates it on the first invocation; its ARN is known.
		own = strings.Replace(fn.ARN, ":lambda:", ":logs:", 1)
		own = own[:strings.Index(own, ":function:")] + ":log-group:/aws/lambda/" + f.Name
	}
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		au.justify(exec.Name, a, own+":*", nil)
	}
	au.allow(s, FlowLambdaLogs, exec, "logs:PutLogEvents", own+":log-stream:2026/01/01/[$LATEST]x", true)
	for _, o := range append(others, s) {
		for _, of := range o.Functions {
			if of.Name != f.Name {
				other := own[:strings.Index(own, ":log-group:")] + ":log-group:/aws/lambda/" + of.Name
				au.allow(s, FlowLambdaLogs, exec, "logs:PutLogEvents", other+":log-stream:x", false)
			}
		}
	}
}

func (au *auditor) cloud(s Stack) {
	role, ok := au.role(s.Cloud.Role)
	if !ok {
		au.fail(s, FlowCloudInvoker, "Restate Cloud", "role "+s.Cloud.Role, "no such role")
		return
	}
	good := map[string]string{"sts:ExternalId": s.Cloud.EnvironmentID, "aws:PrincipalArn": restateCloudRoleARN}
	const restateAccount = "AWS:arn:aws:iam::654654156625:root"
	au.justify(role.Name, "sts:AssumeRole", restateAccount, map[string]map[string][]string{
		"StringEquals": {"sts:ExternalId": {s.Cloud.EnvironmentID}, "aws:PrincipalArn": {restateCloudRoleARN}}})
	au.justify(role.Name, "sts:TagSession", restateAccount, nil)
	au.trusts(s, FlowCloudInvoker, role, restateCloudSession, "sts:AssumeRole", good, true)
	au.trusts(s, FlowCloudInvoker, role, restateCloudSession, "sts:AssumeRole", map[string]string{"aws:PrincipalArn": restateCloudRoleARN}, false)
	au.trusts(s, FlowCloudInvoker, role, restateCloudSession, "sts:AssumeRole", map[string]string{"sts:ExternalId": "env_another", "aws:PrincipalArn": restateCloudRoleARN}, false)
	au.trusts(s, FlowCloudInvoker, role, "arn:aws:sts::111122223333:assumed-role/Other/x", "sts:AssumeRole", good, false)
	// Another principal of Restate's own account, with the right external
	// id: only Restate Cloud's role may assume this one.
	au.trusts(s, FlowCloudInvoker, role, "arn:aws:sts::654654156625:assumed-role/Other/x", "sts:AssumeRole",
		map[string]string{"sts:ExternalId": s.Cloud.EnvironmentID, "aws:PrincipalArn": "arn:aws:iam::654654156625:role/Other"}, false)
}

// allow checks that a role's inline policies allow (or, want false, deny)
// an action on a resource.
func (au *auditor) allow(s Stack, flow string, r Role, action, resource string, want bool) {
	au.allowWith(s, flow, r, action, resource, nil, want)
}

// allowWith is allow with the request's condition keys (a resource's tags,
// say).
func (au *auditor) allowWith(s Stack, flow string, r Role, action, resource string, ctx map[string]string, want bool) {
	au.allowReq(s, flow, r, iampolicy.Request{Action: action, Resource: resource, Context: ctx}, want)
}

// allowReq checks one request against a role's inline policies.
func (au *auditor) allowReq(s Stack, flow string, r Role, req iampolicy.Request, want bool) {
	allowed := false
	for name, doc := range r.Inline {
		d, err := iampolicy.Parse(doc)
		if err != nil {
			au.fail(s, flow, "role "+r.Name, "policy "+name, "cannot be evaluated: %v", err)
			continue
		}
		allowed = allowed || d.Allows(req)
	}
	if allowed != want {
		what := req.Action
		if keys, ok := req.Values["aws:TagKeys"]; ok {
			what += fmt.Sprintf(" of tags %v", keys)
		}
		au.fail(s, flow, "role "+r.Name, req.Resource, "%s %s, want %s", what, verdict(allowed), verdict(want))
	}
}

// trusts checks that a role's trust lets (or, want false, does not let) a
// principal do an action.
func (au *auditor) trusts(s Stack, flow string, r Role, principal, action string, ctx map[string]string, want bool) {
	d, err := iampolicy.Parse(r.Trust)
	if err != nil {
		au.fail(s, flow, principal, "trust of role "+r.Name, "cannot be evaluated: %v", err)
		return
	}
	if got := d.Trusts(iampolicy.Request{Principal: principal, Action: action, Context: ctx}); got != want {
		au.fail(s, flow, principal, "role "+r.Name, "%s with %v %s, want %s", action, ctx, verdict(got), verdict(want))
	}
}

// managed records the managed policies a role carries: those that grant
// on "*" by design are expected; any other is a finding.
func (au *auditor) managed(s Stack, r Role) {
	for _, p := range r.Attached {
		if !slices.Contains(managedByDesign, p) {
			au.fail(s, FlowManagedPolicies, "role "+r.Name, p, "an attached policy outside those granted on * by design (%v)", managedByDesign)
		}
	}
}

func (au *auditor) role(name string) (Role, bool) {
	return find(au.a.Roles, func(r Role) bool { return name != "" && r.Name == name })
}

// logGroup is a log group's ARN without the ":*" AWS appends.
func (au *auditor) logGroup(name string) (string, bool) {
	g, ok := find(au.a.LogGroups, func(g LogGroup) bool { return g.Name == name })
	return strings.TrimSuffix(g.ARN, ":*"), ok
}

// covers says whether a rule opens a TCP port (all traffic included).
func (r Rule) covers(port int) bool {
	if r.Protocol == "-1" {
		return true
	}
	return r.Protocol == "tcp" && r.FromPort <= port && port <= r.ToPort
}

func verdict(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}

func find[T any](xs []T, f func(T) bool) (T, bool) {
	for _, x := range xs {
		if f(x) {
			return x, true
		}
	}
	var zero T
	return zero, false
}

func filter[T any](xs []T, f func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if f(x) {
			out = append(out, x)
		}
	}
	return out
}

func dedupe(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

func sameSet(a, b []string) bool {
	return slices.Equal(dedupe(a), dedupe(b))
}
