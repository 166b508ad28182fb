"""pcache_check, pcache_dump and pcache_restore on a device-dax device
(/dev/dax0.0), which only supports mmap: one VM, two boots.

First boot: a block device held by the kernel is refused for writing by
name; restore onto /dev/dax0.0 through the mapping, clear the needs_check
flag there, and read the result back from the host side of the pmem file.  Second boot: Linux 6.18's golden image, written into the pmem
file from the host while the VM is down, checks clean and dumps exactly as
it does on the host."""

import os
import subprocess

import pytest

from conftest import finish_vm, make_vm
from tools_helpers import CacheXml, check, decompress_vector, dump, sequential_keys, tool

DAX = "/dev/dax0.0"
# Room for the golden image's 63 segments (1,056,985,088 bytes).
PMEM_SIZE = (1 << 30) + (64 << 20)


@pytest.fixture(scope="module")
def dax_vm(tmp_path_factory):
    vm = make_vm(tmp_path_factory, "dax", pmem_size=PMEM_SIZE, disks=(64 << 20,), pmem_mode="devdax")
    vm.boot()
    yield vm
    finish_vm(vm)


def copy_sparse_into_pmem(vm, path):
    """Writes the data extents of a sparse image into /dev/dax0.0's bytes."""
    with open(path, "rb") as f:
        fd = f.fileno()
        end = os.fstat(fd).st_size
        pos = 0
        while pos < end:
            try:
                pos = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            hole = os.lseek(fd, pos, os.SEEK_HOLE)
            f.seek(pos)
            while pos < hole:
                chunk = f.read(min(hole - pos, 4 << 20))
                vm.write_pmem(pos, chunk)
                pos += len(chunk)


def test_a_device_in_use_by_the_kernel_is_refused_for_writing(dax_vm, tmp_path):
    xml = CacheXml().write(tmp_path / "c.xml")
    dax_vm.run("modprobe dm-mod && dmsetup create hold --table '0 1024 linear /dev/vda 0'")
    try:
        for cmd in (f"{tool('pcache_restore')} -i {xml} -o /dev/vda",
                    f"{tool('pcache_check')} --clear-needs-check-flag /dev/vda"):
            r = dax_vm.run(cmd, check=False)
            assert r.rc == 1
            assert r.stderr == "{}: /dev/vda: device is busy (is the cache in use by the kernel?)\n".format(
                cmd.split()[0].rsplit("/", 1)[1])
        # Reading needs no exclusive open.
        r = dax_vm.run(f"{tool('pcache_check')} /dev/vda", check=False)
        assert r.rc == 1 and "magic is zero" in r.stdout
    finally:
        dax_vm.run("dmsetup remove hold", check=False)


def test_restore_and_clear_needs_check_through_the_mapping(dax_vm, tmp_path):
    cache = CacheXml(seg_num=40, needs_check=True)
    cache.keys(sequential_keys(1000))
    xml = cache.write(tmp_path / "cache.xml")
    r = dax_vm.run(f"{tool('pcache_restore')} -i {xml} -o {DAX}", check=False)
    assert r.rc == 0, r.stderr
    assert "restored 40 segments, 8 ksets and 1000 keys to /dev/dax0.0" in r.stderr
    r = dax_vm.run(f"{tool('pcache_check')} --clear-needs-check-flag {DAX}", check=False)
    assert r.rc == 0, r.stdout + r.stderr
    assert "needs_check: cleared" in r.stdout
    # The flag went out as a new copy: seq 2 in slot 1, slot 0 untouched.
    before = cache.xml()
    slot0 = next(line for line in before.splitlines() if "<cache_info" in line)
    slot1 = slot0.replace('slot="0" seq="1"', 'slot="1" seq="2"').replace('needs_check="true"',
                                                                        'needs_check="false"')
    r = dax_vm.run(f"{tool('pcache_dump')} {DAX}", check=False)
    assert r.rc == 0, r.stderr
    assert r.stdout == before.replace(slot0, slot0 + "\n" + slot1)

    # What the guest wrote through the mapping is in the pmem file.
    dax_vm.shutdown()
    host_copy = tmp_path / "from-pmem.img"
    dax_vm.copy_pmem_image(host_copy)
    assert dump(host_copy).stdout == r.stdout
    assert check(host_copy).returncode == 0


def test_upstream_image_on_device_dax(dax_vm, tmp_path):
    golden = decompress_vector("c-writes-clean.pmem0", tmp_path)
    assert not dax_vm.running
    # Zero the whole device (what the previous test left) and lay the image in.
    subprocess.run(["fallocate", "--punch-hole", "--offset", str(dax_vm.pmem_data_offset),
                    "--length", str(dax_vm.pmem_device_size), str(dax_vm.pmem_path)], check=True)
    copy_sparse_into_pmem(dax_vm, golden)
    dax_vm.boot()
    r = dax_vm.run(f"{tool('pcache_check')} {DAX}", check=False)
    assert r.rc == 0, r.stdout + r.stderr
    assert "log: 17 ksets and 0 LAST ksets, 82328 bytes from key_tail 0:0 to 0:82328" in r.stdout
    for args in ("", "--logical"):
        r = dax_vm.run(f"{tool('pcache_dump')} {args} {DAX}", check=False)
        assert r.rc == 0, r.stderr
        assert r.stdout == dump(golden, *args.split()).stdout
