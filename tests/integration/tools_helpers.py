"""Helpers for the metadata-tool tests (test_tools_*.py): running the
tools, describing caches as pcache_dump XML, and poking at images.

The XML written here follows docs/xml-format.md and lays a cache out the
way Linux 6.18 formats one (logical segment i = physical segment i,
seg_info replicas seq 1 / seq 2, seg_gen and tails in slot 0), so an image
restored from it looks like one the kernel wrote.
"""

import hashlib
import struct
import subprocess
from pathlib import Path

from harness.vectors import vectors_dir

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "build" / "bin"

MIB = 1 << 20
SEG_SIZE = 16 * MIB
SEG_DATA_OFF = 12 * 1024
SEG_DATA_SIZE = SEG_SIZE - SEG_DATA_OFF
SEGMENTS_OFF = 20 * 1024
SB_OFF = 4096
CACHE_INFO_OFF = (8192, 12288)
KEY_TAIL_OFF = (0x4000, 0x4010)
DIRTY_TAIL_OFF = (0x4020, 0x4030)
KSET_MAGIC = 0x676894A64E164F1A
CRC_SEED = 0x3B15A
MIN_DEVICE = 512 * MIB


def tool(name):
    return str(BIN / name)


def run(name, *args, **kwargs):
    """Runs a tool; never raises on a non-zero exit."""
    return subprocess.run([tool(name), *map(str, args)], capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 300), **kwargs)


def segment_offset(phys):
    return SEGMENTS_OFF + phys * SEG_SIZE


def data_offset(phys, off):
    return segment_offset(phys) + SEG_DATA_OFF + off


