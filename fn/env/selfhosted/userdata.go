package selfhosted

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"sync"
	"text/template"

	"github.com/pelletier/go-toml/v2"
	"sigs.k8s.io/yaml"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
	"github.com/restate-crossplane/function-restate-stack/internal/agentcontract"
)

// MaxUserData is EC2's limit on user data, before base64.
const MaxUserData = 16 * 1024

// DataDevice is where the data volume is attached (the CDK's choice).
const DataDevice = "/dev/sdd"

// HostDir is where cloud-init writes the claim's values on the host.
const HostDir = "/etc/restate-stack/"

var (
	//go:embed hostfiles/*.tmpl
	hostFiles embed.FS
	templates = template.Must(template.New("").Option("missingkey=error").ParseFS(hostFiles, "hostfiles/*.tmpl"))
)

// restateConfig is the server's TOML configuration, written by a TOML
// library so that no value can change its structure.
type restateConfig struct {
	ClusterName            string `toml:"cluster-name"`
	NodeName               string `toml:"node-name"`
	BootstrapNumPartitions int32  `toml:"default-num-partitions"`
	RocksDBTotalMemorySize string `toml:"rocksdb-total-memory-size"`
	TracingEndpoint        string `toml:"tracing-endpoint,omitempty"`
	// A cluster node's settings (cluster.go); a single node has none.
	Roles              []string              `toml:"roles,omitempty"`
	Location           string                `toml:"location,omitempty"`
	AutoProvision      *bool                 `toml:"auto-provision,omitempty"`
	DefaultReplication int32                 `toml:"default-replication,omitempty"`
	BindAddress        string                `toml:"bind-address,omitempty"`
	AdvertisedAddress  string                `toml:"advertised-address,omitempty"`
	MetadataClient     *metadataClientConfig `toml:"metadata-client,omitempty"`
	Admin              adminConfig           `toml:"admin"`
	Ingress            bindAddress           `toml:"ingress"`
	Bifrost            bifrostConfig         `toml:"bifrost"`
	Worker             workerConfig          `toml:"worker"`
}

type bindAddress struct {
	BindAddress string `toml:"bind-address"`
}

type adminConfig struct {
	BindAddress string            `toml:"bind-address"`
	QueryEngine queryEngineConfig `toml:"query-engine"`
}

type queryEngineConfig struct {
	MemorySize string `toml:"memory-size"`
}

type bifrostConfig struct {
	DefaultProvider       string `toml:"default-provider"`
	RecordCacheMemorySize string `toml:"record-cache-memory-size"`
}

type workerConfig struct {
	Invoker   invokerConfig    `toml:"invoker"`
	Snapshots *snapshotsConfig `toml:"snapshots,omitempty"`
}

type invokerConfig struct {
	MemoryLimit string `toml:"memory-limit"`
}

// serverConfig renders the server's config, or the claim's whole override.
func serverConfig(sh *Server) (string, error) {
	c := sh.Config
	if c.Override != "" {
		return c.Override, nil
	}
	cfg := restateConfig{
		ClusterName:            c.ClusterName,
		NodeName:               "restate-1",
		BootstrapNumPartitions: c.BootstrapNumPartitions,
		RocksDBTotalMemorySize: c.RocksDBTotalMemorySize,
		// Inside its container the server listens everywhere; Docker decides
		// which host addresses reach it.
		Admin:   adminConfig{BindAddress: "0.0.0.0:9070", QueryEngine: queryEngineConfig{mib(sh.Memory.QueryEngineMiB)}},
		Ingress: bindAddress{"0.0.0.0:8080"},
		// Sized for the instance type (see memory.go).
		Bifrost: bifrostConfig{DefaultProvider: "local", RecordCacheMemorySize: mib(sh.Memory.RecordCacheMiB)},
		Worker:  workerConfig{Invoker: invokerConfig{MemoryLimit: mib(sh.Memory.InvokerMiB)}},
	}
	if sh.XRay() {
		cfg.TracingEndpoint = "http://adot-collector:4317"
	}
	if n := sh.Node; n != nil {
		n.configure(&cfg)
	}
	b, err := toml.Marshal(cfg)
	return string(b), err
}

