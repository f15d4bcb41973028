//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
	"github.com/restate-crossplane/function-restate-stack/internal/providersim"
	"github.com/restate-crossplane/function-restate-stack/internal/regcontract"
)

// providers is a stand-in for provider-aws and provider-kubernetes, which
// cannot run here (no AWS, no kubelet). Every composed resource it has not
// marked yet, it marks ready with the status the provider would report
// (internal/providersim). For each registration Job wrapped in an Object,
// it first checks the Job against the API server (a server-side dry run),
// then runs the Job's own register command: for real against the local
// restate-server when the Job's admin URL is that server's, else (a cloud
// or made-up host) simulated. A Job whose register fails is marked Failed.
type providers struct {
	b        *box
	dyn      dynamic.Interface
	restate  string // admin URL of the real restate-server
	function string

	mu        sync.Mutex
	dryRunErr []string
	updateErr map[string]string // last status update error by object
	ran       []string          // register command lines run for real
	lambda    []string          // what restate-server answered Lambda registrations
	stop      chan struct{}
	done      chan struct{}
}

func (b *box) startProviders(restateAdmin string) *providers {
	t := b.t
	cfg, err := clientcmd.BuildConfigFromFlags("", b.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	p := &providers{b: b, dyn: dynamic.NewForConfigOrDie(cfg), restate: restateAdmin, function: bin(t, "FUNCTION"),
		stop: make(chan struct{}), done: make(chan struct{}), updateErr: map[string]string{}}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(300 * time.Millisecond):
				p.step()
			}
		}
	}()
	t.Cleanup(func() { close(p.stop); <-p.done })
	return p
}

func (p *providers) step() {
	ctx := context.Background()
	type item struct {
		gvr schema.GroupVersionResource
		u   *unstructured.Unstructured
	}
	var pending []item
	for _, k := range kinds.All {
		gvr := k.GVR()
		list, err := p.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue // the CRD may not be installed yet
		}
		for i := range list.Items {
			u := &list.Items[i]
			if u.GetDeletionTimestamp() != nil || ready(u) {
				continue
			}
			pending = append(pending, item{gvr, u})
		}
	}
	if len(pending) == 0 {
		return
	}
	objs := make([]*unstructured.Unstructured, 0, len(pending))
	for _, it := range pending {
		objs = append(objs, it.u)
	}
	if err := providersim.ObserveAll(objs); err != nil {
		return
	}
	// Registration Jobs: run them, and put what they reported in their
	// report ConfigMaps.
	reports := map[string]map[string]any{}
	failed := map[string]bool{}
	for _, u := range objs {
		job, _, _ := unstructured.NestedMap(u.Object, "spec", "forProvider", "manifest")
		if job["kind"] != "Job" {
			continue
		}
		name, _, _ := unstructured.NestedString(job, "metadata", "name")
		p.dryRun(job)
		res, real, err := p.runJob(job)
		switch {
		case err != nil:
			failed[name] = true
			_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": err.Error()}},
				"status", "atProvider", "manifest", "status", "conditions")
			_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Ready", "status": "False", "reason": "Unavailable", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
				"status", "conditions")
		case real:
			reports[name] = res
		}
	}
	for _, u := range objs {
		m, _, _ := unstructured.NestedMap(u.Object, "status", "atProvider", "manifest")
		if m["kind"] != "ConfigMap" {
			continue
		}
		name, _, _ := unstructured.NestedString(m, "metadata", "name")
		if failed[name] {
			continue // the report stays empty
		}
		if r, ok := reports[name]; ok {
			_ = unstructured.SetNestedField(u.Object, r, "status", "atProvider", "manifest", "data")
		}
	}
	for i, it := range pending {
		if _, err := p.dyn.Resource(it.gvr).UpdateStatus(ctx, objs[i], metav1.UpdateOptions{}); err != nil {
			// Changed meanwhile, most likely: next round.
			p.mu.Lock()
			p.updateErr[it.gvr.Resource+"/"+it.u.GetName()] = err.Error()
			p.mu.Unlock()
		}
	}
}

// runJob runs a Job's register command. It runs for real when the Job's
// admin URL is the local restate-server's, and returns what register
// would write in the report ConfigMap.
func (p *providers) runJob(job map[string]any) (map[string]any, bool, error) {
	args := providersim.JobArgs(job)
	if len(args) == 0 {
		return nil, false, fmt.Errorf("a Job without a register command")
	}
	a, err := regcontract.Parse(args)
	if err != nil {
		return nil, true, err
	}
	if a.AdminURL != p.restate {
		if a.LambdaARN != "" {
			p.lambdaRequest(a)
		}
		return nil, false, nil // not the local server: simulated by providersim
	}
	// No cluster to report to from here, and no mounted token; quick
	// health checks.
	a.ReportConfigMap, a.TokenFile, a.HealthInitialBackoff = "", "", 100*time.Millisecond
	run := append(a.CommandLine(), "--health-jitter=0s")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.function, run...)
	out, err := cmd.Output()
	p.mu.Lock()
	p.ran = append(p.ran, strings.Join(run, " "))
	p.mu.Unlock()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return nil, true, fmt.Errorf("%s", msg)
	}
	var res regcontract.Report
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, true, err
	}
	data := map[string]any{}
	for k, v := range res.Data() {
		data[k] = v
	}
	return data, true, nil
}

// lambdaRequest sends a Lambda registration Job's request to the local
// restate-server instead of the Job's own (made-up or cloud) admin URL. With
// no AWS here, Restate's discovery of the function fails; what matters is
// that the request carried the qualified ARN and the invoker role, which
// Restate's error names. The Job itself is then simulated.
func (p *providers) lambdaRequest(a regcontract.Args) {
	a.AdminURL, a.ReportConfigMap, a.TokenFile, a.ExpectedService, a.Insecure, a.Prune = p.restate, "", "", "", false, false
	a.RegisterAttempts, a.HealthInitialBackoff = 1, 100*time.Millisecond
	run := append(a.CommandLine(), "--health-jitter=0s")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, p.function, run...).CombinedOutput()
	p.mu.Lock()
	p.lambda = append(p.lambda, string(out))
	p.mu.Unlock()
}

// dryRun checks a Job manifest with the API server's own validation.
func (p *providers) dryRun(job map[string]any) {
	raw, _ := json.Marshal(job)
	f := filepath.Join(p.b.dir, fmt.Sprintf("job-%d.json", time.Now().UnixNano()))
	if err := os.WriteFile(f, raw, 0o600); err != nil {
		return
	}
	if _, err := p.b.kubectl("apply", "--dry-run=server", "-f", f); err != nil {
		p.mu.Lock()
		p.dryRunErr = append(p.dryRunErr, err.Error())
		p.mu.Unlock()
	}
}

func ready(u *unstructured.Unstructured) bool {
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" && (m["status"] == "True" || m["reason"] == "Unavailable") {
			return true
		}
	}
	return false
}

// errors lists the last status update error of each object.
func (p *providers) errors() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k, v := range p.updateErr {
		out = append(out, k+": "+v)
	}
	return strings.Join(out, "; ")
}
