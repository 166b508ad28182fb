#!/usr/bin/python3
"""The crash-consistency driver, run inside the test VM (one process for
many crash points: no reboot per point).

For each workload it first runs it once with fault injection armed but no
freeze point, to count its persistence points P; then once per point
N = 1..P with the target frozen at N (pcache's fault_freeze_at module
parameter: every later pmem store and backing write is dropped, as in a
power cut).  After each run it removes the frozen target, disarms, loads
the cache again and checks:

  - the target loads;
  - every block read through it satisfies the oracle (workloads.py):
    0 lost flushed writes, 0 corrupted blocks;
  - once writeback has caught up, the backing device holds exactly what
    the cache showed;
  - pcache_check finds the cache device clean.

    crash_driver.py small  --report F [--crc 0|1] [--every K] [--first I]
    crash_driver.py cycle  --report F [--crc 0|1] [--every K]
    crash_driver.py fio    --report F --runs N [--seed S]

Results (points tried and passed, failures with what was found) go to the
JSON report; the exit status is 0 when every point passed.
"""

import argparse
import json
import mmap
import os
import random
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads as wl  # noqa: E402
from dmioctl import DM  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PCACHE_CHECK = REPO / "build" / "bin" / "pcache_check"
PARAMS = Path("/sys/module/pcache/parameters")
PMEM = "/dev/pmem0"
BACKING = "/dev/vda"
NAME = "crash"
DEV = f"/dev/mapper/{NAME}"
NEVER = 0xFFFFFFFF          # armed, counting, never freezing


class PointFailed(Exception):
    pass


