"""lvpcache on the host, no VM: its man pages document every option, the
systemd units pass `systemd-analyze verify`, the initramfs-tools hook
copies what a root on pcache needs, and `make install` puts everything in
place.  (The udev rule is run by `udevadm test` in the VM:
test_lvm_lifecycle.py.)"""

import re
import subprocess

import pytest

from harness.vm import REPO

BIN = REPO / "build" / "bin"
LVPCACHE = BIN / "lvpcache"
COMMANDS = ["attach", "create", "activate", "deactivate", "detach", "status", "set", "check",
            "repair"]
UNITS = ["lvpcache-activate.service", "lvpcache-activate@.service"]


def run(*args, **kwargs):
    return subprocess.run([str(LVPCACHE), *args], capture_output=True, text=True, **kwargs)


def man_text(page):
    src = (REPO / "man" / page).read_text()
    return re.sub(r"\\f[BIRP]", "", src.replace("\\-", "-"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    r = subprocess.run(["cmake", "--install", str(REPO / "build"), "--prefix", str(root / "usr")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return root


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_in_help_is_in_the_man_page(command):
    r = run(command, "--help")
    assert r.returncode == 0 and r.stdout.startswith(f"Usage: lvpcache {command} ")
    options = r.stdout.split("Options:", 1)[1]
    found = set(re.findall(r"--[a-z][a-z-]*", options)) | set(
        re.findall(r"(?<![\w-])-[a-zA-Z](?![\w-])", options))
    assert {"--help", "--version", "--quiet", "--verbose"} <= found
    page = man_text("lvpcache.8")
    missing = sorted(o for o in found if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", page))
    assert missing == [], f"lvpcache.8 does not document {missing} of '{command}'"
    assert re.search(rf"^\.B lvpcache {command}$", page, re.M), f"no synopsis of {command}"


def test_top_level_help_lists_every_command():
    r = run("--help")
    assert r.returncode == 0
    listed = re.findall(r"^  ([a-z]+) ", r.stdout, re.M)
    assert listed == COMMANDS


@pytest.mark.parametrize("page", ["lvpcache.8", "lvmpcache.7"])
def test_man_pages_render_without_warnings(page):
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(REPO / "man" / page)],
                       capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (0, "")


@pytest.mark.parametrize("args, message", [
    ([], "lvpcache: no command given (see lvpcache --help)"),
    (["frob"], "lvpcache: unknown command 'frob' (see lvpcache --help)"),
    (["attach", "--bogus", "vg/lv"], "lvpcache: unrecognised option '--bogus' (see lvpcache --help)"),
    (["status", "--json", "a/b/c"], "lvpcache: 'a/b/c' is not VG/LV"),
])
def test_usage_errors_are_one_line_and_exit_1(args, message):
    r = run(*args)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", message + "\n")


def test_version_is_bare():
    r = run("-V")
    assert r.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+\n", r.stdout)
    assert run("status", "-V").stdout == r.stdout


def test_install_puts_everything_in_place(installed):
    usr = installed / "usr"
    assert (usr / "sbin" / "lvpcache").stat().st_mode & 0o111
    assert (usr / "share/man/man8/lvpcache.8").read_text() == (REPO / "man/lvpcache.8").read_text()
    assert (usr / "share/man/man7/lvmpcache.7").read_text() == (REPO / "man/lvmpcache.7").read_text()
    for unit in UNITS:
        assert (usr / "lib/systemd/system" / unit).read_text() == \
            (REPO / "lvm-plugin/systemd" / unit).read_text()
    assert (usr / "lib/udev/rules.d/69-lvpcache.rules").exists()
    for script in ("hooks/lvpcache", "scripts/local-top/lvpcache"):
        assert (usr / "share/initramfs-tools" / script).stat().st_mode & 0o111


def verify_units(installed, unit_dir, names):
    """systemd-analyze verify, with the installed lvpcache at /usr/sbin
    (a private mount namespace: the host is not touched) and the
    installed man pages."""
    script = (f"mount -t tmpfs tmpfs /usr/sbin && cp {installed}/usr/sbin/lvpcache /usr/sbin/ && "
              f"MANPATH={installed}/usr/share/man systemd-analyze verify " +
              " ".join(str(unit_dir / n) for n in names))
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True)


def test_systemd_units_verify(installed, tmp_path):
    unit_dir = installed / "usr/lib/systemd/system"
    r = verify_units(installed, unit_dir, ["lvpcache-activate.service", "lvpcache-activate@vg.service"])
    assert (r.returncode, r.stderr) == (0, "")
    # The same check finds a broken copy: it really looks.
    broken = tmp_path / "lvpcache-activate@.service"
    broken.write_text((unit_dir / "lvpcache-activate@.service").read_text()
                      .replace("ExecStart=/usr/sbin/lvpcache", "ExecStart=/usr/sbin/lvpcachex"))
    r = verify_units(installed, tmp_path, ["lvpcache-activate@vg.service"])
    assert r.returncode != 0 and "/usr/sbin/lvpcachex is not executable" in r.stderr


def test_systemd_units_order_activation_before_local_file_systems():
    for unit in UNITS:
        text = (REPO / "lvm-plugin/systemd" / unit).read_text()
        assert "DefaultDependencies=no" in text
        assert re.search(r"^Before=.*\blocal-fs-pre\.target\b", text, re.M)
        assert re.search(r"^ExecStop=/usr/sbin/lvpcache deactivate --all", text, re.M)
        assert "Conflicts=shutdown.target" in text


def test_initramfs_hook_copies_lvpcache_and_its_checker(installed, tmp_path):
    dest = tmp_path / "initramfs"
    dest.mkdir()
    kver = subprocess.run([str(REPO / "scripts" / "kernel-version")], capture_output=True,
                          text=True).stdout.strip()
    env = {"DESTDIR": str(dest), "verbose": "n", "version": kver,
           "MODULESDIR": f"/lib/modules/{kver}",
           "PATH": f"{installed}/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin"}
    r = subprocess.run(["sh", str(installed / "usr/share/initramfs-tools/hooks/lvpcache")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    for tool in ("lvpcache", "pcache_check"):
        # initramfs-tools puts /sbin under /usr (merged /usr).
        assert (dest / "usr/sbin" / tool).stat().st_mode & 0o111
    assert list(dest.glob("usr/lib/*/libdevmapper.so.*"))
    assert list(dest.glob("usr/lib/modules/*/kernel/drivers/nvdimm/nd_pmem.ko*"))
    has_module = bool(list(dest.glob("usr/lib/modules/**/pcache.ko*")))
    warned = "the pcache module is not installed" in r.stderr
    assert has_module != warned
