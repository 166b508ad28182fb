#!/usr/bin/python3
"""Profile one target under one bench job, inside the bench VM.

Boots the same VM as make bench (TSC clock, pmem on tmpfs when there is
room), sets the target up, and runs the job's fio command under
`perf record -a -g -e cpu-clock` in the guest; prints the flat profile
(self time per symbol) and the inclusive one (with callees), and writes
them with the call graph to a results directory.
Where pcache falls short of a peer, this says where the guest's CPU went:

    bench/profile.py --target pcache-crc-off --job randwrite-4k-j2
    bench/profile.py --target dm-writecache --job randwrite-4k-j2
    bench/profile.py --target pcache-crc-off --module /tmp/before.ko
"""

import argparse
import datetime
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from harness.vm import GIB  # noqa: E402
import targets as target_defs  # noqa: E402
from blockbench import (JOB_BY_NAME, bench_vm, fio_command, summarize,  # noqa: E402
                        warm_region)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="pcache-crc-off", choices=sorted(target_defs.ALL))
    ap.add_argument("--job", default="randwrite-4k-j1",
                    choices=[j for j, d in JOB_BY_NAME.items() if not d.sustained])
    ap.add_argument("--runtime", type=int, default=10, help="seconds of fio under perf")
    ap.add_argument("--module", type=Path, help="pcache.ko to load (default: kernel/pcache.ko)")
    ap.add_argument("--top", type=int, default=40, help="lines of each profile to print")
    ap.add_argument("--output", type=Path, help="directory for the reports")
    args = ap.parse_args(argv)
    job = JOB_BY_NAME[args.job]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = args.output or HERE / "results" / f"profile-{stamp}-{args.target}-{args.job}"
    outdir.mkdir(parents=True, exist_ok=True)

    with bench_vm(GIB, 4 * GIB, "profile") as vm:
        if args.module:
            vm.load_module(args.module.resolve())    # targets load it only if absent
        target = target_defs.ALL[args.target]()
        dev = target.setup(vm)
        try:
            if job.warm:
                warm_region(vm, dev)
            fio = fio_command(job, dev, args.runtime, vm.share)
            # perf's samples go to a tmpfs in the guest: written to the 9p
            # share, they cost the guest more CPU than some targets do.
            data = "/run/profile/perf.data"
            vm.run("mkdir -p /run/profile && mount -t tmpfs -o size=768m none /run/profile")
            out = vm.run(f"perf record -q -a -g -e cpu-clock -o {data} -- {fio}",
                         timeout=args.runtime * 10 + 600).stdout
            figures = summarize(json.loads(out[out.index("{"):]), job)
            report = f"perf report -i {data} --sort sym --stdio 2>/dev/null"
            flat = vm.run(f"{report} --no-children --percent-limit 0.3 -g none",
                          timeout=600).stdout
            inclusive = vm.run(f"{report} --children --percent-limit 1 -g none",
                               timeout=600).stdout
            graph = vm.run(f"{report} --no-children --percent-limit 1 -g caller,0.5,callee",
                           timeout=600).stdout
            vm.run("umount /run/profile")
        finally:
            target.teardown(vm)
    (outdir / "flat.txt").write_text(flat)
    (outdir / "inclusive.txt").write_text(inclusive)
    (outdir / "callgraph.txt").write_text(graph)
    for title, text in (("self", flat), ("with callees", inclusive)):
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        print(f"-- {title}\n" + "\n".join(lines[:args.top]))
    for direction, v in figures.items():
        print(f"fio under perf: {direction} {v['iops']:.0f} IOPS, mean {v['mean_lat_us']:.1f} us")
    (outdir / "fio.json").write_text(json.dumps(figures, indent=1))
    print(f"profile: {outdir}/flat.txt, inclusive.txt, callgraph.txt, fio.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
