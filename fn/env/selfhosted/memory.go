package selfhosted

import (
	"fmt"
	"strings"
)

// The memory budget of a self-hosted host. Restate's defaults assume a
// large machine (RocksDB 2 GiB, the query engine 1 GiB, Bifrost's record
// cache 250 MiB, the invoker 1.5 GiB); on a t4g.micro with 1 GiB in all they
// would not fit. The server's share is what the instance has, less what
// the OS, Docker and the host's other containers need, and is split:
//
//	| setting                              | share of the server's memory | cap     |
//	| rocksdb-total-memory-size            | 40 %                         | 4 GiB   |
//	| worker.invoker.memory-limit          | 20 %                         | 1.5 GiB |
//	| admin.query-engine.memory-size       | 10 %                         | 256 MiB (the CDK's) |
//	| bifrost.record-cache-memory-size     | 10 %                         | 250 MiB |
//
// The remaining fifth of the server's share is the process itself. The
// claim's config.rocksdbTotalMemorySize, if set, takes RocksDB's place.
//
// A cluster node also keeps the replicated log as a log server, in the same
// RocksDB, holds a connection to every peer, and uploads partition
// snapshots to S3; with Raft it is a metadata server too. It needs at least
// clusterNodeMinMiB (a t4g.small): on 1 GiB the split above leaves the log
// server and the snapshot uploads under 300 MiB together.
const (
	// hostReserveMiB is the OS, the Docker daemon, the SSM agent and
	// cloud-init.
	hostReserveMiB = 320
	// collectorReserveMiB is the ADOT collector (tracing to X-Ray).
	collectorReserveMiB = 128
	// proxyReserveMiB is nginx terminating TLS.
	proxyReserveMiB = 32
	// clusterNodeMinMiB is the least a cluster node's instance has.
	clusterNodeMinMiB = 2048
	// defaultClusterInstanceType is a cluster node's type when neither the
	// claim nor the platform names one.
	defaultClusterInstanceType = "t4g.small"
)

// memoryBudget is the server's memory settings, in MiB.
type memoryBudget struct {
	ServerMiB, RocksDBMiB, InvokerMiB, QueryEngineMiB, RecordCacheMiB int
}

// budgetFor sizes the server's memory for an instance type.
func budgetFor(instanceType string, xray, tls bool) (memoryBudget, error) {
	total, err := instanceMemoryMiB(instanceType)
	if err != nil {
		return memoryBudget{}, err
	}
	server := total - hostReserveMiB
	if xray {
		server -= collectorReserveMiB
	}
	if tls {
		server -= proxyReserveMiB
	}
	if server < 256 {
		return memoryBudget{}, fmt.Errorf("%s has %d MiB, too little for Restate beside the OS and the host's other containers", instanceType, total)
	}
	share := func(percent, capMiB int) int { return min(server*percent/100, capMiB) }
	return memoryBudget{
		ServerMiB:      server,
		RocksDBMiB:     share(40, 4096),
		InvokerMiB:     share(20, 1536),
		QueryEngineMiB: share(10, 256),
		RecordCacheMiB: share(10, 250),
	}, nil
}

// familyMemory is GiB per size of the families a platform is likely to
// allow (EC2's published sizes): burstable t* families, general purpose
// m* (4 GiB per vCPU), compute c* (2 GiB) and memory r* (8 GiB).
var (
	burstableGiB = map[string]float64{"nano": 0.5, "micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
	perVCPUGiB   = map[byte]float64{'m': 4, 'c': 2, 'r': 8}
	vcpus        = map[string]float64{"medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64}
)

// instanceMemoryMiB is an instance type's memory.
func instanceMemoryMiB(instanceType string) (int, error) {
	family, size, ok := strings.Cut(instanceType, ".")
	if ok && family != "" {
		switch {
		case family[0] == 't':
			if gib, ok := burstableGiB[size]; ok {
				return int(gib * 1024), nil
			}
		case perVCPUGiB[family[0]] > 0:
			if n, ok := vcpus[size]; ok {
				return int(n * perVCPUGiB[family[0]] * 1024), nil
			}
		}
	}
	return 0, fmt.Errorf("no memory budget for %s: use a t*, m*, c* or r* type up to 16xlarge, or set config.override", instanceType)
}

// mib writes a size as Restate reads it.
func mib(n int) string { return fmt.Sprintf("%d MiB", n) }
