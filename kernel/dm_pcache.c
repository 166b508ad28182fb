// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: persistent-memory block cache, device-mapper target.
 *
 * Table:
 *   <start> <len> pcache <cache_dev> <backing_dev>
 *           [<#opt_args> [cache_mode writeback] [data_crc true|false]]
 *
 * Status (upstream dm-pcache 0.1.0's nine fields, then ours):
 *   <sb_flags> <seg_total> <cache_segs> <segs_used> <gc_percent>
 *   <cache_flags> <key_head> <dirty_tail> <key_tail> <writeback_errors>
 *
 * Messages: gc_percent <0..90>
 *
 * The on-media format is that of Linux 6.18's dm-pcache; docs/target.md
 * and man/pcache.7 describe the interface and where we differ.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "pcache.h"

/*
 * Cache devices in use by a pcache table, so that two tables can never
 * drive one cache (live reload is issue 6).
 */
static LIST_HEAD(pcache_devices);
static DEFINE_MUTEX(pcache_devices_lock);

struct pcache_device_claim {
	struct list_head list;
	dev_t dev;
};

static int pcache_claim(struct pcache *c, char **error)
{
	dev_t dev = c->cache_dm->bdev->bd_dev;
	struct pcache_device_claim *claim;
	int r = 0;

	mutex_lock(&pcache_devices_lock);
	list_for_each_entry(claim, &pcache_devices, list) {
		if (claim->dev == dev) {
			*error = "Cache device is already in use by another pcache table";
			r = -EBUSY;
			goto out;
		}
	}
	claim = kzalloc(sizeof(*claim), GFP_KERNEL);
	if (!claim) {
		*error = "Cannot allocate memory";
		r = -ENOMEM;
		goto out;
	}
	claim->dev = dev;
	list_add(&claim->list, &pcache_devices);
out:
	mutex_unlock(&pcache_devices_lock);
	return r;
}

static void pcache_unclaim(struct pcache *c)
{
	struct pcache_device_claim *claim;

	mutex_lock(&pcache_devices_lock);
	list_for_each_entry(claim, &pcache_devices, list) {
		if (claim->dev == c->cache_dm->bdev->bd_dev) {
			list_del(&claim->list);
			kfree(claim);
			break;
		}
	}
	mutex_unlock(&pcache_devices_lock);
}

/* ---- constructor helpers: each fills ti->error on failure ---- */

static int parse_devices(struct pcache *c, struct dm_arg_set *as,
			 char **error)
{
	struct dm_target *ti = c->ti;
	fmode_t mode = dm_table_get_mode(ti->table);
	int r;

	if (as->argc < 2) {
		*error = "Insufficient args";
		return -EINVAL;
	}
	r = dm_get_device(ti, dm_shift_arg(as), mode, &c->cache_dm);
	if (r) {
		*error = "Error opening cache device";
		return r;
	}
	r = dm_get_device(ti, dm_shift_arg(as), mode, &c->backing_dm);
	if (r) {
		*error = "Error opening backing device";
		return r;
	}
	if (c->cache_dm->bdev == c->backing_dm->bdev) {
		*error = "Cache and backing device are the same device";
		return -EINVAL;
	}
	c->backing_size = bdev_nr_bytes(c->backing_dm->bdev);
	/*
	 * Logical offsets are relative to the target, as on the backing
	 * device: the table may be shorter, never longer.
	 */
	if ((u64)ti->len << SECTOR_SHIFT > c->backing_size) {
		*error = "Table is longer than the backing device";
		return -EINVAL;
	}
	return 0;
}

static int parse_opts(struct pcache *c, struct dm_arg_set *as, char **error)
{
	static const struct dm_arg group = {
		0, 4, "Invalid number of cache option arguments"
	};
	unsigned int n = 0;
	const char *key, *val;
	int r;

	c->opts.cache_mode = PCACHE_CACHE_MODE_WRITEBACK;
	c->opts.data_crc = false;
	if (as->argc) {
		r = dm_read_arg_group(&group, as, &n, error);
		if (r)
			return r;
	}
	while (n) {
		key = dm_shift_arg(as);
		n--;
		if (strcmp(key, "cache_mode") && strcmp(key, "data_crc")) {
			*error = "Unrecognised cache option requested";
			return -EINVAL;
		}
		if (!n) {
			*error = strcmp(key, "cache_mode") ?
				"Missing value for data_crc" :
				"Missing value for cache_mode";
			return -EINVAL;
		}
		val = dm_shift_arg(as);
		n--;
		if (!strcmp(key, "cache_mode")) {
			if (strcmp(val, "writeback")) {
				*error = "Invalid cache mode parameter";
				return -EINVAL;
			}
		} else if (!strcmp(val, "true")) {
			c->opts.data_crc = true;
		} else if (!strcmp(val, "false")) {
			c->opts.data_crc = false;
		} else {
			*error = "Invalid data crc parameter";
			return -EINVAL;
		}
	}
	if (as->argc) {
		*error = "Unexpected words after the cache options";
		return -EINVAL;
	}
	return 0;
}

static int pcache_start(struct pcache *c, char **error)
{
	int r;

	r = pcache_dev_map(c, error);
	if (r)
		return r;
	r = pcache_sb_load_or_format(c, error);
	if (r)
		return r;
	r = pcache_meta_load(c, error);
	if (r)
		return r;
	r = pcache_segs_init(c);
	if (!r)
		r = pcache_index_init(c);
	if (!r)
		r = pcache_log_init(c);
	if (!r)
		r = pcache_wb_init(c);
	if (!r)
		r = pcache_gc_init(c);
	if (r) {
		*error = "Cannot allocate memory";
		return r;
	}
	c->wq = alloc_workqueue("pcache-%s", WQ_MEM_RECLAIM | WQ_UNBOUND, 0,
				c->name);
	if (!c->wq) {
		*error = "Cannot allocate workqueue";
		return -ENOMEM;
	}
	r = pcache_replay(c, error);
	if (r)
		return r;
	/* Loaded: only now may anything be written to the cache device. */
	pcache_meta_heal_all(c);
	return 0;
}

static void pcache_destroy(struct pcache *c)
{
	if (c->wq)
		destroy_workqueue(c->wq);
	pcache_gc_exit(c);
	pcache_wb_exit(c);
	pcache_log_exit(c);
	pcache_index_exit(c);
	pcache_segs_exit(c);
	kvfree(c->segs);
	pcache_dev_unmap(c);
	if (c->backing_dm)
		dm_put_device(c->ti, c->backing_dm);
	if (c->cache_dm)
		dm_put_device(c->ti, c->cache_dm);
	kfree(c);
}

static int pcache_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct pcache *c;
	bool claimed = false;
	int r;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c) {
		ti->error = "Cannot allocate memory";
		return -ENOMEM;
	}
	c->ti = ti;
	c->name = dm_device_name(dm_table_get_md(ti->table));
	mutex_init(&c->info_lock);
	spin_lock_init(&c->tail_lock);
	spin_lock_init(&c->defer_lock);
	bio_list_init(&c->deferred);
	INIT_DELAYED_WORK(&c->defer_work, pcache_defer_fn);

	r = parse_devices(c, &as, &ti->error);
	if (!r)
		r = parse_opts(c, &as, &ti->error);
	if (!r)
		r = pcache_claim(c, &ti->error);
	if (r)
		goto err;
	claimed = true;
	r = pcache_start(c, &ti->error);
	if (r)
		goto err;

	ti->private = c;
	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->per_io_data_size = sizeof(struct pcache_bio);
	r = dm_set_target_max_io_len(ti, PCACHE_SUBTREE_SIZE >> SECTOR_SHIFT);
	if (r) {
		ti->error = "Cannot set the maximum I/O size";
		goto err;
	}
	pcache_info(c, "cache %u segments, %u in use, key_head %u:%u, data_crc %s",
		    c->n_segs, pcache_segs_used(c), c->key_head.seg,
		    c->key_head.off, c->opts.data_crc ? "true" : "false");
	return 0;
err:
	if (claimed)
		pcache_unclaim(c);
	ti->private = NULL;
	pcache_destroy(c);
	return r;
}

