//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	functionName   = "function-restate-stack"
	functionSource = "xpkg.crossplane.io/restate-crossplane/function-restate-stack"
)

// installFunction installs this function's package from Crossplane's
// package cache, with no registry: the package (package/crossplane.yaml and
// the input CRD) is put in the cache under the name Crossplane derives from
// its reference, and referenced by digest with pull policy Never. Then the
// test plays the External package runtime: it makes the function's server
// certificate from Crossplane's CA, tells the FunctionRevision where to
// dial, and serves the function binary with mTLS.
func (b *box) installFunction(repo string) {
	t := b.t
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repo, "package", "input", "*.yaml"))
	var docs [][]byte
	for _, f := range append([]string{filepath.Join(repo, "package", "crossplane.yaml")}, files...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, raw)
	}
	digest := b.cachePackage(functionSource, docs...)

	// The README's function.yaml, but from the cache, by digest.
	b.applyInstall(repo, "function.yaml", fmt.Sprintf("spec: {package: %s@%s, packagePullPolicy: Never}", functionSource, digest))

	var revision string
	eventually(t, 2*time.Minute, "the FunctionRevision", func() string {
		out, err := b.kubectl("get", "functionrevisions.pkg.crossplane.io", "-l", "pkg.crossplane.io/package="+functionName, "-o", "jsonpath={.items[0].metadata.name}")
		if err != nil || out == "" {
			return fmt.Sprintf("none yet (%v)", err)
		}
		revision = out
		return ""
	})

	// The runtime's part: a server certificate signed by Crossplane's CA.
	caCert := b.secretValue("crossplane-root-ca", "tls.crt")
	caKey := b.secretValue("crossplane-root-ca", "tls.key")
	certPEM, keyPEM := signServerCert(b, caCert, caKey)
	dir := filepath.Join(b.dir, "function-tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "tls.crt"), certPEM)
	write(t, filepath.Join(dir, "tls.key"), keyPEM)
	write(t, filepath.Join(dir, "ca.crt"), caCert)
	secret := functionName + "-tls-server"
	b.apply(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: crossplane-system}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s, ca.crt: %s}
`, secret, b64(certPEM), b64(keyPEM), b64(caCert)))
	port := freePort(t)
	b.start("function", nil, bin(t, "FUNCTION"), "serve", "--address", fmt.Sprintf("127.0.0.1:%d", port), "--tls-certs-dir", dir)
	b.must("patch", "functionrevisions.pkg.crossplane.io", revision, "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"tlsServerSecretName":%q,"endpoint":"dns:///localhost:%d"}}`, secret, port))
	// And the runtime reports its health, as the runtime controller would.
	eventually(t, time.Minute, "the runtime's health on the revision", func() string {
		_, err := b.kubectl("patch", "functionrevisions.pkg.crossplane.io", revision, "--subresource=status", "--type=json", "-p",
			fmt.Sprintf(`[{"op":"add","path":"/status/conditions/-","value":{"type":"RuntimeHealthy","status":"True","reason":"HealthyPackageRuntime","lastTransitionTime":%q}}]`,
				time.Now().UTC().Format(time.RFC3339)))
		if err != nil {
			return err.Error()
		}
		return ""
	})
	eventually(t, 2*time.Minute, "the Function to be healthy", func() string {
		out, _ := b.kubectl("get", "functions.pkg.crossplane.io", functionName, "-o", `jsonpath={.status.conditions[?(@.type=="Healthy")].status}`)
		if out != "True" {
			rev, _ := b.kubectl("get", "functionrevisions.pkg.crossplane.io", "-o", `jsonpath={.items[*].status}`)
			fn, _ := b.kubectl("get", "functions.pkg.crossplane.io", functionName, "-o", `jsonpath={.status}`)
			return "Healthy=" + out + "; function: " + fn + "; revision: " + rev
		}
		return ""
	})
}

// cachePackage puts a package (its YAML documents) in Crossplane's package
// cache, under the name Crossplane derives from its source and digest, and
// returns the digest.
func (b *box) cachePackage(source string, docs ...[]byte) string {
	var stream bytes.Buffer
	for _, d := range docs {
		stream.WriteString("---\n")
		stream.Write(d)
		stream.WriteString("\n")
	}
	sum := sha256.Sum256(stream.Bytes())
	digest := "sha256:" + hex.EncodeToString(sum[:])
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(stream.Bytes())
	_ = zw.Close()
	write(b.t, filepath.Join(b.xpkgCache, friendlyID(source, digest)+".gz"), gz.String())
	return digest
}

// friendlyID is the file name Crossplane's package cache uses for a
// package: a DNS label of its source (at most 50 characters) and the first
// 12 characters of its digest.
func friendlyID(source, digest string) string {
	s := source
	if len(s) > 50 {
		s = s[:50]
	}
	d := digest
	if len(d) > 12 {
		d = d[:12]
	}
	in := s + "-" + d
	var out strings.Builder
	for i := 0; i < len(in) && i <= 62; i++ {
		c := in[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			out.WriteByte(c)
		case strings.IndexByte("./:-", c) >= 0 && i != 0 && i != 62 && i != len(in)-1:
			out.WriteByte('-')
		}
	}
	return strings.Trim(out.String(), "-")
}

func (b *box) secretValue(name, key string) string {
	b.t.Helper()
	out := b.must("-n", "crossplane-system", "get", "secret", name, "-o", "jsonpath={.data."+strings.ReplaceAll(key, ".", `\.`)+"}")
	raw, err := base64.StdEncoding.DecodeString(out)
	if err != nil {
		b.t.Fatal(err)
	}
	return string(raw)
}

// signServerCert makes a certificate for localhost and 127.0.0.1 signed by
// the given CA, for both server and client use.
func signServerCert(b *box, caCertPEM, caKeyPEM string) (certPEM, keyPEM string) {
	t := b.t
	t.Helper()
	ca, err := tls.X509KeyPair([]byte(caCertPEM), []byte(caKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsaKey()
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: functionName},
		DNSNames:     []string{"localhost", functionName},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, key.Public(), ca.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// apply applies a manifest with kubectl.
func (b *box) apply(manifest string) {
	b.t.Helper()
	f := filepath.Join(b.dir, fmt.Sprintf("apply-%d.yaml", time.Now().UnixNano()))
	write(b.t, f, manifest)
	b.must("apply", "-f", f)
}

func ecdsaKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}
