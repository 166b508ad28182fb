"""pcache_writeback on the command line: the origin afterwards holds the
cache's logical view (pcache_dump --logical applied to it; on Linux 6.18's
own image, the sha256 its README gives), the cache is marked clean, a
rerun has nothing to do; --dry-run and --no-metadata-update; damaged
metadata refused, or salvaged with what is lost listed; a wrong origin
refused before anything is written; SIGINT stops safely and a rerun
finishes; a progress bar on a terminal."""

import json
import os
import pty
import re
import signal
import subprocess
import time

import pytest

from repair_helpers import data_cache, digest, kset_offset, logical_view
from tools_helpers import (MIB, CacheXml, check, decompress_vector, flip, image, read_at, restored, run,
                           sequential_keys, tool)

LOGICAL_64M_SHA = "c5740970c7dbacc577bed7a38981fb041f5634e4e37138f2f0bd4946b30f5623"


def writeback(*args):
    return run("pcache_writeback", *args)


def expected_origin(img, origin, tmp_path):
    """The origin as it must be: its old content with every dirty extent of
    pcache_dump --logical written over it."""
    want = tmp_path / "want.origin"
    subprocess.run(["cp", "--sparse=always", str(origin), str(want)], check=True)
    with open(want, "r+b") as f:
        for sector, (data, dirty) in logical_view(img).items():
            if dirty:
                f.seek(sector * 512)
                f.write(data)
    return want


def test_the_upstream_image(tmp_path):
    img = decompress_vector("c-writes-clean.pmem0", tmp_path)
    origin = image(tmp_path / "origin.img", 1 << 30)
    r = writeback("--cache", img, "--origin", origin)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        "wrote 1933 of 1933 dirty extents (7.6 MiB (7917568 bytes)) to "
        f"{origin} in log order; origin flushed",
        "dirty_tail 0:0 -> 0:82328: the cache is clean"]
    import hashlib
    with open(origin, "rb") as f:
        assert hashlib.sha256(f.read(64 * MIB)).hexdigest() == LOGICAL_64M_SHA
    rep = json.loads(check(img, "--json").stdout)
    assert rep["result"] == "clean" and rep["dirty_tail"] == "0:82328" and rep["map"]["dirty_bytes"] == 0
    r = writeback("--cache", img, "--origin", origin)
    assert r.returncode == 0
    assert "the cache was clean already: dirty_tail 0:82328 is the end of the log" in r.stdout


def test_the_origin_holds_the_logical_view(tmp_path):
    img, origin, _ = data_cache(tmp_path)
    want = expected_origin(img, origin, tmp_path)
    r = writeback("--cache", img, "--origin", origin)
    assert r.returncode == 0, r.stdout + r.stderr
    assert digest(origin) == digest(want)
    assert json.loads(check(img, "--json").stdout)["map"]["dirty_bytes"] == 0


def test_dry_run_lists_and_writes_nothing(tmp_path):
    img, origin, _ = data_cache(tmp_path)
    before = (digest(img), digest(origin))
    r = writeback("--dry-run", "--cache", img)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "dry run: 7 dirty extents (40.0 KiB (40960 bytes)) would be written; nothing was written"
    assert lines[0].startswith("would write origin bytes [4096, 8192) from cache byte ")
    assert (digest(img), digest(origin)) == before


def test_no_metadata_update_leaves_the_cache_dirty(tmp_path):
    img, origin, _ = data_cache(tmp_path)
    want = expected_origin(img, origin, tmp_path)
    cache_before = digest(img)
    r = writeback("--no-metadata-update", "--cache", img, "--origin", origin)
    assert r.returncode == 0
    assert "the cache's metadata was not updated (--no-metadata-update)" in r.stdout
    assert digest(img) == cache_before and digest(origin) == digest(want)


def test_damaged_metadata_is_refused_without_salvage(tmp_path):
    img, origin, pos = data_cache(tmp_path)
    flip(img, kset_offset(pos["b"]) + 24 + 33)
    before = (digest(img), digest(origin))
    r = writeback("--cache", img, "--origin", origin)
    assert r.returncode == 1 and r.stdout == ""
    assert re.fullmatch(r"pcache_writeback: the metadata of .* is damaged \(error: kset at 0:\d+ .*\); nothing "
                        r"was written\.  pcache_writeback --salvage writes back every intact dirty extent; "
                        r"pcache_repair repairs the metadata\n", r.stderr)
    assert (digest(img), digest(origin)) == before


