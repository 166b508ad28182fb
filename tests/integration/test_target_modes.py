"""Cache modes, messages, statistics, live reload and discard of the pcache
target (issue 6), on one VM.

Every test starts from a freshly formatted cache over a zeroed start of
the backing device (the `cache` fixture), and the fixture checks the cache
with pcache_check when the test is done.  Counters are checked against
what each test did: single-bio O_DIRECT reads and writes of 4 KiB, so one
request is one bio is one count."""

import re
import time

import pytest

from pcache_target import (MIB, create, file_sha, fresh_cache_cmd, make_pattern, message,
                           pcache_check, remove, set_param, set_param_cmd, status_of,
                           write_pattern)

PMEM = "/dev/pmem0"
BACKING = "/dev/vda"
DEV = "/dev/mapper/pc"
K4 = 4096


@pytest.fixture
def cache(vm):
    # One guest command each way (each costs a few tenths of a second).
    vm.run(" && ".join([vm.load_module_cmd(), set_param_cmd("writeback_hold", 0),
                        fresh_cache_cmd(PMEM, BACKING)]))
    yield DEV
    pcache_check(vm, PMEM, after=[set_param_cmd("writeback_hold", 0),
                                  "dmsetup remove pc", "dmsetup remove other"])


def counters(vm):
    st = status_of(vm)
    return {k: int(st[k]) for k in ("read_hits", "read_misses", "write_hits",
                                     "write_misses", "dirty_bytes", "writeback_errors")}


def write4k(vm, dev, first_block, count, seed):
    """count single-block O_DIRECT writes (one bio each) of pattern seed."""
    path = make_pattern(vm, seed, count * K4)
    vm.run(f"dd if={path} of={dev} bs=4k seek={first_block} count={count} "
           f"oflag=direct conv=notrunc status=none")
    return path


def read4k(vm, dev, first_block, count):
    """count single-block O_DIRECT reads; returns their sha256."""
    return vm.run(f"dd if={dev} bs=4k skip={first_block} count={count} iflag=direct "
                  f"status=none | sha256sum").stdout.split()[0]


def sha_of(vm, path, skip=0, length=None):
    length = "" if length is None else f"[:{length}]"
    return vm.run(f"python3 -S -c \"import hashlib; d = open('{path}', 'rb').read()[{skip}:]"
                  f"{length}; print(hashlib.sha256(d).hexdigest())\"").stdout.strip()


def settle_fills(vm):
    """Read-miss fills complete in a worker after the read: wait for them."""
    time.sleep(0.5)


def msg_fails(vm, text):
    """The message is refused; returns the kernel log lines it caused."""
    vm.run("dmesg -C")
    r = message(vm, text, check=False)
    assert r.rc != 0, f"message '{text}' was accepted"
    return [line for line in vm.run("dmesg").stdout.splitlines() if "pcache" in line]


# ---- status and statistics ----

def test_status_counts_hits_misses_and_dirty_bytes(vm, cache):
    set_param(vm, "writeback_hold", 1)
    write4k(vm, cache, 0, 16, seed=1)                  # 16 writes to an empty cache
    c = counters(vm)
    assert (c["write_hits"], c["write_misses"]) == (0, 16)
    assert c["dirty_bytes"] == 16 * K4
    write4k(vm, cache, 8, 8, seed=2)                   # 8 overwrites of cached data
    c = counters(vm)
    assert (c["write_hits"], c["write_misses"]) == (8, 16)
    # Dirty bytes count what writeback will write: both copies of blocks 8..15.
    assert c["dirty_bytes"] == 24 * K4
    read4k(vm, cache, 0, 16)                           # 16 hits
    read4k(vm, cache, 100, 4)                          # 4 misses
    c = counters(vm)
    assert (c["read_hits"], c["read_misses"]) == (16, 4)
    settle_fills(vm)
    read4k(vm, cache, 100, 4)                          # the fills made them hits
    assert counters(vm)["read_hits"] == 20
    st = status_of(vm)
    assert [st["cache_mode"], st["metadata_mode"], st["needs_check"]] == ["writeback", "rw", "-"]
    set_param(vm, "writeback_hold", 0)
    message(vm, "flush")
    st = status_of(vm)
    assert st["dirty_bytes"] == "0" and st["dirty_tail"] == st["key_head"]
    assert st["writeback_errors"] == "0"


