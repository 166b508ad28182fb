"""pcache_repair on the command line: -i IN -o OUT never touches IN and
leaves a clean, idempotent copy; --in-place saves every region it changes
to a backup that --restore-backup puts back; every bad input is one line
and exit 1 with nothing written; the report names every change and every
lost range (text and --json); exit 0 only for a clean result without
dirty data lost."""

import json
import re

import pytest

from repair_helpers import data_cache, digest, in_ranges, kset_offset, logical_view, repair_json
from tools_helpers import (CACHE_INFO_OFF, KEY_TAIL_OFF, BIN, check, decompress_vector, flip, image,
                           read_at, run)

VERSION = re.search(r"project\(pcache VERSION ([0-9.]+)",
                    (BIN.parents[1] / "CMakeLists.txt").read_text()).group(1)


@pytest.fixture
def cache(tmp_path):
    img, origin, pos = data_cache(tmp_path)
    assert check(img).returncode == 0
    return img, pos


def one_line_error(r, text):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("pcache_repair: ") and text in lines[0], lines[0]


def damage_mid_log_kset(img, pos):
    """A data CRC byte of the second dirty kset's first key: its CRC fails."""
    flip(img, kset_offset(pos["b"]) + 24 + 32, 0xFF)


# --- conventions --------------------------------------------------------------

@pytest.mark.parametrize("name", ["pcache_repair", "pcache_writeback"])
def test_version_help_and_unknown_options(name):
    r = run(name, "-V")
    assert (r.returncode, r.stdout, r.stderr) == (0, VERSION + "\n", "")
    r = run(name, "--help")
    assert r.returncode == 0 and r.stdout.startswith(f"Usage: {name} ") and r.stderr == ""
    r = run(name, "--bogus")
    assert r.returncode == 1 and r.stdout == "" and len(r.stderr.splitlines()) == 1
    assert "unrecognised option '--bogus'" in r.stderr


@pytest.mark.parametrize("args", [
    ["pcache_repair", "-q"],
    ["pcache_repair", "-q", "--bogus"],
    ["pcache_repair", "-q", "-i", "/nonexistent", "-o", "/tmp/x.img"],
    ["pcache_repair", "-q", "--in-place", "/nonexistent"],
    ["pcache_repair", "-q", "--restore-backup", "/nonexistent", "/nonexistent"],
    ["pcache_writeback", "-q"],
    ["pcache_writeback", "-q", "--cache", "/nonexistent", "--origin", "/nonexistent"],
])
def test_quiet_prints_nothing_on_any_path(args):
    r = run(*args)
    assert (r.stdout, r.stderr) == ("", "")
    assert r.returncode == 1


def test_quiet_repair_speaks_only_through_the_exit_status(cache, tmp_path):
    img, pos = cache
    damage_mid_log_kset(img, pos)
    r = run("pcache_repair", "-q", "-i", img, "-o", tmp_path / "out.img")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "")
    assert check(tmp_path / "out.img").returncode == 0


# --- -i IN -o OUT --------------------------------------------------------------

def test_copy_repair_leaves_the_input_alone_and_the_copy_checks_clean(cache, tmp_path):
    img, pos = cache
    damage_mid_log_kset(img, pos)
    before = digest(img)
    out = tmp_path / "out.img"
    r, rep = repair_json("-i", img, "-o", out)
    assert r.returncode == 1, r.stderr     # dirty data was lost
    assert digest(img) == before
    assert check(out).returncode == 0
    assert rep["result"] == "repaired; dirty data lost (listed above)"
    assert rep["dirty_data_lost"] is True
    kinds = {c["kind"] for c in rep["changes"]}
    assert {"kset_dropped", "log_rewritten"} <= kinds
    lost = [(l["begin"], l["end"], l["dirty"]) for l in rep["lost"]]
    # Both keys of the damaged kset, exactly, and dirty.
    assert lost == [(4 << 20, (4 << 20) + 4096, True), (5 << 20, (5 << 20) + 16384, True)]
    assert rep["lost"][0]["kset"] == f"{pos['b'][0]}:{pos['b'][1]}"


def test_repair_of_the_repaired_copy_changes_nothing(cache, tmp_path):
    img, pos = cache
    damage_mid_log_kset(img, pos)
    run("pcache_repair", "-i", img, "-o", tmp_path / "one.img")
    r = run("pcache_repair", "-i", tmp_path / "one.img", "-o", tmp_path / "two.img")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.endswith("result: clean (nothing to repair)\n")
    assert digest(tmp_path / "one.img") == digest(tmp_path / "two.img")


