TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL_CLI_DIR := $(CURDIR)/.bin/temporal-$(TEMPORAL_CLI_VERSION)
TEMPORAL_CLI := $(TEMPORAL_CLI_DIR)/temporal

.PHONY: dev test build bench lint system-packages

# Local Postgres and Temporal dev server, then serve and worker in one process.
dev: build
	bin/screenflow dev

test: $(TEMPORAL_CLI) system-packages
	TEMPORAL_CLI=$(TEMPORAL_CLI) go test -race -count=1 -timeout 30m ./...

build:
	go build -o bin/screenflow ./cmd/screenflow

bench: $(TEMPORAL_CLI)
	TEMPORAL_CLI=$(TEMPORAL_CLI) go test -run '^$$' -bench . -benchmem ./...

lint:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

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
