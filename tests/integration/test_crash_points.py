"""The crash-consistency suite (docs/target.md, "Crash-consistency testing").

Crash points come from pcache's fault injection (module parameter
fault_freeze_at: freeze every pmem store and backing write after
persistence point N, as a power cut would) and from real power cuts of the
VM.  The guest driver tests/crash/crash_driver.py runs many points per
boot; after every crash the cache must load, pcache_check must pass, no
flushed write may be lost and no block may hold anything but a value the
durability contract allows.

`make check` runs a representative subset; `make crash-test` (environment
PCACHE_CRASH=full) enumerates every persistence point of all 143 small
workloads with data_crc off and on, of the writeback + GC cycle, and runs
50 random crashes during fio verify plus 3 real power cuts.  Both write a
report to build/crash-report/<mode>.md and .json."""

import json
import os
import random
import re
import struct
import time

import pytest

from conftest import finish_vm, make_vm
from harness.vm import BUILD, MIB, REPO
from pcache_target import (CACHE_INFO_OFF, KEY_TAIL_OFF,
                           SEG_SIZE, SEGMENTS_OFF, create, flush_device,
                           pcache_check, remove, status_of, wait_clean,
                           write_pattern)

FULL = os.environ.get("PCACHE_CRASH") == "full"
MODE = "full" if FULL else "check"
DRIVER = REPO / "tests" / "crash" / "crash_driver.py"
REPORT_DIR = BUILD / "crash-report"
PMEM = "/dev/pmem0"
BACKING = "/dev/vda"
DIRTY_TAIL_OFF = KEY_TAIL_OFF + 32
SEG_GEN_OFF = 8192

# (what, driver arguments, guest timeout in seconds)
if FULL:
    RUNS = [("small workloads, data_crc off", "small --crc 0", 6 * 3600),
            ("small workloads, data_crc on", "small --crc 1", 6 * 3600),
            ("writeback + GC cycle, data_crc off", "cycle --crc 0", 3 * 3600),
            ("writeback + GC cycle, data_crc on", "cycle --crc 1", 3 * 3600),
            ("random crashes during fio verify", "fio --runs 50 --seed 1", 4 * 3600)]
    POWER_CUTS = 3
else:
    # A sample of each kind that keeps make check within its time; the
    # odd strides reach different points of the workloads in each mode.
    RUNS = [("small workloads, data_crc off (1 in 47)", "small --crc 0 --every 47", 1800),
            ("small workloads, data_crc on (1 in 59)", "small --crc 1 --every 59 --first 4",
             1800),
            ("writeback + GC cycle (1 point in 6)", "cycle --crc 0 --every 6", 1800),
            ("random crashes during fio verify", "fio --runs 1 --seed 100", 1800)]
    POWER_CUTS = 1

results = {}


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    machine = make_vm(tmp_path_factory, "crashpoints", pmem_size=576 * MIB,
                      disks=[64 * MIB])
    machine.boot()
    machine.load_module()
    yield machine
    finish_vm(machine)
    write_report()


def write_report():
    if not results:
        return
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    tried = sum(r["points_tried"] for r in results.values())
    passed = sum(r["points_passed"] for r in results.values())
    (REPORT_DIR / f"{MODE}.json").write_text(json.dumps(
        {"mode": MODE, "points_tried": tried, "points_passed": passed,
         "runs": results}, indent=1))
    lines = [f"# Crash-consistency suite ({MODE})", "",
             f"{passed} of {tried} crash points passed.", "",
             "| run | workloads | crash points tried | passed | seconds |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['workloads']} | {r['points_tried']} | "
                     f"{r['points_passed']} | {r['seconds']} |")
    for name, r in results.items():
        for f in r["failures"][:20]:
            lines.append(f"\n- FAILED {name}: {f['point']}: {f['error'][:500]}")
    (REPORT_DIR / f"{MODE}.md").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("what,args,timeout", RUNS, ids=[r[0] for r in RUNS])
def test_crash_points(vm, what, args, timeout):
    report = vm.share / "driver.json"
    if report.exists():
        report.unlink()
    r = vm.run(f"/usr/bin/python3 -S {DRIVER} {args} --report {report}", timeout=timeout,
               check=False)
    assert report.exists(), f"the driver wrote no report:\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
    result = json.loads(report.read_text())
    results[what] = result
    assert result["points_tried"] > 0
    assert not result["failures"], "\n".join(
        f"{f['point']}: {f['error']}" for f in result["failures"][:10])
    assert r.rc == 0, r.stdout[-3000:] + r.stderr[-3000:]


def fio_job(share, seed, extra):
    """As the driver's (tests/crash/crash_driver.py fio_job())."""
    return (f"cd {share} && fio --name=cut --filename=/dev/mapper/pc --rw=randwrite "
            "--bs=4k --size=48M --rate_iops=2000 --ioengine=libaio --iodepth=8 --direct=1 "
            f"--sync=1 --verify=crc32c --randseed={seed} {extra}")


