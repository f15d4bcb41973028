// Package providersim is a stand-in for provider-aws, which cannot reach AWS
// in a local render, and for the job controller and kubelet, which do not
// run there. It does to a composed resource what the provider would after a
// successful create and observe: it sets the external name, the Ready and
// Synced conditions, and the status fields that AWS fills in (ids, ARNs, DNS
// names); a registration Job completes, with the report register would
// write. Values are fake but well formed and stable: the same resource
// always gets the same ids. Local renders (the second reconcile) and
// end-to-end tests use it; nothing in the function does.
package providersim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

// Account is the AWS account id the stand-in reports in ARNs.
const Account = "123456789012"

// transitionTime is fixed so that rendered output is stable.
const transitionTime = "2026-01-01T00:00:00Z"

// Observe marks a composed resource as created and ready, as provider-aws
// would report it; a registration Job as complete, as the job controller
// would once register succeeded (see ObserveAll for what it reports).
// Registration's other Kubernetes objects only need to exist.
func Observe(u *unstructured.Unstructured) error {
	if k, ok := kinds.Of(u.GroupVersionKind()); ok && !k.AWS {
		if k.Ready == kinds.JobComplete {
			return unstructured.SetNestedMap(u.Object, map[string]any{"succeeded": int64(1), "conditions": []any{
				map[string]any{"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": transitionTime},
				map[string]any{"type": "Complete", "status": "True", "lastTransitionTime": transitionTime},
			}}, "status")
		}
		return nil
	}
	name := u.GetName()
	region, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "region")
	id := func(prefix string) string { return prefix + "-" + hexOf(name, 17) }
	at := map[string]any{}
	external := name

	switch u.GetKind() {
	case "VPC":
		external = id("vpc")
		at["vpcId"], at["vpcState"], at["ownerId"] = external, "available", Account
	case "Subnet":
		external = id("subnet")
		at["subnetId"], at["subnetState"] = external, "available"
	case "InternetGateway":
		external = id("igw")
		at["internetGatewayId"], at["ownerID"] = external, Account
	case "RouteTable":
		external = id("rtb")
		at["routeTableId"], at["ownerId"] = external, Account
	case "Address":
		external = id("eipalloc")
		at["allocationId"], at["domain"], at["publicIp"] = external, "vpc", ipOf(name, "203.0.113.")
		at["networkInterfaceId"], at["privateIpAddress"] = id("eni"), ipOf(name, "10.0.0.")
	case "NATGateway":
		external = id("nat")
		at["natGatewayId"], at["state"] = external, "available"
	case "SecurityGroup":
		external = id("sg")
		at["securityGroupID"], at["ownerId"] = external, Account
	case "SecurityGroupRule":
		external = id("sgr")
		at["SecurityGroupRuleId"] = external
	case "Role":
		at["arn"], at["roleID"] = "arn:aws:iam::"+Account+":role/"+name, "AROA"+strings.ToUpper(hexOf(name, 17))
	case "RolePolicyAttachment":
		policy, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "policyArn")
		at["attachedPolicyArn"] = policy
	case "InstanceProfile":
		at["arn"], at["instanceProfileName"] = "arn:aws:iam::"+Account+":instance-profile/"+name, name
	case "LogGroup":
		group, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "logGroupName")
		external = group
		at["arn"] = fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", region, Account, group)
		at["logGroupName"] = group
	case "Function":
		// The code hash changes with the code source, as Lambda's would
		// with new code.
		code, _, _ := unstructured.NestedMap(u.Object, "spec", "forProvider", "code")
		role, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "roleRef", "name")
		sum := sha256.Sum256([]byte(fmt.Sprint(code)))
		at["functionARN"] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, Account, name)
		at["functionName"], at["version"], at["state"], at["lastUpdateStatus"] = name, "$LATEST", "Active", "Successful"
		at["codeSHA256"] = base64.StdEncoding.EncodeToString(sum[:])
		at["role"] = "arn:aws:iam::" + Account + ":role/" + role
	case "Secret": // Secrets Manager's: the name and six random characters
		at["arn"] = fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", region, Account, name, hexOf(name, 6))
	case "Volume":
		external = id("vol")
		at["volumeID"], at["state"] = external, "available"
		kms, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "kmsKeyId")
		at["kmsKeyID"] = kms
	case "Instance":
		external = id("i")
		ip := ipOf(name, "10.0.1.")
		at["instanceId"], at["state"], at["privateIpAddress"] = external, "running", ip
		// Required by the provider's status schema (its spelling).
		itype, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "instanceType")
		arch := "x86_64"
		if image, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "imageId"); strings.HasSuffix(image, "arm64") {
			arch = "arm64"
		}
		at["instanceType"], at["architecture"], at["platform"] = itype, arch, "Linux/UNIX"
		at["rootDeviceType"], at["virualizationType"] = "ebs", "hvm"
		at["privateDnsName"] = "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + region + ".compute.internal"
		subnet, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "subnetIdRef", "name")
		if strings.HasSuffix(subnet, "-subnet-public") {
			pub := ipOf(name, "198.51.100.")
			at["publicIpAddress"] = pub
			at["publicDnsName"] = "ec2-" + strings.ReplaceAll(pub, ".", "-") + "." + region + ".compute.amazonaws.com"
		}
	case "HostedZone":
		external = "Z" + strings.ToUpper(hexOf(name, 20))
		at["hostedZone"] = map[string]any{"id": "/hostedzone/" + external, "resourceRecordSetCount": int64(2)}
	case "ResourceRecordSet", "Target":
		// Named by the external name the stack sets.
		external = u.GetAnnotations()["crossplane.io/external-name"]
		if u.GetKind() == "Target" {
			at["targetHealth"] = map[string]any{"state": "healthy"}
		}
	case "LoadBalancer":
		lb, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "name")
		// Named by its ARN, as the provider's references read it.
		external = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/net/%s/%s", region, Account, lb, hexOf(name, 16))
		at["loadBalancerARN"] = external
		at["dnsName"] = fmt.Sprintf("internal-%s-%s.elb.%s.amazonaws.com", lb, hexOf(name, 10), region)
		at["loadBalancerName"] = lb
	case "TargetGroup":
		external = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", region, Account, name, hexOf(name, 16))
	case "Listener":
		external = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:listener/net/%s/%s", region, Account, name, hexOf(name, 16))
		at["listenerARN"] = external
	}

	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann["crossplane.io/external-name"] = external
	u.SetAnnotations(ann)
	return unstructured.SetNestedMap(u.Object, map[string]any{
		"atProvider": at,
		"conditions": []any{
			condition("Ready", "Available"),
			condition("Synced", "ReconcileSuccess"),
		},
	}, "status")
}

