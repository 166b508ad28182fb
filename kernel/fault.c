// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: fault injection for the crash-consistency tests.
 *
 * A *persistence point* is every pmem fence after a kset, data or
 * metadata-replica write, and every completed FLUSH of a backing device.
 * Writing N to the module parameter fault_freeze_at arms the injection:
 * points are counted from then on, and at point N every pcache target
 * freezes: later pmem stores and backing writes are dropped, as if the
 * power had been cut right after that point.  The tests then remove the
 * frozen target, disarm (fault_freeze_at = 0), load the cache again and
 * check what survived.
 *
 *   fault_freeze_at  0: off (default); N: freeze at point N (re-arming
 *                    resets the counters and thaws)
 *   fault_points     points counted since arming (read only)
 *   fault_acked      write and flush bios acknowledged before the freeze
 *                    (read only): a sequential workload learns from it
 *                    which of its requests completed before the power cut
 *
 * Off, the hooks cost one load of a read-mostly flag each (pcache.h says
 * why not a static key).
 *
 * Separately, fault_fail_info (bool) makes every cache_info update fail
 * as if the pmem refused the store: the copy is not written and the
 * update returns -EIO.  This is how the tests reach the Fail state
 * (NEEDS_CHECK cannot be stored); cache_info is written only on rare
 * events (messages, needs_check), so a plain flag is enough.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>

#include "pcache.h"

bool pcache_fault_armed __read_mostly;
bool pcache_fault_frozen;

static DEFINE_MUTEX(pcache_fault_lock);
static unsigned int fault_freeze_at;
static atomic_t fault_points = ATOMIC_INIT(0);
static atomic_t fault_acked = ATOMIC_INIT(0);
static bool fault_fail_info;

bool pcache_fault_info_fails(void)
{
	return READ_ONCE(fault_fail_info);
}

void __pcache_fault_point(void)
{
	unsigned int n;

	if (READ_ONCE(pcache_fault_frozen))
		return;
	n = atomic_inc_return(&fault_points);
	if (n == READ_ONCE(fault_freeze_at)) {
		WRITE_ONCE(pcache_fault_frozen, true);
		pr_info("pcache: fault injection: frozen at persistence point %u\n",
			n);
	}
}

void __pcache_fault_acked(void)
{
	if (!READ_ONCE(pcache_fault_frozen))
		atomic_inc(&fault_acked);
}

static int fault_freeze_at_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int r;

	r = kstrtouint(val, 0, &n);
	if (r)
		return r;
	mutex_lock(&pcache_fault_lock);
	WRITE_ONCE(fault_freeze_at, 0);
	atomic_set(&fault_points, 0);
	atomic_set(&fault_acked, 0);
	WRITE_ONCE(pcache_fault_frozen, false);
	WRITE_ONCE(fault_freeze_at, n);
	WRITE_ONCE(pcache_fault_armed, n != 0);
	mutex_unlock(&pcache_fault_lock);
	return 0;
}

static int fault_freeze_at_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(fault_freeze_at));
}

static int fault_points_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&fault_points));
}

static int fault_acked_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&fault_acked));
}

static const struct kernel_param_ops fault_freeze_at_ops = {
	.set = fault_freeze_at_set,
	.get = fault_freeze_at_get,
};

static const struct kernel_param_ops fault_points_ops = {
	.get = fault_points_get,
};

static const struct kernel_param_ops fault_acked_ops = {
	.get = fault_acked_get,
};

module_param_cb(fault_freeze_at, &fault_freeze_at_ops, NULL, 0644);
MODULE_PARM_DESC(fault_freeze_at,
		 "Test feature: freeze every pcache target at persistence point N (0: off)");
module_param_cb(fault_points, &fault_points_ops, NULL, 0444);
MODULE_PARM_DESC(fault_points, "Persistence points counted since fault_freeze_at was set");
module_param_cb(fault_acked, &fault_acked_ops, NULL, 0444);
MODULE_PARM_DESC(fault_acked, "Write and flush bios acknowledged before the freeze");
module_param(fault_fail_info, bool, 0644);
MODULE_PARM_DESC(fault_fail_info,
		 "Test feature: every cache_info update fails with -EIO (N: off)");
