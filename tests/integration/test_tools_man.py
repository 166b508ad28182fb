"""Man pages of the metadata tools: every option of --help is documented,
the pages render without groff warnings, and 'make install' (cmake
--install) puts tools and pages where they belong."""

import re
import subprocess

import pytest

from tools_helpers import BIN, ROOT, run

TOOLS = ["pcache_check", "pcache_dump", "pcache_restore", "pcache_repair", "pcache_writeback"]


def man_text(name):
    """The page's source with troff escapes for '-' and fonts undone."""
    src = (ROOT / "man" / f"{name}.8").read_text()
    return re.sub(r"\\f[BIRP]", "", src.replace("\\-", "-"))


def help_options(name):
    usage = run(name, "--help").stdout
    options = usage.split("Options:", 1)[1]
    longs = set(re.findall(r"--[a-z][a-z-]*", options))
    shorts = set(re.findall(r"(?<![\w-])-[a-zA-Z](?![\w-])", options))
    return longs | shorts


@pytest.mark.parametrize("name", TOOLS)
def test_every_option_in_help_is_in_the_man_page(name):
    options = help_options(name)
    assert {"--help", "--version", "--quiet", "-h", "-V", "-q"} <= options
    page = man_text(name)
    missing = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", page))
    assert missing == [], f"{name}.8 does not document {missing}"


@pytest.mark.parametrize("name", TOOLS)
def test_man_page_renders_without_warnings(name):
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(ROOT / "man" / f"{name}.8")],
                       capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (0, "")
    assert f".TH {name.upper()} 8" in (ROOT / "man" / f"{name}.8").read_text()


def test_install_puts_tools_in_sbin_and_pages_in_man8(tmp_path):
    r = subprocess.run(["cmake", "--install", str(BIN.parent), "--prefix", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in TOOLS:
        assert (tmp_path / "sbin" / name).stat().st_mode & 0o111
        assert (tmp_path / "share" / "man" / "man8" / f"{name}.8").read_text() == \
            (ROOT / "man" / f"{name}.8").read_text()
    assert subprocess.run([str(tmp_path / "sbin" / "pcache_check"), "-V"], capture_output=True,
                          text=True).stdout.strip() == run("pcache_check", "-V").stdout.strip()