def test_power_cuts_during_fio_verify(vm):
    """Real power cuts (the guest reboots at once, QEMU exits; the pmem
    file keeps every store that reached it, torn records included) at a
    random moment of a fio verify run with writeback and GC busy."""
    rnd = random.Random(4242)
    tally = {"workloads": 0, "points_tried": 0, "points_passed": 0, "failures": [],
             "seconds": 0}
    start = time.monotonic()
    for i in range(POWER_CUTS):
        tally["workloads"] += 1
        tally["points_tried"] += 1
        share = vm.share / f"cut{i}"
        share.mkdir(exist_ok=True)
        vm.load_module()
        vm.run(f"dd if=/dev/zero of={PMEM} bs=4096 count=5 oflag=direct status=none")
        create(vm, f"{PMEM} {BACKING}")
        vm.run("dmsetup message pc 0 gc_percent 0; echo 1 > /proc/sys/kernel/sysrq")
        delay = rnd.randrange(2, 5)         # fio's trigger clock counts seconds
        vm.run(f"nohup sh -c \"{fio_job(share, 300 + i, '')}"
               f"--trigger-timeout={delay} --trigger='echo b > /proc/sysrq-trigger'\" "
               f"> {share}/fio.log 2>&1 &")
        deadline = time.monotonic() + 300
        while vm.running and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not vm.running, "the guest did not reboot at the trigger"
        vm.crash()                  # reap QEMU
        assert list(share.glob("*verify.state")), (share / "fio.log").read_text()
        vm.boot()
        vm.load_module()
        create(vm, f"{PMEM} {BACKING}")
        # iodepth=1: see crash_driver.py fio_run().
        r = vm.run(fio_job(share, 300 + i, "--verify_only --verify_state_load=1 "
                           "--verify_fatal=1 --iodepth=1"), timeout=600)
        verified = re.search(r"READ: bw=.*? io=([\d.]+)MiB", r.stdout)
        assert verified and float(verified.group(1)) >= 1, r.stdout[-2000:]
        wait_clean(vm)
        remove(vm)
        pcache_check(vm, PMEM)
        tally["points_passed"] += 1
    tally["seconds"] = round(time.monotonic() - start, 1)
    results["real power cuts during fio verify"] = tally


def test_torn_replicas_are_healed_at_load(vm):
    """A power cut in the middle of a 16- or 24-byte replica write leaves
    one replica with a bad CRC next to a good one; pcache_check calls that
    an error.  Loading the cache rewrites every such replica from its good
    copy (seq + 1), one log line each, and pcache_check is clean again."""
    vm.load_module()
    vm.run(f"dd if=/dev/zero of={PMEM} bs=4096 count=5 oflag=direct status=none")
    dev = create(vm, f"{PMEM} {BACKING}")
    write_pattern(vm, dev, 0, 4 * MIB, seed=71)
    before = wait_clean(vm)                    # dirty_tail written: seq 2, slot 1
    vm.run("dmsetup message pc 0 gc_percent 60")     # cache_info seq 2, slot 1
    remove(vm)
    pcache_check(vm, PMEM)
    vm.shutdown()
    garbage = bytes(range(1, 25))
    # cache_info: the older copy (slot 0) torn by a rewrite cut short.
    vm.write_pmem(CACHE_INFO_OFF, garbage)
    # key_tail: slot 1 was never written; a torn first write of it.
    vm.write_pmem(KEY_TAIL_OFF + 16, garbage[:16])
    # dirty_tail: the newest copy (slot 1) torn: the first 8 bytes new.
    rec = bytearray(vm.read_pmem(DIRTY_TAIL_OFF + 16, 16))
    struct.pack_into("<IB", rec, 0, 0x12345678, rec[4] + 1)
    vm.write_pmem(DIRTY_TAIL_OFF + 16, bytes(rec))
    # seg_info of segment 2 (slot 1 never written) and seg_gen of segment 3.
    vm.write_pmem(SEGMENTS_OFF + 2 * SEG_SIZE + 4096, garbage[:16])
    vm.write_pmem(SEGMENTS_OFF + 3 * SEG_SIZE + SEG_GEN_OFF + 16, garbage[:16])
    vm.boot()
    r = vm.run(f"{REPO}/build/bin/pcache_check {PMEM}", check=False)
    assert r.rc == 1, r.stdout
    vm.load_module()
    vm.run("dmesg -C")
    dev = create(vm, f"{PMEM} {BACKING}")
    healed = [line for line in vm.run("dmesg").stdout.splitlines() if "healed" in line]
    assert len(healed) == 5, "\n".join(healed)
    for what in ("cache_info replica 0", "key_tail replica 1", "dirty_tail replica 1",
                 "segment 2 seg_info replica 1", "segment 3 seg_gen replica 1"):
        assert any(what in line for line in healed), (what, healed)
    st = status_of(vm)
    assert st["gc_percent"] == "60"
    # The torn dirty_tail fell back to the older copy (0:0): writeback
    # simply passes those ksets again.
    assert wait_clean(vm)["dirty_tail"] == before["dirty_tail"]
    flush_device(vm, dev)
    remove(vm)
    pcache_check(vm, PMEM)
