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
 *
 * Cache modes (docs/target.md, man/pcache.7).  A write takes one policy,
 * chosen inside an io_srcu read section so that a mode switch can wait for
 * every write that chose under the old mode:
 *
 *   WB      writeback: data and a dirty key into the cache, done.
 *   WT      writethrough: data and a CLEAN key into the cache (kset closed
 *           for FUA), then the bio goes on to the backing device.  With no
 *           space it falls back to AROUND for the rest of the bio.
 *   AROUND  writearound, passthrough: to the backing device only.  Cached
 *           data it overlaps is invalidated first, durably (a generation
 *           bump of its segments: the cache holds nothing dirty in these
 *           modes), and read misses of the region are not cached while it
 *           is in flight (they may have read what it replaces).
 *   CLEANER writeback with the cleaner on: writes over cached data are
 *           cached (they may overlap dirty data), others go AROUND.
 *   RO      read-only metadata: AROUND, but a write over cached data, which
 *           could not be invalidated durably, fails with -EIO.
 *
 * A FLUSH closes every kset, and goes on to the backing device when a
 * write went there since the last one.
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
	k->flags = cpu_to_le32(e->flags & ~PCACHE_EXTENT_CRC_OK);
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
			     u32 crc, struct pcache_bio *pb)
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
	e->key_seg_off = e->seg_off;
	e->key_len = e->len;
	e->data_crc = crc;
	spin_lock(&st->lock);
	r = pcache_kset_append(c, &key);
	if (!r && pcache_index_insert(c, st, e, &spare))
		pb->state |= PCACHE_BIO_HIT;
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
		e->flags = pb->state & PCACHE_BIO_CLEAN ?
			PCACHE_KEY_FLAGS_CLEAN : 0;
		e->seg = pos.seg;
		e->seg_off = pos.off;
		e->gen = READ_ONCE(c->segs[pos.seg].gen);
		r = pcache_key_commit(c, e, c->opts.data_crc ? crc : 0, pb);
		if (r) {
			pcache_seg_put(c, pos.seg);
			return r;
		}
		if (!(pb->state & PCACHE_BIO_CLEAN))
			this_cpu_add(c->stats->dirty_bytes, got);
		pb->done += got;
	}
	return 0;
}

/* ---- write-around ---- */

/*
 * Start a write that goes to the backing device only, in one region.
 * When [off, off + len) holds cached data, nothing is changed and true is
 * returned.  Otherwise the read-miss placeholders of the range are dropped
 * (their fills would cache what this write replaces) and the write is
 * counted in writes_around until it completes.
 */
static bool pcache_around_begin(struct pcache *c, struct pcache_bio *pb,
				u64 off, u32 len)
{
	struct pcache_subtree *st = pcache_subtree_of(c, off);
	struct pcache_extent *e, *next;
	u64 end = off + len;

	spin_lock(&st->lock);
	for (e = pcache_index_first(st, off); e && e->off < end; e = next) {
		next = pcache_extent_next(e);
		if (pcache_extent_stale(c, e)) {
			pcache_index_erase(st, e);
		} else if (extent_is_hit(e)) {
			spin_unlock(&st->lock);
			return true;
		}
	}
	for (e = pcache_index_first(st, off); e && e->off < end; e = next) {
		next = pcache_extent_next(e);
		pcache_index_erase(st, e);	/* placeholders only, now */
	}
	atomic_inc(&st->writes_around);
	pb->state |= PCACHE_BIO_AROUND;
	spin_unlock(&st->lock);
	return false;
}

/*
 * Invalidate the cached data of [off, off + len) (one region) for good:
 * bump the generation of every segment holding some of it, on media
 * first.  That drops every key of those segments, so the cache must hold
 * nothing dirty (modes other than writeback).  Each round removes one
 * segment from the range; bounded by the segment count.
 */
static int pcache_invalidate_range(struct pcache *c, u64 off, u32 len)
{
	struct pcache_subtree *st = pcache_subtree_of(c, off);
	struct pcache_extent *e;
	u64 end = off + len;
	u32 rounds, seg;
	bool found;

	for (rounds = 0; rounds <= c->n_segs; rounds++) {
		found = false;
		spin_lock(&st->lock);
		for (e = pcache_lookup(c, st, off); e && e->off < end;
		     e = pcache_extent_next(e)) {
			if (extent_is_hit(e) && !pcache_extent_stale(c, e)) {
				seg = e->seg;
				found = true;
				break;
			}
		}
		spin_unlock(&st->lock);
		if (!found)
			return 0;
		pcache_seg_invalidate(c, seg);
	}
	return -EIO;
}

