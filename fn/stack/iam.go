package stack

import (
	"encoding/json"
	"strings"
)

// policyDocument is an IAM policy, written with encoding/json so no claim
// value can change its structure.
type policyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of an IAM policy.
type Statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// Policy is an IAM policy document of the statements, as JSON.
func Policy(statements ...Statement) string {
	b, err := json.Marshal(policyDocument{Version: "2012-10-17", Statement: statements})
	if err != nil {
		// Only strings and maps of strings: marshalling cannot fail.
		panic(err)
	}
	return string(b)
}

// Allow lets the actions on the resources.
func Allow(actions []string, resources ...string) Statement {
	return Statement{Effect: "Allow", Action: actions, Resource: resources}
}

// TrustService lets an AWS service assume a role.
func TrustService(service string) string {
	return Policy(Statement{Effect: "Allow", Principal: map[string]string{"Service": service}, Action: []string{"sts:AssumeRole"}})
}

// TrustRole lets one role assume another.
func TrustRole(roleARN string) string {
	return Policy(Statement{Effect: "Allow", Principal: map[string]string{"AWS": roleARN}, Action: []string{"sts:AssumeRole"}})
}

// Partition is the ARN partition of a region.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	default:
		return "aws"
	}
}

// RoleARN is the ARN of a role of the stack's account.
func (s *Stack) RoleARN(name string) string {
	return "arn:" + Partition(s.Region) + ":iam::" + s.AccountID + ":role/" + name
}

// ManagedPolicyARN is the ARN of an AWS managed policy.
func (s *Stack) ManagedPolicyARN(name string) string {
	return "arn:" + Partition(s.Region) + ":iam::aws:policy/" + name
}

// RegionalARN is the ARN of a resource of a regional service in the
// stack's region and account.
func (s *Stack) RegionalARN(service, resource string) string {
	return "arn:" + Partition(s.Region) + ":" + service + ":" + s.Region + ":" + s.AccountID + ":" + resource
}

// LogGroupARN is the ARN of a log group of the stack's region and account.
func (s *Stack) LogGroupARN(name string) string { return s.RegionalARN("logs", "log-group:"+name) }

// AccountOfARN returns the account id field of an ARN, or "".
func AccountOfARN(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 || f[0] != "arn" || len(f[4]) != 12 || strings.Trim(f[4], "0123456789") != "" {
		return "" // a "*" there would be a wildcard in every policy built from it
	}
	return f[4]
}

// FunctionARN is the ARN of a Lambda function of the stack's region and account.
func (s *Stack) FunctionARN(name string) string { return s.RegionalARN("lambda", "function:"+name) }

// S3ARN is the ARN of a bucket ("bucket") or of its objects ("bucket/key"):
// S3's ARNs name neither region nor account.
func (s *Stack) S3ARN(resource string) string {
	return "arn:" + Partition(s.Region) + ":s3:::" + resource
}

// EC2ARN is the ARN of an EC2 resource ("volume/vol-...", "instance/*").
func (s *Stack) EC2ARN(resource string) string { return s.RegionalARN("ec2", resource) }

// KMSKeyARN is the ARN of the data volume's key, given by id or ARN.
func (s *Stack) KMSKeyARN(key string) string {
	if strings.HasPrefix(key, "arn:") {
		return key
	}
	return s.RegionalARN("kms", "key/"+key)
}

// RoleNameOfARN is the name of a role, without its path.
func RoleNameOfARN(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}
