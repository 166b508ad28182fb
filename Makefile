# pcache top-level Makefile.  The two commands a newcomer needs:
#   make demo    build, boot a VM with emulated pmem, show a cache at work
#   make check   install dependencies, build, run every unit and VM test
# See docs/development.md for the rest.

# Debian's python3 (with python3-pytest), whatever else is first in PATH.
PYTHON      ?= /usr/bin/python3
BUILD       := build
ASAN_BUILD  := build-asan
PREFIX      ?= /usr
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
# Evaluated when used, so that it sees a kernel that 'make deps' just installed.
KVER         = $(shell scripts/kernel-version)
INITRAMFS   := $(BUILD)/vm/initramfs.cpio.gz
PYTEST_ARGS ?=
JOBS        ?= $(shell nproc)

.PHONY: all deps tools module vm-image check unit unit-sanitize integration \
	demo vm-shell install clean bench bench-tools

all: tools module vm-image

deps:
	@scripts/install-deps

tools:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

module:
	@$(MAKE) --no-print-directory -C kernel KVER=$(KVER)

vm-image:
	@$(PYTHON) tests/harness/initramfs.py $(KVER) $(INITRAMFS)

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit unit-sanitize integration

unit: tools
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The unit tests again, under AddressSanitizer and UndefinedBehaviorSanitizer.
unit-sanitize:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPCACHE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target pcache_unit_tests lvpcache_unit_tests
	@ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

integration: all
	@$(PYTHON) -m pytest tests/integration -ra $(PYTEST_ARGS)

demo: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) scripts/demo.py

# Benchmarks are not tests: they write reports (bench/README.md).
bench: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) bench/blockbench.py

# pcache_check/pcache_dump vs cache_check/cache_dump at 4 Mi entries
# (bench/results/tools/); a few minutes and ~18 GB of sparse scratch files.
bench-tools: deps tools
	@$(PYTHON) bench/tools_bench.py

vm-shell: all
	@$(PYTHON) scripts/vm-shell.py

install: tools
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
	@$(MAKE) --no-print-directory -C kernel clean KVER=$(KVER) >/dev/null 2>&1 || true
