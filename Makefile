# micromirror: see README.md. Every target that needs Debian packages runs
# scripts/deps.sh first (quiet when all is installed).
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN := micromirror

.PHONY: build run node test bench lint fuzz deps clean

deps:
	@scripts/deps.sh

build:
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/micromirror

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

bench: deps build
	scripts/bench.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# Short fuzzing of every parser of outside input (longer: FUZZTIME=5m).
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./internal/serve -run '^$$' -fuzz FuzzResolve -fuzztime $(FUZZTIME)
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./internal/guard -run '^$$' -fuzz FuzzParseBlocklist -fuzztime $(FUZZTIME)
	$(GO) test ./internal/rsyncd -run '^$$' -fuzz FuzzParseLogLine -fuzztime $(FUZZTIME)
	$(GO) test ./internal/accesslog -run '^$$' -fuzz FuzzFormat -fuzztime $(FUZZTIME)
	$(GO) test ./internal/rsync -run '^$$' -fuzz FuzzParseStats -fuzztime $(FUZZTIME)
	$(GO) test ./internal/rsync -run '^$$' -fuzz FuzzParseProgress -fuzztime $(FUZZTIME)
	$(GO) test ./internal/mqtt -run '^$$' -fuzz FuzzParseTopic -fuzztime $(FUZZTIME)
	$(GO) test ./internal/mqtt -run '^$$' -fuzz FuzzParsePayload -fuzztime $(FUZZTIME)
	$(GO) test ./internal/telemetry -run '^$$' -fuzz FuzzDecodeBatch -fuzztime $(FUZZTIME)
	$(GO) test ./internal/inventory -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./internal/placement -run '^$$' -fuzz FuzzReadCSV -fuzztime $(FUZZTIME)
	$(GO) test ./internal/registration -run '^$$' -fuzz FuzzHostnames -fuzztime $(FUZZTIME)
	$(GO) test ./internal/httpd -run '^$$' -fuzz FuzzRequest -fuzztime $(FUZZTIME)

clean:
	rm -f $(BIN)
