"""Helpers for the pcache target's VM tests (tests/integration/test_target_*.py).

Everything here drives the real module in the guest; the only host-side
logic is the format's CRC and record packing, used to inspect and corrupt
pmem images between boots."""

import re
import struct
from pathlib import Path

from harness.vm import REPO

MIB = 1 << 20
GIB = 1 << 30

# Layout facts we poke at from the host (include/pcache/pcache_format.h).
SB_OFF = 4096
CACHE_INFO_OFF = 8192
CACHE_INFO_STRIDE = 4096
KEY_TAIL_OFF = 0x4000
SEGMENTS_OFF = 20480
SEG_SIZE = 16 * MIB
SEG_DATA_OFF = 12288
KSET_MAGIC = 0x676894A64E164F1A
PCACHE_MAGIC = 0x65B05EFA96C596EF
CRC_SEED = 0x3B15A

REFMODEL = Path(__file__).resolve().parent / "target_refmodel.py"
PCACHE_CHECK = REPO / "build" / "bin" / "pcache_check"

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def pcache_crc(data, seed=CRC_SEED):
    """The format's CRC: CRC-32C register seeded with 0x3B15A, no final xor."""
    crc = seed
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc


def seal(record):
    """Recompute the CRC of a record whose CRC is its first 4 bytes."""
    return struct.pack("<I", pcache_crc(record[4:])) + bytes(record[4:])


def seg_off(phys):
    """Device offset of physical segment phys."""
    return SEGMENTS_OFF + phys * SEG_SIZE


def set_kset_delay(vm, ms):
    """How long an open kset waits before the timer writes it (module
    parameter; 1000 by default).  A long delay leaves FLUSH, FUA and full
    ksets as the only ways keys reach pmem."""
    vm.run(f"echo {ms} > /sys/module/pcache/parameters/kset_close_delay_ms")


def create(vm, table_args, name="pc", sectors=None, backing="/dev/vda"):
    """dmsetup create NAME with a pcache table; returns the device path.
    One guest command (each costs a few tenths of a second under TCG, and
    the tests create caches hundreds of times)."""
    vm.run(create_cmd(table_args, name, sectors, backing))
    return f"/dev/mapper/{name}"


def create_cmd(table_args, name="pc", sectors=None, backing="/dev/vda"):
    """create()'s guest command line, to chain with other steps."""
    length = sectors if sectors is not None else f"$(blockdev --getsz {backing})"
    return (f"dmsetup create {name} --table \"0 {length} pcache {table_args}\" && "
            f"dmsetup mknodes {name}")


def wipe_cache_cmd(pmem="/dev/pmem0"):
    """A guest command line zeroing the superblock: the next table formats
    a new cache."""
    return f"dd if=/dev/zero of={pmem} bs=4096 count=5 oflag=direct status=none"


def fresh_cache_cmd(pmem="/dev/pmem0", backing="/dev/vda", zero_length=64 * MIB):
    """A guest command line making a freshly formatted cache (default table)
    as /dev/mapper/pc over a zeroed start of backing."""
    return (f"{wipe_cache_cmd(pmem)} && "
            f"dd if=/dev/zero of={backing} bs=1M count={zero_length // MIB} oflag=direct "
            f"status=none && " + create_cmd(f"{pmem} {backing}", backing=backing))


def remove(vm, name="pc"):
    vm.run(f"dmsetup remove {name}")


# The status fields (man/pcache.7): upstream's nine, then ours.
STATUS_FIELDS = ["sb_flags", "seg_total", "cache_segs", "segs_used", "gc_percent",
                 "cache_flags", "key_head", "dirty_tail", "key_tail",
                 "read_hits", "read_misses", "write_hits", "write_misses",
                 "dirty_bytes", "writeback_errors", "cache_mode", "metadata_mode",
                 "needs_check"]


def status(vm, name="pc"):
    """The status fields after the target name, as a list of strings."""
    return vm.run(f"dmsetup status {name}").stdout.split()[3:]


def status_of(vm, name="pc"):
    """The status fields by name (STATUS_FIELDS)."""
    return dict(zip(STATUS_FIELDS, status(vm, name)))


def message(vm, text, name="pc", check=True):
    """dmsetup message NAME 0 TEXT; returns the Result."""
    return vm.run(f"dmsetup message {name} 0 {text}", check=check, timeout=600)


def set_param(vm, param, value):
    """Set a module parameter of pcache (a test feature, docs/target.md)."""
    vm.run(set_param_cmd(param, value))


