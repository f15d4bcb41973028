package fn

import (
	"encoding/json"
	"strings"
)

// policyDocument is an IAM policy, written with encoding/json so no claim
// value can change its structure.
type policyDocument struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

func iamPolicy(statements ...statement) string {
	b, err := json.Marshal(policyDocument{Version: "2012-10-17", Statement: statements})
	if err != nil {
		// Only strings and maps of strings: marshalling cannot fail.
		panic(err)
	}
	return string(b)
}

func allow(actions []string, resources ...string) statement {
	return statement{Effect: "Allow", Action: actions, Resource: resources}
}

// trustService lets an AWS service assume a role.
func trustService(service string) string {
	return iamPolicy(statement{Effect: "Allow", Principal: map[string]string{"Service": service}, Action: []string{"sts:AssumeRole"}})
}

// trustRole lets one role assume another.
func trustRole(roleARN string) string {
	return iamPolicy(statement{Effect: "Allow", Principal: map[string]string{"AWS": roleARN}, Action: []string{"sts:AssumeRole"}})
}

// partition is the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	default:
		return "aws"
	}
}

func (s *stack) roleARN(name string) string {
	return "arn:" + partition(s.Region) + ":iam::" + s.AccountID + ":role/" + name
}

func (s *stack) managedPolicyARN(name string) string {
	return "arn:" + partition(s.Region) + ":iam::aws:policy/" + name
}

// regionalARN is the ARN of a resource of a regional service in the
// stack's region and account.
func (s *stack) regionalARN(service, resource string) string {
	return "arn:" + partition(s.Region) + ":" + service + ":" + s.Region + ":" + s.AccountID + ":" + resource
}

func (s *stack) logGroupARN(name string) string { return s.regionalARN("logs", "log-group:"+name) }

// accountOfARN returns the account id field of an ARN, or "".
func accountOfARN(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 || f[0] != "arn" || len(f[4]) != 12 {
		return ""
	}
	return f[4]
}

func (s *stack) functionARN(name string) string { return s.regionalARN("lambda", "function:"+name) }

// ec2ARN is the ARN of an EC2 resource ("volume/vol-...", "instance/*").
func (s *stack) ec2ARN(resource string) string { return s.regionalARN("ec2", resource) }

// kmsKeyARN is the ARN of the data volume's key, given by id or ARN.
func (s *stack) kmsKeyARN(key string) string {
	if strings.HasPrefix(key, "arn:") {
		return key
	}
	return s.regionalARN("kms", "key/"+key)
}
