"""A representative subset of the damage matrix (the full matrix runs in
process: tests/unit/damage_matrix_test.cc) through the installed tools:
one field of each kind of on-media structure damaged, with and without its
CRC made valid again.  For each: pcache_check reports it, pcache_dump
--repair, pcache_repair and pcache_writeback --salvage finish (no crash, no
hang: a timeout fails the test) with exit 0 or 1, the repaired copy checks
clean and repairs to itself byte for byte, and every dirty sector of the
undamaged cache is in the copy or in a range the repair lists as lost."""

import struct

import pytest

from repair_helpers import data_cache, digest, in_ranges, kset_offset, logical_view, repair_json
from tools_helpers import (CACHE_INFO_OFF, DIRTY_TAIL_OFF, KEY_TAIL_OFF, SB_OFF, check, read_at,
                           reseal, run, seg_gen_offset_of, seg_info_offset_of, write_at)

TIMEOUT = 60


def put(img, off, width, value):
    write_at(img, off, value.to_bytes(width, "little"))


def kset_size(img, off):
    key_num, _, flags = struct.unpack("<IQQ", read_at(img, off + 4, 20))
    return 24 if flags & 1 else 24 + 40 * min(key_num, 128)


# (name, function(img, pos) -> (field offset, width, new value, record, record size))
def sb_magic(img, pos):
    return SB_OFF + 8, 8, 0, SB_OFF, 24


def cache_info_n_segs(img, pos):
    return CACHE_INFO_OFF[1] + 12, 4, 0xFFFFFFFF, CACHE_INFO_OFF[1], 24


def key_tail_seg(img, pos):
    return KEY_TAIL_OFF[1] + 8, 4, 1, KEY_TAIL_OFF[1], 16


def dirty_tail_off(img, pos):
    return DIRTY_TAIL_OFF[1] + 12, 4, 12345, DIRTY_TAIL_OFF[1], 16


def seg_info_next(img, pos):
    return seg_info_offset_of(2, 1) + 12, 4, 0, seg_info_offset_of(2, 1), 16


def seg_gen_gen(img, pos):
    return seg_gen_offset_of(2, 0) + 8, 8, 1, seg_gen_offset_of(2, 0), 16


def kset_key_num(img, pos):
    off = kset_offset(pos["b"])
    return off + 4, 4, 3, off, None


def kset_magic(img, pos):
    off = kset_offset(pos["a"])
    return off + 8, 8, 0x1234, off, None


def last_next(img, pos):
    off = kset_offset(pos["last"])
    return off + 4, 4, 2, off, None


def key_len(img, pos):
    off = kset_offset(pos["c"])
    return off + 24 + 8, 4, 0, off, None


def key_seg(img, pos):
    off = kset_offset(pos["a"])
    return off + 24 + 40 + 16, 4, 77, off, None


CASES = [sb_magic, cache_info_n_segs, key_tail_seg, dirty_tail_off, seg_info_next, seg_gen_gen,
         kset_key_num, kset_magic, last_next, key_len, key_seg]


@pytest.mark.parametrize("resealed", [False, True], ids=["crc-damaged", "crc-recomputed"])
@pytest.mark.parametrize("damage", CASES, ids=[c.__name__ for c in CASES])
def test_damage_through_the_tools(tmp_path, damage, resealed):
    img, origin, pos = data_cache(tmp_path)
    original = logical_view(img)
    field, width, value, record, size = damage(img, pos)
    put(img, field, width, value)
    if resealed:
        reseal(img, record, size or kset_size(img, record))

    r = run("pcache_check", img, timeout=TIMEOUT)
    assert r.returncode == 1, r.stdout
    r = run("pcache_dump", "--repair", "-o", tmp_path / "dump.xml", img, timeout=TIMEOUT)
    assert r.returncode in (0, 1) and r.stderr.startswith("pcache_dump: "), r.stderr

    out = tmp_path / "out.img"
    r, rep = repair_json("-i", img, "-o", out)
    assert r.returncode in (0, 1) and rep is not None, r.stderr
    assert (r.returncode == 0) == (not rep["dirty_data_lost"])
    assert check(out).returncode == 0, check(out).stdout
    r2 = run("pcache_repair", "-i", out, "-o", tmp_path / "again.img", timeout=TIMEOUT)
    assert r2.returncode == 0 and r2.stdout.endswith("result: clean (nothing to repair)\n"), r2.stdout
    assert digest(tmp_path / "again.img") == digest(out)
    repaired = logical_view(out)
    missing = [s for s, (data, dirty) in original.items()
               if dirty and repaired.get(s) != (data, True) and not in_ranges(rep["lost"], s)
               and not rep["unreadable"]]
    assert missing == [], rep

    r = run("pcache_writeback", "--salvage", "--cache", img, "--origin", origin, timeout=TIMEOUT)
    assert r.returncode in (0, 1), r.stderr
    assert ("not recoverable" in r.stdout) == (r.returncode == 1), r.stdout
