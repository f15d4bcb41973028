package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// account answers the four calls below as the services would, and counts
// the calls that reached it.
func account(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var served atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_ = r.ParseForm()
		switch {
		case r.Form.Get("Action") == "DescribeVpcs":
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprint(w, `<DescribeVpcsResponse><vpcSet/></DescribeVpcsResponse>`)
		case r.Form.Get("Action") == "GetCallerIdentity":
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprint(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`)
		case r.Header.Get("X-Amz-Target") != "":
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			fmt.Fprint(w, `{"SecretList":[]}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"Functions":[]}`)
		}
	}))
	t.Cleanup(s.Close)
	return s, &served
}

// calls are one call of each protocol family, through the AWS SDK's own
// clients with no retries: the SDK decodes what the proxy answers.
func calls(endpoint string) map[string]func() error {
	cfg := aws.Config{Region: "eu-central-1", BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret", "")}
	ctx := context.Background()
	return map[string]func() error{
		"ec2": func() error { _, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); return err },
		"sts": func() error {
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		},
		"secretsmanager": func() error {
			_, err := secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
			return err
		},
		"lambda": func() error {
			_, err := lambda.NewFromConfig(cfg).ListFunctions(ctx, &lambda.ListFunctionsInput{})
			return err
		},
	}
}

func TestFaultShapesAreWhatTheSDKDecodes(t *testing.T) {
	backend, served := account(t)
	want := map[Class]map[string]string{
		Throttle:    {"ec2": "RequestLimitExceeded", "sts": "Throttling", "secretsmanager": "ThrottlingException", "lambda": "TooManyRequestsException"},
		ServerError: {"ec2": "InternalError", "sts": "ServiceFailure", "secretsmanager": "InternalFailure", "lambda": "ServiceException"},
		Unavailable: {"ec2": "Unavailable", "sts": "ServiceUnavailable", "secretsmanager": "ServiceUnavailable", "lambda": "ServiceException"},
	}
	for _, class := range Classes {
		p, err := New(backend.URL, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		p.forced = class
		front := httptest.NewServer(p)
		for service, call := range calls(front.URL) {
			before := served.Load()
			err := call()
			reached := served.Load() - before
			var api smithy.APIError
			switch class {
			case Throttle, ServerError, Unavailable:
				if !errors.As(err, &api) || api.ErrorCode() != want[class][service] {
					t.Errorf("%s %s: the SDK decoded %v, want the API error %s", class, service, err, want[class][service])
				}
				// The SDK's retryer must take it for what it is: a
				// throttle, or a retryable server error.
				if class == Throttle && retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
					t.Errorf("%s %s: the SDK does not take %v for a throttle", class, service, err)
				}
				if class != Throttle && retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
					t.Errorf("%s %s: the SDK would not retry %v", class, service, err)
				}
				if reached != 0 {
					t.Errorf("%s %s: the call reached the account", class, service)
				}
			case Drop, Lost:
				if err == nil || api != nil && errors.As(err, &api) {
					t.Errorf("%s %s: want a connection error, got %v", class, service, err)
				}
				if want := map[Class]int64{Drop: 0, Lost: 1}[class]; reached != want {
					t.Errorf("%s %s: %d calls reached the account, want %d", class, service, reached, want)
				}
			case Latency:
				if err != nil || reached != 1 {
					t.Errorf("%s %s: want the call served late, got %v (%d served)", class, service, err, reached)
				}
			}
		}
		front.Close()
		if c := p.Counts(); c.Calls != 4 || c.Faults[class] != 4 {
			t.Errorf("%s: counted %s", class, c)
		}
	}
}

func TestDrawsAreReproducibleAndAtTheRate(t *testing.T) {
	classes := func(seed uint64, parallel bool) map[string][]Class {
		p, _ := New("http://127.0.0.1:1", seed, 0.15)
		out := map[string][]Class{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, op := range []string{"ec2:RunInstances", "ec2:DescribeInstances", "iam:CreateRole"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 2000 {
					c, _ := p.draw(op)
					mu.Lock()
					out[op] = append(out[op], c)
					mu.Unlock()
				}
			}()
			if !parallel {
				wg.Wait()
			}
		}
		wg.Wait()
		return out
	}
	a, b, other := classes(7, false), classes(7, true), classes(8, true)
	for op, seq := range a {
		if fmt.Sprint(seq) != fmt.Sprint(b[op]) {
			t.Errorf("%s: the same seed drew differently when calls interleaved", op)
		}
		if fmt.Sprint(seq) == fmt.Sprint(other[op]) {
			t.Errorf("%s: another seed drew the same", op)
		}
		n, per := 0, map[Class]int{}
		for _, c := range seq {
			if c != "" {
				n++
				per[c]++
			}
		}
		if share := float64(n) / float64(len(seq)); share < 0.12 || share > 0.18 {
			t.Errorf("%s: %.3f of calls faulted, want about 0.15", op, share)
		}
		for _, c := range Classes {
			if per[c] == 0 {
				t.Errorf("%s: no %s fault in %d draws", op, c, len(seq))
			}
		}
	}
}

func TestSpareOperationsLoseNoResponse(t *testing.T) {
	backend, served := account(t)
	p, _ := New(backend.URL, 1, 1, "ec2:DescribeVpcs")
	p.forced = Lost
	front := httptest.NewServer(p)
	defer front.Close()
	if err := calls(front.URL)["ec2"](); err != nil || served.Load() != 1 {
		t.Errorf("a spared operation lost its response: %v", err)
	}
	if err := calls(front.URL)["sts"](); err == nil {
		t.Error("an operation not spared kept its response")
	}
}

func TestOperationNames(t *testing.T) {
	for path, want := range map[string]string{
		"/2015-03-31/functions/stack-a-orders/versions": "GET /{}/functions/{}/versions",
		"/2015-03-31/functions/":                        "GET /{}/functions/",
	} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if _, op := operation(r, nil); op != want {
			t.Errorf("%s: %q, want %q", path, op, want)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=RunInstances&Version=2016-11-15"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261203/eu-central-1/ec2/aws4_request, SignedHeaders=host, Signature=x")
	if s, op := operation(r, []byte("Action=RunInstances&Version=2016-11-15")); s != "ec2" || op != "RunInstances" {
		t.Errorf("got %s:%s, want ec2:RunInstances", s, op)
	}
}
