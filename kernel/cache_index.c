// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: the index.  One red-black tree of non-overlapping extents per
 * 4 MiB of the backing device, each under its own spinlock.  Bios are split
 * at 4 MiB boundaries (max_io_len), so no extent spans two subtrees.
 */
#include <linux/slab.h>

#include "pcache.h"

static struct kmem_cache *pcache_extent_slab;

int pcache_extent_cache_init(void)
{
	pcache_extent_slab = KMEM_CACHE(pcache_extent, 0);
	return pcache_extent_slab ? 0 : -ENOMEM;
}

void pcache_extent_cache_exit(void)
{
	kmem_cache_destroy(pcache_extent_slab);
}

struct pcache_extent *pcache_extent_alloc(gfp_t gfp)
{
	return kmem_cache_alloc(pcache_extent_slab, gfp);
}

void pcache_extent_free(struct pcache_extent *e)
{
	kmem_cache_free(pcache_extent_slab, e);
}

int pcache_index_init(struct pcache *c)
{
	u32 i;

	c->spares = alloc_percpu(struct pcache_extent *);
	if (!c->spares)
		return -ENOMEM;
	c->n_subtrees = DIV_ROUND_UP_ULL(c->backing_size, PCACHE_SUBTREE_SIZE);
	c->subtrees = kvcalloc(c->n_subtrees, sizeof(*c->subtrees), GFP_KERNEL);
	if (!c->subtrees)
		return -ENOMEM;
	for (i = 0; i < c->n_subtrees; i++) {
		spin_lock_init(&c->subtrees[i].lock);
		c->subtrees[i].root = RB_ROOT;
		atomic_set(&c->subtrees[i].writes_around, 0);
	}
	return 0;
}

void pcache_index_exit(struct pcache *c)
{
	struct pcache_extent *e, *n;
	int cpu;
	u32 i;

	if (c->spares) {
		for_each_possible_cpu(cpu) {
			e = *per_cpu_ptr(c->spares, cpu);
			if (e)
				pcache_extent_free(e);
		}
		free_percpu(c->spares);
		c->spares = NULL;
	}
	if (!c->subtrees)
		return;
	for (i = 0; i < c->n_subtrees; i++) {
		rbtree_postorder_for_each_entry_safe(e, n, &c->subtrees[i].root,
						     node)
			pcache_extent_free(e);
		if (!(i % 1024))
			cond_resched();
	}
	kvfree(c->subtrees);
	c->subtrees = NULL;
}

static inline u64 extent_end(const struct pcache_extent *e)
{
	return e->off + e->len;
}

struct pcache_extent *pcache_extent_next(struct pcache_extent *e)
{
	struct rb_node *n = rb_next(&e->node);

	return n ? rb_entry(n, struct pcache_extent, node) : NULL;
}

/* The first extent that ends after @off (it may start after @off). */
struct pcache_extent *pcache_index_first(struct pcache_subtree *st, u64 off)
{
	struct rb_node *n = st->root.rb_node, *before = NULL;
	struct pcache_extent *e;

	while (n) {
		e = rb_entry(n, struct pcache_extent, node);
		if (e->off <= off) {
			before = n;
			n = n->rb_right;
		} else {
			n = n->rb_left;
		}
	}
	if (before) {
		e = rb_entry(before, struct pcache_extent, node);
		if (extent_end(e) > off)
			return e;
		n = rb_next(before);
	} else {
		n = rb_first(&st->root);
	}
	return n ? rb_entry(n, struct pcache_extent, node) : NULL;
}

void pcache_index_erase(struct pcache_subtree *st, struct pcache_extent *e)
{
	rb_erase(&e->node, &st->root);
	pcache_extent_free(e);
}

static void index_link(struct pcache_subtree *st, struct pcache_extent *new)
{
	struct rb_node **link = &st->root.rb_node, *parent = NULL;
	struct pcache_extent *e;

	while (*link) {
		parent = *link;
		e = rb_entry(parent, struct pcache_extent, node);
		link = new->off < e->off ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&new->node, parent, link);
	rb_insert_color(&new->node, &st->root);
}

/*
 * Inserting [off, off + len) splits an extent that strictly contains it:
 * the caller must then bring a spare extent.
 */
bool pcache_index_needs_spare(struct pcache_subtree *st, u64 off, u32 len)
{
	struct pcache_extent *e = pcache_index_first(st, off);

	return e && e->off < off && extent_end(e) > off + len;
}