// serverEnv renders Docker's env file for the server: the CDK's defaults,
// then the claim's variables. Docker reads each line literally, so quotes,
// $(...) and backticks in a value stay text; newlines are refused earlier.
func serverEnv(sh *Server) string {
	env := map[string]string{"RESTATE_LOG_FORMAT": "json", "RUST_LOG": "info"}
	for k, v := range sh.Config.Environment {
		env[k] = v
	}
	var b strings.Builder
	for _, k := range stack.SortedKeys(env) {
		b.WriteString(k + "=" + env[k] + "\n")
	}
	return b.String()
}

// collectorConfig is the ADOT collector's config: OTLP in, X-Ray out.
func collectorConfig(region string) string {
	cfg := map[string]any{
		"receivers":  map[string]any{"otlp": map[string]any{"protocols": map[string]any{"grpc": map[string]any{"endpoint": "0.0.0.0:4317"}}}},
		"processors": map[string]any{"batch": map[string]any{}},
		"exporters":  map[string]any{"awsxray": map[string]any{"region": region}},
		"service": map[string]any{"pipelines": map[string]any{"traces": map[string]any{
			"receivers": []string{"otlp"}, "processors": []string{"batch"}, "exporters": []string{"awsxray"},
		}}},
	}
	b, _ := yaml.Marshal(cfg) // maps of strings always marshal
	return string(b)
}

// nginxConfig renders nginx's config for TLS termination, or the claim's
// whole override.
func nginxConfig(sh *Server) (string, error) {
	if sh.TLS.NginxConfigOverride != "" {
		return sh.TLS.NginxConfigOverride, nil
	}
	ingress, admin := sh.Ports()
	var b bytes.Buffer
	err := templates.ExecuteTemplate(&b, "nginx.conf.tmpl", map[string]any{
		"IngressPort": ingress, "AdminPort": admin, "ReadTimeoutSeconds": sh.TLS.ProxyReadTimeoutSeconds,
	})
	return b.String(), err
}

// hostFile is one file cloud-init writes from base64.
type hostFile struct {
	Path        string `json:"path"`
	Encoding    string `json:"encoding"`
	Content     string `json:"content"`
	Permissions string `json:"permissions"`
}

// cloudConfig is the cloud-config part of the user data.
type cloudConfig struct {
	// CloudFinalModules makes cloud-init run the script on every boot, as
	// the CDK does.
	CloudFinalModules [][]string `json:"cloud_final_modules"`
	WriteFiles        []hostFile `json:"write_files"`
}

// hostFilesFor returns the files the host needs, keyed by name under
// /etc/restate-stack.
func hostFilesFor(region string, sh *Server) (map[string]string, error) {
	config, err := serverConfig(sh)
	if err != nil {
		return nil, fmt.Errorf("cannot render the Restate config: %w", err)
	}
	files := map[string]string{
		"restate.toml":  config,
		"server.env":    serverEnv(sh),
		"restate-image": sh.RestateImage,
		"cli-version":   sh.CLIVersion,
		"region":        region,
		"log-group":     sh.Logs.GroupName,
		"data-volume":   sh.VolumeID,
	}
	if a := sh.Agent; a != nil {
		files["agent-image"] = a.Image
		files["orders-secret"] = a.OrdersSecret
	}
	if sh.XRay() {
		files["collector-image"] = sh.CollectorImage
		files["otel-collector.yaml"] = collectorConfig(region)
	}
	if sh.TLSEnabled() {
		if files["nginx.conf"], err = nginxConfig(sh); err != nil {
			return nil, fmt.Errorf("cannot render the nginx config: %w", err)
		}
	}
	return files, nil
}

// UserDataFunc renders a host's user data (a UserDataCache's Render, or
// RenderUserData itself).
type UserDataFunc func(region string, sh *Server) ([]byte, error)

// UserDataCache remembers recent user data by what it is rendered from.
// It depends on its arguments alone, and a stack's rarely change between
// reconciles, so each Function keeps one: rendering was a tenth of a
// steady-state reconcile (BENCHMARKS.md). The zero value is ready.
type UserDataCache struct {
	once sync.Once
	memo *memo[[]byte]
}

