"""pcache_repair(8) names every kind of change the --json report can hold
(the options, rendering and install of both new pages are checked with the
other tools' pages in test_tools_man.py)."""

import re

from test_tools_man import man_text
from tools_helpers import ROOT


def test_repair_change_kinds_are_all_documented():
    src = (ROOT / "tools" / "lib" / "repair_report.h").read_text()
    kinds = re.findall(r"^\tX\((\w+)\)", src, re.M)
    assert len(kinds) >= 9
    page = man_text("pcache_repair")
    assert [k for k in kinds if k not in page] == []