static void pcache_dtr(struct dm_target *ti)
{
	struct pcache *c = ti->private;
	u32 i;

	pcache_wb_stop(c);
	pcache_gc_stop(c);
	cancel_delayed_work_sync(&c->defer_work);
	for (i = 0; i < c->n_ksets; i++)
		cancel_delayed_work_sync(&c->ksets[i].close_work);
	flush_workqueue(c->wq);
	if (pcache_kset_close_all(c))
		pcache_err(c, "no key segment free: keys of writes since the last flush are lost");
	pcache_unclaim(c);
	pcache_destroy(c);
}

static int pcache_map(struct dm_target *ti, struct bio *bio)
{
	return pcache_map_bio(ti->private, bio);
}

static int pcache_target_end_io(struct dm_target *ti, struct bio *bio,
				blk_status_t *err)
{
	return pcache_end_io(ti->private, bio, err);
}

/*
 * Suspend persists every open kset, then quiesces writeback and GC.  A
 * kset that finds no key segment free waits for GC to free one (writeback
 * and GC still run meanwhile), for up to a minute.
 */
static void pcache_postsuspend(struct dm_target *ti)
{
	struct pcache *c = ti->private;
	int tries = 0;

	while (pcache_kset_close_all(c)) {
		if (++tries > 600 || pcache_frozen() || c->wb.broken ||
		    c->gc.broken) {
			pcache_err(c, "cannot close ksets on suspend: no key segment free");
			break;
		}
		pcache_wb_kick(c);
		pcache_gc_kick(c);
		msleep(100);
	}
	pcache_wb_stop(c);
	pcache_gc_stop(c);
}

