"""The pcache target's data path on one VM: format, table and status lines,
writes, read hits, misses and fills, partial hits, the reference model, fio
verify, data_crc, gc_percent, and reload (replay) after each."""

import struct

import pytest

from pcache_target import (CACHE_INFO_OFF, CACHE_INFO_STRIDE, MIB, REFMODEL,
                           STATUS_FIELDS, create, ctr_error, file_sha, flush_device,
                           fresh_cache_cmd, make_pattern, message, pcache_check,
                           pcache_crc, read_range, read_sha, remove, set_kset_delay,
                           set_param, status, status_of, wait_clean, wipe_cache_cmd,
                           write_pattern)

PMEM = "/dev/pmem0"
BACKING = "/dev/vda"


@pytest.fixture
def cache(vm):
    """A freshly formatted cache (data_crc false) as /dev/mapper/pc over a
    zeroed start of the backing device.  Teardown removes the device and
    checks the cache with pcache_check.  One guest command each way."""
    vm.run(f"{vm.load_module_cmd()} && {fresh_cache_cmd(PMEM, BACKING)}")
    yield "/dev/mapper/pc"
    pcache_check(vm, PMEM, after=["dmsetup remove pc"])


def test_fresh_cache_status_and_table(vm, cache):
    # sb_flags 0, 63 segments, 1 in use (the first key segment), gc 70,
    # flags INIT_DONE | gc 70 << 6, empty log at 0:0; no I/O yet, nothing
    # dirty, no writeback errors, writeback mode, metadata rw, no needs_check.
    assert status(vm) == ["0", "63", "63", "1", "70", "1182", "0:0", "0:0", "0:0",
                          "0", "0", "0", "0", "0", "0", "writeback", "rw", "-"]
    table = vm.run("dmsetup table pc").stdout.split()
    pmem_dev = vm.run(f"stat -L -c '%t:%T' {PMEM}").stdout.strip().split(":")
    vda_dev = vm.run(f"stat -L -c '%t:%T' {BACKING}").stdout.strip().split(":")
    assert table[3:] == [f"{int(pmem_dev[0], 16)}:{int(pmem_dev[1], 16)}",
                         f"{int(vda_dev[0], 16)}:{int(vda_dev[1], 16)}",
                         "4", "cache_mode", "writeback", "data_crc", "false"]


def test_table_line_feeds_back_to_the_constructor(vm, cache):
    line = vm.run("dmsetup table pc").stdout.strip()
    write_pattern(vm, cache, 0, 1 * MIB, seed=11)
    remove(vm)
    vm.run(f"dmsetup create pc --table '{line}'")
    vm.run("dmsetup mknodes")
    assert read_sha(vm, cache, 0, 1 * MIB) == file_sha(vm, "/tmp/pat11")


def test_write_remove_create_keeps_data(vm, cache):
    set_param(vm, "writeback_hold", 1)
    try:
        write_pattern(vm, cache, 3 * MIB + 512, 9 * MIB, seed=1)
        expect = file_sha(vm, "/tmp/pat1")
        assert read_sha(vm, cache, 3 * MIB + 512, 9 * MIB) == expect
        # Writeback held: the backing device got nothing, the data lives
        # in the cache only.
        assert read_sha(vm, BACKING, 3 * MIB + 512, 9 * MIB) != expect
        remove(vm)
        create(vm, f"{PMEM} {BACKING}")
        assert read_sha(vm, cache, 3 * MIB + 512, 9 * MIB) == expect
        # Removal closed every kset; replay found them.
        assert status(vm)[6] != "0:0"
    finally:
        set_param(vm, "writeback_hold", 0)


def test_writeback_puts_the_data_on_the_backing_device(vm, cache):
    write_pattern(vm, cache, 5 * MIB - 4096, 6 * MIB, seed=6)
    write_pattern(vm, cache, 6 * MIB, 4096, seed=7)          # overwrites a block
    st = wait_clean(vm)
    assert st["dirty_tail"] == st["key_head"] != "0:0"
    assert st["key_tail"] == "0:0"                          # gc 70: nothing collected
    vm.run("python3 -S -c \"a = bytearray(open('/tmp/pat6', 'rb').read()); "
           f"a[{MIB + 4096}:{MIB + 8192}] = open('/tmp/pat7', 'rb').read(); "
           "open('/tmp/expect', 'wb').write(a)\"")
    expect = file_sha(vm, "/tmp/expect")
    assert read_sha(vm, BACKING, 5 * MIB - 4096, 6 * MIB) == expect
    assert read_sha(vm, cache, 5 * MIB - 4096, 6 * MIB) == expect
    # The dirty_tail reached media: a reload starts clean.
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    assert status_of(vm)["dirty_tail"] == st["key_head"]


