"""Block devices under test, each set up and torn down inside one VM boot.

Every target returns the path fio should use.  Caches are built on the same
pmem (/dev/pmem0) and origin (/dev/vda) devices, wiped between targets, so
that every figure of a run comes from the same boot and can be compared as
a ratio (absolute numbers under TCG mean little)."""

MIB = 1 << 20


class Target:
    name = "?"
    is_cache = True
    # Run the short jobs in every round (blockbench.run_rounds()).  The
    # targets that work through the virtio origin are 2-10x away from
    # pcache's figures: their first round places them well enough, and
    # repeating them would take most of make bench's 20 minutes.
    repeat = True

    def setup(self, vm):
        raise NotImplementedError

    def teardown(self, vm):
        pass

    @staticmethod
    def wipe(vm):
        """Zero the first 64 MiB of both devices so no target sees the
        previous one's metadata."""
        vm.run("dd if=/dev/zero of=/dev/pmem0 bs=1M count=64 oflag=direct status=none; "
               "dd if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct status=none", timeout=120)

    def status(self, vm):
        return ""


class RawPmem(Target):
    name = "raw-pmem"
    is_cache = False

    def setup(self, vm):
        return "/dev/pmem0"


class RawOrigin(Target):
    name = "raw-origin"
    is_cache = False
    repeat = False

    def setup(self, vm):
        return "/dev/vda"


class DmTarget(Target):
    dm_name = "bench"

    def table(self, vm, sectors):
        raise NotImplementedError

    def modules(self):
        return []

    def setup(self, vm):
        self.wipe(vm)
        if self.modules():
            vm.run("modprobe -a " + " ".join(self.modules()))
        sectors = int(vm.run("blockdev --getsz /dev/vda").stdout)
        vm.run(f"dmsetup create {self.dm_name} --table '{self.table(vm, sectors)}'")
        vm.run("dmsetup mknodes")
        return f"/dev/mapper/{self.dm_name}"

    def status(self, vm):
        return vm.run(f"dmsetup status {self.dm_name}", check=False).stdout.strip()

    def teardown(self, vm):
        vm.run(f"dmsetup remove {self.dm_name}", timeout=600)


class DmLinearPmem(DmTarget):
    """dm-linear straight onto /dev/pmem0: what device-mapper alone costs
    (bio clone, map, completion), the floor under every dm target here."""
    name = "dm-linear-pmem"
    is_cache = False

    def modules(self):
        # Nothing else loads device-mapper when this peer runs before the
        # dm caches (dm_mod is a module in Debian's kernel).
        return ["dm-mod"]

    def table(self, vm, sectors):
        pmem = int(vm.run("blockdev --getsz /dev/pmem0").stdout)
        return f"0 {pmem} linear /dev/pmem0 0"


class DmWritecache(DmTarget):
    name = "dm-writecache"

    def modules(self):
        return ["dm-writecache"]

    def table(self, vm, sectors):
        return f"0 {sectors} writecache p /dev/vda /dev/pmem0 4096 0"


class DmCache(DmTarget):
    """dm-cache, smq policy, writeback; metadata and data both on pmem
    (two dm-linear slices of /dev/pmem0)."""
    name = "dm-cache"
    meta_mib = 32
    repeat = False

    def modules(self):
        return ["dm-cache", "dm-cache-smq"]

    def table(self, vm, sectors):
        pmem = int(vm.run("blockdev --getsz /dev/pmem0").stdout)
        meta = self.meta_mib * MIB // 512
        vm.run(f"dmsetup create bench_meta --table '0 {meta} linear /dev/pmem0 0'")
        vm.run(f"dmsetup create bench_cdata --table '0 {pmem - meta} linear /dev/pmem0 {meta}'")
        vm.run("dmsetup mknodes")
        return (f"0 {sectors} cache /dev/mapper/bench_meta /dev/mapper/bench_cdata /dev/vda "
                "512 1 writeback smq 0")

    def teardown(self, vm):
        super().teardown(vm)
        vm.run("dmsetup remove bench_cdata; dmsetup remove bench_meta")


class Bcache(Target):
    """bcache with the cache set on the pmem block device, writeback mode."""
    name = "bcache"
    repeat = False

    def setup(self, vm):
        self.wipe(vm)
        vm.run("modprobe bcache")
        vm.run("make-bcache --wipe-bcache --writeback -C /dev/pmem0 -B /dev/vda", timeout=120)
        # No udev in the guest: register both devices by hand.
        vm.run("echo /dev/pmem0 > /sys/fs/bcache/register; "
               "echo /dev/vda > /sys/fs/bcache/register", check=False)
        vm.run("for i in $(seq 100); do [ -b /dev/bcache0 ] && break; sleep 0.1; done; "
               "test -b /dev/bcache0")
        vm.run("cset=$(ls /sys/fs/bcache | grep -- -); "
               "[ -e /sys/block/bcache0/bcache/cache ] || "
               "echo $cset > /sys/block/bcache0/bcache/attach; "
               "echo writeback > /sys/block/bcache0/bcache/cache_mode; "
               # Cache everything, as the other targets do: no sequential bypass.
               "echo 0 > /sys/block/bcache0/bcache/sequential_cutoff; "
               "echo 0 > /sys/fs/bcache/$cset/congested_read_threshold_us; "
               "echo 0 > /sys/fs/bcache/$cset/congested_write_threshold_us")
        return "/dev/bcache0"

    def status(self, vm):
        return vm.run("cat /sys/block/bcache0/bcache/state /sys/block/bcache0/bcache/dirty_data",
                      check=False).stdout.replace("\n", " ").strip()

    def teardown(self, vm):
        vm.run("cset=$(ls /sys/fs/bcache | grep -- -); "
               "echo 1 > /sys/block/bcache0/bcache/stop; "
               "echo 1 > /sys/fs/bcache/$cset/stop; sleep 1", check=False, timeout=600)
        vm.run("for i in $(seq 100); do [ -b /dev/bcache0 ] || exit 0; sleep 0.2; done; exit 1",
               timeout=120)


class Pcache(DmTarget):
    def __init__(self, data_crc):
        self.data_crc = data_crc
        self.name = f"pcache-crc-{'on' if data_crc else 'off'}"

    def setup(self, vm):
        vm.load_module()
        return super().setup(vm)

    def table(self, vm, sectors):
        crc = "true" if self.data_crc else "false"
        return f"0 {sectors} pcache /dev/pmem0 /dev/vda 4 cache_mode writeback data_crc {crc}"

    def index_memory(self, vm):
        """Bytes of kernel memory held by pcache's index: its slab caches
        plus its vmalloc areas."""
        slab = vm.run("awk '/^pcache/ {s += $3 * $4} END {print s + 0}' /proc/slabinfo",
                      check=False).stdout.strip()
        vmalloc = vm.run("awk '/\\[pcache\\]/ {s += $2} END {print s + 0}' /proc/vmallocinfo",
                         check=False).stdout.strip()
        return int(slab or 0) + int(vmalloc or 0)


ALL = {
    "raw-pmem": RawPmem,
    "raw-origin": RawOrigin,
    "dm-linear-pmem": DmLinearPmem,
    "dm-writecache": DmWritecache,
    "bcache": Bcache,
    "dm-cache": DmCache,
    "pcache-crc-off": lambda: Pcache(False),
    "pcache-crc-on": lambda: Pcache(True),
}
