// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: the I/O paths.
 *
 * Writes and read hits complete in the map function: a write is copied to
 * pmem on this CPU's data head, its key appended to the region's kset and
 * inserted in the index under the region's subtree lock; a hit is copied
 * out of pmem with machine-check safe copies.  dm core splits bios at 4 MiB
 * (max_io_len); a read that is partly cached is cut with
 * dm_accept_partial_bio() at the first hit/miss boundary and dm resubmits
 * the rest.  A miss is remapped to the backing device as it is; when it
 * completes, a worker copies the data into the cache as CLEAN keys, where
 * no write came in meanwhile (an EMPTY placeholder marks the range).
 *
 * Writes that find no free segment wait on a deferred list until writeback
 * and garbage collection free one.  Read misses never wait: when there is
 * no space their data is simply not cached.
 */
#include "pcache.h"

static struct pcache_bio *pcache_bio_of(struct bio *bio)
{
	return dm_per_bio_data(bio, sizeof(struct pcache_bio));
}

/* A bvec iterator over bytes [skip, skip + len) of the mapped data. */
static struct bvec_iter pcache_bio_range(struct bio *bio,
					 struct bvec_iter iter, u32 skip,
					 u32 len)
{
	bio_advance_iter(bio, &iter, skip);
	iter.bi_size = len;
	return iter;
}

/* ---- writes ---- */

static void pcache_copy_to_pmem(struct bio *bio, struct bvec_iter range,
				void *dst, u32 *crc, bool want_crc)
{
	bool drop = pcache_frozen();
	struct bvec_iter iter;
	struct bio_vec bv;
	u32 v = PCACHE_CRC_SEED;

	__bio_for_each_segment(bv, bio, iter, range) {
		void *src = bvec_kmap_local(&bv);

		if (likely(!drop))
			memcpy_flushcache(dst, src, bv.bv_len);
		if (want_crc)
			v = pcache_crc_update(v, src, bv.bv_len);
		kunmap_local(src);
		dst += bv.bv_len;
	}
	*crc = v;
}

static u32 pcache_bio_crc(struct bio *bio, struct bvec_iter range)
{
	struct bvec_iter iter;
	struct bio_vec bv;
	u32 v = PCACHE_CRC_SEED;

	__bio_for_each_segment(bv, bio, iter, range) {
		void *src = bvec_kmap_local(&bv);

		v = pcache_crc_update(v, src, bv.bv_len);
		kunmap_local(src);
	}
	return v;
}

static void pcache_key_fill(struct pcache_cache_key_onmedia *k,
			    const struct pcache_extent *e, u32 crc)
{
	k->off = cpu_to_le64(e->off);
	k->len = cpu_to_le32(e->len);
	k->flags = cpu_to_le32(e->flags);
	k->cache_seg_id = cpu_to_le32(e->seg);
	k->cache_seg_off = cpu_to_le32(e->seg_off);
	k->seg_gen = cpu_to_le64(e->gen);
	k->data_crc = cpu_to_le32(crc);
	k->reserved = 0;
}

/*
 * Log and index the key for @e, atomically with respect to the region:
 * append under the subtree lock, then insert.  An insert that splits an
 * extent consumes a spare extent: each CPU keeps one at hand, so a write
 * allocates only its own extent.  On success @e belongs to the index and
 * the key holds the caller's reference on its segment.  -EBUSY: the log
 * has no room; @e is freed, the reference stays with the caller.
 */
static int pcache_key_commit(struct pcache *c, struct pcache_extent *e,
			     u32 crc)
{
	struct pcache_subtree *st = pcache_subtree_of(c, e->off);
	struct pcache_cache_key_onmedia key;
	struct pcache_extent *spare;
	int r;

	spare = this_cpu_xchg(*c->spares, NULL);
	if (!spare) {
		spare = pcache_extent_alloc(GFP_NOIO);
		if (!spare) {
			pcache_extent_free(e);
			return -ENOMEM;
		}
	}
	pcache_key_fill(&key, e, crc);
	spin_lock(&st->lock);
	r = pcache_kset_append(c, &key);
	if (!r)
		pcache_index_insert(c, st, e, &spare);
	spin_unlock(&st->lock);
	if (spare) {
		spare = this_cpu_xchg(*c->spares, spare);
		if (spare)
			pcache_extent_free(spare);
	}
	if (r)
		pcache_extent_free(e);
	return r;
}