def write_while_reading(vm, cache, seed, then):
    """Write 8 MiB at the start of the cache while fio reads another range
    without a pause, from before the writes until after the shell snippet
    @then (run after the writes) has put a status line in /tmp/busy; fails
    if the reader had stopped by then.  Returns that status and the
    pattern file written."""
    pattern = make_pattern(vm, seed, 8 * MIB)
    vm.run(f"fio --name=r --filename={cache} --rw=randread --bs=4k --direct=1 "
           f"--offset={16 * MIB} --size={16 * MIB} --time_based --runtime=16 "
           f"--output=/dev/null & fio=$!; sleep 3; "
           f"dd if={pattern} of={cache} bs=1M oflag=direct conv=fsync status=none; "
           f"{then}; kill -0 $fio; wait", timeout=120)
    busy = dict(zip(STATUS_FIELDS, vm.run("cat /tmp/busy").stdout.split()[3:]))
    assert int(busy["read_misses"]) + int(busy["read_hits"]) > 0
    return busy, pattern


def test_writeback_waits_for_a_quiet_moment(vm, cache):
    # 8 MiB dirty in a 1 GiB cache, far from the 50 % mark: writeback
    # leaves the cache alone while I/O keeps coming.  The quiet period is
    # 3 s here, not the default 500 ms: a guest starved of CPU by a busy
    # host can stall its reader for half a second, and that is a quiet
    # moment as far as the target can tell.
    message(vm, "writeback_quiet 3000")
    busy, pattern = write_while_reading(vm, cache, 12,
                                        "sleep 3; dmsetup status pc > /tmp/busy")
    assert int(busy["dirty_bytes"]) == 8 * MIB
    assert busy["dirty_tail"] != busy["key_head"]
    # Once the I/O stops, writeback starts by itself (no flush message or
    # other nudge): clean within two quiet periods and the pass.
    vm.run("for i in $(seq 200); do set -- $(dmsetup status pc); "
           "[ \"${10}\" = \"${11}\" ] && exit 0; sleep 0.1; done; "
           "dmsetup status pc; exit 1", timeout=90)
    assert read_sha(vm, BACKING, 0, 8 * MIB) == file_sha(vm, pattern)


def test_writeback_quiet_0_writes_back_under_load(vm, cache):
    # writeback_quiet 0: no waiting for a quiet moment, so the same busy
    # reader does not keep the data dirty: clean while the reader is
    # still running.
    message(vm, "writeback_quiet 0")
    busy, pattern = write_while_reading(
        vm, cache, 13, "for i in $(seq 60); do set -- $(dmsetup status pc); "
        "[ \"${10}\" = \"${11}\" ] && break; sleep 0.1; done; "
        "dmsetup status pc > /tmp/busy")
    assert busy["dirty_bytes"] == "0"
    assert busy["dirty_tail"] == busy["key_head"]
    assert read_sha(vm, BACKING, 0, 8 * MIB) == file_sha(vm, pattern)


def test_gc_frees_what_writeback_wrote(vm, cache):
    write_pattern(vm, cache, 0, 40 * MIB, seed=8, oflag="direct,dsync")
    before = wait_clean(vm)
    assert int(before["segs_used"]) >= 4               # key segment + data
    # gc_percent 0 collects everything behind dirty_tail: key_tail catches
    # up, the data segments go back to the allocator (their generation
    # bumped) and reads of the range now miss to the backing device.
    # Left in use: the key segment, and the segment each CPU's data head
    # is still filling.
    vm.run("dmsetup message pc 0 gc_percent 0")
    vm.run("for i in $(seq 300); do set -- $(dmsetup status pc); "
           "[ \"${12}\" = \"${11}\" ] && [ $7 -le 3 ] && exit 0; sleep 0.1; done; "
           "dmsetup status pc; exit 1", timeout=60)
    assert read_sha(vm, cache, 0, 40 * MIB) == file_sha(vm, "/tmp/pat8")
    remove(vm)
    pcache_check(vm, PMEM)
    create(vm, f"{PMEM} {BACKING}")
    assert read_sha(vm, cache, 0, 40 * MIB) == file_sha(vm, "/tmp/pat8")


