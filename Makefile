# rwxchaos — see README.md. The two commands a newcomer needs:
#   make demo   run a scenario end to end and show its report
#   make test   run every test (what .ci/run does after `make lab-ci`)
SHELL := /bin/bash
GO ?= go
SCENARIO ?= engine-killed-mid-run
TEST_TIMEOUT ?= 75m

.PHONY: demo test unit lint bench build

demo:
	$(GO) run ./cmd/rwxchaos run $(SCENARIO)

build:
	mkdir -p bin && CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/rwxchaos ./cmd/edi-pipeline

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

# Everything, including the lab's kind tests when RWXCHAOS_LAB=1 or CI=true,
# under the race detector.
test: lint
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

# Fast tests only (no kind, no scenario suites).
unit:
	$(GO) test -race -short ./framework/... ./fixtures/... ./cmd/...

# BenchmarkReportMillion (cmd/rwxchaos) writes a 1,000,000-upload saved run
# once (~2 GB, cached in $$RWXCHAOS_BENCH_DIR or the lab cache) and times
# `rwxchaos report` on it; RWXCHAOS_BENCH_UPLOADS=N for a smaller run.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./framework/check/ ./framework/proc/ ./cmd/rwxchaos/

.PHONY: lab lab-ci

# Hermetic kind lab (docker, node image, CNI, pipeline and NFS images) built
# into $(RWXCHAOS_CACHE) (default /var/cache/rwxchaos). Needs root. Warm runs
# take seconds; LAB_ARGS go to the builder, e.g. LAB_ARGS="-force img-node".
lab:
	hack/lab/lab.sh $(LAB_ARGS)

# What CI runs before the tests: the lab, plus removal of leftover clusters.
lab-ci:
	hack/lab/ci.sh

.PHONY: chaos-lab

# Chaos Mesh for the lab (controller-manager, chaos-daemon, helm), built
# offline from the Go module proxy into $(RWXCHAOS_CACHE)/chaosmesh; needs
# `make lab` first. Not part of CI (cold build ~20 min on 2 cores, 3.2 GB
# peak: hack/chaosmesh/README.md). Then:
#   RWXCHAOS_LAB=1 go test ./framework/provider/existing/ -run TestLabChaosMesh -v
chaos-lab:
	hack/chaosmesh/build.sh

.PHONY: snapshot

# What a release tag publishes (.goreleaser.yaml), built locally into dist/:
# linux amd64/arm64 archives and checksums.txt; the image needs docker
# buildx (drop --skip=docker). goreleaser: hack/ci-deps.sh installs it.
SNAPSHOT_ARGS ?= --skip=docker
snapshot:
	goreleaser release --snapshot --clean $(SNAPSHOT_ARGS)