// ObserveAll observes every composed resource and plays the part of each
// registration Job: the report ConfigMap of a Job holds what register
// would have written, derived from the Job's arguments (Latest registers
// $LATEST, Published version 1). It plays the host agent too: the data
// volume's tags report every order of the agent's orders as done.
func ObserveAll(composed []*unstructured.Unstructured) error {
	args := map[string][]string{}
	var orders *agentcontract.Orders
	for _, u := range composed {
		if err := Observe(u); err != nil {
			return err
		}
		switch {
		case u.GetKind() == "Job":
			args[u.GetName()] = JobArgs(u.Object)
		case u.GetKind() == "Secret" && u.GetAPIVersion() == "v1":
			o, err := ordersOf(u)
			if err != nil {
				return fmt.Errorf("Secret %s: %w", u.GetName(), err)
			}
			if o != nil {
				orders = o
			}
		}
	}
	if orders != nil {
		for _, u := range composed {
			if u.GetKind() == "Volume" {
				if err := playAgent(u, *orders); err != nil {
					return err
				}
			}
		}
	}
	for _, u := range composed {
		if u.GetKind() != "ConfigMap" {
			continue
		}
		if a, ok := args[u.GetName()]; ok {
			report, err := ReportOf(a)
			if err != nil {
				return fmt.Errorf("Job %s: %w", u.GetName(), err)
			}
			if err := unstructured.SetNestedStringMap(u.Object, report, "data"); err != nil {
				return err
			}
		}
	}
	return nil
}