// Render renders the host's user data, or returns what it rendered for the
// same arguments before.
func (c *UserDataCache) Render(region string, sh *Server) ([]byte, error) {
	key, err := json.Marshal(struct {
		Region string
		SH     *Server
	}{region, sh})
	if err != nil {
		return nil, err
	}
	c.once.Do(func() { c.memo = newMemo[[]byte](userDataMemoSize) })
	return c.memo.get(string(key), func() ([]byte, error) { return RenderUserData(region, sh) })
}

// userDataMemoSize bounds the user data a cache remembers: one per
// self-hosted stack it serves, up to this many.
const userDataMemoSize = 256

// RenderUserData renders the host's user data: a MIME multipart document of
// a cloud-config, which writes every claim value to a file from base64, and
// the bootstrap script, which only reads those files. It is gzipped when it
// would otherwise exceed EC2's limit (cloud-init unpacks it). It returns
// the bytes before base64.
func RenderUserData(region string, sh *Server) ([]byte, error) {
	files, err := hostFilesFor(region, sh)
	if err != nil {
		return nil, err
	}
	cc := cloudConfig{CloudFinalModules: [][]string{{"scripts-user", "always"}}}
	for _, name := range stack.SortedKeys(files) {
		mode := "0644"
		if name == "server.env" {
			mode = "0600" // may hold credentials the claim passes to the server
		}
		cc.WriteFiles = append(cc.WriteFiles, hostFile{
			Path: HostDir + name, Encoding: "b64", Permissions: mode,
			Content: base64.StdEncoding.EncodeToString([]byte(files[name])),
		})
	}
	ccYAML, err := yaml.Marshal(cc)
	if err != nil {
		return nil, err
	}
	bind := ""
	if sh.TLSEnabled() {
		bind = "127.0.0.1:" // only nginx on the host reaches the server
	}
	var script bytes.Buffer
	if err := templates.ExecuteTemplate(&script, "bootstrap.sh.tmpl", map[string]any{
		"TLS": sh.TLSEnabled(), "Tracing": sh.XRay(), "ServerBind": bind, "DataDevice": DataDevice, "Agent": sh.Agent != nil,
		"AgentStream": agentcontract.LogStream, "AgentCommand": agentcontract.Command, "ProvisionedTag": agentcontract.TagClusterProvisioned,
		"Fabric": fabricPort(sh), "ProvisionRaft": sh.Node != nil && sh.Node.Provisions && sh.Node.Metadata == v1alpha1.MetadataReplicated,
	}); err != nil {
		return nil, err
	}

	var doc bytes.Buffer
	doc.WriteString("MIME-Version: 1.0\n")
	mp := multipart.NewWriter(&doc)
	// A fixed boundary keeps the user data, and so the instance, stable.
	// Neither part can contain it: one is base64, the other our template.
	if err := mp.SetBoundary("restate-stack-part"); err != nil {
		return nil, err
	}
	doc.WriteString("Content-Type: multipart/mixed; boundary=\"restate-stack-part\"\n\n")
	for _, p := range []struct{ typ, name, body string }{
		{"text/cloud-config", "cloud-config.yaml", "#cloud-config\n" + string(ccYAML)},
		{"text/x-shellscript", "bootstrap.sh", script.String()},
	} {
		w, err := mp.CreatePart(textproto.MIMEHeader{
			"Content-Type":        {p.typ + `; charset="utf-8"`},
			"Content-Disposition": {`attachment; filename="` + p.name + `"`},
		})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(p.body)); err != nil {
			return nil, err
		}
	}
	if err := mp.Close(); err != nil {
		return nil, err
	}
	if doc.Len() <= MaxUserData {
		return doc.Bytes(), nil
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = zw.Write(doc.Bytes())
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if gz.Len() > MaxUserData {
		return nil, ErrUserDataTooLarge{size: gz.Len()}
	}
	return gz.Bytes(), nil
}

// ErrUserDataTooLarge reports user data that does not fit EC2's limit even
// compressed.
type ErrUserDataTooLarge struct{ size int }

func (e ErrUserDataTooLarge) Error() string {
	return fmt.Sprintf("the host's user data is %d bytes compressed, over EC2's limit of %d; shorten the config or nginx override, or the environment", e.size, MaxUserData)
}
