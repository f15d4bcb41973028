package register

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"k8s.io/client-go/rest"
)

// Report writes a result into the data of an existing ConfigMap with a
// merge patch. The Job's service account may patch exactly that
// ConfigMap and nothing else; the stack creates it empty.
func Report(ctx context.Context, cfg *rest.Config, namespace, name string, r *Result) error {
	body, err := json.Marshal(map[string]any{"data": r.Data()})
	if err != nil {
		return err
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fail(ClassReport, err)
	}
	u := strings.TrimSuffix(cfg.Host, "/") + "/api/v1/namespaces/" + url.PathEscape(namespace) + "/configmaps/" + url.PathEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, u, bytes.NewReader(body))
	if err != nil {
		return fail(ClassReport, err)
	}
	req.Header.Set("Content-Type", "application/merge-patch+json")
	rsp, err := hc.Do(req)
	if err != nil {
		return fail(ClassReport, fmt.Errorf("cannot report to ConfigMap %s/%s: %w", namespace, name, err))
	}
	defer rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(rsp.Body, 4096))
		return fail(ClassReport, fmt.Errorf("cannot report to ConfigMap %s/%s: %s: %s", namespace, name, rsp.Status, strings.TrimSpace(string(b))))
	}
	return nil
}
