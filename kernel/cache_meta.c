// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: cache_info, the segment chain and the log tails.  Loading checks
 * every value against the superblock before it becomes an index.
 */
#include <linux/bitmap.h>
#include <linux/slab.h>

#include "pcache.h"

u32 pcache_info_flags(struct pcache *c)
{
	return le32_to_cpu(c->info.flags);
}

u32 pcache_gc_percent(struct pcache *c)
{
	return (pcache_info_flags(c) & PCACHE_CACHE_FLAGS_GC_MASK) >>
		PCACHE_CACHE_FLAGS_GC_SHIFT;
}

static int pcache_info_load(struct pcache *c, char **error)
{
	void *base = c->base + PCACHE_CACHE_INFO_OFF;
	u32 flags, n_segs, seg_id, mode, gc;
	bool crc_on;

	c->info_slot = pcache_meta_find_latest(base, PCACHE_CACHE_INFO_SIZE,
					       sizeof(c->info), &c->info);
	if (c->info_slot < 0) {
		/*
		 * Upstream would silently re-initialise here, abandoning any
		 * dirty data: we refuse and leave the device untouched.
		 */
		*error = "No valid cache_info replica (both CRCs bad); refusing to reinitialise, run pcache_check";
		return -EINVAL;
	}
	flags = le32_to_cpu(c->info.flags);
	n_segs = le32_to_cpu(c->info.n_segs);
	seg_id = le32_to_cpu(c->info.seg_id);
	mode = (flags & PCACHE_CACHE_FLAGS_MODE_MASK) >>
		PCACHE_CACHE_FLAGS_MODE_SHIFT;
	gc = (flags & PCACHE_CACHE_FLAGS_GC_MASK) >> PCACHE_CACHE_FLAGS_GC_SHIFT;

	if (!(flags & PCACHE_CACHE_FLAGS_INIT_DONE)) {
		*error = "cache_info has INIT_DONE clear (interrupted initialisation); refusing to reinitialise";
		return -EINVAL;
	}
	if (!n_segs || n_segs > c->seg_num) {
		pcache_err(c, "cache_info n_segs %u, superblock seg_num %u",
			   n_segs, c->seg_num);
		*error = "cache_info n_segs out of range";
		return -EINVAL;
	}
	if (seg_id >= c->seg_num) {
		pcache_err(c, "cache_info seg_id %u, superblock seg_num %u",
			   seg_id, c->seg_num);
		*error = "cache_info segment id out of range";
		return -EINVAL;
	}
	/*
	 * Writeback is upstream's; writethrough and writearound are
	 * upstream's numbers, passthrough ours (docs/format-extensions.md).
	 * Writeonly (3) is defined upstream and implemented nowhere.
	 */
	if (mode != PCACHE_CACHE_MODE_WRITEBACK &&
	    mode != PCACHE_CACHE_MODE_WRITETHROUGH &&
	    mode != PCACHE_CACHE_MODE_WRITEAROUND &&
	    mode != PCACHE_CACHE_MODE_PASSTHROUGH) {
		pcache_err(c, "cache_info cache mode %u", mode);
		*error = "Unsupported cache mode in cache_info";
		return -EINVAL;
	}
	if (gc > PCACHE_GC_PERCENT_MAX) {
		pcache_err(c, "cache_info gc_percent %u > %u", gc,
			   PCACHE_GC_PERCENT_MAX);
		*error = "cache_info gc_percent out of range";
		return -EINVAL;
	}
	crc_on = flags & PCACHE_CACHE_FLAGS_DATA_CRC;
	if (crc_on != c->opts.data_crc) {
		pcache_err(c, "table says data_crc %s, cache was created with data_crc %s",
			   c->opts.data_crc ? "true" : "false",
			   crc_on ? "true" : "false");
		*error = "data_crc option does not match the cache";
		return -EINVAL;
	}
	c->n_segs = n_segs;
	/* The table's cache_mode wins; without one, the stored mode. */
	if (!c->opts.mode_given)
		c->opts.cache_mode = mode;
	c->needs_check = flags & PCACHE_CACHE_FLAGS_NEEDS_CHECK;
	return 0;
}

