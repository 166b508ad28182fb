// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: persistent-memory block cache, device-mapper target.
 *
 * Table:
 *   <start> <len> pcache <cache_dev> <backing_dev>
 *           [<#opt_args> [cache_mode <mode>] [data_crc true|false]
 *                        [gc_percent <0..90>]]
 *
 * Status (upstream dm-pcache 0.1.0's nine fields, then ours), or "Fail":
 *   <sb_flags> <seg_total> <cache_segs> <segs_used> <gc_percent>
 *   <cache_flags> <key_head> <dirty_tail> <key_tail>
 *   <read_hits> <read_misses> <write_hits> <write_misses> <dirty_bytes>
 *   <writeback_errors> <cache_mode> <rw|ro> <needs_check|->
 *
 * Messages: gc_percent <0..90>, cache_mode <mode>, flush, cleaner on|off,
 * writeback_rate <MiB/s>, writeback_quiet <ms>, invalidate.
 *
 * The on-media format is that of Linux 6.18's dm-pcache; docs/target.md
 * and man/pcache.7 describe the interface and where we differ.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/srcu.h>

#include "pcache.h"

/*
 * Every loaded cache, so that two dm devices can never drive one cache
 * device, and so that a table reloaded on a live device attaches to the
 * cache its device already runs instead of loading it a second time.
 */
static LIST_HEAD(pcache_caches);
static DEFINE_MUTEX(pcache_caches_lock);

/* One table's target: its own devices and options, and the cache. */
struct pcache_target {
	struct pcache *cache;
	struct dm_dev *cache_dm;
	struct dm_dev *backing_dm;
	struct pcache_opts opts;
};

static const char * const pcache_mode_names[] = {
	[PCACHE_CACHE_MODE_WRITEBACK] = "writeback",
	[PCACHE_CACHE_MODE_WRITETHROUGH] = "writethrough",
	[PCACHE_CACHE_MODE_WRITEAROUND] = "writearound",
	[PCACHE_CACHE_MODE_WRITEONLY] = NULL,
	[PCACHE_CACHE_MODE_PASSTHROUGH] = "passthrough",
};

static int pcache_mode_parse(const char *name, u32 *mode)
{
	u32 i;

	for (i = 0; i < ARRAY_SIZE(pcache_mode_names); i++) {
		if (pcache_mode_names[i] && !strcmp(name, pcache_mode_names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *pcache_mode_name(u32 mode)
{
	if (mode < ARRAY_SIZE(pcache_mode_names) && pcache_mode_names[mode])
		return pcache_mode_names[mode];
	return "unknown";
}

/* ---- health ---- */

static void pcache_health_fn(struct work_struct *work)
{
	struct pcache *c = container_of(work, struct pcache, health_work);

	if (pcache_info_set_needs_check(c)) {
		pcache_target_failed(c, "needs_check could not be stored in cache_info");
		return;
	}
	WRITE_ONCE(c->needs_check, true);
}

/*
 * A metadata failure at run time (damage met by writeback or GC, a data
 * CRC mismatch in dirty data, ksets that cannot be written): from now on
 * no new key and no metadata is written; NEEDS_CHECK goes to cache_info
 * (from a worker: this may be called in atomic context).
 */
void pcache_metadata_failed(struct pcache *c, const char *why)
{
	if (cmpxchg(&c->meta_mode, PCACHE_META_RW, PCACHE_META_RO) !=
	    PCACHE_META_RW)
		return;
	pcache_err(c, "metadata failure (%s): metadata is read-only and needs_check is set; run pcache_check",
		   why);
	queue_work(c->wq, &c->health_work);
	wake_up_all(&c->wb.advanced);
}

/* Even read-only is unsafe: every I/O fails from now on. */
void pcache_target_failed(struct pcache *c, const char *why)
{
	if (xchg(&c->meta_mode, PCACHE_META_FAIL) == PCACHE_META_FAIL)
		return;
	c->fail_reason = why;
	pcache_err(c, "%s: the target has failed, all I/O errors out", why);
	wake_up_all(&c->wb.advanced);
}

/* ---- constructor helpers: each fills ti->error on failure ---- */

static int parse_devices(struct dm_target *ti, struct pcache_target *t,
			 struct dm_arg_set *as, char **error)
{
	fmode_t mode = dm_table_get_mode(ti->table);
	int r;

	if (as->argc < 2) {
		*error = "Insufficient args";
		return -EINVAL;
	}
	r = dm_get_device(ti, dm_shift_arg(as), mode, &t->cache_dm);
	if (r) {
		*error = "Error opening cache device";
		return r;
	}
	r = dm_get_device(ti, dm_shift_arg(as), mode, &t->backing_dm);
	if (r) {
		*error = "Error opening backing device";
		return r;
	}
	if (t->cache_dm->bdev == t->backing_dm->bdev) {
		*error = "Cache and backing device are the same device";
		return -EINVAL;
	}
	/*
	 * Logical offsets are relative to the target, as on the backing
	 * device: the table may be shorter, never longer.
	 */
	if ((u64)ti->len << SECTOR_SHIFT > bdev_nr_bytes(t->backing_dm->bdev)) {
		*error = "Table is longer than the backing device";
		return -EINVAL;
	}
	return 0;
}

static int parse_opts(struct pcache_target *t, struct dm_arg_set *as,
		      char **error)
{
	static const struct dm_arg group = {
		0, 6, "Invalid number of cache option arguments"
	};
	struct pcache_opts *o = &t->opts;
	unsigned int n = 0, val;
	const char *key, *arg;
	int r;

	o->cache_mode = PCACHE_CACHE_MODE_WRITEBACK;
	o->mode_given = false;
	o->data_crc = false;
	o->gc_percent = -1;
	if (as->argc) {
		r = dm_read_arg_group(&group, as, &n, error);
		if (r)
			return r;
	}
	while (n) {
		key = dm_shift_arg(as);
		n--;
		if (strcmp(key, "cache_mode") && strcmp(key, "data_crc") &&
		    strcmp(key, "gc_percent")) {
			*error = "Unrecognised cache option requested";
			return -EINVAL;
		}
		if (!n) {
			*error = !strcmp(key, "cache_mode") ?
				"Missing value for cache_mode" :
				!strcmp(key, "data_crc") ?
				"Missing value for data_crc" :
				"Missing value for gc_percent";
			return -EINVAL;
		}
		arg = dm_shift_arg(as);
		n--;
		if (!strcmp(key, "cache_mode")) {
			if (pcache_mode_parse(arg, &o->cache_mode)) {
				*error = "Invalid cache mode parameter";
				return -EINVAL;
			}
			o->mode_given = true;
		} else if (!strcmp(key, "gc_percent")) {
			if (kstrtouint(arg, 10, &val) ||
			    val > PCACHE_GC_PERCENT_MAX) {
				*error = "Invalid gc_percent parameter (0..90)";
				return -EINVAL;
			}
			o->gc_percent = val;
		} else if (!strcmp(arg, "true")) {
			o->data_crc = true;
		} else if (!strcmp(arg, "false")) {
			o->data_crc = false;
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

/*
 * Non-writeback modes keep the cache clean: they need a cache with no
 * dirty data (and, for passthrough, reads ignore the cache).
 */
static bool pcache_clean_now(struct pcache *c)
{
	return pcache_dirty_bytes(c) <= 0 && !pcache_writes_waiting(c);
}

static int pcache_start(struct pcache *c, struct pcache_target *t,
			char **error)
{
	int r;

	r = pcache_dev_map(c, t->cache_dm, error);
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
	c->mode = c->opts.cache_mode;
	if (c->mode != PCACHE_CACHE_MODE_WRITEBACK && !pcache_clean_now(c)) {
		pcache_err(c, "cache_mode %s, but the cache holds %lld dirty bytes",
			   pcache_mode_name(c->mode), pcache_dirty_bytes(c));
		*error = "Cache holds dirty data: this cache mode needs a clean cache (load it with cache_mode writeback and flush)";
		return -EINVAL;
	}
	/* Loaded: only now may anything be written to the cache device. */
	if (c->needs_check)
		c->meta_mode = PCACHE_META_RO;
	if (c->meta_mode == PCACHE_META_RO) {
		pcache_err(c, "needs_check: metadata is read-only (no new keys, no writeback); run pcache_check");
		if (!c->needs_check) {
			/* Damage found by replay: the one write we make. */
			if (pcache_info_set_needs_check(c)) {
				*error = "Cannot store needs_check in cache_info";
				return -EIO;
			}
			c->needs_check = true;
		}
		return 0;
	}
	pcache_meta_heal_all(c);
	if (((pcache_info_flags(c) & PCACHE_CACHE_FLAGS_MODE_MASK) >>
	     PCACHE_CACHE_FLAGS_MODE_SHIFT) != c->mode)
		r = pcache_info_set_mode(c, c->mode);
	if (!r && c->opts.gc_percent >= 0)
		r = pcache_info_set_gc_percent(c, c->opts.gc_percent);
	if (r) {
		*error = "Cannot update cache_info (media error?)";
		return r;
	}
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
	free_percpu(c->crc_bounce);
	free_percpu(c->stats);
	if (c->srcu_ready)
		cleanup_srcu_struct(&c->io_srcu);
	kfree(c);
}

static struct pcache *pcache_alloc(struct dm_target *ti,
				   struct pcache_target *t)
{
	struct pcache *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return NULL;
	c->ti = ti;
	c->md = dm_table_get_md(ti->table);
	c->name = dm_device_name(c->md);
	c->cache_bdev = t->cache_dm->bdev;
	c->backing_bdev = t->backing_dm->bdev;
	c->backing_size = bdev_nr_bytes(c->backing_bdev);
	c->opts = t->opts;
	c->writeback_quiet_ms = PCACHE_WB_QUIET_MS;
	c->refs = 1;
	INIT_LIST_HEAD(&c->list);
	mutex_init(&c->info_lock);
	mutex_init(&c->msg_lock);
	spin_lock_init(&c->tail_lock);
	spin_lock_init(&c->defer_lock);
	spin_lock_init(&c->gen_lock);
	bio_list_init(&c->deferred);
	INIT_DELAYED_WORK(&c->defer_work, pcache_defer_fn);
	INIT_WORK(&c->health_work, pcache_health_fn);
	c->stats = alloc_percpu(struct pcache_stats);
	if (c->opts.data_crc)
		c->crc_bounce = __alloc_percpu(PAGE_SIZE, PAGE_SIZE);
	if (!c->stats || (c->opts.data_crc && !c->crc_bounce) ||
	    init_srcu_struct(&c->io_srcu)) {
		free_percpu(c->crc_bounce);
		free_percpu(c->stats);
		kfree(c);
		return NULL;
	}
	c->srcu_ready = true;
	return c;
}

/*
 * A table for a dm device whose cache is already loaded: a live reload.
 * It must name the same devices and data_crc; its cache_mode and
 * gc_percent take effect when it is resumed.
 */
static int pcache_attach(struct pcache *c, struct dm_target *ti,
			 struct pcache_target *t, char **error)
{
	if (c->md != dm_table_get_md(ti->table)) {
		*error = "Cache device is already in use by another pcache table";
		return -EBUSY;
	}
	if (c->cache_bdev != t->cache_dm->bdev) {
		*error = "A reloaded table must name the same cache device";
		return -EINVAL;
	}
	if (c->backing_bdev != t->backing_dm->bdev) {
		*error = "A reloaded table must name the same backing device";
		return -EINVAL;
	}
	if (c->opts.data_crc != t->opts.data_crc) {
		*error = "data_crc option does not match the cache";
		return -EINVAL;
	}
	if (t->opts.mode_given &&
	    t->opts.cache_mode != PCACHE_CACHE_MODE_WRITEBACK &&
	    !pcache_clean_now(c)) {
		pcache_err(c, "reload with cache_mode %s refused: %lld dirty bytes in the cache",
			   pcache_mode_name(t->opts.cache_mode),
			   pcache_dirty_bytes(c));
		*error = "Cache holds dirty data: this cache mode needs a clean cache (flush first)";
		return -EBUSY;
	}
	c->refs++;
	t->cache = c;
	return 0;
}

static void pcache_put(struct pcache *c)
{
	u32 i;

	mutex_lock(&pcache_caches_lock);
	if (--c->refs) {
		mutex_unlock(&pcache_caches_lock);
		return;
	}
	list_del(&c->list);
	mutex_unlock(&pcache_caches_lock);

	pcache_wb_stop(c);
	pcache_gc_stop(c);
	cancel_delayed_work_sync(&c->defer_work);
	for (i = 0; i < c->n_ksets; i++)
		cancel_delayed_work_sync(&c->ksets[i].close_work);
	flush_workqueue(c->wq);
	if (pcache_kset_close_all(c))
		pcache_err(c, "no key segment free: keys of writes since the last flush are lost");
	flush_work(&c->health_work);
	pcache_destroy(c);
}

static void pcache_target_free(struct dm_target *ti, struct pcache_target *t)
{
	if (t->backing_dm)
		dm_put_device(ti, t->backing_dm);
	if (t->cache_dm)
		dm_put_device(ti, t->cache_dm);
	kfree(t);
}

static int pcache_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct mapped_device *md = dm_table_get_md(ti->table);
	struct pcache_target *t;
	struct pcache *c = NULL, *it;
	int r;

	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t) {
		ti->error = "Cannot allocate memory";
		return -ENOMEM;
	}
	r = parse_devices(ti, t, &as, &ti->error);
	if (!r)
		r = parse_opts(t, &as, &ti->error);
	if (r)
		goto err;

	mutex_lock(&pcache_caches_lock);
	list_for_each_entry(it, &pcache_caches, list) {
		if (it->cache_bdev == t->cache_dm->bdev || it->md == md) {
			r = pcache_attach(it, ti, t, &ti->error);
			mutex_unlock(&pcache_caches_lock);
			if (r)
				goto err;
			goto done;
		}
	}
	c = pcache_alloc(ti, t);
	if (!c) {
		mutex_unlock(&pcache_caches_lock);
		ti->error = "Cannot allocate memory";
		r = -ENOMEM;
		goto err;
	}
	/* Claimed before loading: a second table meanwhile is refused. */
	list_add(&c->list, &pcache_caches);
	mutex_unlock(&pcache_caches_lock);
	t->cache = c;
	r = pcache_start(c, t, &ti->error);
	if (r) {
		mutex_lock(&pcache_caches_lock);
		list_del(&c->list);
		mutex_unlock(&pcache_caches_lock);
		t->cache = NULL;
		pcache_destroy(c);
		goto err;
	}
	pcache_info(c, "cache %u segments, %u in use, key_head %u:%u, data_crc %s, cache_mode %s, metadata %s",
		    c->n_segs, pcache_segs_used(c), c->key_head.seg,
		    c->key_head.off, c->opts.data_crc ? "true" : "false",
		    pcache_mode_name(c->mode),
		    c->meta_mode == PCACHE_META_RW ? "rw" : "ro");
done:
	ti->private = t;
	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->num_discard_bios = 1;
	ti->per_io_data_size = sizeof(struct pcache_bio);
	r = dm_set_target_max_io_len(ti, PCACHE_SUBTREE_SIZE >> SECTOR_SHIFT);
	if (r) {
		ti->error = "Cannot set the maximum I/O size";
		ti->private = NULL;
		pcache_put(t->cache);
		t->cache = NULL;
		goto err;
	}
	return 0;
err:
	pcache_target_free(ti, t);
	return r;
}

static void pcache_dtr(struct dm_target *ti)
{
	struct pcache_target *t = ti->private;

	pcache_put(t->cache);
	pcache_target_free(ti, t);
}

static int pcache_map(struct dm_target *ti, struct bio *bio)
{
	struct pcache_target *t = ti->private;

	return pcache_map_bio(t->cache, bio);
}

static int pcache_target_end_io(struct dm_target *ti, struct bio *bio,
				blk_status_t *err)
{
	struct pcache_target *t = ti->private;

	return pcache_end_io(t->cache, bio, err);
}

/*
 * Suspend persists every open kset, then quiesces writeback and GC.  A
 * kset that finds no key segment free waits for GC to free one (writeback
 * and GC still run meanwhile), for up to a minute; then the metadata is
 * failed (keys of acknowledged writes could not be written).
 */
static void pcache_postsuspend(struct dm_target *ti)
{
	struct pcache_target *t = ti->private;
	struct pcache *c = t->cache;
	int tries = 0;

	while (pcache_kset_close_all(c)) {
		if (++tries > 600 || pcache_frozen() || c->wb.broken ||
		    c->gc.broken) {
			pcache_err(c, "cannot close ksets on suspend: no key segment free");
			pcache_metadata_failed(c, "ksets cannot be written");
			break;
		}
		pcache_wb_kick(c);
		pcache_gc_kick(c);
		msleep(100);
	}
	pcache_wb_stop(c);
	pcache_gc_stop(c);
	flush_workqueue(c->wq);
}

/*
 * A reloaded table takes effect: its cache_mode (checked again, nothing
 * can have become dirty while suspended... but it may have between the
 * load and the suspend) and gc_percent.
 */
static int pcache_preresume(struct dm_target *ti)
{
	struct pcache_target *t = ti->private;
	struct pcache *c = t->cache;

	if (c->ti == ti)
		return 0;
	if (t->opts.mode_given &&
	    t->opts.cache_mode != PCACHE_CACHE_MODE_WRITEBACK &&
	    !pcache_clean_now(c)) {
		pcache_err(c, "reloaded table with cache_mode %s refused at resume: %lld dirty bytes in the cache; load a writeback table, flush, reload",
			   pcache_mode_name(t->opts.cache_mode),
			   pcache_dirty_bytes(c));
		return -EBUSY;
	}
	return 0;
}

/* Writeback and GC run while the device is live. */
static void pcache_resume(struct dm_target *ti)
{
	struct pcache_target *t = ti->private;
	struct pcache *c = t->cache;
	int r = 0;

	if (c->ti != ti) {
		/* Reload: the new table's options. */
		c->ti = ti;
		if (t->opts.mode_given && t->opts.cache_mode != c->mode) {
			pcache_info(c, "cache_mode %s -> %s (reload)",
				    pcache_mode_name(c->mode),
				    pcache_mode_name(t->opts.cache_mode));
			if (t->opts.cache_mode != PCACHE_CACHE_MODE_WRITEBACK &&
			    READ_ONCE(c->index_diverged))
				pcache_invalidate_all(c);
			WRITE_ONCE(c->mode, t->opts.cache_mode);
			if (pcache_meta_rw(c))
				r = pcache_info_set_mode(c, c->mode);
		}
		if (!r && t->opts.gc_percent >= 0 && pcache_meta_rw(c))
			r = pcache_info_set_gc_percent(c, t->opts.gc_percent);
		if (r)
			pcache_metadata_failed(c, "cache_info update failed");
	}
	pcache_wb_start(c);
	pcache_gc_start(c);
}

static void pcache_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct pcache_target *t = ti->private;
	struct pcache *c = t->cache;
	struct pcache_pos head, key_tail, dirty_tail;
	struct pcache_stats st;
	unsigned int sz = 0;
	u32 meta;

	switch (type) {
	case STATUSTYPE_INFO:
		meta = READ_ONCE(c->meta_mode);
		if (meta == PCACHE_META_FAIL) {
			DMEMIT("Fail");
			break;
		}
		spin_lock(&c->head_lock);
		head = c->key_head;
		spin_unlock(&c->head_lock);
		pcache_tails(c, &key_tail, &dirty_tail);
		pcache_stats_sum(c, &st);
		DMEMIT("%x %u %u %u %u %x %u:%u %u:%u %u:%u",
		       c->sb_flags, c->seg_num, c->n_segs, pcache_segs_used(c),
		       pcache_gc_percent(c), pcache_info_flags(c),
		       head.seg, head.off, dirty_tail.seg, dirty_tail.off,
		       key_tail.seg, key_tail.off);
		DMEMIT(" %llu %llu %llu %llu %lld %llu %s %s %s",
		       st.read_hits, st.read_misses, st.write_hits,
		       st.write_misses, max_t(s64, st.dirty_bytes, 0),
		       pcache_wb_errors(c), pcache_mode_name(READ_ONCE(c->mode)),
		       meta == PCACHE_META_RW ? "rw" : "ro",
		       READ_ONCE(c->needs_check) ? "needs_check" : "-");
		break;
	case STATUSTYPE_TABLE:
		/*
		 * Upstream prints "crc" here, which its constructor rejects;
		 * ours can be fed back as it is.  gc_percent lives in
		 * cache_info, so it is not repeated here.
		 */
		DMEMIT("%s %s 4 cache_mode %s data_crc %s",
		       t->cache_dm->name, t->backing_dm->name,
		       pcache_mode_name(READ_ONCE(c->mode)),
		       c->opts.data_crc ? "true" : "false");
		break;
	case STATUSTYPE_IMA:
		*result = '\0';
		break;
	}
}

/* ---- messages ---- */

/*
 * Switch the cache mode online.  Leaving writeback needs a clean cache:
 * the new mode is set, every write that chose its policy under the old
 * one is waited for, and if anything is dirty then, the old mode comes
 * back and the switch is refused.
 */
static int pcache_msg_cache_mode(struct pcache *c, u32 mode)
{
	u32 old = c->mode;
	s64 dirty;
	int r;

	if (mode == old)
		return 0;
	if (!pcache_meta_rw(c)) {
		pcache_err(c, "cache_mode: metadata is read-only (needs_check)");
		return -EROFS;
	}
	WRITE_ONCE(c->mode, mode);
	if (mode != PCACHE_CACHE_MODE_WRITEBACK) {
		synchronize_srcu(&c->io_srcu);
		if (!pcache_clean_now(c)) {
			WRITE_ONCE(c->mode, old);
			dirty = pcache_dirty_bytes(c);
			pcache_err(c, "cache_mode %s refused: the cache holds %lld dirty bytes; write them back first (dmsetup message %s 0 flush)",
				   pcache_mode_name(mode), max_t(s64, dirty, 0),
				   c->name);
			return -EBUSY;
		}
		if (READ_ONCE(c->index_diverged))
			pcache_invalidate_all(c);
	}
	r = pcache_info_set_mode(c, mode);
	if (r) {
		pcache_metadata_failed(c, "cache_info update failed");
		return r;
	}
	pcache_info(c, "cache_mode %s -> %s", pcache_mode_name(old),
		    pcache_mode_name(mode));
	return 0;
}

/* Drop every clean cached block: needs a clean cache, as leaving writeback. */
static int pcache_msg_invalidate(struct pcache *c)
{
	s64 dirty;

	if (!pcache_meta_rw(c)) {
		pcache_err(c, "invalidate: metadata is read-only (needs_check)");
		return -EROFS;
	}
	WRITE_ONCE(c->no_dirty, true);
	synchronize_srcu(&c->io_srcu);
	if (!pcache_clean_now(c)) {
		WRITE_ONCE(c->no_dirty, false);
		dirty = pcache_dirty_bytes(c);
		pcache_err(c, "invalidate refused: the cache holds %lld dirty bytes; write them back first (dmsetup message %s 0 flush)",
			   max_t(s64, dirty, 0), c->name);
		return -EBUSY;
	}
	pcache_invalidate_all(c);
	WRITE_ONCE(c->no_dirty, false);
	return 0;
}

static int pcache_msg_bad(struct pcache *c, unsigned int argc, char **argv,
			  const char *usage)
{
	DMERR("%s: invalid message '%s%s%s': %s", c->name, argv[0],
	      argc > 1 ? " " : "", argc > 1 ? argv[1] : "", usage);
	return -EINVAL;
}

/* A message's one numeric argument, 0..@max, into *@val. */
static bool pcache_msg_number(unsigned int argc, char **argv,
			      unsigned int max, unsigned int *val)
{
	return argc == 2 && !kstrtouint(argv[1], 10, val) && *val <= max;
}

static int pcache_message(struct dm_target *ti, unsigned int argc,
			  char **argv, char *result, unsigned int maxlen)
{
	struct pcache_target *t = ti->private;
	struct pcache *c = t->cache;
	unsigned int val;
	u32 mode;
	int r;

	if (!argc) {
		DMERR("%s: empty message", c->name);
		return -EINVAL;
	}
	if (!strcasecmp(argv[0], "gc_percent")) {
		if (!pcache_msg_number(argc, argv, PCACHE_GC_PERCENT_MAX, &val))
			return pcache_msg_bad(c, argc, argv,
					      "gc_percent takes a number 0..90");
		if (!pcache_meta_rw(c)) {
			pcache_err(c, "gc_percent: metadata is read-only (needs_check)");
			return -EROFS;
		}
		r = pcache_info_set_gc_percent(c, val);
		if (r)
			pcache_metadata_failed(c, "cache_info update failed");
		return r;
	}
	if (!strcasecmp(argv[0], "cache_mode")) {
		if (argc != 2 || pcache_mode_parse(argv[1], &mode))
			return pcache_msg_bad(c, argc, argv,
					      "cache_mode takes writeback, writethrough, writearound or passthrough");
		mutex_lock(&c->msg_lock);
		r = pcache_msg_cache_mode(c, mode);
		mutex_unlock(&c->msg_lock);
		return r;
	}
	if (!strcasecmp(argv[0], "flush")) {
		if (argc != 1)
			return pcache_msg_bad(c, argc, argv,
					      "flush takes no argument");
		r = pcache_wb_flush_wait(c);
		if (r && r != -EINTR)
			pcache_err(c, "flush failed (%d): dirty data stays in the cache", r);
		return r;
	}
	if (!strcasecmp(argv[0], "cleaner")) {
		if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off")))
			return pcache_msg_bad(c, argc, argv,
					      "cleaner takes on or off");
		WRITE_ONCE(c->cleaner, !strcmp(argv[1], "on"));
		pcache_info(c, "cleaner %s", argv[1]);
		pcache_wb_kick(c);
		return 0;
	}
	if (!strcasecmp(argv[0], "writeback_rate")) {
		if (!pcache_msg_number(argc, argv, 1000000, &val))
			return pcache_msg_bad(c, argc, argv,
					      "writeback_rate takes MiB/s, 0 (unlimited) .. 1000000");
		WRITE_ONCE(c->writeback_rate, val);
		pcache_wb_retime(c);
		return 0;
	}
	if (!strcasecmp(argv[0], "writeback_quiet")) {
		if (!pcache_msg_number(argc, argv, PCACHE_WB_QUIET_MAX_MS, &val))
			return pcache_msg_bad(c, argc, argv,
					      "writeback_quiet takes milliseconds, 0 (write back at once) .. 60000");
		WRITE_ONCE(c->writeback_quiet_ms, val);
		pcache_wb_retime(c);
		return 0;
	}
	if (!strcasecmp(argv[0], "invalidate")) {
		if (argc != 1)
			return pcache_msg_bad(c, argc, argv,
					      "invalidate takes no argument");
		mutex_lock(&c->msg_lock);
		r = pcache_msg_invalidate(c);
		mutex_unlock(&c->msg_lock);
		return r;
	}
	DMERR("%s: unrecognised message '%s'", c->name, argv[0]);
	return -EINVAL;
}

static int pcache_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct pcache_target *t = ti->private;

	return fn(ti, t->backing_dm, 0, ti->len, data);
}

static struct target_type pcache_target = {
	.name = "pcache",
	.version = {1, 2, 0},
	.features = DM_TARGET_SINGLETON,
	.module = THIS_MODULE,
	.ctr = pcache_ctr,
	.dtr = pcache_dtr,
	.map = pcache_map,
	.end_io = pcache_target_end_io,
	.postsuspend = pcache_postsuspend,
	.preresume = pcache_preresume,
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
