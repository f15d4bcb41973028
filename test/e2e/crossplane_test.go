//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
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
