"""One damage test per check: break one thing in a restored image (a byte,
or a field behind a resealed CRC), then pcache_check must name it and exit
1 -- or warn and exit 0 where the format absorbs it (a damaged replica next
to a good one, a torn log end, a stray old cache_info copy), using the good
replica exactly as spec §2.5 says."""

import json
import os
import struct

import pytest

from tools_helpers import (SB_OFF, CacheXml, check, crc32c, data_offset, dump, edit_u32, flip,
                           read_at, reseal, restored, run, seg_gen_offset_of, seg_info_offset_of,
                           write_at)

# The cache every test starts from: data CRCs on, three ksets of two keys
# in segment 0 (A at 0:0, B at 0:104, C at 0:208), dirty_tail at B, both
# cache_info / tail replicas written (replica 1 newest), payloads in place.
KSET = {"A": 0, "B": 104, "C": 208}
KEYS = [{"off": i * (1 << 20), "len": 8192, "seg": 1, "seg_off": i * 8192} for i in range(6)]


def key_field(kset, index, field_off):
    return data_offset(0, KSET[kset]) + 24 + 40 * index + field_off


def reseal_kset(img, kset):
    reseal(img, data_offset(0, KSET[kset]), 24 + 40 * 2)


def cache_info_off(slot):
    return 8192 + 4096 * slot


@pytest.fixture
def img(tmp_path):
    cache = CacheXml(data_crc=True)
    cache.cache_info = [(0, 1), (1, 2)]
    cache.key_tail = [(0, 1, (0, 0)), (1, 2, (0, 0))]
    cache.dirty_tail = [(0, 1, (0, 104)), (1, 2, (0, 104))]
    payloads = [bytes([0x40 + i]) * k["len"] for i, k in enumerate(KEYS)]
    keys = [dict(k, data_crc=crc32c(p)) for k, p in zip(KEYS, payloads)]
    for i in range(0, 6, 2):
        cache.kset(keys[i:i + 2])
    path = restored(tmp_path, cache)
    for k, p in zip(KEYS, payloads):
        write_at(path, data_offset(k["seg"], k["seg_off"]), p)
    r = check(path)
    assert r.returncode == 0 and "(0 errors, 0 warnings)" in r.stdout, r.stdout
    return path


def checked(img, rc):
    r = check(img)
    assert r.returncode == rc, r.stdout + r.stderr
    assert r.stderr == ""
    return r.stdout


def json_report(img):
    return json.loads(check(img, "--json").stdout)


# --- superblock --------------------------------------------------------

def test_superblock_magic(img):
    flip(img, SB_OFF + 8)
    assert "fatal: superblock (byte 4096): bad magic 0x65b05efa96c596ee" in checked(img, 1)


def test_superblock_crc(img):
    flip(img, SB_OFF + 16)
    assert "fatal: superblock (byte 4096): bad CRC" in checked(img, 1)


def test_big_endian_images_are_refused(img):
    edit_u32(img, SB_OFF + 4, 1, SB_OFF, 24)
    assert "big-endian host; pcache supports little-endian caches only" in checked(img, 1)


def test_seg_num_beyond_the_device(img):
    os.truncate(img, 256 << 20)
    out = checked(img, 1)
    assert "seg_num 31 needs 520114176 bytes but the device has 268435456" in out


# --- cache_info ----------------------------------------------------------

def test_damaged_newest_cache_info_uses_the_other(img):
    flip(img, cache_info_off(1) + 12)
    out = checked(img, 1)
    assert ("error: cache_info replica 1 (byte 12288): bad CRC (damage, or an update cut by a "
            "crash); replica 0 (seq 1) is used; pcache_repair rewrites this copy from it") in out
    assert json_report(img)["cache_info"]["replica"] == 0
    assert '<cache_info slot="1"' not in dump(img).stdout


def test_no_valid_cache_info(img):
    flip(img, cache_info_off(0) + 12)
    flip(img, cache_info_off(1) + 12)
    assert ("fatal: cache_info (byte 8192): no valid replica (replica 0 bad CRC, replica 1 bad CRC): "
            "the kernel would re-initialise the cache") in checked(img, 1)


