#!/usr/bin/python3
"""Metadata-tool benchmark: pcache_check / pcache_dump against
thin-provisioning-tools' cache_check / cache_dump, at 4 Mi entries each.

In one run it builds
  - a pcache image holding 4,194,304 keys of 4 KiB (16 GiB of cache data,
    data CRCs off as in the kernel's default), with pcache_restore into a
    sparse file: the key log fills 11 segments and moves on with LAST
    ksets, every key maps a distinct random 4 KiB block of a 32 GiB origin;
  - dm-cache metadata with 4,194,304 mappings (every cache block mapped
    and hinted, one third dirty, random distinct origin blocks), with
    cache_restore;
then times each tool (wall clock, median of --runs runs after one warm-up,
files in the page cache) and takes its peak RSS from /usr/bin/time, and
writes bench/results/tools/report.md and report.json.

Targets (issue 3): pcache_check >= 10x faster than cache_check, and at most
32 bytes of RAM per key.

    make bench-tools                 # the full run (a few minutes, ~18 GB sparse)
    bench/tools_bench.py --keys 100000 --runs 1 --out /tmp/smoke   # quick look
"""

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "build" / "bin"

SEG_SIZE = 16 << 20
SEG_DATA_SIZE = SEG_SIZE - 12 * 1024
KSET_MAX = 24 + 40 * 128
BLOCK = 4096


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pcache_xml(path, keys, seed):
    """A pcache cache of `keys` 4 KiB keys, as pcache_dump XML."""
    rng = random.Random(seed)
    origin_blocks = rng.sample(range(keys * 2), keys)
    per_seg = SEG_DATA_SIZE // BLOCK
    ksets = (keys + 127) // 128
    per_key_seg = (SEG_DATA_SIZE - 24) // KSET_MAX
    key_segs = (ksets + per_key_seg - 1) // per_key_seg
    data_segs = (keys + per_seg - 1) // per_seg
    seg_num = key_segs + data_segs + 2
    with open(path, "w") as f:
        w = f.write
        w('<?xml version="1.0" encoding="UTF-8"?>\n<pcache_metadata format_version="1">\n')
        w(f'  <superblock seg_num="{seg_num}"/>\n')
        w(f'  <cache_info slot="0" seq="1" seg_id="0" n_segs="{seg_num}" data_crc="false" '
          'init_done="true" mode="writeback" gc_percent="70" needs_check="false"/>\n')
        w('  <key_tail slot="0" seq="1" seg="0" off="0"/>\n')
        w('  <dirty_tail slot="0" seq="1" seg="0" off="0"/>\n  <segments>\n')
        for s in range(seg_num):
            w(f'    <segment id="{s}" phys="{s}">\n'
              '      <seg_info slot="0" seq="1" has_next="false" type="1" next="0"/>\n')
            if s + 1 < seg_num:
                w(f'      <seg_info slot="1" seq="2" has_next="true" type="1" next="{s + 1}"/>\n')
            w('      <seg_gen slot="0" seq="1" gen="0"/>\n    </segment>\n')
        w('  </segments>\n  <log>\n')
        seg, off = 0, 0
        for k in range(0, keys, 128):
            n = min(128, keys - k)
            if off + 24 + 40 * n + 24 > SEG_DATA_SIZE:
                w(f'    <last_kset seg="{seg}" off="{off}" next="{seg + 1}"/>\n')
                seg, off = seg + 1, 0
            w(f'    <kset seg="{seg}" off="{off}">\n')
            lines = []
            for i in range(k, k + n):
                dseg = key_segs + i // per_seg
                lines.append(f'      <key off="{origin_blocks[i] * BLOCK}" len="4096" seg="{dseg}" '
                             f'seg_off="{(i % per_seg) * BLOCK}" gen="0"/>\n')
            w("".join(lines))
            w('    </kset>\n')
            off += 24 + 40 * n
        w('  </log>\n</pcache_metadata>\n')
    return seg_num


