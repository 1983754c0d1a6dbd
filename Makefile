# crmseg — see README.md. Every Go command carries the duckdb_arrow tag: the
# engine reads and writes DuckDB results through Arrow.
GO       ?= go
TAGS     := duckdb_arrow
GOFLAGS  := -tags=$(TAGS)
BIN      := bin/crmseg
PKGS     := ./...
STATICCHECK_VERSION := v0.8.2

.PHONY: all build test test-short bench lint fmt demo clean

all: build

build:
	$(GO) build $(GOFLAGS) -o $(BIN) ./cmd/crmseg

# The full test suite, as CI runs it.
test:
	$(GO) test $(GOFLAGS) -count=1 $(PKGS)

test-short:
	$(GO) test $(GOFLAGS) -short $(PKGS)

# Benchmarks print their figures; compare runs side by side with benchstat.
bench:
	$(GO) test $(GOFLAGS) -run '^$$' -bench . -benchmem -count=1 $(PKGS)

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
	rm -rf bin demo-out
