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
run: ui ## The whole stack on this machine with the demo municipality (private PostgreSQL and NATS unless DATABASE_URL / NATS_URL are set)
	deploy/local/run.sh

.PHONY: test
test: lint deploy-check ## Everything CI checks: lint, deploy-check, the whole suite, then the browser tests, against private, throw-away PostgreSQL and NATS
	# The service binaries too: tests run them to check how they fail on bad configuration.
	$(CARGO) build --workspace --bins --locked
ifeq ($(NEXTEST),yes)
	deploy/local/test.sh $(CARGO) nextest run --workspace --locked --no-fail-fast
else
	deploy/local/test.sh $(CARGO) test --workspace --locked --no-fail-fast
endif
	$(MAKE) --no-print-directory test-ui

# --- the web UI (services/gateway/ui): Bootstrap Italia and test tools from npm --------
UI := services/gateway/ui

.PHONY: ui
ui: $(UI)/node_modules/.installed ## Build the web UI into services/gateway/ui/dist (the gateway serves it)
	cd $(UI) && node build.mjs

$(UI)/node_modules/.installed: $(UI)/package.json $(UI)/package-lock.json
	cd $(UI) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: chromium
chromium: ## Install Debian's Chromium for the browser tests, if missing
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
		deploy/local/as-root.sh apt-get install -y -qq chromium >/dev/null; }

.PHONY: test-ui
test-ui: ui chromium ## Browser tests (Playwright + Debian's Chromium) on the real stack; screenshots in target/ui-screenshots
	$(CARGO) build --bins --locked
	deploy/local/test.sh deploy/local/stack.sh npm --prefix $(UI) test

.PHONY: bench
bench: bench-routing bench-registry bench-gateway ## All benchmarks (release build; a durable private PostgreSQL and NATS); figures in the README

.PHONY: bench-routing
bench-routing: ## Routing: the in-memory decision (index alone, served path), then open-loop capacity, publish delay, open-loop CallNext
	$(CARGO) bench --locked -p sportello-routing --bench decision
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-routing --bench e2e

.PHONY: bench-registry
bench-registry: ## Registry: certificate issuing p50/p99 (PDF included; durable PostgreSQL) with the synthetic La Spezia loaded
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-registry --bench issue

.PHONY: bench-gateway
bench-gateway: ui chromium ## Gateway: from "Chiama il prossimo" to the board showing the call, in a real browser (p50/p95/max; release binaries, durable PostgreSQL, 95,000 residents)
	$(CARGO) build --release --bins --locked
	SPORTELLO_DURABLE=1 PROFILE=release SYNTH_RESIDENTS=95000 deploy/local/test.sh deploy/local/stack.sh npm --prefix $(UI) run bench

.PHONY: build
build: ## Build every service (debug)
	$(CARGO) build --workspace --locked

.PHONY: lint
lint: proto-lint breaking ## rustfmt, clippy (warnings are errors), buf lint and buf breaking
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: proto-lint
proto-lint: proto/node_modules/.bin/buf ## buf lint of proto/ (STANDARD rules)
	cd proto && node_modules/.bin/buf lint

.PHONY: breaking
breaking: proto/node_modules/.bin/buf ## buf breaking: proto/ must not break main's published contracts (skipped where no main branch is checked out)
	@if git rev-parse --verify --quiet main >/dev/null; then \
		cd proto && node_modules/.bin/buf breaking --against '../.git#branch=main,subdir=proto'; \
	else echo "breaking: no local 'main' branch to compare against; skipped"; fi

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

# --- deploy: images and Kubernetes manifests (deploy/README.md) ------------------------
# Pinned Python tools (deploy/check/requirements.txt) in a private directory, and the npm
# packages that carry the custom resources' API types (deploy/check/crd).
DEPLOY_TOOLS := .sportello/tools/deploy
DEPLOY_ENV := PATH="$(CURDIR)/$(DEPLOY_TOOLS)/bin:$$PATH" PYTHONPATH="$(CURDIR)/$(DEPLOY_TOOLS):$(CURDIR)/deploy/check" PYTHONDONTWRITEBYTECODE=1

.PHONY: deploy-check
deploy-check: $(DEPLOY_TOOLS)/.installed deploy/check/crd/node_modules/.installed ## Images and manifests, offline: checker tests, schemas, policies, the image build (SKIP_IMAGE_BUILD=1 skips it)
	$(DEPLOY_ENV) python3 -m unittest discover --top-level-directory deploy/check --start-directory deploy/check/tests
	$(DEPLOY_ENV) python3 -m sportello_deploy check
ifneq ($(SKIP_IMAGE_BUILD),1)
	@# No Docker engine here: run the Dockerfile's own build command instead.
	cmd=$$($(DEPLOY_ENV) python3 -m sportello_deploy build-command) && echo "$$cmd" && $$cmd
endif

.PHONY: deploy-gen
deploy-gen: $(DEPLOY_TOOLS)/.installed ## Regenerate deploy/base's per-service files from the services' source
	$(DEPLOY_ENV) python3 -m sportello_deploy generate

$(DEPLOY_TOOLS)/.installed: deploy/check/requirements.txt
	rm -rf $(DEPLOY_TOOLS)
	PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --target $(DEPLOY_TOOLS) -r $<
	touch $@

deploy/check/crd/node_modules/.installed: deploy/check/crd/package.json deploy/check/crd/package-lock.json
	cd deploy/check/crd && npm ci --no-audit --no-fund --loglevel=error
	touch $@
