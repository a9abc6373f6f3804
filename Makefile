# Sportello — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

CARGO ?= cargo
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## The whole stack on this machine (private PostgreSQL and NATS unless DATABASE_URL / NATS_URL are set)
	deploy/local/run.sh

.PHONY: test
test: lint ## Everything CI checks: lint, then the whole suite against a private, throw-away PostgreSQL and NATS
ifeq ($(NEXTEST),yes)
	deploy/local/test.sh $(CARGO) nextest run --workspace --locked --no-fail-fast
else
	deploy/local/test.sh $(CARGO) test --workspace --locked --no-fail-fast
endif

.PHONY: bench-registry
bench-registry: ## Registry: certificate issuing p50/p99 (PDF included) against a private PostgreSQL holding the synthetic La Spezia
	deploy/local/test.sh $(CARGO) bench -p sportello-registry --bench issue --locked

.PHONY: build
build: ## Build every service (debug)
	$(CARGO) build --workspace --locked

.PHONY: lint
lint: proto-lint ## rustfmt, clippy (warnings are errors) and buf lint
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: proto-lint
proto-lint: proto/node_modules/.bin/buf ## buf lint of proto/ (STANDARD rules)
	cd proto && node_modules/.bin/buf lint

.PHONY: breaking
breaking: proto/node_modules/.bin/buf ## buf breaking: proto/ against main's
	cd proto && node_modules/.bin/buf breaking --against '../.git#branch=main,subdir=proto'

proto/node_modules/.bin/buf: proto/package.json proto/package-lock.json
	cd proto && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: fix
fix: ## Apply clippy's and rustfmt's fixes
	$(CARGO) clippy --workspace --all-targets --fix --allow-dirty --allow-staged
	$(CARGO) fmt --all

.PHONY: clean-data
clean-data: ## Forget the local stack's data (.sportello/pg, .sportello/nats)
	rm -rf .sportello/pg .sportello/nats .sportello/logs
