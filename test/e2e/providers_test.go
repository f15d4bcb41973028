//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
	"github.com/restate-crossplane/function-restate-stack/internal/register"
	"github.com/restate-crossplane/function-restate-stack/internal/testkit/providersim"
)

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// providers is a stand-in for what cannot run here:
//   - the kubelet (no container runtime): the real job controller creates a
//     Pod for each registration Job; the stand-in runs the Pod's register
//     command, for real when the Job targets the local restate-server, else
//     simulated (a Restate Cloud or made-up host), writes the report into
//     the Job's ConfigMap as the Pod's own service account would (a token
//     of that account, so the Job's Role is what allows it), and sets the
//     Pod's phase, from which the job controller completes or fails the Job;
//   - what moto cannot do: it runs no Lambda code and no EC2 user data, so
//     no Restate server answers at a self-hosted or Lambda-invoking
//     environment; those Jobs' results are simulated (providersim.ReportOf).
type providers struct {
	b        *box
	dyn      dynamic.Interface
	restate  string // admin URL of the real restate-server
	function string

	mu       sync.Mutex
	ran      []string             // register command lines run for real
	failed   []string             // Pods failed, with why
	lambda   []string             // what restate-server answered Lambda registrations
	done     map[types.UID]bool   // Pods run
	seen     map[string]time.Time // when the kubelet stand-in first saw each Job's Pod, by Job
	returned map[string]time.Time // when each Job's register command returned, by Job
	finished map[string]time.Time // when each Job's Pod finished, by Job
	stop     chan struct{}
	stopped  chan struct{}
	// killMidRun: the next Pod registering with the local server dies
	// (SIGKILL) the moment Restate has answered its registration.
	killMidRun atomic.Bool
}

func (b *box) startProviders(restateAdmin string) *providers {
	t := b.t
	cfg, err := clientcmd.BuildConfigFromFlags("", b.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	p := &providers{b: b, dyn: dynamic.NewForConfigOrDie(cfg), restate: restateAdmin, function: bin(t, "FUNCTION"),
		stop: make(chan struct{}), stopped: make(chan struct{}), done: map[types.UID]bool{},
		seen: map[string]time.Time{}, returned: map[string]time.Time{}, finished: map[string]time.Time{}}
	go func() {
		defer close(p.stopped)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(300 * time.Millisecond):
				p.runPods()
			}
		}
	}()
	t.Cleanup(func() { close(p.stop); <-p.stopped })
	return p
}

// runPods plays the kubelet for the Pods of registration Jobs.
func (p *providers) runPods() {
	ctx := context.Background()
	list, err := p.dyn.Resource(podsGVR).List(ctx, metav1.ListOptions{LabelSelector: "restate-crossplane.io/stack"})
	if err != nil {
		return
	}
	for i := range list.Items {
		pod := &list.Items[i]
		p.mu.Lock()
		seen := p.done[pod.GetUID()]
		p.done[pod.GetUID()] = true
		p.mu.Unlock()
		if seen || pod.GetDeletionTimestamp() != nil {
			continue
		}
		// Pods run side by side, as on nodes: a slow one (a Lambda that
		// Restate cannot reach here) holds up no other.
		go p.finishPod(ctx, pod)
	}
}

// finishPod runs a Pod and sets its phase.
func (p *providers) finishPod(ctx context.Context, pod *unstructured.Unstructured) {
	phase, exitCode, message := "Succeeded", int64(0), ""
	job := ""
	for _, o := range pod.GetOwnerReferences() {
		if o.Kind == "Job" {
			job = o.Name
		}
	}
	p.stamp(p.seen, job)
	err := p.runPod(pod)
	p.stamp(p.returned, job)
	if err != nil {
		phase, exitCode, message = "Failed", 1, err.Error()
		p.mu.Lock()
		p.failed = append(p.failed, pod.GetName()+": "+message)
		p.mu.Unlock()
	}
	now := metav1.Now().UTC().Format(time.RFC3339)
	_ = unstructured.SetNestedField(pod.Object, map[string]any{
		"phase": phase, "startTime": now,
		"containerStatuses": []any{map[string]any{"name": "register", "image": "register", "imageID": "", "ready": false, "restartCount": int64(0),
			"state": map[string]any{"terminated": map[string]any{"exitCode": exitCode, "message": message, "startedAt": now, "finishedAt": now,
				"reason": map[bool]string{true: "Completed", false: "Error"}[exitCode == 0]}}}},
	}, "status")
	for range 5 {
		if _, err := p.dyn.Resource(podsGVR).Namespace(pod.GetNamespace()).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
		if fresh, err := p.dyn.Resource(podsGVR).Namespace(pod.GetNamespace()).Get(ctx, pod.GetName(), metav1.GetOptions{}); err == nil {
			fresh.Object["status"] = pod.Object["status"]
			pod = fresh
		}
	}
	p.stamp(p.finished, job)
}

// stamp records now for a Job, the first time only (a Job's next Pod,
// after one killed, does not move its times).
func (p *providers) stamp(m map[string]time.Time, job string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := m[job]; !ok && job != "" {
		m[job] = time.Now()
	}
}

