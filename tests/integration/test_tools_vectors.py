"""The tools on images written by Linux v6.18's own dm-pcache
(/work/shared/vectors/upstream-v6.18): they check clean, decode exactly as
the vectors' README says, round-trip byte for byte, and the logical map
reconstructs the logical device's content (its sha256 is in the README)."""

import hashlib
import json
import re

import pytest

from tools_helpers import (MIB, SEG_DATA_OFF, SEGMENTS_OFF, SEG_SIZE, check, decompress_vector, dump,
                           image, read_at, run)

FRESH = "a-fresh-nocrc"
WRITES = "c-writes-clean"
LOGICAL_64M_SHA = "c5740970c7dbacc577bed7a38981fb041f5634e4e37138f2f0bd4946b30f5623"


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """The images, decompressed; zstd verifies each frame's checksum, and the
    decode and logical-content tests below pin what they hold."""
    d = tmp_path_factory.mktemp("vectors")
    out = {name: decompress_vector(f"{name}.pmem0", d) for name in (FRESH, WRITES)}
    out["backing"] = decompress_vector(f"{WRITES}.backing", d)
    return out



def report(img):
    r = check(img, "--json")
    return r.returncode, json.loads(r.stdout)


@pytest.mark.parametrize("name", [FRESH, WRITES])
def test_upstream_images_check_clean(vectors, name):
    r = check(vectors[name])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.endswith("result: clean (0 errors, 0 warnings)\n")


def test_fresh_image_decodes_as_the_readme_says(vectors):
    rc, rep = report(vectors[FRESH])
    assert rc == 0
    # status before removal: 0 63 63 1 70 1182 0:0 0:0 0:0
    assert rep["superblock"] == {"seg_num": 63, "flags": 0}
    ci = rep["cache_info"]
    assert (ci["replica"], ci["seq"], ci["flags"], ci["gc_percent"], ci["n_segs"]) == (0, 1, 0x1182, 70, 63)
    assert rep["key_tail"] == "0:0" and rep["dirty_tail"] == "0:0"
    assert rep["log"]["keys"] == 0 and rep["log"]["end"] == "0:0"
    assert rep["segments"]["used"] == 1
    xml = dump(vectors[FRESH]).stdout
    # key_tail and dirty_tail: slot 0 seq 1, slot 1 invalid (left out)
    assert re.findall(r"<key_tail [^>]*>", xml) == ['<key_tail slot="0" seq="1" seg="0" off="0"/>']
    assert re.findall(r"<dirty_tail [^>]*>", xml) == ['<dirty_tail slot="0" seq="1" seg="0" off="0"/>']
    # 63 chained segments, all generation 0
    assert re.findall(r'<segment id="(\d+)" phys="\1">', xml) == [str(i) for i in range(63)]
    assert len(re.findall(r'<seg_gen slot="0" seq="1" gen="0"/>', xml)) == 63


def test_writes_image_decodes_as_the_readme_says(vectors):
    rc, rep = report(vectors[WRITES])
    assert rc == 0
    log = rep["log"]
    assert (log["ksets"], log["last_ksets"], log["keys"], log["end"]) == (17, 0, 2048, "0:82328")
    # status: 0 63 63 2 70 1182 0:77160 0:0 0:0 (2 segments in use)
    assert rep["segments"]["used"] == 2
    xml = dump(vectors[WRITES]).stdout
    keys = re.findall(r"<key ([^>]*)/>", xml)
    assert len(keys) == 2048
    assert all(' len="4096" ' in f" {k} " for k in keys)
    assert not any("clean=" in k for k in keys)
    assert sum(int(re.search(r'len="(\d+)"', k).group(1)) for k in keys) == 8_388_608
    # every key dirty: dirty_tail is key_tail, so all are in the dirty window
    assert rep["dirty_tail"] == rep["key_tail"] == "0:0"
    assert rep["map"]["dirty_bytes"] == rep["map"]["live_bytes"]


@pytest.mark.parametrize("name", [FRESH, WRITES])
def test_round_trip_is_identical_down_to_the_bytes(vectors, tmp_path, name):
    src = vectors[name]
    first = dump(src).stdout
    xml = tmp_path / "dump.xml"
    xml.write_text(first)
    out = image(tmp_path / "out.img", src.stat().st_size)
    r = run("pcache_restore", "-i", xml, "-o", out)
    assert r.returncode == 0, r.stderr
    assert dump(out).stdout == first
    assert read_at(out, 0, SEGMENTS_OFF) == read_at(src, 0, SEGMENTS_OFF)
    for seg in range(63):
        off = SEGMENTS_OFF + seg * SEG_SIZE
        assert read_at(out, off, SEG_DATA_OFF) == read_at(src, off, SEG_DATA_OFF), f"segment {seg}"
    log_bytes = 82328 + 24 if name == WRITES else 24
    start = SEGMENTS_OFF + SEG_DATA_OFF
    assert read_at(out, start, log_bytes) == read_at(src, start, log_bytes)


def test_logical_map_reconstructs_the_logical_device(vectors):
    """First 64 MiB of the logical device = backing device overlaid with
    every extent of `pcache_dump --logical`, read from pmem."""
    r = dump(vectors[WRITES], "--logical")
    assert r.returncode == 0, r.stderr
    content = bytearray(read_at(vectors["backing"], 0, 64 * MIB))
    extents = re.findall(r'<extent off="(\d+)" len="(\d+)" seg="\d+" seg_off="\d+" dev_off="(\d+)" '
                         r'dirty="(true|false)"/>', r.stdout)
    assert len(extents) == 1933
    with open(vectors[WRITES], "rb") as pmem:
        for off, length, dev_off, dirty in extents:
            off, length, dev_off = int(off), int(length), int(dev_off)
            assert dirty == "true"
            pmem.seek(dev_off)
            content[off:off + length] = pmem.read(length)
    assert hashlib.sha256(content).hexdigest() == LOGICAL_64M_SHA