/*
 * Copy the not yet keyed part of a write into the cache, one key per
 * piece of data-head space.  Returns -EBUSY when it has to wait for space;
 * pb->done records the progress.
 */
static int pcache_write_data(struct pcache *c, struct bio *bio,
			     struct pcache_bio *pb)
{
	u32 len = pb->iter.bi_size, got, crc;
	struct pcache_extent *e;
	struct pcache_pos pos;
	int r;

	while (pb->done < len) {
		e = pcache_extent_alloc(GFP_NOIO);
		if (!e)
			return -ENOMEM;
		r = pcache_data_alloc(c, len - pb->done, &pos, &got);
		if (r) {
			pcache_extent_free(e);
			return r;
		}
		pcache_copy_to_pmem(bio, pcache_bio_range(bio, pb->iter,
							  pb->done, got),
				    pcache_pos_addr(c, pos), &crc,
				    c->opts.data_crc);
		/* The data is durable before any kset can name it. */
		pmem_wmb();
		pcache_persist_point();
		e->off = pb->off + pb->done;
		e->len = got;
		e->flags = 0;
		e->seg = pos.seg;
		e->seg_off = pos.off;
		e->gen = READ_ONCE(c->segs[pos.seg].gen);
		r = pcache_key_commit(c, e, c->opts.data_crc ? crc : 0);
		if (r) {
			pcache_seg_put(c, pos.seg);
			return r;
		}
		pb->done += got;
	}
	return 0;
}

/* Process a write or flush from where it stopped.  0: completed. */
static int pcache_handle_write(struct pcache *c, struct bio *bio,
			       struct pcache_bio *pb)
{
	int r;

	if ((bio->bi_opf & REQ_PREFLUSH) && !(pb->state & PCACHE_BIO_FLUSHED)) {
		r = pcache_kset_close_all(c);
		if (r)
			return r;
		pb->state |= PCACHE_BIO_FLUSHED;
	}
	if (!(pb->state & PCACHE_BIO_WRITTEN)) {
		r = pcache_write_data(c, bio, pb);
		if (r)
			return r;
		pb->state |= PCACHE_BIO_WRITTEN;
	}
	if ((bio->bi_opf & REQ_FUA) && pb->iter.bi_size) {
		r = pcache_kset_close_region(c, pb->off);
		if (r)
			return r;
	}
	pcache_fault_ack();
	bio_endio(bio);
	return 0;
}

/*
 * No segment for data or for the key log: the write waits.  Writeback
 * and GC are what free segments; kick them, and look again when a
 * segment is freed (or in 100 ms at the latest).
 */
static void pcache_defer(struct pcache *c, struct bio *bio)
{
	spin_lock(&c->defer_lock);
	bio_list_add(&c->deferred, bio);
	spin_unlock(&c->defer_lock);
	queue_delayed_work(c->wq, &c->defer_work, HZ / 10);
	pcache_wb_kick(c);
	pcache_gc_kick(c);
}

bool pcache_writes_waiting(struct pcache *c)
{
	return READ_ONCE(c->deferred.head) != NULL;
}

void pcache_kick_deferred(struct pcache *c)
{
	mod_delayed_work(c->wq, &c->defer_work, 0);
}