def test_a_damaged_replica_is_rewritten_and_nothing_is_lost(cache, tmp_path):
    img, _ = cache
    flip(img, CACHE_INFO_OFF[1] + 12)
    out = tmp_path / "out.img"
    r = run("pcache_repair", "-i", img, "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"repaired: cache_info replica 1 \(byte 12288\): the damaged copy was rewritten from "
                     r"replica 0 with the next sequence number", r.stdout)
    assert json.loads(check(out, "--json").stdout)["cache_info"]["seq"] == 2
    assert check(out).stdout.endswith("result: clean (0 errors, 0 warnings)\n")


def test_every_dirty_extent_is_in_the_copy_or_listed_as_lost(cache, tmp_path):
    img, pos = cache
    original = logical_view(img)
    damage_mid_log_kset(img, pos)
    flip(img, KEY_TAIL_OFF[0] + 9)       # and a damaged tail replica
    out = tmp_path / "out.img"
    r, rep = repair_json("-i", img, "-o", out)
    repaired = logical_view(out)
    missing = [s for s, (data, dirty) in original.items()
               if dirty and repaired.get(s) != (data, True) and not in_ranges(rep["lost"], s)]
    assert missing == []
    assert any(in_ranges(rep["lost"], s) for s in original)


def test_the_upstream_image_with_a_damaged_kset(tmp_path):
    img = decompress_vector("c-writes-clean.pmem0", tmp_path)
    original = logical_view(img)
    # The fifth kset of the log: step over four.
    off = 0
    for _ in range(4):
        key_num = int.from_bytes(read_at(img, 32768 + off + 4, 4), "little")
        off += 24 + 40 * key_num
    flip(img, 32768 + off + 24 + 40 * 3 + 33)      # a byte of key 3's data CRC field
    assert check(img).returncode == 1
    out = tmp_path / "out.img"
    r, rep = repair_json("-i", img, "-o", out)
    assert r.returncode == 1 and rep["dirty_data_lost"] is True
    assert check(out).returncode == 0
    repaired = logical_view(out)
    assert all(repaired.get(s) == (d, True) or in_ranges(rep["lost"], s)
               for s, (d, dirty) in original.items() if dirty)
    # Only the damaged kset's keys are lost: the log after it was kept.
    assert 0 < sum(l["end"] - l["begin"] for l in rep["lost"]) <= 128 * 4096
    assert len(repaired) > len(original) * 0.9


def test_an_existing_output_file_is_replaced_only_on_success(cache, tmp_path):
    img, _ = cache
    out = tmp_path / "out.img"
    out.write_bytes(b"an old file")
    assert run("pcache_repair", "-i", tmp_path / "missing.img", "-o", out).returncode == 1
    assert out.read_bytes() == b"an old file"
    assert run("pcache_repair", "-i", img, "-o", out).returncode == 0
    assert check(out).returncode == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_dry_run_writes_nothing(cache, tmp_path):
    img, pos = cache
    damage_mid_log_kset(img, pos)
    before = digest(img)
    r = run("pcache_repair", "--dry-run", "-i", img)
    assert r.returncode == 1
    assert "result: would be repaired; dirty data lost" in r.stdout
    assert digest(img) == before
    r = run("pcache_repair", "--dry-run", "-i", img, "-o", tmp_path / "out.img")
    assert not (tmp_path / "out.img").exists()


# --- --in-place and --restore-backup ---------------------------------------------

def test_in_place_saves_a_backup_that_puts_everything_back(cache, tmp_path):
    img, pos = cache
    damage_mid_log_kset(img, pos)
    flip(img, CACHE_INFO_OFF[1] + 12)
    damaged = digest(img)
    backup = tmp_path / "repair.bak"
    r = run("pcache_repair", "--in-place", img, "--backup", backup)
    assert r.returncode == 1, r.stderr
    assert f"what they held is saved in {backup}" in r.stdout
    assert check(img).returncode == 0
    assert read_at(backup, 0, 8) == b"PCREPBK1"
    r = run("pcache_repair", "--restore-backup", backup, img)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"pcache_repair: put back \d+ regions \(.*\) from .* on .*\n", r.stderr)
    assert digest(img) == damaged