@pytest.mark.parametrize("flags,message", [
    (0x1182 & ~0x1FC0 | 95 << 6, "gc_percent 95 is above the maximum of 90"),
    (0x1182 | 3 << 2, "cache mode 3 (writeonly) is defined by upstream but implemented by no kernel"),
    (0x1182 | 6 << 2, "unknown cache mode 6"),
    (0x1180, "INIT_DONE is clear"),
])
def test_cache_info_field_errors(img, flags, message):
    edit_u32(img, cache_info_off(1) + 16, flags | 1, cache_info_off(1), 24)
    out = checked(img, 1)
    assert f"error: cache_info replica 1 (byte 12288): {message}" in out


@pytest.mark.parametrize("mode", [1, 2, 4])
def test_pcache_cache_modes_and_needs_check_are_valid(img, mode):
    edit_u32(img, cache_info_off(1) + 16, 0x1183 | mode << 2 | 1 << 13, cache_info_off(1), 24)
    checked(img, 0)


def test_n_segs_beyond_seg_num(img):
    edit_u32(img, cache_info_off(1) + 12, 40, cache_info_off(1), 24)
    assert "n_segs 40 exceeds the superblock's seg_num 31" in checked(img, 1)


def test_stray_copy_from_old_kernels_is_a_warning(img):
    stray = bytearray(read_at(img, cache_info_off(0), 24))
    stray[4] = 3                                        # seq 3, newer than the copies in use
    stray[16:20] = struct.pack("<I", 0x1183 & ~0x1FC0 | 50 << 6)
    stray[0:4] = struct.pack("<I", crc32c(bytes(stray[4:])))
    write_at(img, 8192 + 24, bytes(stray))
    out = checked(img, 0)
    assert "warning: stray cache_info (byte 8216): a cache_info copy (seq 3" in out
    assert "settings (e.g. gc_percent 50) are not in effect" in out


# --- tails -----------------------------------------------------------------

def test_damaged_newest_key_tail_uses_the_other(img):
    flip(img, 0x4010 + 8)
    out = checked(img, 1)
    assert "error: key_tail replica 1 (byte 16400): bad CRC" in out
    assert "replica 0 (seq 1) is used" in out


def test_no_valid_dirty_tail(img):
    flip(img, 0x4020 + 5)
    flip(img, 0x4030 + 5)
    assert "error: dirty_tail (byte 16416): no valid replica" in checked(img, 1)


def test_dirty_tail_not_on_the_log(img):
    edit_u32(img, 0x4030 + 12, 112, 0x4030, 16)
    assert "dirty_tail 0:112 is not a kset position on the log from key_tail 0:0 to its end 0:312" in \
        checked(img, 1)


def test_tail_outside_the_cache(img):
    edit_u32(img, 0x4010 + 8, 40, 0x4010, 16)
    assert "error: key_tail replica 1 (byte 16400): position 40:0 names cache segment 40 of 31" in \
        checked(img, 1)


# --- segments ----------------------------------------------------------------

def test_damaged_older_seg_info_is_an_error_naming_the_copy_used(img):
    flip(img, seg_info_offset_of(3, 0) + 13)
    out = checked(img, 1)
    assert "error: segment 3 seg_info replica 0" in out and "replica 1 (seq 2) is used" in out
    # The chain is intact: nothing else is reported.
    assert "cannot be found" not in out


def test_damaged_newest_seg_info_falls_back_to_the_unchained_copy(img):
    # Linux 6.18's format leaves seq 1 without HAS_NEXT in slot 0 and the
    # chaining rewrite (seq 2) in slot 1: losing slot 1 breaks the chain for
    # the kernel too.
    flip(img, seg_info_offset_of(3, 1) + 13)
    out = checked(img, 1)
    assert "error: segment 3 seg_info replica 1" in out and "replica 0 (seq 1) is used" in out
    assert ("error: segment 3 seg_info replica 0 (byte 50352128): HAS_NEXT is clear but the chain "
            "must hold 31 segments; cache segments 4..30 cannot be found") in out


