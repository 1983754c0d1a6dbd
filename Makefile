# crmseg — see README.md. Every Go command carries the duckdb_arrow tag: the
# engine reads and writes DuckDB results through Arrow.
GO       ?= go
TAGS     := duckdb_arrow
GOFLAGS  := -tags=$(TAGS)
BIN      := bin/crmseg
BENCH_BIN := bin/crmseg-bench
PKGS     := ./...
STATICCHECK_VERSION := v0.8.2

.PHONY: all build build-bench test test-short bench bench-kmeans lint fmt demo clean

all: build

build:
	$(GO) build $(GOFLAGS) -o $(BIN) ./cmd/crmseg

# The benchmarks' own tool (Gaussian blobs, the DuckDB scan floor), kept out
# of the crmseg binary: internal/bench/cmd/crmseg-bench.
build-bench:
	$(GO) build $(GOFLAGS) -o $(BENCH_BIN) ./internal/bench/cmd/crmseg-bench

# The full test suite, as CI runs it. The engine's tests take several minutes
# on a busy 2-core machine: more than go test's default 10-minute limit allows.
test:
	$(GO) test $(GOFLAGS) -count=1 -timeout 30m $(PKGS)

test-short:
	$(GO) test $(GOFLAGS) -short $(PKGS)

# Benchmarks print their figures; compare runs side by side with benchstat.
bench:
	$(GO) test $(GOFLAGS) -run '^$$' -bench . -benchmem -count=1 $(PKGS)

# crmseg cluster against scikit-learn's KMeans(algorithm="lloyd") on the same
# 1,000,000 x 12 Gaussian blobs (8 centres), k=8, n_init=10, max_iter=300,
# tol=1e-4, run one after the other. Installs Debian's python3-sklearn when
# it is missing. crmseg-bench blobs writes the data; data and outputs go to
# BENCH_DIR.
BENCH_DIR ?= bench-out/kmeans
bench-kmeans: build build-bench
	@/usr/bin/python3 -c 'import sklearn' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-sklearn python3-numpy >/dev/null; }
	@test -f $(BENCH_DIR)/blobs.npy || ./$(BENCH_BIN) blobs --rows 1000000 --dims 12 --centers 8 --seed 1 --out $(BENCH_DIR)
	/usr/bin/python3 segment/bench/kmeans_vs_sklearn.py ./$(BIN) $(BENCH_DIR) 8 10 300 1e-4

# crmseg run end to end on CUSTOMERS generated customers (seed 1, generated
# once into bench-out/e2e-CUSTOMERS/data), against the floor of a plain
# DuckDB scan-and-group-by of the same transactions (crmseg-bench scan);
# prints wall time, peak RSS and each stage's seconds and peak memory. make
# bench-e2e CUSTOMERS=10000000 for 10M.
CUSTOMERS ?= 1000000
.PHONY: bench-e2e
bench-e2e: build build-bench
	CRMSEG_BENCH=./$(BENCH_BIN) cmd/crmseg/bench/e2e.sh ./$(BIN) $(CUSTOMERS) bench-out/e2e-$(CUSTOMERS)

lint:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(GOFLAGS) $(PKGS)
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck -tags $(TAGS) $(PKGS)

fmt:
	gofmt -w .

# Generate 20,000 demo customers, run the whole pipeline and print the segments.
demo: build
	./$(BIN) demo --out demo-out

clean:
	rm -rf bin demo-out bench-out
