package selfhosted

import (
	"encoding/json"
	"strings"

	ec2manual "github.com/crossplane-contrib/provider-aws/apis/ec2/manualv1alpha1"
	elbv2manual "github.com/crossplane-contrib/provider-aws/apis/elbv2/manualv1alpha1"
	elbv2 "github.com/crossplane-contrib/provider-aws/apis/elbv2/v1alpha1"
	route53 "github.com/crossplane-contrib/provider-aws/apis/route53/v1alpha1"
	xpv1 "github.com/crossplane/crossplane-runtime/apis/common/v1"
	"github.com/crossplane/crossplane-runtime/pkg/meta"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// Keys of the cluster's names and load balancer. The load balancer's kinds
// never apply an update in provider-aws: a target group or listener that
// changes is a new one, under a key (and name) with a hash of what it is.
const (
	KeyDNSZone           = "dns-zone"
	KeyNodeRecordPrefix  = "dns-"
	KeyLBGroup           = "security-group-lb"
	KeyLBRulePrefix      = "security-group-rule-lb-"
	KeyLoadBalancer      = "load-balancer"
	KeyTargetGroupPrefix = "target-group-"
	KeyListenerPrefix    = "listener-"
	KeyTargetPrefix      = "target-"
)

// buildNames composes the cluster's private hosted zone and one record per
// node, the name every other node's configuration knows it by. A record is
// composed once its instance's address is known, and follows the instance
// a node is replaced with (Route 53 upserts).
func (e *Env) buildNames(s *stack.Stack, at placement) []stack.Part {
	parts := []stack.Part{{Key: KeyDNSZone, MR: &route53.HostedZone{Spec: route53.HostedZoneSpec{ForProvider: route53.HostedZoneParameters{
		Name:   e.DNSZone,
		Config: &route53.Config{PrivateZone: ptr.To(true), Comment: ptr.To("Restate cluster nodes of stack " + s.Name)},
		VPC:    &route53.VPC{VPCIDRef: at.VPCRef, VPCRegion: ptr.To(s.Region)},
	}}}}}
	for i, key := range e.instanceKeys {
		ip := e.obs.Str(key, "status.atProvider.privateIpAddress")
		if ip == "" {
			continue
		}
		rr := &route53.ResourceRecordSet{Spec: route53.ResourceRecordSetSpec{ForProvider: route53.ResourceRecordSetParameters{
			Type:            "A",
			TTL:             ptr.To[int64](30),
			ResourceRecords: []route53.ResourceRecord{{Value: ip}},
			ZoneIDRef:       &xpv1.Reference{Name: stack.ResourceName(s.Name, KeyDNSZone)},
		}}}
		// provider-aws names a record by its external name.
		meta.SetExternalName(rr, nodeName(i)+"."+e.DNSZone)
		parts = append(parts, stack.Part{Key: KeyNodeRecordPrefix + nodeName(i), MR: rr})
	}
	return parts
}

// endpoint is one of the two services the load balancer fronts.
type endpoint struct {
	role       string
	port       int32
	healthPath string
}

// endpoints are the cluster's ingress and admin API, with the paths Restate
// answers health checks on.
func (s *Server) endpoints() []endpoint {
	ingress, admin := s.Ports()
	return []endpoint{{"ingress", ingress, "/restate/health"}, {"admin", admin, "/health"}}
}

// targetGroup is an endpoint's target group and its key.
func (e *Env) targetGroup(s *stack.Stack, ep endpoint, at placement) (string, *elbv2.TargetGroup) {
	proto := "HTTP"
	if e.TLSEnabled() {
		proto = "HTTPS"
	}
	p := elbv2.TargetGroupParameters{
		Port:                ptr.To(int64(ep.port)),
		Protocol:            ptr.To("TCP"),
		TargetType:          ptr.To("instance"),
		HealthCheckProtocol: ptr.To(proto),
		HealthCheckPath:     ptr.To(ep.healthPath),
		HealthCheckPort:     ptr.To("traffic-port"),
		CustomTargetGroupParameters: elbv2.CustomTargetGroupParameters{
			VPCIDRef: at.VPCRef,
		},
	}
	raw, _ := json.Marshal(p)
	key := KeyTargetGroupPrefix + ep.role + "-" + stack.HashOf(string(raw))
	p.Name = ptr.To(elbName(s, key))
	return key, &elbv2.TargetGroup{Spec: elbv2.TargetGroupSpec{ForProvider: p}}
}

// elbName is an elbv2 resource's name: 32 characters at most, unique to the
// stack and key.
func elbName(s *stack.Stack, key string) string {
	role := key
	if i := strings.LastIndex(key, "-"); i > 0 && len(key)-i-1 == len(stack.HashOf()) {
		role = key[:i] // the hash is in the name's own
	}
	role = strings.NewReplacer(KeyTargetGroupPrefix, "tg-", KeyListenerPrefix, "l-", KeyLoadBalancer, "lb").Replace(role)
	if len(role) > 14 {
		role = role[:14]
	}
	return "rs-" + stack.HashOf(s.Name, key) + "-" + strings.TrimSuffix(role, "-")
}

// targetKeys are the keys of the targets that register a node's instance
// in the target groups.
func (e *Env) targetKeys(i int, instanceKey string) []string {
	keys := make([]string, len(e.targetGroupKeys))
	for j, tg := range e.targetGroupKeys {
		keys[j] = KeyTargetPrefix + e.endpoints()[j].role + "-" + nodeName(i) + "-" + stack.HashOf(tg, instanceKey)
	}
	return keys
}

// buildLoadBalancer composes the internal Network Load Balancer across the
// zones' private subnets, its own group (its listeners open only to the
// ingress and admin groups' members, as the nodes are), a target group
// and listener per endpoint, and a target per node's instance once its id
// is known. Target health is what the targets' readiness reads, so the
// stack is ready when the cluster serves.
func (e *Env) buildLoadBalancer(s *stack.Stack, sh *Server, at map[string]placement) []stack.Part {
	zone0 := at[sh.Cluster.Zones[0]]
	lb := &elbv2.LoadBalancer{Spec: elbv2.LoadBalancerSpec{ForProvider: elbv2.LoadBalancerParameters{
		Name:   ptr.To(elbName(s, KeyLoadBalancer)),
		Scheme: ptr.To("internal"),
		CustomLoadBalancerParameters: elbv2.CustomLoadBalancerParameters{
			Type:              ptr.To("network"),
			SecurityGroupRefs: []xpv1.Reference{{Name: stack.ResourceName(s.Name, KeyLBGroup)}},
		},
	}}}
	for _, z := range sh.Cluster.Zones {
		lb.Spec.ForProvider.SubnetRefs = append(lb.Spec.ForProvider.SubnetRefs, *at[z].SubnetRef)
	}
	parts := []stack.Part{
		{Key: KeyLBGroup, MR: securityGroup(s, KeyLBGroup, "Restate cluster load balancer: "+stack.ResourceName(s.Name, KeyLBGroup), zone0)},
		// A load balancer's groups are set at creation only.
		{Key: KeyLoadBalancer, MR: lb, Needs: []string{KeyLBGroup}},
	}
	rule := func(key, group, source string, port int32, egress bool, description string) stack.Part {
		p := ingressRule(s, group, port, description)
		if egress {
			p.Type = ptr.To("egress")
		}
		if source == anywhere {
			p.CidrBlock = ptr.To(anywhere)
		} else {
			p.SourceSecurityGroupIDRef = &xpv1.Reference{Name: stack.ResourceName(s.Name, source)}
		}
		return stack.Part{Key: key, MR: &ec2manual.SecurityGroupRule{Spec: ec2manual.SecurityGroupRuleSpec{ForProvider: p}}}
	}
	groups := map[string]string{"ingress": KeyIngressGroup, "admin": KeyAdminGroup}
	for j, ep := range sh.endpoints() {
		group := groups[ep.role]
		from := group
		if ep.role == "ingress" && sh.PublicIngress {
			from = anywhere
		}
		parts = append(parts,
			rule(KeyLBRulePrefix+ep.role+"-in", KeyLBGroup, from, ep.port, false, "Restate "+ep.role+" through the load balancer, from members of the "+ep.role+" group"),
			rule(KeyLBRulePrefix+ep.role+"-out", KeyLBGroup, group, ep.port, true, "Restate "+ep.role+": the load balancer to the nodes"),
			rule(KeyLBRulePrefix+ep.role+"-nodes", group, KeyLBGroup, ep.port, false, "Restate "+ep.role+" on the nodes, from the load balancer"),
		)
		tgKey := e.targetGroupKeys[j]
		_, tg := e.targetGroup(s, ep, zone0)
		// The listener names its load balancer and target group by ARN
		// (their external names), not by reference: provider-aws resolves
		// a reference inside defaultActions into that list, which
		// Crossplane's apply then replaces whole, and the two fight over
		// it; under faults the list was once lost ("defaultActions:
		// Required value") and the listener stuck. So it waits for both.
		action := &elbv2.CustomAction{Type: ptr.To("forward")}
		listener := &elbv2.Listener{Spec: elbv2.ListenerSpec{ForProvider: elbv2.ListenerParameters{
			Port:                     ptr.To(int64(ep.port)),
			Protocol:                 ptr.To("TCP"),
			CustomListenerParameters: elbv2.CustomListenerParameters{DefaultActions: []*elbv2.CustomAction{action}},
		}}}
		if arn := e.obs.Annotation(KeyLoadBalancer, meta.AnnotationKeyExternalName); arn != "" {
			listener.Spec.ForProvider.LoadBalancerARN = ptr.To(arn)
		} else {
			listener.Spec.ForProvider.LoadBalancerARNRef = &xpv1.Reference{Name: stack.ResourceName(s.Name, KeyLoadBalancer)}
		}
		if arn := e.obs.Annotation(tgKey, meta.AnnotationKeyExternalName); arn != "" {
			action.TargetGroupARN = ptr.To(arn)
		} else {
			action.TargetGroupARNRef = &xpv1.Reference{Name: stack.ResourceName(s.Name, tgKey)}
		}
		listenerKey := KeyListenerPrefix + ep.role + "-" + stack.HashOf(tgKey)
		parts = append(parts,
			stack.Part{Key: tgKey, MR: tg},
			stack.Part{Key: listenerKey, MR: listener, Needs: []string{KeyLoadBalancer, tgKey}},
		)
	}
	// Registration Jobs reach the admin API through the load balancer, the
	// URL the stack reports: the platform's declared sources may reach its
	// admin listener, as they reach each node's admin port.
	parts = append(parts, adminAccessRules(s, sh, KeyLBGroup, KeyLBRulePrefix+"admin-from-", "Restate admin API through the load balancer, from registration Jobs at ")...)
	current := map[string]bool{}
	for i := range e.instanceKeys {
		for _, key := range e.composedInstances[i] {
			id := e.obs.Str(key, "status.atProvider.instanceId")
			if id == "" {
				continue
			}
			for j, tk := range e.targetKeys(i, key) {
				t := &elbv2manual.Target{Spec: elbv2manual.TargetSpec{ForProvider: elbv2manual.TargetParameters{
					TargetGroupARNRef: &xpv1.Reference{Name: stack.ResourceName(s.Name, e.targetGroupKeys[j])},
				}}}
				// provider-aws registers the target its external name names.
				meta.SetExternalName(t, id)
				// provider-aws's Target can never be deleted once its group
				// is gone (it describes the target's health first, which
				// then fails forever), and a stack's deletion deletes the
				// group beside it: a target is orphaned, its registration
				// going with its group. One whose instance is replaced is
				// deregistered first (retiredTargets).
				t.SetDeletionPolicy(xpv1.DeletionOrphan)
				parts = append(parts, stack.Part{Key: tk, MR: t})
				current[tk] = true
			}
		}
	}
	return append(parts, e.retiredTargets(current)...)
}

// retiredTargets deregisters the targets of replaced instances in two
// steps: a target still orphaned on deletion is composed once more with
// deletion policy Delete, and withdrawn once observed so, while its group
// is there to deregister it from.
func (e *Env) retiredTargets(current map[string]bool) []stack.Part {
	var parts []stack.Part
	for _, key := range stack.SortedKeys(e.obs) {
		if !strings.HasPrefix(key, KeyTargetPrefix) || strings.HasPrefix(key, KeyTargetGroupPrefix) || current[key] {
			continue
		}
		if e.obs.Str(key, "spec.deletionPolicy") == string(xpv1.DeletionDelete) {
			continue // withdrawn: Crossplane deletes it, and provider-aws deregisters it
		}
		t := &elbv2manual.Target{Spec: elbv2manual.TargetSpec{ForProvider: elbv2manual.TargetParameters{
			TargetGroupARN: ptr.To(e.obs.Str(key, "spec.forProvider.targetGroupArn")),
		}}}
		if ref := e.obs.Str(key, "spec.forProvider.targetGroupArnRef.name"); ref != "" {
			t.Spec.ForProvider.TargetGroupARNRef = &xpv1.Reference{Name: ref}
		}
		meta.SetExternalName(t, e.obs.Annotation(key, meta.AnnotationKeyExternalName))
		t.SetDeletionPolicy(xpv1.DeletionDelete)
		parts = append(parts, stack.Part{Key: key, MR: t})
	}
	return parts
}
