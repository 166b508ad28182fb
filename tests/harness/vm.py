"""Boot Debian's kernel under QEMU (TCG) with emulated DAX pmem and virtio
disks, and run commands in it.

    vm = VM(workdir, pmem_size=1 << 30, disks=[1 << 30])
    vm.boot()                      # pmem0 is fsdax (queue/dax = 1)
    vm.run("dmsetup targets")      # -> Result(rc, stdout, stderr)
    vm.load_module()               # our pcache.ko
    vm.crash()                     # SIGKILL QEMU: a power cut
    vm.boot()                      # same pmem and disk files
    vm.shutdown()

The guest sees the host's root filesystem read-only under a RAM overlay, so
every path of the host (this checkout, /usr/bin/fio, ...) is the same path in
the guest.  vm.share is a host directory mounted read-write at the same path
in the guest: the way to get files back.

Facts this relies on are in ../shared/notes/qemu-on-these-machines.md.
"""

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent
REPO = HARNESS_DIR.parent.parent
BUILD = REPO / "build"
INITRAMFS = BUILD / "vm" / "initramfs.cpio.gz"
MODULE = REPO / "kernel" / "pcache.ko"

GIB = 1 << 30
MIB = 1 << 20
QBOOT = "/usr/share/qemu/qboot.rom"     # Debian's qemu-system-data
LABEL_SIZE = 128 * 1024          # nvdimm label area, taken from the file
PMEM_ALIGN = 16 * MIB            # fsdax needs a 16 MiB-aligned region


def kernel_version():
    return subprocess.run([str(REPO / "scripts" / "kernel-version")], check=True,
                          capture_output=True, text=True).stdout.strip()


def kernel_image(kver):
    """The kernel QEMU loads: the uncompressed ELF that 'make' unpacks for a
    PVH boot (tests/harness/vmlinux.py: 6 s less per boot under TCG), or
    the distribution's compressed image when that could not be made."""
    elf = BUILD / "vm" / f"vmlinux-{kver}"
    return elf if elf.exists() else Path("/boot") / f"vmlinuz-{kver}"


@dataclass
class Result:
    cmd: str
    rc: int
    stdout: str
    stderr: str
    stdout_bytes: bytes
    timed_out: bool = False

    @property
    def ok(self):
        return self.rc == 0 and not self.timed_out


class VMError(Exception):
    """The VM itself failed: did not boot, died, or stopped answering."""


class GuestCommandError(AssertionError):
    """A guest command failed; the message carries everything needed to
    understand it in a pytest report: output, exit status, dmesg tail."""

    def __init__(self, result, dmesg_tail):
        self.result = result
        self.dmesg_tail = dmesg_tail
        status = "timed out" if result.timed_out else f"exit status {result.rc}"
        super().__init__(
            f"guest command failed ({status}): {result.cmd}\n"
            f"--- stdout ---\n{result.stdout.rstrip()}\n"
            f"--- stderr ---\n{result.stderr.rstrip()}\n"
            f"--- guest dmesg (tail) ---\n{dmesg_tail.rstrip()}")


# The guest side of VM.write_pmem_in_guest(): argv device, byte offset;
# stdin the bytes.  An anonymous mmap is page aligned, as O_DIRECT wants.
_PATCH_PAGES = "; ".join([
    "import mmap, os, sys",
    "dev, off, data = sys.argv[1], int(sys.argv[2]), sys.stdin.buffer.read()",
    "start, end = off & ~4095, (off + len(data) + 4095) & ~4095",
    "buf = mmap.mmap(-1, end - start)",
    "fd = os.open(dev, os.O_RDWR | os.O_DIRECT)",
    "assert os.preadv(fd, [buf], start) == end - start",
    "buf[off - start:off - start + len(data)] = data",
    "assert os.pwritev(fd, [buf], start) == end - start",
    "os.fsync(fd)",
])