# ---- messages ----

MALFORMED = [
    "frobnicate", "gc_percent", "gc_percent 91", "gc_percent x", "gc_percent 5 6",
    "cache_mode", "cache_mode writeonly", "cache_mode WRITEBACK", "cache_mode writeback x",
    "flush now", "cleaner", "cleaner maybe", "cleaner on off", "writeback_rate",
    "writeback_rate x", "writeback_rate 1x", "writeback_rate 1000001", "writeback_quiet",
    "writeback_quiet 2s", "writeback_quiet 60001", "writeback_quiet 5 s", "invalidate all",
]


def test_malformed_messages_fail_with_one_log_line(vm, cache):
    # One guest command for all of them: each message between two markers
    # in the kernel log, its exit status after the second.
    script = "".join(
        f"echo 'msg-test-begin {i}' > /dev/kmsg; dmsetup message pc 0 {text} 2>/dev/null; "
        f"rc=$?; echo 'msg-test-end {i}' > /dev/kmsg; echo \"$rc\"; "
        for i, text in enumerate(MALFORMED))
    codes = vm.run(script).stdout.split()
    assert len(codes) == len(MALFORMED), codes
    log = vm.run("dmesg").stdout
    for i, text in enumerate(MALFORMED):
        assert codes[i] != "0", f"message '{text}' was accepted"
        between = log.split(f"msg-test-begin {i}\n", 1)[1].split(f"msg-test-end {i}\n", 1)[0]
        lines = [line for line in between.splitlines() if "pcache" in line]
        assert len(lines) == 1, (text, lines)
        assert re.search(r"unrecognised message|invalid message", lines[0]), (text, lines)
    st = status_of(vm)
    assert [st["gc_percent"], st["cache_mode"]] == ["70", "writeback"]


def test_good_messages(vm, cache):
    message(vm, "gc_percent 40")
    assert status_of(vm)["gc_percent"] == "40"
    message(vm, "GC_PERCENT 70")
    message(vm, "writeback_rate 10")
    message(vm, "writeback_rate 0")
    message(vm, "writeback_quiet 60000")
    message(vm, "writeback_quiet 500")
    message(vm, "cleaner on")
    message(vm, "cleaner off")
    message(vm, "flush")
    message(vm, "invalidate")
    for mode in ["writethrough", "writearound", "passthrough", "writeback"]:
        message(vm, f"cache_mode {mode}")
        assert status_of(vm)["cache_mode"] == mode
        assert vm.run("dmsetup table pc").stdout.split()[-3] == mode
    # Stored in cache_info bits 2..5 (passthrough = 4); the image passes
    # pcache_check's upstream reader rules, and a table without options
    # loads the stored mode.
    message(vm, "cache_mode passthrough")
    assert int(status_of(vm)["cache_flags"], 16) >> 2 & 0xF == 4
    remove(vm)
    pcache_check(vm, PMEM)
    create(vm, f"{PMEM} {BACKING}")
    assert status_of(vm)["cache_mode"] == "passthrough"
    message(vm, "cache_mode writeback")
    assert int(status_of(vm)["cache_flags"], 16) >> 2 & 0xF == 0


# ---- modes ----

