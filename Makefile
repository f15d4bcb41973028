# The two commands of the README:
#   make render   render every example claim locally (no cluster, no Docker)
#   make test     unit tests, render goldens, offline schema validation,
#                 generated files up to date, the Backstage catalog, packages build
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
# Every go command builds as the image does (static, trimmed paths), so the
# function's binary, go run and go test share one set of compiled packages
# instead of compiling the dependencies twice.
export CGO_ENABLED := 0
export GOFLAGS := $(strip $(GOFLAGS) -trimpath)
BIN := $(CURDIR)/bin
OUT := $(CURDIR)/_output

CROSSPLANE := $(BIN)/crossplane
CROSSPLANE_CORE := $(BIN)/crossplane-core
CONTROLLER_GEN := $(BIN)/controller-gen
FUNCTION := $(BIN)/function
# A real Restate server from npm, for tests that check what Restate accepts.
RESTATE_VERSION := 1.7.12
RESTATE_SERVER := $(OUT)/restate/node_modules/.bin/restate-server
RESTATECTL := $(OUT)/restate/node_modules/.bin/restatectl
# A real Restate service built with the Go SDK, for registration tests.
RESTATE_SERVICE := $(BIN)/restateservice

.PHONY: all tools build generate check-generate render test unit render-test catalog-test golden packages bench bench-load bench-smoke e2e fuzz fuzz-cover clean

all: test

## Tools, each pinned in a module of its own under hack/tools/ (their
## dependency versions differ from the function's). The CLI and the core
## share one module: their dependencies agree, so the core's packages are
## compiled once, with the CLI's, and the core then builds in seconds.
$(CROSSPLANE): hack/tools/crossplane/go.mod hack/tools/crossplane/go.sum
	$(GO) build -C hack/tools/crossplane -o $@ github.com/crossplane/cli/v2/cmd/crossplane
$(CROSSPLANE_CORE): hack/tools/crossplane/go.mod hack/tools/crossplane/go.sum | $(CROSSPLANE)
	$(GO) build -C hack/tools/crossplane -ldflags '-X github.com/crossplane/crossplane-runtime/v2/pkg/version.version=v2.4.0' -o $@ github.com/crossplane/crossplane/v2/cmd/crossplane
$(CONTROLLER_GEN): hack/tools/gen/go.mod hack/tools/gen/go.sum
	$(GO) build -C hack/tools/gen -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen
tools: $(CROSSPLANE) $(CROSSPLANE_CORE) $(CONTROLLER_GEN)

## The control plane of the end-to-end test: etcd, and kube-apiserver,
## kube-controller-manager and kubectl v1.35.0, each from its own tools
## module.
ETCD := $(BIN)/etcd
KUBE_APISERVER := $(BIN)/kube-apiserver
KUBE_CONTROLLER_MANAGER := $(BIN)/kube-controller-manager
KUBECTL := $(BIN)/kubectl
$(ETCD): hack/tools/etcd/go.mod hack/tools/etcd/go.sum
	$(GO) build -C hack/tools/etcd -o $@ go.etcd.io/etcd/server/v3
$(KUBE_APISERVER): hack/tools/kube/go.mod hack/tools/kube/go.sum
	$(GO) build -C hack/tools/kube -o $@ k8s.io/kubernetes/cmd/kube-apiserver
$(KUBE_CONTROLLER_MANAGER): hack/tools/kube/go.mod hack/tools/kube/go.sum
	$(GO) build -C hack/tools/kube -o $@ k8s.io/kubernetes/cmd/kube-controller-manager
$(KUBECTL): hack/tools/kube/go.mod hack/tools/kube/go.sum
	$(GO) build -C hack/tools/kube -o $@ k8s.io/kubernetes/cmd/kubectl

## The real provider-aws, run by the end-to-end test against moto (an
## emulated AWS account). Metrics are off: controller-runtime would bind a
## fixed :8080.
PROVIDER_AWS := $(BIN)/provider-aws
$(PROVIDER_AWS): hack/tools/provider-aws/go.mod hack/tools/provider-aws/go.sum
	$(GO) build -C hack/tools/provider-aws -ldflags '-X sigs.k8s.io/controller-runtime/pkg/metrics/server.DefaultBindAddress=0' -o $@ github.com/crossplane-contrib/provider-aws/cmd/provider