/* Invalidate any cached data, then start the write-around. */
static int pcache_around_invalidate_begin(struct pcache *c,
					  struct pcache_bio *pb, u64 off,
					  u32 len)
{
	int tries, r;

	for (tries = 0; tries < 8; tries++) {
		if (!pcache_around_begin(c, pb, off, len))
			return 0;
		pb->state |= PCACHE_BIO_HIT;
		r = pcache_invalidate_range(c, off, len);
		if (r)
			return r;
	}
	return -EIO;
}

static void pcache_count_write(struct pcache *c, struct pcache_bio *pb)
{
	if (pb->state & PCACHE_BIO_HIT)
		pcache_stat_inc(c, write_hits);
	else
		pcache_stat_inc(c, write_misses);
}

/* Send a write (or an empty flush) on to the backing device. */
static void pcache_remap_backing(struct pcache *c, struct bio *bio,
				 struct pcache_bio *pb)
{
	/* Read first: one shared line, written only when it changes. */
	if (op_is_write(bio_op(bio)) && !READ_ONCE(c->backing_written))
		WRITE_ONCE(c->backing_written, true);
	bio_set_dev(bio, c->backing_bdev);
	bio->bi_iter.bi_sector = pb->off >> SECTOR_SHIFT;
}

/* ---- writes ---- */

enum pcache_policy {
	PCACHE_POL_WB,
	PCACHE_POL_WT,
	PCACHE_POL_AROUND,
	PCACHE_POL_CLEANER,
	PCACHE_POL_RO,
};

static enum pcache_policy pcache_write_policy(struct pcache *c)
{
	u32 mode = READ_ONCE(c->mode);

	if (!pcache_meta_rw(c))
		return PCACHE_POL_RO;
	if (mode == PCACHE_CACHE_MODE_WRITEBACK) {
		if (READ_ONCE(c->cleaner))
			return PCACHE_POL_CLEANER;
		return READ_ONCE(c->no_dirty) ? PCACHE_POL_WT : PCACHE_POL_WB;
	}
	if (mode == PCACHE_CACHE_MODE_WRITETHROUGH && !READ_ONCE(c->cleaner))
		return PCACHE_POL_WT;
	return PCACHE_POL_AROUND;
}

/*
 * The cache part of a write (or flush) kept in the cache, from where it
 * stopped.  0: done; -EBUSY: wait for space.  A write-through that finds
 * no space writes the rest around the cache instead of waiting.
 */
static int pcache_write_cached(struct pcache *c, struct bio *bio,
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
		if (r && (pb->state & PCACHE_BIO_CLEAN) &&
		    !(pb->state & PCACHE_BIO_AROUND)) {
			r = pcache_around_invalidate_begin(c, pb,
							   pb->off + pb->done,
							   pb->iter.bi_size - pb->done);
		}
		if (r)
			return r;
		pb->state |= PCACHE_BIO_WRITTEN;
	}
	if ((bio->bi_opf & REQ_FUA) && pb->iter.bi_size) {
		r = pcache_kset_close_region(c, pb->off);
		if (r)
			return r;
	}
	return 0;
}

/*
 * Process a write or flush from where it stopped.  DM_MAPIO_SUBMITTED
 * (completed or failed), DM_MAPIO_REMAPPED (on to the backing device), or
 * -EBUSY: wait for space.
 */
static int pcache_handle_write(struct pcache *c, struct bio *bio,
			       struct pcache_bio *pb)
{
	bool to_backing = pb->state & PCACHE_BIO_CLEAN;
	int r;

