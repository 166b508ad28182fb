"""pcache test harness: boots Debian's kernel under QEMU (TCG) with emulated
DAX pmem and virtio disks, and runs commands inside it (see vm.py)."""
