#!/usr/bin/python3
"""Writes the seed inputs of the regression corpus (tests/fuzz/corpus/):
valid records for the decoders, patches for the walker (an empty patch is
the valid base image), and pcache_dump XML for the reader.  Run once;
the files are committed, and inputs that found bugs are added next to
them."""

import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
from repair_helpers import data_cache  # noqa: E402
from tools_helpers import crc32c, run  # noqa: E402

CORPUS = HERE / "corpus"
KSET_MAGIC = 0x676894A64E164F1A


def seal(record):
    return struct.pack("<I", crc32c(record[4:])) + record[4:]


def records():
    sb = seal(struct.pack("<IIQII", 0, 0, 0x65B05EFA96C596EF, 31, 0))
    ci = [seal(struct.pack("<IBBHIIII", 0, s, 0, 0, 0, 31, 0x1182, 0)) for s in (1, 2)]
    pos = [seal(struct.pack("<IBBHII", 0, s, 0, 0, 0, 104 * s)) for s in (1, 2)]
    si = [seal(struct.pack("<IBBHII", 0, 1, 0, 0, 0x2, 0)), seal(struct.pack("<IBBHII", 0, 2, 0, 0, 0x3, 1))]
    sg = [seal(struct.pack("<IBBHQ", 0, 1, 0, 0, 0)), b"\0" * 16]
    key = struct.pack("<QIIIIQII", 4096, 4096, 0, 1, 0, 0, 0, 0)
    kset = seal(struct.pack("<IIQQ", 0, 2, KSET_MAGIC, 0) + key + key)
    last = seal(struct.pack("<IIQQ", 0, 5, KSET_MAGIC, 1))
    return sb + b"".join(ci) + b"".join(pos) + b"".join(si) + b"".join(sg), kset, last


def main():
    for d in ("decoders", "walker", "xml"):
        (CORPUS / d).mkdir(parents=True, exist_ok=True)
    head, kset, last = records()
    (CORPUS / "decoders" / "seed-valid-records").write_bytes(head + kset)
    (CORPUS / "decoders" / "seed-last-kset").write_bytes(head + last)
    (CORPUS / "decoders" / "seed-kset-bad-key-count").write_bytes(head + kset[:4] + b"\x03" + kset[5:])
    (CORPUS / "decoders" / "seed-empty").write_bytes(b"")

    # walker: region, offset (le16), length, bytes.  Regions in targets.cc.
    def patch(region, off, data):
        return bytes([region]) + struct.pack("<H", off) + bytes([len(data)]) + data
    seeds = {
        "seed-base-image": b"",
        "seed-cache-info-replica": patch(2, 12, b"\xff"),
        "seed-both-tails": patch(3, 1, b"\x42") + patch(3, 17, b"\x42"),
        "seed-mid-log-kset-crc": patch(10, 272, b"\x00\x00"),
        "seed-key-count": patch(10, 276, b"\x05"),
        "seed-last-kset-magic": patch(10, 424, b"\x00"),
        "seed-payload": patch(12, 100, b"\x55\x55\x55"),
        "seed-chain-link": patch(7, 12, b"\x09"),
        "seed-superblock": patch(0, 8, b"\x00" * 8),
    }
    for name, data in seeds.items():
        (CORPUS / "walker" / name).write_bytes(data)

    with tempfile.TemporaryDirectory() as tmp:
        img, _, _ = data_cache(Path(tmp))
        xml = run("pcache_dump", img).stdout
    (CORPUS / "xml" / "seed-dump").write_text(xml)
    (CORPUS / "xml" / "seed-truncated").write_text(xml[: len(xml) // 2])
    (CORPUS / "xml" / "seed-bad-attribute").write_text(xml.replace('seq="2"', 'seq="300"', 1))
    (CORPUS / "xml" / "seed-not-xml").write_bytes(b"\x00\x01 not xml")


if __name__ == "__main__":
    main()
