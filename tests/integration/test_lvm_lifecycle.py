"""lvpcache end to end in the VM: a pcache volume over a virtio-disk LV with
its cache LV on /dev/pmem0, through create, I/O with verification,
deactivate/activate, a power cut, check, set, detach and uncache; then a
second volume through pcache 1.1.0's cache modes, settings and an
interrupted detach.  The tests run in order and share one VM (one boot
plus the power cut)."""

import hashlib
import json
import time

import pytest

from harness.vm import REPO
from lvm_helpers import (LVPCACHE, MIB, dm_devices, dm_status_fields, lvm, lvm_vm, lvpcache, lvs, pattern_sha,
                         read_sha, setup_guest, target_version, write_file_pattern)

VG = "vg"
FIO = ("cd /tmp && fio --name=lc --filename=/dev/vg/data --ioengine=psync --direct=1 "
       "--rw=randwrite --bs=4k --size=8M --verify=crc32c --verify_state_save=0 "
       "--randrepeat=1 --output-format=terse")


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    yield from lvm_vm(tmp_path_factory, "lvm")


def test_create_makes_a_pcache_volume(vm):
    lvpcache(vm, f"create -L 256M -n data --cachedevice /dev/pmem0 --cachesize 600M "
                 f"--gc-percent 60 {VG} /dev/vda")
    lv = lvs(vm, VG)
    assert set(lv) == {"data", "data_pcorig", "data_pcvol"}
    origin, cache, name = lv["data_pcorig"], lv["data_pcvol"], lv["data"]
    assert origin["devices"] == "/dev/vda(0)" and cache["devices"] == "/dev/pmem0(0)"
    assert name["segtype"] == "error" and name["lv_active"] == ""
    for comp in (origin, cache, name):
        assert comp["lv_skip_activation"] == "skip activation"
        assert comp["lv_autoactivation"] == ""
        assert "pcache.volume=data" in comp["lv_tags"]
    assert "pcache.gc_percent=60" in origin["lv_tags"].split(",")
    devs = dm_devices(vm)
    assert devs["vg-data"].startswith("PCACHE-")
    assert vm.run("readlink /dev/vg/data").stdout.strip() == "/dev/mapper/vg-data"
    table = vm.run("dmsetup table vg-data").stdout.split()
    assert table[2] == "pcache" and table[-4:] == ["cache_mode", "writeback", "data_crc", "false"]
    assert dm_status_fields(vm, "vg-data")[4] == "60"


def test_cache_lv_on_pmem_keeps_dax(vm):
    def dax(name):
        minor = vm.run(f"dmsetup info -c --noheadings -o minor {name}").stdout.strip()
        return vm.run(f"cat /sys/dev/block/253:{minor}/queue/dax").stdout.strip()
    assert dax("vg-data_pcvol") == "1"      # dm-linear over pmem0
    assert dax("vg-data_pcorig") == "0"     # dm-linear over a virtio disk


def test_fio_verify_survives_deactivate_and_activate(vm):
    vm.run(FIO + " --do_verify=1", timeout=600)
    lvpcache(vm, "deactivate vg/data")
    assert not {"vg-data", "vg-data_pcorig", "vg-data_pcvol"} & set(dm_devices(vm))
    assert vm.run("test -e /dev/vg/data", check=False).rc != 0
    lvpcache(vm, "activate vg/data")
    vm.run(FIO + " --verify_only", timeout=600)


def test_status_json_matches_the_kernel(vm):
    doc = json.loads(lvpcache(vm, "status --json").stdout)
    (row,) = doc["pcache_volumes"]
    fields = dm_status_fields(vm, "vg-data")
    k = row["kernel"]
    assert [format(k["sb_flags"], "x"), str(k["seg_total"]), str(k["cache_segs"]),
            str(k["segs_used"]), str(k["gc_percent"]), format(k["cache_flags"], "x"),
            k["key_head"], k["dirty_tail"], k["key_tail"]] == fields[:9]
    # What follows upstream's nine: writeback_errors alone (pcache 1.0.0),
    # or issue 6's nine (pcache 1.1.0).
    if len(fields) == 10:
        assert str(k["writeback_errors"]) == fields[9]
    else:
        assert len(fields) == 18
        assert [str(k["read_hits"]), str(k["read_misses"]), str(k["write_hits"]),
                str(k["write_misses"]), str(k["dirty_bytes"]), str(k["writeback_errors"]),
                k["mode"], k["metadata_mode"], "needs_check" if k["needs_check"] else "-"] == fields[9:]
        assert row["dirty_bytes"] == k["dirty_bytes"]
    assert row["vg"] == VG and row["lv"] == "data" and row["origin"] == "data_pcorig"
    assert row["cachevol"] == "data_pcvol" and row["active"] is True
    assert row["origin_size"] == 256 * MIB and row["cache_size"] == 600 * MIB
    assert row["health"] == "ok" and row["cache_mode"] == "writeback"
    assert row["used_percent"] == pytest.approx(100 * k["segs_used"] / k["cache_segs"])
    text = lvpcache(vm, "status vg/data").stdout.splitlines()
    assert text[0].split()[:3] == ["LV", "Origin", "Cache"]
    assert text[1].split()[0] == "vg/data" and text[1].split()[-2:] == ["active", "ok"]