def test_read_misses_fill_the_cache_and_later_reads_hit(vm, cache):
    remove(vm)
    write_pattern(vm, BACKING, 8 * MIB, 8 * MIB, seed=2)   # straight to the disk
    create(vm, f"{PMEM} {BACKING}")
    used = int(status(vm)[3])
    assert read_sha(vm, cache, 8 * MIB, 8 * MIB) == file_sha(vm, "/tmp/pat2")
    assert int(status(vm)[3]) > used          # a data segment took the fill
    # Change the disk behind the cache's back: hits still give the cached
    # (clean) copy, proving the reads are served from pmem.
    write_pattern(vm, BACKING, 8 * MIB, 8 * MIB, seed=3)
    assert read_sha(vm, cache, 8 * MIB, 8 * MIB) == file_sha(vm, "/tmp/pat2")
    # And the clean keys survive a reload.
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    assert read_sha(vm, cache, 8 * MIB, 8 * MIB) == file_sha(vm, "/tmp/pat2")


def test_partial_hits_split_at_extent_boundaries(vm, cache):
    # Backing: pattern 4; cache: small writes of pattern 5 scattered inside.
    remove(vm)
    write_pattern(vm, BACKING, 0, 4 * MIB, seed=4)
    create(vm, f"{PMEM} {BACKING}")
    make_pattern(vm, 5, 4 * MIB)
    pieces = [(4096, 4096), (12288, 512), (65536 + 512, 3584), (1 * MIB - 512, 1024),
              (3 * MIB, 5120)]
    script = ["import os", "a = bytearray(open('/tmp/pat4','rb').read())",
              "b = open('/tmp/pat5','rb').read()"]
    for off, length in pieces:
        vm.run(f"dd if=/tmp/pat5 of={cache} bs=512 skip={off // 512} seek={off // 512} "
               f"count={length // 512} oflag=direct conv=notrunc status=none")
        script.append(f"a[{off}:{off + length}] = b[{off}:{off + length}]")
    script.append("open('/tmp/expect','wb').write(a)")
    vm.run("python3 -S -c \"" + "; ".join(script) + "\"")
    # One 4 MiB read crosses hits and misses (dm resubmits the rest after
    # each cut); a second read is served with the fills in place.
    for _ in range(2):
        read_range(vm, cache, 0, 4 * MIB, "/tmp/got")
        vm.run("cmp /tmp/got /tmp/expect")


def run_refmodel(vm, table_args, seed, ops, region=32 * MIB):
    """With no cache table loaded: put a known pattern on the backing
    device, create the cache and run the reference model on it."""
    make_pattern(vm, 100 + seed, region)
    vm.run(f"dd if=/tmp/pat{100 + seed} of={BACKING} bs=1M oflag=direct status=none")
    dev = create(vm, table_args)
    return vm.run(f"python3 -S {REFMODEL} run {dev} /tmp/pat{100 + seed} {region} {seed} "
                  f"{ops} /tmp/model{seed}", timeout=600)


def test_reference_model(vm, cache):
    remove(vm)
    r = run_refmodel(vm, f"{PMEM} {BACKING}", seed=21, ops=500)
    assert r.stdout.startswith("ok:"), r.stdout
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    vm.run(f"python3 -S {REFMODEL} verify {cache} /tmp/model21", timeout=300)


@pytest.mark.parametrize("numjobs", [1, 2])
def test_fio_verify_randrw(vm, cache, numjobs):
    vm.run(f"cd /tmp && fio --name=verify --filename={cache} --rw=randrw "
           f"--bsrange=4k-64k --size=24M --offset_increment=32M --numjobs={numjobs} "
           "--ioengine=libaio --direct=1 --iodepth=4 --verify=crc32c "
           "--verify_fatal=1 --randseed=5 --group_reporting", timeout=600)
    # And the same data comes back after a reload.
    before = read_sha(vm, cache, 0, 64 * MIB)
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    assert read_sha(vm, cache, 0, 64 * MIB) == before


def cache_info_replicas(vm):
    """(valid, seq, flags) of both cache_info slots, read from the host."""
    out = []
    for slot in range(2):
        rec = vm.read_pmem(CACHE_INFO_OFF + slot * CACHE_INFO_STRIDE, 24)
        crc, seq = struct.unpack_from("<IB", rec)
        flags = struct.unpack_from("<I", rec, 16)[0]
        out.append((crc == pcache_crc(rec[4:]), seq, flags))
    return out


def test_gc_percent_message_is_persisted(vm, cache):
    before = cache_info_replicas(vm)
    assert before[0] == (True, 1, 0x1182) and not before[1][0]
    vm.run("dmsetup message pc 0 gc_percent 50")
    assert status(vm)[4:6] == ["50", f"{0x2 | 50 << 6:x}"]
    # The new copy went to the other slot with seq + 1; the old one stays.
    after = cache_info_replicas(vm)
    assert after[0] == before[0]
    assert after[1] == (True, 2, 0x2 | 50 << 6)
    vm.run("dmsetup message pc 0 GC_PERCENT 0")
    assert cache_info_replicas(vm)[0] == (True, 3, 0x2)
    for bad in ["91", "256", "abc", "5x", ""]:
        assert vm.run(f"dmsetup message pc 0 gc_percent {bad}", check=False).rc != 0
    assert vm.run("dmsetup message pc 0 gc_percent", check=False).rc != 0
    assert vm.run("dmsetup message pc 0 frobnicate", check=False).rc != 0
    assert status(vm)[4] == "0"
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    assert status(vm)[4:6] == ["0", "2"]


