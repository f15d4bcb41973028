package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// AWSChannel reads the orders from a Secrets Manager secret and writes the
// report as tags of the stack's data volume, with the host's instance
// role. It needs GetSecretValue on that secret and CreateTags and
// DeleteTags of the agent's keys on that volume, nothing else: it never
// reads tags back (the state file remembers them).
type AWSChannel struct {
	Secrets  *secretsmanager.Client
	EC2      *ec2.Client
	SecretID string
	VolumeID string
}

// NewAWSChannel is a channel with the SDK's default configuration (the
// instance role through IMDSv2 on a host; AWS_ENDPOINT_URL_* in tests).
func NewAWSChannel(cfg aws.Config, secretID, volumeID string) *AWSChannel {
	return &AWSChannel{Secrets: secretsmanager.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), SecretID: secretID, VolumeID: volumeID}
}

// Orders returns the secret's current value.
func (c *AWSChannel) Orders(ctx context.Context) ([]byte, error) {
	out, err := c.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.SecretID)})
	if err != nil {
		return nil, fmt.Errorf("cannot read the orders secret %s: %w", c.SecretID, err)
	}
	if out.SecretString == nil {
		return nil, errors.New("the orders secret holds no string")
	}
	return []byte(*out.SecretString), nil
}

// Tag sets and deletes tags of the volume. DeleteTags always names its
// keys: with none it would delete every tag (and the grant refuses it).
func (c *AWSChannel) Tag(ctx context.Context, set map[string]string, del []string) error {
	res := []string{c.VolumeID}
	if len(set) > 0 {
		var tags []ec2types.Tag
		for k, v := range set {
			tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: res, Tags: tags}); err != nil {
			return err
		}
	}
	if len(del) > 0 {
		var tags []ec2types.Tag
		for _, k := range del {
			tags = append(tags, ec2types.Tag{Key: aws.String(k)})
		}
		if _, err := c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: res, Tags: tags}); err != nil {
			return err
		}
	}
	return nil
}
