"""The command-line contract of pcache_check, pcache_dump and
pcache_restore: every bad input is one line naming the problem, exit 1
(never 2), and nothing written; -q prints nothing on any path; -V prints a
bare x.y.z; -h goes to stdout; --clear-needs-check-flag only after a full
check."""

import json
import os
import re
import resource
import signal
import subprocess

import pytest

from tools_helpers import (BIN, CACHE_INFO_OFF, SB_OFF, CacheXml, check, dump, flip, image,
                           read_at, restored, run, sequential_keys, sha256, tool, write_at)

TOOLS = ["pcache_check", "pcache_dump", "pcache_restore"]
VERSION = re.search(r"project\(pcache VERSION ([0-9.]+)",
                    (BIN.parents[1] / "CMakeLists.txt").read_text()).group(1)


@pytest.fixture
def cache_img(tmp_path):
    cache = CacheXml()
    cache.keys(sequential_keys(300))
    return restored(tmp_path, cache)


def one_line_error(r, tool_name, text):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"{tool_name}: ") and text in lines[0], lines[0]


# --- conventions shared by every tool -------------------------------------

@pytest.mark.parametrize("name", TOOLS)
def test_version_is_bare(name):
    for flag in ("-V", "--version"):
        r = run(name, flag)
        assert (r.returncode, r.stdout, r.stderr) == (0, VERSION + "\n", "")
    assert re.fullmatch(r"\d+\.\d+\.\d+\n", run(name, "-V").stdout)


@pytest.mark.parametrize("name", TOOLS)
def test_help_on_stdout(name):
    r = run(name, "--help")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith(f"Usage: {name} ")
    assert run(name, "-h").stdout == r.stdout


@pytest.mark.parametrize("name", TOOLS)
def test_unknown_option_is_one_line_and_exit_1(name):
    one_line_error(run(name, "--no-such-option"), name, "unrecognised option '--no-such-option'")


@pytest.mark.parametrize("args", [
    ["pcache_check", "-q", "--no-such-option"],
    ["pcache_check", "-q"],
    ["pcache_check", "-q", "/nonexistent"],
    ["pcache_check", "-q", "/tmp"],
    ["pcache_dump", "-q", "--bogus"],
    ["pcache_dump", "-q", "/nonexistent"],
    ["pcache_restore", "-q", "-i", "/nonexistent", "-o", "/nonexistent"],
    ["pcache_restore", "-q"],
    ["pcache_restore", "-q", "-x"],
    ["pcache_check", "-qV"],
])
def test_quiet_prints_nothing_on_any_path(args):
    r = run(*args)
    assert r.stdout == "" and r.stderr == ""
    assert r.returncode in (0, 1)


def test_quiet_check_of_a_damaged_cache(cache_img):
    flip(cache_img, CACHE_INFO_OFF[0] + 12)
    r = check(cache_img, "-q")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "")
    assert check(cache_img, "--quiet").returncode == 1


# --- pcache_check ---------------------------------------------------------------

def test_check_missing_file():
    one_line_error(check("/nonexistent/cache.img"), "pcache_check",
                   "/nonexistent/cache.img: no such file or device")


def test_check_directory(tmp_path):
    one_line_error(check(tmp_path), "pcache_check", "is a directory, not a cache device or image file")


def test_check_file_too_small(tmp_path):
    small = image(tmp_path / "small.img", 4000)
    one_line_error(check(small), "pcache_check", "too small to be a pcache cache (4000 bytes")


def test_check_given_xml(tmp_path):
    small = tmp_path / "small.xml"
    small.write_text(CacheXml(seg_num=1).xml()[:3000])
    big = CacheXml().write(tmp_path / "big.xml")
    for xml in (small, big):
        one_line_error(check(xml), "pcache_check", "this looks like XML, not a cache device or image")


def test_check_without_a_device():
    one_line_error(run("pcache_check"), "pcache_check", "no cache device or image given")


def test_check_two_devices(cache_img):
    one_line_error(run("pcache_check", cache_img, cache_img), "pcache_check", "too many positional")


def test_check_unformatted_device(tmp_path):
    r = check(image(tmp_path / "zero.img"))
    assert r.returncode == 1
    assert "fatal: superblock (byte 4096): magic is zero: not a pcache cache" in r.stdout


