#!/usr/bin/python3
"""make vm-shell: an interactive shell in the test VM (1 GiB DAX pmem as
/dev/pmem0, a 1 GiB virtio disk as /dev/vda, host root visible read-only
with a RAM overlay).  Files live in build/vm-shell and survive the session;
'exit' powers the VM off."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from harness.vm import BUILD, VM  # noqa: E402

vm = VM(BUILD / "vm-shell", name="vm-shell")
print(f"pmem file {vm.pmem_path}, disk {vm.disk_paths[0]}, share {vm.share}")
print("In the guest: 'modprobe -a nfit nd_pmem' brings up /dev/pmem0, "
      f"'insmod {Path(__file__).resolve().parent.parent}/kernel/pcache.ko' loads pcache.")
vm.shell()
