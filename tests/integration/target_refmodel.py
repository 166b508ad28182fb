#!/usr/bin/python3
"""Reference-model check of a block device; runs in the guest.

    target_refmodel.py run DEVICE INITIAL REGION SEED OPS MODEL_OUT
    target_refmodel.py verify DEVICE MODEL

run: the first REGION bytes of DEVICE hold the content of file INITIAL.
Perform OPS random operations (55 % writes, 45 % reads) of 512 B .. 1 MiB,
half aligned to 4 KiB and half only to 512 B, overlapping freely, keeping an
in-memory model; every read must match the model.  Then read the whole
region back, compare, and save the model to MODEL_OUT.
verify: compare DEVICE's first len(MODEL) bytes with MODEL.

I/O is O_DIRECT through an mmap (page-aligned) buffer, so every request
reaches the device as a bio of exactly the chosen size.  Exit 0 on
success; on a mismatch, print the first bad byte and exit 1.
"""

import mmap
import os
import random
import sys

MAX_IO = 1 << 20
CHUNK = 1 << 20


def pick_extent(rng, region):
    if rng.random() < 0.5:
        length = 4096 * rng.randint(1, MAX_IO // 4096)
        off = 4096 * rng.randrange((region - length) // 4096 + 1)
    else:
        length = 512 * rng.randint(1, MAX_IO // 512)
        off = 512 * rng.randrange((region - length) // 512 + 1)
    return off, length


def compare(got, want, off, what):
    if got == want:
        return
    first = next(i for i in range(len(want)) if got[i] != want[i])
    print(f"MISMATCH {what}: byte {off + first} (request {off}+{len(want)}): "
          f"device {got[first]:#04x}, model {want[first]:#04x}")
    sys.exit(1)


def read_into(fd, buf, off, length):
    view = memoryview(buf)[:length]
    n = os.preadv(fd, [view], off)
    if n != length:
        print(f"short read at {off}: {n} of {length}")
        sys.exit(1)
    return bytes(view)


def verify(fd, buf, model):
    for off in range(0, len(model), CHUNK):
        length = min(CHUNK, len(model) - off)
        compare(read_into(fd, buf, off, length), model[off:off + length], off,
                "final read")


def run(dev, initial, region, seed, ops, model_out):
    with open(initial, "rb") as f:
        model = bytearray(f.read(region))
    assert len(model) == region
    rng = random.Random(seed)
    buf = mmap.mmap(-1, MAX_IO)
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    writes = reads = written = 0
    for _ in range(ops):
        off, length = pick_extent(rng, region)
        if rng.random() < 0.55:
            data = rng.randbytes(length)
            buf[:length] = data
            if os.pwrite(fd, memoryview(buf)[:length], off) != length:
                print(f"short write at {off}+{length}")
                sys.exit(1)
            model[off:off + length] = data
            writes += 1
            written += length
        else:
            compare(read_into(fd, buf, off, length), model[off:off + length], off,
                    "read")
            reads += 1
    verify(fd, buf, model)
    os.close(fd)
    with open(model_out, "wb") as f:
        f.write(model)
    print(f"ok: {writes} writes ({written >> 20} MiB), {reads} reads, "
          f"region {region >> 20} MiB verified")


def main():
    if sys.argv[1] == "run":
        dev, initial, region, seed, ops, model_out = sys.argv[2:8]
        run(dev, initial, int(region), int(seed), int(ops), model_out)
    elif sys.argv[1] == "verify":
        dev, model_path = sys.argv[2:4]
        with open(model_path, "rb") as f:
            model = f.read()
        fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
        verify(fd, mmap.mmap(-1, MAX_IO), model)
        print(f"ok: {len(model) >> 20} MiB match the model")
    else:
        sys.exit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    main()
