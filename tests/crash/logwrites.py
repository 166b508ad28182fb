#!/usr/bin/python3
"""Replay a dm-log-writes log and check that the backing device of a pcache
target held a prefix of the workload at every FLUSH.

Debian ships the dm-log-writes target but not xfstests' replay-log, so this
is our own replayer of the log format (drivers/md/dm-log-writes.c): a
super block in sector 0 (magic, version, nr_entries, sectorsize), then per
entry one sector holding (sector, nr_sectors, flags, data_len) followed by
nr_sectors of data (marks keep their name in the entry sector, discards
have no data).  Writes are logged in the order they reached stable
storage: a plain write only once a later FLUSH completed.

    logwrites.py LOGDEV WORKLOAD.json

WORKLOAD.json: {"span": [off, len], "ops": [...]} (tests/crash/workloads.py
operations, numbered from 0, run in order through pcache; every FLUSH op
was acknowledged before the next op started).  The data device's span was
zero before the workload.

At every FLUSH entry of the log the span replayed so far must equal the
workload's content after some kset-granular prefix of it: every 4 MiB
region holds a prefix of its own writes (keys of one region go through one
kset buffer, in order), and no write appears while a write of an earlier
FLUSH epoch is missing.  At the end it must equal the whole workload.
Prints one line per FLUSH checked; exit status 1 on the first violation.
"""

import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads as wl  # noqa: E402

LOG_MAGIC = 0x6A736677736872
LOG_FLUSH = 1 << 0
LOG_FUA = 1 << 1
LOG_DISCARD = 1 << 2
LOG_MARK = 1 << 3


def entries(path):
    """Yield (sector, nr_sectors, flags, data) in log order (sectors in
    the log's sector size)."""
    with open(path, "rb") as f:
        magic, version, nr, sectorsize = struct.unpack("<QQQI", f.read(28))
        if magic != LOG_MAGIC:
            raise SystemExit(f"{path}: not a dm-log-writes log (magic {magic:#x})")
        pos = sectorsize
        for _ in range(nr):
            f.seek(pos)
            sector, nr_sectors, flags, data_len = struct.unpack("<QQQQ", f.read(32))
            pos += sectorsize
            data = b""
            if not flags & (LOG_DISCARD | LOG_MARK) and nr_sectors:
                f.seek(pos)
                data = f.read(nr_sectors * sectorsize)
                pos += nr_sectors * sectorsize
            yield sector * sectorsize, flags, data


class Workload:
    def __init__(self, spec):
        self.base, self.length = spec["span"]
        self.ops = [tuple(op) for op in spec["ops"]]
        # epoch of each op: the number of FLUSHes before it
        self.epoch, e = [], 0
        for op in self.ops:
            self.epoch.append(e)
            if op[0] == "F":
                e += 1
        self.region_writes = {}
        for i, op in enumerate(self.ops):
            if op[0] != "F":
                self.region_writes.setdefault(op[1] // wl.REGION, []).append(i)

    def content(self, included):
        """Block -> op number after applying the writes in `included`."""
        state = {}
        for i in sorted(included):
            op = self.ops[i]
            for off in range(op[1], op[1] + op[2], wl.BLOCK):
                state[off] = i
        return state

    def check(self, image):
        """image: bytes of the span.  Returns None or what is wrong."""
        seen = {}
        for off in range(self.base, self.base + self.length, wl.BLOCK):
            got = wl.identify(image[off - self.base:off - self.base + wl.BLOCK], off,
                              lambda o: bytes(wl.BLOCK))
            if got is None:
                return f"block {off} holds data no write of the workload put there"
            seen[off] = got
        included = set()
        for region, writes in self.region_writes.items():
            newest = max((seen[o] for o in seen if o // wl.REGION == region
                          and seen[o] != "init"), default=-1)
            included |= {i for i in writes if i <= newest}
        expect = self.content(included)
        for off, got in seen.items():
            if expect.get(off, "init") != got:
                return (f"block {off} holds {got}, but the prefix the newest blocks "
                        f"imply gives {expect.get(off, 'init')}: not a prefix per region")
        if included:
            newest_epoch = max(self.epoch[i] for i in included)
            missing = [i for i, op in enumerate(self.ops)
                       if op[0] != "F" and self.epoch[i] < newest_epoch and i not in included]
            if missing:
                return (f"write {missing[0]} of FLUSH epoch {self.epoch[missing[0]]} is "
                        f"missing while a write of epoch {newest_epoch} is there")
        return None

    def complete(self):
        return self.content({i for i, op in enumerate(self.ops) if op[0] != "F"})


def main():
    logdev, spec = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
    work = Workload(spec)
    image = bytearray(work.length)
    flushes = 0
    for off, flags, data in entries(logdev):
        if data:
            lo, hi = max(off, work.base), min(off + len(data), work.base + work.length)
            if lo < hi:
                image[lo - work.base:hi - work.base] = data[lo - off:hi - off]
        if flags & LOG_FLUSH:
            flushes += 1
            problem = work.check(bytes(image))
            if problem:
                print(f"FLUSH {flushes}: {problem}")
                return 1
            print(f"FLUSH {flushes}: a prefix of the workload")
    final = work.complete()
    for off in range(work.base, work.base + work.length, wl.BLOCK):
        got = wl.identify(image[off - work.base:off - work.base + wl.BLOCK], off,
                          lambda o: bytes(wl.BLOCK))
        if got != final.get(off, "init"):
            print(f"end: block {off} holds {got}, the workload ends with "
                  f"{final.get(off, 'init')}")
            return 1
    print(f"{flushes} FLUSHes checked; the log ends with the whole workload")
    return 0 if flushes else 1


if __name__ == "__main__":
    sys.exit(main())
