//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	policy "github.com/restate-crossplane/function-restate-stack/input/v1alpha1"
)

// The emulated AWS account: moto (the machine image's moto_server, with
// one fidelity fix, test/e2e/moto/server.py) stands in for AWS itself, and
// the real provider-aws v0.58.0 builds every stack in it. moto runs no
// Lambda code and no EC2 user data: registration Jobs of Lambda services
// and self-hosted servers stay simulated by the kubelet stand-in.

// mustMoto is the moto the machine image has; the test names what is
// missing rather than failing later.
const mustMoto = "5."

// startMoto runs moto on a free loopback port and returns its endpoint.
func startMoto(t *testing.T, b *box) string {
	t.Helper()
	server := filepath.Join(repo, "test", "e2e", "moto", "server.py")
	out, err := exec.Command("python3", server, "--version").Output()
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(out)), mustMoto) {
		t.Fatalf("the end-to-end test needs Python 3 with moto %sx (and boto3), as the machine image has: python3 %s --version gave %q, %v",
			mustMoto, server, out, err)
	}
	port := freePort(t)
	b.start("moto", []string{"MOTO_IAM_LOAD_MANAGED_POLICIES=true"}, "python3", server, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, "moto", endpoint+"/moto-api/")
	return endpoint
}

// account runs test/e2e/moto/account.py and decodes its JSON answer.
func account(t *testing.T, endpoint string, into any, args ...string) {
	t.Helper()
	cmd := exec.Command("python3", append([]string{filepath.Join(repo, "test", "e2e", "moto", "account.py"), endpoint}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("account.py %s: %s", strings.Join(args, " "), msg)
	}
	if err := json.Unmarshal(out, into); err != nil {
		t.Fatalf("account.py %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// startProviderAWS installs all of provider-aws's CRDs (it starts a
// controller for each), ProviderConfigs for the examples that point at
// moto, and runs the provider.
func (b *box) startProviderAWS(repo, endpoint string) {
	t := b.t
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(bin(t, "PROVIDER_AWS_CRDS"), "*.yaml"))
	b.applyCRDs(files)
	b.apply(`apiVersion: v1
kind: Secret
metadata: {name: aws-credentials, namespace: crossplane-system}
stringData:
  credentials: |
    [default]
    aws_access_key_id = AKIAEXAMPLE
    aws_secret_access_key = e2e
`)
	// The README's providerconfig-secret.yaml, pointed at moto, as
	// "default" and as "team-a" (which selfhosted-full names).
	var configs []string
	for _, name := range []string{"default", "team-a"} {
		configs = append(configs, fmt.Sprintf(`metadata: {name: %s}
spec:
  endpoint:
    hostnameImmutable: true
    source: Custom
    url: {type: Static, static: %q}
`, name, endpoint))
	}
	b.applyInstall(repo, "providerconfig-secret.yaml", configs...)
	b.start("provider-aws", []string{"KUBECONFIG=" + b.kubeconfig}, bin(t, "PROVIDER_AWS"), "--debug", "--poll=20s")
}

// applyCRDs applies CRDs as their package would install them, without
// conversion webhooks (no provider pod serves them here).
func (b *box) applyCRDs(files []string) {
	t := b.t
	t.Helper()
	var stream strings.Builder
	for _, file := range files {
		crd := map[string]any{}
		readYAML(t, file, &crd)
		if spec, ok := crd["spec"].(map[string]any); ok {
			delete(spec, "conversion")
		}
		out, err := yaml.Marshal(crd)
		if err != nil {
			t.Fatal(err)
		}
		stream.WriteString("---\n")
		stream.Write(out)
	}
	f := filepath.Join(b.dir, "crds.yaml")
	write(t, f, stream.String())
	b.must("apply", "--server-side", "-f", f)
	b.must("wait", "--for=condition=Established", "--timeout=2m", "-f", f)
}

// prepareClaim makes an example claim real for the emulated account: its
// Lambda code exists in moto's S3 (an object version the claim names is
// replaced by moto's own), and an existing network it names is created
// first (moto makes up its own ids), with a cluster's node security group
// in it. A recipe Composition the claim picks (examples/compositions) is
// applied, naming that group where it names the cluster's. It returns the
// claim to apply and the ids of what it created, which are the platform's,
// not the stack's.
func prepareClaim(t *testing.T, b *box, endpoint, file string) (claim string, platform []string) {
	t.Helper()
	var c struct {
		Spec struct {
			CompositionRef *struct{ Name string } `json:"compositionRef"`
			Region         string                 `json:"region"`
			Environment    struct {
				SelfHosted *struct {
					Network struct {
						Existing *struct {
							VPCID            string `json:"vpcId"`
							SubnetID         string `json:"subnetId"`
							AvailabilityZone string `json:"availabilityZone"`
						} `json:"existing"`
					} `json:"network"`
				} `json:"selfHosted"`
			} `json:"environment"`
			Services []struct {
				Lambda *struct {
					Code struct {
						S3 *struct {
							Bucket, Key, ObjectVersion string
						} `json:"s3"`
					} `json:"code"`
				} `json:"lambda"`
			} `json:"services"`
		} `json:"spec"`
	}
	claim = string(readYAML(t, file, &c))
	var clusterGroup string
	region := c.Spec.Region
	if region == "" {
		region = "eu-central-1" // the Composition's default
	}
	keys := map[string][]string{}
	for _, s := range c.Spec.Services {
		if s.Lambda != nil && s.Lambda.Code.S3 != nil {
			keys[s.Lambda.Code.S3.Bucket] = append(keys[s.Lambda.Code.S3.Bucket], s.Lambda.Code.S3.Key)
		}
	}
	for bucket, ks := range keys {
		versions := map[string]string{}
		account(t, endpoint, &versions, append([]string{"seed-code", region, bucket}, ks...)...)
		for _, s := range c.Spec.Services {
			if s3 := s.Lambda; s3 != nil && s3.Code.S3 != nil && s3.Code.S3.ObjectVersion != "" {
				claim = strings.ReplaceAll(claim, s3.Code.S3.ObjectVersion, versions[s3.Code.S3.Key])
			}
		}
	}
	if sh := c.Spec.Environment.SelfHosted; sh != nil && sh.Network.Existing != nil {
		var n struct {
			VPCID            string   `json:"vpcId"`
			SubnetID         string   `json:"subnetId"`
			AvailabilityZone string   `json:"availabilityZone"`
			ClusterGroupID   string   `json:"clusterSecurityGroupId"`
			IDs              []string `json:"ids"`
		}
		account(t, endpoint, &n, "network", region)
		e := sh.Network.Existing
		claim = strings.NewReplacer(e.VPCID, n.VPCID, e.SubnetID, n.SubnetID, "availabilityZone: "+e.AvailabilityZone, "availabilityZone: "+n.AvailabilityZone).Replace(claim)
		platform = n.IDs
		clusterGroup = n.ClusterGroupID
	}
	if c.Spec.CompositionRef != nil {
		applyRecipe(t, b, c.Spec.CompositionRef.Name, clusterGroup)
	}
	return claim, platform
}

// stackComposition is a Composition of this function, read with the
// function's own input type.
type stackComposition struct {
	Metadata struct{ Name string } `json:"metadata"`
	Spec     struct {
		Pipeline []struct {
			Input policy.StackPolicy `json:"input"`
		} `json:"pipeline"`
	} `json:"spec"`
}

// applyRecipe applies the example Composition of that name, with the
// cluster's node security group (if the claim's network has one) in place
// of the example's.
func applyRecipe(t *testing.T, b *box, name, clusterGroup string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repo, "examples", "compositions", "*.yaml"))
	for _, f := range files {
		var comp stackComposition
		text := string(readYAML(t, f, &comp))
		if comp.Metadata.Name != name {
			continue
		}
		for _, step := range comp.Spec.Pipeline {
			for _, sg := range step.Input.Registration.AdminAccess.SourceSecurityGroupIDs {
				if clusterGroup == "" {
					t.Fatalf("%s opens the admin port to a cluster's group, and the claim names no network to create one in", name)
				}
				text = strings.ReplaceAll(text, sg, clusterGroup)
			}
		}
		b.apply(text)
		return
	}
	t.Fatalf("no example Composition %s", name)
}

// inventory is what the emulated account holds, as "kind id" lines, less
// what the platform created.
func inventory(t *testing.T, endpoint string, platform []string) []string {
	t.Helper()
	var inv map[string][]string
	account(t, endpoint, &inv, "inventory", "eu-central-1", "eu-west-1", "us-east-1")
	skip := map[string]bool{}
	for _, id := range platform {
		skip[id] = true
	}
	var out []string
	for kind, ids := range inv {
		for _, id := range ids {
			if !skip[id] {
				out = append(out, kind+" "+id)
			}
		}
	}
	sort.Strings(out)
	return out
}