def test_in_place_needs_a_new_backup_file(cache, tmp_path):
    img, pos = cache
    damage_mid_log_kset(img, pos)
    before = digest(img)
    one_line_error(run("pcache_repair", "--in-place", img), "--in-place needs --backup FILE")
    old = tmp_path / "old.bak"
    old.write_bytes(b"an earlier backup")
    one_line_error(run("pcache_repair", "--in-place", img, "--backup", old), "exists already")
    one_line_error(run("pcache_repair", "--in-place", img, "--backup", img), "exists already")
    assert digest(img) == before and old.read_bytes() == b"an earlier backup"


def test_restore_backup_refuses_a_device_that_changed(cache, tmp_path):
    img, pos = cache
    damage_mid_log_kset(img, pos)
    backup = tmp_path / "repair.bak"
    run("pcache_repair", "--in-place", img, "--backup", backup)
    flip(img, kset_offset(pos["b"]) + 4)        # used since the repair
    now = digest(img)
    one_line_error(run("pcache_repair", "--restore-backup", backup, img),
                   "hold neither what the repair wrote nor what the backup holds")
    assert digest(img) == now
    other = image(tmp_path / "other.img", 600 << 20)
    one_line_error(run("pcache_repair", "--restore-backup", backup, other), "not this device")


def test_a_damaged_backup_is_refused(cache, tmp_path):
    img, pos = cache
    damage_mid_log_kset(img, pos)
    backup = tmp_path / "repair.bak"
    run("pcache_repair", "--in-place", img, "--backup", backup)
    flip(backup, 40)
    one_line_error(run("pcache_repair", "--restore-backup", backup, img), "not a valid pcache_repair backup")


# --- bad inputs: one line, exit 1, nothing written ---------------------------------

@pytest.mark.parametrize("args,text", [
    ([], "give one of -i IN -o OUT, --in-place DEV --backup FILE, --restore-backup FILE DEV"),
    (["-i", "IMG", "--in-place", "IMG"], "give only one of"),
    (["-i", "IMG"], "no output given (-o DEVICE|FILE"),
    (["-i", "IMG", "-o", "IMG"], "-i and -o name the same device"),
    (["-i", "IMG", "-o", "OUT", "--backup", "BAK"], "--backup goes with --in-place"),
    (["-i", "IMG", "-o", "OUT", "IMG"], "unexpected argument"),
    (["--restore-backup", "BAK"], "needs the device to put it back on"),
    (["-i", "/nonexistent.img", "-o", "OUT"], "/nonexistent.img: no such file or device"),
    (["-i", "DIR", "-o", "OUT"], "is a directory"),
    (["-i", "ZERO", "-o", "OUT"], "not a pcache cache (superblock: magic is zero"),
    (["-i", "SMALL", "-o", "OUT"], "bytes; the kernel refuses cache devices smaller than 512 MiB"),
    (["-i", "IMG", "-o", "/nonexistent/dir/out.img"], "no such directory"),
    (["-i", "IMG", "-o", "/dev/null"], "not a regular file, block device or device-dax device"),
])
def test_bad_inputs(cache, tmp_path, args, text):
    img, _ = cache
    subst = {"IMG": str(img), "OUT": str(tmp_path / "out.img"), "BAK": str(tmp_path / "b.bak"),
             "DIR": str(tmp_path), "ZERO": str(image(tmp_path / "zero.img")),
             "SMALL": str(image(tmp_path / "small.img", 100 << 20))}
    before = digest(img)
    one_line_error(run("pcache_repair", *[subst.get(a, a) for a in args]), text)
    assert digest(img) == before
    assert not (tmp_path / "out.img").exists() and not (tmp_path / "b.bak").exists()


def test_json_report_fields(cache, tmp_path):
    img, pos = cache
    damage_mid_log_kset(img, pos)
    r, rep = repair_json("-i", img, "-o", tmp_path / "out.img")
    assert rep["tool"] == "pcache_repair" and rep["version"] == VERSION and rep["device"] == str(img)
    assert set(rep) == {"tool", "version", "device", "result", "dirty_data_lost", "dirty_bytes_lost",
                        "clean_bytes_dropped", "changes", "lost", "unreadable", "notes"}
    assert rep["dirty_bytes_lost"] == 4096 + 16384
    change = rep["changes"][0]
    assert set(change) == {"kind", "record", "replica", "segment", "phys_segment", "kset", "key_index",
                           "device_offset", "message"}
