"""lvpcache when things are wrong: bad arguments change nothing, a missing
pmem PV keeps the volume (and its origin) down, damaged cache metadata
stops activation until `lvpcache repair`, and `detach --force` gives up a
lost cache.  One VM; the tests run in order."""

import hashlib
import json
import re
from types import SimpleNamespace

import pytest

from harness.vm import REPO
from lvm_helpers import (LVPCACHE, MIB, dm_devices, lvm, lvm_vm, lvpcache, lvs, one_line_error, pattern_sha,
                         read_sha, setup_guest, vg_backup, write_file_pattern)

VG = "vg"
LVPCACHE_CMD = f"LVM_SUPPRESS_FD_WARNINGS=1 {LVPCACHE}"
HOLD_WRITEBACK = "echo Y > /sys/module/pcache/parameters/writeback_hold"


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    for machine in lvm_vm(tmp_path_factory, "lvmfail"):
        lvm(machine, f"lvcreate -q -y -L 256M -n data {VG} /dev/vda")
        lvm(machine, f"lvcreate -q -y -an -L 600M -n fast {VG} /dev/pmem0")
        write_file_pattern(machine, "/dev/vg/data", 0, 8 * MIB, seed=1)
        yield machine


def test_attach_cachevol_keeps_the_origin_data(vm):
    lvpcache(vm, "attach --cachevol fast --data-crc y vg/data")
    lv = lvs(vm, VG)
    assert {"data", "data_pcorig", "data_pcvol"} <= set(lv)
    assert "pcache.was_name=fast" in lv["data_pcvol"]["lv_tags"].split(",")
    assert vm.run("dmsetup table vg-data").stdout.split()[-1] == "true"
    assert read_sha(vm, "/dev/vg/data", 0, 8 * MIB) == pattern_sha(1, 8 * MIB)


BAD_ARGUMENTS = [
    ("frobnicate", "unknown command 'frobnicate'"),
    ("attach", "no VG/LV given"),
    ("attach --bogus vg/plain", "unrecognised option '--bogus'"),
    ("attach vg/plain", "give either --cachevol LV or --cachedevice PV"),
    ("attach --cachevol small --cachesize 1G vg/plain", "--cachesize goes with --cachedevice"),
    ("attach --cachedevice /dev/pmem0 --cachesize 1X vg/plain", "invalid size for --cachesize"),
    ("attach --cachedevice /dev/pmem0 --cachemode fast vg/plain", "invalid cache mode 'fast'"),
    ("attach --cachedevice /dev/pmem0 --gc-percent 91 vg/plain", "invalid value for --gc-percent"),
    ("attach --cachedevice /dev/pmem0 --data-crc maybe vg/plain", "invalid value for --data-crc"),
    ("attach --cachedevice /dev/pmem0 vgplain", "'vgplain' is not VG/LV"),
    ("attach --cachedevice /dev/pmem0 vg/no_such", "vg/no_such does not exist"),
    ("attach --cachedevice /dev/pmem0 vg/data", "vg/data is already part of the pcache volume"),
    ("attach --cachevol small vg/plain", "a pcache cache needs at least 512 MiB"),
    ("attach --cachevol ondisk vg/plain", "does not support DAX"),
    ("attach --cachedevice /dev/vda vg/plain", "/dev/vda, which does not support DAX"),
    ("attach --cachedevice /dev/nosuch vg/plain", "--cachedevice /dev/nosuch is not a PV of vg"),
    ("attach --cachedevice /dev/pmem0 --cachesize 100G vg/plain", "more than the"),
    ("attach --cachedevice /dev/pmem0 vg/busy", "vg/busy is open"),
    ("create -n x vg --cachedevice /dev/pmem0", "give the size of the new LV with -L SIZE"),
    ("create -L 64M vg --cachedevice /dev/pmem0", "give the name of the new LV with -n LV"),
    ("create -L 64M -n plain --cachedevice /dev/pmem0 vg", "vg/plain already exists"),
    ("create -L 64M -n new --cachedevice /dev/pmem0 vg /dev/nosuch", "/dev/nosuch is not a PV of vg"),
    ("activate", "give VG/LV, or --all"),
    ("activate vg/plain", "vg/plain is not a pcache volume"),
    ("activate vg/data_pcorig", "is a component of the pcache volume vg/data"),
    ("deactivate nosuchvg/x", "Volume group \"nosuchvg\" not found"),
    ("detach --yes vg/data", "--yes only confirms --force"),
    ("detach --force vg/data", "--force is only for a volume whose cache LV is missing"),
    ("set vg/data", "nothing to set"),
    ("set --gc-percent 100 vg/data", "invalid value for --gc-percent"),
    ("set --cachemode bogus vg/data", "invalid cache mode 'bogus'"),
    ("set --writeback-rate=-5 vg/data", "invalid value for --writeback-rate"),
    ("status vg/plain", "vg/plain is not a pcache volume"),
    ("status --bogus", "unrecognised option '--bogus'"),
    ("check vg/data", "vg/data is active; check works on an inactive volume"),
    ("repair vg/data", "vg/data is active; repair works on an inactive volume"),
]


