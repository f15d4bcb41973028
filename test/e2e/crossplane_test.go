//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/restate-crossplane/function-restate-stack/internal/kinds"
)

// startCrossplane installs Crossplane's CRDs and TLS Secrets (core init)
// and runs Crossplane core with the External package runtime: no pods are
// started for packages, and the test plays the runtime (startFunction).
func (b *box) startCrossplane() {
	t := b.t
	t.Helper()
	core := bin(t, "CROSSPLANE_CORE")
	crds := bin(t, "CROSSPLANE_CRDS")
	b.must("create", "namespace", "crossplane-system")
	env := []string{"KUBECONFIG=" + b.kubeconfig, "POD_NAMESPACE=crossplane-system"}
	hooks := filepath.Join(b.dir, "webhooks")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	tls := []string{"--tlsca-secret-name", "crossplane-root-ca", "--tls-server-secret-name", "crossplane-tls-server", "--tls-client-secret-name", "crossplane-tls-client"}
	// Fresh CRDs take a moment to establish; init is safe to run again.
	eventually(t, 2*time.Minute, "crossplane core init", func() string {
		p := b.start("crossplane-init", env, core, append([]string{"core", "init", "--cr-ds-path", crds, "--webhook-configurations-path", hooks}, tls...)...)
		if err := p.cmd.Wait(); err != nil {
			return fmt.Sprintf("init: %v: %s", err, b.logTail("crossplane-init"))
		}
		return ""
	})
	server, client := filepath.Join(b.dir, "xp-server"), filepath.Join(b.dir, "xp-client")
	b.secretToDir("crossplane-tls-server", server)
	b.secretToDir("crossplane-tls-client", client)
	b.xpkgCache = filepath.Join(b.dir, "xpkg-cache")
	if err := os.MkdirAll(b.xpkgCache, 0o755); err != nil {
		t.Fatal(err)
	}
	// Crossplane runs as its own service account, with the roles its Helm
	// chart installs, what its RBAC manager would grant, and this package's
	// ClusterRole: a permission the package fails to ship fails the test.
	b.crossplaneRBAC(filepath.Dir(filepath.Dir(crds)))
	env[0] = "KUBECONFIG=" + b.serviceAccountKubeconfig("crossplane-system", "crossplane")
	b.start("crossplane", env, core, append([]string{"core", "start",
		"--package-runtime=External", "--xpkg-cache-dir", b.xpkgCache,
		"--tls-server-certs-dir", server, "--tls-client-certs-dir", client,
		"--metrics-port", fmt.Sprint(freePort(t)), "--health-probe-port", fmt.Sprint(freePort(t)),
		"--webhook-port", fmt.Sprint(freePort(t)), "--poll-interval=5s", "--sync-interval=30s",
		// The provider stand-in marks a whole stack ready at once, a burst of
		// watch events real providers spread out; a short cooldown keeps the
		// XR circuit breaker from pausing a composite for its default 5 min.
		"--circuit-breaker-cooldown=5s",
	}, tls[2:]...)...)
	eventually(t, 2*time.Minute, "Crossplane's package CRDs", func() string {
		if _, err := b.kubectl("get", "functions.pkg.crossplane.io"); err != nil {
			return err.Error()
		}
		return ""
	})
}

// secretToDir writes a TLS Secret's tls.crt, tls.key and ca.crt to files.
func (b *box) secretToDir(name, dir string) {
	t := b.t
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "Secret "+name, func() string {
		for _, key := range []string{"tls.crt", "tls.key", "ca.crt"} {
			out, err := b.kubectl("-n", "crossplane-system", "get", "secret", name, "-o", "jsonpath={.data."+strings.ReplaceAll(key, ".", `\.`)+"}")
			if err != nil || out == "" {
				return fmt.Sprintf("%s has no %s yet: %v", name, key, err)
			}
			raw, err := base64.StdEncoding.DecodeString(out)
			if err != nil {
				return err.Error()
			}
			write(t, filepath.Join(dir, key), string(raw))
		}
		return ""
	})
}

// crossplaneRBAC installs Crossplane's service account and the ClusterRoles
// of its Helm chart (read from the chart in the core module, the few
// template expressions they hold filled in as the chart's defaults do),
// this package's ClusterRole, and a stand-in for what Crossplane's RBAC
// manager grants: the XRD's kinds and the installed provider's, which the
// manager derives from XRDs and provider revisions (the box installs the
// provider's CRDs without a revision).
func (b *box) crossplaneRBAC(coreModule string) {
	t := b.t
	t.Helper()
	b.must("-n", "crossplane-system", "create", "serviceaccount", "crossplane")
	templates := filepath.Join(coreModule, "cluster", "charts", "crossplane", "templates")
	for _, name := range []string{"clusterrole.yaml", "clusterrolebinding.yaml"} {
		raw, err := os.ReadFile(filepath.Join(templates, name))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(string(raw), "\n") {
			trimmed := strings.TrimSpace(line)
			if strings.HasPrefix(trimmed, "{{-") || strings.Contains(line, ".Values.") {
				continue // conditionals (the defaults keep their content) and labels
			}
			line = strings.ReplaceAll(line, `{{ template "crossplane.name" . }}`, "crossplane")
			line = strings.ReplaceAll(line, "{{ .Release.Namespace }}", "crossplane-system")
			if strings.Contains(line, "{{") {
				t.Fatalf("the chart's %s has a template expression the test cannot fill in: %s", name, line)
			}
			out = append(out, line)
		}
		b.apply(strings.Join(out, "\n"))
	}
	b.applyInstall(repo, "crossplane-rbac.yaml")
	// What Crossplane's RBAC manager grants for installed packages: every
	// group of the kinds the stack composes (internal/kinds), the XRD's and
	// the provider's own.
	groups := []string{"stack.restate-crossplane.io", "aws.crossplane.io"}
	for _, k := range kinds.All {
		if k.AWS && !slices.Contains(groups, k.Group) {
			groups = append(groups, k.Group)
		}
	}
	b.apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: crossplane:e2e:rbac-manager-stand-in
  labels: {rbac.crossplane.io/aggregate-to-crossplane: "true"}
rules:
- apiGroups: [` + strings.Join(groups, ", ") + `]
  resources: ["*"]
  verbs: ["*"]
`)
}

// serviceAccountKubeconfig writes a kubeconfig that acts as a service
// account, with a token from the TokenRequest API.
func (b *box) serviceAccountKubeconfig(namespace, name string) string {
	t := b.t
	t.Helper()
	token := strings.TrimSpace(b.must("-n", namespace, "create", "token", name, "--duration=4h"))
	path := filepath.Join(b.dir, "kubeconfig-"+name)
	write(t, path, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: box
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: %s
  user: {token: %q}
contexts:
- name: box
  context: {cluster: box, user: %s}
current-context: box
`, b.apiServer, name, token, name))
	return path
}
