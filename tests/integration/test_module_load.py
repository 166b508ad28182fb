"""Our module loads into Debian's kernel and registers the pcache target."""

import re


def test_module_registers_pcache_target(vm):
    vm.load_module()
    targets = vm.run("dmsetup targets").stdout
    match = re.search(r"^pcache\s+v(\d+)\.(\d+)\.(\d+)$", targets, re.M)
    assert match, targets
    # >= 1.0.0 so tools can tell us from upstream dm-pcache (0.1.0).
    assert int(match.group(1)) >= 1



def test_placeholder_refuses_tables_with_a_clear_error(vm):
    vm.load_module()
    result = vm.run("dmsetup create pc --table '0 2048 pcache /dev/pmem0 /dev/vda'", check=False)
    assert result.rc != 0
    assert "pcache target not implemented yet in this build" in vm.run("dmesg").stdout
