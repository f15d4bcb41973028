package restateadmin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRefusesAddresses: the client refuses link-local, metadata and (unless
// allowed) loopback admin URLs, by host and again by every address it
// dials, so a name that resolves to one is refused too.
func TestRefusesAddresses(t *testing.T) {
	for _, u := range []string{"http://169.254.169.254", "http://[fd00:ec2::254]:9070", "http://metadata.google.internal", "http://127.0.0.1:9070", "http://localhost:9070"} {
		if _, err := New(u, "", false, false); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("New(%s) = %v, want refused", u, err)
		}
	}
	if _, err := New("http://169.254.169.254", "", false, true); err == nil {
		t.Error("loopback allowed let a link-local address through")
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	allowed, err := New(srv.URL, "", false, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := allowed.Health(context.Background(), 5*time.Second); err != nil {
		t.Errorf("loopback allowed: %v", err)
	}

	// Whatever a name resolves to is checked when the connection is made.
	for _, tc := range []struct {
		address string
		allow   bool
		refused bool
	}{
		{"127.0.0.1:9070", false, true},
		{"127.0.0.1:9070", true, false},
		{"169.254.169.254:80", true, true},
		{"[fd00:ec2::254]:80", true, true},
		{"10.0.1.5:9070", false, false},
	} {
		if err := dialGuard(tc.allow)("tcp", tc.address, nil); (err != nil) != tc.refused {
			t.Errorf("dialling %s (loopback allowed %v): %v, want refused %v", tc.address, tc.allow, err, tc.refused)
		}
	}
}