def test_json_report(cache_img):
    r = check(cache_img, "--json")
    assert r.returncode == 0
    rep = json.loads(r.stdout)
    assert rep["tool"] == "pcache_check" and rep["version"] == VERSION
    assert rep["result"] == "clean" and rep["damage"] == []
    flip(cache_img, CACHE_INFO_OFF[0] + 12)
    rep = json.loads(check(cache_img, "--json").stdout)
    assert rep["result"] == "damaged"
    (d,) = rep["damage"]
    assert (d["severity"], d["kind"], d["record"], d["device_offset"]) == \
        ("fatal", "cache_info_missing", "cache_info", 8192)


def test_super_block_only_reads_no_segments(cache_img):
    # Wreck every segment header: the superblock area alone still checks.
    for seg in range(31):
        flip(cache_img, 20480 + seg * (16 << 20) + 9)
    r = check(cache_img, "--super-block-only")
    assert r.returncode == 0, r.stdout
    assert "only the superblock, cache_info and tails were checked" in r.stdout
    assert check(cache_img).returncode == 1


# --- --clear-needs-check-flag ------------------------------------------------------

def needs_check_cache(tmp_path, **kw):
    cache = CacheXml(needs_check=True, **kw)
    cache.keys(sequential_keys(10))
    return restored(tmp_path, cache)


def test_clear_needs_check_after_a_clean_check(tmp_path):
    img = needs_check_cache(tmp_path)
    assert json.loads(check(img, "--json").stdout)["cache_info"]["needs_check"] is True
    r = check(img, "--clear-needs-check-flag")
    assert r.returncode == 0, r.stdout
    assert "needs_check: cleared (new cache_info copy in replica 1)" in r.stdout
    rep = json.loads(check(img, "--json").stdout)
    # seq = newest + 1 in the slot that did not hold the copy in use
    assert rep["cache_info"] == dict(rep["cache_info"], replica=1, seq=2, needs_check=False)
    assert rep["result"] == "clean"
    assert "needs_check: was not set" in check(img, "--clear-needs-check-flag").stdout


def test_clear_needs_check_is_refused_after_errors(tmp_path):
    img = needs_check_cache(tmp_path)
    flip(img, 20480 + 2 * (16 << 20) + 0x2000 + 8)    # segment 2's only seg_gen
    before = read_at(img, 8192, 8192)
    r = check(img, "--clear-needs-check-flag")
    assert r.returncode == 1
    assert "needs_check: left as it is, the check found errors" in r.stdout
    assert read_at(img, 8192, 8192) == before


@pytest.mark.parametrize("skip", ["--skip-data", "--super-block-only"])
def test_clear_needs_check_is_refused_with_a_partial_check(tmp_path, skip):
    img = needs_check_cache(tmp_path)
    before = sha256(img, 1 << 20)
    one_line_error(check(img, "--clear-needs-check-flag", skip), "pcache_check",
                   "--clear-needs-check-flag needs a full check")
    assert sha256(img, 1 << 20) == before


# --- pcache_dump ------------------------------------------------------------------

def test_dump_to_a_missing_directory(cache_img, tmp_path):
    one_line_error(dump(cache_img, "-o", tmp_path / "no" / "such" / "dir.xml"), "pcache_dump",
                   "cannot write")


def test_dump_to_a_directory(cache_img, tmp_path):
    one_line_error(dump(cache_img, "-o", tmp_path), "pcache_dump", "it is a directory")


def test_dump_to_an_unwritable_file(cache_img, tmp_path):
    if os.geteuid() == 0:
        target = "/proc/version"        # root may write anywhere a file system allows
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = ro / "x.xml"
    one_line_error(dump(cache_img, "-o", target), "pcache_dump", "cannot write")


def test_dump_o_replaces_the_file_only_on_success(cache_img, tmp_path):
    out = tmp_path / "dump.xml"
    out.write_text("old contents")
    assert dump(cache_img, "-o", out).returncode == 0
    assert out.read_text() == dump(cache_img).stdout
    out.write_text("old contents")
    flip(cache_img, SB_OFF + 9)
    assert dump(cache_img, "-o", out).returncode == 1
    assert out.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dump")] == []


def test_dump_of_an_unreadable_cache_fails_even_with_repair(cache_img, tmp_path):
    flip(cache_img, SB_OFF + 9)
    one_line_error(dump(cache_img), "pcache_dump", "bad magic")
    out = tmp_path / "x.xml"
    r = dump(cache_img, "--repair", "-o", out)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("pcache_dump: nothing to dump: fatal: superblock")
    assert not out.exists()


def test_dump_bad_format(cache_img):
    one_line_error(dump(cache_img, "--format", "yaml"), "pcache_dump", "--format must be xml or human")