# Runs lvpcache with each argument string of a JSON list; prints the
# results as a JSON list of {rc, stdout, stderr}.
RUN_ALL = r'''
import json, os, shlex, subprocess, sys
env = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1")
out = []
for args in json.load(open(sys.argv[2])):
    r = subprocess.run([sys.argv[1]] + shlex.split(args), capture_output=True, text=True, env=env)
    out.append({"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr})
print(json.dumps(out))
'''


def test_bad_arguments_give_one_line_and_change_nothing(vm):
    lvm(vm, f"lvcreate -q -y -L 64M -n plain {VG} /dev/vda")
    lvm(vm, f"lvcreate -q -y -L 64M -n busy {VG} /dev/vda")
    lvm(vm, f"lvcreate -q -y -an -L 64M -n small {VG} /dev/pmem0")
    lvm(vm, f"lvcreate -q -y -an -L 600M -n ondisk {VG} /dev/vda")
    vm.run("python3 -S -c 'import time; f = open(\"/dev/vg/busy\", \"rb\"); time.sleep(3600)' "
           ">/dev/null 2>&1 & sleep 1")
    metadata = vg_backup(vm, VG)
    tables = vm.run("dmsetup table | sort").stdout
    # One guest command for all of them (a guest command costs ~0.5 s).
    vm.run(f"cat > /tmp/bad_args.json <<'EOF'\n{json.dumps([a for a, _ in BAD_ARGUMENTS])}\nEOF")
    vm.run(f"cat > /tmp/run_all.py <<'EOF'\n{RUN_ALL}EOF")
    results = json.loads(vm.run(f"python3 -S /tmp/run_all.py {LVPCACHE} /tmp/bad_args.json",
                                timeout=600).stdout)
    for (args, expected), r in zip(BAD_ARGUMENTS, results, strict=True):
        line = one_line_error(SimpleNamespace(**r))
        assert expected in line, f"lvpcache {args}: {line}"
        assert r["stdout"] == "", f"lvpcache {args} printed {r['stdout']!r}"
    assert vg_backup(vm, VG) == metadata
    assert vm.run("dmsetup table | sort").stdout == tables
    vm.run("pkill -f 'open\\(\"/dev/vg/busy\"' ; sleep 0.5")
    lvm(vm, f"lvremove -q -y {VG}/plain {VG}/busy {VG}/small {VG}/ondisk")


def test_a_missing_pmem_keeps_the_volume_and_its_origin_down(vm):
    lvpcache(vm, "deactivate vg/data")
    vm.run("ndctl disable-namespace namespace0.0")
    try:
        metadata = vg_backup(vm, VG)
        r = lvpcache(vm, "activate vg/data", check=False)
        assert r.rc == 1
        assert "vg/data not activated: its cache LV vg/data_pcvol is missing a PV" in r.stderr
        assert "its origin is not activated alone" in r.stderr
        assert "lvpcache detach --force vg/data" in r.stderr
        assert not dm_devices(vm)
        r = lvpcache(vm, "activate --all", check=False)
        assert r.rc == 1 and "vg/data not activated" in r.stderr
        # LVM's own activation leaves every component down too.
        lvm(vm, f"vgchange -ay {VG}", check=False)
        assert not dm_devices(vm)
        (row,) = json.loads(lvpcache(vm, "status --json").stdout)["pcache_volumes"]
        assert row["health"] == "missing device" and "missing a PV" in row["problem"]
        r = lvpcache(vm, "detach vg/data", check=False)
        assert r.rc == 1 and "if that is acceptable: lvpcache detach --force vg/data" in r.stderr
        assert vg_backup(vm, VG) == metadata
    finally:
        vm.run("ndctl enable-namespace namespace0.0")
    lvpcache(vm, "activate vg/data")
    assert read_sha(vm, "/dev/vg/data", 0, 8 * MIB) == pattern_sha(1, 8 * MIB)


