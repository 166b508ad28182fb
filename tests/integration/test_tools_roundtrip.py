"""pcache_dump -> pcache_restore -> pcache_dump gives the same XML, and the
restored image checks clean, for every shape of cache the issue lists."""

import json

from tools_helpers import (MIN_DEVICE, SEG_DATA_SIZE, CacheXml, check, crc32c, data_offset, dump,
                           image, read_at, restored, run, sequential_keys, write_at)


def round_trip(tmp_path, cache, size=MIN_DEVICE):
    """restore(cache) -> dump -> restore -> dump; returns (first dump, image)."""
    img = restored(tmp_path, cache, "first", size)
    first = dump(img)
    assert first.returncode == 0, first.stderr
    xml = tmp_path / "dumped.xml"
    xml.write_text(first.stdout)
    again = image(tmp_path / "second.img", size)
    r = run("pcache_restore", "-i", xml, "-o", again)
    assert r.returncode == 0, r.stderr
    second = dump(again)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    # The XML we wrote by hand is what pcache_dump writes, byte for byte.
    assert first.stdout == cache.xml()
    c = check(again)
    assert c.returncode == 0, c.stdout + c.stderr
    assert "result: clean (0 errors, 0 warnings)" in c.stdout
    return first.stdout, again


def report(img, *args):
    r = check(img, "--json", *args)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


def test_empty_cache(tmp_path):
    _, img = round_trip(tmp_path, CacheXml())
    rep = report(img)
    assert rep["log"]["keys"] == 0 and rep["log"]["end"] == "0:0"
    assert rep["segments"] == {"chained": 31, "used": 1, "log": 1, "data": 0}


def test_one_key(tmp_path):
    cache = CacheXml()
    cache.kset([{"off": 1 << 20, "len": 4096, "seg": 1, "seg_off": 0}])
    _, img = round_trip(tmp_path, cache)
    rep = report(img)
    assert rep["log"]["keys"] == 1
    assert rep["map"] == {"live_extents": 1, "live_bytes": 4096, "dirty_extents": 1, "dirty_bytes": 4096}


def test_100000_keys(tmp_path):
    cache = CacheXml()
    cache.keys(sequential_keys(100_000))
    _, img = round_trip(tmp_path, cache)
    rep = report(img)
    assert rep["log"]["keys"] == 100_000
    assert rep["log"]["ksets"] == (100_000 + 127) // 128
    assert rep["map"]["live_bytes"] == 100_000 * 4096


def test_multi_segment_log_with_last_ksets(tmp_path):
    # key_tail near the end of segment 0: two full ksets fill it, then the
    # log moves on with LAST ksets, as the kernel does when a segment fills.
    start = SEG_DATA_SIZE - 24 - 2 * (24 + 40 * 128) - 24 * 5
    cache = CacheXml(key_tail=(0, start))
    keys = sequential_keys(600, first_seg=3)
    cache.kset(keys[:128])
    cache.kset(keys[128:256])
    cache.last(1)
    cache.kset(keys[256:384])
    cache.last(2)
    cache.kset(keys[384:600:2][:100])
    _, img = round_trip(tmp_path, cache)
    rep = report(img)
    assert rep["log"]["last_ksets"] == 2
    assert rep["log"]["start"] == f"0:{start}"
    assert rep["segments"]["log"] == 3


def test_wrapped_sequence_numbers(tmp_path):
    cache = CacheXml()
    cache.cache_info = [(0, 255), (1, 0)]       # 0 follows 255: replica 1 is newer
    cache.key_tail = [(0, 254, (0, 0)), (1, 255, (0, 0))]
    cache.dirty_tail = [(0, 0, (0, 0)), (1, 128, (0, 0))]   # 128 apart: replica 0 wins
    cache.gens = {5: (1, 0, 3)}
    cache.kset([{"off": 0, "len": 4096, "seg": 5, "seg_off": 0, "gen": 3}])
    _, img = round_trip(tmp_path, cache)
    rep = report(img)
    assert rep["cache_info"]["replica"] == 1 and rep["cache_info"]["seq"] == 0
    assert rep["map"]["live_extents"] == 1


def test_data_crc_on_with_payloads_copied(tmp_path):
    """A cache with data CRCs, its payloads copied to a new device."""
    cache = CacheXml(data_crc=True)
    keys = sequential_keys(300, length=8192)
    payloads = {}
    for i, k in enumerate(keys):
        payloads[i] = bytes([i % 251]) * k["len"]
        k["data_crc"] = crc32c(payloads[i])
    cache.keys(keys, per_kset=50)
    src = restored(tmp_path, cache, "source")
    for i, k in enumerate(keys):
        write_at(src, data_offset(k["seg"], k["seg_off"]), payloads[i])
    rep = report(src)
    assert rep["result"] == "clean"
    assert rep["data_crc_verified"] == {"keys": 300, "bytes": 300 * 8192}

    xml = tmp_path / "source.dump.xml"
    xml.write_text(dump(src).stdout)
    dest = image(tmp_path / "dest.img", 600 << 20)
    r = run("pcache_restore", "-i", xml, "-o", dest, "--data-from", src)
    assert r.returncode == 0, r.stderr
    assert "copied 300 payloads" in r.stderr
    assert report(dest)["result"] == "clean"
    assert dump(dest).stdout == xml.read_text()
    k = keys[123]
    assert read_at(dest, data_offset(k["seg"], k["seg_off"]), k["len"]) == payloads[123]


def test_restore_without_data_from_leaves_data_alone(tmp_path):
    cache = CacheXml()
    cache.kset([{"off": 0, "len": 4096, "seg": 2, "seg_off": 0}])
    img = image(tmp_path / "c.img")
    write_at(img, data_offset(2, 0), b"precious" * 512)
    r = run("pcache_restore", "-i", cache.write(tmp_path / "c.xml"), "-o", img)
    assert r.returncode == 0
    assert "data areas left untouched" in r.stderr
    assert read_at(img, data_offset(2, 0), 4096) == b"precious" * 512


def test_human_and_logical_formats(tmp_path):
    cache = CacheXml()
    cache.kset([{"off": 0, "len": 16384, "seg": 1, "seg_off": 0},
                {"off": 4096, "len": 4096, "seg": 1, "seg_off": 16384, "clean": True}])
    img = restored(tmp_path, cache)
    human = dump(img, "--format", "human").stdout
    assert "kset 0:0" in human and "[4096, 8192) -> 1:16384 gen 0 clean" in human
    logical = dump(img, "--logical").stdout
    assert logical.count("<extent ") == 3
    assert '<extent off="4096" len="4096" seg="1" seg_off="16384" dev_off="16826368" dirty="false"/>' in logical
    text = dump(img, "--logical", "--format", "human").stdout
    assert text.splitlines()[0] == "[0, 4096) -> 1:0 (device byte 16809984) dirty"
    assert text.splitlines()[-1].startswith("3 extents, 16.0 KiB (16384 bytes) cached")
