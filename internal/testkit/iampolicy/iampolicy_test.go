package iampolicy

import (
	"net/url"
	"strings"
	"testing"
)

const (
	instanceRole = "arn:aws:iam::111122223333:role/demo-instance-role"
	invokerRole  = "arn:aws:iam::111122223333:role/demo-invoker-role"
	fn           = "arn:aws:lambda:eu-central-1:111122223333:function:demo-fn-greeter"
	logGroup     = "arn:aws:logs:eu-central-1:111122223333:log-group:/restate/demo"
)

func mustParse(t *testing.T, doc string) *Document {
	t.Helper()
	d, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return d
}

func TestAllows(t *testing.T) {
	d := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["lambda:InvokeFunction"],"Resource":["`+fn+`","`+fn+`:*"]},
		{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"`+logGroup+`:*"},
		{"Effect":"Allow","Action":["sts:AssumeRole"],"Resource":["`+invokerRole+`"]}]}`)
	for _, tc := range []struct {
		name   string
		action string
		res    string
		want   bool
	}{
		{"the unqualified function", "lambda:InvokeFunction", fn, true},
		{"a version", "lambda:InvokeFunction", fn + ":3", true},
		{"$LATEST", "lambda:InvokeFunction", fn + ":$LATEST", true},
		{"action names ignore case", "lambda:invokefunction", fn, true},
		{"another stack's function", "lambda:InvokeFunction", "arn:aws:lambda:eu-central-1:111122223333:function:other-fn-greeter", false},
		{"a function whose name extends this one's", "lambda:InvokeFunction", fn + "-2", false},
		{"another action on the function", "lambda:UpdateFunctionCode", fn, false},
		{"a stream of the log group", "logs:PutLogEvents", logGroup + ":log-stream:i-0abc", true},
		{"the bare log group (not :*)", "logs:PutLogEvents", logGroup, false},
		{"another log group", "logs:PutLogEvents", "arn:aws:logs:eu-central-1:111122223333:log-group:/restate/other:log-stream:x", false},
		{"a log group whose name extends this one's", "logs:PutLogEvents", logGroup + "-x:log-stream:x", false},
		{"the invoker role", "sts:AssumeRole", invokerRole, true},
		{"another role", "sts:AssumeRole", "arn:aws:iam::111122223333:role/other-invoker-role", false},
	} {
		if got := d.Allows(Request{Action: tc.action, Resource: tc.res}); got != tc.want {
			t.Errorf("%s: Allows = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Conditions on the resource's tags and a Bool: exactly the values
	// given, and a key the request lacks denies.
	tagged := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["ec2:AttachVolume"],"Resource":["arn:aws:ec2:eu-central-1:111122223333:instance/*"],"Condition":{"StringEquals":{"aws:ResourceTag/stack":"a"}}},
		{"Effect":"Allow","Action":["kms:CreateGrant"],"Resource":["arn:aws:kms:eu-central-1:111122223333:key/k"],"Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}]}`)
	inst := "arn:aws:ec2:eu-central-1:111122223333:instance/i-0abc"
	for _, tc := range []struct {
		name   string
		action string
		res    string
		ctx    map[string]string
		want   bool
	}{
		{"an instance of the stack", "ec2:AttachVolume", inst, map[string]string{"aws:ResourceTag/stack": "a"}, true},
		{"an instance of another stack", "ec2:AttachVolume", inst, map[string]string{"aws:ResourceTag/stack": "b"}, false},
		{"an untagged instance", "ec2:AttachVolume", inst, nil, false},
		{"a grant for an AWS resource", "kms:CreateGrant", "arn:aws:kms:eu-central-1:111122223333:key/k", map[string]string{"kms:GrantIsForAWSResource": "true"}, true},
		{"a grant for anyone", "kms:CreateGrant", "arn:aws:kms:eu-central-1:111122223333:key/k", map[string]string{"kms:GrantIsForAWSResource": "false"}, false},
	} {
		if got := tagged.Allows(Request{Action: tc.action, Resource: tc.res, Context: tc.ctx}); got != tc.want {
			t.Errorf("%s: Allows = %v, want %v", tc.name, got, tc.want)
		}
	}
	// StringLike on a single-valued key: a prefix pattern, and a request
	// without the key is denied.
	listed := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::b"],"Condition":{"StringLike":{"s3:prefix":"stacks/a/*"}}}]}`)
	for prefix, want := range map[string]bool{"stacks/a/": true, "stacks/a/metadata/": true, "stacks/ab/": false, "stacks/": false} {
		if got := listed.Allows(Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: map[string]string{"s3:prefix": prefix}}); got != want {
			t.Errorf("list with prefix %q: Allows = %v, want %v", prefix, got, want)
		}
	}
	if listed.Allows(Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b"}) {
		t.Error("a list without a prefix was allowed")
	}
	// A dot in an ARN is a dot, not any character.
	dotted := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::a.b/*"]}]}`)
	if dotted.Allows(Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::axb/key"}) {
		t.Error("a dot in a resource pattern matched another character")
	}
}

func TestTrusts(t *testing.T) {
	cloud := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::654654156625:root"},"Action":["sts:AssumeRole"],
		 "Condition":{"StringEquals":{"sts:ExternalId":"env_201hd7bh2yrxzmy6h1eqdfhx7g"},"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::654654156625:role/RestateCloud"}}},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::654654156625:root"},"Action":["sts:TagSession"]}]}`)
	restateCloud := "arn:aws:sts::654654156625:assumed-role/RestateCloud/s"
	good := map[string]string{"sts:ExternalId": "env_201hd7bh2yrxzmy6h1eqdfhx7g", "aws:PrincipalArn": "arn:aws:iam::654654156625:role/RestateCloud"}
	for _, tc := range []struct {
		name      string
		principal string
		ctx       map[string]string
		want      bool
	}{
		{"Restate Cloud's role with this environment's id", restateCloud, good, true},
		{"without the external id: the missing key denies", restateCloud, map[string]string{"aws:PrincipalArn": good["aws:PrincipalArn"]}, false},
		{"without the principal ARN: the missing key denies", restateCloud, map[string]string{"sts:ExternalId": good["sts:ExternalId"]}, false},
		{"another environment's id", restateCloud, map[string]string{"sts:ExternalId": "env_other", "aws:PrincipalArn": good["aws:PrincipalArn"]}, false},
		{"another role of Restate's account", "arn:aws:sts::654654156625:assumed-role/Other/s", map[string]string{"sts:ExternalId": good["sts:ExternalId"], "aws:PrincipalArn": "arn:aws:iam::654654156625:role/Other"}, false},
		{":root is an account, not a literal principal: another account", "arn:aws:iam::111122223333:root", good, false},
	} {
		if got := cloud.Trusts(Request{Principal: tc.principal, Action: "sts:AssumeRole", Context: tc.ctx}); got != tc.want {
			t.Errorf("%s: Trusts = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !cloud.Trusts(Request{Principal: restateCloud, Action: "sts:TagSession"}) {
		t.Error("Restate Cloud may not tag its session")
	}

	invoker := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+instanceRole+`"},"Action":["sts:AssumeRole"]}]}`)
	if !invoker.Trusts(Request{Principal: instanceRole, Action: "sts:AssumeRole"}) ||
		invoker.Trusts(Request{Principal: "arn:aws:iam::111122223333:role/other-instance-role", Action: "sts:AssumeRole"}) {
		t.Error("the invoker role trusts other than exactly the instance role")
	}
	lambda := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	if !lambda.Trusts(Request{Principal: "lambda.amazonaws.com", Action: "sts:AssumeRole"}) || lambda.Trusts(Request{Principal: "ec2.amazonaws.com", Action: "sts:AssumeRole"}) {
		t.Error("a Service principal is not matched exactly")
	}
	if lambda.Allows(Request{Action: "sts:AssumeRole", Resource: invokerRole}) {
		t.Error("a trust policy allowed as an identity policy")
	}
}

// TestRefusesOtherForms: what the function never emits is an error, not a
// guess.
func TestRefusesOtherForms(t *testing.T) {
	for name, doc := range map[string]string{
		"Deny":                       `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}]}`,
		"NotAction":                  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*"],"Resource":["arn:aws:s3:::b/*"]}]}`,
		"NotResource":                `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"NotResource":["arn:aws:s3:::b/*"]}]}`,
		"an action wildcard":         `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:*"],"Resource":["` + fn + `"]}]}`,
		"a bare * resource":          `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:InvokeFunction"],"Resource":["*"]}]}`,
		"a middle wildcard":          `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:InvokeFunction"],"Resource":["arn:aws:lambda:*:111122223333:function:f"]}]}`,
		"a principal *":              `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole"]}]}`,
		"a Federated":                `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"x"},"Action":["sts:AssumeRole"]}]}`,
		"StringLike, a middle *":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":["sts:AssumeRole"],"Condition":{"StringLike":{"a":"b*c"}}}]}`,
		"ForAnyValue":                `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:CreateTags"],"Resource":["arn:aws:ec2:eu-central-1:111122223333:volume/vol-1"],"Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"a*"}}}]}`,
		"a middle ?":                 `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b?/k"]}]}`,
		"Null of maybe":              `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:CreateTags"],"Resource":["arn:aws:ec2:eu-central-1:111122223333:volume/vol-1"],"Condition":{"Null":{"aws:TagKeys":"maybe"}}}]}`,
		"a middle * in a StringLike": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:CreateTags"],"Resource":["arn:aws:ec2:eu-central-1:111122223333:volume/vol-1"],"Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"a*b"}}}]}`,
		"an old version":             `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/k"]}]}`,
		"no statement":               `{"Version":"2012-10-17","Statement":[]}`,
		"not JSON":                   `Version: 2012-10-17`,
	} {
		if _, err := Parse(doc); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestParsesURLEncodedDocuments(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:InvokeFunction"],"Resource":["` + fn + `"]}]}`
	d := mustParse(t, strings.ReplaceAll(url.QueryEscape(doc), "+", "%20"))
	if !d.Allows(Request{Action: "lambda:InvokeFunction", Resource: fn}) {
		t.Error("a URL-encoded document (as IAM returns it) read differently")
	}
}

// TestTagKeysAndSecretSuffix: the host agent's grants, both sides: its own
// tag keys on its volume, never another key, never a DeleteTags without
// keys (ForAllValues holds on an empty set; Null refuses it), and its
// secret with Secrets Manager's six-character suffix, not a longer name.
func TestTagKeysAndSecretSuffix(t *testing.T) {
	const vol = "arn:aws:ec2:eu-central-1:111122223333:volume/vol-1"
	const secret = "arn:aws:secretsmanager:eu-central-1:111122223333:secret:demo-agent-orders"
	d := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":["`+secret+`-??????"]},
		{"Effect":"Allow","Action":["ec2:CreateTags","ec2:DeleteTags"],"Resource":["`+vol+`"],
		 "Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"restate-agent/*"},"Null":{"aws:TagKeys":"false"}}}]}`)
	tags := func(action, resource string, keys ...string) Request {
		r := Request{Action: action, Resource: resource}
		if keys != nil {
			r.Values = map[string][]string{"aws:TagKeys": keys}
		}
		return r
	}
	for name, tc := range map[string]struct {
		r    Request
		want bool
	}{
		"own keys":                 {tags("ec2:CreateTags", vol, "restate-agent/heartbeat", "restate-agent/svc/a"), true},
		"delete own keys":          {tags("ec2:DeleteTags", vol, "restate-agent/svc/a"), true},
		"another key":              {tags("ec2:CreateTags", vol, "restate-agent/svc/a", "Name"), false},
		"delete with no keys":      {tags("ec2:DeleteTags", vol), false},
		"delete with an empty set": {tags("ec2:DeleteTags", vol, []string{}...), false},
		"another volume":           {tags("ec2:CreateTags", vol+"2", "restate-agent/heartbeat"), false},
		"own secret":               {Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "-AbC123"}, true},
		"a longer name":            {Request{Action: "secretsmanager:GetSecretValue", Resource: secret + "-other-AbC123"}, false},
		"another stack's":          {Request{Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:eu-central-1:111122223333:secret:other-agent-orders-AbC123"}, false},
	} {
		if got := d.Allows(tc.r); got != tc.want {
			t.Errorf("%s: allowed %v, want %v", name, got, tc.want)
		}
	}
}