$(RESTATE_SERVER):
	npm install --prefix $(OUT)/restate --no-audit --no-fund @restatedev/restate-server@$(RESTATE_VERSION)
# Restate's cluster tool, to read a real cluster's nodes and logs.
$(RESTATECTL): $(RESTATE_SERVER)
	npm install --prefix $(OUT)/restate --no-audit --no-fund @restatedev/restatectl@$(RESTATE_VERSION)

$(RESTATE_SERVICE): test/restateservice/go.mod test/restateservice/go.sum test/restateservice/main.go
	$(GO) build -C test/restateservice -o $@ .

# The function's image, stamped into the binary as the default image of
# registration Jobs (one image serves both).
IMAGE ?= ghcr.io/restate-crossplane/function-restate-stack:v0.1.0

## The function's static binary, as the Dockerfile builds it.
build:
	$(GO) build -ldflags='-s -w -X github.com/restate-crossplane/function-restate-stack/internal/version.Image=$(IMAGE)' -o $(FUNCTION) ./cmd/function-restate-stack

## Generated files: deepcopy, the input's CRD, and the XRD from apis/.
generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object paths=./apis/... paths=./input/...
	$(CONTROLLER_GEN) crd paths=./input/... output:crd:dir=package/input
	rm -rf $(OUT)/crd && $(CONTROLLER_GEN) crd paths=./apis/... output:crd:dir=$(OUT)/crd
	$(GO) run ./hack/xrdgen $(OUT)/crd/stack.restate-crossplane.io_xrestatestacks.yaml RestateStack restatestack-aws catalog/form.yaml compositions/definition.yaml apis/v1alpha1/zz_generated.schema.json
	$(GO) run ./hack/templategen -out catalog

## Fails when a generated file differs from what its generator writes now.
check-generate: generate
	@git diff --exit-code -- apis input package compositions catalog || { echo "generated files are stale: run make generate and commit"; exit 1; }

## A platform renders its own claims through its own Composition:
##   make render CLAIMS=path/to/claims COMPOSITION=path/to/composition.yaml
## CLAIMS is a directory of claims; a claim with spec.compositionRef picks
## that Composition from COMPOSITIONS by name.
CLAIMS ?= examples/claims
COMPOSITION ?= compositions/composition.yaml
COMPOSITIONS ?= examples/compositions
render: $(CROSSPLANE) $(CROSSPLANE_CORE) build
	$(GO) run ./hack/render -claims $(CLAIMS) -composition $(COMPOSITION) -compositions $(COMPOSITIONS) -out $(OUT)/render

unit: $(RESTATE_SERVER) $(RESTATECTL) $(RESTATE_SERVICE)
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	RESTATE_SERVER=$(RESTATE_SERVER) RESTATECTL=$(RESTATECTL) RESTATE_SERVICE=$(RESTATE_SERVICE) $(GO) test -count=1 ./apis/... ./input/... ./fn/... ./internal/... ./cmd/... ./hack/...

## Render goldens and validation, and registration against a real
## restate-server and Restate service.
render-test: $(CROSSPLANE) $(CROSSPLANE_CORE) $(RESTATE_SERVER) $(RESTATE_SERVICE) build
	RESTATE_SERVER=$(RESTATE_SERVER) RESTATE_SERVICE=$(RESTATE_SERVICE) $(GO) test -count=1 ./test/...

## Rewrites the render golden files under test/golden from the current code.
golden: $(CROSSPLANE) $(CROSSPLANE_CORE) build
	$(GO) test -count=1 ./test/... -run 'TestRender|TestPlainRenderFlow' -update

## Both packages build offline, as users would install them.
packages: $(CROSSPLANE)
	mkdir -p $(OUT)
	$(CROSSPLANE) xpkg build --package-root=package --package-file=$(OUT)/function-restate-stack.xpkg
	$(CROSSPLANE) xpkg build --package-root=compositions --examples-root=examples/claims --package-file=$(OUT)/configuration-restate-stack.xpkg