def sh(cmd, timeout=300, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode:
        raise PointFailed(f"'{cmd}' failed ({r.returncode}): {r.stdout}{r.stderr}".strip())
    return r


def param(name, value=None):
    path = PARAMS / name
    if value is None:
        return int(path.read_text())
    path.write_text(f"{value}\n")
    return None


def arm(n):
    param("fault_freeze_at", n)


def sectors(dev):
    return int(sh(f"blockdev --getsz {dev}").stdout)


class Cache:
    """The pcache target on /dev/pmem0 over /dev/vda, driven through the
    device-mapper ioctls (no process per step)."""

    dm = None

    def __init__(self, crc):
        self.crc = crc
        if Cache.dm is None:
            Cache.dm = DM()
        self.params = f"{PMEM} {BACKING} 2 data_crc {'true' if crc else 'false'}"
        self.sectors = sectors(BACKING)

    def create(self):
        try:
            self.dm.create(NAME, [(0, self.sectors, "pcache", self.params)])
        except OSError as e:
            log = sh("dmesg | grep -i pcache | tail -5", check=False).stdout
            raise PointFailed(f"the cache does not load: {e}\n{log}") from None

    def remove(self):
        self.dm.remove(NAME)

    def status(self):
        return self.dm.status(NAME).split()

    def message(self, msg):
        self.dm.message(NAME, msg)

    @staticmethod
    def format():
        """Zero the superblock: the next load formats a new cache."""
        fd = os.open(PMEM, os.O_WRONLY)
        try:
            os.pwrite(fd, bytes(8192), 4096)
            os.fsync(fd)
        finally:
            os.close(fd)

    def wait(self, done, timeout=120):
        """Poll the status until done(status) or the target froze."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if done(self.status()) or frozen():
                return
            time.sleep(0.02)
        raise PointFailed(f"timed out waiting; status {self.status()}")

    def wait_clean(self):
        """Every kset written and written back."""
        flush(DEV)
        self.wait(lambda s: s[6] == s[7])

    @staticmethod
    def check():
        r = sh(f"{PCACHE_CHECK} {PMEM}", check=False, timeout=600)
        if r.returncode:
            raise PointFailed(f"pcache_check failed:\n{r.stdout}{r.stderr}")


def frozen():
    at = param("fault_freeze_at")
    return at not in (0, NEVER) and param("fault_points") >= at


def flush(dev):
    fd = os.open(dev, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def aligned(data):
    buf = mmap.mmap(-1, len(data))
    buf[:] = data
    return buf


def write_blocks(fd, op_number, off, length):
    data = b"".join(wl.block_data(op_number, o) for o in range(off, off + length, wl.BLOCK))
    buf = aligned(data)
    try:
        if os.pwrite(fd, buf, off) != length:
            raise PointFailed(f"short write at {off}")
    finally:
        buf.close()


def read_blocks(dev, off, length):
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, length)
    try:
        if os.preadv(fd, [buf], off) != length:
            raise PointFailed(f"short read of {dev} at {off}")
        return bytes(buf)
    finally:
        buf.close()
        os.close(fd)


def run_ops(ops, first_op):
    """Run the operations in order on DEV (one bio each)."""
    plain = os.open(DEV, os.O_WRONLY | os.O_DIRECT)
    fua = os.open(DEV, os.O_WRONLY | os.O_DIRECT | os.O_DSYNC)
    try:
        for i, op in enumerate(ops):
            if op[0] == "F":
                os.fsync(plain)
            else:
                write_blocks(fua if op[0] == "U" else plain, first_op + i, op[1], op[2])
    finally:
        os.close(plain)
        os.close(fua)


def check_oracle(spans, ok, init):
    """Read every span (off, length) through the cache: each block must
    hold one of ok[off] (op numbers, or 'init': init(off), its content
    before the workload; blocks not in ok must be 'init').  Returns what
    was read."""
    seen, bad = [], []
    for off0, length in spans:
        data = read_blocks(DEV, off0, length)
        seen.append(data)
        for off in range(off0, off0 + length, wl.BLOCK):
            got = wl.identify(data[off - off0:off - off0 + wl.BLOCK], off, init)
            want = ok.get(off, {"init"})
            if got not in want:
                bad.append(f"block {off}: holds {'corrupt data' if got is None else got}, "
                           f"allowed {sorted(map(str, want))}")
    if bad:
        raise PointFailed(f"{len(bad)} bad blocks: " + "; ".join(bad[:5]))
    return seen


def after_crash(cache, spans, ok, init):
    """Load the crashed cache, check the oracle, let writeback catch up,
    compare the backing device, remove, pcache_check."""
    cache.create()
    seen = check_oracle(spans, ok, init)
    cache.wait_clean()
    cache.remove()
    if [read_blocks(BACKING, *span) for span in spans] != seen:
        raise PointFailed("after writeback the backing device differs from what the "
                          "cache showed")
    cache.check()


class Tally:
    def __init__(self, name):
        self.name = name
        self.tried = self.passed = 0
        self.workloads = 0
        self.failures = []
        self.start = time.monotonic()

    def record(self, what, fn):
        self.tried += 1
        try:
            fn()
            self.passed += 1
        except (PointFailed, subprocess.TimeoutExpired, OSError) as e:
            self.failures.append({"point": what, "error": str(e)[:2000]})
            print(f"FAIL {what}: {e}", flush=True)
            recover()

    def result(self):
        return {"workloads": self.workloads, "points_tried": self.tried,
                "points_passed": self.passed, "failures": self.failures,
                "seconds": round(time.monotonic() - self.start, 1)}


def recover():
    """After a failed point: no table left, fault injection off."""
    arm(0)
    try:
        Cache.dm.remove(NAME)
    except OSError:
        pass
    param("writeback_hold", 0)


# ---- small workloads ----

def reset_small_backing():
    fd = os.open(BACKING, os.O_WRONLY | os.O_DIRECT)
    try:
        for off in wl.SMALL_BLOCKS:
            buf = aligned(wl.init_data(off))
            os.pwrite(fd, buf, off)
            buf.close()
    finally:
        os.close(fd)


def small_run(cache, ops, freeze_at):
    """One run of a small workload, frozen at point freeze_at (NEVER: no
    crash).  Returns the points counted."""
    reset_small_backing()
    cache.format()
    cache.create()
    arm(freeze_at)
    run_ops(ops, 0)
    cache.remove()
    acked, points, crashed = param("fault_acked"), param("fault_points"), frozen()
    arm(0)
    if not crashed and acked != wl.bios(ops):
        raise PointFailed(f"the target acknowledged {acked} bios, the workload sent "
                          f"{wl.bios(ops)}: the oracle cannot tell which completed")
    ok = wl.allowed(ops, wl.acked_ops(ops, acked), clean=not crashed)
    after_crash(cache, [(off, wl.BLOCK) for off in wl.SMALL_BLOCKS], ok, wl.init_data)
    return points


def small(args, tally):
    cache = Cache(args.crc)
    param("kset_close_delay_ms", 3600 * 1000)
    todo = wl.small_workloads()[args.first::args.every]
    for ops in todo:
        name = f"crc={args.crc} {wl.describe(ops)}"
        tally.workloads += 1
        counted = []
        tally.record(f"{name} (no crash)", lambda: counted.append(small_run(cache, ops, NEVER)))
        for n in range(1, (counted[0] if counted else 0) + 1):
            tally.record(f"{name} point {n}", lambda n=n: small_run(cache, ops, n))
        print(f"{name}: {counted[0] if counted else '?'} points", flush=True)
    param("kset_close_delay_ms", 1000)


# ---- writeback and GC cycle ----

CYCLE_SPAN = (0, 12 * wl.MIB)


def cycle_ops():
    """Before the crash window (all flushed): 12 MiB of 1 MiB writes and
    4 KiB overwrites.  In the window: new writes into the segments GC
    frees, FUA, a FLUSH, and writes left unflushed."""
    rnd = random.Random(7)
    prep = [("W", i * wl.MIB, wl.MIB) for i in range(12)]
    prep += [("W", rnd.randrange(3072) * wl.BLOCK, wl.BLOCK) for _ in range(16)]
    prep.append(("F",))
    window = [("W", (2 + i) * wl.MIB, wl.MIB) for i in range(6)]
    window += [("U" if i % 4 == 0 else "W", rnd.randrange(3072) * wl.BLOCK, wl.BLOCK)
               for i in range(8)]
    window.append(("F",))
    window += [("W", rnd.randrange(3072) * wl.BLOCK, wl.BLOCK) for _ in range(2)]
    return prep, window


def cycle_run(cache, freeze_at):
    prep, window = cycle_ops()
    zero = aligned(bytes(wl.MIB))
    fd = os.open(BACKING, os.O_WRONLY | os.O_DIRECT)
    for off in range(0, CYCLE_SPAN[1], wl.MIB):
        os.pwrite(fd, zero, off)
    os.close(fd)
    zero.close()
    # The dirty cache: writes held in it, gc_percent 0 (GC collects
    # everything writeback has passed).
    cache.format()
    param("writeback_hold", 1)
    cache.create()
    cache.message("gc_percent 0")
    run_ops(prep, 0)
    cache.remove()
    # The window: writeback and GC of all of it, new writes reusing the
    # freed segments, writeback and GC again.
    arm(freeze_at)
    param("writeback_hold", 0)
    cache.create()
    caught_up = lambda s: s[6] == s[7] == s[8]  # noqa: E731
    cache.wait(caught_up)
    if not frozen():
        run_ops(window, len(prep))
        flush(DEV)
        cache.wait(caught_up)
    cache.remove()
    acked, points, crashed = param("fault_acked"), param("fault_points"), frozen()
    arm(0)
    ops = prep + window
    if not crashed and acked != wl.bios(window) + 1:       # + the wait's FLUSH
        raise PointFailed(f"the target acknowledged {acked} bios, the window sent "
                          f"{wl.bios(window) + 1}")
    # The prep was acknowledged and flushed before the window opened.
    ok = wl.allowed(ops, len(prep) + wl.acked_ops(window, acked), clean=not crashed)
    # Before the workload the backing device held zeros.
    zero_block = bytes(wl.BLOCK)
    after_crash(cache, [CYCLE_SPAN], ok, lambda off: zero_block)
    return points


def cycle(args, tally):
    cache = Cache(args.crc)
    param("kset_close_delay_ms", 3600 * 1000)
    tally.workloads += 1
    counted = []
    tally.record(f"cycle crc={args.crc} (no crash)",
                 lambda: counted.append(cycle_run(cache, NEVER)))
    total = counted[0] if counted else 0
    print(f"cycle crc={args.crc}: {total} points", flush=True)
    for n in range(1 + args.first, total + 1, args.every):
        tally.record(f"cycle crc={args.crc} point {n}", lambda n=n: cycle_run(cache, n))
    param("kset_close_delay_ms", 1000)


# ---- random crash points during fio verify ----

def fio_job(seed, extra):
    """4 KiB random writes, FUA each (sync=1: acknowledged means durable),
    each block of 48 MiB once (fio's random map), at 2000 per second so the
    pass lasts about 6 s: the crash comes in the middle of it."""
    return ("fio --name=crash --filename=" + DEV + " --rw=randwrite --bs=4k "
            "--size=48M --rate_iops=2000 --ioengine=libaio --iodepth=8 --direct=1 "
            f"--sync=1 --verify=crc32c --randseed={seed} " + extra)


# A block outside fio's 48 MiB: the trigger's own FUA write lands there.
SPARE_BLOCK = 56 * wl.MIB // wl.BLOCK


def fio_io(output, what):
    """The bytes fio reports for READ or WRITE in its summary."""
    found = re.search(what + r": bw=.*? io=([\d.]+)([KMGT]?)i?B", output)
    if not found:
        return 0
    return int(float(found.group(1)) * 1024 ** " KMGT".index(found.group(2) or " "))


def fio_run(cache, seed, delay_s, workdir):
    """One crash during fio: returns (bytes written, bytes verified after
    the crash)."""
    workdir.mkdir(parents=True, exist_ok=True)
    for f in workdir.glob("*.state"):
        f.unlink()
    cache.format()
    cache.create()
    cache.message("gc_percent 0")
    # At the trigger timeout (whole seconds: fio checks it against its
    # clock in seconds) fio saves its verify state (the writes it saw
    # complete, and the last iodepth of them by offset), tells its jobs to
    # stop and runs the trigger.  The trigger arms pcache to freeze at the
    # next persistence point and makes sure there is one soon: its own FUA
    # write outside fio's area races fio's last in-flight writes and
    # writeback, and whichever reaches a point first freezes the target.
    # Every write fio saw complete was acknowledged before the state was
    # saved, so before the freeze.
    trigger = (f"echo 1 > {PARAMS}/fault_freeze_at; dd if=/dev/zero of={DEV} bs=4k "
               f"seek={SPARE_BLOCK} count=1 oflag=direct,dsync status=none")
    r = sh(f"cd {workdir} && " + fio_job(seed, f"--trigger-timeout={delay_s} "
                                         f"--trigger='{trigger}'"), check=False, timeout=300)
    written = fio_io(r.stdout, "WRITE")
    if not list(workdir.glob("*verify.state")):
        raise PointFailed(f"fio saved no verify state: {r.stdout[-500:]}{r.stderr[-500:]}")
    if not frozen():
        raise PointFailed(f"the trigger did not freeze pcache: {r.stdout[-500:]}"
                          f"{r.stderr[-500:]}")
    if written >= 48 * wl.MIB:
        raise PointFailed("fio finished before the trigger: no crash during the workload")
    cache.remove()
    arm(0)
    cache.create()
    # iodepth=1: fio 3.33 decides whether a read falls into the window of
    # writes that may have been in flight at the crash by counting the
    # reads *completed* so far; with several reads in flight it would
    # check writes of that window it never saw complete.
    r = sh(f"cd {workdir} && " + fio_job(seed, "--verify_only --verify_state_load=1 "
                                         "--verify_fatal=1 --iodepth=1"),
           check=False, timeout=600)
    if r.returncode:
        (workdir / "verify.log").write_text(r.stdout + r.stderr)
        raise PointFailed(f"fio verify after the crash (fio wrote {written >> 10} KiB) "
                          "failed: " + fio_verify_failure(r.stdout + r.stderr))
    verified = fio_io(r.stdout, "READ")
    # Everything fio wrote but the writes still in flight or issued after
    # the state was saved (a few iodepths at most) must be verified.
    if verified < written - 64 * wl.BLOCK or verified == 0:
        raise PointFailed(f"fio wrote {written >> 10} KiB but verified only "
                          f"{verified >> 10} KiB after the crash:\n{r.stdout[-1500:]}")
    cache.wait_clean()
    cache.remove()
    cache.check()
    return written, verified


def fio_header(data):
    """fio's verify header of a 4 KiB block (fio 3.x verify.h): magic,
    the offset and the seed it was written with."""
    magic, _vtype, length, seed, offset = struct.unpack_from("<HHIQQ", data)
    if magic != 0xacca:
        return "no fio header" if any(data[:64]) else "zeros"
    return f"fio block of offset {offset}, seed {seed:#x}, len {length}"


def fio_verify_failure(output):
    """fio's own complaint, and what the block it names holds through the
    cache and on the backing device."""
    lines = [line for line in output.splitlines()
             if "verify" in line or "bad" in line.lower() or "fio:" in line]
    found = re.search(r"at file \S+ offset (\d+)", output)
    if found:
        off = int(found.group(1))
        lines.append(f"block {off}: the cache shows "
                     f"{fio_header(read_blocks(DEV, off, wl.BLOCK))}; the backing device "
                     f"holds {fio_header(read_blocks(BACKING, off, wl.BLOCK))}")
    return "\n".join(lines[-12:])


def fio(args, tally):
    rnd = random.Random(args.seed)
    for i in range(args.runs):
        cache = Cache(i % 2)
        delay = rnd.randrange(2, 5)
        tally.workloads += 1
        done = []
        tally.record(f"fio run {i} crc={i % 2} seed={args.seed + i} trigger at {delay} s",
                     lambda: done.append(fio_run(cache, args.seed + i, delay,
                                                 Path(f"/tmp/fio-crash-{i}"))))
        if done:
            written, verified = done[0]
            print(f"fio run {i}: {written >> 10} KiB written, {verified >> 10} KiB "
                  "verified after the crash", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["small", "cycle", "fio"])
    p.add_argument("--report", required=True)
    p.add_argument("--crc", type=int, default=0)
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    tally = Tally(args.what)
    arm(0)
    {"small": small, "cycle": cycle, "fio": fio}[args.what](args, tally)
    result = tally.result()
    Path(args.report).write_text(json.dumps(result, indent=1))
    print(f"{args.what}: {result['points_passed']} of {result['points_tried']} crash points "
          f"passed in {result['seconds']} s", flush=True)
    return 0 if result["points_passed"] == result["points_tried"] else 1


if __name__ == "__main__":
    sys.exit(main())
