"""Device-mapper through its ioctls (linux/dm-ioctl.h), for the crash
driver: creating, removing and querying a table thousands of times costs a
process per step with dmsetup, which under TCG dominates a crash point.

    dm = DM()
    dm.create("crash", [(0, sectors, "pcache", "/dev/pmem0 /dev/vda")])
    dm.status("crash")            # -> the target's status string
    dm.message("crash", "gc_percent 0")
    dm.remove("crash")
"""

import fcntl
import os
import struct

DM_IOCTL_SIZE = 312                 # sizeof(struct dm_ioctl)
DM_VERSION = (4, 0, 0)
DM_SUSPEND_FLAG = 1 << 1
DM_STATUS_TABLE_FLAG = 1 << 4
DM_BUFFER_FULL_FLAG = 1 << 8
SPEC = struct.Struct("<QQiI16s")    # struct dm_target_spec
HEADER = struct.Struct("<3IIIIiIII Q128s129s7s")


def _iowr(nr):
    return (3 << 30) | (DM_IOCTL_SIZE << 16) | (0xFD << 8) | nr


DEV_CREATE, DEV_REMOVE, DEV_SUSPEND = _iowr(3), _iowr(4), _iowr(6)
TABLE_LOAD, TABLE_STATUS, TARGET_MSG = _iowr(9), _iowr(12), _iowr(14)
assert HEADER.size == DM_IOCTL_SIZE


class DM:
    def __init__(self):
        self.fd = os.open("/dev/mapper/control", os.O_RDWR)

    def _call(self, cmd, name, flags=0, payload=b"", target_count=0, size=16384):
        data_size = max(DM_IOCTL_SIZE + len(payload), size)
        buf = bytearray(data_size)
        HEADER.pack_into(buf, 0, *DM_VERSION, data_size, DM_IOCTL_SIZE, target_count, 0,
                         flags, 0, 0, 0, name.encode(), b"", b"")
        buf[DM_IOCTL_SIZE:DM_IOCTL_SIZE + len(payload)] = payload
        fcntl.ioctl(self.fd, cmd, buf)
        return buf

    def create(self, name, targets):
        """Create, load the table and resume; make /dev/mapper/<name>."""
        buf = self._call(DEV_CREATE, name)
        dev = HEADER.unpack_from(buf)[10]
        payload = b""
        for start, length, ttype, params in targets:
            body = params.encode() + b"\0"
            body += b"\0" * (-(SPEC.size + len(body)) % 8)
            payload += SPEC.pack(start, length, 0, SPEC.size + len(body),
                                 ttype.encode()) + body
        try:
            self._call(TABLE_LOAD, name, payload=payload, target_count=len(targets))
            self._call(DEV_SUSPEND, name)            # resume: the table goes live
        except OSError:
            self._call(DEV_REMOVE, name)
            raise
        major = (dev & 0xFFF00) >> 8
        minor = (dev & 0xFF) | ((dev >> 12) & 0xFFF00)
        node = f"/dev/mapper/{name}"
        if os.path.exists(node):
            os.unlink(node)
        os.mknod(node, 0o600 | 0o060000, os.makedev(major, minor))
        return node

    def remove(self, name):
        self._call(DEV_REMOVE, name)
        node = f"/dev/mapper/{name}"
        if os.path.exists(node):
            os.unlink(node)

    def status(self, name):
        buf = self._call(TABLE_STATUS, name)
        data_start = HEADER.unpack_from(buf)[4]
        _, _, _, _, _ = SPEC.unpack_from(buf, data_start)
        text = buf[data_start + SPEC.size:]
        return text[:text.index(0)].decode()

    def message(self, name, msg):
        payload = struct.pack("<Q", 0) + msg.encode() + b"\0"
        self._call(TARGET_MSG, name, payload=payload)
