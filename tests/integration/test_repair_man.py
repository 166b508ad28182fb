"""Man pages of pcache_repair and pcache_writeback: every option of --help
is documented, the pages render without groff warnings, and 'make install'
(cmake --install) puts the tools and their pages in place."""

import subprocess

import pytest

from test_tools_man import help_options, man_text
from tools_helpers import BIN, ROOT, run

TOOLS = ["pcache_repair", "pcache_writeback"]


@pytest.mark.parametrize("name", TOOLS)
def test_every_option_in_help_is_in_the_man_page(name):
    import re
    options = help_options(name)
    assert {"--help", "--version", "--quiet", "-h", "-V", "-q", "--dry-run"} <= options
    page = man_text(name)
    missing = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", page))
    assert missing == [], f"{name}.8 does not document {missing}"


@pytest.mark.parametrize("name", TOOLS)
def test_man_page_renders_without_warnings(name):
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(ROOT / "man" / f"{name}.8")],
                       capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (0, "")
    assert f".TH {name.upper()} 8" in (ROOT / "man" / f"{name}.8").read_text()


def test_repair_change_kinds_are_all_documented():
    import re
    src = (ROOT / "tools" / "lib" / "repair_report.h").read_text()
    kinds = re.findall(r"^\tX\((\w+)\)", src, re.M)
    assert len(kinds) >= 9
    page = man_text("pcache_repair")
    assert [k for k in kinds if k not in page] == []


def test_install_puts_them_in_sbin_and_man8(tmp_path):
    r = subprocess.run(["cmake", "--install", str(BIN.parent), "--prefix", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in TOOLS:
        assert (tmp_path / "sbin" / name).stat().st_mode & 0o111
        assert (tmp_path / "share" / "man" / "man8" / f"{name}.8").read_text() == \
            (ROOT / "man" / f"{name}.8").read_text()
        assert subprocess.run([str(tmp_path / "sbin" / name), "-V"], capture_output=True,
                              text=True).stdout == run(name, "-V").stdout
