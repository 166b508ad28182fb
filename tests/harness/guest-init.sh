#!/bin/busybox sh
# /init of the pcache test VM.  Mounts the host's root over 9p (read-only)
# under a tmpfs overlay, so the guest runs the host's own binaries, python3
# and freshly built pcache tools and module, and can still write anywhere.
# The kernel hands unknown name=value boot parameters to us as environment:
#   pcache_agent  path of guest_agent.py (same path on host and guest)
#   pcache_share  host directory exported read-write as 9p tag "share";
#                 mounted at the same path in the guest
#   pcache_shell  1: also start an interactive shell on the console
/bin/busybox --install -s /bin
export PATH=/bin:/sbin

fail() {
	echo "pcache-init: $*" >&2
	sleep 1
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

while read -r mod; do
	insmod "/modules/$mod" || fail "cannot load $mod"
done < /modules/order

mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 host /lower ||
	fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /upper || fail "cannot mount tmpfs"
mkdir -p /upper/data /upper/work
# Every process opens the C.UTF-8 locale's dozen files at start-up.  Over
# 9p each open is a round trip to QEMU, which under TCG on a busy host
# made a bare "bash -c true" cost 0.4 s.  A copy in the RAM layer shadows
# the host's (same content) and is opened without leaving the guest.
if [ -d /lower/usr/lib/locale/C.utf8 ]; then
	mkdir -p /upper/data/usr/lib/locale
	cp -a /lower/usr/lib/locale/C.utf8 /upper/data/usr/lib/locale/ ||
		fail "cannot copy the C.UTF-8 locale"
fi
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot ||
	fail "cannot mount the overlay root"

mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
# /tmp stays on the overlay: a checkout under /tmp (CI clones there) must
# stay visible to the guest.
mount -t tmpfs tmpfs /newroot/run
mkdir -p /newroot/run/lock /newroot/run/lvm
if [ -d /sys/kernel/debug ]; then
	mount -t debugfs debugfs /newroot/sys/kernel/debug 2>/dev/null
fi

if [ -n "$pcache_share" ]; then
	mkdir -p "/newroot$pcache_share"
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 share "/newroot$pcache_share" ||
		fail "cannot mount the writable share at $pcache_share"
fi

hostname pcache-vm
export HOME=/root LANG=C.UTF-8 TERM=${TERM:-linux}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

if [ "$pcache_shell" = 1 ]; then
	chroot /newroot /usr/bin/python3 -S -u "$pcache_agent" &
	echo "pcache VM shell: host root mounted at /, changes live in RAM; 'exit' powers off."
	setsid -c chroot /newroot /bin/bash -l
else
	chroot /newroot /usr/bin/python3 -S -u "$pcache_agent"
fi
sync
poweroff -f
