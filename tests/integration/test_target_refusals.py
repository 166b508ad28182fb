"""Tables the pcache target must refuse, each with its exact error: bad
devices, bad options, and caches whose metadata was damaged behind the
target's back.  A refused cache is left exactly as it was.

The damaged caches live on dm-linear slices of one 4 GiB pmem device (a
linear slice of pmem stays DAX-capable), so one boot serves every case.
The damage is written through the guest's /dev/pmem0 after the clean
caches are removed: the same bytes a DAX mapping reads, as if another
host had written them (no reboot, no module state survives a remove).
One more slice holds a cache whose data segment's generation moved on:
it loads, and its now stale keys are not used."""

import struct

import pytest

from conftest import finish_vm, make_vm
from pcache_target import (CACHE_INFO_OFF, GIB, KSET_MAGIC, MIB, SB_OFF,
                           SEG_DATA_OFF, create, create_cmd, ctr_error, pcache_check,
                           remove, seal, seg_off, status, wipe_cache_cmd, write_pattern_cmd)

SLICE = 580 * MIB
SLICES = 7
BACKING = "/dev/vda"


def make_slices(vm):
    vm.run(" && ".join(f"dmsetup create s{i} --table '0 {SLICE // 512} linear /dev/pmem0 "
                       f"{i * SLICE // 512}'" for i in range(SLICES)) + " && dmsetup mknodes")


def corrupt_magic(vm, base):
    vm.write_pmem_in_guest(base + SB_OFF + 8, b"NOTPCACH")


def corrupt_sb_crc(vm, base):
    pad = vm.read_pmem(base + SB_OFF + 20, 1)
    vm.write_pmem_in_guest(base + SB_OFF + 20, bytes([pad[0] ^ 0x40]))


def corrupt_both_cache_info(vm, base):
    # Replica 0 is the only valid one on a fresh cache; break its CRC.
    crc = vm.read_pmem(base + CACHE_INFO_OFF, 1)
    vm.write_pmem_in_guest(base + CACHE_INFO_OFF, bytes([crc[0] ^ 0xFF]))


def corrupt_chain_id(vm, base):
    # A well-formed, newer segment_info for physical segment 0 whose next
    # segment is far beyond seg_num.
    rec = struct.pack("<IBBHII", 0, 2, 0, 0, 0x3, 9999)
    vm.write_pmem_in_guest(base + seg_off(0) + 4096, seal(rec))


def corrupt_key_num(vm, base):
    # The first kset of the log (key_tail 0:0): key_num 200, magic intact.
    kset = base + seg_off(0) + SEG_DATA_OFF
    assert struct.unpack("<Q", vm.read_pmem(kset + 8, 8))[0] == KSET_MAGIC
    vm.write_pmem_in_guest(kset + 4, struct.pack("<I", 200))


def corrupt_key_gen(vm, base):
    # The first key of the first kset claims generation 5 while its data
    # segment is at 0; the kset's CRC is made valid again.
    kset = base + seg_off(0) + SEG_DATA_OFF
    key_num = struct.unpack("<I", vm.read_pmem(kset + 4, 4))[0]
    assert 1 <= key_num <= 128
    data = bytearray(vm.read_pmem(kset, 24 + 40 * key_num))
    struct.pack_into("<Q", data, 24 + 24, 5)
    vm.write_pmem_in_guest(kset, seal(data))


def bump_data_segment_gen(vm, base):
    # A newer seg_gen replica (seq 2, slot 1) for physical segment 1, the
    # first data segment: generation 1 makes every key into it stale.
    rec = struct.pack("<IBBHQ", 0, 2, 0, 0, 1)
    vm.write_pmem_in_guest(base + seg_off(1) + 8192 + 16, seal(rec))


DAMAGE = [
    (corrupt_magic, "Unexpected superblock magic: not a pcache device"),
    (corrupt_sb_crc, "Superblock CRC mismatch"),
    (corrupt_both_cache_info, "No valid cache_info replica (both CRCs bad); "
                              "refusing to reinitialise, run pcache_check"),
    (corrupt_chain_id, "Segment chain id out of range"),
    (corrupt_key_num, "Kset key_num exceeds 128"),
    (corrupt_key_gen, "Key generation ahead of its segment"),
    (bump_data_segment_gen, None),       # loads; see test_stale_keys_are_dropped
]
assert len(DAMAGE) == SLICES
STALE = SLICES - 1

# What a refused load must leave untouched: the metadata pages and the
# first segment's header and log start.
SNAPSHOT = [(0, 20480), (seg_off(0), SEG_DATA_OFF + 8192)]