/*
 * Follow the chain of segment_info records from cache_info.seg_id for
 * n_segs segments, giving every logical segment its physical place and
 * generation.  Physical ids come from media: each is checked against
 * seg_num, and a physical segment met twice ends the load (a cycle).
 */
static int pcache_chain_load(struct pcache *c, char **error)
{
	unsigned long *seen;
	u32 i, phys = le32_to_cpu(c->info.seg_id);
	int r = 0;

	seen = bitmap_zalloc(c->seg_num, GFP_KERNEL);
	if (!seen) {
		*error = "Cannot allocate memory for the segment chain";
		return -ENOMEM;
	}
	for (i = 0; i < c->n_segs; i++) {
		struct pcache_segment *s = &c->segs[i];
		struct pcache_segment_info info;
		struct pcache_cache_seg_gen gen;
		void *seg;
		u32 flags;
		int slot;

		if (phys >= c->seg_num) {
			pcache_err(c, "segment chain: logical segment %u at physical %u, beyond seg_num %u",
				   i, phys, c->seg_num);
			*error = "Segment chain id out of range";
			r = -EINVAL;
			break;
		}
		if (__test_and_set_bit(phys, seen)) {
			pcache_err(c, "segment chain: physical segment %u reached twice (logical %u)",
				   phys, i);
			*error = "Segment chain loops";
			r = -EINVAL;
			break;
		}
		seg = c->base + PCACHE_SEG_DEV_OFF(phys);
		s->phys = phys;
		s->data = seg + PCACHE_SEG_DATA_OFF;
		slot = pcache_meta_find_latest(seg, PCACHE_SEG_INFO_SIZE,
					       sizeof(info), &info);
		if (slot < 0) {
			pcache_err(c, "segment %u (physical %u): no valid segment_info replica",
				   i, phys);
			*error = "Segment info corrupted";
			r = -EINVAL;
			break;
		}
		slot = pcache_meta_find_latest(seg + PCACHE_SEG_CTRL_OFF,
					       sizeof(gen), sizeof(gen), &gen);
		/* No valid seg_gen means generation 0 (spec 2.5). */
		s->gen = slot < 0 ? 0 : le64_to_cpu(gen.gen);
		s->gen_seq = slot < 0 ? 0 : gen.header.seq;
		s->gen_slot = slot < 0 ? -1 : slot;

		flags = le32_to_cpu(info.flags);
		if (i + 1 == c->n_segs)
			break;
		if (!(flags & PCACHE_SEG_INFO_FLAGS_HAS_NEXT)) {
			pcache_err(c, "segment chain ends at logical segment %u of %u",
				   i, c->n_segs);
			*error = "Segment chain broken";
			r = -EINVAL;
			break;
		}
		phys = le32_to_cpu(info.next_seg);
	}
	bitmap_free(seen);
	return r;
}

static int pcache_tail_load(struct pcache *c, u32 off, const char *what,
			    struct pcache_pos *pos, u8 *seq, int *slot,
			    char **error)
{
	struct pcache_cache_pos_onmedia rec;

	*slot = pcache_meta_find_latest(c->base + off, sizeof(rec),
					sizeof(rec), &rec);
	if (*slot < 0) {
		pcache_err(c, "no valid %s replica", what);
		*error = "Corrupted key tail or dirty tail";
		return -EINVAL;
	}
	*seq = rec.header.seq;
	pos->seg = le32_to_cpu(rec.cache_seg_id);
	pos->off = le32_to_cpu(rec.seg_off);
	/*
	 * A tail is where a kset header starts: inside the data area with
	 * room for at least a header, 8-byte aligned.
	 */
	if (pos->seg >= c->n_segs ||
	    pos->off > PCACHE_SEG_DATA_SIZE - PCACHE_KSET_HEADER_SIZE ||
	    pos->off % 8) {
		pcache_err(c, "%s %u:%u out of range (%u segments)", what,
			   pos->seg, pos->off, c->n_segs);
		*error = "Key tail or dirty tail out of range";
		return -EINVAL;
	}
	return 0;
}

