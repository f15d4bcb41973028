// Package adminaddr decides which addresses a registration may send an
// admin token to. A claim names admin URLs (an existing environment's, a
// service's override) and a token Secret of its namespace; without a guard
// the stack would be a confused deputy, sending that token, or its own
// requests, wherever a claim points: the cloud's metadata service, link-
// local addresses, the Job's own loopback. The function checks the URL's
// host; the register command checks again every address it dials, after
// name resolution, so a name that resolves to such an address is refused
// too. Only the standard library: the function imports it.
package adminaddr

import (
	"net/netip"
	"strings"
)

// metadataHosts are names of cloud metadata services.
var metadataHosts = []string{"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}

// metadataAddrs are metadata services outside the link-local ranges.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // EC2's IPv6 instance metadata
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud's
}

// RefusedHost says why a URL's host (a name or a literal address) must not
// be an admin API's, or "". Loopback is refused unless allowed.
func RefusedHost(host string, allowLoopback bool) string {
	h := strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if ip, err := netip.ParseAddr(h); err == nil {
		return RefusedIP(ip, allowLoopback)
	}
	for _, m := range metadataHosts {
		if h == m {
			return "a cloud metadata service"
		}
	}
	if (h == "localhost" || strings.HasSuffix(h, ".localhost")) && !allowLoopback {
		return "a loopback name, which the platform does not allow"
	}
	return ""
}

// RefusedIP says why an address must not be an admin API's, or "".
func RefusedIP(ip netip.Addr, allowLoopback bool) string {
	ip = ip.Unmap()
	for _, m := range metadataAddrs {
		if ip == m {
			return "a cloud metadata service"
		}
	}
	switch {
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "a link-local address (where cloud metadata services answer)"
	case ip.IsUnspecified() || ip.IsMulticast():
		return "not a host's address"
	case ip.IsLoopback() && !allowLoopback:
		return "a loopback address, which the platform does not allow"
	}
	return ""
}
