"""Write a benchmark run as report.json, report.md and PNG charts."""

import json
import subprocess
from pathlib import Path

PEERS = ["raw-pmem", "raw-origin", "dm-linear-pmem", "dm-writecache", "bcache", "dm-cache"]
PCACHES = ["pcache-crc-off", "pcache-crc-on"]
SEG_BYTES = 16 << 20


def total_iops(entry):
    return sum(d["iops"] for k, d in entry.items() if k in ("read", "write"))


def mean_latency(entry):
    dirs = [d for k, d in entry.items() if k in ("read", "write")]
    if not dirs:
        return 0
    return sum(d["mean_lat_us"] * d["iops"] for d in dirs) / max(1e-9, sum(d["iops"] for d in dirs))


def ratio(a, b):
    return a / b if b else None


def goals(results):
    """The issue's targets, each as (description, measured, wanted, ok)."""
    rows = []
    pc = results.get("pcache-crc-off", {}).get("jobs", {})
    crc = results.get("pcache-crc-on", {}).get("jobs", {})

    def job(target, name):
        return results.get(target, {}).get("jobs", {}).get(name)

    def check(desc, value, wanted, ok):
        rows.append((desc, value, wanted, ok))

    for name in ("randwrite-4k-j1", "randwrite-4k-j2"):
        if name not in pc:
            continue
        mine = total_iops(pc[name])
        for peer, want in (("dm-writecache", 1.2), ("bcache", 2.0)):
            other = job(peer, name)
            if other:
                r = ratio(mine, total_iops(other))
                check(f"{name}: pcache / {peer} IOPS", r, f">= {want}", r is not None and r >= want)
        if name == "randwrite-4k-j1" and job("raw-pmem", name):
            raw = job("raw-pmem", name)
            r = ratio(mine, total_iops(raw))
            check(f"{name}: pcache / raw pmem IOPS", r, ">= 0.8", r is not None and r >= 0.8)
            r = ratio(mean_latency(pc[name]), mean_latency(raw))
            check(f"{name}: pcache / raw pmem mean latency", r, "<= 1.25", r is not None and r <= 1.25)
        if name in crc:
            r = ratio(total_iops(crc[name]), mine)
            check(f"{name}: data_crc on / off IOPS", r, ">= 0.85", r is not None and r >= 0.85)
    name = "randread-4k-warm"
    if name in pc:
        for peer, want in (("raw-pmem", 0.95), ("dm-writecache", 1.0)):
            other = job(peer, name)
            if other:
                r = ratio(total_iops(pc[name]), total_iops(other))
                check(f"{name}: pcache / {peer} IOPS", r, f">= {want}", r is not None and r >= want)
    name = "sustained-3x"
    if name in pc:
        stall = pc[name].get("longest_stall_s")
        check(f"{name}: longest stall (s)", stall, "<= 1", stall is not None and stall <= 1)
        origin = job("raw-origin", name)
        if origin:
            r = ratio(pc[name]["write"]["bw_mib_s"], origin["write"]["bw_mib_s"])
            check(f"{name}: pcache / raw origin throughput", r, ">= 0.8", r is not None and r >= 0.8)
    return rows


def fmt(value):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


# Where pmem's host file lived when not on tmpfs; runs before the report
# recorded it (2026-11-22) all had it there.
PMEM_ON_DISK = "a file on the host's disk file system"


def jobs_line(meta):
    """How the short jobs ran (runs before 2026-11-22 had no rounds)."""
    if "rounds" not in meta:
        return f"{meta['runtime_s']} s per timed job, one run each"
    return (f"write jobs stop after {meta['fit_bytes'] >> 20} MiB (at most "
            f"{meta['runtime_s']} s), reads run {meta['runtime_s']} s; a fresh target per "
            f"job; median of {meta['rounds']} rounds (raw-origin, bcache and dm-cache: "
            "the first round only)")