## The catalog (catalog/) checked with one pinned Backstage release's own
## packages from npm (test/backstage/package-lock.json).
catalog-test:
	npm ci --prefix test/backstage --no-audit --no-fund
	npm test --prefix test/backstage

test: check-generate unit render-test catalog-test packages bench-smoke

## Fuzzing: each target of fn/fuzz_test.go explores for FUZZTIME (4 targets
## x 150 s = 10 minutes by default); `make test` runs their seeds only. A
## failing input is written under fn/testdata/fuzz/ and becomes a seed.
FUZZTIME ?= 150s
FUZZ_TARGETS := FuzzResourceName FuzzComposeSpec FuzzObservedState FuzzUserData
fuzz:
	for target in $(FUZZ_TARGETS); do \
		$(GO) test ./fn/ -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

## fn's coverage under fuzzing: the corpus make fuzz grew, replayed.
fuzz-cover:
	hack/fuzzcover.sh

## Benchmarks (BENCHMARKS.md): RunFunction against the protobuf floor at 1
## to 256 services, then the real binary under load and a soak.
bench:
	$(GO) run ./hack/bench

## Claims applied with kubectl through a real Crossplane, end to end
## (test/e2e): everything on loopback, stopped and removed afterwards. Its
## last phase applies every example again with 15 % of provider-aws's calls
## faulted and the control plane SIGKILLed; `make e2e FAULT_ROUNDS=5
## FAULT_RATE=0.2 FAULT_SEED=7` runs it longer, harder or otherwise, and
## FAULT_LOSE_ALL=1 also loses the responses of the EC2 creates no client
## token can make idempotent (test/e2e/faults_test.go says what that leaks).
FAULT_ROUNDS ?= 1
FAULT_RATE ?= 0.15
FAULT_SEED ?= 1
e2e: $(ETCD) $(KUBE_APISERVER) $(KUBE_CONTROLLER_MANAGER) $(KUBECTL) $(CROSSPLANE) $(CROSSPLANE_CORE) $(PROVIDER_AWS) $(RESTATE_SERVER) $(RESTATE_SERVICE) build
	CROSSPLANE=$(CROSSPLANE) ETCD=$(ETCD) KUBE_APISERVER=$(KUBE_APISERVER) KUBE_CONTROLLER_MANAGER=$(KUBE_CONTROLLER_MANAGER) KUBECTL=$(KUBECTL) \
	CROSSPLANE_CORE=$(CROSSPLANE_CORE) CROSSPLANE_CRDS=$$($(GO) list -C hack/tools/crossplane -m -f '{{.Dir}}' github.com/crossplane/crossplane/v2)/cluster/crds \
	PROVIDER_AWS_CRDS=$$($(GO) list -m -f '{{.Dir}}' github.com/crossplane-contrib/provider-aws)/package/crds \
	PROVIDER_AWS=$(PROVIDER_AWS) FUNCTION=$(FUNCTION) RESTATE_SERVER=$(RESTATE_SERVER) RESTATE_SERVICE=$(RESTATE_SERVICE) \
	FAULT_ROUNDS=$(FAULT_ROUNDS) FAULT_RATE=$(FAULT_RATE) FAULT_SEED=$(FAULT_SEED) FAULT_LOSE_ALL=$(FAULT_LOSE_ALL) E2E_KEEP=$(E2E_KEEP) \
	$(GO) test -tags e2e -count=1 -timeout 90m -v $(E2E_FLAGS) ./test/e2e/

bench-load: build
	$(GO) run ./hack/load -function $(FUNCTION)

## The benchmarks once each, briefly, as make test runs them: figures from
## here mean nothing, but a benchmark the function refuses fails.
bench-smoke: build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./fn/
	$(GO) run ./hack/bench -count 1 -test.benchtime 1x >/dev/null
	$(GO) run ./hack/load -function $(FUNCTION) -duration 1s -soak 200 >/dev/null

clean:
	rm -rf $(BIN) $(OUT)
