"""Build the test VM's initramfs: busybox-static, our /init, and the kernel
modules needed before the host root is reachable (virtio, 9p, overlay,
virtio-console), loaded in dependency order from modules.dep."""

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EARLY_MODULES = ["virtio_pci", "virtio_console", "9pnet_virtio", "9p", "overlay"]


def module_load_order(kver, wanted):
    """Return module paths (relative to /lib/modules/KVER) so that every
    module comes after the modules it depends on."""
    moddir = Path("/lib/modules") / kver
    deps = {}
    by_name = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        name = Path(path).name.split(".ko")[0].replace("-", "_")
        by_name[name] = path
    builtin = set()
    builtin_file = moddir / "modules.builtin"
    if builtin_file.exists():
        for line in builtin_file.read_text().splitlines():
            builtin.add(Path(line).name.split(".ko")[0].replace("-", "_"))
    order = []

    def visit(path):
        if path in order:
            return
        for dep in reversed(deps[path]):
            visit(dep)
        order.append(path)

    for name in wanted:
        key = name.replace("-", "_")
        if key in by_name:
            visit(by_name[key])
        elif key not in builtin:
            raise SystemExit(f"initramfs: module {name} is neither in modules.dep nor built in for {kver}")
    return order


def build(kver, output):
    output = Path(output)
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise SystemExit("initramfs: /bin/busybox missing; run 'make deps' (busybox-static)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for d in ("bin", "sbin", "proc", "sys", "dev", "modules", "etc"):
            (root / d).mkdir()
        shutil.copy2(busybox, root / "bin" / "busybox")
        shutil.copy2(HERE / "guest-init.sh", root / "init")
        os.chmod(root / "init", 0o755)
        names = []
        for rel in module_load_order(kver, EARLY_MODULES):
            src = Path("/lib/modules") / kver / rel
            name = src.name
            if name.endswith(".xz") or name.endswith(".zst") or name.endswith(".gz"):
                raise SystemExit(f"initramfs: compressed module {name} not supported")
            shutil.copy2(src, root / "modules" / name)
            names.append(name)
        (root / "modules" / "order").write_text("".join(n + "\n" for n in names))
        files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
        cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "--owner=0:0"],
                              cwd=root, input=files, check=True, capture_output=True).stdout
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = output.with_suffix(".tmp")
    with gzip.open(tmp_out, "wb", compresslevel=6) as f:
        f.write(cpio)
    tmp_out.replace(output)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: initramfs.py KERNEL_VERSION OUTPUT")
    build(sys.argv[1], sys.argv[2])
