"""Unpack the guest kernel for a direct PVH boot.

Debian's /boot/vmlinuz is a bzImage whose payload is XZ-compressed.  Under
TCG the decompressor alone takes about 6 s of every boot (a test run boots
some fifty VMs).  QEMU can instead load the uncompressed ELF kernel through
its PVH entry point (CONFIG_PVH, an ELF note the kernel carries), which
starts the very same kernel code without the decompression stage.

Writes the ELF to OUTPUT (unless it is newer than the image already).  A
kernel whose payload is not XZ, or whose ELF has no PVH note, cannot be
booted that way: then OUTPUT is removed and the harness boots /boot/vmlinuz
as before (a note says so).
"""

import lzma
import struct
import sys
from pathlib import Path

XZ_MAGIC = b"\xfd7zXZ\x00"
ELF_MAGIC = b"\x7fELF"
XEN_ELFNOTE_PHYS32_ENTRY = 18     # the PVH entry point note


def decompress_payload(image):
    """The kernel ELF inside a bzImage, or None.  Rather than parse the
    bzImage header, try each XZ stream magic in turn and keep the first
    stream that decompresses to an ELF."""
    start = image.find(XZ_MAGIC)
    while start != -1:
        try:
            # One stream; the bzImage trailer after it is left in unused_data.
            data = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(image[start:])
        except lzma.LZMAError:
            data = b""
        if data.startswith(ELF_MAGIC):
            return data
        start = image.find(XZ_MAGIC, start + 1)
    return None


def has_pvh_note(elf):
    """True if a 64-bit little-endian ELF has a Xen PHYS32_ENTRY note."""
    if len(elf) < 64 or elf[4] != 2 or elf[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:                          # PT_NOTE
            continue
        pos, end = p_offset, min(p_offset + p_filesz, len(elf))
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def build(kver, output):
    output = Path(output)
    image = Path("/boot") / f"vmlinuz-{kver}"
    if output.exists() and output.stat().st_mtime >= image.stat().st_mtime:
        return
    elf = decompress_payload(image.read_bytes())
    if elf is None or not has_pvh_note(elf):
        output.unlink(missing_ok=True)
        why = "no XZ payload" if elf is None else "no PVH entry note"
        print(f"vmlinux: {image}: {why}; the test VMs boot the compressed image "
              "(about 6 s slower per boot)", file=sys.stderr)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    tmp.write_bytes(elf)
    tmp.replace(output)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: vmlinux.py KERNEL_VERSION OUTPUT")
    build(sys.argv[1], sys.argv[2])