class VM:
    def __init__(self, workdir, pmem_size=GIB, disks=(GIB,), mem_mb=2048, smp=2,
                 pmem_file=None, disk_files=None, name="vm", pmem_mode="fsdax",
                 kernel_args=()):
        """pmem_size: usable bytes of the emulated nvdimm region (multiple of
        16 MiB).  disks: a size in bytes per virtio disk (created sparse if
        the file does not exist).  Files live in workdir unless given.
        pmem_mode: "fsdax" gives the block device /dev/pmem0 (queue/dax = 1),
        "devdax" the character device /dev/dax0.0 (mmap only; msync on it
        fails with EINVAL).  vm.pmem_dev names the one in use.
        kernel_args: extra words for the guest kernel's command line."""
        if pmem_size % PMEM_ALIGN:
            raise ValueError(f"pmem_size must be a multiple of 16 MiB, got {pmem_size}")
        if pmem_mode not in ("fsdax", "devdax"):
            raise ValueError(f"pmem_mode must be fsdax or devdax, got {pmem_mode!r}")
        self.pmem_mode = pmem_mode
        self.kernel_args = list(kernel_args)
        self.pmem_dev = "/dev/pmem0" if pmem_mode == "fsdax" else "/dev/dax0.0"
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.pmem_size = pmem_size
        self.pmem_path = Path(pmem_file) if pmem_file else self.workdir / "pmem.img"
        if disk_files:
            self.disk_paths = [Path(p) for p in disk_files]
        else:
            self.disk_paths = [self.workdir / f"disk{i}.img" for i in range(len(disks))]
        self.disk_sizes = list(disks)
        self.mem_mb = mem_mb
        self.smp = smp
        self.share = self.workdir / "share"
        self.share.mkdir(exist_ok=True)
        self.console_log = self.workdir / "console.log"
        self.qemu_log = self.workdir / "qemu.log"
        self.socket_path = self.workdir / "agent.sock"
        self.proc = None
        self.sock = None
        self.next_id = 1
        self.boots = 0
        self._create_files()

    # ------------------------------------------------------------------
    # files
    def _create_files(self):
        want = self.pmem_size + LABEL_SIZE
        if not self.pmem_path.exists():
            with open(self.pmem_path, "wb") as f:
                f.truncate(want)
        elif self.pmem_path.stat().st_size != want:
            raise ValueError(f"{self.pmem_path} is {self.pmem_path.stat().st_size} bytes, "
                             f"expected {want} for pmem_size {self.pmem_size}")
        for path, size in zip(self.disk_paths, self.disk_sizes):
            if not path.exists():
                with open(path, "wb") as f:
                    f.truncate(size)

    @property
    def pmem_offset_file(self):
        return self.pmem_path.with_suffix(self.pmem_path.suffix + ".offset")

    @property
    def pmem_data_offset(self):
        """Byte offset in the pmem file where /dev/pmem0's byte 0 lives
        (after the fsdax info block).  Known once the VM has booted."""
        try:
            return int(self.pmem_offset_file.read_text())
        except FileNotFoundError:
            raise VMError("pmem data offset unknown: boot the VM once first") from None

    def read_pmem(self, offset, length):
        """Read pmem device bytes from the host file (VM may be down)."""
        with open(self.pmem_path, "rb") as f:
            f.seek(self.pmem_data_offset + offset)
            return f.read(length)

    def write_pmem(self, offset, data):
        """Write /dev/pmem0 bytes into the host file.  Only while the VM is
        down: a running guest would not see a coherent change."""
        if self.running:
            raise VMError("write_pmem while the VM is running")
        with open(self.pmem_path, "r+b") as f:
            f.seek(self.pmem_data_offset + offset)
            f.write(data)

    def write_pmem_in_guest(self, offset, data):
        """Write /dev/pmem0 bytes from inside the running guest: O_DIRECT
        through the pmem driver, which stores into the same memory a DAX
        user such as the pcache target maps, so a target loaded next sees
        them (no reboot needed).  Whole pages are read, patched and written
        back (O_DIRECT wants aligned I/O).  Nothing may be writing the range
        at the time."""
        if self.pmem_mode != "fsdax":
            raise VMError("write_pmem_in_guest needs an fsdax /dev/pmem0")
        self.run(f"python3 -S -c '{_PATCH_PAGES}' {self.pmem_dev} {offset}", input=bytes(data))

    def copy_pmem_image(self, dest):
        """Copy /dev/pmem0's content (as the guest sees it) to dest, sparse."""
        size = self.pmem_device_size
        with open(self.pmem_path, "rb") as src, open(dest, "wb") as out:
            src.seek(self.pmem_data_offset)
            out.truncate(size)
            remaining = size
            chunk = 4 * MIB
            zero = bytes(chunk)
            while remaining:
                n = min(chunk, remaining)
                data = src.read(n)
                if data != zero[:len(data)]:
                    out.seek(size - remaining)
                    out.write(data)
                remaining -= n

    @property
    def pmem_device_size(self):
        return int((self.pmem_path.with_suffix(self.pmem_path.suffix + ".devsize")).read_text())

    # ------------------------------------------------------------------
    # lifecycle
    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _qemu_cmd(self, shell):
        kver = kernel_version()
        pmem_file_size = self.pmem_size + LABEL_SIZE
        maxmem_mb = self.mem_mb + (pmem_file_size + GIB - 1) // GIB * 1024 + 1024
        append = ["console=ttyS0", "panic=-1", "oops=panic", "loglevel=6",
                  f"pcache_agent={HARNESS_DIR / 'guest_agent.py'}",
                  f"pcache_share={self.share}"]
        append += self.kernel_args
        if shell:
            append.append("pcache_shell=1")
        cmd = [
            "qemu-system-x86_64",
            "-machine", "pc,nvdimm=on",
            # qboot instead of SeaBIOS: it only loads the kernel, 2.5 s
            # sooner under TCG, and a test run boots some fifty VMs.
            # QEMU still builds the ACPI tables, NFIT included.
            "-bios", QBOOT,
            "-accel", "tcg,thread=multi",
            "-cpu", "max",
            "-smp", str(self.smp),
            "-m", f"{self.mem_mb}M,slots=2,maxmem={maxmem_mb}M",
            "-object", f"memory-backend-file,id=mem1,share=on,mem-path={self.pmem_path},"
                       f"size={pmem_file_size}",
            "-device", "nvdimm,id=nv1,memdev=mem1,label-size=128K",
            "-kernel", str(kernel_image(kver)),
            "-initrd", str(INITRAMFS),
            "-append", " ".join(append),
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={self.share},mount_tag=share,security_model=none,multidevs=remap",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=agent,path={self.socket_path},server=on,wait=on",
            "-device", "virtserialport,chardev=agent,name=pcache.agent",
            "-display", "none",
            "-no-reboot",
        ]
        for i, path in enumerate(self.disk_paths):
            cmd += ["-drive", f"file={path},if=virtio,format=raw,cache=none,discard=unmap,id=disk{i}"]
        if shell:
            cmd += ["-serial", "mon:stdio"]
        else:
            cmd += ["-monitor", "none",
                    "-chardev", f"file,id=console,path={self.console_log},append=on",
                    "-serial", "chardev:console"]
        return cmd

    def boot(self, timeout=240):
        """Start QEMU, wait for the agent, and make /dev/pmem0 a DAX device."""
        if self.running:
            raise VMError("boot() while the VM is running")
        if not INITRAMFS.exists():
            raise VMError(f"{INITRAMFS} missing: run 'make' first")
        self._start(shell=False)
        deadline = time.monotonic() + timeout
        self._connect(deadline)
        while True:
            try:
                self._request({"op": "ping"}, timeout=max(1, deadline - time.monotonic()))
                break
            except VMError:
                if time.monotonic() > deadline or not self.running:
                    raise
        self.boots += 1
        self._setup_pmem()
        return self

    def _start(self, shell):
        if self.socket_path.exists():
            self.socket_path.unlink()
        with open(self.console_log, "a") as f:
            f.write(f"\n===== boot {self.boots + 1} of {self.name} =====\n")
        self.qemu_log_file = open(self.qemu_log, "a")
        cmd = self._qemu_cmd(shell)
        self.proc = subprocess.Popen(
            cmd,
            stdin=None if shell else subprocess.DEVNULL,
            stdout=None if shell else self.qemu_log_file,
            stderr=None if shell else self.qemu_log_file,
            start_new_session=not shell)

    def _connect(self, deadline):
        while time.monotonic() < deadline:
            if not self.running:
                raise VMError(f"QEMU exited at start (status {self.proc.returncode}):\n"
                              f"{self._tail(self.qemu_log)}")
            if self.socket_path.exists():
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(str(self.socket_path))
                    self.sock = sock
                    return
                except OSError:
                    sock.close()
            time.sleep(0.05)
        self.crash()
        raise VMError("QEMU did not open the agent socket in time")

    def _setup_pmem(self):
        """Bring up the nvdimm namespace in the requested mode (the mode is
        stored in the label area of the pmem file, so it is set up once).
        One guest command: each costs a few tenths of a second under TCG."""
        if self.pmem_mode == "fsdax":
            device = ("$(ls -d /sys/bus/nd/devices/pfn0.* | while read d; do "
                      "[ \"$(cat $d/namespace 2>/dev/null)\" = namespace0.0 ] && echo $d; "
                      "done | head -1)")
            size = "$(blockdev --getsize64 /dev/pmem0)"
            check_dax = ('[ "$(cat /sys/block/pmem0/queue/dax)" = 1 ] || '
                         '{ echo "/dev/pmem0 is not DAX after ndctl create-namespace"; exit 1; }')
        else:
            device = "/sys/bus/dax/devices/dax0.0"
            size = "$(cat /sys/bus/dax/devices/dax0.0/size)"
            check_dax = ":"
        script = f"""
            wait_for() {{
                for i in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.1; done
                echo "no $1 $2"; exit 1
            }}
            modprobe -a virtio_blk nfit nd_pmem dax_pmem device_dax || exit 1
            wait_for /sys/bus/nd/devices/namespace0.0 "(no nvdimm namespace)"
            if ! ndctl list -n namespace0.0 | grep -q '"mode":"{self.pmem_mode}"'; then
                ndctl create-namespace -f -e namespace0.0 -m {self.pmem_mode} \
                    --map=mem -a 2M > /dev/null || exit 1
            fi
            wait_for {self.pmem_dev} "after setting up the namespace"
            {check_dax}
            echo $(cat /sys/bus/nd/devices/region0/resource) $(cat {device}/resource) {size}
        """
        # Where the device's byte 0 lies in the host file: the region starts
        # at file offset 0, the data at (resource - region start).
        info = self.run(script, timeout=180).stdout.split()
        region, data, devsize = int(info[0], 0), int(info[1], 0), int(info[2])
        self.pmem_offset_file.write_text(str(data - region))
        self.pmem_path.with_suffix(self.pmem_path.suffix + ".devsize").write_text(str(devsize))

    def crash(self):
        """Power cut: kill QEMU at once.  Every store that reached the pmem
        file survives; nothing else does."""
        if self.proc is not None:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._close()

    def shutdown(self, timeout=60):
        """Clean power-off: the guest syncs and powers off."""
        if not self.running:
            self._close()
            return
        try:
            self._request({"op": "shutdown"}, timeout=timeout)
            self.proc.wait(timeout=timeout)
        except (VMError, subprocess.TimeoutExpired):
            self.crash()
            raise VMError(f"VM did not power off cleanly:\n{self._tail(self.console_log)}")
        self._close()

    def _close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if getattr(self, "qemu_log_file", None):
            self.qemu_log_file.close()
            self.qemu_log_file = None
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.running:
            self.crash() if exc[0] else self.shutdown()

    # ------------------------------------------------------------------
    # agent protocol
    def _request(self, obj, timeout):
        if self.sock is None:
            raise VMError("VM is not running")
        obj = dict(obj, id=self.next_id)
        self.next_id += 1
        data = json.dumps(obj).encode()
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(struct.pack(">I", len(data)) + data)
            while True:
                reply = self._receive()
                if reply.get("id") == obj["id"]:
                    return reply
        except socket.timeout:
            raise VMError(f"guest did not answer within {timeout:.0f}s "
                          f"(request {obj.get('op')}: {obj.get('cmd', '')!r})\n"
                          f"--- console (tail) ---\n{self._tail(self.console_log)}") from None
        except OSError as e:
            raise VMError(f"lost the guest ({e}); QEMU "
                          f"{'running' if self.running else 'exited'}\n"
                          f"--- console (tail) ---\n{self._tail(self.console_log)}") from None

    def _receive(self):
        header = self._recv_exact(4)
        (length,) = struct.unpack(">I", header)
        return json.loads(self._recv_exact(length))

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise OSError("agent connection closed")
            buf += chunk
        return bytes(buf)

    def run(self, cmd, timeout=60, check=True, input=None, env=None, cwd=None):
        """Run a bash command line in the guest.  With check=True a non-zero
        exit raises GuestCommandError carrying stdout, stderr and the tail of
        the guest's dmesg."""
        request = {"op": "run", "cmd": cmd, "timeout": timeout, "env": env or {},
                   "cwd": cwd}
        if input is not None:
            request["input"] = base64.b64encode(
                input.encode() if isinstance(input, str) else input).decode()
        reply = self._request(request, timeout=timeout + 30)
        out = base64.b64decode(reply["stdout"])
        result = Result(cmd=cmd, rc=reply["rc"], stdout=out.decode(errors="replace"),
                        stderr=base64.b64decode(reply["stderr"]).decode(errors="replace"),
                        stdout_bytes=out, timed_out=reply["timed_out"])
        if check and not result.ok:
            raise GuestCommandError(result, self.dmesg_tail())
        return result

    def dmesg_tail(self, lines=40):
        try:
            return self.run(f"dmesg | tail -n {lines}", check=False, timeout=20).stdout
        except VMError:
            return "(guest not answering; console tail follows)\n" + self._tail(self.console_log)

    def kernel_problems(self):
        """Lines of the guest's kernel log that mean a kernel bug."""
        log = self.run("dmesg", check=False, timeout=20).stdout
        markers = ("BUG:", "WARNING:", "Oops", "general protection", "KASAN", "UBSAN",
                   "kernel BUG", "Call Trace:", "hung_task", "soft lockup")
        return [line for line in log.splitlines() if any(m in line for m in markers)]

    def load_module(self, path=MODULE):
        """Load device-mapper and our pcache module (idempotent)."""
        self.run(self.load_module_cmd(path), timeout=60)

    @staticmethod
    def load_module_cmd(path=MODULE):
        """load_module()'s guest command line, for a fixture to chain with
        its other set-up steps (each guest command costs a few tenths of a
        second under TCG)."""
        if not Path(path).exists():
            raise VMError(f"{path} missing: run 'make' first")
        return (f"modprobe -a dm-mod libcrc32c && "
                f"{{ grep -qw '^pcache' /proc/modules || insmod {path}; }}")

    @staticmethod
    def _tail(path, lines=60):
        try:
            text = Path(path).read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ------------------------------------------------------------------
    def shell(self):
        """Interactive shell on the console (make vm-shell)."""
        if not INITRAMFS.exists():
            raise VMError(f"{INITRAMFS} missing: run 'make' first")
        self._start(shell=True)
        deadline = time.monotonic() + 240
        self._connect(deadline)
        self.proc.wait()
        self._close()


def save_logs(vm, dest):
    """Copy the VM's console and QEMU logs to dest (for failed tests)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for path in (vm.console_log, vm.qemu_log):
        if path.exists():
            shutil.copy2(path, dest / path.name)