def test_salvage_writes_what_is_intact_and_lists_the_rest(tmp_path):
    img, origin, pos = data_cache(tmp_path)
    flip(img, kset_offset(pos["b"]) + 24 + 33)
    cache_before = digest(img)
    r = writeback("--salvage", "--cache", img, "--origin", origin)
    assert r.returncode == 1
    out = r.stdout
    assert f"not recoverable: origin bytes [{4 * MIB}, {4 * MIB + 4096})" in out
    assert f"not recoverable: origin bytes [{5 * MIB}, {5 * MIB + 16384})" in out
    assert "wrote 5 of 5 dirty extents" in out
    assert "the cache's metadata was not updated (--salvage)" in out
    assert digest(img) == cache_before
    # The dirty data of the other ksets is on the origin now.
    assert read_at(origin, 6 * MIB, 4096) == read_at(img, 20480 + 2 * (16 << 20) + 12288 + 24576, 4096)


def test_a_wrong_origin_is_refused_before_anything_is_written(tmp_path):
    img, _, _ = data_cache(tmp_path)
    small = image(tmp_path / "small.origin", 4 * MIB)
    before = digest(img)
    r = writeback("--cache", img, "--origin", small)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert "lies beyond the end of" in r.stderr and "is it the cache's origin?  Nothing was written" in r.stderr
    assert digest(small) == digest(image(tmp_path / "zero.origin", 4 * MIB)) and digest(img) == before


@pytest.mark.parametrize("args,text", [
    ([], "no cache given (--cache DEV"),
    (["--cache", "IMG"], "no origin given (--origin DEV"),
    (["--cache", "IMG", "--origin", "IMG"], "--cache and --origin name the same device"),
    (["--cache", "/nonexistent", "--origin", "ORIGIN"], "/nonexistent: no such file or device"),
    (["--cache", "IMG", "--origin", "/nonexistent"], "/nonexistent: no such file or device"),
])
def test_bad_inputs(tmp_path, args, text):
    img, origin, _ = data_cache(tmp_path)
    subst = {"IMG": str(img), "ORIGIN": str(origin)}
    before = (digest(img), digest(origin))
    r = writeback(*[subst.get(a, a) for a in args])
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("pcache_writeback: ") and len(r.stderr.splitlines()) == 1 and text in r.stderr
    assert (digest(img), digest(origin)) == before


@pytest.fixture(scope="module")
def big_cache(tmp_path_factory):
    """A cache with 384 MiB of dirty data: long enough to interrupt."""
    d = tmp_path_factory.mktemp("big")
    cache = CacheXml(seg_num=40)
    cache.keys(sequential_keys(24576, length=16384))
    img = restored(d, cache, size=(40 << 24) + (1 << 20))
    return d, img


def test_sigint_stops_safely_and_a_rerun_finishes(big_cache):
    d, img = big_cache
    origin = image(d / "sigint.origin", 512 * MIB)
    work = d / "work.img"
    subprocess.run(["cp", "--sparse=always", str(img), str(work)], check=True)
    cache_before = digest(work)
    p = subprocess.Popen([tool("pcache_writeback"), "--cache", str(work), "--origin", str(origin)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until it is writing, then interrupt.
    deadline = time.time() + 30
    while os.stat(origin).st_blocks == 0 and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    if "interrupted" not in out:
        pytest.fail(f"the run finished before the interrupt arrived (load?): {out} {err}")
    assert p.returncode == 1 and err == ""
    assert "interrupted: the cache is unchanged; run pcache_writeback again to finish" in out
    assert digest(work) == cache_before
    r = writeback("--cache", work, "--origin", origin)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "wrote 24576 of 24576 dirty extents" in r.stdout and "the cache is clean" in r.stdout


def test_progress_bar_on_a_terminal(big_cache):
    d, img = big_cache
    origin = image(d / "tty.origin", 512 * MIB)
    work = d / "tty.img"
    subprocess.run(["cp", "--sparse=always", str(img), str(work)], check=True)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(tool("pcache_writeback"), ["pcache_writeback", "--no-metadata-update", "--cache", str(work),
                                             "--origin", str(origin)])
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, seen
    text = seen.decode()
    if "writing back [" not in text:
        pytest.fail(f"no bar: the run took under half a second? {text!r}")
    assert re.search(r"writing back \[=*\s*\]\s+\d+% [\d.]+ (MiB|KiB|bytes) left, [\d.]+ (MiB|GiB|KiB)/s, ETA \d+:\d\d",
                     text), text
