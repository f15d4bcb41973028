package accountaudit

import (
	"fmt"
	"strings"
	"testing"
)

const acct = "123456789012"

func roleARN(name string) string { return "arn:aws:iam::" + acct + ":role/" + name }
func fnARN(name string) string   { return "arn:aws:lambda:eu-central-1:" + acct + ":function:" + name }
func logARN(group string) string {
	return "arn:aws:logs:eu-central-1:" + acct + ":log-group:" + group + ":*"
}

func policy(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func allow(action string, resources ...string) string {
	return fmt.Sprintf(`{"Effect":"Allow","Action":[%q],"Resource":["%s"]}`, action, strings.Join(resources, `","`))
}

// healthy is an account in which two self-hosted stacks (a and b), each
// with a function, are built as the function composes them, with egress;
// a registers with its host agent, b with Jobs.
func healthy() (Account, []Stack) {
	var a Account
	var stacks []Stack
	for i, name := range []string{"a", "b"} {
		sgIngress, sgAdmin := "sg-"+name+"1", "sg-"+name+"2"
		a.Instances = append(a.Instances, Instance{ID: "i-" + name, Region: "eu-central-1", Zone: "eu-central-1a",
			Tags: map[string]string{"stack": name}, SubnetID: "subnet-" + name, Groups: []string{sgIngress, sgAdmin},
			ProfileARN: "arn:aws:iam::" + acct + ":instance-profile/" + name + "-profile"})
		a.Volumes = append(a.Volumes, Volume{ID: "vol-" + name, Region: "eu-central-1", Zone: "eu-central-1a", Encrypted: true})
		a.Subnets = append(a.Subnets, Subnet{ID: "subnet-" + name, Routes: []Route{{"10.0.0.0/16", "local"}, {anywhere, "nat-" + name}}})
		all := []Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, CIDRs: []string{anywhere}}}
		a.SecurityGroups = append(a.SecurityGroups,
			SecurityGroup{ID: sgIngress, Ingress: []Rule{{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Groups: []string{sgIngress}}}, Egress: all},
			SecurityGroup{ID: sgAdmin, Ingress: []Rule{{Protocol: "tcp", FromPort: 9070, ToPort: 9070, Groups: []string{sgAdmin}}}, Egress: all})
		a.InstanceProfiles = append(a.InstanceProfiles, InstanceProfile{ARN: a.Instances[i].ProfileARN, Roles: []string{roleARN(name + "-instance-role")}})
		fn := name + "-fn-greeter"
		a.Functions = append(a.Functions, Function{Name: fn, ARN: fnARN(fn), Role: roleARN(fn + "-role")})
		a.LogGroups = append(a.LogGroups, LogGroup{Name: "/restate/" + name, ARN: logARN("/restate/" + name)})
		group := strings.TrimSuffix(logARN("/restate/"+name), ":*")
		a.Roles = append(a.Roles,
			Role{Name: name + "-instance-role", ARN: roleARN(name + "-instance-role"),
				Trust:    policy(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole"]}`),
				Attached: []string{"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
				Inline: map[string]string{"p": policy(allow("sts:AssumeRole", roleARN(name+"-invoker-role")),
					allow("logs:CreateLogStream", group+":*"), allow("logs:PutLogEvents", group+":*"),
					allow("ec2:AttachVolume", "arn:aws:ec2:eu-central-1:"+acct+":volume/vol-"+name),
					`{"Effect":"Allow","Action":["ec2:AttachVolume"],"Resource":["arn:aws:ec2:eu-central-1:`+acct+`:instance/*"],"Condition":{"StringEquals":{"aws:ResourceTag/stack":"`+name+`"}}}`)}},
			Role{Name: name + "-invoker-role", ARN: roleARN(name + "-invoker-role"),
				Trust:  policy(`{"Effect":"Allow","Principal":{"AWS":"` + roleARN(name+"-instance-role") + `"},"Action":["sts:AssumeRole"]}`),
				Inline: map[string]string{"invoke-grant": policy(allow("lambda:InvokeFunction", fnARN(fn), fnARN(fn)+":*"))}},
			Role{Name: fn + "-role", ARN: roleARN(fn + "-role"),
				Trust: policy(`{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":["sts:AssumeRole"]}`),
				Inline: map[string]string{"logs": policy(allow("logs:PutLogEvents",
					"arn:aws:logs:eu-central-1:"+acct+":log-group:/aws/lambda/"+fn+":*"))}})
		if name == "a" {
			secret := "arn:aws:secretsmanager:eu-central-1:" + acct + ":secret:a-agent-orders"
			a.Secrets = append(a.Secrets, Secret{Name: "a-agent-orders", ARN: secret + "-Ab12Cd"})
			a.Roles[len(a.Roles)-3].Inline["p"] = strings.TrimSuffix(a.Roles[len(a.Roles)-3].Inline["p"], "]}") + "," +
				allow("secretsmanager:GetSecretValue", secret+"-??????") + "," + allow("lambda:PublishVersion", fnARN(fn)) + "," +
				allow("lambda:DeleteFunction", fnARN(fn)+":*") + "," +
				`{"Effect":"Allow","Action":["ec2:CreateTags","ec2:DeleteTags"],"Resource":["arn:aws:ec2:eu-central-1:` + acct + `:volume/vol-a"],` +
				`"Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"restate-agent/*"},"Null":{"aws:TagKeys":"false"}}}]}`
		}
		stacks = append(stacks, Stack{Name: name, InvokerRole: name + "-invoker-role",
			Host: &Host{InstanceID: "i-" + name, IngressPort: 8080, AdminPort: 9070, IngressSources: []string{sgIngress}, AdminSources: []string{sgAdmin},
				InstanceRole: name + "-instance-role", LogGroup: "/restate/" + name, DataVolumeID: "vol-" + name,
				OrdersSecret: map[string]string{"a": "a-agent-orders"}[name]},
			Functions: []StackFunction{{Name: fn, ExecRole: fn + "-role"}}})
	}
	env := "env_201hd7bh2yrxzmy6h1eqdfhx7g"
	a.Roles = append(a.Roles, Role{Name: "c-invoker-role", ARN: roleARN("c-invoker-role"), Trust: policy(
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::654654156625:root"},"Action":["sts:AssumeRole"],"Condition":{"StringEquals":{"sts:ExternalId":"`+env+`","aws:PrincipalArn":"`+restateCloudRoleARN+`"}}}`,
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::654654156625:root"},"Action":["sts:TagSession"]}`)})
	stacks = append(stacks, Stack{Name: "c", Cloud: &Cloud{Role: "c-invoker-role", EnvironmentID: env}})
	return a, stacks
}

func TestHealthyAccountHasNoFindings(t *testing.T) {
	a, stacks := healthy()
	for _, f := range Audit(a, stacks) {
		t.Error(f)
	}
}

// TestBrokenStacks: each flaw is found, and its finding names the flow, the
// identity and the resource.
func TestBrokenStacks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(a *Account)
		want    []string
	}{
		{"a policy on the wrong log group", func(a *Account) {
			a.Roles[0].Inline["p"] = strings.ReplaceAll(a.Roles[0].Inline["p"], "/restate/a", "/restate/other")
		}, []string{`a: flow "host -> its log group": role a-instance-role -> arn:aws:logs:eu-central-1:123456789012:log-group:/restate/a:log-stream:i-0example: logs:PutLogEvents denied, want allowed`}},
		{"a policy that also writes the other stack's logs", func(a *Account) {
			a.Roles[0].Inline["p"] = strings.ReplaceAll(a.Roles[0].Inline["p"], "log-group:/restate/a:*", "log-group:/restate/*")
		}, []string{`a: flow "host -> its log group": role a-instance-role -> arn:aws:logs:eu-central-1:123456789012:log-group:/restate/b:log-stream:i-0example: logs:PutLogEvents allowed, want denied`}},
		{"no egress (what provider-aws leaves of a group without rules)", func(a *Account) {
			a.SecurityGroups[0].Egress, a.SecurityGroups[1].Egress = nil, nil
		}, []string{`a: flow "host -> internet": instance i-a -> 0.0.0.0/0:443: no egress rule`}},
		{"an admin port open to the world", func(a *Account) {
			a.SecurityGroups[1].Ingress[0].CIDRs = []string{anywhere}
		}, []string{`a: flow "registration -> admin API": port 9070 -> instance i-a: the admin port is open to the world`}},
		{"an invoker that may invoke any function of the account", func(a *Account) {
			a.Roles[1].Inline["invoke-grant"] = policy(allow("lambda:InvokeFunction", "arn:aws:lambda:eu-central-1:"+acct+":function:*"))
		}, []string{`a: flow "invoker -> Lambda": role a-invoker-role -> arn:aws:lambda:eu-central-1:123456789012:function:b-fn-greeter: lambda:InvokeFunction allowed, want denied`}},
		{"a Cloud trust without the external id", func(a *Account) {
			r := &a.Roles[len(a.Roles)-1]
			r.Trust = policy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::654654156625:root"},"Action":["sts:AssumeRole"]}`)
		}, []string{`c: flow "Restate Cloud -> invoker role": arn:aws:sts::654654156625:assumed-role/RestateCloud/restate -> role c-invoker-role: sts:AssumeRole with map[aws:PrincipalArn:arn:aws:iam::654654156625:role/RestateCloud] allowed, want denied`}},
		{"a wildcard no one can evaluate", func(a *Account) {
			a.Roles[1].Inline["invoke-grant"] = policy(allow("lambda:*", fnARN("a-fn-greeter")))
		}, []string{`a: flow "invoker -> Lambda": role a-invoker-role -> policy invoke-grant: cannot be evaluated`}},
		{"a host that may attach its volume to any instance", func(a *Account) {
			a.Roles[0].Inline["p"] = strings.ReplaceAll(a.Roles[0].Inline["p"], `,"Condition":{"StringEquals":{"aws:ResourceTag/stack":"a"}}`, "")
		}, []string{`a: flow "host -> its data volume": role a-instance-role -> arn:aws:ec2:eu-central-1:123456789012:instance/i-0ofnostack: ec2:AttachVolume allowed, want denied`}},
		{"a host that may attach any volume", func(a *Account) {
			a.Roles[0].Inline["p"] = strings.ReplaceAll(a.Roles[0].Inline["p"], "volume/vol-a", "volume/*")
		}, []string{`a: flow "host -> its data volume": role a-instance-role -> arn:aws:ec2:eu-central-1:123456789012:volume/vol-b: ec2:AttachVolume allowed, want denied`}},
		{"a volume in another zone than its instance", func(a *Account) {
			a.Volumes[0].Zone = "eu-central-1b"
		}, []string{`a: flow "host -> its data volume": role a-instance-role -> volume vol-a: in zone eu-central-1b, the instance i-a in eu-central-1a`}},
		{"an unencrypted volume", func(a *Account) {
			a.Volumes[0].Encrypted = false
		}, []string{`a: flow "host -> its data volume": role a-instance-role -> volume vol-a: not encrypted`}},
		{"a host agent that may write any tag of its volume", func(a *Account) {
			a.Roles[0].Inline["p"] = strings.ReplaceAll(a.Roles[0].Inline["p"], `"ForAllValues:StringLike":{"aws:TagKeys":"restate-agent/*"},`, "")
		}, []string{`a: flow "host agent -> its orders, versions and report": role a-instance-role -> arn:aws:ec2:eu-central-1:123456789012:volume/vol-a: ec2:CreateTags of tags [restate-agent/heartbeat Name] allowed, want denied`}},
		{"a host agent that may delete every tag (no Null)", func(a *Account) {
			a.Roles[0].Inline["p"] = strings.ReplaceAll(a.Roles[0].Inline["p"], `,"Null":{"aws:TagKeys":"false"}`, "")
		}, []string{`a: flow "host agent -> its orders, versions and report": role a-instance-role -> arn:aws:ec2:eu-central-1:123456789012:volume/vol-a: ec2:DeleteTags allowed, want denied`}},
		{"a host agent that may tag any volume", func(a *Account) {
			a.Roles[0].Inline["p"] = strings.ReplaceAll(a.Roles[0].Inline["p"], `volume/vol-a"],"Condition"`, `volume/*"],"Condition"`)
		}, []string{`a: flow "host agent -> its orders, versions and report": role a-instance-role -> arn:aws:ec2:eu-central-1:123456789012:volume/vol-b: ec2:CreateTags of tags [restate-agent/heartbeat] allowed, want denied`}},
		{"a host agent that may delete its functions", func(a *Account) {
			a.Roles[0].Inline["p"] = strings.ReplaceAll(a.Roles[0].Inline["p"], fnARN("a-fn-greeter")+`:*"`, fnARN("a-fn-greeter")+`*"`)
		}, []string{`a: flow "host agent -> its orders, versions and report": role a-instance-role -> arn:aws:lambda:eu-central-1:123456789012:function:a-fn-greeter: lambda:DeleteFunction allowed, want denied`}},
		{"a host agent that may publish any function", func(a *Account) {
			a.Roles[0].Inline["p"] = strings.ReplaceAll(a.Roles[0].Inline["p"], `"lambda:PublishVersion"],"Resource":["`+fnARN("a-fn-greeter"), `"lambda:PublishVersion"],"Resource":["`+fnARN("*"))
		}, []string{`a: flow "host agent -> its orders, versions and report": role a-instance-role -> arn:aws:lambda:eu-central-1:123456789012:function:b-fn-greeter: lambda:PublishVersion allowed, want denied`}},
		{"a host agent without its orders", func(a *Account) {
			a.Secrets = nil
		}, []string{`a: flow "host agent -> its orders, versions and report": role a-instance-role -> secret a-agent-orders: no such secret`}},
		{"a host of Jobs with the agent's grants", func(a *Account) {
			a.Roles[3].Inline["p"] = strings.TrimSuffix(a.Roles[3].Inline["p"], "]}") + "," + allow("lambda:PublishVersion", fnARN("b-fn-greeter")) + "]}"
		}, []string{`b: flow "host agent -> its orders, versions and report": role b-instance-role -> arn:aws:lambda:eu-central-1:123456789012:function:b-fn-greeter: lambda:PublishVersion allowed, want denied`}},
		{"another managed policy", func(a *Account) {
			a.Roles[0].Attached = append(a.Roles[0].Attached, "arn:aws:iam::aws:policy/AdministratorAccess")
		}, []string{`a: flow "managed policies": role a-instance-role -> arn:aws:iam::aws:policy/AdministratorAccess`}},
	} {
		a, stacks := healthy()
		tc.breakIt(&a)
		var got []string
		for _, f := range Audit(a, stacks) {
			got = append(got, f.String())
		}
		for _, w := range tc.want {
			found := false
			for _, g := range got {
				found = found || strings.HasPrefix(g, w)
			}
			if !found {
				t.Errorf("%s: no finding %q in %q", tc.name, w, got)
			}
		}
	}
}

// TestNothingMore: a grant or trust that no flow asks for is a finding
// naming the role, the policy and the statement, even where every flow's
// own probes pass.
func TestNothingMore(t *testing.T) {
	const nm = `: flow "nothing more": `
	addInline := func(role int, name, doc string) func(a *Account) {
		return func(a *Account) {
			if a.Roles[role].Inline == nil {
				a.Roles[role].Inline = map[string]string{}
			}
			a.Roles[role].Inline[name] = doc
		}
	}
	for _, tc := range []struct {
		name    string
		breakIt func(a *Account)
		want    string
	}{
		{"the invoker may also delete the stack's function", addInline(1, "extra", policy(allow("lambda:DeleteFunction", fnARN("a-fn-greeter")))),
			`a` + nm + `role a-invoker-role -> policy extra statement 0: lambda:DeleteFunction on ` + fnARN("a-fn-greeter") + `, which no flow asks for`},
		{"an execution role may update its own function", addInline(2, "extra", policy(allow("lambda:UpdateFunctionCode", fnARN("a-fn-greeter")))),
			`a` + nm + `role a-fn-greeter-role -> policy extra statement 0: lambda:UpdateFunctionCode on ` + fnARN("a-fn-greeter")},
		{"an execution role may invoke another stack's function", addInline(2, "extra", policy(allow("lambda:InvokeFunction", fnARN("b-fn-greeter")))),
			`a` + nm + `role a-fn-greeter-role -> policy extra statement 0: lambda:InvokeFunction on ` + fnARN("b-fn-greeter")},
		{"an instance profile with a second role", func(a *Account) {
			a.InstanceProfiles[0].Roles = append(a.InstanceProfiles[0].Roles, roleARN("admin"))
		}, `a` + nm + `instance i-a -> instance profile arn:aws:iam::123456789012:instance-profile/a-profile: carries the roles`},
		{"an execution role trusted by more than Lambda", func(a *Account) {
			a.Roles[2].Trust = policy(`{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","ec2.amazonaws.com"]},"Action":["sts:AssumeRole"]}`)
		}, `a` + nm + `Service ec2.amazonaws.com -> trust of role a-fn-greeter-role statement 0: may sts:AssumeRole, which no flow asks for`},
		{"a Cloud trust that checks the external id, not the principal", func(a *Account) {
			a.Roles[len(a.Roles)-1].Trust = policy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::654654156625:root"},"Action":["sts:AssumeRole"],"Condition":{"StringEquals":{"sts:ExternalId":"env_201hd7bh2yrxzmy6h1eqdfhx7g"}}}`,
				`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::654654156625:root"},"Action":["sts:TagSession"]}`)
		}, `c` + nm + `AWS arn:aws:iam::654654156625:root -> trust of role c-invoker-role statement 0: may sts:AssumeRole when StringEquals sts:ExternalId=env_201hd7bh2yrxzmy6h1eqdfhx7g`},
		{"a Cloud invoker granted more than its stack's functions", addInline(len(healthyRoles())-1, "invoke", policy(allow("lambda:InvokeFunction", fnARN("a-fn-greeter")))),
			`c` + nm + `role c-invoker-role -> policy invoke statement 0: lambda:InvokeFunction on ` + fnARN("a-fn-greeter")},
		{"a host that may also read buckets", addInline(0, "extra", policy(allow("s3:GetObject", "arn:aws:s3:::team-a-artifacts/*"))),
			`a` + nm + `role a-instance-role -> policy extra statement 0: s3:GetObject on arn:aws:s3:::team-a-artifacts/*`},
		{"an invoker trusted by another role too", func(a *Account) {
			a.Roles[1].Trust = policy(`{"Effect":"Allow","Principal":{"AWS":["` + roleARN("a-instance-role") + `","` + roleARN("ci") + `"]},"Action":["sts:AssumeRole"]}`)
		}, `a` + nm + `AWS ` + roleARN("ci") + ` -> trust of role a-invoker-role statement 0: may sts:AssumeRole`},
		{"a host trusted by Lambda too", func(a *Account) {
			a.Roles[0].Trust = policy(`{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":["sts:AssumeRole"]}`)
		}, `a` + nm + `Service lambda.amazonaws.com -> trust of role a-instance-role statement 0`},
		{"a host agent that may also read its volume's snapshots", addInline(0, "extra", policy(allow("ec2:CreateSnapshot", "arn:aws:ec2:eu-central-1:"+acct+":volume/vol-a"))),
			`a` + nm + `role a-instance-role -> policy extra statement 0: ec2:CreateSnapshot on arn:aws:ec2:eu-central-1:123456789012:volume/vol-a`},
	} {
		a, stacks := healthy()
		tc.breakIt(&a)
		var got []string
		for _, f := range Audit(a, stacks) {
			got = append(got, f.String())
		}
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, tc.want)
		}
		if !found {
			t.Errorf("%s: no finding %q in %q", tc.name, tc.want, got)
		}
	}
}

func healthyRoles() []Role {
	a, _ := healthy()
	return a.Roles
}