// JobArgs are the arguments of a registration Job's container: the
// register command line. A Job without a container has none.
func JobArgs(job map[string]any) []string {
	cs, _, _ := unstructured.NestedSlice(job, "spec", "template", "spec", "containers")
	if len(cs) == 0 {
		return nil
	}
	c, _ := cs[0].(map[string]any)
	a, _, _ := unstructured.NestedStringSlice(c, "args")
	return a
}

// ReportOf is what register reports for its arguments: Latest registers
// $LATEST, Published version 1.
func ReportOf(line []string) (map[string]string, error) {
	a, err := regcontract.Parse(line)
	if err != nil {
		return nil, err
	}
	r := regcontract.Report{Endpoint: a.URI, Services: []string{a.ExpectedService}}
	if a.LambdaARN != "" {
		r.Version = "$LATEST"
		if a.Versioning == regcontract.VersioningPublished {
			r.Version = "1"
		}
		r.Endpoint = a.LambdaARN + ":" + r.Version
	}
	if a.ExpectedService == "" {
		r.Services = []string{"Greeter"}
	}
	r.DeploymentID = "dp_" + hexOf(r.Endpoint, 20)
	return r.Data(), nil
}

func condition(typ, reason string) map[string]any {
	return map[string]any{"type": typ, "status": "True", "reason": reason, "lastTransitionTime": transitionTime}
}

func hexOf(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:n]
}

// ipOf picks a stable host address in a /24.
func ipOf(s, prefix string) string {
	h := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%s%d", prefix, 10+int(h[0])%200)
}

// ordersOf reads the host agent's orders from a Kubernetes Secret, if it
// holds them.
func ordersOf(u *unstructured.Unstructured) (*agentcontract.Orders, error) {
	raw, ok, _ := unstructured.NestedString(u.Object, "data", agentcontract.SecretKey)
	if !ok {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, err
	}
	o, err := agentcontract.ParseOrders(b)
	return &o, err
}

// playAgent writes the report the host agent would once every order is
// applied, among the volume's own tags, as provider-aws reports a volume's
// tags: Latest registers $LATEST, Published version 1. The heartbeat is
// the time of the render, which is never in rendered output.
func playAgent(u *unstructured.Unstructured, o agentcontract.Orders) error {
	var tags []any
	specs, _, _ := unstructured.NestedSlice(u.Object, "spec", "forProvider", "tagSpecifications")
	for _, s := range specs {
		m, _ := s.(map[string]any)
		list, _ := m["tags"].([]any)
		tags = append(tags, list...)
	}
	add := func(k, v string) { tags = append(tags, map[string]any{"key": k, "value": v}) }
	add(agentcontract.TagHeartbeat, agentcontract.HeartbeatValue(time.Now()))
	for _, ord := range o.Register {
		report, err := ReportOf(ord.Command)
		if err != nil {
			return fmt.Errorf("order of %s: %w", ord.Service, err)
		}
		add(agentcontract.ServiceKey(ord.Service), agentcontract.ServiceReport{Revision: ord.Revision,
			DeploymentID: report[regcontract.ReportDeploymentID], Version: report[regcontract.ReportVersion]}.Value())
	}
	for _, ord := range o.Deregister {
		add(agentcontract.GoneKey(ord.Service), ord.Revision)
	}
	return unstructured.SetNestedSlice(u.Object, tags, "status", "atProvider", "tags")
}