	r = pcache_write_cached(c, bio, pb);
	if (r == -EBUSY)
		return r;
	if (r) {
		bio->bi_status = errno_to_blk_status(r);
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	if (!pb->iter.bi_size) {
		/* An empty flush: the backing device's cache too, if used. */
		to_backing = READ_ONCE(c->backing_written) &&
			xchg(&c->backing_written, false);
	} else {
		pcache_count_write(c, pb);
	}
	if (to_backing) {
		pcache_remap_backing(c, bio, pb);
		return DM_MAPIO_REMAPPED;
	}
	pcache_fault_ack();
	bio_endio(bio);
	return DM_MAPIO_SUBMITTED;
}

/* A write that goes to the backing device only (AROUND, CLEANER, RO). */
static int pcache_write_around(struct pcache *c, struct bio *bio,
			       struct pcache_bio *pb, enum pcache_policy pol)
{
	u32 len = pb->iter.bi_size;
	int r = 0;

	if (pol == PCACHE_POL_RO) {
		/*
		 * Cached data could not be invalidated on media, and data
		 * the index dropped (discard) may come back at the next load.
		 */
		if (pcache_around_begin(c, pb, pb->off, len) ||
		    READ_ONCE(c->index_diverged)) {
			if (pb->state & PCACHE_BIO_AROUND)
				atomic_dec(&pcache_subtree_of(c, pb->off)->writes_around);
			pb->state &= ~PCACHE_BIO_AROUND;
			pcache_stat_inc(c, write_hits);
			pcache_err_limit(c, "metadata is read-only: write at %llu over cached data fails",
					 pb->off);
			r = -EIO;
		}
	} else if (pol == PCACHE_POL_CLEANER) {
		/*
		 * Over cached (maybe dirty) data, or after a discard dropped
		 * dirty data writeback will still write: keep it in the
		 * cache, in log order after them.
		 */
		if (READ_ONCE(c->index_diverged) ||
		    pcache_around_begin(c, pb, pb->off, len))
			return pcache_handle_write(c, bio, pb);
	} else {
		r = pcache_around_invalidate_begin(c, pb, pb->off, len);
	}
	if (r) {
		bio->bi_status = errno_to_blk_status(r);
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	pcache_count_write(c, pb);
	pcache_remap_backing(c, bio, pb);
	return DM_MAPIO_REMAPPED;
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
		if (r == DM_MAPIO_REMAPPED)
			dm_submit_bio_remap(bio, NULL);
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


/*
 * data_crc: check the CRC of the whole key @e was cut from, read from pmem
 * with machine-check safe copies through this CPU's bounce page (the
 * subtree lock is held: no preemption).  0: good; -EILSEQ: mismatch;
 * -EIO: media error.  Keys up to PCACHE_HIT_CRC_EVERY_MAX are checked on
 * every hit; longer ones (a key covers a whole write: up to 4 MiB) on the
 * first hit of each extent after the key entered the index (write, fill
 * or load), since checking megabytes for every 4 KiB hit made warm reads
 * 100x slower (bench/README.md).
 */
#define PCACHE_HIT_CRC_EVERY_MAX	(64 << 10)

static int pcache_hit_crc_check(struct pcache *c, struct pcache_extent *e)
{
	u32 crc;
	int r;

	r = pcache_pmem_data_crc(c, e->seg, e->key_seg_off, e->key_len,
				 this_cpu_ptr(c->crc_bounce), &crc);
	if (r)
		return r;
	return crc == e->data_crc ? 0 : -EILSEQ;
}

/*
 * Drop from the index every extent cut from the same key as @e (same
 * segment and generation, inside the key's data).
 */
static void pcache_drop_key_extents(struct pcache *c, struct pcache_subtree *st,
				    struct pcache_extent *e)
{
	u32 seg = e->seg, key_off = e->key_seg_off, key_len = e->key_len;
	u64 gen = e->gen, lo = e->off - (e->seg_off - key_off);
	struct pcache_extent *x, *next;

	for (x = pcache_index_first(st, lo); x && x->off < lo + key_len;
	     x = next) {
		next = pcache_extent_next(x);
		if (extent_is_hit(x) && x->seg == seg && x->gen == gen &&
		    x->key_seg_off == key_off && x->key_len == key_len)
			pcache_index_erase(st, x);
	}
}

static int pcache_read_miss(struct pcache *c, struct pcache_subtree *st,
			    struct pcache_extent *e, struct bio *bio,
			    struct pcache_bio *pb);

/*
 * Serve the cached run at the start of the bio; cut the bio after it.
 * Called with the subtree locked; unlocks it.
 */
static int pcache_read_hits(struct pcache *c, struct pcache_subtree *st,
			    struct pcache_extent *e, struct bio *bio,
			    struct pcache_bio *pb)
{
	u32 len = bio->bi_iter.bi_size, done = 0, n;
	bool crc = c->opts.data_crc, dirty_bad = false;
	u64 end = pb->off + len, pos, heals;
	int r = 0;

	for (;;) {
		if (crc && (e->key_len <= PCACHE_HIT_CRC_EVERY_MAX ||
			    !(e->flags & PCACHE_EXTENT_CRC_OK))) {
			r = pcache_hit_crc_check(c, e);
			if (!r)
				e->flags |= PCACHE_EXTENT_CRC_OK;
			if (r == -EILSEQ && (e->flags & PCACHE_KEY_FLAGS_CLEAN)) {
				/*
				 * A clean copy is on the backing device:
				 * drop this one and read the range there.
				 */
				pos = pb->off + done;
				pcache_drop_key_extents(c, st, e);
				pcache_stat_inc(c, crc_heals);
				heals = pcache_crc_heals(c);
				pcache_err_limit(c, "data CRC mismatch in clean cached data at %llu (segment %u+%u): dropped from the cache, read from the backing device (%llu so far)",
						 pos, e->seg, e->key_seg_off, heals);
				r = 0;
				if (!done) {
					e = pcache_lookup(c, st, pb->off);
					return pcache_read_miss(c, st, e, bio, pb);
				}
				break;
			}
			if (r == -EILSEQ) {
				dirty_bad = true;
				r = -EIO;
			}
			if (r)
				break;
		}
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
	pcache_stat_inc(c, read_hits);
	if (dirty_bad) {
		pcache_err_limit(c, "data CRC mismatch in dirty cached data at %llu: read fails",
				 pb->off + done);
		pcache_metadata_failed(c, "data CRC mismatch in dirty cached data");
		bio->bi_status = BLK_STS_IOERR;
	} else if (r) {
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

	pcache_stat_inc(c, read_misses);
	if (pcache_meta_rw(c) && !atomic_read(&st->writes_around) &&
	    (READ_ONCE(c->free_segs) > c->log_reserve ||
	     READ_ONCE(raw_cpu_ptr(c->data_heads)->valid))) {
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
	pcache_remap_backing(c, bio, pb);
	return DM_MAPIO_REMAPPED;
}

static int pcache_map_read(struct pcache *c, struct bio *bio,
			   struct pcache_bio *pb)
{
	struct pcache_subtree *st = pcache_subtree_of(c, pb->off);
	struct pcache_extent *e;

	if (READ_ONCE(c->mode) == PCACHE_CACHE_MODE_PASSTHROUGH) {
		/* The cache is clean: the backing device has it all. */
		pcache_stat_inc(c, read_misses);
		pcache_remap_backing(c, bio, pb);
		return DM_MAPIO_REMAPPED;
	}
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
		n->key_seg_off = n->seg_off;
		n->key_len = n->len;
		n->data_crc = crc;
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

	if (!bio->bi_status && pcache_meta_rw(c))
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

	if (pb->state & PCACHE_BIO_AROUND) {
		pb->state &= ~PCACHE_BIO_AROUND;
		atomic_dec(&pcache_subtree_of(c, pb->off)->writes_around);
	}
	if (bio_op(bio) != REQ_OP_READ || !pb->fill_tag)
		return DM_ENDIO_DONE;
	pb->cache = c;
	INIT_WORK(&pb->work, pcache_fill_fn);
	queue_work(c->wq, &pb->work);
	return DM_ENDIO_INCOMPLETE;
}

/* ---- discards ---- */

/*
 * Drop the cached data of a discarded range, then pass the discard down.
 * In writeback mode that is the index only (the range may hold dirty
 * data of other ranges' segments): after a reload, or once dirty data of
 * the range is written back, the range may show its old content again,
 * which a discarded range may.  In the other modes the cache is clean and
 * the invalidation is durable.
 */
void pcache_discard_range(struct pcache *c, u64 off, u64 len)
{
	u64 end = off + len, cur = off, stop;

	if (READ_ONCE(c->mode) != PCACHE_CACHE_MODE_WRITEBACK) {
		while (cur < end) {
			stop = min(end, round_down(cur, PCACHE_SUBTREE_SIZE) +
				   PCACHE_SUBTREE_SIZE);
			pcache_invalidate_range(c, cur, stop - cur);
			cur = stop;
		}
	}
	if (pcache_index_drop_range(c, off, len) == 0 &&
	    READ_ONCE(c->mode) == PCACHE_CACHE_MODE_WRITEBACK)
		WRITE_ONCE(c->index_diverged, true);
}

/* ---- entry points ---- */

void pcache_stats_sum(struct pcache *c, struct pcache_stats *sum)
{
	const struct pcache_stats *s;
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		s = per_cpu_ptr(c->stats, cpu);
		sum->read_hits += READ_ONCE(s->read_hits);
		sum->read_misses += READ_ONCE(s->read_misses);
		sum->write_hits += READ_ONCE(s->write_hits);
		sum->write_misses += READ_ONCE(s->write_misses);
		sum->dirty_bytes += READ_ONCE(s->dirty_bytes);
		sum->crc_heals += READ_ONCE(s->crc_heals);
	}
}

s64 pcache_dirty_bytes(struct pcache *c)
{
	struct pcache_stats sum;

	pcache_stats_sum(c, &sum);
	return sum.dirty_bytes;
}

u64 pcache_crc_heals(struct pcache *c)
{
	struct pcache_stats sum;

	pcache_stats_sum(c, &sum);
	return sum.crc_heals;
}

/*
 * The invalidate message, and a switch out of writeback after a discard:
 * every segment gets a new generation (on media first), so nothing cached
 * survives a reload either; the index is emptied.  The caller made sure
 * nothing is dirty and no write can make anything dirty meanwhile.
 */
int pcache_invalidate_all(struct pcache *c)
{
	u32 seg, n = 0;

	for (seg = 0; seg < c->n_segs; seg++) {
		if (!test_bit(seg, c->seg_used))
			continue;
		pcache_seg_invalidate(c, seg);
		n++;
		if (!(n % 256))
			cond_resched();
	}
	pcache_index_drop_all(c);
	WRITE_ONCE(c->index_diverged, false);
	pcache_info(c, "invalidated the cached data of %u segments", n);
	return 0;
}

static int pcache_map_write(struct pcache *c, struct bio *bio,
			    struct pcache_bio *pb)
{
	enum pcache_policy pol;
	int idx, r;

	idx = srcu_read_lock(&c->io_srcu);
	pol = pcache_write_policy(c);
	if (!pb->iter.bi_size || pol == PCACHE_POL_WB || pol == PCACHE_POL_WT) {
		if (pol == PCACHE_POL_WT)
			pb->state |= PCACHE_BIO_CLEAN;
		r = pcache_handle_write(c, bio, pb);
		if (r == -EBUSY) {
			pcache_defer(c, bio);
			r = DM_MAPIO_SUBMITTED;
		}
	} else {
		r = pcache_write_around(c, bio, pb, pol);
		if (r == -EBUSY) {
			pcache_defer(c, bio);
			r = DM_MAPIO_SUBMITTED;
		}
	}
	srcu_read_unlock(&c->io_srcu, idx);
	return r;
}

int pcache_map_bio(struct pcache *c, struct bio *bio)
{
	struct pcache_bio *pb = pcache_bio_of(bio);

	pb->state = 0;
	pb->fill_tag = 0;
	pb->done = 0;
	pb->iter = bio->bi_iter;
	pb->off = (u64)dm_target_offset(c->ti, bio->bi_iter.bi_sector) <<
		SECTOR_SHIFT;

	if (unlikely(READ_ONCE(c->meta_mode) == PCACHE_META_FAIL))
		return DM_MAPIO_KILL;
	switch (bio_op(bio)) {
	case REQ_OP_READ:
		return pcache_map_read(c, bio, pb);
	case REQ_OP_WRITE:
	case REQ_OP_FLUSH:
		return pcache_map_write(c, bio, pb);
	case REQ_OP_DISCARD:
		if (pcache_meta_rw(c))
			pcache_discard_range(c, pb->off, pb->iter.bi_size);
		pcache_remap_backing(c, bio, pb);
		return DM_MAPIO_REMAPPED;
	default:
		return DM_MAPIO_KILL;
	}
}