def test_writethrough_writes_both_and_stays_clean(vm, cache):
    message(vm, "cache_mode writethrough")
    path = write4k(vm, cache, 0, 32, seed=3)
    want = file_sha(vm, path)
    # On the backing device at once, nothing dirty, and the reads hit.
    assert read4k(vm, BACKING, 0, 32) == want
    c = counters(vm)
    assert c["dirty_bytes"] == 0 and c["write_misses"] == 32
    assert read4k(vm, cache, 0, 32) == want
    assert counters(vm)["read_hits"] == 32
    # Overwrites update the cached copy (write hits), still clean.
    path = write4k(vm, cache, 16, 16, seed=4)
    c = counters(vm)
    assert c["write_hits"] == 16 and c["dirty_bytes"] == 0
    assert read4k(vm, cache, 16, 16) == file_sha(vm, path) == read4k(vm, BACKING, 16, 16)
    # FUA and FLUSH go through to the backing device too.
    vm.run(f"dd if=/dev/urandom of={cache} bs=4k count=4 oflag=direct,dsync status=none")
    vm.run(f"sync {cache}")
    assert status_of(vm)["dirty_bytes"] == "0"
    # Nothing dirty, so writeback's pass over these ksets writes nothing;
    # it runs once the cache is quiet (man/pcache.7), moving dirty_tail.
    vm.run("for i in $(seq 100); do set -- $(dmsetup status pc); "
           "[ \"${10}\" = \"${11}\" ] && exit 0; sleep 0.1; done; "
           "dmsetup status pc; exit 1", timeout=60)
    # The mode is stored: a table without options comes back in it.
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    assert status_of(vm)["cache_mode"] == "writethrough"
    assert read4k(vm, cache, 16, 16) == file_sha(vm, path)


def test_leaving_writeback_needs_a_clean_cache(vm, cache):
    set_param(vm, "writeback_hold", 1)
    path = write4k(vm, cache, 0, 64, seed=5)
    for mode in ["writethrough", "writearound", "passthrough"]:
        lines = msg_fails(vm, f"cache_mode {mode}")
        assert any("dirty bytes" in line and "flush" in line for line in lines), lines
        assert status_of(vm)["cache_mode"] == "writeback"
    assert any("dirty bytes" in line for line in msg_fails(vm, "invalidate"))
    # A table in another mode is refused as well while the cache is dirty.
    sectors = vm.run(f"blockdev --getsz {BACKING}").stdout.strip()
    r = vm.run(f"dmsetup reload pc --table '0 {sectors} pcache {PMEM} {BACKING} 2 "
               f"cache_mode writethrough'", check=False)
    assert r.rc != 0
    assert "needs a clean cache" in vm.run("dmesg").stdout
    set_param(vm, "writeback_hold", 0)
    message(vm, "flush")
    assert counters(vm)["dirty_bytes"] == 0
    assert read4k(vm, BACKING, 0, 64) == file_sha(vm, path)
    message(vm, "cache_mode writearound")
    assert status_of(vm)["cache_mode"] == "writearound"
    message(vm, "cache_mode writeback")


def test_writearound_invalidates_and_keeps_filling_reads(vm, cache):
    remove(vm)
    write_pattern(vm, BACKING, 0, 1 * MIB, seed=6)
    old = "/tmp/pat6"
    create(vm, f"{PMEM} {BACKING} 2 cache_mode writearound")
    read4k(vm, cache, 0, 64)
    settle_fills(vm)
    assert read4k(vm, cache, 0, 64) == sha_of(vm, old, 0, 64 * K4)
    before = counters(vm)
    assert before["read_hits"] == 64                    # misses filled the cache
    path = write4k(vm, cache, 8, 8, seed=7)             # over cached data
    after = counters(vm)
    # The first write invalidates every segment holding the range's data
    # (the whole segment: a generation bump), so the later ones miss.
    assert after["write_hits"] >= before["write_hits"] + 1
    assert after["write_hits"] + after["write_misses"] == \
        before["write_hits"] + before["write_misses"] + 8
    assert after["dirty_bytes"] == 0
    assert read4k(vm, BACKING, 8, 8) == file_sha(vm, path)
    # The cached copy is gone (a miss) and the new data is read.
    assert read4k(vm, cache, 8, 8) == file_sha(vm, path)
    assert counters(vm)["read_misses"] > after["read_misses"]
    # The invalidation is on media: after a reload the old data is not back.
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    assert status_of(vm)["cache_mode"] == "writearound"
    assert read4k(vm, cache, 8, 8) == file_sha(vm, path)
    message(vm, "cache_mode writeback")


