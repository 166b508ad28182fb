"""needs_check, read-only metadata mode and data CRCs of read hits (issue
6), on one VM.

- Damage met by writeback at run time (a kset whose CRC fails, written
  into /dev/pmem0 while the target runs) turns the metadata read-only and
  sets NEEDS_CHECK on media: cached data still reads right, writes over it
  fail, writes elsewhere reach the backing device; a reload is refused
  since the damaged kset held dirty data.
- The NEEDS_CHECK cycle: a kset of the written-back part of the log damaged
  while no table is loaded (the bytes a host-side write would change, from
  the guest: no reboot needed); the load comes up read-only with
  needs_check and reads right from the backing device;
  pcache_check --clear-needs-check-flag refuses while the damage is there;
  after pcache_repair it clears the flag and the cache loads read-write.
- data_crc: a corrupted byte in a clean cached block is healed from the
  backing device; in a dirty block the read fails and needs_check is set.
- Fail: when NEEDS_CHECK cannot be stored (the module parameter
  fault_fail_info makes every cache_info update fail), a running target
  fails every bio and its status is `Fail`; a load that finds damage and
  cannot store NEEDS_CHECK is refused.  Nothing acknowledged is lost: the
  cache loads again once cache_info can be written.
"""

from pcache_target import (MIB, create, file_sha, make_pattern, message, remove, set_param,
                           status_of, write_pattern)
from tools_helpers import tool

PMEM = "/dev/pmem0"
BACKING = "/dev/vda"
K4 = 4096
LOG_START = 20480 + 12288       # logical segment 0 is physical 0 on a fresh cache


def fresh(vm, opts=""):
    vm.load_module()
    set_param(vm, "writeback_hold", 0)
    set_param(vm, "fault_fail_info", 0)
    vm.run("dmsetup remove pc 2>/dev/null || true")
    vm.run(f"dd if=/dev/zero of={PMEM} bs=4096 count=5 oflag=direct status=none")
    vm.run(f"dd if=/dev/zero of={BACKING} bs=1M count=32 oflag=direct status=none")
    return create(vm, f"{PMEM} {BACKING} {opts}".strip())


def write4k(vm, dev, block, count, seed, check=True):
    path = make_pattern(vm, seed, count * K4)
    return vm.run(f"dd if={path} of={dev} bs=4k seek={block} count={count} "
                  f"oflag=direct conv=notrunc status=none", check=check), path


def read4k(vm, dev, block, count, check=True):
    r = vm.run(f"dd if={dev} bs=4k skip={block} count={count} iflag=direct status=none "
               f"| sha256sum; exit ${{PIPESTATUS[0]}}", check=check)
    return r.stdout.split()[0] if r.rc == 0 else r


def sha_part(vm, path, skip, length):
    return vm.run(f"python3 -S -c \"import hashlib; print(hashlib.sha256(open('{path}', 'rb')"
                  f".read()[{skip}:{skip + length}]).hexdigest())\"").stdout.strip()


def corrupt_kset_crc(vm, index):
    """Flip a byte of the CRC of kset number index of the log in segment 0.
    (Buffered I/O on /dev/pmem0: its page cache is dropped first and synced
    after, since the target reads and writes the memory directly.)"""
    vm.run(f"blockdev --flushbufs {PMEM}")
    vm.run("python3 -S - <<'EOF'\n"
           "import os\n"
           "import struct\n"
           f"f = open('{PMEM}', 'r+b')\n"
           "offs = [0]\n"
           "while True:\n"
           f"    f.seek({LOG_START} + offs[-1]); h = f.read(24)\n"
           "    crc, n, magic, flags = struct.unpack('<IIQQ', h)\n"
           "    if magic != 0x676894A64E164F1A or flags: break\n"
           "    offs.append(offs[-1] + 24 + 40 * n)\n"
           f"assert len(offs) > {index + 1}, offs\n"
           f"at = {LOG_START} + offs[{index}]\n"
           "f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0xFF]))\n"
           "f.flush(); os.fsync(f.fileno()); f.close()\n"
           "EOF")


def corrupt_cached_block(vm, pattern, skip):
    """Find the 4 KiB block at byte skip of pattern file in pmem and flip one
    of its bytes; returns its pmem offset."""
    vm.run(f"blockdev --flushbufs {PMEM}")
    return int(vm.run("python3 -S - <<'EOF'\n"
                      "import os\n"
                      f"want = open('{pattern}', 'rb').read()[{skip}:{skip + K4}]\n"
                      f"f = open('{PMEM}', 'r+b')\n"
                      "for base in range(0, 256 << 20, 16 << 20):\n"
                      "    f.seek(base); chunk = f.read(16 << 20)\n"
                      "    i = chunk.find(want)\n"
                      "    if i >= 0: break\n"
                      "assert i >= 0, 'block not found in pmem'\n"
                      "at = base + i + 100\n"
                      "f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0x5A]))\n"
                      "f.flush(); os.fsync(f.fileno()); f.close(); print(at)\n"
                      "EOF").stdout)