void pcache_defer_fn(struct work_struct *work)
{
	struct pcache *c = container_of(to_delayed_work(work), struct pcache,
					defer_work);
	struct bio_list list;
	struct bio *bio;
	int r;

	spin_lock(&c->defer_lock);
	list = c->deferred;
	bio_list_init(&c->deferred);
	spin_unlock(&c->defer_lock);

	while ((bio = bio_list_pop(&list))) {
		r = pcache_handle_write(c, bio, pcache_bio_of(bio));
		if (r == -EBUSY) {
			/*
			 * Still no space: put this one and the rest back, in
			 * order, and look again later.  Keys still in open
			 * ksets hold segments that writeback cannot reach
			 * until their kset is written: write them now.
			 */
			bio_list_add_head(&list, bio);
			spin_lock(&c->defer_lock);
			bio_list_merge(&list, &c->deferred);
			c->deferred = list;
			spin_unlock(&c->defer_lock);
			pcache_kset_close_all(c);
			queue_delayed_work(c->wq, &c->defer_work, HZ / 10);
			pcache_wb_kick(c);
			pcache_gc_kick(c);
			return;
		}
		if (r) {
			bio->bi_status = errno_to_blk_status(r);
			bio_endio(bio);
		}
	}
}

/* ---- reads ---- */

/* Copy @len bytes of pmem at @src into the mapped data from @skip. */
static int pcache_copy_from_pmem(struct bio *bio, u32 skip, const void *src,
				 u32 len)
{
	struct bvec_iter iter, range = pcache_bio_range(bio, bio->bi_iter,
							skip, len);
	struct bio_vec bv;
	unsigned long left;

	__bio_for_each_segment(bv, bio, iter, range) {
		void *dst = bvec_kmap_local(&bv);

		left = pcache_copy_mc(dst, src, bv.bv_len);
		kunmap_local(dst);
		if (left)
			return -EIO;
		src += bv.bv_len;
	}
	return 0;
}

/* The first usable extent ending after @off: stale ones are dropped. */
static struct pcache_extent *pcache_lookup(struct pcache *c,
					   struct pcache_subtree *st, u64 off)
{
	struct pcache_extent *e = pcache_index_first(st, off), *next;

	while (e && pcache_extent_stale(c, e)) {
		next = pcache_extent_next(e);
		pcache_index_erase(st, e);
		e = next;
	}
	return e;
}

static bool extent_is_hit(const struct pcache_extent *e)
{
	return !(e->flags & PCACHE_KEY_FLAGS_EMPTY);
}

/* Serve the cached run at the start of the bio; cut the bio after it. */
static int pcache_read_hits(struct pcache *c, struct pcache_subtree *st,
			    struct pcache_extent *e, struct bio *bio,
			    struct pcache_bio *pb)
{
	u32 len = bio->bi_iter.bi_size, done = 0, n;
	u64 end = pb->off + len, pos;
	int r = 0;

	for (;;) {
		pos = pb->off + done;
		n = min(e->off + e->len, end) - pos;
		r = pcache_copy_from_pmem(bio, done, pcache_seg_data(c, e->seg) +
					  e->seg_off + (pos - e->off), n);
		if (r)
			break;
		done += n;
		if (done == len)
			break;
		/* Go on while the next extent is cached data that follows. */
		e = pcache_extent_next(e);
		if (!e || !extent_is_hit(e) || e->off != pb->off + done ||
		    pcache_extent_stale(c, e))
			break;
	}
	spin_unlock(&st->lock);
	if (r) {
		pcache_err_limit(c, "media error reading cached data at %llu",
				 pb->off + done);
		bio->bi_status = BLK_STS_IOERR;
	} else if (done < len) {
		dm_accept_partial_bio(bio, done >> SECTOR_SHIFT);
	}
	bio_endio(bio);
	return DM_MAPIO_SUBMITTED;
}

/*
 * The bio starts in a gap: send the gap to the backing device, and leave
 * an EMPTY placeholder so the data can be cached when it arrives unless a
 * write replaces the placeholder first.  Called with the subtree locked.
 */
static int pcache_read_miss(struct pcache *c, struct pcache_subtree *st,
			    struct pcache_extent *e, struct bio *bio,
			    struct pcache_bio *pb)
{
	u32 len = bio->bi_iter.bi_size, miss;
	struct pcache_extent *ph = NULL, *spare = NULL;
	u64 end = pb->off + len;