int pcache_meta_load(struct pcache *c, char **error)
{
	int r;

	r = pcache_info_load(c, error);
	if (r)
		return r;
	c->segs = kvcalloc(c->n_segs, sizeof(*c->segs), GFP_KERNEL);
	if (!c->segs) {
		*error = "Cannot allocate memory for the segment table";
		return -ENOMEM;
	}
	r = pcache_chain_load(c, error);
	if (r)
		return r;
	r = pcache_tail_load(c, PCACHE_KEY_TAIL_OFF(0), "key_tail",
			     &c->key_tail, &c->key_tail_seq,
			     &c->key_tail_slot, error);
	if (r)
		return r;
	return pcache_tail_load(c, PCACHE_DIRTY_TAIL_OFF(0), "dirty_tail",
				&c->dirty_tail, &c->dirty_tail_seq,
				&c->dirty_tail_slot, error);
}

/*
 * Persist new cache_info flags: the next replica (seq + 1) goes to the
 * slot that does not hold the newest valid copy, so a torn write leaves
 * the previous copy intact.  Then read back which copy a reader would
 * choose: -EIO when it is not the one just written (a media error).
 */
static int pcache_info_update(struct pcache *c, u32 clear, u32 set)
{
	struct pcache_cache_info info, check;
	u32 flags;
	int r = 0, slot;

	mutex_lock(&c->info_lock);
	info = c->info;
	flags = (le32_to_cpu(info.flags) & ~clear) | set;
	if (flags == le32_to_cpu(info.flags))
		goto out;
	if (pcache_fault_info_fails()) {
		r = -EIO;
		goto out;
	}
	info.flags = cpu_to_le32(flags);
	info.header.seq++;
	c->info_slot = !c->info_slot;
	pcache_meta_write(c->base + PCACHE_CACHE_INFO_OFF,
			  PCACHE_CACHE_INFO_SIZE, c->info_slot, &info,
			  sizeof(info));
	c->info = info;
	slot = pcache_meta_find_latest(c->base + PCACHE_CACHE_INFO_OFF,
				       PCACHE_CACHE_INFO_SIZE, sizeof(check),
				       &check);
	if (!pcache_frozen() &&
	    (slot != c->info_slot || check.flags != info.flags))
		r = -EIO;
out:
	mutex_unlock(&c->info_lock);
	return r;
}

int pcache_info_set_gc_percent(struct pcache *c, u32 percent)
{
	int r;

	if (percent > PCACHE_GC_PERCENT_MAX)
		return -EINVAL;
	r = pcache_info_update(c, PCACHE_CACHE_FLAGS_GC_MASK,
			       percent << PCACHE_CACHE_FLAGS_GC_SHIFT);
	pcache_gc_kick(c);
	return r;
}

/* The cache mode, in cache_info.flags bits 2..5. */
int pcache_info_set_mode(struct pcache *c, u32 mode)
{
	return pcache_info_update(c, PCACHE_CACHE_FLAGS_MODE_MASK,
				  mode << PCACHE_CACHE_FLAGS_MODE_SHIFT);
}

/* NEEDS_CHECK (bit 13): only pcache_check --clear-needs-check-flag clears it. */
int pcache_info_set_needs_check(struct pcache *c)
{
	return pcache_info_update(c, 0, PCACHE_CACHE_FLAGS_NEEDS_CHECK);
}

/*
 * Persist a tail.  Unlike upstream, which rewrites the newest copy first
 * after a restart, the new record (seq + 1) always goes to the slot that
 * does not hold the newest copy: a torn write leaves the previous tail.
 */
static void pcache_tail_write(struct pcache *c, u32 off, struct pcache_pos pos,
			      u8 *seq, int *slot)
{
	struct pcache_cache_pos_onmedia rec = {};

	rec.header.seq = ++*seq;
	rec.cache_seg_id = cpu_to_le32(pos.seg);
	rec.seg_off = cpu_to_le32(pos.off);
	*slot = !*slot;
	pcache_meta_write(c->base + off, sizeof(rec), *slot, &rec, sizeof(rec));
}

