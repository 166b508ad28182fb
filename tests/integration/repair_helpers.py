"""Helpers for the pcache_repair / pcache_writeback CLI tests
(test_repair_*.py, test_writeback_*.py, test_damage_matrix_cli.py): a cache
image with real data in both windows of the log, and the logical view of a
cache as pcache_dump --logical shows it."""

import json
import re

from tools_helpers import CacheXml, crc32c, data_offset, image, restored, run, write_at, MIB

ORIGIN_SIZE = 64 * MIB


def payload(i, length):
    """A recognisable payload for key i."""
    return bytes([(i * 37 + 11) % 251 + 1]) * length


def data_cache(tmp_path, data_crc=True, name="cache"):
    """A cache whose log runs from segment 0 into segment 3 through a LAST
    kset, with clean keys before dirty_tail (their data is on the origin),
    dirty keys after it, newer keys over older ones, and payloads in data
    segments 1 and 2.  Returns (image, origin, kset positions)."""
    keys = [
        # clean window
        {"off": 0, "len": 8192, "seg": 1, "seg_off": 0},
        {"off": MIB, "len": 4096, "seg": 1, "seg_off": 8192},
        # dirty window
        {"off": 4096, "len": 4096, "seg": 1, "seg_off": 12288},          # over the first
        {"off": 3 * MIB, "len": 8192, "seg": 1, "seg_off": 16384},
        {"off": 4 * MIB, "len": 4096, "seg": 2, "seg_off": 0},
        {"off": 5 * MIB, "len": 16384, "seg": 2, "seg_off": 4096},
        {"off": 3 * MIB + 4096, "len": 4096, "seg": 2, "seg_off": 20480},  # over the fourth
        {"off": 6 * MIB, "len": 4096, "seg": 2, "seg_off": 24576},
        {"off": 7 * MIB, "len": 4096, "seg": 1, "seg_off": 24576},
    ]
    data = [payload(i, k["len"]) for i, k in enumerate(keys)]
    if data_crc:
        keys = [dict(k, data_crc=crc32c(d)) for k, d in zip(keys, data)]
    cache = CacheXml(data_crc=data_crc)
    cache.cache_info = [(0, 1), (1, 2)]
    pos = {}
    pos["clean"] = cache.kset(keys[0:2])
    pos["a"] = cache.kset(keys[2:4])
    pos["b"] = cache.kset(keys[4:6])
    pos["last"] = cache.last(3)
    pos["c"] = cache.kset(keys[6:8])
    pos["d"] = cache.kset(keys[8:9])
    cache.key_tail = [(0, 1, (0, 0)), (1, 2, (0, 0))]
    cache.dirty_tail = [(0, 1, pos["a"]), (1, 2, pos["a"])]
    img = restored(tmp_path, cache, name=name)
    for k, d in zip(keys, data):
        write_at(img, data_offset(k["seg"], k["seg_off"]), d)
    origin = image(tmp_path / f"{name}.origin", ORIGIN_SIZE)
    for k, d in zip(keys[0:2], data[0:2]):
        write_at(origin, k["off"], d)
    return img, origin, pos


def kset_offset(pos):
    seg, off = pos
    return data_offset(seg, off)


def logical_view(img, *args):
    """{origin sector: (512 bytes, dirty)} from pcache_dump --logical."""
    r = run("pcache_dump", "--logical", *args, img)
    assert r.returncode == 0, r.stderr
    view = {}
    with open(img, "rb") as f:
        for m in re.finditer(r'<extent off="(\d+)" len="(\d+)" seg="\d+" seg_off="\d+" '
                             r'dev_off="(\d+)" dirty="(true|false)"/>', r.stdout):
            off, length, dev, dirty = int(m[1]), int(m[2]), int(m[3]), m[4] == "true"
            f.seek(dev)
            data = f.read(length)
            for s in range(length // 512):
                view[off // 512 + s] = (data[s * 512:(s + 1) * 512], dirty)
    return view


def repair_json(*args):
    r = run("pcache_repair", "--json", *args)
    return r, (json.loads(r.stdout) if r.stdout else None)


def in_ranges(ranges, sector):
    b = sector * 512
    return any(r["begin"] <= b < r["end"] for r in ranges)


def digest(path):
    """A hash of a sparse image's content that reads only its data regions:
    (offset, bytes) of every non-zero 4 KiB block, and the size.  Two files
    with the same content have the same digest however sparse they are."""
    import hashlib
    import os
    h = hashlib.sha256()
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        h.update(size.to_bytes(8, "little"))
        pos = 0
        zero = bytes(4096)
        while pos < size:
            try:
                pos = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, pos, os.SEEK_HOLE)
            f.seek(pos)
            while pos < end:
                chunk = f.read(min(end - pos, 1 << 20))
                for i in range(0, len(chunk), 4096):
                    block = chunk[i:i + 4096]
                    if block != zero[:len(block)]:
                        h.update((pos + i).to_bytes(8, "little"))
                        h.update(block)
                pos += len(chunk)
    return h.hexdigest()
