// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: garbage collection.
 *
 * Strictly FIFO in log order (spec 9.4): while at least gc_percent of the
 * segments are in use (gc_percent 0: always), and key_tail has not reached
 * dirty_tail, take the kset at key_tail:
 *
 *   - a LAST kset: persist key_tail at the next key segment, then free the
 *     key segment it leaves;
 *   - a normal kset: check its keys, persist key_tail past it, then for
 *     every key drop the index extents that still show its data (the data
 *     was written back, so a read now goes to the backing device) and the
 *     key's reference on its segment.  A segment whose last reference goes
 *     gets a new generation on media and is freed (pcache_seg_put()).
 *
 * key_tail is persisted before any reference is dropped, so no key of the
 * log window on media ever points to a segment that was reused; and since
 * GC only follows a persisted dirty_tail, key_tail <= dirty_tail on media.
 * Purging a key's extents under the subtree lock before its reference goes
 * means no read can be copying from a segment that is handed out again.
 */
#include <linux/slab.h>

#include "pcache.h"

/* ksets per run of the worker before it yields */
#define PCACHE_GC_BATCH		64

static void pcache_gc_fn(struct work_struct *work);

int pcache_gc_init(struct pcache *c)
{
	struct pcache_gc *gc = &c->gc;

	INIT_DELAYED_WORK(&gc->work, pcache_gc_fn);
	gc->stopped = true;
	gc->kset = kvmalloc(PCACHE_KSET_ONMEDIA_SIZE_MAX, GFP_KERNEL);
	gc->keys = kvmalloc_array(PCACHE_KSET_KEYS_MAX, sizeof(*gc->keys),
				  GFP_KERNEL);
	return gc->kset && gc->keys ? 0 : -ENOMEM;
}

void pcache_gc_exit(struct pcache *c)
{
	kvfree(c->gc.keys);
	kvfree(c->gc.kset);
}

void pcache_tails(struct pcache *c, struct pcache_pos *key_tail,
		  struct pcache_pos *dirty_tail)
{
	spin_lock(&c->tail_lock);
	*key_tail = c->key_tail;
	*dirty_tail = c->dirty_tail;
	spin_unlock(&c->tail_lock);
}

/*
 * Is collection wanted?  At or above gc_percent of the segments in use
 * (spec 9.4), or when writes wait for space.
 */
bool pcache_gc_due(struct pcache *c)
{
	u32 percent = pcache_gc_percent(c);

	return pcache_segs_used(c) >= c->n_segs * percent / 100 ||
		pcache_writes_waiting(c);
}

void pcache_gc_kick(struct pcache *c)
{
	if (!READ_ONCE(c->gc.stopped))
		queue_delayed_work(c->wq, &c->gc.work, 0);
}

void pcache_gc_start(struct pcache *c)
{
	WRITE_ONCE(c->gc.stopped, false);
	queue_delayed_work(c->wq, &c->gc.work, 0);
}

void pcache_gc_stop(struct pcache *c)
{
	WRITE_ONCE(c->gc.stopped, true);
	cancel_delayed_work_sync(&c->gc.work);
}

/*
 * Drop the index extents that show @k's data: same segment and
 * generation, inside its pmem range.  Every extent derived from a key
 * (trimmed, split) keeps those, and the pmem ranges of two keys of one
 * segment generation never overlap.
 */
static void pcache_gc_purge_key(struct pcache *c, const struct pcache_key *k)
{
	struct pcache_subtree *st = pcache_subtree_of(c, k->off);
	u64 end = k->off + k->len;
	struct pcache_extent *e, *next;

	spin_lock(&st->lock);
	for (e = pcache_index_first(st, k->off); e && e->off < end; e = next) {
		next = pcache_extent_next(e);
		if (!(e->flags & PCACHE_KEY_FLAGS_EMPTY) && e->seg == k->seg &&
		    e->gen == k->gen && e->seg_off >= k->seg_off &&
		    e->seg_off + e->len <= k->seg_off + k->len)
			pcache_index_erase(st, e);
	}
	spin_unlock(&st->lock);
}

static void pcache_gc_damage(struct pcache *c, struct pcache_pos at,
			     const char *why, u32 key)
{
	c->gc.broken = true;
	pcache_log_damage(c, "garbage collection", at, key, why);
}

/* Collect the kset at key_tail.  0: done, else damage. */
static int pcache_gc_kset(struct pcache *c, struct pcache_pos tail)
{
	struct pcache_cache_kset_onmedia *ks = c->gc.kset;
	struct pcache_key *keys = c->gc.keys;
	struct pcache_pos next;
	const char *why = NULL;
	u32 n, i;
	int r;

	r = pcache_kset_read(c, tail, ks, &why);
	if (r) {
		pcache_gc_damage(c, tail, r > 0 ? "invalid kset before dirty_tail" : why,
				 U32_MAX);
		return -EINVAL;
	}
	if (le64_to_cpu(ks->flags) & PCACHE_KSET_FLAGS_LAST) {
		next.seg = le32_to_cpu(ks->next_cache_seg_id);
		next.off = 0;
		pcache_key_tail_persist(c, next);
		pcache_seg_free(c, tail.seg);
		return 0;
	}
	n = le32_to_cpu(ks->key_num);
	for (i = 0; i < n; i++) {
		why = pcache_key_decode(c, &ks->data[i], &keys[i]);
		if (why) {
			pcache_gc_damage(c, tail, why, i);
			return -EINVAL;
		}
	}
	next = tail;
	next.off += PCACHE_KSET_SIZE(n);
	pcache_key_tail_persist(c, next);
	for (i = 0; i < n; i++) {
		if (keys[i].gen == READ_ONCE(c->segs[keys[i].seg].gen))
			pcache_gc_purge_key(c, &keys[i]);
		pcache_seg_put(c, keys[i].seg);
	}
	return 0;
}

static void pcache_gc_fn(struct work_struct *work)
{
	struct pcache *c = container_of(to_delayed_work(work), struct pcache,
					gc.work);
	struct pcache_pos key_tail, dirty_tail;
	u32 done;

	for (done = 0; done < PCACHE_GC_BATCH; done++) {
		if (READ_ONCE(c->gc.stopped) || c->gc.broken ||
		    pcache_frozen() || !pcache_meta_rw(c))
			return;
		if (!pcache_gc_due(c))
			return;
		pcache_tails(c, &key_tail, &dirty_tail);
		if (pcache_pos_equal(key_tail, dirty_tail))
			return;		/* writeback kicks us when it moves */
		if (pcache_gc_kset(c, key_tail))
			return;
	}
	cond_resched();
	queue_delayed_work(c->wq, &c->gc.work, 0);
}
