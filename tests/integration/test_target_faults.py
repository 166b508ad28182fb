"""Backing-device faults and the order of writeback.

dm-flakey under the backing device (table swaps between a linear mapping
and flakey windows): read errors of cache misses reach the caller as EIO,
dirty data is never dropped, writeback errors are counted and leave
dirty_tail alone, and writeback resumes when the device recovers.

dm-log-writes under the backing device records every write and FLUSH
writeback sends; replaying the log (tests/crash/logwrites.py, our own
replayer) to every FLUSH must give a prefix of the workload at kset
granularity."""

import json
import random
import re

import pytest

from conftest import finish_vm, make_vm
from harness.vm import MIB, REPO
from pcache_target import (STATUS_FIELDS, create, file_sha, flush_device,
                           pcache_check, read_sha, remove, status_of,
                           wait_clean, write_pattern)

PMEM = "/dev/pmem0"
BK = "/dev/mapper/bk"
BK_SECTORS = 256 * MIB // 512
LOGWRITES = REPO / "tests" / "crash" / "logwrites.py"
WORKLOADS = REPO / "tests" / "crash"


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    machine = make_vm(tmp_path_factory, "faults")
    machine.boot()
    machine.load_module()
    machine.run("modprobe -a dm-flakey dm-log-writes")
    yield machine
    finish_vm(machine)


def backing(vm, table):
    """(Re)load the backing device bk: linear, or a flakey window."""
    tables = {"linear": "linear /dev/vda 0",
              "down": "flakey /dev/vda 0 0 3600",
              "error_writes": "flakey /dev/vda 0 0 3600 1 error_writes",
              "drop_writes": "flakey /dev/vda 0 0 3600 1 drop_writes"}
    line = f"0 {BK_SECTORS} {tables[table]}"
    if vm.run("dmsetup info bk", check=False).rc:
        vm.run(f"dmsetup create bk --table '{line}' && dmsetup mknodes bk")
    else:
        vm.run(f"dmsetup suspend bk && dmsetup load bk --table '{line}' && "
               "dmsetup resume bk")


@pytest.fixture
def cache(vm):
    vm.run(f"dd if=/dev/zero of={PMEM} bs=4096 count=5 oflag=direct status=none")
    vm.run("dd if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct status=none")
    backing(vm, "linear")
    dev = create(vm, f"{PMEM} {BK}", backing=BK)
    yield dev
    vm.run("dmsetup remove pc 2>/dev/null || true")
    backing(vm, "linear")
    pcache_check(vm, PMEM)


def wait_errors(vm, at_least):
    """Wait until the status counts at least that many writeback errors."""
    # dmsetup status prints start, length and target name first.
    field = 4 + STATUS_FIELDS.index("writeback_errors")
    vm.run(f"for i in $(seq 300); do set -- $(dmsetup status pc); "
           f"[ ${{{field}}} -ge {at_least} ] && exit 0; sleep 0.1; done; "
           "dmsetup status pc; exit 1", timeout=60)


def test_read_errors_reach_the_caller_and_dirty_data_waits(vm, cache):
    write_pattern(vm, cache, 0, 8 * MIB, seed=81)           # cached, written back
    wait_clean(vm)
    write_pattern(vm, "/dev/vda", 16 * MIB, 4 * MIB, seed=82)  # on disk only
    backing(vm, "down")                                       # every I/O fails
    # A miss: EIO to the caller, nothing cached.
    r = vm.run(f"dd if={cache} of=/dev/null bs=1M skip=16 count=4 iflag=direct",
               check=False)
    assert r.rc != 0 and "Input/output error" in r.stderr, r.stderr
    # A hit is still served.
    assert read_sha(vm, cache, 0, 8 * MIB) == file_sha(vm, "/tmp/pat81")
    # Writes are accepted; their writeback fails, is counted and retried,
    # and dirty_tail stays.
    write_pattern(vm, cache, 32 * MIB, 4 * MIB, seed=83)
    flush_device(vm, cache)
    wait_errors(vm, 2)
    st = status_of(vm)
    assert st["dirty_tail"] != st["key_head"]
    assert int(st["writeback_errors"]) >= 2
    # The device recovers: writeback resumes and catches up.
    backing(vm, "linear")
    st = wait_clean(vm)
    assert vm.run("dmesg | grep -c 'writeback resumed'").stdout.strip() != "0"
    assert read_sha(vm, BK, 32 * MIB, 4 * MIB) == file_sha(vm, "/tmp/pat83")
    assert read_sha(vm, cache, 16 * MIB, 4 * MIB) == file_sha(vm, "/tmp/pat82")
    remove(vm)


def test_error_writes_window_during_writeback_and_misses(vm, cache):
    write_pattern(vm, "/dev/vda", 40 * MIB, 4 * MIB, seed=84)
    backing(vm, "error_writes")
    # Reads still work: misses are served and cached.
    assert read_sha(vm, cache, 40 * MIB, 4 * MIB) == file_sha(vm, "/tmp/pat84")
    write_pattern(vm, cache, 48 * MIB, 8 * MIB, seed=85, oflag="direct,dsync")
    wait_errors(vm, 1)
    errors = int(status_of(vm)["writeback_errors"])
    # dirty data is never dropped: GC may not pass it, reads see it.
    vm.run("dmsetup message pc 0 gc_percent 0")
    assert read_sha(vm, cache, 48 * MIB, 8 * MIB) == file_sha(vm, "/tmp/pat85")
    backing(vm, "linear")
    wait_clean(vm)
    assert int(status_of(vm)["writeback_errors"]) >= errors
    assert read_sha(vm, BK, 48 * MIB, 8 * MIB) == file_sha(vm, "/tmp/pat85")
    assert read_sha(vm, cache, 48 * MIB, 8 * MIB) == file_sha(vm, "/tmp/pat85")
    remove(vm)