def test_data_crc_true_cache(vm):
    vm.load_module()
    vm.run(wipe_cache_cmd(PMEM))
    dev = create(vm, f"{PMEM} {BACKING} 2 data_crc true")
    try:
        assert status(vm)[5] == "1183"        # DATA_CRC | INIT_DONE | gc 70
        assert vm.run("dmsetup table pc").stdout.split()[-2:] == ["data_crc", "true"]
        remove(vm)
        r = run_refmodel(vm, f"{PMEM} {BACKING} 2 data_crc true", seed=22, ops=200,
                         region=16 * MIB)
        assert r.stdout.startswith("ok:"), r.stdout
        remove(vm)
        # Replay checks the CRC of every key's data.
        create(vm, f"{PMEM} {BACKING} 4 cache_mode writeback data_crc true")
        vm.run(f"python3 -S {REFMODEL} verify {dev} /tmp/model22", timeout=300)
        remove(vm)
        assert ctr_error(vm, f"{PMEM} {BACKING} 2 data_crc false") == \
            "data_crc option does not match the cache"
        assert ctr_error(vm, f"{PMEM} {BACKING}") == \
            "data_crc option does not match the cache"
    finally:
        vm.run("dmsetup remove pc 2>/dev/null || true")
    pcache_check(vm, PMEM)


def pwrite(vm, dev, offset, length, flags=""):
    """One O_DIRECT write of exactly length bytes (a single bio)."""
    vm.run(f"python3 -S -c \"import os, mmap; m = mmap.mmap(-1, {length}); "
           f"m[:] = os.urandom({length}); "
           f"fd = os.open('{dev}', os.O_WRONLY | os.O_DIRECT {flags}); "
           f"os.pwrite(fd, m, {offset})\"")


def test_ksets_close_on_timer_flush_and_fua(vm, cache):
    # A plain write's key waits in memory; the 1 s timer writes its kset:
    # a 24-byte header and one 40-byte key.
    pwrite(vm, cache, 0, 64 * 1024)
    vm.run("sleep 2")
    assert status(vm)[6] == "0:64"
    set_kset_delay(vm, 3600 * 1000)
    try:
        pwrite(vm, cache, 1 * MIB, 4096)
        vm.run("sleep 2")
        assert status(vm)[6] == "0:64"       # no timer: still in memory
        # A FLUSH (fsync of the device) writes the open kset.
        flush_device(vm, cache)
        assert status(vm)[6] == "0:128"
        # So does a FUA write, for the kset holding its key.
        pwrite(vm, cache, 2 * MIB, 4096, flags="| os.O_DSYNC")
        assert status(vm)[6] == "0:192"
        # And a kset that reaches 128 keys: 128 4 KiB writes in one 4 MiB
        # region, one more to open the next kset.
        vm.run(f"python3 -S -c \"import os, mmap; m = mmap.mmap(-1, 4096); "
               f"fd = os.open('{cache}', os.O_WRONLY | os.O_DIRECT); "
               f"[os.pwrite(fd, m, 8 * 2**20 + i * 4096) for i in range(129)]\"")
        assert status(vm)[6] == f"0:{192 + 24 + 128 * 40}"
    finally:
        set_kset_delay(vm, 1000)


def test_one_cache_device_cannot_serve_two_tables(vm, cache):
    assert ctr_error(vm, f"{PMEM} {BACKING}") == \
        "Cache device is already in use by another pcache table"


def test_key_log_chains_key_segments(vm, cache):
    # 430,000 keys of 512 bytes need more than one 16 MiB key segment
    # (3,260 full ksets fit in one): the log continues through a LAST kset
    # into another segment, and replay follows it.
    vm.run(f"cd /tmp && fio --name=small --filename={cache} --rw=randwrite --bs=512 "
           "--size=16M --io_size=210M --norandommap --randseed=8 --ioengine=psync "
           "--direct=1", timeout=600)
    flush_device(vm, cache)
    head = status(vm)[6]
    assert head.split(":")[0] != "0", head
    before = read_sha(vm, cache, 0, 16 * MIB)
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    assert status(vm)[6] == head
    assert read_sha(vm, cache, 0, 16 * MIB) == before
