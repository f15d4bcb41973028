// Package restateadmin is a typed client for the few endpoints of the
// Restate admin API that registration calls. Its types are written by hand
// for those endpoints only; a test checks every field against the OpenAPI
// document a real restate-server serves.
package restateadmin

import (
	"net"
	"net/netip"
	"syscall"

	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/restate-crossplane/function-restate-stack/internal/adminaddr"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RegisterRequest is POST /deployments, for a Lambda (ARN) or an HTTP
// endpoint (URI).
type RegisterRequest struct {
	URI           string `json:"uri,omitempty"`
	ARN           string `json:"arn,omitempty"`
	AssumeRoleARN string `json:"assume_role_arn,omitempty"`
	// Force overwrites an existing deployment of the same endpoint.
	Force bool `json:"force"`
	// Breaking allows incompatible service revisions.
	Breaking bool `json:"breaking"`
	// DryRun discovers the services without registering them.
	DryRun bool `json:"dry_run,omitempty"`
}

// RegisterResponse is what Restate discovered at the endpoint.
type RegisterResponse struct {
	ID       string            `json:"id"`
	Services []ServiceMetadata `json:"services"`
	// Created is false when the endpoint was registered already (200):
	// without force Restate then changes nothing.
	Created bool `json:"-"`
}

// ServiceMetadata is the part of a service's metadata registration reads.
type ServiceMetadata struct {
	Name         string `json:"name"`
	Revision     int    `json:"revision"`
	Public       bool   `json:"public"`
	DeploymentID string `json:"deployment_id"`
}

// ModifyServiceRequest is PATCH /services/{service}; only public is set.
type ModifyServiceRequest struct {
	Public *bool `json:"public,omitempty"`
}

// QueryRequest is POST /query.
type QueryRequest struct {
	Query string `json:"query"`
}

// QueryResponse is the JSON form of a query's result.
type QueryResponse struct {
	Rows []map[string]any `json:"rows"`
}

// Error is a response of the admin API that is not a success. Its message
// is Restate's own.
type Error struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// Unauthorized is true for a missing or refused token.
func (e *Error) Unauthorized() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// Client calls one admin API. The token is sent as a bearer token and
// never appears in an error or a log line.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client of the admin API at adminURL. insecure accepts any
// certificate, for self-signed servers. It refuses, before and after name
// resolution, to reach link-local and cloud metadata addresses, and
// loopback unless allowLoopback (see internal/adminaddr).
func New(adminURL, token string, insecure, allowLoopback bool) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(adminURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("admin URL %q is not an http or https URL", adminURL)
	}
	if why := adminaddr.RefusedHost(u.Hostname(), allowLoopback); why != "" {
		return nil, fmt.Errorf("admin URL %q: refused, its host is %s", adminURL, why)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every address dialled is checked after resolution, so a name that
	// resolves (or rebinds) to a refused address is refused too.
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: dialGuard(allowLoopback)}
	tr.DialContext = dialer.DialContext
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for: self-signed admin endpoints
	}
	return &Client{base: u, token: token, http: &http.Client{Transport: tr}}, nil
}

// dialGuard checks each address the client connects to, after resolution.
func dialGuard(allowLoopback bool) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		if why := adminaddr.RefusedIP(ip, allowLoopback); why != "" {
			return fmt.Errorf("refused to connect to %s: %s", ip, why)
		}
		return nil
	}
}

// Health is GET /health, within timeout.
func (c *Client) Health(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.do(ctx, http.MethodGet, "/health", nil, nil)
}

// Register is POST /deployments.
func (c *Client) Register(ctx context.Context, req RegisterRequest) (*RegisterResponse, error) {
	out := &RegisterResponse{}
	status, err := c.doStatus(ctx, http.MethodPost, "/deployments", req, out)
	out.Created = status == http.StatusCreated
	return out, err
}

// SetPublic is PATCH /services/{service} with public set.
func (c *Client) SetPublic(ctx context.Context, service string, public bool) error {
	return c.do(ctx, http.MethodPatch, "/services/"+url.PathEscape(service), ModifyServiceRequest{Public: &public}, nil)
}

// Query runs SQL on POST /query and returns its rows as JSON objects.
func (c *Client) Query(ctx context.Context, sql string) ([]map[string]any, error) {
	out := &QueryResponse{}
	return out.Rows, c.do(ctx, http.MethodPost, "/query", QueryRequest{Query: sql}, out)
}

// DeleteDeployment is DELETE /deployments/{id}?force=true, the only kind
// of deletion Restate supports. A deployment already gone is not an error.
func (c *Client) DeleteDeployment(ctx context.Context, id string) error {
	err := c.do(ctx, http.MethodDelete, "/deployments/"+url.PathEscape(id)+"?force=true", nil, nil)
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return nil
	}
	return err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	_, err := c.doStatus(ctx, method, path, in, out)
	return err
}

// doStatus sends one request and decodes its JSON response into out; it
// returns the status code of a success.
func (c *Client) doStatus(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	rsp, err := c.http.Do(req)
	if err != nil {
		// The URL error names the method and URL, never the headers.
		return 0, err
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(rsp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("%s %s: reading the response: %w", method, path, err)
	}
	if rsp.StatusCode < 200 || rsp.StatusCode > 299 {
		return 0, &Error{Method: method, Path: strings.SplitN(path, "?", 2)[0], Status: rsp.StatusCode, Message: errorMessage(b)}
	}
	if out == nil || len(b) == 0 {
		return rsp.StatusCode, nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return 0, fmt.Errorf("%s %s: unexpected response: %w", method, path, err)
	}
	return rsp.StatusCode, nil
}

// errorMessage is the message of Restate's error body, else the body on one
// line.
func errorMessage(b []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		return oneLine(e.Message)
	}
	return oneLine(string(b))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	// Discovery errors carry whole debug dumps; the start says what failed.
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