	while (e && e->off < end && !extent_is_hit(e))
		e = pcache_extent_next(e);
	if (e && e->off < end)
		end = e->off;
	miss = end - pb->off;

	if (READ_ONCE(c->free_segs) > c->log_reserve ||
	    READ_ONCE(raw_cpu_ptr(c->data_heads)->valid)) {
		ph = pcache_extent_alloc(GFP_NOWAIT | __GFP_NOWARN);
		if (ph && pcache_index_needs_spare(st, pb->off, miss)) {
			spare = pcache_extent_alloc(GFP_NOWAIT | __GFP_NOWARN);
			if (!spare) {
				pcache_extent_free(ph);
				ph = NULL;
			}
		}
	}
	if (ph) {
		ph->off = pb->off;
		ph->len = miss;
		ph->flags = PCACHE_KEY_FLAGS_EMPTY;
		ph->seg = 0;
		ph->seg_off = 0;
		ph->fill_tag = atomic64_inc_return(&c->next_fill_tag);
		pb->fill_tag = ph->fill_tag;
		pcache_index_insert(c, st, ph, &spare);
	}
	spin_unlock(&st->lock);
	if (spare)
		pcache_extent_free(spare);

	if (miss < len)
		dm_accept_partial_bio(bio, miss >> SECTOR_SHIFT);
	pb->iter = bio->bi_iter;
	bio_set_dev(bio, c->backing_dm->bdev);
	bio->bi_iter.bi_sector = pb->off >> SECTOR_SHIFT;
	return DM_MAPIO_REMAPPED;
}

static int pcache_map_read(struct pcache *c, struct bio *bio,
			   struct pcache_bio *pb)
{
	struct pcache_subtree *st = pcache_subtree_of(c, pb->off);
	struct pcache_extent *e;

	spin_lock(&st->lock);
	e = pcache_lookup(c, st, pb->off);
	if (e && e->off <= pb->off && extent_is_hit(e))
		return pcache_read_hits(c, st, e, bio, pb);
	return pcache_read_miss(c, st, e, bio, pb);
}

/* ---- read-miss fills ---- */

/*
 * Key the parts of [piece_off, piece_off + len) still covered by our
 * placeholder; their data was copied to @pos.  All under one subtree hold,
 * so a write that replaced the placeholder is never overwritten.
 */
static void pcache_fill_keys(struct pcache *c, struct bio *bio,
			     struct pcache_bio *pb, u32 skip, u32 len,
			     struct pcache_pos pos)
{
	u64 cur = pb->off + skip, end = cur + len;
	struct pcache_subtree *st = pcache_subtree_of(c, cur);
	struct pcache_extent *e, *n, *spare = NULL;
	struct pcache_cache_key_onmedia key;
	u64 s, t;
	u32 crc = 0;

	spin_lock(&st->lock);
	while (cur < end) {
		for (e = pcache_index_first(st, cur); e && e->off < end;
		     e = pcache_extent_next(e))
			if (!extent_is_hit(e) && e->fill_tag == pb->fill_tag)
				break;
		if (!e || e->off >= end)
			break;
		s = max(e->off, cur);
		t = min(e->off + e->len, end);
		n = pcache_extent_alloc(GFP_NOWAIT | __GFP_NOWARN);
		if (!n)
			break;
		if (pcache_index_needs_spare(st, s, t - s)) {
			spare = pcache_extent_alloc(GFP_NOWAIT | __GFP_NOWARN);
			if (!spare) {
				pcache_extent_free(n);
				break;
			}
		}
		n->off = s;
		n->len = t - s;
		n->flags = PCACHE_KEY_FLAGS_CLEAN;
		n->seg = pos.seg;
		n->seg_off = pos.off + (s - pb->off - skip);
		n->gen = READ_ONCE(c->segs[pos.seg].gen);
		if (c->opts.data_crc)
			crc = pcache_bio_crc(bio, pcache_bio_range(bio, pb->iter,
								   s - pb->off,
								   t - s));
		pcache_key_fill(&key, n, crc);
		if (pcache_kset_append(c, &key)) {
			pcache_extent_free(n);
			break;
		}
		pcache_seg_get(c, pos.seg);
		pcache_index_insert(c, st, n, &spare);
		if (spare) {
			pcache_extent_free(spare);
			spare = NULL;
		}
		cur = t;
	}
	spin_unlock(&st->lock);
	if (spare)
		pcache_extent_free(spare);
}

