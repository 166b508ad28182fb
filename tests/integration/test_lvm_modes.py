"""lvpcache with the interface of pcache 1.1.0 (issue 6): cache modes other
than writeback, the cache_mode / writeback_rate / cleaner / flush
messages, and the extended status.  The first test fails, saying so, on an
older target.  One VM; the tests run in order."""

import hashlib
import json
import time

import pytest

from lvm_helpers import (LVPCACHE, MIB, dm_status_fields, lvm_vm, lvpcache, lvs, pattern_sha, read_sha,
                         write_file_pattern)

VG = "vg"


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    yield from lvm_vm(tmp_path_factory, "lvm6")


def status(vm):
    (row,) = json.loads(lvpcache(vm, "status --json").stdout)["pcache_volumes"]
    return row


def test_the_target_has_the_issue6_interface(vm):
    version = vm.run("dmsetup targets | awk '$1 == \"pcache\" {print $2}'").stdout.strip()
    assert tuple(int(x) for x in version.lstrip("v").split(".")) >= (1, 1, 0), \
        f"pcache target {version}: these tests need issue 6 (pcache >= 1.1.0)"


def test_create_in_writethrough_mode(vm):
    lvpcache(vm, f"create -L 256M -n data --cachedevice /dev/pmem0 --cachesize 600M "
                 f"--cachemode writethrough {VG} /dev/vda")
    assert vm.run("dmsetup table vg-data").stdout.split()[-3] == "writethrough"
    assert "pcache.cache_mode=writethrough" in lvs(vm, VG)["data_pcorig"]["lv_tags"].split(",")
    sha = write_file_pattern(vm, "/dev/vg/data", 0, 1 * MIB, seed=1)
    # Writethrough: the origin has it at once, and nothing is dirty.
    assert read_sha(vm, "/dev/mapper/vg-data_pcorig", 0, 1 * MIB) == sha
    row = status(vm)
    assert row["cache_mode"] == "writethrough" and row["dirty_bytes"] == 0


def test_status_json_has_the_extended_fields(vm):
    read_sha(vm, "/dev/vg/data", 0, 1 * MIB)           # hits
    read_sha(vm, "/dev/vg/data", 32 * MIB, 1 * MIB)    # misses
    row = status(vm)
    fields = dm_status_fields(vm, "vg-data")
    assert len(fields) == 18
    k = row["kernel"]
    assert [str(k["read_hits"]), str(k["read_misses"]), str(k["write_hits"]),
            str(k["write_misses"]), str(k["dirty_bytes"]), str(k["writeback_errors"]),
            k["mode"], k["metadata_mode"], "needs_check" if k["needs_check"] else "-"] == fields[9:]
    assert k["read_hits"] > 0 and k["read_misses"] > 0
    assert row["read_hit_percent"] == pytest.approx(
        100 * k["read_hits"] / (k["read_hits"] + k["read_misses"]))
    assert row["health"] == "ok"


def test_set_cachemode_live_and_stored(vm):
    lvpcache(vm, "set --cachemode writeback vg/data")
    sha = write_file_pattern(vm, "/dev/vg/data", 4 * MIB, 1 * MIB, seed=2)
    # Leaving writeback writes the dirty data back first (flush), then switches.
    lvpcache(vm, "set --cachemode writearound vg/data")
    assert status(vm)["cache_mode"] == "writearound"
    assert read_sha(vm, "/dev/mapper/vg-data_pcorig", 4 * MIB, 1 * MIB) == sha
    assert "pcache.cache_mode=writearound" in lvs(vm, VG)["data_pcorig"]["lv_tags"].split(",")
    lvpcache(vm, "deactivate vg/data")
    lvpcache(vm, "activate vg/data")
    assert vm.run("dmsetup table vg-data").stdout.split()[-3] == "writearound"
    lvpcache(vm, "set --cachemode writeback vg/data")


def test_writeback_rate_live_and_at_activation(vm):
    lvpcache(vm, "set --writeback-rate 20 vg/data")
    assert "pcache.writeback_rate=20" in lvs(vm, VG)["data_pcorig"]["lv_tags"].split(",")
    lvpcache(vm, "deactivate vg/data")
    lvpcache(vm, "activate vg/data")
    assert status(vm)["writeback_rate"] == 20
    lvpcache(vm, "set --writeback-rate 0 vg/data")


def test_detach_interrupted_leaves_the_volume_cached_then_continues(vm):
    vm.run("echo Y > /sys/module/pcache/parameters/writeback_hold")
    sha = write_file_pattern(vm, "/dev/vg/data", 8 * MIB, 32 * MIB, seed=3)
    assert status(vm)["dirty_bytes"] >= 32 * MIB
    # The cap first: released uncapped, writeback would empty the cache
    # in the seconds lvpcache set takes.
    lvpcache(vm, "set --writeback-rate 1 vg/data")      # slow enough to interrupt
    vm.run("echo N > /sys/module/pcache/parameters/writeback_hold")
    vm.run(f"LVM_SUPPRESS_FD_WARNINGS=1 {LVPCACHE} detach vg/data > /tmp/detach.out 2>&1 & "
           f"echo $! > /tmp/detach.pid; sleep 5; kill -INT $(cat /tmp/detach.pid); "
           f"wait $(cat /tmp/detach.pid); echo $? > /tmp/detach.rc", timeout=120)
    assert vm.run("cat /tmp/detach.rc").stdout.strip() == "1"
    out = vm.run("cat /tmp/detach.out").stdout
    assert "interrupted; nothing was detached and vg/data is still active and cached" in out
    row = status(vm)
    assert row["active"] and row["cache_mode"] == "writeback"
    assert {"data", "data_pcorig", "data_pcvol"} <= set(lvs(vm, VG))
    # The cleaner is off again: a write to an uncached region is cached
    # (dirty; writeback held), not written around to the origin as the
    # cleaner would.
    vm.run("echo Y > /sys/module/pcache/parameters/writeback_hold")
    write_file_pattern(vm, "/dev/vg/data", 64 * MIB, 1 * MIB, seed=4)
    assert read_sha(vm, "/dev/mapper/vg-data_pcorig", 64 * MIB, 1 * MIB) == \
        hashlib.sha256(bytes(1 * MIB)).hexdigest()
    vm.run("echo N > /sys/module/pcache/parameters/writeback_hold")
    lvpcache(vm, "set --writeback-rate 0 vg/data")
    started = time.monotonic()
    r = lvpcache(vm, "detach vg/data")
    assert "pcache_writeback" not in r.stderr          # the kernel's cleaner did it
    assert time.monotonic() - started < 240
    assert set(lvs(vm, VG)) == {"data", "data_pcvol"}
    assert read_sha(vm, "/dev/vg/data", 8 * MIB, 32 * MIB) == sha
    assert read_sha(vm, "/dev/vg/data", 64 * MIB, 1 * MIB) == pattern_sha(4, 1 * MIB)
