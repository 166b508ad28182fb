"""Helpers for the lvpcache VM tests (tests/integration/test_lvm_*.py).

The guest has no udev and no systemd: LVM is told so (udev_sync=0,
udev_rules=0, no udev device list) and then makes /dev/<vg>/<lv> links
itself, as lvpcache does for the pcache device.  Debian's default
use_devicesfile=0 stays, written out so the test does not depend on it.
The guest's /etc is a RAM overlay: the configuration is written again
after every boot."""

import json
import re

from conftest import finish_vm, make_vm
from harness.vm import GIB, REPO

MIB = 1 << 20
LVPCACHE = REPO / "build" / "bin" / "lvpcache"

LVM_CONF = """\
devices { obtain_device_list_from_udev = 0 use_devicesfile = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
global { event_activation = 0 }
"""


def setup_guest(vm):
    """After a boot: our pcache module, and LVM configured for a guest
    without udev."""
    vm.load_module()
    vm.run(f"mkdir -p /etc/lvm && cat > /etc/lvm/lvm.conf <<'EOF'\n{LVM_CONF}EOF")


def lvm_vm(tmp_path_factory, name, vg="vg"):
    """A module's VM (1 GiB pmem, one 1 GiB virtio disk) with the VG `vg`
    on /dev/vda and /dev/pmem0; a generator for a module-scoped fixture."""
    machine = make_vm(tmp_path_factory, name, pmem_size=GIB, disks=[GIB])
    machine.boot()
    setup_guest(machine)
    lvm(machine, "pvcreate -q -y /dev/vda /dev/pmem0")
    lvm(machine, f"vgcreate -q {vg} /dev/vda /dev/pmem0")
    yield machine
    finish_vm(machine)


def lvpcache(vm, args, check=True, timeout=300):
    """Runs lvpcache in the guest; with check=True it must succeed."""
    return vm.run(f"LVM_SUPPRESS_FD_WARNINGS=1 {LVPCACHE} {args}", check=check, timeout=timeout)


def lvm(vm, args, check=True):
    return vm.run(f"LVM_SUPPRESS_FD_WARNINGS=1 lvm {args}", check=check)


def lvs(vm, vg):
    """{lv_name: row} for every LV of vg, hidden ones included."""
    out = lvm(vm, f"lvs -a --reportformat json --units b --nosuffix -o "
                  f"lv_name,lv_attr,lv_size,lv_tags,lv_active,lv_skip_activation,"
                  f"lv_autoactivation,segtype,devices {vg}").stdout
    rows = json.loads(out)["report"][0]["lv"]
    return {r["lv_name"].strip("[]"): r for r in rows}


def dm_devices(vm):
    """{name: uuid} of every device-mapper device."""
    out = vm.run("dmsetup info -c --noheadings -o name,uuid --separator ' '", check=False).stdout
    devs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 1 and parts[0] != "No":
            devs[parts[0]] = parts[1] if len(parts) > 1 else ""
    return devs


def vg_backup(vm, vg):
    """The VG metadata as vgcfgbackup writes it, minus the lines that
    change with every backup (time, host, command line)."""
    vm.run(f"LVM_SUPPRESS_FD_WARNINGS=1 vgcfgbackup -f /tmp/vgcfg {vg} >/dev/null")
    text = vm.run("cat /tmp/vgcfg").stdout
    keep = [line for line in text.splitlines()
            if not re.match(r'\s*(description|creation_time|creation_host|contents|version)\b', line)
            and not line.startswith("#")]
    return "\n".join(keep)


def dm_status_fields(vm, name):
    return vm.run(f"dmsetup status {name}").stdout.split()[3:]


def target_version(vm):
    """The loaded pcache target's version, as a tuple: (1, 0, 0)."""
    out = vm.run("dmsetup targets | awk '$1 == \"pcache\" {print $2}'").stdout.strip()
    return tuple(int(x) for x in out.lstrip("v").split("."))


def write_file_pattern(vm, dev, offset, length, seed):
    """Writes a reproducible pattern with O_DIRECT + O_DSYNC (FUA: durable
    when the call returns); returns its sha256."""
    path = f"/tmp/pat{seed}"
    vm.run(f"python3 -S -c \"import random,sys; sys.stdout.buffer.write("
           f"random.Random({seed}).randbytes({length}))\" > {path}")
    vm.run(f"dd if={path} of={dev} bs=1M seek={offset} oflag=direct,dsync,seek_bytes "
           f"conv=notrunc status=none", timeout=300)
    return vm.run(f"sha256sum < {path}").stdout.split()[0]


def pattern_sha(seed, length):
    import hashlib
    import random
    return hashlib.sha256(random.Random(seed).randbytes(length)).hexdigest()


def read_sha(vm, dev, offset, length):
    return vm.run(f"dd if={dev} bs=1M skip={offset} count={length} "
                  f"iflag=direct,skip_bytes,count_bytes status=none | sha256sum",
                  timeout=300).stdout.split()[0]


def one_line_error(result):
    """A refused command: exit 1, nothing on stdout, one line on stderr
    naming lvpcache."""
    lines = result.stderr.strip().splitlines()
    assert result.rc == 1, f"exit status {result.rc}: {result.stderr}"
    assert len(lines) == 1, f"not one line: {result.stderr!r}"
    assert lines[0].startswith("lvpcache: "), lines[0]
    return lines[0]
