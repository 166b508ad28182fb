#!/usr/bin/python3
"""make demo: boot a VM with 1 GiB of emulated DAX pmem in front of a 2 GiB
virtual disk, put a cache on it, run a short fio workload with verification
and print the device-mapper status and a one-screen summary.

Until the pcache target is implemented the module is a placeholder that
refuses every table; the demo then says so and shows dm-writecache (the
kernel's own pmem write cache) on the same devices instead."""

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from harness.vm import VM, kernel_version  # noqa: E402

GIB = 1 << 30
FIO_JOB = ("fio --name=demo --filename=/dev/mapper/{dev} --rw=randrw --rwmixread=30 "
           "--bs=4k --size=128M --io_size=64M --ioengine=libaio --direct=1 --iodepth=4 "
           "--verify=crc32c --randseed=7 --output-format=json")


def step(text):
    print(f"==> {text}", flush=True)


def create_cache(vm, sectors):
    """Return (device name, description, target) of the cache it could create."""
    vm.load_module()
    table = f"0 {sectors} pcache /dev/pmem0 /dev/vda"
    result = vm.run(f"dmsetup create pcache_demo --table '{table}'", check=False)
    if result.ok:
        return "pcache_demo", table, "pcache"
    reason = vm.run("dmesg | grep -i 'pcache' | tail -n 1", check=False).stdout.strip()
    print()
    print("    NOTE: the pcache target in this build is a placeholder that refuses")
    print("    every table (the kernel target is not implemented yet):")
    print(f"      {reason or result.stderr.strip()}")
    print("    This demo shows dm-writecache, the kernel's own pmem write cache, on")
    print("    the same devices instead.")
    print()
    vm.run("modprobe dm-writecache")
    table = f"0 {sectors} writecache p /dev/vda /dev/pmem0 4096 0"
    vm.run(f"dmsetup create wc_demo --table '{table}'")
    return "wc_demo", table, "dm-writecache"


def main():
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pcache-demo-") as tmp:
        vm = VM(tmp, pmem_size=GIB, disks=[2 * GIB], name="demo")
        step(f"booting Debian {kernel_version()} under QEMU (TCG) with 1 GiB emulated "
             "DAX pmem and a 2 GiB virtual disk")
        with vm:
            vm.boot()
            pmem = int(vm.run("blockdev --getsize64 /dev/pmem0").stdout)
            dax = vm.run("cat /sys/block/pmem0/queue/dax").stdout.strip()
            print(f"    /dev/pmem0: {pmem / GIB:.2f} GiB, DAX={dax}; /dev/vda: 2 GiB origin disk")
            sectors = int(vm.run("blockdev --getsz /dev/vda").stdout)
            step("creating the cache")
            dev, table, target = create_cache(vm, sectors)
            vm.run("dmsetup mknodes")
            print(f"    dmsetup create {dev} --table '{table}'")
            step("running fio: 64 MiB of 4 KiB random I/O (30% reads) with crc32c verify")
            report = json.loads(vm.run(FIO_JOB.format(dev=dev), timeout=900).stdout)
            job = report["jobs"][0]
            status = vm.run(f"dmsetup status {dev}").stdout.strip()
            table_line = vm.run(f"dmsetup table {dev}").stdout.strip()
            vm.run(f"dmsetup remove {dev}")
        write, read = job["write"], job["read"]
        print()
        print("-" * 72)
        print(f" target           {target}")
        print(f" table            {table_line}")
        print(f" status           {status}")
        print(f" fio verify       {'passed' if job['error'] == 0 else 'FAILED'} "
              f"({write['io_bytes'] >> 20} MiB written, {read['io_bytes'] >> 20} MiB read)")
        print(f" write            {write['iops']:.0f} IOPS, mean latency "
              f"{write['lat_ns']['mean'] / 1000:.0f} us")
        print(f" read             {read['iops']:.0f} IOPS, mean latency "
              f"{read['lat_ns']['mean'] / 1000:.0f} us")
        print(" (figures are from an emulated CPU: compare targets, not hardware)")
        print(f" demo took {time.monotonic() - start:.0f} s")
        print("-" * 72)
        return 0 if job["error"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
