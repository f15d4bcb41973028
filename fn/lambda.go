package fn

import (
	logs "github.com/crossplane-contrib/provider-aws/apis/cloudwatchlogs/v1alpha1"
	iam "github.com/crossplane-contrib/provider-aws/apis/iam/v1beta1"
	lambda "github.com/crossplane-contrib/provider-aws/apis/lambda/v1beta1"
	xpv1 "github.com/crossplane/crossplane-runtime/apis/common/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// functionName is the AWS name of a service's function, which is also its
// object name: provider-aws v0.58.0 updates a function by its object name
// (its update calls use metadata.name, while create, observe and delete use the
// external name). Lambda allows no dots, which a stack name may have.
func functionName(s *stack.Stack, svc string) string {
	return stack.FunctionName(s, svc)
}

// buildLambdaService composes a Lambda service: the function, its execution
// role, and its log group, to which alone the role may write. The role's
// policy names the log group's exact ARN, so it waits for the account id.
func buildLambdaService(s *stack.Stack, svc stack.Service) []stack.Part {
	l := svc.Lambda
	fn := functionName(s, svc.Name)
	logGroup := "/aws/lambda/" + fn
	roleRef := &xpv1.Reference{Name: stack.ResourceName(s.Name, serviceKey(svc.Name, suffixRole))}

	vars := make(map[string]*string, len(l.Environment)+1)
	for k, v := range l.Environment {
		vars[k] = ptr.To(v)
	}
	// provider-aws never compares S3 code, only the configuration: a new
	// code source must change the configuration too, or it is never
	// deployed. Any configuration change also updates the code.
	vars[codeRevisionVar] = ptr.To(codeRevision(l.Code.S3, l.Code.ImageURI))

	p := lambda.FunctionParameters{
		Architectures: []*string{ptr.To(string(l.Architecture))},
		Environment:   &lambda.Environment{Variables: vars},
		MemorySize:    ptr.To(int64(l.MemorySizeMiB)),
		Timeout:       ptr.To(int64(l.TimeoutSeconds)),
		CustomFunctionParameters: lambda.CustomFunctionParameters{
			RoleRef: roleRef,
		},
	}
	if l.Description != "" {
		p.Description = ptr.To(l.Description)
	}
	if c := l.Code.S3; c != nil {
		p.PackageType = ptr.To("Zip")
		p.Runtime = ptr.To(string(l.Runtime))
		p.Handler = ptr.To(l.Handler)
		p.CustomFunctionCodeParameters = lambda.CustomFunctionCodeParameters{S3Bucket: ptr.To(c.Bucket), S3Key: ptr.To(c.Key)}
		if c.ObjectVersion != "" {
			p.CustomFunctionCodeParameters.S3ObjectVersion = ptr.To(c.ObjectVersion)
		}
	} else {
		p.PackageType = ptr.To("Image")
		p.CustomFunctionCodeParameters = lambda.CustomFunctionCodeParameters{ImageURI: ptr.To(l.Code.ImageURI)}
	}

	parts := []stack.Part{
		{Key: serviceKey(svc.Name, ""), Name: fn, MR: &lambda.Function{Spec: lambda.FunctionSpec{ForProvider: p}}},
		{Key: serviceKey(svc.Name, suffixRole), MR: &iam.Role{Spec: iam.RoleSpec{ForProvider: iam.RoleParameters{
			Description:              ptr.To("Lambda function " + fn + " of Restate stack " + s.Name),
			AssumeRolePolicyDocument: stack.TrustService("lambda.amazonaws.com"),
		}}}},
		{Key: serviceKey(svc.Name, suffixLogGroup), MR: &logs.LogGroup{Spec: logs.LogGroupSpec{ForProvider: logs.LogGroupParameters{
			LogGroupName:             ptr.To(logGroup),
			CustomLogGroupParameters: logs.CustomLogGroupParameters{RetentionInDays: ptr.To(int64(l.LogRetentionDays))},
		}}}},
	}
	if s.AccountID == "" {
		return parts
	}
	doc := stack.Policy(stack.Allow([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, s.LogGroupARN(logGroup)+":*"))
	return append(parts, stack.Part{Key: serviceKey(svc.Name, suffixRolePolicy), MR: &iam.RolePolicy{Spec: iam.RolePolicySpec{ForProvider: iam.RolePolicyParameters{
		Document:    extv1.JSON{Raw: []byte(doc)},
		RoleNameRef: roleRef,
	}}}})
}

// codeRevision is a short hash of where a function's code comes from.
func codeRevision(s3 *v1alpha1.S3Code, image string) string {
	if s3 != nil {
		return stack.HashOf("s3", s3.Bucket, s3.Key, s3.ObjectVersion)
	}
	return stack.HashOf("image", image)
}