// runPod runs a registration Pod's register command and reports its result
// as the Pod's service account.
func (p *providers) runPod(pod *unstructured.Unstructured) error {
	cs, _, _ := unstructured.NestedSlice(pod.Object, "spec", "containers")
	if len(cs) == 0 {
		return fmt.Errorf("a Pod without a container")
	}
	c, _ := cs[0].(map[string]any)
	line, _, _ := unstructured.NestedStringSlice(c, "args")
	a, err := regcontract.Parse(line)
	if err != nil {
		return err
	}
	var res regcontract.Report
	if a.AdminURL == p.restate {
		if p.killMidRun.CompareAndSwap(true, false) {
			return p.runKilled(a)
		}
		out, err := p.run(a, 2*time.Minute)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(out, &res); err != nil {
			return err
		}
	} else {
		if a.LambdaARN != "" {
			p.lambdaRequest(a)
		}
		data, err := providersim.ReportOf(line) // not the local server: simulated
		if err != nil {
			return err
		}
		res = regcontract.ReportFromData(func(k string) string { return data[k] })
	}
	if a.ReportConfigMap == "" {
		return nil
	}
	sa, _, _ := unstructured.NestedString(pod.Object, "spec", "serviceAccountName")
	token, err := p.b.kubectl("-n", pod.GetNamespace(), "create", "token", sa, "--duration=10m")
	if err != nil {
		return err
	}
	cfg := &rest.Config{Host: p.b.apiServer, BearerToken: strings.TrimSpace(token), TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return register.Report(ctx, cfg, pod.GetNamespace(), a.ReportConfigMap, &res)
}

// run runs register with the Job's arguments against the local server: no
// cluster to report to from here and no mounted token, quick health checks.
func (p *providers) run(a regcontract.Args, timeout time.Duration) ([]byte, error) {
	a.ReportConfigMap, a.TokenFile, a.HealthInitialBackoff = "", "", 100*time.Millisecond
	line := append(a.CommandLine(), "--health-jitter=0s")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, p.function, line...).Output()
	p.mu.Lock()
	p.ran = append(p.ran, strings.Join(line, " "))
	p.mu.Unlock()
	if ee, ok := err.(*exec.ExitError); ok {
		return out, fmt.Errorf("%s", strings.TrimSpace(string(ee.Stderr)))
	}
	return out, err
}

// runKilled runs register as run does, through a proxy to the local
// restate-server that SIGKILLs it as soon as Restate has answered its
// registration: the registration took effect, and the Pod dies before it
// can report (a node lost, an OOM kill). The Pod fails; the job controller
// starts another.
func (p *providers) runKilled(a regcontract.Args) error {
	target, err := url.Parse(p.restate)
	if err != nil {
		return err
	}
	var cmd *exec.Cmd
	var killed atomic.Bool
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method == http.MethodPost && r.Request.URL.Path == "/deployments" && r.StatusCode < 300 {
			killed.Store(true)
			_ = cmd.Process.Kill()
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	defer srv.Close()
	a.AdminURL = srv.URL
	a.ReportConfigMap, a.TokenFile, a.HealthInitialBackoff = "", "", 100*time.Millisecond
	cmd = exec.Command(p.function, append(a.CommandLine(), "--health-jitter=0s")...)
	err = cmd.Run()
	p.mu.Lock()
	p.ran = append(p.ran, "SIGKILLed mid-run: "+strings.Join(cmd.Args, " "))
	p.mu.Unlock()
	if !killed.Load() {
		return fmt.Errorf("register ended before Restate answered its registration: %v", err)
	}
	return fmt.Errorf("SIGKILLed after Restate answered its registration (%v)", err)
}

// lambdaRequest sends a Lambda registration Job's request to the local
// restate-server instead of the Job's own (made-up or cloud) admin URL. With
// no AWS here, Restate's discovery of the function fails; what matters is
// that the request carried the qualified ARN and the invoker role, which
// Restate's error names. The Job itself is then simulated.
func (p *providers) lambdaRequest(a regcontract.Args) {
	a.AdminURL, a.ExpectedService, a.Insecure, a.Prune, a.RegisterAttempts = p.restate, "", false, false, 1
	a.AllowLoopback = true // the local server
	a.Deadline = time.Minute
	out, err := p.run(a, time.Minute)
	if err != nil {
		out = append(out, err.Error()...)
	}
	p.mu.Lock()
	p.lambda = append(p.lambda, string(out))
	p.mu.Unlock()
}

// jobSteps are the steps of one registration by Job, from the claim's apply.
type jobSteps struct {
	ToPod    time.Duration // apply -> the Job's Pod seen: Crossplane's watch, the function, the Job applied, the job controller's Pod, the stand-in's 300 ms poll
	Register time.Duration // the register command, against restate-server
	ToStatus time.Duration // the Pod finished -> Registered=True: the job controller, Crossplane's watch on the Job, the function, the claim's sync
	Total    time.Duration // apply -> Registered=True
}

// registeredAfter polls a claim closely until its Registered condition is
// True for a Job the stand-in ran after applied, and returns what each step
// took.
func (p *providers) registeredAfter(t *testing.T, namespace, claim string, applied time.Time) jobSteps {
	t.Helper()
	gvr := schema.GroupVersionResource{Group: "stack.restate-crossplane.io", Version: "v1alpha1", Resource: "restatestacks"}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		u, err := p.dyn.Resource(gvr).Namespace(namespace).Get(context.Background(), claim, metav1.GetOptions{})
		if err == nil {
			now := time.Now()
			services, _, _ := unstructured.NestedSlice(u.Object, "status", "services")
			job := ""
			if len(services) > 0 {
				job, _, _ = unstructured.NestedString(services[0].(map[string]any), "registration", "job")
			}
			p.mu.Lock()
			seen, returned, finished := p.seen[job], p.returned[job], p.finished[job]
			p.mu.Unlock()
			if !finished.IsZero() && seen.After(applied) && conditionStatus(u, "Registered") == "True" {
				return jobSteps{ToPod: seen.Sub(applied), Register: returned.Sub(seen), ToStatus: now.Sub(finished), Total: now.Sub(applied)}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/%s was not registered by a Job the stand-in ran", namespace, claim)
	return jobSteps{}
}

func conditionStatus(u *unstructured.Unstructured, typ string) string {
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}