def snapshot(vm, base):
    return [vm.read_pmem(base + off, length) for off, length in SNAPSHOT]


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    machine = make_vm(tmp_path_factory, "refusals", pmem_size=4 * GIB,
                      disks=[GIB, GIB])
    machine.boot()
    assert machine.pmem_device_size >= SLICES * SLICE
    machine.load_module()
    make_slices(machine)
    # A real cache with data on every slice, then a clean shutdown; one
    # guest command per slice (each costs a few tenths of a second).
    for i in range(SLICES):
        machine.run(" && ".join([
            wipe_cache_cmd(f"/dev/mapper/s{i}"),
            create_cmd(f"/dev/mapper/s{i} {BACKING}"),
            write_pattern_cmd("/dev/mapper/pc", i * MIB, 256 * 1024, seed=i,
                              oflag="direct,dsync"),
            "dmsetup remove pc"]), timeout=300)
        pcache_check(machine, f"/dev/mapper/s{i}")
    # Writeback may have copied the patterns to the backing device: zero
    # it, so a stale key shows as zeros.
    machine.run(f"dd if=/dev/zero of={BACKING} bs=1M count={SLICES + 1} oflag=direct "
                "status=none")
    machine.snapshots = []
    for i, (damage, _) in enumerate(DAMAGE):
        damage(machine, i * SLICE)
        machine.snapshots.append(snapshot(machine, i * SLICE))
    yield machine
    finish_vm(machine)


@pytest.mark.parametrize("index", range(STALE),
                         ids=[d.__name__ for d, _ in DAMAGE[:STALE]])
def test_damaged_cache_is_refused_and_left_alone(vm, index):
    expected = DAMAGE[index][1]
    assert ctr_error(vm, f"/dev/mapper/s{index} {BACKING}") == expected
    assert snapshot(vm, index * SLICE) == vm.snapshots[index]


def test_stale_keys_are_dropped(vm):
    # The pattern written through this cache sat in data segment 1, whose
    # generation is now 1: the keys (generation 0) are stale, so reads go
    # to the (all zero) backing device; the segment still counts as used
    # until garbage collection passes its keys.
    dev = create(vm, f"/dev/mapper/s{STALE} {BACKING}")
    try:
        assert status(vm)[3] == "2"
        assert vm.run(f"dd if={dev} bs=64k skip={STALE * 16} count=4 iflag=direct "
                      "status=none | tr -d '\\0' | wc -c").stdout.strip() == "0"
    finally:
        remove(vm)


def test_non_dax_cache_device(vm):
    assert ctr_error(vm, f"/dev/vdb {BACKING}") == "Cache device is not DAX-capable"


def test_cache_device_smaller_than_512_mib(vm):
    vm.run(f"dmsetup create small --table '0 {511 * MIB // 512} linear /dev/pmem0 0'")
    vm.run("dmsetup mknodes")
    try:
        name = vm.run("dmsetup info -c --noheadings -o blkdevname small").stdout.strip()
        assert vm.run(f"cat /sys/block/{name}/queue/dax").stdout.strip() == "1"
        assert ctr_error(vm, f"/dev/mapper/small {BACKING}") == \
            "Cache device is smaller than 512 MiB"
    finally:
        vm.run("dmsetup remove small")


@pytest.mark.parametrize("args, error", [
    ("", "Insufficient args"),
    ("/dev/mapper/s0", "Insufficient args"),
    ("/dev/nonexistent /dev/vda", "Error opening cache device"),
    ("/dev/mapper/s0 /dev/nonexistent", "Error opening backing device"),
    ("/dev/mapper/s0 /dev/vda 8 a b c d e f g h", "Invalid number of cache option arguments"),
    ("/dev/mapper/s0 /dev/vda 6 a b c d e f", "Unrecognised cache option requested"),
    ("/dev/mapper/s0 /dev/vda 2 crc true", "Unrecognised cache option requested"),
    ("/dev/mapper/s0 /dev/vda 2 data_crc yes", "Invalid data crc parameter"),
    ("/dev/mapper/s0 /dev/vda 2 cache_mode writeonly", "Invalid cache mode parameter"),
    ("/dev/mapper/s0 /dev/vda 2 cache_mode WriteBack", "Invalid cache mode parameter"),
    ("/dev/mapper/s0 /dev/vda 2 gc_percent 91", "Invalid gc_percent parameter (0..90)"),
    ("/dev/mapper/s0 /dev/vda 1 gc_percent", "Missing value for gc_percent"),
    ("/dev/mapper/s0 /dev/vda 1 data_crc", "Missing value for data_crc"),
    ("/dev/mapper/s0 /dev/vda 2 data_crc true extra", "Unexpected words after the cache options"),
])
def test_bad_table_arguments(vm, args, error):
    assert ctr_error(vm, args) == error


def test_table_longer_than_backing_device(vm):
    assert ctr_error(vm, f"/dev/mapper/s0 {BACKING}", sectors=2097152 + 8) == \
        "Table is longer than the backing device"
