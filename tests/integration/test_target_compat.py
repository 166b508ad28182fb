"""Caches written by Linux v6.18's own dm-pcache load in our target
(shared/vectors/upstream-v6.18, README.md there): replay finds the log end
upstream left, reads give exactly upstream's logical content, and a cache
we then write to reloads with both its old and new data.

The images come from a 1 GiB pmem namespace (device 1,071,644,672 bytes),
the harness's default, so they are written at vm.pmem_data_offset into the
VM's pmem file between boots, and the backing image into the disk file."""

import hashlib
import os
import subprocess

import pytest

from conftest import finish_vm, make_vm
from harness.vectors import vectors_dir
from pcache_target import (MIB, create, make_pattern, pcache_check, read_range,
                           read_sha, remove, status, wait_clean, write_pattern)

TABLE = "/dev/pmem0 /dev/vda 4 cache_mode writeback data_crc false"
DEVICE_SIZE = 1071644672
C_WRITES_SHA = "c5740970c7dbacc577bed7a38981fb041f5634e4e37138f2f0bd4946b30f5623"


def unpack(name, tmp_path):
    out = tmp_path / name
    subprocess.run(["zstd", "-q", "-d", "--sparse", "-f", str(vectors_dir() / f"{name}.zst"),
                    "-o", str(out)], check=True)
    return out


def install(image, dest, dest_offset, length):
    """Make dest[dest_offset, +length) equal to image: punch the range to
    zeros, then copy the image's data extents (images are sparse)."""
    subprocess.run(["fallocate", "--punch-hole", "--keep-size", "-o", str(dest_offset),
                    "-l", str(length), str(dest)], check=True)
    with open(image, "rb") as src, open(dest, "r+b") as out:
        size = os.fstat(src.fileno()).st_size
        assert size == length, f"{image}: {size} bytes, expected {length}"
        off = 0
        while off < size:
            try:
                start = os.lseek(src.fileno(), off, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            src.seek(start)
            out.seek(dest_offset + start)
            while start < end:
                chunk = src.read(min(end - start, 8 * MIB))
                out.write(chunk)
                start += len(chunk)
            off = end


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    machine = make_vm(tmp_path_factory, "compat")
    machine.boot()                 # sets up the fsdax namespace once
    assert machine.pmem_device_size == DEVICE_SIZE
    machine.shutdown()
    yield machine
    finish_vm(machine)


def load_vector(vm, name, tmp_path):
    if vm.running:
        vm.shutdown()
    install(unpack(f"{name}.pmem0.img", tmp_path), vm.pmem_path, vm.pmem_data_offset,
            DEVICE_SIZE)
    install(unpack(f"{name}.backing.img", tmp_path), vm.disk_paths[0], 0, 1 << 30)
    vm.boot()
    vm.load_module()
    return create(vm, TABLE)


def round_trip(vm, dev):
    """Write through the loaded upstream cache, reload, and find the old
    content with the new writes on top."""
    read_range(vm, dev, 0, 64 * MIB, "/tmp/before")
    write_pattern(vm, dev, 4 * MIB + 4096, 2 * MIB, seed=51)
    write_pattern(vm, dev, 60 * MIB - 512, 1 * MIB, seed=52, oflag="direct,dsync")
    remove(vm)
    pcache_check(vm, "/dev/pmem0")
    dev = create(vm, TABLE)
    make_pattern(vm, 51, 2 * MIB)
    make_pattern(vm, 52, 1 * MIB)
    vm.run("python3 -S -c \"a = bytearray(open('/tmp/before', 'rb').read()); "
           f"a[{4 * MIB + 4096}:{6 * MIB + 4096}] = open('/tmp/pat51', 'rb').read(); "
           f"a[{60 * MIB - 512}:{61 * MIB - 512}] = open('/tmp/pat52', 'rb').read(); "
           "open('/tmp/expect', 'wb').write(a)\"")
    read_range(vm, dev, 0, 64 * MIB, "/tmp/after")
    vm.run("cmp /tmp/after /tmp/expect")
    remove(vm)
    pcache_check(vm, "/dev/pmem0")


def test_upstream_fresh_cache(vm, tmp_path):
    dev = load_vector(vm, "a-fresh-nocrc", tmp_path)
    # README: "0 63 63 1 70 1182 0:0 0:0 0:0" before removal.
    assert status(vm) == ["0", "63", "63", "1", "70", "1182", "0:0", "0:0", "0:0",
                          "0", "0", "0", "0", "0", "0", "writeback", "rw", "-"]
    assert read_sha(vm, dev, 0, 64 * MIB) == hashlib.sha256(bytes(64 * MIB)).hexdigest()
    round_trip(vm, dev)


def test_upstream_cache_with_dirty_writes(vm, tmp_path):
    dev = load_vector(vm, "c-writes-clean", tmp_path)
    # README, after a fresh load: "0 63 63 2 70 1182 0:82328 0:15432 0:0".
    # key_head (replay's log end) and the segments in use must match; the
    # dirty_tail there had moved because upstream's writeback ran after the
    # load, as ours does: once it has caught up, the backing image (all
    # zero in the vectors) holds the content upstream's cache held.
    st = status(vm)
    assert st[:7] == ["0", "63", "63", "2", "70", "1182", "0:82328"]
    assert st[8] == "0:0"
    # Nothing read or written yet (dirty bytes: whatever writeback, which
    # started at once, has left); no errors, writeback, rw, no needs_check.
    assert st[9:13] == ["0", "0", "0", "0"]
    assert st[14:] == ["0", "writeback", "rw", "-"]
    assert read_sha(vm, dev, 0, 64 * MIB) == C_WRITES_SHA
    st = wait_clean(vm)          # the read above added CLEAN keys (fills)
    assert st["dirty_tail"] == st["key_head"]
    assert read_sha(vm, "/dev/vda", 0, 64 * MIB) == C_WRITES_SHA
    round_trip(vm, dev)
