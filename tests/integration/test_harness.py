"""The VM harness itself: boot, DAX pmem, a real dm target over pmem, crash
persistence, getting files back, and failure reports that explain."""

import os

import pytest

from conftest import finish_vm, make_vm
from harness import vmlinux
from harness.vm import GuestCommandError, kernel_image, kernel_version

MIB = 1 << 20


def test_boots_debian_kernel(vm):
    assert vm.run("uname -r").stdout.strip() == kernel_version()


def test_boots_the_unpacked_kernel_at_its_pvh_entry():
    # make unpacked /boot/vmlinuz's payload, and the VMs load that ELF: the
    # decompressor is what the PVH boot saves (6 s per boot under TCG).
    kver = kernel_version()
    elf = kernel_image(kver)
    assert elf.name == f"vmlinux-{kver}", f"VMs boot {elf}: 'make vm-image' did not unpack it"
    data = elf.read_bytes()
    assert vmlinux.has_pvh_note(data)
    bzimage = (vmlinux.Path("/boot") / f"vmlinuz-{kver}").read_bytes()
    assert not vmlinux.has_pvh_note(bzimage)
    assert vmlinux.decompress_payload(bzimage) == data


def test_an_image_without_xz_payload_is_not_unpacked():
    assert vmlinux.decompress_payload(b"MZ" + bytes(4096)) is None
    # A valid XZ stream that is not an ELF does not count either.
    assert vmlinux.decompress_payload(b"junk" + vmlinux.lzma.compress(b"text")) is None


def test_pmem0_is_dax(vm):
    assert vm.run("cat /sys/block/pmem0/queue/dax").stdout.strip() == "1"
    size = int(vm.run("blockdev --getsize64 /dev/pmem0").stdout)
    assert size == vm.pmem_device_size
    # 1 GiB region minus the fsdax info block and struct-page reserve.
    assert 1000 * MIB < size <= 1024 * MIB


def test_virtio_disk_present(vm):
    assert int(vm.run("blockdev --getsize64 /dev/vda").stdout) == 1 << 30


def test_pmem_offset_maps_guest_bytes_to_host_file(vm):
    marker = os.urandom(512)
    vm.run("dd of=/dev/pmem0 bs=512 seek=2048 count=1 oflag=direct status=none", input=marker)
    vm.run("sync")
    assert vm.read_pmem(2048 * 512, 512) == marker


def test_share_is_writable_and_visible_on_host(vm):
    vm.run(f"echo hello from the guest > {vm.share}/hello.txt")
    assert (vm.share / "hello.txt").read_text() == "hello from the guest\n"


def test_guest_sees_this_checkout(vm):
    here = os.path.abspath(__file__)
    assert vm.run(f"test -f {here} && echo yes").stdout.strip() == "yes"


def test_dm_writecache_over_pmem_passes_fio_verify(vm):
    """A real dm target on pmem0 + vda: proves device-mapper, DAX and fio."""
    vm.run("modprobe dm-writecache")
    sectors = int(vm.run("blockdev --getsz /dev/vda").stdout)
    vm.run(f"dmsetup create wc --table '0 {sectors} writecache p /dev/vda /dev/pmem0 4096 0'")
    try:
        vm.run("dmsetup mknodes")
        vm.run("fio --name=verify --filename=/dev/mapper/wc --rw=randwrite --bs=4k "
               "--size=32M --ioengine=libaio --direct=1 --iodepth=4 --verify=crc32c "
               "--do_verify=1 --randseed=42 --output-format=terse", timeout=600)
        status = vm.run("dmsetup status wc").stdout.split()
        assert status[2] == "writecache"
    finally:
        vm.run("dmsetup remove wc", check=False)


def test_failure_report_has_output_and_dmesg(vm):
    vm.run("echo harness-marker > /dev/kmsg")
    with pytest.raises(GuestCommandError) as info:
        vm.run("echo to-stdout; echo to-stderr >&2; exit 3")
    text = str(info.value)
    assert "exit status 3" in text
    assert "to-stdout" in text and "to-stderr" in text
    assert "harness-marker" in text  # the dmesg tail


def test_timeout_kills_the_command(vm):
    result = vm.run("sleep 30", timeout=2, check=False)
    assert result.timed_out
    assert vm.run("echo still alive").stdout.strip() == "still alive"


def test_flushed_pmem_data_survives_crash(tmp_path_factory):
    machine = make_vm(tmp_path_factory, "crash")
    machine.boot()
    payload = os.urandom(64 * 1024)
    machine.run("dd of=/dev/pmem0 bs=64k seek=100 count=1 oflag=direct,sync status=none",
                input=payload)
    machine.crash()
    assert not machine.running
    machine.boot()
    got = machine.run("dd if=/dev/pmem0 bs=64k skip=100 count=1 iflag=direct status=none"
                      ).stdout_bytes
    assert got == payload
    finish_vm(machine)


def test_devdax_mode_gives_a_mappable_character_device(tmp_path_factory):
    machine = make_vm(tmp_path_factory, "devdax", pmem_mode="devdax")
    machine.boot()
    assert machine.run("stat -c %F /dev/dax0.0").stdout.strip() == "character special file"
    marker = os.urandom(64)
    # device-dax supports mmap only (no read/write); msync is not needed.
    machine.run("python3 -S -c \"import mmap, os, sys; fd = os.open('/dev/dax0.0', os.O_RDWR); "
                "m = mmap.mmap(fd, 2 << 20, mmap.MAP_SHARED); "
                "m[8192:8256] = sys.stdin.buffer.read(64)\"", input=marker)
    machine.shutdown()
    assert machine.read_pmem(8192, 64) == marker
    finish_vm(machine)