/* Writeback and GC run while the device is live. */
static void pcache_resume(struct dm_target *ti)
{
	struct pcache *c = ti->private;

	pcache_wb_start(c);
	pcache_gc_start(c);
}

static void pcache_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct pcache *c = ti->private;
	struct pcache_pos head, key_tail, dirty_tail;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock(&c->head_lock);
		head = c->key_head;
		spin_unlock(&c->head_lock);
		pcache_tails(c, &key_tail, &dirty_tail);
		DMEMIT("%x %u %u %u %u %x %u:%u %u:%u %u:%u %llu",
		       c->sb_flags, c->seg_num, c->n_segs, pcache_segs_used(c),
		       pcache_gc_percent(c), pcache_info_flags(c),
		       head.seg, head.off, dirty_tail.seg, dirty_tail.off,
		       key_tail.seg, key_tail.off, pcache_wb_errors(c));
		break;
	case STATUSTYPE_TABLE:
		/*
		 * Upstream prints "crc" here, which its constructor rejects;
		 * ours can be fed back as it is.
		 */
		DMEMIT("%s %s 4 cache_mode writeback data_crc %s",
		       c->cache_dm->name, c->backing_dm->name,
		       c->opts.data_crc ? "true" : "false");
		break;
	case STATUSTYPE_IMA:
		*result = '\0';
		break;
	}
}

static int pcache_message(struct dm_target *ti, unsigned int argc,
			  char **argv, char *result, unsigned int maxlen)
{
	struct pcache *c = ti->private;
	unsigned int val;

	if (argc == 2 && !strcasecmp(argv[0], "gc_percent")) {
		if (kstrtouint(argv[1], 10, &val) || val > PCACHE_GC_PERCENT_MAX) {
			DMERR("%s: gc_percent must be 0..%u, got '%s'", c->name,
			      PCACHE_GC_PERCENT_MAX, argv[1]);
			return -EINVAL;
		}
		return pcache_info_set_gc_percent(c, val);
	}
	DMERR("%s: unrecognised message '%s'", c->name, argc ? argv[0] : "");
	return -EINVAL;
}

static int pcache_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct pcache *c = ti->private;

	return fn(ti, c->backing_dm, 0, ti->len, data);
}

static struct target_type pcache_target = {
	.name = "pcache",
	.version = {1, 0, 0},
	.features = DM_TARGET_SINGLETON,
	.module = THIS_MODULE,
	.ctr = pcache_ctr,
	.dtr = pcache_dtr,
	.map = pcache_map,
	.end_io = pcache_target_end_io,
	.postsuspend = pcache_postsuspend,
	.resume = pcache_resume,
	.status = pcache_status,
	.message = pcache_message,
	.iterate_devices = pcache_iterate_devices,
};

static int __init pcache_init(void)
{
	int r = pcache_extent_cache_init();

	if (r)
		return r;
	pcache_crc_select();
	r = dm_register_target(&pcache_target);
	if (r)
		pcache_extent_cache_exit();
	return r;
}

static void __exit pcache_exit(void)
{
	dm_unregister_target(&pcache_target);
	pcache_extent_cache_exit();
}

module_init(pcache_init);
module_exit(pcache_exit);

MODULE_DESCRIPTION("pcache: persistent-memory block cache target");
MODULE_LICENSE("GPL");
