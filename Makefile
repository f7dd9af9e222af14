# Two commands do all the set-up on a fresh Debian machine with Swift:
#   make run    builds whipround and serves a local node (default data dir) with its pages on 127.0.0.1:8480
#   make test   builds with warnings as errors and runs every test
SWIFT ?= swift
NAME ?= My Whipround node
# Where `make run` serves the pledge desk's pages: this machine only (`make run WEB=0.0.0.0:8480` for the hall's network).
WEB ?= 127.0.0.1:8480

.PHONY: deps test-deps build release run login test bench format lint clean

deps:
	@scripts/deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product whipround

run: release
	@.build/release/whipround id >/dev/null 2>&1 || .build/release/whipround init --name "$(NAME)"
	.build/release/whipround status
	@# In the foreground until Ctrl-C; it prints the address to open once the pages are served.
	.build/release/whipround serve --web $(WEB)

# While `make run` serves the node: a one-time link into the organiser console (README "Running a campaign").
login:
	@.build/release/whipround web login

test: deps test-deps
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests
	scripts/check-vectors.sh
	$(SWIFT) build --build-tests
	@# Three runs, one after another: the CPU-bound pure and store suites (1,000-case property tests) would
	@# otherwise hold both cooperative threads of a 2-core machine for minutes while the networked suites'
	@# handshake and bind timeouts run out. Each run prints its own summary; any failure fails the target.
	$(SWIFT) test --skip-build --parallel --skip 'WhipDaemonTests|WhipCLITests'
	$(SWIFT) test --skip-build --parallel --filter WhipDaemonTests
	$(SWIFT) test --skip-build --parallel --filter WhipCLITests
	@# The pledge desk in Debian's chromium (Playwright, axe) and /api/v1 under schemathesis, on real nodes.
	scripts/browser-tests.sh

test-deps:
	@scripts/test-deps.sh

bench: release
	.build/release/whipround bench

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests

clean:
	rm -rf .build
