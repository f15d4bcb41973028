package selfhosted

import (
	"strings"
	"testing"
)

// TestMemoryBudgetFits: for every size of the families the budget knows,
// with and without the collector and the TLS proxy, Restate's settings and
// the host's reserve fit the instance, with a fifth of the server's share
// left for the process itself.
func TestMemoryBudgetFits(t *testing.T) {
	types := []string{}
	for size := range burstableGiB {
		types = append(types, "t4g."+size, "t3."+size)
	}
	for _, family := range []string{"m7g", "c7g", "r7g", "m6i"} {
		for size := range vcpus {
			types = append(types, family+"."+size)
		}
	}
	for _, typ := range types {
		total, err := instanceMemoryMiB(typ)
		if err != nil {
			continue // "t3." alone: refused below
		}
		for _, xray := range []bool{false, true} {
			for _, tls := range []bool{false, true} {
				b, err := budgetFor(typ, xray, tls)
				if strings.HasSuffix(typ, ".nano") {
					if err == nil {
						t.Errorf("%s: a budget in 512 MiB", typ)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", typ, err)
					continue
				}
				used := b.RocksDBMiB + b.InvokerMiB + b.QueryEngineMiB + b.RecordCacheMiB
				reserve := hostReserveMiB
				if xray {
					reserve += collectorReserveMiB
				}
				if tls {
					reserve += proxyReserveMiB
				}
				if used > b.ServerMiB*4/5 || b.ServerMiB+reserve > total || b.RocksDBMiB <= 0 || b.QueryEngineMiB <= 0 || b.RecordCacheMiB <= 0 || b.InvokerMiB <= 0 {
					t.Errorf("%s (xray %v, tls %v): %+v does not fit %d MiB", typ, xray, tls, b, total)
				}
				if b.QueryEngineMiB > 256 {
					t.Errorf("%s: query engine %d MiB, over the CDK's 256", typ, b.QueryEngineMiB)
				}
			}
		}
	}
	for _, bad := range []string{"t3.", "x2gd.large", "m7g.metal", "t4g.48xlarge"} {
		if _, err := instanceMemoryMiB(bad); err == nil {
			t.Errorf("%s: a memory size for an unknown type", bad)
		}
	}
	if m, _ := instanceMemoryMiB("t4g.micro"); m != 1024 {
		t.Errorf("t4g.micro: %d MiB", m)
	}
	if m, _ := instanceMemoryMiB("c7g.large"); m != 4096 {
		t.Errorf("c7g.large: %d MiB", m)
	}
}