def set_param_cmd(param, value):
    """set_param()'s guest command line, to chain with other steps."""
    return f"echo {value} > /sys/module/pcache/parameters/{param}"


def fsync_cmd(dev):
    """A guest command line that sends dev a FLUSH: fsync() of the block
    device (closes every open kset)."""
    return f"python3 -S -c \"import os; os.fsync(os.open('{dev}', os.O_RDONLY))\""


def flush_device(vm, dev):
    """A FLUSH: fsync() of the block device (closes every open kset)."""
    vm.run(fsync_cmd(dev))


def wait_clean(vm, name="pc", timeout=600):
    """Close every open kset, then wait until writeback has caught up with
    the log (dirty_tail == key_head): the backing device then holds every
    write made before.  Returns the status by name."""
    vm.run(f"{fsync_cmd(f'/dev/mapper/{name}')} && "
           f"for i in $(seq {timeout * 10}); do set -- $(dmsetup status {name}); "
           f"[ \"${{10}}\" = \"${{11}}\" ] && exit 0; sleep 0.1; done; "
           f"dmsetup status {name}; exit 1", timeout=timeout + 30)
    return status_of(vm, name)


def ctr_error(vm, table_args, sectors=2097152, name="bad"):
    """Try to create a pcache table that must be refused; return the
    constructor's ti->error as the kernel logged it."""
    # One guest command: clear the log, try, remove what was accepted.
    log = vm.run(f"dmesg -C; if dmsetup create {name} --table '0 {sectors} pcache "
                 f"{table_args}' 2>/dev/null; then echo TABLE-ACCEPTED; "
                 f"dmsetup remove {name}; fi; dmesg").stdout
    assert "TABLE-ACCEPTED" not in log, f"table was accepted: {table_args}"
    m = re.search(r"pcache: (.*) \(-E[A-Z]+\)$", log, re.M)
    assert m, f"no constructor error in the kernel log:\n{log}"
    return m.group(1)


def pcache_check(vm, device, after=()):
    """The tools' checker must find the cache on device clean (exit 0).
    after: guest commands to run first in the same guest command, their
    failures ignored (a fixture's teardown: remove the devices, then check)."""
    assert PCACHE_CHECK.exists(), f"{PCACHE_CHECK} missing: run 'make' first"
    r = vm.run("".join(f"{{ {cmd}; }} >/dev/null 2>&1; " for cmd in after) +
               f"{PCACHE_CHECK} {device}", check=False, timeout=300)
    assert r.rc == 0, f"pcache_check {device} failed:\n{r.stdout}{r.stderr}"


def make_pattern(vm, seed, length):
    """A reproducible pseudo-random file /tmp/pat<seed> in the guest (it can
    be made again after a reboot); returns its path."""
    path, cmd = pattern_cmd(seed, length)
    vm.run(cmd)
    return path


def pattern_cmd(seed, length):
    """The guest file of pattern <seed> and the command line making it."""
    path = f"/tmp/pat{seed}"
    return path, (f"python3 -S -c \"import random,sys; r=random.Random({seed}); "
                  f"sys.stdout.buffer.write(r.randbytes({length}))\" > {path}")


def write_pattern(vm, dev, offset, length, seed, oflag="direct"):
    """Write pattern <seed> of length bytes at byte offset (O_DIRECT, plus
    e.g. oflag='direct,dsync' for FUA writes)."""
    vm.run(write_pattern_cmd(dev, offset, length, seed, oflag), timeout=300)


def write_pattern_cmd(dev, offset, length, seed, oflag="direct"):
    """write_pattern()'s guest command line, to chain with other steps."""
    path, cmd = pattern_cmd(seed, length)
    return (f"{cmd} && dd if={path} of={dev} bs=1M seek={offset} oflag={oflag},seek_bytes "
            f"conv=notrunc status=none")


def read_range(vm, dev, offset, length, dest):
    """Copy length bytes at offset of dev to the guest file dest (O_DIRECT)."""
    vm.run(f"dd if={dev} of={dest} bs=1M skip={offset} count={length} "
           f"iflag=direct,skip_bytes,count_bytes status=none", timeout=300)


def read_sha(vm, dev, offset, length, timeout=300):
    return vm.run(f"dd if={dev} bs=1M skip={offset} count={length} "
                  f"iflag=direct,skip_bytes,count_bytes status=none | sha256sum",
                  timeout=timeout).stdout.split()[0]


def file_sha(vm, path):
    return vm.run(f"sha256sum {path}").stdout.split()[0]
