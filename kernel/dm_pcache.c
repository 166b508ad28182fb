// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: persistent-memory block cache, device-mapper target.
 *
 * Placeholder until the kernel-target issue lands: the module registers the
 * "pcache" target so that tooling and the test harness can load it, and
 * refuses every table with a message that says so.
 */
#include <linux/module.h>
#include <linux/device-mapper.h>

#include <pcache/pcache_format.h>

#define DM_MSG_PREFIX "pcache"

static int pcache_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	ti->error = "pcache target not implemented yet in this build";
	return -EOPNOTSUPP;
}

static void pcache_dtr(struct dm_target *ti)
{
}

static int pcache_map(struct dm_target *ti, struct bio *bio)
{
	return DM_MAPIO_KILL;
}

static struct target_type pcache_target = {
	.name = "pcache",
	.version = {1, 0, 0},
	.features = DM_TARGET_SINGLETON,
	.module = THIS_MODULE,
	.ctr = pcache_ctr,
	.dtr = pcache_dtr,
	.map = pcache_map,
};

static int __init pcache_init(void)
{
	return dm_register_target(&pcache_target);
}

static void __exit pcache_exit(void)
{
	dm_unregister_target(&pcache_target);
}

module_init(pcache_init);
module_exit(pcache_exit);

MODULE_DESCRIPTION("pcache: persistent-memory block cache target");
MODULE_LICENSE("GPL");