def peak_rss_kib(*cmd):
    """Peak resident set of one command (KiB), which must succeed.  Measured
    by /usr/bin/time: a child forked from this (large) Python process would
    count Python's pages too."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *map(str, cmd)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=True)
    return int(r.stderr.splitlines()[-1])


def test_dump_memory_stays_flat_as_keys_grow(tmp_path):
    """Peak RSS of a dump of 100 000 keys is within 1 MiB of one of 1 000."""
    def peak(n):
        cache = CacheXml()
        cache.keys(sequential_keys(n))
        img = restored(tmp_path, cache, f"c{n}")
        return peak_rss_kib(tool("pcache_dump"), "-o", "/dev/null", img)
    small, large = peak(1000), peak(100_000)
    assert large - small < 1024, (small, large)


# --- pcache_restore -----------------------------------------------------------------

@pytest.fixture
def target(tmp_path):
    """An output device with recognisable contents, to prove nothing was written."""
    path = image(tmp_path / "target.img")
    write_at(path, 0, bytes(range(256)) * 256)
    return path


def unchanged(path, digest):
    return sha256(path, 1 << 20) == digest


def restore(*args):
    return run("pcache_restore", *args)


def test_restore_needs_input_and_output(target, tmp_path):
    one_line_error(restore("-o", target), "pcache_restore", "no input XML given")
    one_line_error(restore("-i", CacheXml().write(tmp_path / "c.xml")), "pcache_restore",
                   "no output device or file given")


@pytest.mark.parametrize("problem,text", [
    ("missing", "no such file"),
    ("directory", "is a directory, not an XML file"),
    ("truncated", "(the file ends early: truncated?)"),
    ("binary", "is not XML (a cache device or image?"),
    ("empty", "no element found"),
])
def test_restore_bad_input_writes_nothing(target, tmp_path, problem, text):
    digest = sha256(target, 1 << 20)
    xml = tmp_path / "in.xml"
    if problem == "directory":
        xml = tmp_path
    elif problem == "truncated":
        cache = CacheXml()
        cache.keys(sequential_keys(500))
        full = cache.xml()
        xml.write_text(full[:len(full) * 2 // 3])
    elif problem == "binary":
        xml.write_bytes(b"\x00\x01binary\xff" * 100)
    elif problem == "empty":
        xml.write_text("")
    r = restore("-i", xml, "-o", target)
    one_line_error(r, "pcache_restore", text)
    assert unchanged(target, digest)


def test_restore_missing_or_small_output(tmp_path):
    xml = CacheXml().write(tmp_path / "c.xml")
    one_line_error(restore("-i", xml, "-o", tmp_path / "missing.img"), "pcache_restore",
                   "missing.img: no such file or device")
    assert not (tmp_path / "missing.img").exists()
    small = image(tmp_path / "small.img", 256 << 20)
    r = restore("-i", xml, "-o", small)
    assert r.returncode == 1
    assert "line 3: superblock (byte 4096): seg_num 31 needs 520114176 bytes but the device has " \
           "268435456" in r.stderr
    assert r.stderr.strip().endswith("1 errors in the input; nothing was written to " + str(small))
    assert read_at(small, 0, 1 << 20) == bytes(1 << 20)


KEY2 = '<key off="8192" len="4096" seg="1" seg_off="8192"'


@pytest.mark.parametrize("edit,marker,text", [
    (lambda x: x.replace('<kset seg="0" off="0">', '<kset seg="0" off="0" colour="red">'),
     'colour=', "<kset> has an unknown attribute 'colour'"),
    (lambda x: x.replace('<key off="4096" len="4096"', '<key off="4096"', 1),
     '<key off="4096" seg', "<key> attribute len: missing"),
    (lambda x: x.replace('  <dirty_tail', '  <key_tail slot="0" seq="3" seg="0" off="0"/>\n  <dirty_tail', 1),
     'seq="3"', "<key_tail> slot 0 is given twice"),
    (lambda x: x.replace('<key off="0" len="4096" seg="1" seg_off="0" gen="0"', '<key off="0" len="4096" '
                         'seg="1" seg_off="0" gen="-1"', 1),
     'gen="-1"', "<key> attribute gen: '-1' is not a number"),
    (lambda x: x.replace('seq="2" has_next="true" type="1" next="5"',
                         'seq="9" has_next="true" type="1" next="3"'),
     'seq="9"', "segment 4 seg_info replica 1 (byte 67133440): next segment 3 is already in the chain"),
    (lambda x: x.replace(KEY2, KEY2.replace('seg="1"', 'seg="31"')),
     'seg="31"', "key 2 of kset 0:0 (byte 32872): payload in cache segment 31 of 31"),
    (lambda x: x.replace(KEY2, KEY2.replace('seg_off="8192"', 'seg_off="16763904"')),
     'seg_off="16763904"', "key 2 of kset 0:0 (byte 32872): payload [16763904, 16768000) runs past the end"),
    (lambda x: x.replace(KEY2, KEY2.replace('seg_off="8192"', 'seg_off="4096"')),
     None, "key number 2 of the log claims cache bytes at 1:4096 that key number 1 holds"),
    (lambda x: x.replace("</log>", '<kset seg="0" off="7"/>\n  </log>'),
     'off="7"', "<kset> at 0:7, but the log goes on at 0:10288"),
    (lambda x: x.replace('gc_percent="70"', 'gc_percent="95"'),
     'gc_percent="95"', "cache_info replica 0 (byte 8192): gc_percent 95 is above the maximum of 90"),
    (lambda x: x.replace('format_version="1"', 'format_version="2"'),
     'format_version', "format_version 2 is not supported"),
    (lambda x: x.replace("<segments>", "<segments>\n<log/>"),
     "<log/>", "<log> is not allowed inside <segments>"),
    (lambda x: x.replace('mode="writeback"', 'mode="writefast"'),
     "writefast", "<cache_info> attribute mode: 'writefast' is not writeback"),
])
def test_restore_invalid_metadata_writes_nothing(target, tmp_path, edit, marker, text):
    cache = CacheXml()
    cache.keys(sequential_keys(256))
    xml = tmp_path / "in.xml"
    edited = edit(cache.xml())
    assert edited != cache.xml()
    xml.write_text(edited)
    if marker:
        line = next(i for i, l in enumerate(edited.splitlines(), 1) if marker in l)
        text = f"line {line}: {text}"
    digest = sha256(target, 1 << 20)
    r = restore("-i", xml, "-o", target)
    assert r.returncode == 1
    assert text in r.stderr, r.stderr
    assert unchanged(target, digest)


def test_restore_refuses_its_own_input_as_output(tmp_path):
    xml = CacheXml().write(tmp_path / "c.xml")
    one_line_error(restore("-i", xml, "-o", xml), "pcache_restore", "-i and -o name the same file")


def test_restore_refuses_a_logical_dump(cache_img, tmp_path, target):
    xml = tmp_path / "logical.xml"
    xml.write_text(dump(cache_img, "--logical").stdout)
    one_line_error(restore("-i", xml, "-o", target), "pcache_restore", "cannot be restored")


def test_failure_after_writing_started_zeroes_the_superblock(tmp_path, cache_img):
    """A write error half-way (here: the file-size limit) leaves the output
    unrecognisable as a cache, never half-restored and plausible."""
    xml = tmp_path / "c.xml"
    xml.write_text(dump(cache_img).stdout)
    out = tmp_path / "out.img"
    subprocess.run(["cp", "--sparse=always", str(cache_img), str(out)], check=True)
    assert check(out).returncode == 0

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    r = subprocess.run([tool("pcache_restore"), "-i", str(xml), "-o", str(out)], capture_output=True,
                       text=True, preexec_fn=limit_file_size)
    assert r.returncode == 1
    assert "the restore failed after writing had started: the superblock of" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert read_at(out, SB_OFF, 4096) == bytes(4096)
    assert "magic is zero" in check(out).stdout


def test_data_from_a_smaller_cache_is_refused(tmp_path, target):
    small = CacheXml(seg_num=31)
    small.n_segs = 4
    src = restored(tmp_path, small, "src")
    big = CacheXml()
    big.kset([{"off": 0, "len": 4096, "seg": 20, "seg_off": 0}])
    digest = sha256(target, 1 << 20)
    r = restore("-i", big.write(tmp_path / "big.xml"), "-o", target, "--data-from", src)
    one_line_error(r, "pcache_restore", "has 4 cache segments, the input describes 31")
    assert unchanged(target, digest)


def test_data_from_a_damaged_cache_is_refused(tmp_path, target, cache_img):
    flip(cache_img, 20480 + 5 * (16 << 20) + 4096 + 9)     # segment 5's chaining seg_info
    r = restore("-i", CacheXml().write(tmp_path / "c.xml"), "-o", target, "--data-from", cache_img)
    one_line_error(r, "pcache_restore", "the source's segment chain must be sound")


def test_exit_status_is_never_2(tmp_path, cache_img):
    runs = [run(t, *a) for t in TOOLS for a in ([], ["--bogus"], ["/nonexistent"], ["-o"], [tmp_path])]
    assert all(r.returncode in (0, 1) for r in runs)
