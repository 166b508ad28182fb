#!/usr/bin/python3
"""make fuzz: builds the libFuzzer targets with clang (ASan + UBSan) in
build-fuzz/, runs each for a set time on a working corpus seeded from
tests/fuzz/corpus/<target>/, and writes a report (executions, coverage,
corpus size, findings) to build-fuzz/results/<time>/report.md and
report.json (build-fuzz/results/latest points there).

Findings (crash-*, leak-*, timeout-*, oom-* inputs) are kept next to the
report; once the bug is fixed, add the input to tests/fuzz/corpus/<target>/
so that the unit tests replay it in make check.  Exit status 1 if anything
was found."""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build-fuzz"
SEEDS = ROOT / "tests" / "fuzz" / "corpus"
TARGETS = {
    # target: libFuzzer options
    "decoders": ["-max_len=1024"],
    "walker": ["-max_len=2048"],
    "xml": ["-max_len=32768"],
}
FLAGS = "-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"


def build(jobs):
    env = dict(os.environ, CC="clang", CXX="clang++")
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(BUILD), "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                    "-DPCACHE_FUZZ=ON", f"-DCMAKE_C_FLAGS={FLAGS}", f"-DCMAKE_CXX_FLAGS={FLAGS}",
                    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(BUILD), "-j", str(jobs), "--target",
                    *[f"fuzz_{t}" for t in TARGETS]], check=True, env=env)


def run_target(name, seconds, out):
    corpus = BUILD / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in (SEEDS / name).iterdir():
        if not (corpus / seed.name).exists():
            shutil.copy(seed, corpus / seed.name)
    artifacts = out / name
    artifacts.mkdir(parents=True, exist_ok=True)
    log = out / f"{name}.log"
    binary = BUILD / "bin" / f"fuzz_{name}"
    cmd = [str(binary), f"-max_total_time={seconds}", "-print_final_stats=1", "-timeout=10",
           "-rss_limit_mb=2048", f"-artifact_prefix={artifacts}/", *TARGETS[name], str(corpus)]
    with open(log, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    text = log.read_text(errors="replace")
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", text, re.M))
    status = re.findall(r"^#\d+\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\S+)", text, re.M)
    cov, ft, corp, corp_size = status[-1] if status else ("0", "0", "0", "0")
    findings = sorted(p.name for p in artifacts.iterdir())
    return {
        "target": name,
        "seconds": seconds,
        "exit_status": rc,
        "executions": int(stats.get("number_of_executed_units", 0)),
        "executions_per_second": int(stats.get("average_exec_per_sec", 0)),
        "coverage_edges": int(cov),
        "features": int(ft),
        "corpus_inputs": int(corp),
        "corpus_size": corp_size,
        "peak_rss_mb": int(stats.get("peak_rss_mb", 0)),
        "findings": findings,
        "log": str(log),
    }


def report(results, out):
    lines = ["# pcache fuzzing report", "",
             f"{datetime.datetime.now().isoformat(timespec='seconds')}, "
             f"{results[0]['seconds']} s per target, libFuzzer with ASan and UBSan", "",
             "| target | executions | exec/s | coverage (edges) | features | corpus | findings |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['target']} | {r['executions']} | {r['executions_per_second']} | "
                     f"{r['coverage_edges']} | {r['features']} | {r['corpus_inputs']} ({r['corpus_size']}) | "
                     f"{', '.join(r['findings']) or 'none'} |")
    lines += ["", "Findings are the inputs next to this report (<target>/); logs are <target>.log.",
              "Once a finding is fixed, add its input to tests/fuzz/corpus/<target>/."]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    (out / "report.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", 60)),
                   help="fuzzing time per target (default 60, or $FUZZ_SECONDS)")
    p.add_argument("--jobs", type=int, default=os.cpu_count())
    p.add_argument("targets", nargs="*", default=list(TARGETS))
    args = p.parse_args()
    build(args.jobs)
    out = BUILD / "results" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    latest = BUILD / "results" / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(out.name)
    results = [run_target(t, args.seconds, out) for t in args.targets]
    report(results, out)
    return 1 if any(r["findings"] or r["exit_status"] not in (0,) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
