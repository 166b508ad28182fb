"""make bench's harness works end to end: one short job on raw pmem and
pcache in one boot, a report with figures and ratios (issue 9's smoke run)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_smoke_writes_a_report(tmp_path):
    out = tmp_path / "results"
    run = subprocess.run([sys.executable, str(REPO / "bench" / "blockbench.py"), "--smoke",
                          "--output", str(out)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((out / "report.json").read_text())
    for target in ("raw-pmem", "pcache-crc-off"):
        write = report["results"][target]["jobs"]["randwrite-4k-j1"]["write"]
        assert write["iops"] > 0 and write["mean_lat_us"] > 0
    assert report["meta"]["kernel"] and report["meta"]["fio"].startswith("fio-")
    markdown = (out / "report.md").read_text()
    assert "## Ratios: pcache-crc-off / peer" in markdown
    assert "randwrite-4k-j1: pcache / raw pmem IOPS" in markdown
    assert (out / "iops.png").stat().st_size > 1000
