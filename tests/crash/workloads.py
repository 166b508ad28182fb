"""Workloads and the oracle of the crash-consistency suite (docs/target.md,
"Crash-consistency testing").  Pure Python, used on both sides: the guest
driver (crash_driver.py) runs the workloads, the host tests pick them.

A workload is a list of operations on 4 KiB blocks:

    ("W", off, length)   a plain write (O_DIRECT)
    ("U", off, length)   a FUA write (O_DIRECT | O_DSYNC)
    ("F",)               a FLUSH (fsync of the block device)

Every 4 KiB block a write puts down names the operation and the block
("PCACHE-CRASH op=<n> off=<offset>", repeated to fill the block), so a
block read back after a crash tells which write it came from, and a torn or
misplaced block matches none.

The oracle (the durability contract of docs/target.md): a block holds its
*committed* value -- the newest write to it that was FUA and acknowledged,
or acknowledged before a FLUSH that was acknowledged -- or the value of a
later write that was acknowledged or in flight at the crash; nothing else.
After a clean removal (no crash) it holds its newest value.
"""

import itertools

BLOCK = 4096
MIB = 1 << 20
REGION = 4 * MIB            # one subtree, one kset buffer (spec 7.2)

# The four blocks of the small workloads: two per 4 MiB region.
SMALL_BLOCKS = [0, 64 * 1024, REGION, REGION + 64 * 1024]


def block_data(op, off):
    """The content write number op puts at byte offset off (4 KiB)."""
    tag = b"PCACHE-CRASH op=%08d off=%012d " % (op, off)
    return (tag * (BLOCK // len(tag) + 1))[:BLOCK]


def init_data(off):
    """What a block holds before any write of the workload."""
    return block_data(99999999, off)


def identify(data, off, init=init_data):
    """Which op wrote this block: an op number, 'init' (what init(off)
    says was there before the workload), or None (corrupt)."""
    if data == init(off):
        return "init"
    head = data[:40]
    if not head.startswith(b"PCACHE-CRASH op="):
        return None
    try:
        op = int(head[16:24])
    except ValueError:
        return None
    return op if data == block_data(op, off) else None


def small_workloads():
    """Every combination of at most 3 operations (plain write, FUA write,
    FLUSH) over 4 blocks in two 4 MiB regions, up to renaming blocks and
    regions (which block or region comes first does not matter): 143."""
    blocks = [(r, b) for r in (0, 1) for b in (0, 1)]
    ops = [("W", x) for x in blocks] + [("U", x) for x in blocks] + [("F", None)]
    seen, out = set(), []
    for n in (1, 2, 3):
        for seq in itertools.product(ops, repeat=n):
            rmap, bmap, canon = {}, {}, []
            for kind, x in seq:
                if x is None:
                    canon.append(("F", None))
                    continue
                r, _ = x
                rmap.setdefault(r, len(rmap))
                if x not in bmap:
                    bmap[x] = sum(1 for k in bmap if k[0] == r)
                canon.append((kind, (rmap[r], bmap[x])))
            canon = tuple(canon)
            if canon not in seen:
                seen.add(canon)
                out.append(canon)
    return [[(k,) if x is None else (k, SMALL_BLOCKS[2 * x[0] + x[1]], BLOCK)
             for k, x in seq] for seq in out]


def describe(ops):
    names = {off: n for n, off in zip(("a0", "a1", "b0", "b1"), SMALL_BLOCKS)}
    out = []
    for op in ops:
        if op[0] == "F":
            out.append("F")
        else:
            out.append(f"{op[0]}({names.get(op[1], op[1])}"
                       f"{'' if op[2] == BLOCK else '+' + str(op[2])})")
    return " ".join(out)


# Bios each operation sends to the target: an O_DSYNC write is a FUA write
# followed by a FLUSH (blkdev_write_iter() syncs after the direct write).
BIOS = {"W": 1, "U": 2, "F": 1}


def bios(ops):
    return sum(BIOS[op[0]] for op in ops)


def acked_ops(ops, acked_bios):
    """How many operations were acknowledged before the crash, given the
    number of bios the target acknowledged (pcache's fault_acked).  An
    operation counts once its first bio was: a FUA write is durable when
    its write completes."""
    sent = 0
    for i, op in enumerate(ops):
        if acked_bios < sent + 1:
            return i
        sent += BIOS[op[0]]
    return len(ops)


def allowed(ops, acked, clean, first_op=0):
    """For every block the workload touches: the op numbers (or 'init')
    it may hold.  ops[i] has op number first_op + i; the first `acked` ops
    were acknowledged before the crash and op `acked` may have been in
    flight.  clean: no crash, every write must be there."""
    history = {}                    # off -> [(index, kind)]
    flushes = []                    # indexes of acknowledged FLUSHes
    for i, op in enumerate(ops):
        if op[0] == "F":
            if i < acked:
                flushes.append(i)
            continue
        for off in range(op[1], op[1] + op[2], BLOCK):
            history.setdefault(off, []).append((i, op[0]))
    result = {}
    for off, writes in history.items():
        if clean:
            result[off] = {first_op + writes[-1][0]}
            continue
        committed = None
        for i, kind in writes:
            if i < acked and (kind == "U" or any(f > i for f in flushes)):
                committed = i
        ok = {"init"} if committed is None else {first_op + committed}
        ok |= {first_op + i for i, _ in writes
               if (committed is None or i > committed) and i <= acked}
        result[off] = ok
    return result
