# DFGaze Serve: the two commands a newcomer needs on Debian 12 with the Swift toolchain.
#
#   make run     install what is missing, build release, serve the demo weights on $(HOST):$(PORT)
#   make test    install what is missing, lint/validate Deploy/, run the whole Swift test suite
#
# Both can be run again at any time: installs are skipped when present, builds are incremental.
# `make run` and `make test` build in separate folders (.build-run/ and .build/) because the test
# build's -enable-testing flag would otherwise force a full rebuild each time one follows the other.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The toolchain lives in /opt/swift on the reference machine; keep a PATH the user already set first.
export PATH := $(PATH):/opt/swift/usr/bin

HOST ?= 127.0.0.1
PORT ?= 8080
SWIFT ?= swift
# Where `make run` keeps its build and the generated demo weights (both git-ignored).
RUN_BUILD ?= .build-run
WEIGHTS ?= .cache/weights/dfgaze-demo-v1
DFGAZE := $(RUN_BUILD)/release/dfgaze

.PHONY: help deps tools build demo-weights run test lint clean

help:
	@echo "make run    build release and serve the demo weights on HOST=$(HOST) PORT=$(PORT)"
	@echo "make test   lint Deploy/ and run the Swift test suite (release, -enable-testing)"
	@echo "make lint   only the deploy checks (hadolint, kubernetes-validate, haproxy -c, ...)"
	@echo "make clean  remove build folders, demo weights and .venv-tools/"

deps:
	@scripts/install-deps.sh

tools:
	@scripts/install-deps.sh --tools

build: deps
	@echo "== swift build -c release --product dfgaze ($(RUN_BUILD)/)"
	@$(SWIFT) build -c release --product dfgaze --scratch-path $(RUN_BUILD)

# Deterministic (SPEC.md section 1), so they are generated once and kept.
demo-weights: build
	@if [ -f "$(WEIGHTS)/manifest.json" ]; then \
	    echo "== demo weights present in $(WEIGHTS)/"; \
	else \
	    echo "== generating demo weights into $(WEIGHTS)/"; \
	    rm -rf "$(WEIGHTS).partial"; mkdir -p "$(dir $(WEIGHTS))"; \
	    $(DFGAZE) weights demo --output "$(WEIGHTS).partial"; \
	    test -f "$(WEIGHTS).partial/manifest.json" \
	        || { echo "make: '$(DFGAZE) weights demo' wrote no manifest.json" >&2; exit 1; }; \
	    mv "$(WEIGHTS).partial" "$(WEIGHTS)"; \
	fi

run: demo-weights
	@echo "== dfgaze serve on http://$(HOST):$(PORT) (Ctrl-C to stop)"
	@exec $(DFGAZE) serve --weights "$(WEIGHTS)" --host "$(HOST)" --port "$(PORT)"

# Lint first: it takes seconds, and the Swift test summary stays the last thing printed.
test: tools
	@Deploy/lint.sh
	@echo "== swift test -c release -Xswiftc -enable-testing"
	@$(SWIFT) test -c release -Xswiftc -enable-testing

lint: tools
	@Deploy/lint.sh

clean:
	rm -rf .build $(RUN_BUILD) .venv-tools "$(WEIGHTS)" "$(WEIGHTS).partial"
