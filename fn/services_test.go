package fn

import (
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	platform "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// s3Service is a Lambda service with code from S3, as the holiday example
// has them.
func s3Service(name string) v1alpha1.ServiceSpec {
	return v1alpha1.ServiceSpec{Name: name, Lambda: &v1alpha1.LambdaServiceSpec{
		Runtime: "nodejs22.x",
		Handler: "index.handler",
		Code:    v1alpha1.LambdaCode{S3: &v1alpha1.S3Code{Bucket: "team-a-artifacts", Key: name + "-1.0.0.zip"}},
	}}
}

func httpService(name, uri string) v1alpha1.ServiceSpec {
	return v1alpha1.ServiceSpec{Name: name, HTTP: &v1alpha1.HTTPServiceSpec{URI: uri}}
}

const testImage = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/team-a/checkout:2.3.0"

func withServices(svcs ...v1alpha1.ServiceSpec) func(*v1alpha1.XRestateStack) {
	return func(xr *v1alpha1.XRestateStack) { xr.Spec.Services = svcs }
}

func cloudEnv(mutate ...func(*v1alpha1.CloudEnvironmentSpec)) func(*v1alpha1.XRestateStack) {
	return func(xr *v1alpha1.XRestateStack) {
		c := &v1alpha1.CloudEnvironmentSpec{
			EnvironmentID:   "env_201hd7bh2yrxzmy6h1eqdfhx7g",
			APIKeySecretRef: v1alpha1.SecretKeyReference{Name: "restate-cloud-admin"},
		}
		for _, m := range mutate {
			m(c)
		}
		xr.Spec.Environment = v1alpha1.EnvironmentSpec{Cloud: c}
	}
}

func externalEnv(mutate ...func(*v1alpha1.ExternalEnvironmentSpec)) func(*v1alpha1.XRestateStack) {
	return func(xr *v1alpha1.XRestateStack) {
		e := &v1alpha1.ExternalEnvironmentSpec{AdminURL: "https://restate.example.com:9070"}
		for _, m := range mutate {
			m(e)
		}
		xr.Spec.Environment = v1alpha1.EnvironmentSpec{External: e}
	}
}

// lambdaOf changes the first service's Lambda spec.
func lambdaOf(m func(*v1alpha1.LambdaServiceSpec)) func(*v1alpha1.XRestateStack) {
	return func(xr *v1alpha1.XRestateStack) {
		svc := s3Service("trips")
		m(svc.Lambda)
		xr.Spec.Services = []v1alpha1.ServiceSpec{svc}
	}
}

// TestInvalidServicesAndEnvironments: each bad service or environment gets
// a fatal result and a Valid=False condition naming the field, and nothing
// composed before is dropped (see wantRejected).
func TestInvalidServicesAndEnvironments(t *testing.T) {
	cases := map[string]rejection{
		"a service with no code": {
			xr:        lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Code = v1alpha1.LambdaCode{} }),
			wantField: "spec.services[0].lambda.code", wantText: "exactly one of s3 or imageUri",
		},
		"a service with both code sources": {
			xr:        lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Code.ImageURI = testImage }),
			wantField: "spec.services[0].lambda.code", wantText: "exactly one of s3 or imageUri",
		},
		"a service that is neither lambda nor http": {
			xr:        withServices(v1alpha1.ServiceSpec{Name: "empty"}),
			wantField: "spec.services[0]", wantText: "exactly one of lambda or http",
		},
		"a service that is both lambda and http": {
			xr: func(xr *v1alpha1.XRestateStack) {
				svc := s3Service("both")
				svc.HTTP = &v1alpha1.HTTPServiceSpec{URI: "http://both:9080"}
				xr.Spec.Services = []v1alpha1.ServiceSpec{svc}
			},
			wantField: "spec.services[0]", wantText: "exactly one of lambda or http",
		},
		"a duplicate service name": {
			xr:        withServices(s3Service("trips"), httpService("trips", "http://trips:9080")),
			wantField: "spec.services[1]", wantText: `Duplicate value: map[string]interface {}{"name":"trips"}`,
		},
		"a name that cannot become a Lambda function name": {
			xr:        withServices(s3Service("Trips_v2")),
			wantField: "spec.services[0].name", wantText: "should match",
		},
		"a name too long for a Lambda function name": {
			xr:        withServices(s3Service(strings.Repeat("a", 33))),
			wantField: "spec.services[0].name", wantText: "more than 32",
		},
		"code from S3 without runtime": {
			xr:        lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Runtime = "" }),
			wantField: "spec.services[0].lambda.runtime", wantText: "needs a runtime",
		},
		"an image with a handler": {
			xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) {
				l.Code, l.Runtime = v1alpha1.LambdaCode{ImageURI: testImage}, ""
			}),
			wantField: "spec.services[0].lambda.handler", wantText: "Forbidden",
		},
		"an image outside ECR": {
			xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) {
				l.Code, l.Runtime, l.Handler = v1alpha1.LambdaCode{ImageURI: "docker.io/library/node:22"}, "", ""
			}),
			wantField: "spec.services[0].lambda.code.imageUri", wantText: "must be an image in Amazon ECR",
		},
		"an image of another region": {
			xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) {
				l.Code, l.Runtime, l.Handler = v1alpha1.LambdaCode{ImageURI: strings.Replace(testImage, "eu-central-1", "us-east-1", 1)}, "", ""
			}),
			wantField: "spec.services[0].lambda.code.imageUri", wantText: "stack's region eu-central-1",
		},
		"a bucket the platform does not allow": {
			xr:        lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Code.S3.Bucket = "someone-elses" }),
			policy:    func(p *platform.StackPolicy) { p.AllowedCodeBuckets = []string{"team-*-artifacts"} },
			wantField: "spec.services[0].lambda.code.s3.bucket", wantText: `"someone-elses"`,
		},
		"a reserved environment variable": {
			xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) {
				l.Environment = map[string]string{codeRevisionVar: "mine"}
			}),
			wantField: "spec.services[0].lambda.environment[" + codeRevisionVar + "]", wantText: "reserved",
		},
		"environment variables over Lambda's 4 KiB": {
			xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) {
				l.Environment = map[string]string{"BIG": strings.Repeat("x", 4096)}
			}),
			wantField: "spec.services[0].lambda.environment", wantText: "4096",
		},
		"an HTTP service that is not an http URL": {
			xr:        withServices(httpService("orders", "ftp://orders")),
			wantField: "spec.services[0].http.uri", wantText: "should match",
		},
		"skipInvokeFunctionGrant on an HTTP service": {
			xr: func(xr *v1alpha1.XRestateStack) {
				svc := httpService("orders", "http://orders:9080")
				svc.SkipInvokeFunctionGrant = true
				xr.Spec.Services = []v1alpha1.ServiceSpec{svc}
			},
			wantField: "spec.services[0]", wantText: "skipInvokeFunctionGrant only applies to lambda",
		},
		"a stack registration admin URL with credentials": {
			xr: all(withServices(s3Service("trips")), func(xr *v1alpha1.XRestateStack) {
				xr.Spec.Registration.AdminURL = "https://admin:secret@restate:9070"
			}),
			wantField: "spec.registration.adminUrl", wantText: "may not carry credentials",
		},
		"a service's health check attempts out of range": {
			xr: func(xr *v1alpha1.XRestateStack) {
				svc := s3Service("trips")
				svc.Registration.HealthCheck.Attempts = ptr.To[int32](0)
				xr.Spec.Services = []v1alpha1.ServiceSpec{svc}
			},
			wantField: "spec.services[0].registration.healthCheck.attempts", wantText: "greater than or equal to 1",
		},
		"an unknown versioning mode": {
			xr:        func(xr *v1alpha1.XRestateStack) { xr.Spec.Versioning = "Newest" },
			wantField: "spec.versioning", wantText: `"Newest"`,
		},
		"a malformed Restate Cloud environment id": {
			xr:        cloudEnv(func(c *v1alpha1.CloudEnvironmentSpec) { c.EnvironmentID = "201hd7bh2yrxzmy6h1eqdfhx7g" }),
			wantField: "spec.environment.cloud.environmentId", wantText: "should match",
		},
		"a Restate Cloud region that does not exist": {
			xr:        cloudEnv(func(c *v1alpha1.CloudEnvironmentSpec) { c.Region = "ap" }),
			wantField: "spec.environment.cloud.region", wantText: `"ap"`,
		},
		"a Restate Cloud environment without its API key Secret": {
			xr:        cloudEnv(func(c *v1alpha1.CloudEnvironmentSpec) { c.APIKeySecretRef = v1alpha1.SecretKeyReference{} }),
			wantField: "spec.environment.cloud.apiKeySecretRef.name", wantText: "should match",
		},
		"a Restate Cloud invoker role that is not a role ARN": {
			xr:        cloudEnv(func(c *v1alpha1.CloudEnvironmentSpec) { c.InvokerRoleARN = "restate-invoker" }),
			wantField: "spec.environment.cloud.invokerRoleArn", wantText: "should match",
		},
		"an external environment without an admin URL": {
			xr:        externalEnv(func(e *v1alpha1.ExternalEnvironmentSpec) { e.AdminURL = "" }),
			wantField: "spec.environment.external.adminUrl", wantText: "should match",
		},
		"an external token Secret reference without a name": {
			xr: externalEnv(func(e *v1alpha1.ExternalEnvironmentSpec) {
				e.AuthTokenSecretRef = &v1alpha1.SecretKeyReference{Key: "token"}
			}),
			wantField: "spec.environment.external.authTokenSecretRef.name", wantText: "should match",
		},
		"two environment kinds": {
			xr: func(xr *v1alpha1.XRestateStack) {
				xr.Spec.Environment.External = &v1alpha1.ExternalEnvironmentSpec{AdminURL: "https://restate.example.com:9070"}
			},
			wantField: "spec.environment", wantText: "exactly one of selfHosted, cloud or external must be set",
		},
		"no environment kind": {
			xr:        func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment = v1alpha1.EnvironmentSpec{} },
			wantField: "spec.environment", wantText: "exactly one of selfHosted, cloud or external",
		},
	}
	runRejections(t, cases)
}

