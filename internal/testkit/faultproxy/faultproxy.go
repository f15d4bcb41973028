// Package faultproxy is an HTTP proxy between an AWS client (provider-aws
// in the end-to-end test) and an emulated AWS account that makes a bad day
// on purpose: AWS's own throttling and server errors, in each service's wire
// shape, connections dropped before the request arrives or after it was
// served (the response lost, so the client cannot know it succeeded), and
// added latency. Which call gets which fault is decided from a seed, the
// operation and how many times that operation was called before, so a run
// is reproducible however calls interleave.
package faultproxy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Class is a kind of fault.
type Class string

// Fault classes.
const (
	// Throttle: the service's throttling error (EC2 RequestLimitExceeded,
	// IAM and STS Throttling, ThrottlingException of JSON services, Lambda's
	// TooManyRequestsException), before the request reaches the account.
	Throttle Class = "throttle"
	// ServerError: a 500 of the service's shape, before the request arrives.
	ServerError Class = "server-error"
	// Unavailable: a 503 of the service's shape, before the request arrives.
	Unavailable Class = "unavailable"
	// Drop: the connection closes before the request is forwarded.
	Drop Class = "drop"
	// Lost: the request is served, then the connection closes without the
	// response: the client sees an error for a call that took effect.
	Lost Class = "lost"
	// Latency: the call is served after an added delay.
	Latency Class = "latency"
)

// Classes are every fault class, in the order a fault is drawn from.
var Classes = []Class{Throttle, ServerError, Unavailable, Drop, Lost, Latency}

// Proxy forwards to an emulated account and injects faults into a share of
// calls. Rate may be changed while it runs (SetRate).
type Proxy struct {
	target *url.URL
	seed   uint64
	// Spare lists operations ("service:Operation") no Lost fault is put on:
	// creates the client cannot make idempotent, whose lost response would
	// leave an orphan that nothing can find again (see the e2e's note).
	spare map[string]bool
	// MaxLatency bounds the added delay.
	maxLatency time.Duration

	mu     sync.Mutex
	rate   float64
	seen   map[string]uint64 // calls so far, by operation
	calls  map[string]int    // calls, by service
	faults map[Class]int
	byOp   map[string]int // faults, by "class service:Operation"
	rp     *httputil.ReverseProxy
	forced Class // tests: every fault is of this class
}

// New returns a proxy to target that faults rate (0 to 1) of its calls.
func New(target string, seed uint64, rate float64, spare ...string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: u, seed: seed, rate: rate, maxLatency: 2 * time.Second, spare: map[string]bool{},
		seen: map[string]uint64{}, calls: map[string]int{}, faults: map[Class]int{}, byOp: map[string]int{}}
	for _, op := range spare {
		p.spare[op] = true
	}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	// A client that gives up on a slow call is part of the day, not news.
	p.rp.ErrorLog = log.New(io.Discard, "", 0)
	return p, nil
}

// SetRate changes the share of calls that get a fault.
func (p *Proxy) SetRate(rate float64) {
	p.mu.Lock()
	p.rate = rate
	p.mu.Unlock()
}