def test_set_changes_live_and_stored_settings(vm):
    lvpcache(vm, "set --gc-percent 40 vg/data")
    assert dm_status_fields(vm, "vg-data")[4] == "40"
    tags = lvs(vm, VG)["data_pcorig"]["lv_tags"]
    assert "pcache.gc_percent=40" in tags.split(",")
    if target_version(vm) < (1, 1, 0):
        # pcache 1.0 has no cache_mode message: refused, nothing changed
        # (the pcache 1.1.0 tests below test the switch itself).
        r = lvpcache(vm, "set --cachemode writethrough vg/data", check=False)
        assert r.rc == 1
        assert ("the loaded pcache module (1.0.0) does not support the 'cache_mode' message"
                in r.stderr and "needs pcache >= 1.1.0" in r.stderr)
        assert lvs(vm, VG)["data_pcorig"]["lv_tags"] == tags


def test_power_cut_then_check_and_activate(vm):
    sha = write_file_pattern(vm, "/dev/vg/data", 64 * MIB, 4 * MIB, seed=7)
    vm.crash()
    vm.boot()
    setup_guest(vm)
    # What a boot does before lvpcache runs: LVM activates the VG, which
    # leaves every component (above all the bare origin) down.
    lvm(vm, f"vgchange -ay {VG}")
    assert not {"vg-data", "vg-data_pcorig", "vg-data_pcvol"} & set(dm_devices(vm))
    r = lvpcache(vm, "check vg/data")
    assert "result: clean" in r.stdout
    assert "vg-data_pcvol" not in dm_devices(vm)
    lvpcache(vm, "activate --all")
    assert read_sha(vm, "/dev/vg/data", 64 * MIB, 4 * MIB) == sha
    vm.run(FIO + " --verify_only", timeout=600)
    r = lvpcache(vm, "check vg/data", check=False)
    assert r.rc == 1 and "is active; check works on an inactive volume" in r.stderr
    # Active: LVM cannot take the components away from under the volume.
    assert lvm(vm, f"vgchange -an {VG}", check=False).rc != 0
    assert dm_devices(vm)["vg-data"].startswith("PCACHE-")


def test_udev_rule_links_the_volume_and_activates_complete_vgs(vm):
    """69-lvpcache.rules through `udevadm test` (no udevd needed): the
    PCACHE- device gets /dev/vg/data; a PV completing the VG queues the
    activation, through systemd when it runs and directly otherwise."""
    rule = REPO / "lvm-plugin" / "udev" / "69-lvpcache.rules"
    vm.run(f"mkdir -p /etc/udev/rules.d && cp {rule} /etc/udev/rules.d/")
    minor = vm.run("dmsetup info -c --noheadings -o minor vg-data").stdout.strip()
    vm.run(f"rm -f /run/udev/data/b253:{minor}")
    out = vm.run(f"udevadm test --action=change /sys/dev/block/253:{minor} 2>&1").stdout
    assert "69-lvpcache.rules" in out and "LINK 'vg/data'" in out
    assert "/dev/vg/data" in next(line for line in out.splitlines() if line.startswith("DEVLINKS="))

    vm.run("sed -i 's/event_activation = 0/event_activation = 1/' /etc/lvm/lvm.conf")
    try:
        for systemd, expected in ((False, "run: '/usr/sbin/lvpcache activate --all vg'"),
                                  (True, "run: '/bin/systemctl --no-block start "
                                         "lvpcache-activate@vg.service'")):
            vm.run("rm -rf /run/lvm/pvs_online /run/lvm/vgs_online")
            vm.run("mkdir -p /run/systemd/system" if systemd else "rm -rf /run/systemd/system")
            if not systemd:
                first = vm.run("udevadm test --action=add /sys/block/vda 2>&1").stdout
                assert "LVM_VG_NAME_INCOMPLETE=vg" in first
                assert not [line for line in first.splitlines()
                            if line.startswith("run:") and "lvpcache" in line]
            else:
                vm.run("lvm pvscan --cache --listvg --checkcomplete --vgonline --autoactivation event "
                       "--udevoutput /dev/vda >/dev/null")
            last = vm.run("udevadm test --action=add /sys/block/pmem0 2>&1").stdout
            assert "LVM_VG_NAME_COMPLETE=vg" in last and expected in last
    finally:
        vm.run("rm -rf /run/systemd/system /run/lvm/pvs_online /run/lvm/vgs_online; "
               "sed -i 's/event_activation = 1/event_activation = 0/' /etc/lvm/lvm.conf")


