#!/usr/bin/python3
"""Paired A/B of two builds of pcache.ko, with dm-writecache as the yardstick,
in one VM boot: for each round, 4 KiB random writes (iodepth 1, numjobs 1
and 2, 10 s, 256 MiB) on the "before" module, dm-writecache and the "after"
module in turn, so the machine's changing load hits all three alike.  Used
for the optimisation log in bench/README.md:

    git stash; make module; cp kernel/pcache.ko /tmp/before.ko; git stash pop
    make module; bench/ab_modules.py /tmp/before.ko kernel/pcache.ko --rounds 3

Prints one line per run and the IOPS of every run as JSON at the end."""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from harness.vm import GIB  # noqa: E402
from blockbench import bench_vm  # noqa: E402

FIO = ("fio --name=j --filename=/dev/mapper/ab --rw=randwrite --bs=4k --direct=1 "
       "--ioengine=libaio --iodepth=1 --numjobs={nj} --group_reporting --size=256M "
       "--time_based --runtime=10 --randseed=1 --output-format=json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    modules = {"before": args.before.resolve(), "after": args.after.resolve()}
    for path in modules.values():
        if not path.exists():
            ap.error(f"{path}: no such module")
    results = {}
    with bench_vm(GIB, 4 * GIB, "ab") as vm:
        vm.run("modprobe -a dm-mod dm-writecache libcrc32c")
        sectors = vm.run("blockdev --getsz /dev/vda").stdout.strip()
        for rnd in range(args.rounds):
            for name in ("before", "dm-writecache", "after"):
                vm.run("dd if=/dev/zero of=/dev/pmem0 bs=1M count=64 oflag=direct status=none")
                if name == "dm-writecache":
                    table = f"0 {sectors} writecache p /dev/vda /dev/pmem0 4096 0"
                else:
                    vm.run(f"rmmod pcache 2>/dev/null; insmod {modules[name]}")
                    table = (f"0 {sectors} pcache /dev/pmem0 /dev/vda 4 "
                             "cache_mode writeback data_crc false")
                vm.run(f"dmsetup create ab --table '{table}' && dmsetup mknodes")
                for nj in (1, 2):
                    out = json.loads(vm.run(FIO.format(nj=nj), timeout=300).stdout)
                    iops = round(out["jobs"][0]["write"]["iops"])
                    results.setdefault(f"{name} numjobs {nj}", []).append(iops)
                    print(f"round {rnd}: {name:14} numjobs {nj}: {iops} IOPS", flush=True)
                vm.run("dmsetup remove ab", timeout=600)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