/* GC is the only writer of key_tail. */
void pcache_key_tail_persist(struct pcache *c, struct pcache_pos pos)
{
	pcache_tail_write(c, PCACHE_KEY_TAIL_OFF(0), pos, &c->key_tail_seq,
			  &c->key_tail_slot);
	spin_lock(&c->tail_lock);
	c->key_tail = pos;
	spin_unlock(&c->tail_lock);
}

/* Writeback is the only writer of dirty_tail. */
void pcache_dirty_tail_persist(struct pcache *c, struct pcache_pos pos)
{
	pcache_tail_write(c, PCACHE_DIRTY_TAIL_OFF(0), pos, &c->dirty_tail_seq,
			  &c->dirty_tail_slot);
	spin_lock(&c->tail_lock);
	c->dirty_tail = pos;
	spin_unlock(&c->tail_lock);
}

/*
 * Persist generation @gen of segment @seg: the next seg_gen replica,
 * seq + 1, in the slot not holding the newest copy.  Caller holds
 * gen_lock (pcache_seg_invalidate()).
 */
void pcache_seg_gen_persist(struct pcache *c, u32 seg, u64 gen)
{
	struct pcache_segment *s = &c->segs[seg];
	struct pcache_cache_seg_gen rec = {};

	rec.header.seq = ++s->gen_seq;
	rec.gen = cpu_to_le64(gen);
	s->gen_slot = s->gen_slot == 0 ? 1 : 0;
	pcache_meta_write(c->base + PCACHE_SEG_DEV_OFF(s->phys) +
			  PCACHE_SEG_CTRL_OFF, sizeof(rec), s->gen_slot,
			  &rec, sizeof(rec));
}

/*
 * After a successful load (never before: a refused load writes nothing),
 * rewrite every torn replica of cache_info, the tails, seg_info and
 * seg_gen from its good copy, and remember where the newest copies are
 * now, for the next writes.
 */
void pcache_meta_heal_all(struct pcache *c)
{
	struct pcache_cache_pos_onmedia pos;
	char what[48];
	void *seg;
	int slot;
	u32 i;

	slot = pcache_meta_heal(c, c->base + PCACHE_CACHE_INFO_OFF,
				PCACHE_CACHE_INFO_SIZE, sizeof(c->info),
				"cache_info");
	if (slot >= 0 && slot != c->info_slot) {
		pcache_meta_find_latest(c->base + PCACHE_CACHE_INFO_OFF,
					PCACHE_CACHE_INFO_SIZE,
					sizeof(c->info), &c->info);
		c->info_slot = slot;
	}
	slot = pcache_meta_heal(c, c->base + PCACHE_KEY_TAIL_OFF(0),
				sizeof(pos), sizeof(pos), "key_tail");
	if (slot >= 0 && slot != c->key_tail_slot) {
		c->key_tail_slot = slot;
		c->key_tail_seq++;
	}
	slot = pcache_meta_heal(c, c->base + PCACHE_DIRTY_TAIL_OFF(0),
				sizeof(pos), sizeof(pos), "dirty_tail");
	if (slot >= 0 && slot != c->dirty_tail_slot) {
		c->dirty_tail_slot = slot;
		c->dirty_tail_seq++;
	}
	for (i = 0; i < c->n_segs; i++) {
		struct pcache_segment *s = &c->segs[i];

		seg = c->base + PCACHE_SEG_DEV_OFF(s->phys);
		snprintf(what, sizeof(what), "segment %u seg_info", i);
		pcache_meta_heal(c, seg, PCACHE_SEG_INFO_SIZE,
				 sizeof(struct pcache_segment_info), what);
		snprintf(what, sizeof(what), "segment %u seg_gen", i);
		slot = pcache_meta_heal(c, seg + PCACHE_SEG_CTRL_OFF,
					sizeof(struct pcache_cache_seg_gen),
					sizeof(struct pcache_cache_seg_gen),
					what);
		if (slot >= 0 && slot != s->gen_slot) {
			s->gen_slot = slot;
			s->gen_seq++;
		}
		if (!(i % 1024))
			cond_resched();
	}
}
