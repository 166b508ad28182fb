"""Where the golden images written by Linux v6.18's dm-pcache live.

They sit next to the project, not in it (../shared/vectors/upstream-v6.18
from the checkout that the developers' guide describes); a clone elsewhere,
such as CI's fresh clone, finds them through PCACHE_VECTORS or at the
machine's shared path.  A test that needs them fails, naming the places it
looked, when none has them: a compatibility test must not pass by being
skipped."""

import os
from pathlib import Path

from .vm import REPO

NAME = Path("vectors") / "upstream-v6.18"
CANDIDATES = [p for p in (os.environ.get("PCACHE_VECTORS"),) if p] + [
    str(REPO.parent / "shared" / NAME),
    str(Path("/work/shared") / NAME),
]


def vectors_dir():
    for place in CANDIDATES:
        if (Path(place) / "README.md").exists():
            return Path(place)
    raise FileNotFoundError("the upstream v6.18 test vectors are not in "
                            + ", ".join(CANDIDATES)
                            + " (set PCACHE_VECTORS to their directory)")