/* Cut @cut bytes off the front of @e, keeping its data position in step. */
static void extent_cut_front(struct pcache_extent *e, u32 cut)
{
	e->off += cut;
	e->len -= cut;
	if (!(e->flags & PCACHE_KEY_FLAGS_EMPTY))
		e->seg_off += cut;
}

/*
 * Insert @new; it wins over everything it overlaps (it is newer in log
 * order):
 *
 *   existing   |-----|          |--------|     |---|      |--------------|
 *   new           |-----|     |----|         |-------|        |----|
 *   result     |--|new--|     |new-|---|     |--new--|    |---|new-|-----|
 *              truncated      front cut      removed      split (spare)
 *
 * Stale extents met on the way are dropped.  A spare extent must be given
 * when pcache_index_needs_spare() said so; it is consumed (*spare = NULL).
 * Returns whether @new covered cached data (a write hit).
 */
bool pcache_index_insert(struct pcache *c, struct pcache_subtree *st,
			 struct pcache_extent *new,
			 struct pcache_extent **spare)
{
	u64 start = new->off, end = extent_end(new);
	struct pcache_extent *e = pcache_index_first(st, start), *next;
	struct pcache_extent *tail = NULL;
	bool hit = false;

	for (; e && e->off < end; e = next) {
		next = pcache_extent_next(e);
		if (pcache_extent_stale(c, e)) {
			pcache_index_erase(st, e);
			continue;
		}
		if (!(e->flags & PCACHE_KEY_FLAGS_EMPTY))
			hit = true;
		if (e->off >= start && extent_end(e) <= end) {
			pcache_index_erase(st, e);
		} else if (e->off < start && extent_end(e) > end) {
			tail = *spare;
			*spare = NULL;
			*tail = *e;
			extent_cut_front(tail, end - e->off);
			e->len = start - e->off;
		} else if (e->off < start) {
			e->len = start - e->off;
		} else {
			extent_cut_front(e, end - e->off);
		}
	}
	index_link(st, new);
	if (tail)
		index_link(st, tail);
	return hit;
}

/*
 * Drop every extent (cached data and placeholders) inside [off, off + len)
 * from the index, trimming those that stick out.  Callers make sure this
 * loses nothing dirty that must stay visible, or accept it (discard).
 * Returns -ENOMEM when an extent to split found no memory (nothing of its
 * subtree was dropped then).
 */
int pcache_index_drop_range(struct pcache *c, u64 off, u64 len)
{
	u64 end = off + len, cur = off, stop;
	struct pcache_extent *e, *next, *spare;
	struct pcache_subtree *st;

	while (cur < end) {
		st = pcache_subtree_of(c, cur);
		stop = min(end, round_down(cur, PCACHE_SUBTREE_SIZE) +
			   PCACHE_SUBTREE_SIZE);
		spare = pcache_extent_alloc(GFP_NOIO);
		if (!spare)
			return -ENOMEM;
		spin_lock(&st->lock);
		for (e = pcache_index_first(st, cur); e && e->off < stop;
		     e = next) {
			next = pcache_extent_next(e);
			if (e->off >= cur && extent_end(e) <= stop) {
				pcache_index_erase(st, e);
			} else if (e->off < cur && extent_end(e) > stop) {
				*spare = *e;
				extent_cut_front(spare, stop - e->off);
				e->len = cur - e->off;
				index_link(st, spare);
				spare = NULL;
				break;
			} else if (e->off < cur) {
				e->len = cur - e->off;
			} else {
				extent_cut_front(e, stop - e->off);
			}
		}
		spin_unlock(&st->lock);
		if (spare)
			pcache_extent_free(spare);
		cur = stop;
		cond_resched();
	}
	return 0;
}

/* Drop every extent that holds data (placeholders stay). */
void pcache_index_drop_all(struct pcache *c)
{
	struct pcache_subtree *st;
	struct pcache_extent *e, *next;
	u32 i;

	for (i = 0; i < c->n_subtrees; i++) {
		st = &c->subtrees[i];
		spin_lock(&st->lock);
		for (e = pcache_index_first(st, 0); e; e = next) {
			next = pcache_extent_next(e);
			if (!(e->flags & PCACHE_KEY_FLAGS_EMPTY))
				pcache_index_erase(st, e);
		}
		spin_unlock(&st->lock);
		if (!(i % 64))
			cond_resched();
	}
}