# Finds the kset holding the key for origin offset A in the inactive cache
# LV's dump: prints its byte offset on the cache LV.
FIND_KSET = r'''
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
phys = {int(s.get("id")): int(s.get("phys")) for s in root.iter("segment")}
for kset in root.iter("kset"):
    if any(int(k.get("off")) == int(sys.argv[2]) and k.get("clean") != "true" for k in kset.iter("key")):
        print(20480 + phys[int(kset.get("seg"))] * (16 << 20) + 12288 + int(kset.get("off")))
        break
'''


def test_damaged_metadata_stops_activation_until_repair(vm, tmp_path):
    vm.run(HOLD_WRITEBACK)
    a, b, c = 16 * MIB, 20 * MIB, 24 * MIB
    for off, seed in ((a, 21), (b, 22), (c, 23)):
        write_file_pattern(vm, "/dev/vg/data", off, 64 * 1024, seed)
    lvpcache(vm, "deactivate vg/data")
    lvm(vm, f"lvchange -ay -K {VG}/data_pcvol")
    vm.run(f"{REPO}/build/bin/pcache_dump /dev/mapper/vg-data_pcvol > /tmp/dump.xml")
    vm.run(f"cat > /tmp/find_kset.py <<'EOF'\n{FIND_KSET}EOF")
    kset = int(vm.run(f"python3 -S /tmp/find_kset.py /tmp/dump.xml {a}").stdout)
    pe_start = int(vm.run("pvs --noheadings --units b --nosuffix -o pe_start /dev/pmem0").stdout)
    ranges = vm.run(f"lvs --noheadings -o seg_pe_ranges {VG}/data_pcvol").stdout.strip()
    first_pe = int(re.match(r"/dev/pmem0:(\d+)-", ranges).group(1))
    extent = int(vm.run(f"vgs --noheadings --units b --nosuffix -o vg_extent_size {VG}").stdout)
    lvm(vm, f"lvchange -an {VG}/data_pcvol")

    # From the host, with the VM down: one byte of the first key of that kset.
    vm.shutdown()
    where = pe_start + first_pe * extent + kset + 24 + 1
    vm.write_pmem(where, bytes([vm.read_pmem(where, 1)[0] ^ 0xFF]))
    vm.boot()
    setup_guest(vm)

    metadata = vg_backup(vm, VG)
    r = lvpcache(vm, "activate vg/data", check=False)
    assert r.rc == 1 and "repair needed: lvpcache repair vg/data" in r.stderr
    assert not dm_devices(vm)
    assert vg_backup(vm, VG) == metadata
    assert lvpcache(vm, "check vg/data", check=False).rc == 1

    r = lvpcache(vm, "repair --backup /tmp/damaged.backup vg/data", check=False)
    assert r.rc == 1, r.stdout + r.stderr
    assert "the damaged metadata is kept in /tmp/damaged.backup" in r.stderr
    assert "repaired, but dirty data was lost" in r.stderr
    assert int(vm.run("stat -c %s /tmp/damaged.backup").stdout) > 0
    lvpcache(vm, "activate vg/data")
    # The write whose key was damaged is lost: the origin's older data shows.
    assert read_sha(vm, "/dev/vg/data", a, 64 * 1024) == hashlib.sha256(bytes(64 * 1024)).hexdigest()
    assert read_sha(vm, "/dev/vg/data", b, 64 * 1024) == pattern_sha(22, 64 * 1024)
    assert read_sha(vm, "/dev/vg/data", c, 64 * 1024) == pattern_sha(23, 64 * 1024)
    assert read_sha(vm, "/dev/vg/data", 0, 8 * MIB) == pattern_sha(1, 8 * MIB)


def test_detach_offline_writes_back_and_keeps_the_cache_lv_under_its_old_name(vm):
    # Dirty data held in the cache (the boot since the last hold reset it).
    # An inactive volume is written back by pcache_writeback whatever the
    # target's version (an active one by the kernel's cleaner from 1.1.0).
    vm.run(HOLD_WRITEBACK)
    d = 28 * MIB
    write_file_pattern(vm, "/dev/vg/data", d, 1 * MIB, seed=24)
    lvpcache(vm, "deactivate vg/data")
    r = lvpcache(vm, "detach vg/data")
    assert re.search(r"writing back [\d.]+ \w+ of dirty data to vg/data_pcorig \(pcache_writeback\)",
                     r.stderr), r.stderr
    lv = lvs(vm, VG)
    assert set(lv) == {"data", "fast"}
    assert lv["data"]["lv_tags"] == "" and lv["fast"]["lv_tags"] == ""
    assert lv["fast"]["lv_skip_activation"] == "" and lv["fast"]["lv_autoactivation"] == "enabled"
    assert lv["data"]["lv_active"] == "" and lv["fast"]["lv_active"] == ""
    # The cache left behind is clean: every dirty byte went to the origin.
    lvm(vm, f"lvchange -ay {VG}/data {VG}/fast")
    check = json.loads(vm.run(f"{REPO}/build/bin/pcache_check --json /dev/{VG}/fast").stdout)
    assert check["map"]["dirty_bytes"] == 0
    lvm(vm, f"lvchange -an {VG}/fast")
    assert read_sha(vm, "/dev/vg/data", 0, 8 * MIB) == pattern_sha(1, 8 * MIB)
    assert read_sha(vm, "/dev/vg/data", 20 * MIB, 64 * 1024) == pattern_sha(22, 64 * 1024)
    assert read_sha(vm, "/dev/vg/data", d, 1 * MIB) == pattern_sha(24, 1 * MIB)