def dm_cache_xml(path, blocks, seed):
    """dm-cache metadata of `blocks` mappings, as cache_dump XML."""
    rng = random.Random(seed + 1)
    origin = rng.sample(range(blocks * 2), blocks)
    with open(path, "w") as f:
        w = f.write
        w(f'<superblock uuid="" block_size="128" nr_cache_blocks="{blocks}" policy="smq" hint_width="4">\n'
          '  <mappings>\n')
        for start in range(0, blocks, 65536):
            w("".join(f'    <mapping cache_block="{i}" origin_block="{origin[i]}" '
                      f'dirty="{"true" if i % 3 == 0 else "false"}"/>\n'
                      for i in range(start, min(blocks, start + 65536))))
        w('  </mappings>\n  <hints>\n')
        for start in range(0, blocks, 65536):
            w("".join(f'    <hint cache_block="{i}" data="AAAAAA=="/>\n'
                      for i in range(start, min(blocks, start + 65536))))
        w('  </hints>\n</superblock>\n')


def run_checked(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r


def measure(cmd, runs):
    """(median wall seconds, peak RSS KiB) over `runs` runs after a warm-up."""
    times, peaks = [], []
    for i in range(runs + 1):
        t = time.monotonic()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", *map(str, cmd)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        elapsed = time.monotonic() - t
        if r.returncode != 0:
            sys.exit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr}")
        if i:   # the first run warms the page cache
            times.append(elapsed)
            peaks.append(int(r.stderr.splitlines()[-1]))
    return statistics.median(times), max(peaks)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def tool_version(cmd):
    return subprocess.run([cmd, "-V"], capture_output=True, text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=4 * 1024 * 1024, help="keys and mappings (default 4 Mi)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per tool (median)")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "bench-tools",
                    help="scratch directory (sparse files, removed at the end)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tools")
    ap.add_argument("--keep", action="store_true", help="keep the scratch files")
    args = ap.parse_args()

    for tool in ("pcache_check", "pcache_dump", "pcache_restore"):
        if not (BIN / tool).exists():
            sys.exit(f"{BIN / tool} missing: run 'make tools' first")
    for tool in ("cache_check", "cache_dump", "cache_restore", "cache_metadata_size"):
        if not shutil.which(tool):
            sys.exit(f"{tool} missing: run 'make deps' (thin-provisioning-tools)")

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    n = args.keys
    try:
        log(f"pcache XML with {n} keys")
        pxml = work / "pcache.xml"
        seg_num = pcache_xml(pxml, n, seed=3)
        img = work / "pcache.img"
        img.unlink(missing_ok=True)
        with open(img, "wb") as f:
            f.truncate(max(20480 + seg_num * SEG_SIZE, 512 << 20))
        log(f"pcache_restore into a {seg_num}-segment sparse image")
        t = time.monotonic()
        run_checked([BIN / "pcache_restore", "-i", pxml, "-o", img])
        restore_s = time.monotonic() - t

        log(f"dm-cache XML with {n} mappings")
        dxml = work / "dm-cache.xml"
        dm_cache_xml(dxml, n, seed=3)
        sectors = int(run_checked(["cache_metadata_size", "--nr-blocks", n]).stdout.split()[0])
        meta = work / "dm-cache.meta"
        with open(meta, "wb") as f:
            f.truncate(sectors * 512)
        log("cache_restore")
        t = time.monotonic()
        run_checked(["cache_restore", "-q", "-i", dxml, "-o", meta])
        cache_restore_s = time.monotonic() - t
        for x in (pxml, dxml):
            x.unlink()

        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        results = {}
        for name, cmd in [
            ("pcache_check", [BIN / "pcache_check", img]),
            ("cache_check", ["cache_check", meta]),
            ("pcache_dump", [BIN / "pcache_dump", "-o", "/dev/null", img]),
            ("cache_dump", ["cache_dump", "-o", "/dev/null", meta]),
        ]:
            log(f"timing {name}")
            seconds, rss = measure(cmd, args.runs)
            results[name] = {"seconds": round(seconds, 3), "peak_rss_kib": rss,
                             "bytes_per_entry": round(rss * 1024 / n, 1)}
        check_out = run_checked([BIN / "pcache_check", "--json", img]).stdout
        rep = json.loads(check_out)
        assert rep["result"] == "clean" and rep["log"]["keys"] == n, check_out[:2000]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    speedup = results["cache_check"]["seconds"] / results["pcache_check"]["seconds"]
    dump_speedup = results["cache_dump"]["seconds"] / results["pcache_dump"]["seconds"]
    per_key = results["pcache_check"]["bytes_per_entry"]
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release(),
                 "load_average": load},
        "runs": args.runs,
        "entries": n,
        "pcache": {"segments": seg_num, "ksets": rep["log"]["ksets"], "last_ksets": rep["log"]["last_ksets"],
                   "log_bytes": rep["log"]["bytes"], "restore_seconds": round(restore_s, 2),
                   "version": tool_version(str(BIN / "pcache_check"))},
        "dm_cache": {"metadata_bytes": sectors * 512, "restore_seconds": round(cache_restore_s, 2),
                     "version": tool_version("cache_check")},
        "results": results,
        "check_speedup": round(speedup, 1),
        "dump_speedup": round(dump_speedup, 1),
        "targets": {"check_speedup_at_least_10x": speedup >= 10,
                    "at_most_32_bytes_per_key": per_key <= 32},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    print(markdown(report))


