package fn

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
)

// The host's bootstrap runs here for real, in bash, with the host's paths
// moved into a temporary directory and stand-ins on PATH for what only an
// EC2 host has (dnf, systemctl, docker, the aws CLI, the metadata service,
// the block device tools); sleep returns at once. The stand-ins fail the
// first calls as a host sees a late permission: the volume's attachment
// (the IAM change still spreading, or the replaced instance still holding
// the volume), and Docker's awslogs driver refusing to start a container
// it cannot yet log for.
const bootstrapStubs = `
count() { local n=$(( $(cat "$STATE/$1" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$STATE/$1"; echo "$n"; }
case "$(basename "$0")" in
aws)
  echo "aws $*" >> "$STATE/calls"
  [ "$(count attach)" -gt "$ATTACH_FAILURES" ] || { echo "UnauthorizedOperation" >&2; exit 254; }
  touch "$DEVICE" ;;
docker)
  echo "docker $*" >> "$STATE/calls"
  case "$1 $*" in
  run*--name\ restate\ *) [ "$(count restate)" -gt "$DOCKER_FAILURES" ] || { echo "failed to initialize logging driver" >&2; exit 125; } ;;
  esac ;;
curl)
  case "$*" in
  *api/token*) echo token ;;
  *instance-id*) echo i-0abc ;;
  esac ;;
blkid)
  case "$*" in
  *TYPE*) echo xfs ;;
  *UUID*) echo 0f0e ;;
  esac ;;
esac
exit 0
`

type bootstrapRun struct {
	out, calls string
	err        error
}

// runBootstrap runs the default stack's bootstrap with the given numbers
// of failures before an attachment and a start of Restate succeed.
func runBootstrap(t *testing.T, attachFailures, dockerFailures string, attached bool) bootstrapRun {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	root := t.TempDir()
	host := hostOf(t, composeHost(t, newXR(), newPolicy()))
	moved := strings.NewReplacer(
		"/etc/restate-stack", root+"/etc/restate-stack",
		"/var/log/restate-stack.log", root+"/restate-stack.log",
		selfhosted.DataDevice, root+"/dev/sdd",
		"/etc/fstab", root+"/fstab",
		"/var/restate", root+"/var/restate",
	)
	for _, dir := range []string{"etc/restate-stack", "dev", "bin", "state"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, f := range host.Files {
		if err := os.WriteFile(filepath.Join(root, path), []byte(f.Content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if attached {
		if err := os.WriteFile(filepath.Join(root, "dev/sdd"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stub := filepath.Join(root, "bin", "stub")
	if err := os.WriteFile(stub, []byte("#!"+bash+"\n"+bootstrapStubs), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"aws", "docker", "curl", "blkid", "dnf", "systemctl", "npm", "wipefs", "mkfs.xfs", "mount", "mountpoint", "sleep"} {
		if err := os.Symlink(stub, filepath.Join(root, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(root, "bootstrap.sh")
	if err := os.WriteFile(script, []byte(moved.Replace(host.Script)), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, script)
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Join(root, "bin")+":"+os.Getenv("PATH"),
		"STATE="+filepath.Join(root, "state"), "DEVICE="+filepath.Join(root, "dev/sdd"),
		"ATTACH_FAILURES="+attachFailures, "DOCKER_FAILURES="+dockerFailures)
	out, err := cmd.CombinedOutput()
	calls, _ := os.ReadFile(filepath.Join(root, "state", "calls"))
	return bootstrapRun{out: string(out), calls: string(calls), err: err}
}

// TestBootstrapSurvivesLatePermissions: the first attachments and the
// first starts of Restate fail as they do while a permission spreads or
// the old instance lets go; the bootstrap retries and the host comes up.
func TestBootstrapSurvivesLatePermissions(t *testing.T) {
	r := runBootstrap(t, "2", "2", false)
	if r.err != nil {
		t.Fatalf("bootstrap failed: %v\n%s", r.err, r.out)
	}
	if n := strings.Count(r.calls, "aws ec2 attach-volume --region eu-central-1 --volume-id vol-"); n != 3 {
		t.Errorf("%d attachments, want 3 (two refused, then attached):\n%s", n, r.calls)
	}
	wantContains(t, r.calls, "--instance-id i-0abc --device ")
	if n := strings.Count(r.calls, "docker run --detach --name restate "); n != 3 {
		t.Errorf("%d starts of Restate, want 3:\n%s", n, r.calls)
	}
	wantContains(t, r.out, "attempt 2 of 60 failed: aws ec2 attach-volume")
	wantContains(t, r.out, "Restate is healthy")
}

// TestBootstrapGivesUpOnAVolumeItCannotAttach: the retries are bounded, and
// the failure says which volume.
func TestBootstrapGivesUpOnAVolumeItCannotAttach(t *testing.T) {
	r := runBootstrap(t, "1000", "0", false)
	if r.err == nil {
		t.Fatalf("bootstrap succeeded without its volume:\n%s", r.out)
	}
	if n := strings.Count(r.calls, "attach-volume"); n != 60 {
		t.Errorf("%d attachments, want 60", n)
	}
	wantContains(t, r.out, "could not attach the data volume vol-")
	if strings.Contains(r.calls, "docker run") {
		t.Error("Restate started without its data volume")
	}
}

// TestBootstrapOnRebootKeepsTheAttachment: on a reboot the volume is still
// attached, and the bootstrap does not attach it again.
func TestBootstrapOnRebootKeepsTheAttachment(t *testing.T) {
	r := runBootstrap(t, "0", "0", true)
	if r.err != nil {
		t.Fatalf("bootstrap failed: %v\n%s", r.err, r.out)
	}
	if strings.Contains(r.calls, "attach-volume") {
		t.Errorf("attached again on reboot:\n%s", r.calls)
	}
}
