# Two commands do all the set-up on a fresh Debian machine with Swift:
#   make run    builds whipround and runs a local node in the default data dir
#   make test   builds with warnings as errors and runs every test
SWIFT ?= swift
NAME ?= My Whipround node

.PHONY: deps build release run test bench format lint clean

deps:
	@scripts/deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product whipround

run: release
	@.build/release/whipround id >/dev/null 2>&1 || .build/release/whipround init --name "$(NAME)"
	.build/release/whipround status

test: deps
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests
	scripts/check-vectors.sh
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel

bench: release
	.build/release/whipround bench

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests

clean:
	rm -rf .build
