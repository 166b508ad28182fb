#!/usr/bin/python3
"""make demo: boot a VM with 1 GiB of emulated DAX pmem in front of a 2 GiB
virtual disk, put a pcache cache on it, run a short fio workload with
verification, reload the cache (replaying its key log) and check the data
again, then print the device-mapper status and a one-screen summary."""

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

# The region fio worked on, read back with O_DIRECT.
SHA_CMD = ("dd if=/dev/mapper/{dev} bs=1M count=128 iflag=direct status=none "
           "| sha256sum")


def step(text):
    print(f"==> {text}", flush=True)


def create_cache(vm, sectors):
    """Format a new cache (a zero superblock magic means 'format me') and
    return (device name, table)."""
    vm.load_module()
    vm.run("dd if=/dev/zero of=/dev/pmem0 bs=4096 count=5 oflag=direct status=none")
    table = f"0 {sectors} pcache /dev/pmem0 /dev/vda"
    vm.run(f"dmsetup create pcache_demo --table '{table}'")
    return "pcache_demo", table


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
            dev, table = create_cache(vm, sectors)
            vm.run("dmsetup mknodes")
            print(f"    dmsetup create {dev} --table '{table}'")
            step("running fio: 64 MiB of 4 KiB random I/O (30% reads) with crc32c verify")
            report = json.loads(vm.run(FIO_JOB.format(dev=dev), timeout=900).stdout)
            job = report["jobs"][0]
            status = vm.run(f"dmsetup status {dev}").stdout.strip()
            table_line = vm.run(f"dmsetup table {dev}").stdout.strip()
            before = vm.run(SHA_CMD.format(dev=dev), timeout=300).stdout.split()[0]
            step("removing the cache and loading it again (replay of the key log)")
            vm.run(f"dmsetup remove {dev}")
            vm.run(f"dmsetup create {dev} --table '{table_line}'")
            vm.run("dmsetup mknodes")
            after = vm.run(SHA_CMD.format(dev=dev), timeout=300).stdout.split()[0]
            vm.run(f"dmsetup remove {dev}")
        write, read = job["write"], job["read"]
        print()
        print("-" * 72)
        print(" target           pcache")
        print(f" table            {table_line}")
        print(f" status           {status}")
        print(f" fio verify       {'passed' if job['error'] == 0 else 'FAILED'} "
              f"({write['io_bytes'] >> 20} MiB written, {read['io_bytes'] >> 20} MiB read)")
        print(f" write            {write['iops']:.0f} IOPS, mean latency "
              f"{write['lat_ns']['mean'] / 1000:.0f} us")
        print(f" read             {read['iops']:.0f} IOPS, mean latency "
              f"{read['lat_ns']['mean'] / 1000:.0f} us")
        print(f" reload           {'same data after replay' if before == after else 'DATA CHANGED'}")
        print(" (figures are from an emulated CPU: compare targets, not hardware)")
        print(f" demo took {time.monotonic() - start:.0f} s")
        print("-" * 72)
        return 0 if job["error"] == 0 and before == after else 1


if __name__ == "__main__":
    sys.exit(main())