def image(path, size=MIN_DEVICE):
    """A sparse file of `size` bytes."""
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def sha256(path, length=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = length
        while remaining is None or remaining > 0:
            chunk = f.read(MIB if remaining is None else min(MIB, remaining))
            if not chunk:
                break
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return h.hexdigest()


def read_at(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def write_at(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def flip(path, off, mask=0x01):
    """Flips bits of one byte: the smallest corruption."""
    byte = read_at(path, off, 1)[0]
    write_at(path, off, bytes([byte ^ mask]))


# CRC-32C with the register starting at the seed and no final xor (spec §2.3).
def _crc_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data, seed=CRC_SEED):
    crc = seed
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc


def reseal(path, off, size):
    """Recomputes the CRC of the `size`-byte record at `off` after an edit,
    so that a test can plant a field error behind a valid CRC."""
    record = read_at(path, off, size)
    write_at(path, off, struct.pack("<I", crc32c(record[4:])))


def edit_u32(path, off, value, record_off, record_size):
    write_at(path, off, struct.pack("<I", value))
    reseal(path, record_off, record_size)


class CacheXml:
    """A cache described as pcache_dump XML.

    Keys go into ksets of up to 128 at the log head; the log starts at
    key_tail in logical segment `log_seg` and moves on with LAST ksets.
    """

    def __init__(self, seg_num=31, data_crc=False, gc_percent=70, mode="writeback",
                 needs_check=False, key_tail=(0, 0)):
        self.seg_num = seg_num
        self.n_segs = seg_num
        self.data_crc = data_crc
        self.gc_percent = gc_percent
        self.mode = mode
        self.needs_check = needs_check
        self.cache_info = [(0, 1)]          # (slot, seq)
        self.key_tail = [(0, 1, key_tail)]  # (slot, seq, (seg, off))
        self.dirty_tail = [(0, 1, key_tail)]
        self.gens = {}                      # seg -> (slot, seq, gen)
        self.records = []                   # ("kset", (seg, off), [keys]) / ("last", pos, next)
        self.head = key_tail

    def kset(self, keys):
        """keys: dicts with off, len, seg, seg_off and optional gen, clean,
        data_crc.  Returns the kset's position."""
        assert 0 < len(keys) <= 128
        pos = self.head
        self.records.append(("kset", pos, keys))
        self.head = (pos[0], pos[1] + 24 + 40 * len(keys))
        return pos

    def last(self, next_seg):
        pos = self.head
        self.records.append(("last", pos, next_seg))
        self.head = (next_seg, 0)
        return pos

    def keys(self, keys, per_kset=128):
        for i in range(0, len(keys), per_kset):
            self.kset(keys[i:i + per_kset])

    def xml(self):
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<pcache_metadata format_version="1">',
               f'  <superblock seg_num="{self.seg_num}"/>']
        flags = (f'data_crc="{str(self.data_crc).lower()}" init_done="true" mode="{self.mode}" '
                 f'gc_percent="{self.gc_percent}" needs_check="{str(self.needs_check).lower()}"')
        for slot, seq in self.cache_info:
            out.append(f'  <cache_info slot="{slot}" seq="{seq}" seg_id="0" n_segs="{self.n_segs}" '
                       f'{flags}/>')
        for name, tails in (("key_tail", self.key_tail), ("dirty_tail", self.dirty_tail)):
            for slot, seq, (seg, off) in tails:
                out.append(f'  <{name} slot="{slot}" seq="{seq}" seg="{seg}" off="{off}"/>')
        out.append("  <segments>")
        for s in range(self.n_segs):
            out.append(f'    <segment id="{s}" phys="{s}">')
            out.append('      <seg_info slot="0" seq="1" has_next="false" type="1" next="0"/>')
            if s + 1 < self.n_segs:
                out.append(f'      <seg_info slot="1" seq="2" has_next="true" type="1" next="{s + 1}"/>')
            slot, seq, gen = self.gens.get(s, (0, 1, 0))
            out.append(f'      <seg_gen slot="{slot}" seq="{seq}" gen="{gen}"/>')
            out.append("    </segment>")
        out.append("  </segments>")
        out.append("  <log>")
        for kind, (seg, off), body in self.records:
            if kind == "last":
                out.append(f'    <last_kset seg="{seg}" off="{off}" next="{body}"/>')
                continue
            out.append(f'    <kset seg="{seg}" off="{off}">')
            for k in body:
                extra = ' clean="true"' if k.get("clean") else ""
                if k.get("data_crc"):
                    extra += f' data_crc="{k["data_crc"]:#x}"'
                out.append(f'      <key off="{k["off"]}" len="{k["len"]}" seg="{k["seg"]}" '
                           f'seg_off="{k["seg_off"]}" gen="{k.get("gen", 0)}"{extra}/>')
            out.append("    </kset>")
        out.append("  </log>")
        out.append("</pcache_metadata>")
        return "\n".join(out) + "\n"

    def write(self, path):
        Path(path).write_text(self.xml())
        return path


def sequential_keys(n, first_seg=1, length=4096, stride=None, origin=0):
    """n keys of `length` bytes, payloads packed from segment first_seg on,
    origin offsets `stride` apart (default: length)."""
    keys = []
    seg, seg_off = first_seg, 0
    stride = stride or length
    for i in range(n):
        if seg_off + length > SEG_DATA_SIZE:
            seg, seg_off = seg + 1, 0
        keys.append({"off": origin + i * stride, "len": length, "seg": seg, "seg_off": seg_off})
        seg_off += length
    return keys


def restored(tmp_path, cache, name="cache", size=MIN_DEVICE):
    """Restores `cache` (a CacheXml) into a new sparse image; returns its path."""
    xml = cache.write(tmp_path / f"{name}.xml")
    img = image(tmp_path / f"{name}.img", size)
    r = run("pcache_restore", "-i", xml, "-o", img)
    assert r.returncode == 0, r.stderr
    return img


def check(img, *args):
    return run("pcache_check", *args, img)


def dump(img, *args):
    return run("pcache_dump", *args, img)


def decompress_vector(name, dest_dir):
    """Decompresses a golden image (sparse) into dest_dir."""
    src = vectors_dir() / f"{name}.img.zst"
    dest = Path(dest_dir) / f"{name}.img"
    if not dest.exists():
        subprocess.run(["zstd", "-q", "-d", "--sparse", "-f", str(src), "-o", str(dest)], check=True)
    return dest


def seg_info_offset_of(phys, slot):
    return segment_offset(phys) + slot * 4096


def seg_gen_offset_of(phys, slot):
    return segment_offset(phys) + 0x2000 + slot * 16
