"""pcache_writeback and pcache_repair on caches written by our kernel target
(one VM).  Writeback in the target is held (the writeback_hold test
parameter), so the data written stays dirty in the cache: the rescue case.

- pcache_writeback refuses the cache and the origin while the target holds
  them; after removal it writes the dirty data, and the origin then holds
  exactly what reads through the target returned; the cache checks clean
  and the target loads it again with the same content;
- a kernel-written cache with a damaged kset in the middle of its log is
  repaired in place; the kernel then loads the repaired cache, and every
  4 KiB block reads as before except those in the ranges the repair
  listed as lost."""

import json

from pcache_target import MIB, create, remove, set_param
from tools_helpers import tool

PMEM = "/dev/pmem0"
BACKING = "/dev/vda"
SPAN = 16 * MIB


def fill_dirty(vm, seed):
    """A fresh cache, then 3 MiB of 4 KiB random writes over the first
    16 MiB (overwrites included), kept dirty in the cache."""
    vm.load_module()
    set_param(vm, "writeback_hold", 1)
    vm.run(f"dd if=/dev/zero of={PMEM} bs=4096 count=5 oflag=direct status=none")
    vm.run(f"dd if=/dev/zero of={BACKING} bs=1M count={SPAN // MIB} oflag=direct status=none")
    dev = create(vm, f"{PMEM} {BACKING}")
    vm.run(f"cd /tmp && fio --name=w --filename={dev} --rw=randwrite --bs=4k --direct=1 "
           f"--ioengine=psync --size={SPAN} --io_size=3M --randrepeat=0 --randseed={seed} "
           "--norandommap --output=/dev/null", timeout=600)
    return dev


def snapshot(vm, dev, dest):
    vm.run(f"dd if={dev} of={dest} bs=1M count={SPAN // MIB} iflag=direct status=none", timeout=300)
    return vm.run(f"sha256sum {dest}").stdout.split()[0]


def test_writeback_rescues_the_dirty_data(vm):
    dev = fill_dirty(vm, 11)
    want = snapshot(vm, dev, "/tmp/through-target")
    assert vm.run(f"dd if={BACKING} bs=1M count={SPAN // MIB} iflag=direct status=none | sha256sum"
                  ).stdout.split()[0] != want
    # In use: refused, by name, and nothing written.
    r = vm.run(f"{tool('pcache_writeback')} --cache {PMEM} --origin {BACKING}", check=False)
    assert r.rc == 1
    assert r.stderr == f"pcache_writeback: {PMEM}: device is busy (is the cache in use by the kernel?)\n"
    remove(vm)
    set_param(vm, "writeback_hold", 0)

    r = vm.run(f"{tool('pcache_writeback')} --cache {PMEM} --origin {BACKING}", check=False, timeout=300)
    assert r.rc == 0, r.stdout + r.stderr
    assert "the cache is clean" in r.stdout
    origin = vm.run(f"dd if={BACKING} bs=1M count={SPAN // MIB} iflag=direct status=none | sha256sum"
                    ).stdout.split()[0]
    assert origin == want
    rep = json.loads(vm.run(f"{tool('pcache_check')} --json {PMEM}", check=False).stdout)
    assert rep["result"] == "clean" and rep["map"]["dirty_bytes"] == 0
    # The target loads the cleaned cache and reads the same.
    dev = create(vm, f"{PMEM} {BACKING}")
    assert snapshot(vm, dev, "/tmp/reloaded") == want
    remove(vm)


def test_a_repaired_cache_loads_in_the_kernel(vm):
    dev = fill_dirty(vm, 12)
    snapshot(vm, dev, "/tmp/before")
    remove(vm)
    set_param(vm, "writeback_hold", 0)
    # The middle kset of the log in segment 0 (physical 0): a byte of its
    # first key's data CRC field.  The log goes on after it.
    vm.run("python3 -S - <<'EOF'\n"
           "import struct\n"
           f"f = open('{PMEM}', 'r+b')\n"
           "base = 20480 + 12288\n"
           "offs = [0]\n"
           "while True:\n"
           "    f.seek(base + offs[-1]); h = f.read(24)\n"
           "    crc, n, magic, flags = struct.unpack('<IIQQ', h)\n"
           "    if magic != 0x676894A64E164F1A or flags: break\n"
           "    offs.append(offs[-1] + 24 + 40 * n)\n"
           "assert len(offs) >= 4, offs\n"
           "at = base + offs[(len(offs) - 1) // 2] + 24 + 33\n"
           "f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0xFF])); f.close()\n"
           "EOF")
    assert vm.run(f"{tool('pcache_check')} {PMEM}", check=False).rc == 1
    r = vm.run(f"{tool('pcache_repair')} --json --in-place {PMEM} --backup /tmp/repair.bak", check=False,
               timeout=300)
    assert r.rc == 1, r.stderr      # dirty data was lost: the damaged kset's
    rep = json.loads(r.stdout)
    assert rep["dirty_data_lost"] and rep["lost"]
    assert vm.run(f"{tool('pcache_check')} {PMEM}", check=False).rc == 0

    dev = create(vm, f"{PMEM} {BACKING}")
    snapshot(vm, dev, "/tmp/after")
    remove(vm)
    lost = [(l["begin"], l["end"]) for l in rep["lost"]]
    changed = vm.run("python3 -S -c \"a = open('/tmp/before', 'rb').read(); b = open('/tmp/after', 'rb').read(); "
                     "print(' '.join(str(i * 4096) for i in range(len(a) // 4096) "
                     "if a[i * 4096:(i + 1) * 4096] != b[i * 4096:(i + 1) * 4096]))\"").stdout.split()
    outside = [int(o) for o in changed if not any(b <= int(o) < e for b, e in lost)]
    assert outside == [], f"blocks changed outside the lost ranges {lost}"
    assert len(changed) > 0          # the lost kset's blocks did change
