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
# Seconds per fuzz target in `make test` (the long pass: Tests/Fuzz/run.sh 600).
FUZZ_SECONDS ?= 20
# Where `make run` keeps its build (git-ignored).
RUN_BUILD ?= .build-run
DFGAZE := $(RUN_BUILD)/release/dfgaze

.PHONY: help deps tools build run test lint clean

help:
	@echo "make run    build release and serve the demo weights on HOST=$(HOST) PORT=$(PORT)"
	@echo "make test   lint Deploy/ and run the Swift test suite (release, -enable-testing)"
	@echo "make lint   only the deploy checks (hadolint, kubernetes-validate, haproxy -c, ...)"
	@echo "make clean  remove build folders and .venv-tools/"

deps:
	@scripts/install-deps.sh

tools:
	@scripts/install-deps.sh --tools

build: deps
	@echo "== swift build -c release --product dfgaze ($(RUN_BUILD)/)"
	@$(SWIFT) build -c release --product dfgaze --scratch-path $(RUN_BUILD)

# With no --weights the service uses the demo weights, generated into ~/.cache/dfgaze on first start.
run: build
	@echo "== dfgaze serve on http://$(HOST):$(PORT) (Ctrl-C to stop)"
	@exec $(DFGAZE) serve --host "$(HOST)" --port "$(PORT)"

# Lint first (seconds), then build once; fuzzing and the reliability subset run against that build;
# the Swift test summary stays the last thing printed.
test: tools
	@Deploy/lint.sh
	@echo "== swift build -c release -Xswiftc -enable-testing --build-tests"
	@$(SWIFT) build -c release -Xswiftc -enable-testing --build-tests
	@echo "== fuzzing: a short pass per target (Tests/Fuzz/run.sh)"
	@Tests/Fuzz/run.sh $(FUZZ_SECONDS)
	@echo "== reliability: fast subset (Tests/Load/run-fast.sh)"
	@DFGAZE_BIN=.build/release/dfgaze Tests/Load/run-fast.sh
	@echo "== API contract: openapi-spec-validator + schemathesis (Tests/API/schemathesis.sh)"
	@DFGAZE_BIN=.build/release/dfgaze Tests/API/schemathesis.sh
	@echo "== review page in a real browser: chromium + selenium + axe-core (Tests/Browser/run.sh)"
	@DFGAZE_BIN=.build/release/dfgaze Tests/Browser/run.sh
	@echo "== PostgreSQL for the Jobs tests: a throwaway cluster on loopback (Tests/Jobs/postgres.sh)"
	@Tests/Jobs/postgres.sh start > .build/jobs-postgres.env
	@echo "== jobs end to end: SQLite kill -9 and restart, two services on PostgreSQL, webhooks, hostile (Tests/Jobs/jobs_e2e.py)"
	@source .build/jobs-postgres.env; DFGAZE_BIN=.build/release/dfgaze python3 Tests/Jobs/jobs_e2e.py \
		|| { Tests/Jobs/postgres.sh stop "$$DFGAZE_TEST_POSTGRES_DIR"; rm -f .build/jobs-postgres.env; exit 1; }
	@echo "== swift test -c release -Xswiftc -enable-testing"
	@source .build/jobs-postgres.env; rm -f .build/jobs-postgres.env; status=0; \
		SWIFT=$(SWIFT) scripts/swift-test.sh || status=$$?; Tests/Jobs/postgres.sh stop; exit $$status

lint: tools
	@Deploy/lint.sh

clean:
	rm -rf .build $(RUN_BUILD) .venv-tools
