package register

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Publisher publishes a version of a Lambda function.
type Publisher interface {
	// Publish publishes the function's current code and configuration as
	// a version, if it has the given code hash, and returns the version.
	Publish(ctx context.Context, functionARN, codeSHA256 string) (string, error)
}

// VersionDeleter deletes a published version of a Lambda function.
type VersionDeleter interface {
	// DeleteVersion deletes the version a qualified ARN names.
	DeleteVersion(ctx context.Context, qualifiedARN string) error
}

// LambdaPublisher publishes with the AWS SDK, as the Job's AWS identity
// (IRSA or Pod Identity, say). The SDK's own settings apply, so
// AWS_ENDPOINT_URL_LAMBDA points it elsewhere, as tests do.
type LambdaPublisher struct {
	client *lambda.Client
}

// NewLambdaPublisher loads the AWS configuration from the environment for
// the function's region.
func NewLambdaPublisher(ctx context.Context, region string) (*LambdaPublisher, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("cannot load AWS configuration: %w", err)
	}
	return &LambdaPublisher{client: lambda.NewFromConfig(cfg)}, nil
}

// Publish calls PublishVersion guarded by the code hash: Lambda refuses if
// the function's code differs, and returns the existing version when
// nothing changed since it was published, so a rerun reuses it.
func (p *LambdaPublisher) Publish(ctx context.Context, functionARN, codeSHA256 string) (string, error) {
	if codeSHA256 == "" {
		return "", errors.New("publishing needs the code hash the version must have")
	}
	out, err := p.client.PublishVersion(ctx, &lambda.PublishVersionInput{
		FunctionName: aws.String(functionARN),
		CodeSha256:   aws.String(codeSHA256),
		Description:  aws.String("published for Restate registration"),
	})
	if err != nil {
		return "", fmt.Errorf("cannot publish a version of %s: %w", functionARN, err)
	}
	return aws.ToString(out.Version), nil
}

// DeleteVersion deletes one version. It takes a qualified ARN alone: the
// function itself is never deleted here (and the host's grant names only
// qualified ARNs, so it could not be).
func (p *LambdaPublisher) DeleteVersion(ctx context.Context, qualifiedARN string) error {
	i := strings.LastIndex(qualifiedARN, ":")
	if !isPublishedVersion(qualifiedARN) {
		return fmt.Errorf("%s is not a published version's ARN", qualifiedARN)
	}
	_, err := p.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{
		FunctionName: aws.String(qualifiedARN[:i]),
		Qualifier:    aws.String(qualifiedARN[i+1:]),
	})
	if err != nil {
		return fmt.Errorf("cannot delete version %s: %w", qualifiedARN, err)
	}
	return nil
}
