TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL_CLI_DIR := $(CURDIR)/.bin/temporal-$(TEMPORAL_CLI_VERSION)
TEMPORAL_CLI := $(TEMPORAL_CLI_DIR)/temporal

.PHONY: dev test build bench bench-load lint system-packages record-histories fuzz fault deploy-test

# Local Postgres and Temporal dev server, then serve and worker in one process.
dev: build
	bin/screenflow dev

test: $(TEMPORAL_CLI) system-packages
	TEMPORAL_CLI=$(TEMPORAL_CLI) go test -race -count=1 -timeout 30m ./...

build:
	go build -o bin/screenflow ./cmd/screenflow

bench: $(TEMPORAL_CLI)
	TEMPORAL_CLI=$(TEMPORAL_CLI) go test -run '^$$' -bench . -benchmem ./...

# The load benchmark (cmd/loadbench): the real stack under open-model load, every figure beside a
# baseline from the same run; prints a table and writes .data/bench-load.json. With 10,000 open
# screenings it takes a while; BENCH_LOAD_FLAGS=-quick for a first look.
bench-load: $(TEMPORAL_CLI)
	TEMPORAL_CLI=$(TEMPORAL_CLI) go run ./cmd/loadbench $(BENCH_LOAD_FLAGS)

# Records the histories that workflows/replay_test.go replays, from the end-to-end tests, into a
# folder of their own for the release, beside those of earlier releases, which stay. Run it when a
# release is cut, never to make a failing replay test pass (README: Changing a workflow).
RELEASE ?= $(shell date -u +%Y-%m-%d)-$(shell git rev-parse --short HEAD)
record-histories: $(TEMPORAL_CLI)
	@if [ -e workflows/testdata/histories/$(RELEASE) ]; then \
		echo "workflows/testdata/histories/$(RELEASE) exists: a release's histories are never recorded again" >&2; exit 1; \
	fi
	SCREENFLOW_RECORD_HISTORIES=$(CURDIR)/workflows/testdata/histories/$(RELEASE) TEMPORAL_CLI=$(TEMPORAL_CLI) \
		go test -count=1 -run 'TestEndToEnd' ./cmd/screenflow/

# Runs every fuzz target for FUZZTIME each (`go test` alone runs only their seeds).
FUZZTIME ?= 10m
FUZZ_TARGETS := ./receiver:FuzzCreateScreeningRequest ./providers/builtin:FuzzComplyCubeWebhook \
	./providers/builtin:FuzzAuthenticateWebhook ./providers/builtin:FuzzCheckrWebhook
fuzz:
	@for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; name=$${target##*:}; \
		echo "--- $$name ($$pkg, $(FUZZTIME))"; \
		go test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# The fault suite (faultsuite/, build tag fault): screenings on the real stack while Temporal is
# stopped, the worker and serve are SIGKILLed and Postgres restarts, then a ledger of what must
# hold. About three minutes; `make test` does not run it.
fault: $(TEMPORAL_CLI)
	TEMPORAL_CLI=$(TEMPORAL_CLI) go test -tags fault -count=1 -run TestFaultSuite -v -timeout 20m ./faultsuite/

# The deploy test (faultsuite/deploy_test.go): screenings started by the previous release's binary,
# built from the commit in faultsuite/testdata/previous-release (SCREENFLOW_DEPLOY_FROM=<ref> tries
# another), completed after the current binary replaced it. About two minutes.
deploy-test: $(TEMPORAL_CLI)
	TEMPORAL_CLI=$(TEMPORAL_CLI) go test -tags fault -count=1 -run TestDeploy -v -timeout 10m ./faultsuite/

lint:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags fault ./faultsuite/
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -tags fault ./faultsuite/

# Cached in .bin/: the first build takes about 13 minutes.
$(TEMPORAL_CLI):
	GOBIN=$(TEMPORAL_CLI_DIR) go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

# Debian packages some tests run: docker-compose validates docker-compose.yml (`config` needs no
# Docker engine) and poppler-utils' pdftotext reads the fake ComplyCube's PDF reports.
system-packages:
	@if ! command -v docker-compose >/dev/null || ! command -v pdftotext >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker-compose poppler-utils; \
		else \
			echo "the tests need docker-compose and pdftotext: sudo apt-get install docker-compose poppler-utils" >&2; \
			exit 1; \
		fi; \
	fi
