"""Our module loads into Debian's kernel and registers the pcache target."""

import re


def test_module_registers_pcache_target(vm):
    vm.load_module()
    targets = vm.run("dmsetup targets").stdout
    match = re.search(r"^pcache\s+v(\d+)\.(\d+)\.(\d+)$", targets, re.M)
    assert match, targets
    # >= 1.0.0 so tools can tell us from upstream dm-pcache (0.1.0).
    assert int(match.group(1)) >= 1


def test_module_unloads_after_a_table_was_used(vm):
    vm.load_module()
    vm.run("dd if=/dev/zero of=/dev/pmem0 bs=4096 count=5 oflag=direct status=none")
    vm.run("dmsetup create pc --table '0 2048 pcache /dev/pmem0 /dev/vda'")
    assert vm.run("dmsetup table pc").stdout.split()[2] == "pcache"
    vm.run("dmsetup remove pc")
    vm.run("rmmod pcache")
    assert "pcache" not in vm.run("dmsetup targets").stdout