def markdown(meta, results, job_names):
    lines = ["# pcache benchmark", "",
             f"- date: {meta['date']}",
             f"- kernel: {meta['kernel']} (guest, `{meta.get('guest_kernel_args', '')}`), "
             f"{meta['qemu']} (TCG, emulated CPU)",
             f"- {meta['fio']}; pmem {meta['pmem_bytes'] >> 20} MiB, origin "
             f"{meta['origin_bytes'] >> 20} MiB",
             f"- {jobs_line(meta)}",
             f"- pmem's host file: {meta.get('pmem_backing', PMEM_ON_DISK)}",
             "",
             "All figures come from one boot; compare them as ratios, not with hardware.", ""]
    targets = [t for t in PEERS + PCACHES if t in results]
    for name in job_names:
        lines += [f"## {name}", "",
                  "| target | IOPS | mean lat (us) | p99 lat (us) | MiB/s | every round, total IOPS |",
                  "|---|---:|---:|---:|---:|---|"]
        for t in targets:
            entry = results[t]["jobs"].get(name)
            if not entry:
                continue
            rounds = ", ".join(str(r) for r in entry.get("runs_iops", []))
            for direction in ("write", "read"):
                d = entry.get(direction)
                if d:
                    lines.append(f"| {t} ({direction}) | {d['iops']:.0f} | {d['mean_lat_us']:.1f} "
                                 f"| {d['p99_lat_us']:.1f} | {d['bw_mib_s']:.1f} | {rounds} |")
                    rounds = ""
            if "longest_stall_s" in entry:
                lines.append(f"| {t} longest stall | {entry['longest_stall_s']:.1f} s | | | | |")
        lines.append("")
    for pc in PCACHES:
        if pc not in results:
            continue
        lines += [f"## Ratios: {pc} / peer (total IOPS)", "",
                  "| job | " + " | ".join(p for p in PEERS if p in results) + " |",
                  "|---|" + "---:|" * len([p for p in PEERS if p in results])]
        for name in job_names:
            mine = results[pc]["jobs"].get(name)
            if not mine:
                continue
            cells = []
            for p in PEERS:
                if p not in results:
                    continue
                other = results[p]["jobs"].get(name)
                cells.append(fmt(ratio(total_iops(mine), total_iops(other))) if other else "")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
        mem = results[pc].get("index_memory_bytes")
        if mem is not None:
            status = results[pc].get("status", "").split()
            used = int(status[6]) * SEG_BYTES if len(status) > 6 and status[6].isdigit() else 0
            per_gib = mem / (used / (1 << 30)) if used else None
            lines += [f"Index memory of {pc}: {mem} bytes (slab + vmalloc)"
                      + (f", {per_gib / (1 << 20):.2f} MiB per GiB cached" if per_gib else ""), ""]
    rows = goals(results)
    if rows:
        lines += ["## Targets", "", "| goal | measured | wanted | met |", "|---|---:|---|---|"]
        for desc, value, wanted, ok in rows:
            lines.append(f"| {desc} | {fmt(value)} | {wanted} | {'yes' if ok else '**no**'} |")
        lines.append("")
    return "\n".join(lines)


def chart(outdir, results, job_names):
    """Clustered bars of IOPS and mean latency per job and target (gnuplot)."""
    targets = [t for t in PEERS + PCACHES if t in results]
    names = [n for n in job_names if n != "sustained-3x"]
    if not names or not targets:
        return
    data = outdir / "chart.dat"
    with open(data, "w") as f:
        f.write("job " + " ".join(targets) + "\n")
        for name in names:
            row = [name]
            for t in targets:
                entry = results[t]["jobs"].get(name)
                row.append(f"{total_iops(entry):.0f}" if entry else "0")
            f.write(" ".join(row) + "\n")
        f.write("\n\n")
        f.write("job " + " ".join(targets) + "\n")
        for name in names:
            row = [name]
            for t in targets:
                entry = results[t]["jobs"].get(name)
                row.append(f"{mean_latency(entry):.1f}" if entry else "0")
            f.write(" ".join(row) + "\n")
    cols = len(targets)
    script = f"""
set terminal pngcairo size 1200,600 noenhanced
set style data histogram
set style histogram cluster gap 1
set style fill solid border -1
set key outside right
set xtics rotate by -20
set grid ytics
set output '{outdir}/iops.png'
set title 'IOPS per job (same boot, TCG)'
set ylabel 'IOPS'
plot for [i=2:{cols + 1}] '{data}' index 0 using i:xtic(1) title columnheader(i)
set output '{outdir}/latency.png'
set title 'Mean latency per job (us)'
set ylabel 'us'
plot for [i=2:{cols + 1}] '{data}' index 1 using i:xtic(1) title columnheader(i)
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def write(outdir, meta, results, job_names):
    outdir = Path(outdir)
    (outdir / "report.json").write_text(json.dumps(
        {"meta": meta, "results": results,
         "goals": [dict(goal=d, measured=v, wanted=w, met=ok) for d, v, w, ok in goals(results)]},
        indent=2))
    (outdir / "report.md").write_text(markdown(meta, results, job_names))
    chart(outdir, results, job_names)