def test_detach_uncache_writes_every_byte_back_to_the_origin(vm):
    vm.run("echo Y > /sys/module/pcache/parameters/writeback_hold")
    sha = write_file_pattern(vm, "/dev/vg/data", 128 * MIB, 4 * MIB, seed=11)
    (row,) = json.loads(lvpcache(vm, "status --json").stdout)["pcache_volumes"]
    k = row["kernel"]
    assert k["dirty_tail"] != k["key_head"]       # dirty data waits in the cache
    if target_version(vm) >= (1, 1, 0):
        # The kernel's cleaner writes it back: it needs the writeback worker.
        vm.run("echo N > /sys/module/pcache/parameters/writeback_hold")
        r = lvpcache(vm, "detach --uncache vg/data")
        assert "pcache_writeback" not in r.stderr
    else:
        # pcache 1.0.0 has no cleaner: the device goes, pcache_writeback
        # writes the inactive cache back.
        r = lvpcache(vm, "detach --uncache vg/data")
        assert "writing back" in r.stderr and "(pcache_writeback)" in r.stderr
    lv = lvs(vm, VG)
    assert set(lv) == {"data"}
    assert lv["data"]["segtype"] == "linear" and lv["data"]["lv_tags"] == ""
    assert lv["data"]["lv_active"] == "active" and lv["data"]["lv_autoactivation"] == "enabled"
    assert lv["data"]["lv_skip_activation"] == ""
    assert dm_devices(vm)["vg-data"].startswith("LVM-")
    assert read_sha(vm, "/dev/vg/data", 128 * MIB, 4 * MIB) == sha
    assert read_sha(vm, "/dev/vg/data", 64 * MIB, 4 * MIB) == pattern_sha(7, 4 * MIB)
    vm.run(FIO + " --verify_only", timeout=600)

# pcache 1.1.0's interface (issue 6), on a second volume, vg/wt, in the same
# VM: cache modes other than writeback, the cache_mode / writeback_rate /
# cleaner / flush messages, and the extended status.


def status(vm):
    (row,) = json.loads(lvpcache(vm, "status --json").stdout)["pcache_volumes"]
    return row


def test_the_target_has_the_1_1_interface(vm):
    version = target_version(vm)
    assert version >= (1, 1, 0), f"pcache target {version}: the tests below need pcache >= 1.1.0"


def test_create_in_writethrough_mode(vm):
    lvpcache(vm, f"create -L 256M -n wt --cachedevice /dev/pmem0 --cachesize 600M "
                 f"--cachemode writethrough {VG} /dev/vda")
    assert vm.run("dmsetup table vg-wt").stdout.split()[-3] == "writethrough"
    assert "pcache.cache_mode=writethrough" in lvs(vm, VG)["wt_pcorig"]["lv_tags"].split(",")
    sha = write_file_pattern(vm, "/dev/vg/wt", 0, 1 * MIB, seed=1)
    # Writethrough: the origin has it at once, and nothing is dirty.
    assert read_sha(vm, "/dev/mapper/vg-wt_pcorig", 0, 1 * MIB) == sha
    row = status(vm)
    assert row["cache_mode"] == "writethrough" and row["dirty_bytes"] == 0