def test_passthrough_bypasses_the_cache(vm, cache):
    path = write4k(vm, cache, 0, 16, seed=8)
    message(vm, "flush")
    message(vm, "cache_mode passthrough")
    before = counters(vm)
    assert read4k(vm, cache, 0, 16) == file_sha(vm, path)
    after = counters(vm)
    assert after["read_hits"] == before["read_hits"]
    assert after["read_misses"] == before["read_misses"] + 16
    new = write4k(vm, cache, 4, 4, seed=9)
    assert read4k(vm, BACKING, 4, 4) == file_sha(vm, new)
    # Back in writeback the cache must not show the data it had before.
    message(vm, "cache_mode writeback")
    assert read4k(vm, cache, 4, 4) == file_sha(vm, new)
    assert read4k(vm, cache, 0, 4) == sha_of(vm, path, 0, 4 * K4)


def test_cleaner_writes_back_and_caches_no_new_writes(vm, cache):
    set_param(vm, "writeback_hold", 1)
    write4k(vm, cache, 0, 32, seed=10)
    dirty = counters(vm)["dirty_bytes"]
    assert dirty == 32 * K4
    message(vm, "cleaner on")
    new = write4k(vm, cache, 1000, 8, seed=11)         # not cached: to the disk
    assert read4k(vm, BACKING, 1000, 8) == file_sha(vm, new)
    over = write4k(vm, cache, 0, 4, seed=12)           # over dirty data: cached
    assert counters(vm)["dirty_bytes"] == dirty + 4 * K4
    set_param(vm, "writeback_hold", 0)
    vm.run("for i in $(seq 600); do set -- $(dmsetup status pc); "
           "[ \"${17}\" = 0 ] && exit 0; sleep 0.1; done; exit 1", timeout=90)
    assert read4k(vm, BACKING, 0, 4) == file_sha(vm, over)
    message(vm, "cleaner off")


def test_invalidate_drops_clean_data(vm, cache):
    write4k(vm, cache, 0, 16, seed=13)
    message(vm, "flush")
    read4k(vm, cache, 0, 16)
    hits = counters(vm)["read_hits"]
    message(vm, "invalidate")
    # For good: a reload does not bring the old keys back as hits.
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    read4k(vm, cache, 0, 16)
    c = counters(vm)
    assert hits == 16 and (c["read_hits"], c["read_misses"]) == (0, 16)


def test_writeback_rate_caps_writeback(vm, cache):
    set_param(vm, "writeback_hold", 1)
    write4k(vm, cache, 0, 2048, seed=14)               # 8 MiB in 16 ksets
    vm.run(f"sync {cache}")
    message(vm, "writeback_rate 2")
    set_param(vm, "writeback_hold", 0)
    t0 = time.monotonic()
    message(vm, "flush")
    slow = time.monotonic() - t0
    assert slow >= 2.5, f"8 MiB at 2 MiB/s written back in {slow:.1f} s"
    message(vm, "writeback_rate 0")
    set_param(vm, "writeback_hold", 1)
    write4k(vm, cache, 0, 2048, seed=15)
    set_param(vm, "writeback_hold", 0)
    t0 = time.monotonic()
    message(vm, "flush")
    assert time.monotonic() - t0 < slow


# ---- live reload ----

def table(vm, opts):
    sectors = vm.run(f"blockdev --getsz {BACKING}").stdout.strip()
    return f"0 {sectors} pcache {opts}"