def test_no_valid_seg_info_breaks_the_chain(img):
    flip(img, seg_info_offset_of(3, 0) + 9)
    flip(img, seg_info_offset_of(3, 1) + 9)
    assert "error: segment 3 seg_info (byte 50352128): no valid replica" in checked(img, 1)


def test_no_valid_seg_gen(img):
    flip(img, seg_gen_offset_of(1, 0) + 8)
    assert f"error: segment 1 seg_gen (byte {seg_gen_offset_of(1, 0)}): no valid replica" in checked(img, 1)


def test_chain_cycle(img):
    edit_u32(img, seg_info_offset_of(2, 1) + 12, 1, seg_info_offset_of(2, 1), 16)
    assert "next segment 1 is already in the chain; cache segments 3..30 cannot be found" in checked(img, 1)


def test_chain_broken(img):
    edit_u32(img, seg_info_offset_of(2, 1) + 8, 0x2, seg_info_offset_of(2, 1), 16)
    assert "HAS_NEXT is clear but the chain must hold 31 segments" in checked(img, 1)


# --- the log -------------------------------------------------------------------

def test_damaged_kset_in_the_middle(img, tmp_path):
    flip(img, key_field("B", 1, 32))
    out = checked(img, 1)
    assert ("error: kset at 0:104 (byte 32872): damaged kset: it fails its CRC but the log goes on at "
            "0:208") in out
    assert "origin bytes [2097152, 2105344), [3145728, 3153920)" in out
    # dump refuses, and leaves no file behind ...
    xml = tmp_path / "out.xml"
    r = run("pcache_dump", "-o", xml, img)
    assert r.returncode == 1 and "pcache_dump --repair to dump what is readable" in r.stderr
    assert not xml.exists()
    # ... unless told to step over it.
    r = run("pcache_dump", "--repair", "-o", xml, img)
    assert r.returncode == 0, r.stderr
    assert "--repair: error: kset at 0:104" in r.stderr and "stepped over, its keys skipped" in r.stderr
    text = xml.read_text()
    assert '<kset seg="0" off="104"' not in text and '<kset seg="0" off="208">' in text


def test_torn_last_kset_is_a_warning(img):
    flip(img, key_field("C", 1, 0))
    out = checked(img, 0)
    assert "warning: kset at 0:208 (byte 32976): the log ends with a kset that fails its CRC" in out
    assert json_report(img)["log"]["keys"] == 4


@pytest.mark.parametrize("field_off,value,message", [
    (0, (4 << 20) - 4096, "crosses a 4 MiB boundary of the origin"),
    (16, 99, "payload in cache segment 99 of 31"),
    (24, 5, "generation 5 is ahead of its segment's 0"),
    (8, 1000, "length 1000 is not a multiple of 512"),
])
def test_key_field_errors(img, field_off, value, message):
    width = "<Q" if field_off in (0, 24) else "<I"
    write_at(img, key_field("A", 1, field_off), struct.pack(width, value))
    reseal_kset(img, "A")
    out = checked(img, 1)
    assert f"key 1 of kset 0:0 (byte {key_field('A', 1, 0)}): {message}" in out


def test_damaged_payload(img):
    flip(img, data_offset(1, 3 * 8192 + 77))
    out = checked(img, 1)
    assert "error: payload of key 1 of kset 0:104" in out
    assert "the cached data is damaged; origin bytes [3145728, 3153920)" in out
    assert "result: clean" in checked_with(img, "--skip-data")


def checked_with(img, *args):
    r = check(img, *args)
    assert r.returncode == 0, r.stdout
    return r.stdout


def test_two_keys_sharing_cache_bytes(img):
    write_at(img, key_field("C", 0, 20), struct.pack("<I", 8192))
    reseal_kset(img, "C")
    assert "key number 4 of the log claims cache bytes at 1:8192 that key number 1 holds" in checked(img, 1)


def test_payload_inside_the_log_segment(img):
    write_at(img, key_field("B", 0, 16), struct.pack("<I", 0))
    reseal_kset(img, "B")
    assert "has its payload in cache segment 0, which holds ksets of the log" in checked(img, 1)
