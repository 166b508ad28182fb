"""Fixtures shared by the VM tests.

A test module shares one VM (`vm`): booting costs ~10 s under TCG.  When a
test fails, the console and QEMU logs of every VM alive at that moment are
copied to build/test-logs/<test id>/ (see docs/development.md).  At the end
of a module the fixture fails if the guest kernel logged a BUG, WARNING or
oops, so a kernel problem cannot hide behind a passing test.
"""

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.vm import BUILD, VM, save_logs  # noqa: E402

LOG_ROOT = BUILD / "test-logs"
_live_vms = []


def make_vm(tmp_path_factory, name, **kwargs):
    vm = VM(tmp_path_factory.mktemp(name), name=name, **kwargs)
    _live_vms.append(vm)
    return vm


def finish_vm(vm):
    """Shut a VM down, failing if its kernel logged a problem."""
    problems = []
    if vm.running:
        try:
            problems = vm.kernel_problems()
        finally:
            vm.shutdown()
    if vm in _live_vms:
        _live_vms.remove(vm)
    assert not problems, "guest kernel reported problems:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    """A booted VM with 1 GiB of DAX pmem (/dev/pmem0) and one 1 GiB virtio
    disk (/dev/vda), shared by the tests of one module."""
    machine = make_vm(tmp_path_factory, "vm")
    machine.boot()
    yield machine
    finish_vm(machine)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        dest = LOG_ROOT / re.sub(r"[^\w.-]+", "_", item.nodeid)
        for machine in _live_vms:
            save_logs(machine, dest / machine.name)
        report.sections.append(("VM logs", f"console and QEMU logs saved in {dest}"))
