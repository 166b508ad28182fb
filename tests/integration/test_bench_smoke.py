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


sys.path.insert(0, str(REPO / "bench"))
import blockbench  # noqa: E402


def test_short_write_jobs_are_sized_to_fit_the_cache():
    # Writes stop after FIT_BYTES in all (runtime only caps the slow
    # targets); numjobs 2 splits it; reads stay timed.
    j1 = blockbench.fio_command(blockbench.JOB_BY_NAME["randwrite-4k-j1"], "/dev/x", 8, "/o")
    j2 = blockbench.fio_command(blockbench.JOB_BY_NAME["randwrite-4k-j2"], "/dev/x", 8, "/o")
    read = blockbench.fio_command(blockbench.JOB_BY_NAME["randread-4k-warm"], "/dev/x", 8, "/o")
    assert f"--io_size={blockbench.FIT_BYTES}" in j1.split() and "--time_based" not in j1
    assert f"--io_size={blockbench.FIT_BYTES // 2}" in j2.split()
    assert "--time_based" in read.split() and "--io_size" not in read
    assert blockbench.FIT_BYTES <= (1 << 30) // 4


def test_the_median_round_is_reported_with_every_round():
    runs = [{"write": {"iops": v}} for v in (300.0, 100.0, 200.0)]
    entry = blockbench.median_run(runs)
    assert entry["write"]["iops"] == 200.0
    assert entry["runs_iops"] == [300, 100, 200]
