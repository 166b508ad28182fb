"""Power cuts (vm.crash(): QEMU killed, the pmem file keeps every store that
reached it).  The durability contract: a write acknowledged before a
completed FLUSH, or written with FUA, survives; any other write may be lost
but never corrupts anything; the cache always loads again."""

import shlex

import pytest

from conftest import finish_vm, make_vm
from pcache_target import (MIB, create, flush_device, make_pattern, pcache_check, read_range,
                           remove, set_kset_delay, status, write_pattern)

PMEM = "/dev/pmem0"
BACKING = "/dev/vda"

# Compares a device image with the patterns, 4 KiB block by block: each
# block must hold one of the values its range allows.  Ranges are
# "start:end:choice|choice", a choice being "zero" or "FILE@BASE", a
# pattern file whose byte 0 was written at device offset BASE.
CHECK_BLOCKS = r'''
import sys
got = open(sys.argv[1], "rb").read()
bad = 0
for spec in sys.argv[2:]:
    start, end, choices = spec.split(":")
    start, end = int(start), int(end)
    options = []
    for name in choices.split("|"):
        if name == "zero":
            options.append((bytes(1 << 20), 0, True))
        else:
            path, base = name.split("@")
            options.append((open(path, "rb").read(), int(base), False))
    for off in range(start, end, 4096):
        block = got[off:off + 4096]
        ok = any(block == (data[:4096] if zero else data[off - base:off - base + 4096])
                 for data, base, zero in options)
        if not ok:
            bad += 1
            if bad <= 5:
                print(f"block at {off} matches none of {choices}")
print(f"{bad} bad blocks")
sys.exit(1 if bad else 0)
'''


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    machine = make_vm(tmp_path_factory, "crash")
    machine.boot()
    yield machine
    finish_vm(machine)


def power_cut_and_reload(vm):
    vm.crash()
    vm.boot()
    vm.load_module()
    return create(vm, f"{PMEM} {BACKING}")


def fsync(vm, dev):
    """A FLUSH: fsync() of the block device."""
    flush_device(vm, dev)


def check_blocks(vm, image, *ranges):
    vm.run(f"cat > /tmp/check_blocks.py <<'EOF'\n{CHECK_BLOCKS}\nEOF")
    r = vm.run(f"python3 -S /tmp/check_blocks.py {image} " +
               " ".join(shlex.quote(spec) for spec in ranges),
               check=False, timeout=300)
    assert r.rc == 0, r.stdout


def test_flushed_and_fua_writes_survive_a_power_cut(vm):
    vm.load_module()
    vm.run(f"dd if=/dev/zero of={PMEM} bs=4096 count=5 oflag=direct status=none")
    vm.run(f"dd if=/dev/zero of={BACKING} bs=1M count=48 oflag=direct status=none")
    dev = create(vm, f"{PMEM} {BACKING}")
    # No timer: only FLUSH, FUA and full ksets may make keys durable.
    set_kset_delay(vm, 3600 * 1000)
    write_pattern(vm, dev, 0, 16 * MIB, seed=31)                        # A
    fsync(vm, dev)
    write_pattern(vm, dev, 32 * MIB, 4 * MIB, seed=33, oflag="direct,dsync")  # C: FUA
    write_pattern(vm, dev, 8 * MIB, 16 * MIB, seed=32)                  # B: no flush
    dev = power_cut_and_reload(vm)
    for seed, length in [(31, 16), (32, 16), (33, 4)]:
        make_pattern(vm, seed, length * MIB)
    read_range(vm, dev, 0, 48 * MIB, "/tmp/got")
    a, b = "/tmp/pat31@0", f"/tmp/pat32@{8 * MIB}"
    check_blocks(vm, "/tmp/got",
                 f"0:{8 * MIB}:{a}",
                 f"{8 * MIB}:{16 * MIB}:{a}|{b}",
                 f"{16 * MIB}:{24 * MIB}:zero|{b}",
                 f"{24 * MIB}:{32 * MIB}:zero",
                 f"{32 * MIB}:{36 * MIB}:/tmp/pat33@{32 * MIB}",
                 f"{36 * MIB}:{48 * MIB}:zero")
    # The reloaded cache takes writes and keeps them across a clean reload.
    write_pattern(vm, dev, 24 * MIB, 1 * MIB, seed=35)
    remove(vm)
    pcache_check(vm, PMEM)
    dev = create(vm, f"{PMEM} {BACKING}")
    read_range(vm, dev, 0, 48 * MIB, "/tmp/got2")
    make_pattern(vm, 35, 1 * MIB)
    check_blocks(vm, "/tmp/got2", f"{24 * MIB}:{25 * MIB}:/tmp/pat35@{24 * MIB}")
    vm.run("cmp -n $((24 << 20)) /tmp/got /tmp/got2")
    remove(vm)


def test_power_cut_during_random_writes(vm):
    vm.load_module()
    dev = create(vm, f"{PMEM} {BACKING}")
    write_pattern(vm, dev, 0, 8 * MIB, seed=41)
    fsync(vm, dev)
    vm.run(f"cd /tmp && nohup fio --name=load --filename={dev} --rw=randwrite "
           "--bsrange=512-128k --offset=16M --size=32M --io_size=64M --ioengine=libaio "
           "--direct=1 --iodepth=8 --randseed=9 > /tmp/fio.log 2>&1 &")
    vm.run("sleep 2")
    dev = power_cut_and_reload(vm)
    make_pattern(vm, 41, 8 * MIB)
    read_range(vm, dev, 0, 8 * MIB, "/tmp/got")
    check_blocks(vm, "/tmp/got", f"0:{8 * MIB}:/tmp/pat41@0")
    assert int(status(vm)[3]) >= 2
    remove(vm)
    pcache_check(vm, PMEM)


def test_full_cache_reclaims_space_and_loses_nothing(vm):
    # Twice the cache's size through it: once the data segments are used
    # up, writes wait until writeback and GC free segments, then go on.
    # Nothing fails, nothing is lost, and removal completes.
    vm.load_module()
    vm.run(f"dd if=/dev/zero of={PMEM} bs=4096 count=5 oflag=direct status=none")
    dev = create(vm, f"{PMEM} {BACKING}")
    total = int(status(vm)[2]) * 16 * MIB
    write_pattern(vm, dev, 0, 8 * MIB, seed=61)
    fsync(vm, dev)
    region = 768 * MIB
    passes = 2 * total // region + 1
    vm.run(f"for p in $(seq {passes}); do dd if=/dev/zero of={dev} bs=1M seek=8 "
           f"count={region // MIB - 8} oflag=direct status=none || exit 1; done",
           timeout=1200)
    st = status(vm)
    assert st[8] != "0:0" and int(st[3]) < int(st[2]), st    # GC moved key_tail
    make_pattern(vm, 61, 8 * MIB)
    read_range(vm, dev, 0, 8 * MIB, "/tmp/got")
    vm.run("cmp /tmp/got /tmp/pat61")
    remove(vm)
    pcache_check(vm, PMEM)
    # Again, with a power cut while the cache is full and writes wait.
    dev = create(vm, f"{PMEM} {BACKING}")
    vm.run(f"nohup dd if=/dev/zero of={dev} bs=1M seek=8 count={region // MIB - 8} "
           "oflag=direct > /tmp/fill.log 2>&1 &")
    vm.run("sleep 3")
    dev = power_cut_and_reload(vm)
    read_range(vm, dev, 0, 8 * MIB, "/tmp/got")
    make_pattern(vm, 61, 8 * MIB)
    vm.run("cmp /tmp/got /tmp/pat61")
    remove(vm)
    pcache_check(vm, PMEM)
