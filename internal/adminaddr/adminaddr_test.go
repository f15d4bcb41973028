package adminaddr

import "testing"

func TestRefusedHost(t *testing.T) {
	for _, tc := range []struct {
		host          string
		allowLoopback bool
		refused       bool
	}{
		{"restate-admin.platform.example.com", false, false},
		{"10.0.1.5", false, false},
		{"203.0.113.7", false, false},
		{"169.254.169.254", false, true},
		{"169.254.169.254", true, true},
		{"169.254.0.1", false, true},
		{"[fe80::1]", false, true},
		{"fd00:ec2::254", false, true},
		{"[::ffff:169.254.169.254]", false, true},
		{"100.100.100.200", false, true},
		{"metadata.google.internal", false, true},
		{"Metadata.Google.Internal.", false, true},
		{"instance-data", false, true},
		{"127.0.0.1", false, true},
		{"127.0.0.1", true, false},
		{"[::1]", false, true},
		{"[::1]", true, false},
		{"localhost", false, true},
		{"localhost", true, false},
		{"admin.localhost", false, true},
		{"0.0.0.0", true, true},
		{"224.0.0.1", false, true},
	} {
		if got := RefusedHost(tc.host, tc.allowLoopback); (got != "") != tc.refused {
			t.Errorf("RefusedHost(%q, loopback %v) = %q, want refused %v", tc.host, tc.allowLoopback, got, tc.refused)
		}
	}
}
