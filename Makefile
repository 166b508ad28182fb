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
	demo vm-shell install clean bench bench-tools crash-test soak

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
	@$(PYTHON) tests/harness/vmlinux.py $(KVER) $(BUILD)/vm/vmlinux-$(KVER)

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit unit-sanitize integration

unit: tools
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The unit tests again, under AddressSanitizer and UndefinedBehaviorSanitizer.
# A unity build (CMake batches several .cc files into one translation unit):
# 40 % less compile time on the two cores make check has.  The plain build
# above stays one file per unit, so a file that misses an #include still
# fails there.
unit-sanitize:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPCACHE_SANITIZE=ON \
		-DCMAKE_UNITY_BUILD=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target pcache_unit_tests lvpcache_unit_tests
	@ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# Two workers (pytest-xdist), each taking whole test files so that a
# module's shared VM stays in one worker: TCG guests keep one host core
# busy at a time, and many tests wait on their guest, so two VMs side by
# side nearly halve make check on the two-core machines it must fit.
PYTEST_WORKERS ?= 2
integration: all
	@$(PYTHON) -m pytest tests/integration -ra -n $(PYTEST_WORKERS) --dist loadfile \
		--durations=15 $(PYTEST_ARGS)

demo: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) scripts/demo.py

# Benchmarks are not tests: they write reports (bench/README.md).
bench: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) bench/blockbench.py

# Fuzz the metadata decoders, the log walker and the XML reader with
# libFuzzer (clang, ASan, UBSan), FUZZ_SECONDS per target; report in
# build-fuzz/results/latest/ (tests/fuzz/run.py).  make check replays the
# regression corpus (tests/fuzz/corpus/) in the unit tests.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: deps
	@$(PYTHON) tests/fuzz/run.py --seconds $(FUZZ_SECONDS)

# pcache_check/pcache_dump vs cache_check/cache_dump at 4 Mi entries
# (bench/results/tools/); a few minutes and ~18 GB of sparse scratch files.
bench-tools: deps tools
	@$(PYTHON) bench/tools_bench.py

# The crash-consistency suite in full (make check runs a subset): every
# persistence point of 143 small workloads x data_crc off/on and of a
# writeback + GC cycle, 50 random crashes during fio verify, 3 real power
# cuts (docs/target.md).  Report: build/crash-report/full.md.
crash-test: deps
	@$(MAKE) --no-print-directory all
	@PCACHE_CRASH=full $(PYTHON) -m pytest tests/integration/test_crash_points.py -ra $(PYTEST_ARGS)

# Sustained load: 10x a 1 GiB cache, random 4 KiB and sequential 1 MiB, over
# a dm-delay origin (make check: random 16 KiB, 1.25x a 576 MiB cache).  Report:
# build/soak-report/report.md.
soak: deps
	@$(MAKE) --no-print-directory all
	@PCACHE_SOAK=full $(PYTHON) -m pytest tests/integration/test_target_sustained.py -ra $(PYTEST_ARGS)

vm-shell: all
	@$(PYTHON) scripts/vm-shell.py

install: tools
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
	@$(MAKE) --no-print-directory -C kernel clean KVER=$(KVER) >/dev/null 2>&1 || true