// credentialScope finds the service in a SigV4 Authorization header:
// Credential=AKID/date/region/service/aws4_request.
var credentialScope = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request`)

// operation names a call as service:Operation, from what each protocol
// carries: the query protocols' Action, the JSON protocols' X-Amz-Target,
// the REST protocols' method and path (ids replaced by their shape).
func operation(r *http.Request, body []byte) (service, op string) {
	service = "unknown"
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		service = m[1]
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return service, t[strings.LastIndex(t, ".")+1:]
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
			return service, v.Get("Action")
		}
	}
	return service, r.Method + " " + restPath(r.URL.Path)
}

// restPath keeps a REST path's fixed words: Lambda's paths alternate an
// API version or a name with a word (/2015-03-31/functions/NAME/versions),
// so /{}/functions/{}/versions names the call whatever the function.
func restPath(path string) string {
	parts := strings.Split(path, "/")
	for i := 1; i < len(parts); i += 2 {
		if parts[i] != "" {
			parts[i] = "{}"
		}
	}
	return strings.Join(parts, "/")
}

// draw decides a call's fault: the seed, the operation and its count
// select a number in [0,1); below rate is a fault, whose class is the
// next draw's.
func (p *Proxy) draw(key string) (Class, float64) {
	p.mu.Lock()
	n := p.seen[key]
	p.seen[key] = n + 1
	rate := p.rate
	p.mu.Unlock()
	h := fnv.New64a()
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[:8], p.seed)
	binary.LittleEndian.PutUint64(buf[8:], n)
	h.Write(buf[:])
	h.Write([]byte(key))
	x := h.Sum64()
	u := float64(x>>11) / (1 << 53)
	if u >= rate {
		return "", 0
	}
	v := float64(x&0x7ff) / 0x800 // the low bits pick the class and the delay
	if p.forced != "" {
		return p.forced, v
	}
	return Classes[int(v*float64(len(Classes)))], v
}

// ServeHTTP forwards the call, or answers it with a fault.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	service, op := operation(r, body)
	key := service + ":" + op
	class, v := p.draw(key)
	if class == Lost && p.spare[key] {
		class = Latency
	}
	p.mu.Lock()
	p.calls[service]++
	if class != "" {
		p.faults[class]++
		p.byOp[string(class)+" "+key]++
	}
	p.mu.Unlock()
	switch class {
	case Throttle, ServerError, Unavailable:
		writeError(w, service, class)
	case Drop:
		hangUp(w)
	case Lost:
		rec := &discard{header: http.Header{}}
		p.rp.ServeHTTP(rec, r)
		hangUp(w)
	case Latency:
		time.Sleep(time.Duration(v * float64(p.maxLatency)))
		p.rp.ServeHTTP(w, r)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// hangUp closes the client's connection without a response.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// discard is a response writer that keeps nothing: a Lost call's answer.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// protocol families, by service: how each answers an error.
var (
	queryXML = map[string]bool{"iam": true, "sts": true, "elasticloadbalancing": true, "autoscaling": true}
	jsonRPC  = map[string]bool{"logs": true, "secretsmanager": true, "kms": true, "ssm": true}
)

// writeError answers with the service's own error shape for class.
func writeError(w http.ResponseWriter, service string, class Class) {
	status := map[Class]int{Throttle: http.StatusBadRequest, ServerError: http.StatusInternalServerError, Unavailable: http.StatusServiceUnavailable}[class]
	const id = "00000000-0000-4000-8000-00000000fa17"
	switch {
	case service == "ec2":
		code := map[Class]string{Throttle: "RequestLimitExceeded", ServerError: "InternalError", Unavailable: "Unavailable"}[class]
		if class == Throttle {
			status = http.StatusServiceUnavailable // EC2 throttles with a 503
		}
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>fault injected</Message></Error></Errors><RequestID>%s</RequestID></Response>`, code, id)
	case service == "s3":
		code := map[Class]string{Throttle: "SlowDown", ServerError: "InternalError", Unavailable: "ServiceUnavailable"}[class]
		if class == Throttle {
			status = http.StatusServiceUnavailable // S3's 503 SlowDown
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>fault injected</Message><RequestId>%s</RequestId></Error>`, code, id)
	case queryXML[service]:
		code := map[Class]string{Throttle: "Throttling", ServerError: "ServiceFailure", Unavailable: "ServiceUnavailable"}[class]
		kind := map[bool]string{true: "Sender", false: "Receiver"}[class == Throttle]
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>fault injected</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, kind, code, id)
	case jsonRPC[service]:
		code := map[Class]string{Throttle: "ThrottlingException", ServerError: "InternalFailure", Unavailable: "ServiceUnavailable"}[class]
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-Requestid", id)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":"fault injected"}`, code)
	default: // REST-JSON (Lambda)
		code := map[Class]string{Throttle: "TooManyRequestsException", ServerError: "ServiceException", Unavailable: "ServiceException"}[class]
		if class == Throttle {
			status = http.StatusTooManyRequests
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", code)
		w.Header().Set("X-Amzn-Requestid", id)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"Type":"User","message":"fault injected"}`)
	}
}

// Counts is what a proxy saw.
type Counts struct {
	Calls  int
	Faults map[Class]int
	// ByService is calls by service.
	ByService map[string]int
	// ByOperation is faults by "class service:Operation".
	ByOperation map[string]int
}

// Counts returns a copy of the counts so far.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := Counts{Faults: map[Class]int{}, ByService: map[string]int{}, ByOperation: map[string]int{}}
	for k, v := range p.calls {
		c.ByService[k] = v
		c.Calls += v
	}
	for k, v := range p.faults {
		c.Faults[k] = v
	}
	for k, v := range p.byOp {
		c.ByOperation[k] = v
	}
	return c
}

// String is the counts in one line: calls, then faults by class.
func (c Counts) String() string {
	var parts []string
	total := 0
	for _, cl := range Classes {
		parts = append(parts, fmt.Sprintf("%s %d", cl, c.Faults[cl]))
		total += c.Faults[cl]
	}
	var svc []string
	for k, v := range c.ByService {
		svc = append(svc, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(svc)
	return fmt.Sprintf("%d calls (%s), %d faults (%s)", c.Calls, strings.Join(svc, ", "), total, strings.Join(parts, ", "))
}

// Since is what the proxy saw after prev was taken.
func (c Counts) Since(prev Counts) Counts {
	d := Counts{Calls: c.Calls - prev.Calls, Faults: map[Class]int{}, ByService: map[string]int{}, ByOperation: map[string]int{}}
	for k, v := range c.Faults {
		d.Faults[k] = v - prev.Faults[k]
	}
	for k, v := range c.ByService {
		d.ByService[k] = v - prev.ByService[k]
	}
	for k, v := range c.ByOperation {
		if n := v - prev.ByOperation[k]; n > 0 {
			d.ByOperation[k] = n
		}
	}
	return d
}