def test_drop_writes_window(vm, cache):
    # A device that drops writes while acknowledging them cannot be told
    # from a working one; pcache keeps serving its own copy, counts no
    # error, and writes back normally once the window closes.
    backing(vm, "drop_writes")
    write_pattern(vm, cache, 64 * MIB, 4 * MIB, seed=86)
    before = wait_clean(vm)
    assert before["writeback_errors"] == "0"
    assert read_sha(vm, cache, 64 * MIB, 4 * MIB) == file_sha(vm, "/tmp/pat86")
    backing(vm, "linear")
    write_pattern(vm, cache, 72 * MIB, 4 * MIB, seed=87)
    wait_clean(vm)
    assert read_sha(vm, BK, 72 * MIB, 4 * MIB) == file_sha(vm, "/tmp/pat87")
    assert read_sha(vm, cache, 64 * MIB, 4 * MIB) == file_sha(vm, "/tmp/pat86")
    remove(vm)


def logwrites_workload(seed, span_regions=4, n_ops=160):
    """Writes of 4..64 KiB inside one 4 MiB region each, some FUA, a FLUSH
    every 10..20 operations."""
    rnd = random.Random(seed)
    ops, since_flush = [], 0
    for _ in range(n_ops):
        since_flush += 1
        if since_flush >= rnd.randrange(10, 21):
            ops.append(["F"])
            since_flush = 0
            continue
        length = rnd.randrange(1, 17) * 4096
        region = rnd.randrange(span_regions)
        off = region * 4 * MIB + rnd.randrange((4 * MIB - length) // 4096 + 1) * 4096
        ops.append(["U" if rnd.random() < 0.1 else "W", off, length])
    ops.append(["F"])
    return ops


@pytest.mark.parametrize("delay_ms", [1000, 3600 * 1000], ids=["kset-timer", "no-timer"])
def test_backing_device_holds_a_prefix_at_every_flush(vm, delay_ms):
    span = [0, 16 * MIB]
    ops = logwrites_workload(seed=delay_ms)
    spec = vm.share / "logwrites.json"
    spec.write_text(json.dumps({"span": span, "ops": ops}))
    vm.run("dd if=/dev/zero of=/dev/vda bs=1M count=16 oflag=direct status=none; "
           "dd if=/dev/zero of=/dev/vda bs=1M seek=256 count=1 oflag=direct status=none")
    vm.run(f"dmsetup create lwdata --table '0 {BK_SECTORS} linear /dev/vda 0' && "
           f"dmsetup create lwlog --table '0 {BK_SECTORS} linear /dev/vda {BK_SECTORS}' && "
           "dmsetup mknodes && "
           f"dmsetup create lw --table '0 {BK_SECTORS} log-writes /dev/mapper/lwdata "
           "/dev/mapper/lwlog' && dmsetup mknodes")
    vm.run(f"dd if=/dev/zero of={PMEM} bs=4096 count=5 oflag=direct status=none")
    vm.run(f"echo {delay_ms} > /sys/module/pcache/parameters/kset_close_delay_ms")
    try:
        create(vm, f"{PMEM} /dev/mapper/lw", backing="/dev/mapper/lw")
        # A pause of 2 s after every third FLUSH: writeback starts when the
        # cache is quiet (or full), so without pauses it would write
        # everything back in one pass at the end, and check one FLUSH.
        vm.run(f"python3 -S -c \"import sys, time; sys.path.insert(0, '{WORKLOADS}'); "
               f"import crash_driver as d, json; d.DEV = '/dev/mapper/pc'; "
               f"ops = [tuple(o) for o in json.load(open('{spec}'))['ops']]; "
               "cuts = [i + 1 for i, o in enumerate(ops) if o[0] == 'F'][::3]; "
               "starts = [0] + cuts; "
               "[(d.run_ops(ops[a:b], a), time.sleep(2)) "
               "for a, b in zip(starts, cuts + [len(ops)]) if a < b]\"", timeout=600)
        wait_clean(vm)
        remove(vm)
        vm.run("dmsetup remove lw")
        r = vm.run(f"python3 -S {LOGWRITES} /dev/mapper/lwlog {spec}", check=False, timeout=600)
        assert r.rc == 0, r.stdout[-3000:] + r.stderr
        m = re.search(r"^(\d+) FLUSHes checked", r.stdout, re.M)
        assert m and int(m.group(1)) >= 2, r.stdout
    finally:
        vm.run("echo 1000 > /sys/module/pcache/parameters/kset_close_delay_ms; "
               "dmsetup remove pc 2>/dev/null; dmsetup remove lw 2>/dev/null; "
               "dmsetup remove lwlog; dmsetup remove lwdata", check=False)
    pcache_check(vm, PMEM)
