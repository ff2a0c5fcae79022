# dmlnet — `make demo` runs the whole local network once; `make test` runs every check CI runs.
# Both install what is missing first (Python venv with torch 2.13.0 CPU, npm toolchain, slither) and are
# quick when everything is already installed.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SLITHER_VENV := .venv-slither
FORGE = $(firstword $(wildcard node_modules/@foundry-rs/forge-*/bin/forge))
FOUNDRY_PROFILE ?= $(if $(filter true,$(CI)),ci,default)
export FOUNDRY_PROFILE
# The long end-to-end tests (marker `slow`: the Byzantine matrix, fault injection, load) run under CI, and
# locally with `make test-all`; `make test` alone stays under 15 minutes on a 2-core machine.
PYTEST_SELECT ?= $(if $(filter true,$(CI)),,-m "not slow")

.PHONY: help install system-tools datasets build demo test test-all test-contracts gas-check gas-snapshot slither lint typecheck pytest bench clean

help:
	@echo "make demo   - install what is missing, then run the local network end to end"
	@echo "make test   - install what is missing, then forge tests, slither, ruff, mypy, pytest (not slow)"
	@echo "make test-all - the same with the slow end-to-end tests (what CI runs)"
	@echo "make bench  - run every benchmark (scripts/bench_*.py)"

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

node_modules/.installed: package.json package-lock.json
	@# `npm ci` refuses this lock: some of the optional per-platform Foundry packages are not published for
	@# this version, and npm records only those it found. `npm install` installs exactly the locked tree.
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

$(SLITHER_VENV)/.installed:
	@test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install --quiet "slither-analyzer==0.11.6"
	@touch $@

# Debian's docker-compose validates docker-compose.yml without a Docker engine (a test runs `config` on it).
system-tools:
	@command -v docker-compose >/dev/null 2>&1 || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq docker-compose >/dev/null; }
	@# Debian's Chromium for the explorer's browser tests (Playwright drives it; its own download fails here).
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Debian's real datasets: Fashion-MNIST's 70,000 idx images (--dataset fashion-mnist, dml demo --workload
# fashion-mnist, the workload benchmark and its tests) and the fortunes text. Installed when missing, as Chromium is.
datasets:
	@test -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null; }
	@# Debian's fortunes: 2.8 MB of English text, the language-model workload's corpus (--dataset fortunes).
	@test -f /usr/share/games/fortunes/wisdom || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq fortunes >/dev/null; }

install: $(VENV)/.installed node_modules/.installed

# Rebuilds node/chain/artifacts/TaskMarket.json when the contract sources changed.
build: install
	$(PY) -m node.chain.build

demo: install datasets
	$(VENV)/bin/dml demo

test-contracts: node_modules/.installed
	$(FORGE) test

# Gas of each call in a unit's life (contracts/test/gas/): fails when a figure moves by more than 2% while
# .gas-snapshot was not updated (`make gas-snapshot` writes it; commit it with the change that moved it).
gas-check: node_modules/.installed
	$(FORGE) snapshot --match-path "contracts/test/gas/*" --check --tolerance 2

gas-snapshot: node_modules/.installed
	$(FORGE) snapshot --match-path "contracts/test/gas/*"

# slither reads forge's build (foundry.toml's build_info: out/build-info) instead of compiling the contracts again
# (after `make test-contracts` the build is a cache hit); it must not find anything of medium or high impact.
# One build-info per compiler profile (foundry.toml: the market through the IR pipeline, the tests without it):
# more than that means an incremental rebuild left an older one beside them (forge keeps a build-info while any
# cached artifact refers to it), which would show slither the old source of a changed file, so the build is redone
# whole.
FORGE_PROFILES := 2
slither: node_modules/.installed $(SLITHER_VENV)/.installed
	$(FORGE) build
	@if [ "$$(ls out/build-info | wc -l)" -gt $(FORGE_PROFILES) ]; then echo "stale build-info: rebuilding whole"; $(FORGE) build --force; fi
	PATH="$(abspath $(dir $(FORGE))):$$PATH" $(SLITHER_VENV)/bin/slither . --ignore-compile \
		--filter-paths "node_modules|contracts/test" --exclude-informational --exclude-optimization --fail-medium

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check node client explorer scripts tests testkit
	$(VENV)/bin/ruff format --check node client explorer scripts tests testkit

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

pytest: install datasets
	$(PY) -m node.chain.build --check
	$(PY) -m pytest $(PYTEST_SELECT)

test: install system-tools datasets $(SLITHER_VENV)/.installed
	$(MAKE) test-contracts
	$(MAKE) gas-check
	$(MAKE) slither
	$(MAKE) lint
	$(MAKE) typecheck
	$(MAKE) pytest

test-all:
	$(MAKE) test CI=true

bench: install datasets
	@for script in scripts/bench_*.py; do echo "== $$script"; $(PY) -m scripts.$$(basename $$script .py) || exit 1; done

clean:
	rm -rf out cache build bench-results .pytest_cache .mypy_cache .ruff_cache