def wait_status(vm, field, value, timeout=30):
    idx = {"metadata_mode": 20, "needs_check": 21}[field]
    vm.run(f"for i in $(seq {timeout * 10}); do set -- $(dmsetup status pc); "
           f"[ \"${{{idx}}}\" = {value} ] && exit 0; sleep 0.1; done; dmsetup status pc; exit 1",
           timeout=timeout + 30)


def check(vm, *args):
    return vm.run(f"{tool('pcache_check')} {' '.join(args)} {PMEM}", check=False, timeout=300)


def test_writeback_damage_turns_the_metadata_read_only(vm):
    dev = fresh(vm)
    set_param(vm, "writeback_hold", 1)
    _, first = write4k(vm, dev, 0, 8, seed=1)
    vm.run(f"sync {dev}")                               # kset 0
    write4k(vm, dev, 100, 8, seed=2)
    vm.run(f"sync {dev}")                               # kset 1
    corrupt_kset_crc(vm, 0)
    vm.run("dmesg -C")
    set_param(vm, "writeback_hold", 0)
    wait_status(vm, "needs_check", "needs_check")
    st = status_of(vm)
    assert (st["metadata_mode"], st["needs_check"]) == ("ro", "needs_check")
    assert int(st["writeback_errors"]) >= 1
    log = vm.run("dmesg").stdout
    assert "metadata failure" in log and "run pcache_check" in log
    # Cached (dirty) data still reads right; a write over it fails, a write
    # elsewhere goes to the backing device.
    assert read4k(vm, dev, 0, 8) == file_sha(vm, first)
    assert write4k(vm, dev, 2, 1, seed=3, check=False)[0].rc != 0
    _, other = write4k(vm, dev, 2000, 4, seed=4)
    assert read4k(vm, BACKING, 2000, 4) == file_sha(vm, other)
    # Messages that would write metadata are refused.
    assert message(vm, "gc_percent 10", check=False).rc != 0
    assert message(vm, "cache_mode writethrough", check=False).rc != 0
    remove(vm)
    assert check(vm).rc == 1
    # The damaged kset holds dirty data: the kernel will not guess.
    vm.run("dmesg -C")
    r = vm.run(f"dmsetup create pc --table '0 2097152 pcache {PMEM} {BACKING}'", check=False)
    assert r.rc != 0
    assert "Damaged kset in the dirty part of the key log" in vm.run("dmesg").stdout
    vm.run("dmsetup remove pc 2>/dev/null || true")


def test_needs_check_cycle(vm):
    dev = fresh(vm)
    paths = []
    for i, block in enumerate((0, 100, 200)):
        paths.append(write4k(vm, dev, block, 8, seed=10 + i)[1])
        vm.run(f"sync {dev}")
    message(vm, "flush")                                # all written back
    remove(vm)
    corrupt_kset_crc(vm, 0)                             # before dirty_tail
    assert check(vm).rc == 1
    vm.run("dmesg -C")
    create(vm, f"{PMEM} {BACKING}")
    st = status_of(vm)
    assert (st["metadata_mode"], st["needs_check"]) == ("ro", "needs_check")
    assert "loading read-only" in vm.run("dmesg").stdout
    for block, path in zip((0, 100, 200), paths):
        assert read4k(vm, dev, block, 8) == file_sha(vm, path)
    assert status_of(vm)["read_hits"] == "0"            # all from the backing device
    remove(vm)
    # The flag stays while the damage is there, and the cache loads read-only.
    r = check(vm, "--clear-needs-check-flag")
    assert r.rc == 1 and "left as it is" in r.stdout + r.stderr
    create(vm, f"{PMEM} {BACKING}")
    assert status_of(vm)["needs_check"] == "needs_check"
    remove(vm)
    r = vm.run(f"{tool('pcache_repair')} --in-place {PMEM} --backup /tmp/nc.bak",
               check=False, timeout=300)
    assert r.rc == 0, r.stdout + r.stderr
    r = check(vm, "--clear-needs-check-flag")
    assert r.rc == 0, r.stdout + r.stderr
    create(vm, f"{PMEM} {BACKING}")
    st = status_of(vm)
    assert (st["metadata_mode"], st["needs_check"]) == ("rw", "-")
    for block, path in zip((0, 100, 200), paths):
        assert read4k(vm, dev, block, 8) == file_sha(vm, path)
    write4k(vm, dev, 300, 4, seed=13)
    remove(vm)
    assert check(vm).rc == 0