// all applies changes to a claim in order.
func all(changes ...func(*v1alpha1.XRestateStack)) func(*v1alpha1.XRestateStack) {
	return func(xr *v1alpha1.XRestateStack) {
		for _, c := range changes {
			c(xr)
		}
	}
}

func withPublisher(p *platform.StackPolicy) {
	p.Registration.Publisher = &platform.PublisherIdentity{ServiceAccountName: "restate-publisher", RoleARN: "arn:aws:iam::123456789012:role/restate-publisher"}
}

// TestRegistrationOptions: the CDK's defaults, stack-level defaults, and a
// service's own options over them, field by field.
func TestRegistrationOptions(t *testing.T) {
	resolveOne := func(t *testing.T, mutate ...func(*v1alpha1.XRestateStack)) []stack.ServiceRegistration {
		t.Helper()
		s, _, errs := resolve(newXR(mutate...), newPolicy(withPublisher), nil)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		out := make([]stack.ServiceRegistration, 0, len(s.Services))
		for _, svc := range s.Services {
			out = append(out, svc.Registration)
		}
		return out
	}
	cdk := stack.ServiceRegistration{
		RemovalPolicy: v1alpha1.RemovalRetain, MaxPrunedPerRun: 10,
		HealthCheckAttempts: 10, MaxBackoffSeconds: 20,
	}
	withForce := cdk
	withForce.Force = true

	t.Run("defaults: Latest and HTTP endpoints are forced, Published versions are not", func(t *testing.T) {
		got := resolveOne(t, withServices(s3Service("trips"), httpService("orders", "http://orders:9080")))
		want(t, got[0], withForce)
		want(t, got[1], withForce)
		got = resolveOne(t, withServices(s3Service("trips")), func(xr *v1alpha1.XRestateStack) { xr.Spec.Versioning = v1alpha1.VersioningPublished })
		want(t, got[0], cdk)
	})
	t.Run("the platform's default versioning", func(t *testing.T) {
		s, _, _ := resolve(newXR(), newPolicy(func(p *platform.StackPolicy) { p.DefaultVersioning = "Published" }), nil)
		want(t, s.Versioning, v1alpha1.VersioningPublished)
		s, _, _ = resolve(newXR(), newPolicy(), nil)
		want(t, s.Versioning, v1alpha1.VersioningLatest)
	})
	t.Run("a service overrides the stack, field by field", func(t *testing.T) {
		own := s3Service("payments")
		own.Registration = v1alpha1.RegistrationOptions{
			Private: ptr.To(true), RemovalPolicy: v1alpha1.RemovalDestroy, Force: ptr.To(false),
			HealthCheck: v1alpha1.HealthCheckOptions{Attempts: ptr.To[int32](3)},
		}
		got := resolveOne(t, withServices(s3Service("trips"), own), func(xr *v1alpha1.XRestateStack) {
			xr.Spec.Registration = v1alpha1.RegistrationOptions{
				Breaking: ptr.To(true), PruneDrainedDeployments: ptr.To(true), RevisionHistoryLimit: ptr.To[int32](2),
				MaxPrunedPerRun: ptr.To[int32](5), AdminURL: "http://restate-admin.internal:9070",
				HealthCheck: v1alpha1.HealthCheckOptions{Attempts: ptr.To[int32](20), MaxBackoffSeconds: ptr.To[int32](5)},
			}
		})
		stackWide := stack.ServiceRegistration{
			Force: true, Breaking: true, Prune: true, RevisionHistoryLimit: 2, MaxPrunedPerRun: 5,
			AdminURL: "http://restate-admin.internal:9070", RemovalPolicy: v1alpha1.RemovalRetain,
			HealthCheckAttempts: 20, MaxBackoffSeconds: 5,
		}
		want(t, got[0], stackWide)
		overridden := stackWide
		overridden.Private, overridden.RemovalPolicy, overridden.Force, overridden.HealthCheckAttempts = true, v1alpha1.RemovalDestroy, false, 3
		want(t, got[1], overridden)
	})
	t.Run("insecure follows the environment", func(t *testing.T) {
		got := resolveOne(t, withServices(s3Service("trips")), func(xr *v1alpha1.XRestateStack) {
			xr.Spec.Environment.SelfHosted.TLS.Termination = v1alpha1.TLSSelfSigned
		})
		want(t, got[0].Insecure, true)
		got = resolveOne(t, withServices(s3Service("trips")), externalEnv(func(e *v1alpha1.ExternalEnvironmentSpec) { e.Insecure = true }))
		want(t, got[0].Insecure, true)
		got = resolveOne(t, withServices(s3Service("trips")), cloudEnv())
		want(t, got[0].Insecure, false)
	})
}
