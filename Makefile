# micromirror: see README.md. Every target that needs Debian packages runs
# scripts/deps.sh first (quiet when all is installed).
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN := micromirror

.PHONY: build run node test test-short bench lint fuzz deps deb clean

deps:
	@scripts/deps.sh

# CGO_ENABLED=0: one truly static binary (no libc), as the package ships it.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/micromirror

# The main job: the whole constellation on loopback (Ctrl-C stops it).
run: deps build
	./$(BIN) demo

# One node from the example config.
node: deps build
	./$(BIN) node -config examples/node.yaml

test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...
	# Allocation counts hold only without the race detector's own.
	$(GO) test -count=1 -run Allocations ./...

# The inner loop: every test but the 35 slowest (a full rollout, the
# Debian package, replicas, long MQTT and sync scenarios), under a minute
# on two cores. CI runs `make test`, all of them.
test-short: deps
	$(GO) vet ./...
	$(GO) test -short -count=1 ./...

bench: deps build
	scripts/bench.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# Every fuzz target, each for FUZZTIME (default 20s; longer: FUZZTIME=5m),
# all of them even after a failure; the failures are listed at the end.
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# The Debian package for amd64 and arm64, in dist/ (docs/deploy.md).
deb:
	@GO=$(GO) scripts/deb.sh

clean:
	rm -f $(BIN)
	rm -rf dist