def test_status_json_has_the_extended_fields(vm):
    read_sha(vm, "/dev/vg/wt", 0, 1 * MIB)           # hits
    read_sha(vm, "/dev/vg/wt", 32 * MIB, 1 * MIB)    # misses
    row = status(vm)
    fields = dm_status_fields(vm, "vg-wt")
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
    lvpcache(vm, "set --cachemode writeback vg/wt")
    sha = write_file_pattern(vm, "/dev/vg/wt", 4 * MIB, 1 * MIB, seed=2)
    # Leaving writeback writes the dirty data back first (flush), then switches.
    lvpcache(vm, "set --cachemode writearound vg/wt")
    assert status(vm)["cache_mode"] == "writearound"
    assert read_sha(vm, "/dev/mapper/vg-wt_pcorig", 4 * MIB, 1 * MIB) == sha
    assert "pcache.cache_mode=writearound" in lvs(vm, VG)["wt_pcorig"]["lv_tags"].split(",")
    lvpcache(vm, "deactivate vg/wt")
    lvpcache(vm, "activate vg/wt")
    assert vm.run("dmsetup table vg-wt").stdout.split()[-3] == "writearound"
    lvpcache(vm, "set --cachemode writeback vg/wt")


def test_writeback_rate_live_and_at_activation(vm):
    lvpcache(vm, "set --writeback-rate 20 vg/wt")
    assert "pcache.writeback_rate=20" in lvs(vm, VG)["wt_pcorig"]["lv_tags"].split(",")
    lvpcache(vm, "deactivate vg/wt")
    lvpcache(vm, "activate vg/wt")
    assert status(vm)["writeback_rate"] == 20
    lvpcache(vm, "set --writeback-rate 0 vg/wt")


def test_detach_interrupted_leaves_the_volume_cached_then_continues(vm):
    vm.run("echo Y > /sys/module/pcache/parameters/writeback_hold")
    sha = write_file_pattern(vm, "/dev/vg/wt", 8 * MIB, 32 * MIB, seed=3)
    assert status(vm)["dirty_bytes"] >= 32 * MIB
    # The cap first: released uncapped, writeback would empty the cache
    # in the seconds lvpcache set takes.
    lvpcache(vm, "set --writeback-rate 1 vg/wt")      # slow enough to interrupt
    vm.run("echo N > /sys/module/pcache/parameters/writeback_hold")
    vm.run(f"LVM_SUPPRESS_FD_WARNINGS=1 {LVPCACHE} detach vg/wt > /tmp/detach.out 2>&1 & "
           f"echo $! > /tmp/detach.pid; sleep 5; kill -INT $(cat /tmp/detach.pid); "
           f"wait $(cat /tmp/detach.pid); echo $? > /tmp/detach.rc", timeout=120)
    assert vm.run("cat /tmp/detach.rc").stdout.strip() == "1"
    out = vm.run("cat /tmp/detach.out").stdout
    assert "interrupted; nothing was detached and vg/wt is still active and cached" in out
    row = status(vm)
    assert row["active"] and row["cache_mode"] == "writeback"
    assert {"wt", "wt_pcorig", "wt_pcvol"} <= set(lvs(vm, VG))
    # The cleaner is off again: a write to an uncached region is cached
    # (dirty; writeback held), not written around to the origin as the
    # cleaner would.
    vm.run("echo Y > /sys/module/pcache/parameters/writeback_hold")
    write_file_pattern(vm, "/dev/vg/wt", 64 * MIB, 1 * MIB, seed=4)
    assert read_sha(vm, "/dev/mapper/vg-wt_pcorig", 64 * MIB, 1 * MIB) == \
        hashlib.sha256(bytes(1 * MIB)).hexdigest()
    vm.run("echo N > /sys/module/pcache/parameters/writeback_hold")
    lvpcache(vm, "set --writeback-rate 0 vg/wt")
    started = time.monotonic()
    r = lvpcache(vm, "detach vg/wt")
    assert "pcache_writeback" not in r.stderr          # the kernel's cleaner did it
    assert time.monotonic() - started < 240
    assert set(lvs(vm, VG)) == {"data", "wt", "wt_pcvol"}
    assert read_sha(vm, "/dev/vg/wt", 8 * MIB, 32 * MIB) == sha
    assert read_sha(vm, "/dev/vg/wt", 64 * MIB, 1 * MIB) == pattern_sha(4, 1 * MIB)