def markdown(r):
    res = r["results"]
    rows = "\n".join(
        f"| {name} | {res[name]['seconds']:.3f} | {res[name]['peak_rss_kib'] / 1024:.1f} | "
        f"{res[name]['bytes_per_entry']:.1f} |" for name in ("pcache_check", "cache_check", "pcache_dump",
                                                            "cache_dump"))
    ok = lambda b: "met" if b else "**missed**"
    return f"""# Metadata tools: pcache vs dm-cache (thin-provisioning-tools)

{r['date']}, {r['host']['cpus']} CPUs ({r['host']['cpu']}), Linux {r['host']['kernel']};
pcache tools {r['pcache']['version']}, thin-provisioning-tools {r['dm_cache']['version']}.
Made by `make bench-tools` (bench/tools_bench.py).

Input: {r['entries']:,} entries on each side.

- pcache: {r['entries']:,} keys of 4 KiB ({r['entries'] * 4 / 2**20:g} GiB of cache data, data CRCs
  off), each on a distinct random 4 KiB block of a {r['entries'] * 8 / 2**20:g} GiB origin; {r['pcache']['ksets']:,} ksets and {r['pcache']['last_ksets']}
  LAST ksets ({r['pcache']['log_bytes']:,} bytes of log) in a {r['pcache']['segments']}-segment sparse
  image built by pcache_restore in {r['pcache']['restore_seconds']} s.
- dm-cache: {r['entries']:,} mappings, every block hinted, one third dirty, v1 metadata of
  {r['dm_cache']['metadata_bytes']:,} bytes built by cache_restore in {r['dm_cache']['restore_seconds']} s.

Files in the page cache; median wall time of {r['runs']} runs after a warm-up; peak RSS from
/usr/bin/time.  Load average when the timings started: {r['host']['load_average']}.

| tool | seconds | peak RSS (MiB) | RSS bytes per entry |
|---|---:|---:|---:|
{rows}

- pcache_check is **{r['check_speedup']}x** faster than cache_check (target >= 10x: {ok(r['targets']['check_speedup_at_least_10x'])}).
- pcache_check needs **{res['pcache_check']['bytes_per_entry']} bytes** of RAM per key, whole
  process included (target <= 32: {ok(r['targets']['at_most_32_bytes_per_key'])}).
- pcache_dump is {r['dump_speedup']}x faster than cache_dump, with flat memory.
"""


if __name__ == "__main__":
    main()