static void pcache_drop_placeholders(struct pcache *c, struct pcache_bio *pb)
{
	u64 end = pb->off + pb->iter.bi_size;
	struct pcache_subtree *st = pcache_subtree_of(c, pb->off);
	struct pcache_extent *e, *next;

	spin_lock(&st->lock);
	for (e = pcache_index_first(st, pb->off); e && e->off < end; e = next) {
		next = pcache_extent_next(e);
		if (!extent_is_hit(e) && e->fill_tag == pb->fill_tag)
			pcache_index_erase(st, e);
	}
	spin_unlock(&st->lock);
}

static void pcache_fill(struct pcache *c, struct bio *bio,
			struct pcache_bio *pb)
{
	u32 len = pb->iter.bi_size, done = 0, got, crc;
	struct pcache_pos pos;

	while (done < len) {
		if (pcache_data_alloc(c, len - done, &pos, &got))
			break;
		pcache_copy_to_pmem(bio, pcache_bio_range(bio, pb->iter, done,
							  got),
				    pcache_pos_addr(c, pos), &crc, false);
		pmem_wmb();
		pcache_persist_point();
		pcache_fill_keys(c, bio, pb, done, got, pos);
		pcache_seg_put(c, pos.seg);
		done += got;
	}
}

static void pcache_fill_fn(struct work_struct *work)
{
	struct pcache_bio *pb = container_of(work, struct pcache_bio, work);
	struct bio *bio = dm_bio_from_per_bio_data(pb, sizeof(*pb));
	struct pcache *c = pb->cache;

	if (!bio->bi_status)
		pcache_fill(c, bio, pb);
	pcache_drop_placeholders(c, pb);
	pb->fill_tag = 0;
	bio_endio(bio);		/* back through pcache_end_io(), done now */
}

/*
 * A remapped read completed (possibly in interrupt context).  When it owns
 * a placeholder, finish it in process context: the fill takes the subtree
 * lock and copies to pmem.
 */
int pcache_end_io(struct pcache *c, struct bio *bio, blk_status_t *err)
{
	struct pcache_bio *pb = pcache_bio_of(bio);

	if (bio_op(bio) != REQ_OP_READ || !pb->fill_tag)
		return DM_ENDIO_DONE;
	pb->cache = c;
	INIT_WORK(&pb->work, pcache_fill_fn);
	queue_work(c->wq, &pb->work);
	return DM_ENDIO_INCOMPLETE;
}

/* ---- entry points ---- */

int pcache_map_bio(struct pcache *c, struct bio *bio)
{
	struct pcache_bio *pb = pcache_bio_of(bio);
	int r;

	pb->state = 0;
	pb->fill_tag = 0;
	pb->done = 0;
	pb->iter = bio->bi_iter;
	pb->off = (u64)dm_target_offset(c->ti, bio->bi_iter.bi_sector) <<
		SECTOR_SHIFT;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		return pcache_map_read(c, bio, pb);
	case REQ_OP_WRITE:
	case REQ_OP_FLUSH:
		r = pcache_handle_write(c, bio, pb);
		if (r == -EBUSY) {
			pcache_defer(c, bio);
		} else if (r) {
			bio->bi_status = errno_to_blk_status(r);
			bio_endio(bio);
		}
		return DM_MAPIO_SUBMITTED;
	default:
		return DM_MAPIO_KILL;
	}
}