# An lvm that fails the commands matching the regular expression in
# FAIL_LVM_AT, and runs the real one otherwise.
FAKE_LVM = r'''#!/bin/bash
if [[ -n "$FAIL_LVM_AT" && "$*" =~ $FAIL_LVM_AT ]]; then
    echo "  injected failure of: lvm $*" >&2
    exit 5
fi
exec /sbin/lvm "$@"
'''


def metadata_without_seqno(vm):
    return re.sub(r"seqno = \d+", "", vg_backup(vm, VG))


def test_a_failed_step_is_undone_or_says_what_is_left(vm):
    vm.run(f"mkdir -p /tmp/fakelvm && cat > /tmp/fakelvm/lvm <<'EOF'\n{FAKE_LVM}EOF\n"
           "chmod +x /tmp/fakelvm/lvm")
    before = metadata_without_seqno(vm)
    fake = "PATH=/tmp/fakelvm:$PATH FAIL_LVM_AT='{}' "

    # The last step fails: every step before it is undone.
    r = vm.run(fake.format("--type error") + f"{LVPCACHE_CMD} attach --cachevol fast vg/data",
               check=False)
    assert r.rc == 1
    assert "attach vg/data failed at step 'reserve the name vg/data': injected failure" in r.stderr
    assert ("the earlier steps were undone; the VG is as it was (except: the pcache records at "
            "the start of vg/data_pcvol were zeroed)") in r.stderr
    assert metadata_without_seqno(vm) == before
    assert set(lvs(vm, VG)) == {"data", "fast"}
    assert read_sha(vm, "/dev/vg/data", 0, 8 * MIB) == pattern_sha(1, 8 * MIB)

    # An undo fails too: the error lists what is left, and running it by
    # hand gives the VG back as it was.
    r = vm.run(fake.format("--type error|lvrename vg data_pcorig data") +
               f"{LVPCACHE_CMD} attach --cachevol fast vg/data", check=False)
    assert r.rc == 1
    assert "undoing the earlier steps failed too" in r.stderr
    left = r.stderr.split("to finish by hand, run:\n", 1)[1].splitlines()
    assert left[0].strip() == "lvm lvrename vg data_pcorig data"
    for command in left:
        vm.run(f"LVM_SUPPRESS_FD_WARNINGS=1 {command.strip()}")
    assert metadata_without_seqno(vm) == before
    assert read_sha(vm, "/dev/vg/data", 0, 8 * MIB) == pattern_sha(1, 8 * MIB)


def test_detach_force_gives_up_a_missing_cache(vm):
    lvpcache(vm, "attach --cachevol fast vg/data")
    lvpcache(vm, "deactivate vg/data")
    vm.run("ndctl disable-namespace namespace0.0")
    try:
        metadata = vg_backup(vm, VG)
        r = lvpcache(vm, "detach --force vg/data", check=False)
        assert r.rc == 1 and "add --yes to confirm" in r.stderr
        assert "WARNING: vg/data: its cache LV vg/data_pcvol is missing a PV" in r.stderr
        assert vg_backup(vm, VG) == metadata
        lvpcache(vm, "detach --force --yes vg/data")
        lv = lvs(vm, VG)
        assert set(lv) == {"data"} and lv["data"]["lv_tags"] == ""
        assert lv["data"]["lv_skip_activation"] == ""
        assert "/dev/pmem0" not in lvm(vm, f"vgs --noheadings -o pv_name {VG}", check=False).stdout
        lvm(vm, f"lvchange -ay {VG}/data")
        assert read_sha(vm, "/dev/vg/data", 0, 8 * MIB) == pattern_sha(1, 8 * MIB)
    finally:
        vm.run("ndctl enable-namespace namespace0.0")