def test_reload_under_fio_verify(vm, cache):
    vm.run(f"cd /tmp && (fio --name=reload --filename={cache} --rw=randwrite --bs=4k "
           f"--size=32M --ioengine=libaio --direct=1 --iodepth=8 --verify=crc32c "
           f"--verify_fatal=1 --do_verify=1 --randseed=3 --output=/tmp/fio.out; "
           f"echo $? > /tmp/fio.rc) > /dev/null 2>&1 &")
    for gc in (30, 50, 70):
        time.sleep(1)
        vm.run(f"dmsetup reload pc --table '{table(vm, f'{PMEM} {BACKING} 6 cache_mode writeback data_crc false gc_percent {gc}')}'")
        vm.run("dmsetup resume pc")
        assert status_of(vm)["gc_percent"] == str(gc)
    vm.run("for i in $(seq 1200); do [ -e /tmp/fio.rc ] && exit 0; sleep 0.5; done; exit 1",
           timeout=660)
    assert vm.run("cat /tmp/fio.rc").stdout.strip() == "0", vm.run("cat /tmp/fio.out").stdout
    # Clean now: a reload may change the mode too.
    message(vm, "flush")
    vm.run(f"dmsetup reload pc --table '{table(vm, f'{PMEM} {BACKING} 2 cache_mode writethrough')}'")
    vm.run("dmsetup resume pc")
    assert status_of(vm)["cache_mode"] == "writethrough"
    vm.run(f"cd /tmp && fio --name=reload --filename={cache} --rw=randwrite --bs=4k "
           "--size=32M --ioengine=libaio --direct=1 --iodepth=8 --verify=crc32c "
           "--verify_fatal=1 --verify_only=1 --randseed=3 --output=/tmp/fio2.out", timeout=600)
    message(vm, "cache_mode writeback")


def test_reload_with_other_devices_or_data_crc_is_refused(vm, cache):
    vm.run(f"dmsetup create other --table '0 2097152 linear {BACKING} 0'")
    vm.run("dmsetup mknodes")
    for opts, error in [
            (f"{PMEM} /dev/mapper/other", "A reloaded table must name the same backing device"),
            (f"/dev/mapper/other {BACKING}", "A reloaded table must name the same cache device"),
            (f"{PMEM} {BACKING} 2 data_crc true", "data_crc option does not match the cache")]:
        vm.run("dmesg -C")
        r = vm.run(f"dmsetup reload pc --table '{table(vm, opts)}'", check=False)
        assert r.rc != 0, opts
        assert error in vm.run("dmesg").stdout, opts
    # Another dm device on the same cache device: refused too.
    vm.run("dmesg -C")
    assert vm.run(f"dmsetup create pc2 --table '{table(vm, f'{PMEM} {BACKING}')}'",
                  check=False).rc != 0
    assert "already in use by another pcache table" in vm.run("dmesg").stdout
    vm.run("dmsetup remove pc2 2>/dev/null || true")
    # The live table is untouched.
    write4k(vm, cache, 0, 4, seed=16)
    assert status_of(vm)["metadata_mode"] == "rw"


# ---- discard ----

def test_discard_drops_cached_data_and_passes_down(vm, cache):
    if vm.run("cat /sys/block/vda/queue/discard_max_bytes").stdout.strip() == "0":
        pytest.fail("the VM's virtio disk does not support discard")
    name = vm.run("dmsetup info -c --noheadings -o blkdevname pc").stdout.strip()
    assert vm.run(f"cat /sys/block/{name}/queue/discard_max_bytes").stdout.strip() != "0"
    path = write4k(vm, cache, 0, 256, seed=17)         # 1 MiB, cached
    message(vm, "flush")
    assert read4k(vm, BACKING, 0, 256) == file_sha(vm, path)
    vm.run(f"blkdiscard -f -o {64 * K4} -l {64 * K4} {cache}")
    before = counters(vm)
    # The backing device discarded it (a sparse file: zeros), and the
    # cache no longer shows the old data: the read misses.
    zeros = vm.run(f"head -c {64 * K4} /dev/zero | sha256sum").stdout.split()[0]
    assert read4k(vm, cache, 64, 64) == zeros
    assert counters(vm)["read_misses"] == before["read_misses"] + 64
    assert read4k(vm, cache, 0, 64) == sha_of(vm, path, 0, 64 * K4)
    # Writearound (a clean cache): the discard's invalidation is on media.
    message(vm, "cache_mode writearound")
    read4k(vm, cache, 128, 64)
    settle_fills(vm)
    vm.run(f"blkdiscard -f -o {128 * K4} -l {64 * K4} {cache}")
    remove(vm)
    create(vm, f"{PMEM} {BACKING}")
    assert read4k(vm, cache, 128, 64) == zeros
    message(vm, "cache_mode writeback")