def test_data_crc_clean_hit_heals_dirty_hit_fails(vm):
    vm.load_module()
    vm.run("dmsetup remove pc 2>/dev/null || true")
    vm.run(f"dd if=/dev/zero of={PMEM} bs=4096 count=5 oflag=direct status=none")
    write_pattern(vm, BACKING, 0, 1 * MIB, seed=20)
    dev = create(vm, f"{PMEM} {BACKING} 2 data_crc true")
    read4k(vm, dev, 0, 16)                              # misses fill the cache
    vm.run("sleep 0.5")
    assert read4k(vm, dev, 0, 16) == sha_part(vm, "/tmp/pat20", 0, 16 * K4)
    assert status_of(vm)["read_hits"] == "16"
    # Clean: the bad copy is dropped and the block read from the disk.
    corrupt_cached_block(vm, "/tmp/pat20", 3 * K4)
    vm.run("dmesg -C")
    misses = int(status_of(vm)["read_misses"])
    assert read4k(vm, dev, 3, 1) == sha_part(vm, "/tmp/pat20", 3 * K4, K4)
    assert int(status_of(vm)["read_misses"]) == misses + 1
    assert "data CRC mismatch in clean cached data" in vm.run("dmesg").stdout
    assert status_of(vm)["metadata_mode"] == "rw"
    # Dirty: no good copy anywhere; the read fails and needs_check is set.
    set_param(vm, "writeback_hold", 1)
    _, dirty = write4k(vm, dev, 50, 4, seed=21)
    corrupt_cached_block(vm, dirty, 1 * K4)
    r = read4k(vm, dev, 51, 1, check=False)
    assert not isinstance(r, str) and r.rc != 0
    wait_status(vm, "needs_check", "needs_check")
    assert status_of(vm)["metadata_mode"] == "ro"
    assert read4k(vm, dev, 52, 2) == sha_part(vm, dirty, 2 * K4, 2 * K4)
    remove(vm)
    set_param(vm, "writeback_hold", 0)
    assert check(vm).rc == 1


def test_fail_state_when_needs_check_cannot_be_stored(vm):
    dev = fresh(vm)
    set_param(vm, "writeback_hold", 1)                  # the data stays dirty
    _, dirty = write4k(vm, dev, 0, 8, seed=30)
    vm.run(f"sync {dev}")
    # A metadata update fails (gc_percent is stored in cache_info), so the
    # metadata turns read-only, and NEEDS_CHECK cannot be stored either.
    set_param(vm, "fault_fail_info", 1)
    vm.run("dmesg -C")
    assert message(vm, "gc_percent 50", check=False).rc != 0
    vm.run("for i in $(seq 300); do [ \"$(dmsetup status pc | cut -d' ' -f4-)\" = Fail ] "
           "&& exit 0; sleep 0.1; done; dmsetup status pc; exit 1", timeout=60)
    log = vm.run("dmesg").stdout
    assert "needs_check could not be stored in cache_info: the target has failed" in log
    # Every bio fails, hits and misses, reads and writes; so do messages.
    assert not isinstance(read4k(vm, dev, 0, 8, check=False), str)
    assert not isinstance(read4k(vm, dev, 1000, 1, check=False), str)
    assert write4k(vm, dev, 2000, 1, seed=31, check=False)[0].rc != 0
    assert message(vm, "flush", check=False).rc != 0
    remove(vm)
    # Nothing was damaged and nothing acknowledged is lost: once cache_info
    # can be written again the cache checks clean and loads read-write,
    # with the dirty data and the old gc_percent.
    set_param(vm, "fault_fail_info", 0)
    assert check(vm).rc == 0
    create(vm, f"{PMEM} {BACKING}")
    st = status_of(vm)
    assert (st["metadata_mode"], st["needs_check"], st["gc_percent"]) == ("rw", "-", "70")
    assert int(st["dirty_bytes"]) >= 8 * K4
    assert read4k(vm, dev, 0, 8) == file_sha(vm, dirty)
    set_param(vm, "writeback_hold", 0)
    message(vm, "flush")
    assert read4k(vm, BACKING, 0, 8) == file_sha(vm, dirty)
    remove(vm)
    assert check(vm).rc == 0


def test_load_refused_when_needs_check_cannot_be_stored(vm):
    dev = fresh(vm)
    _, data = write4k(vm, dev, 0, 8, seed=40)
    vm.run(f"sync {dev}")
    message(vm, "flush")
    remove(vm)
    corrupt_kset_crc(vm, 0)                             # damage replay finds
    set_param(vm, "fault_fail_info", 1)
    vm.run("dmesg -C")
    r = vm.run(f"dmsetup create pc --table '0 2097152 pcache {PMEM} {BACKING}'", check=False)
    assert r.rc != 0
    assert "Cannot store needs_check in cache_info" in vm.run("dmesg").stdout
    vm.run("dmsetup remove pc 2>/dev/null || true")
    # The refused load wrote nothing: with cache_info writable again, the
    # load comes up read-only with needs_check, as the damage wants.
    set_param(vm, "fault_fail_info", 0)
    create(vm, f"{PMEM} {BACKING}")
    st = status_of(vm)
    assert (st["metadata_mode"], st["needs_check"]) == ("ro", "needs_check")
    assert read4k(vm, dev, 0, 8) == file_sha(vm, data)
    remove(vm)
