// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: segment allocator, references and per-CPU data heads.
 *
 * The in-use bitmap is rebuilt at load from the key log (replay marks key
 * segments and every segment a key points to); everything else is free.
 * A few segments are kept for the key log: data allocations stop while
 * free segments <= log_reserve, so closing a kset can still find a new
 * key segment for the keys of data already accepted.
 *
 * Segments come back through garbage collection: a data segment when its
 * last reference goes (its generation is bumped first, on media), a key
 * segment when key_tail leaves it.
 */
#include <linux/bitmap.h>

#include "pcache.h"

int pcache_segs_init(struct pcache *c)
{
	int cpu;

	spin_lock_init(&c->seg_lock);
	c->seg_used = bitmap_zalloc(c->n_segs, GFP_KERNEL);
	if (!c->seg_used)
		return -ENOMEM;
	c->free_segs = c->n_segs;
	/*
	 * Each CPU's data head can accept at most one segment of data after
	 * allocation has stopped; its keys (at most 64 bytes of log per 512
	 * bytes of data) need 1/8 of that in key segments.  One reserved
	 * segment per 8 CPUs, plus one, covers it.
	 */
	c->log_reserve = 1 + num_possible_cpus() / 8;
	c->data_heads = alloc_percpu(struct pcache_data_head);
	if (!c->data_heads)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		spin_lock_init(&per_cpu_ptr(c->data_heads, cpu)->lock);
	return 0;
}

void pcache_segs_exit(struct pcache *c)
{
	free_percpu(c->data_heads);
	c->data_heads = NULL;
	bitmap_free(c->seg_used);
	c->seg_used = NULL;
}

/*
 * Replay: a segment holds keys or data of the window.  Caller checked
 * seg < n_segs.
 */
void pcache_seg_mark_used(struct pcache *c, u32 seg)
{
	spin_lock(&c->seg_lock);
	if (!__test_and_set_bit(seg, c->seg_used))
		c->free_segs--;
	spin_unlock(&c->seg_lock);
}

/*
 * Take a free segment: the lowest free logical id at or after a rotating
 * hint, wrapping once.  Data allocations leave log_reserve segments for
 * the key log.  Returns the id, or -EBUSY when none may be taken.
 */
int pcache_seg_alloc(struct pcache *c, bool for_log)
{
	unsigned long seg;
	int r = -EBUSY;

	spin_lock(&c->seg_lock);
	if (c->free_segs == 0 || (!for_log && c->free_segs <= c->log_reserve))
		goto out;
	seg = find_next_zero_bit(c->seg_used, c->n_segs, c->alloc_hint);
	if (seg >= c->n_segs)
		seg = find_first_zero_bit(c->seg_used, c->n_segs);
	if (seg >= c->n_segs)
		goto out;
	__set_bit(seg, c->seg_used);
	c->free_segs--;
	c->alloc_hint = (seg + 1) % c->n_segs;
	r = seg;
out:
	spin_unlock(&c->seg_lock);
	if (r < 0 || pcache_gc_due(c))
		pcache_gc_kick(c);
	return r;
}

u32 pcache_segs_used(struct pcache *c)
{
	return c->n_segs - READ_ONCE(c->free_segs);
}

/* Give a segment back to the allocator and wake writes waiting for one. */
void pcache_seg_free(struct pcache *c, u32 seg)
{
	spin_lock(&c->seg_lock);
	if (__test_and_clear_bit(seg, c->seg_used))
		c->free_segs++;
	spin_unlock(&c->seg_lock);
	if (pcache_writes_waiting(c))
		pcache_kick_deferred(c);
}

/*
 * Drop a reference.  The last one goes when GC has passed every key
 * pointing here (and persisted key_tail beyond them) and the segment is
 * no data head: no key of the log window on media and no extent of the
 * index (GC purged them first) points into it.  The generation is bumped
 * and persisted before the segment can be handed out again, so anything
 * still naming the old generation is stale.  May run under a data head's
 * spinlock: nothing here sleeps (gen_lock is taken innermost).
 */
void pcache_seg_put(struct pcache *c, u32 seg)
{
	if (!atomic_dec_and_test(&c->segs[seg].refs))
		return;
	pcache_seg_invalidate(c, seg);
	pcache_seg_free(c, seg);
}

/*
 * Bump a segment's generation: every key and extent naming the old one
 * becomes stale.  The new generation is on media before it is in memory,
 * so no key can be logged with a generation ahead of its segment's on
 * media.  Besides freeing a segment, the invalidation of clean data uses
 * this (write-around, the invalidate message): it drops every key of the
 * segment, which is why it is only done when the cache holds nothing dirty.
 */
void pcache_seg_invalidate(struct pcache *c, u32 seg)
{
	struct pcache_segment *s = &c->segs[seg];

	spin_lock(&c->gen_lock);
	pcache_seg_gen_persist(c, seg, s->gen + 1);
	WRITE_ONCE(s->gen, s->gen + 1);
	spin_unlock(&c->gen_lock);
}

/*
 * Reserve up to @want bytes of data space on this CPU's data head.  The
 * space may be shorter when the head segment ends (the caller writes the
 * rest through another call).  The caller owns one reference on pos->seg
 * and drops it once its keys hold their own.  Returns -EBUSY when a new
 * segment is needed and none may be taken.
 */
int pcache_data_alloc(struct pcache *c, u32 want, struct pcache_pos *pos,
		      u32 *got)
{
	struct pcache_data_head *head = raw_cpu_ptr(c->data_heads);
	u32 avail;
	int seg;

	spin_lock(&head->lock);
	if (!head->valid) {
		seg = pcache_seg_alloc(c, false);
		if (seg < 0) {
			spin_unlock(&head->lock);
			return seg;
		}
		head->seg = seg;
		head->off = 0;
		head->valid = true;
		pcache_seg_get(c, seg);		/* the head's own reference */
	}
	avail = PCACHE_SEG_DATA_SIZE - head->off;
	*got = min(want, avail);
	pos->seg = head->seg;
	pos->off = head->off;
	head->off += *got;
	pcache_seg_get(c, head->seg);		/* the caller's reference */
	if (head->off == PCACHE_SEG_DATA_SIZE) {
		head->valid = false;
		pcache_seg_put(c, head->seg);
	}
	spin_unlock(&head->lock);
	return 0;
}
