// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: writeback.
 *
 * One worker (a delayed work item never runs concurrently with itself)
 * walks the key log from dirty_tail in log order.  A pass takes whole
 * ksets, as many as fit in PCACHE_WB_KEYS_MAX keys (one full kset, or
 * several small ones such as FUA writes leave), resolves overlaps
 * newer-wins as replay does, writes every dirty, non-stale piece to the
 * backing device straight from pmem, waits for all of them, FLUSHes the
 * backing device, and only then persists dirty_tail past the pass.  At
 * every completed FLUSH the backing device therefore holds the cache's
 * content as of a kset boundary of the log: a prefix of the writes.
 *
 * An I/O error (or a failed FLUSH) leaves dirty_tail where it is: the
 * pass is retried after 100 ms, doubling up to 10 s, and counted.  A kset
 * or key that fails its checks, or data that fails its CRC, is damage:
 * writeback stops and says so (issue 6 turns this into needs_check).
 *
 * The worker sleeps when dirty_tail reaches key_head; closing a kset
 * wakes it (pcache_wb_kset_closed()).  It does not write back while the
 * cache is busy and has room, though: writeback competes with the
 * application's I/O for CPU and for the backing device, and data is as
 * safe in pmem as on the disk.  pcache_wb_due() says when to go.
 */
#include <linux/delay.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>

#include "pcache.h"

#define PCACHE_WB_KEYS_MAX	(4 * PCACHE_KSET_KEYS_MAX)
/* n keys cut the backing device into at most 2n - 1 visible pieces. */
#define PCACHE_WB_PIECES_MAX	(2 * PCACHE_WB_KEYS_MAX)
#define PCACHE_WB_BACKOFF_MIN_MS	100
#define PCACHE_WB_BACKOFF_MAX_MS	10000
/*
 * Writeback waits for writeback_quiet_ms without I/O (PCACHE_WB_QUIET_MS
 * unless the message changed it) before it starts on its own,
 * or until the cache is this full (percent of the segments in use),
 */
#define PCACHE_WB_HIGH_PERCENT		50
/* and never leaves dirty data behind for longer than this under load. */
#define PCACHE_WB_MAX_DEFER_MS		30000

/*
 * A test feature: hold writeback, so tests can build a cache full of
 * dirty data (and GC, which never passes dirty_tail, has nothing to do).
 */
static bool writeback_hold;
module_param(writeback_hold, bool, 0644);
MODULE_PARM_DESC(writeback_hold,
		 "Test feature: keep dirty data in the cache (no writeback)");

static void pcache_wb_fn(struct work_struct *work);
static unsigned long pcache_wb_throttle(struct pcache *c);

int pcache_wb_init(struct pcache *c)
{
	struct pcache_writeback *wb = &c->wb;
	int r;

	INIT_DELAYED_WORK(&wb->work, pcache_wb_fn);
	wb->stopped = true;
	init_waitqueue_head(&wb->advanced);
	init_completion(&wb->done);
	atomic64_set(&wb->errors, 0);
	atomic_set(&wb->waiters, 0);
	wb->kset = kvmalloc(PCACHE_KSET_ONMEDIA_SIZE_MAX, GFP_KERNEL);
	wb->keys = kvmalloc_array(PCACHE_WB_KEYS_MAX, sizeof(*wb->keys),
				  GFP_KERNEL);
	wb->pieces = kvmalloc_array(PCACHE_WB_PIECES_MAX, sizeof(*wb->pieces),
				    GFP_KERNEL);
	wb->cover = kvmalloc_array(PCACHE_WB_KEYS_MAX, sizeof(*wb->cover),
				   GFP_KERNEL);
	wb->crc_buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!wb->kset || !wb->keys || !wb->pieces || !wb->cover ||
	    !wb->crc_buf)
		return -ENOMEM;
	r = bioset_init(&wb->bs, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS);
	if (r)
		return r;
	wb->bs_ready = true;
	return 0;
}

void pcache_wb_exit(struct pcache *c)
{
	struct pcache_writeback *wb = &c->wb;

	if (wb->bs_ready)
		bioset_exit(&wb->bs);
	kfree(wb->crc_buf);
	kvfree(wb->cover);
	kvfree(wb->pieces);
	kvfree(wb->keys);
	kvfree(wb->kset);
}

u64 pcache_wb_errors(struct pcache *c)
{
	return atomic64_read(&c->wb.errors);
}

/*
 * Someone needs writeback now (writes wait for space, a flush, cleaner,
 * suspend): run a pass at once, whatever pcache_wb_due() would say.  Not
 * on the I/O path.
 */
void pcache_wb_kick(struct pcache *c)
{
	struct pcache_writeback *wb = &c->wb;

	if (READ_ONCE(wb->stopped))
		return;
	WRITE_ONCE(wb->kicked, true);
	WRITE_ONCE(wb->idle, false);
	mod_delayed_work(c->wq, &wb->work, 0);
}

/*
 * A kset was closed: wake an idle writeback, which decides whether to
 * write back now.  Called on the write path: one read when writeback is
 * already awake, as it is under load.
 */
void pcache_wb_kset_closed(struct pcache *c)
{
	struct pcache_writeback *wb = &c->wb;

	if (READ_ONCE(wb->idle) && !READ_ONCE(wb->stopped)) {
		WRITE_ONCE(wb->idle, false);
		queue_delayed_work(c->wq, &wb->work,
				   msecs_to_jiffies(READ_ONCE(c->writeback_quiet_ms)));
	}
}

/*
 * writeback_rate or writeback_quiet changed: a worker waiting out the old
 * value (between passes, or for a quiet moment) looks again now.
 */
void pcache_wb_retime(struct pcache *c)
{
	if (!READ_ONCE(c->wb.stopped) && !READ_ONCE(c->wb.idle))
		mod_delayed_work(c->wq, &c->wb.work, 0);
}

/* Reads and writes the target has seen, from its per-CPU statistics. */
static u64 pcache_io_count(struct pcache *c)
{
	struct pcache_stats sum;

	pcache_stats_sum(c, &sum);
	return sum.read_hits + sum.read_misses + sum.write_hits +
		sum.write_misses;
}

/*
 * Should the worker write back now?  Yes when asked to (a kick, a flush
 * waiting, cleaner mode, writes waiting for space), when space is
 * getting short (GC is due, or PCACHE_WB_HIGH_PERCENT of the segments
 * are in use), when the target saw no I/O for writeback_quiet_ms, or
 * when it has put writeback off for PCACHE_WB_MAX_DEFER_MS.  Otherwise
 * the application keeps the CPU and the backing device to itself.
 */
static bool pcache_wb_due(struct pcache *c)
{
	struct pcache_writeback *wb = &c->wb;
	u64 io;

	if (xchg(&wb->kicked, false) || atomic_read(&wb->waiters) ||
	    READ_ONCE(c->cleaner) || pcache_writes_waiting(c) ||
	    pcache_gc_due(c) ||
	    pcache_segs_used(c) >= c->n_segs * PCACHE_WB_HIGH_PERCENT / 100 ||
	    !READ_ONCE(c->writeback_quiet_ms))
		return true;
	io = pcache_io_count(c);
	if (wb->deferred_since && io == wb->last_io)
		return true;		/* a quiet period */
	wb->last_io = io;
	if (!wb->deferred_since) {
		wb->deferred_since = jiffies ?: 1;
		return false;
	}
	/*
	 * deferred_since stays set until writeback catches up with the log
	 * (pcache_wb_fn()): once put off for too long, every pass is due.
	 */
	return time_after_eq(jiffies, wb->deferred_since +
			     msecs_to_jiffies(PCACHE_WB_MAX_DEFER_MS));
}

void pcache_wb_start(struct pcache *c)
{
	WRITE_ONCE(c->wb.stopped, false);
	WRITE_ONCE(c->wb.idle, false);
	mod_delayed_work(c->wq, &c->wb.work, 0);
}

/* Waits for a running pass, and its I/O, to finish. */
void pcache_wb_stop(struct pcache *c)
{
	WRITE_ONCE(c->wb.stopped, true);
	cancel_delayed_work_sync(&c->wb.work);
}

/* ---- a pass: which ksets, and what to write ---- */

/*
 * Decode the ksets from dirty_tail towards @head into wb->keys, in log
 * order.  Returns 0 with *end after the last kset taken, or -EINVAL with
 * *why and *at naming damage.
 */
static int pcache_wb_collect(struct pcache *c, struct pcache_pos head,
			     struct pcache_pos *end, u32 *nr_keys,
			     struct pcache_pos *at, const char **why,
			     u64 *log_bytes)
{
	struct pcache_writeback *wb = &c->wb;
	struct pcache_cache_kset_onmedia *ks = wb->kset;
	struct pcache_pos pos = c->dirty_tail;
	u32 n = 0, i, k, steps;
	u64 budget = (u64)READ_ONCE(c->writeback_rate) << 20, data = 0;
	int r;

	*log_bytes = 0;
	for (steps = 0; !pcache_pos_equal(pos, head) && steps < 64; steps++) {
		*at = pos;
		r = pcache_kset_read(c, pos, ks, why);
		if (r) {
			if (r > 0)
				*why = "invalid kset before the end of the log";
			return -EINVAL;
		}
		if (le64_to_cpu(ks->flags) & PCACHE_KSET_FLAGS_LAST) {
			pos.seg = le32_to_cpu(ks->next_cache_seg_id);
			pos.off = 0;
			*log_bytes += PCACHE_KSET_HEADER_SIZE;
			continue;
		}
		k = le32_to_cpu(ks->key_num);
		/* With a rate cap, about one second of it per pass. */
		if (n + k > PCACHE_WB_KEYS_MAX || (budget && n && data >= budget))
			break;
		*log_bytes += PCACHE_KSET_SIZE(k);
		for (i = 0; i < k; i++) {
			*why = pcache_key_decode(c, &ks->data[i], &wb->keys[n]);
			if (*why)
				return -EINVAL;
			data += wb->keys[n].len;
			n++;
		}
		pos.off += PCACHE_KSET_SIZE(k);
	}
	*end = pos;
	*nr_keys = n;
	return 0;
}

static void pcache_wb_emit(struct pcache_writeback *wb,
			   const struct pcache_key *k, u64 start, u64 end)
{
	struct pcache_wb_piece *p = &wb->pieces[wb->nr_pieces++];

	p->off = start;
	p->len = end - start;
	p->seg = k->seg;
	p->seg_off = k->seg_off + (start - k->off);
}

/*
 * Newer keys cover older ones.  Going from the newest key to the oldest,
 * emit the parts of @k that no newer key covers (when @k is dirty), then
 * add @k to the covered ranges, kept sorted and disjoint in wb->cover.
 * Returns whether anything was emitted.
 */
static bool pcache_wb_resolve_key(struct pcache_writeback *wb,
				  const struct pcache_key *k, bool dirty)
{
	struct pcache_range *cv = wb->cover;
	u64 start = k->off, end = k->off + k->len, cur = start;
	u32 n = wb->nr_cover, lo = 0, hi = n, mid, first, i;
	bool emitted = false;
	struct pcache_range merged;

	while (lo < hi) {		/* the first range ending after start */
		mid = (lo + hi) / 2;
		if (cv[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	for (i = first; i < n && cv[i].start < end; i++) {
		if (dirty && cv[i].start > cur) {
			pcache_wb_emit(wb, k, cur, cv[i].start);
			emitted = true;
		}
		cur = max(cur, cv[i].end);
	}
	if (dirty && cur < end) {
		pcache_wb_emit(wb, k, cur, end);
		emitted = true;
	}
	/* Ranges first .. i - 1 overlap the key: merge them into one. */
	merged.start = first < i ? min(start, cv[first].start) : start;
	merged.end = first < i ? max(end, cv[i - 1].end) : end;
	if (first == i) {
		memmove(&cv[first + 1], &cv[first], (n - first) * sizeof(*cv));
		n++;
	} else {
		memmove(&cv[first + 1], &cv[i], (n - i) * sizeof(*cv));
		n -= i - first - 1;
	}
	cv[first] = merged;
	wb->nr_cover = n;
	return emitted;
}

static int pcache_wb_piece_cmp(const void *a, const void *b)
{
	const struct pcache_wb_piece *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * From the keys of a pass to the pieces to write, sorted by backing
 * offset.  Stale keys (their segment was reused) hold no data and hide
 * nothing; CLEAN keys hide older data but are already on the backing
 * device.  With data_crc, a key whose data will be written has its CRC
 * checked first.
 */
static int pcache_wb_resolve(struct pcache *c, u32 nr_keys, const char **why,
			     u32 *bad_key)
{
	struct pcache_writeback *wb = &c->wb;
	const struct pcache_key *k;
	bool dirty;
	u32 i, crc;

	wb->nr_pieces = 0;
	wb->nr_cover = 0;
	for (i = nr_keys; i-- > 0;) {
		k = &wb->keys[i];
		if (k->gen < READ_ONCE(c->segs[k->seg].gen))
			continue;
		dirty = !(k->flags & PCACHE_KEY_FLAGS_CLEAN);
		if (!pcache_wb_resolve_key(wb, k, dirty) || !c->opts.data_crc)
			continue;
		if (pcache_key_data_crc(c, k, wb->crc_buf, &crc)) {
			*why = "media error reading cached data";
			*bad_key = i;
			return -EIO;
		}
		if (crc != k->data_crc) {
			*why = "data CRC mismatch";
			*bad_key = i;
			return -EINVAL;
		}
	}
	sort(wb->pieces, wb->nr_pieces, sizeof(*wb->pieces),
	     pcache_wb_piece_cmp, NULL);
	return 0;
}

/* ---- the I/O ---- */

static void pcache_wb_endio(struct bio *bio)
{
	struct pcache *c = bio->bi_private;

	if (bio->bi_status)
		WRITE_ONCE(c->wb.status, bio->bi_status);
	bio_put(bio);
	if (atomic_dec_and_test(&c->wb.inflight))
		complete(&c->wb.done);
}

static void pcache_wb_submit(struct pcache *c, struct bio *bio)
{
	atomic_inc(&c->wb.inflight);
	if (pcache_frozen()) {
		bio_endio(bio);		/* dropped, as by a power cut */
		return;
	}
	submit_bio(bio);
}

/*
 * With a linear kernel mapping of the cache device (not vmapped) the
 * pages of a piece are contiguous: one bio_vec per piece.
 */
static u32 pcache_wb_piece_vecs(struct pcache *c,
				const struct pcache_wb_piece *p)
{
	void *addr = pcache_seg_data(c, p->seg) + p->seg_off;

	if (c->pmem_linear)
		return 1;
	return DIV_ROUND_UP(offset_in_page(addr) + p->len, PAGE_SIZE);
}

static struct bio *pcache_wb_bio_alloc(struct pcache *c, u32 first, u64 off)
{
	struct pcache_writeback *wb = &c->wb;
	u32 vecs = 0, i = first;
	struct bio *bio;

	/* Size it for the run of pieces contiguous on the backing device. */
	do {
		vecs += pcache_wb_piece_vecs(c, &wb->pieces[i]);
		i++;
	} while (i < wb->nr_pieces && vecs < BIO_MAX_VECS &&
		 wb->pieces[i].off == wb->pieces[i - 1].off +
				      wb->pieces[i - 1].len);
	vecs = min_t(u32, vecs, BIO_MAX_VECS);
	bio = bio_alloc_bioset(c->backing_bdev, vecs, REQ_OP_WRITE,
			       GFP_NOIO, &wb->bs);
	bio->bi_iter.bi_sector = off >> SECTOR_SHIFT;
	bio->bi_end_io = pcache_wb_endio;
	bio->bi_private = c;
	return bio;
}

/*
 * Write every piece straight from pmem: pieces that follow each other on
 * the backing device share a bio.  Waits for all of them.
 */
static int pcache_wb_write(struct pcache *c)
{
	struct pcache_writeback *wb = &c->wb;
	struct bio *bio = NULL;
	struct blk_plug plug;
	u64 next_off = 0;
	u32 i, len, n;
	void *addr;

	WRITE_ONCE(wb->status, BLK_STS_OK);
	reinit_completion(&wb->done);
	atomic_set(&wb->inflight, 1);
	blk_start_plug(&plug);
	for (i = 0; i < wb->nr_pieces; i++) {
		const struct pcache_wb_piece *p = &wb->pieces[i];

		if (bio && p->off != next_off) {
			pcache_wb_submit(c, bio);
			bio = NULL;
		}
		addr = pcache_seg_data(c, p->seg) + p->seg_off;
		len = p->len;
		while (len) {
			n = c->pmem_linear ? len :
				min_t(u32, len, PAGE_SIZE - offset_in_page(addr));
			if (!bio)
				bio = pcache_wb_bio_alloc(c, i, p->off + p->len - len);
			if (bio_add_page(bio, c->pmem_linear ? virt_to_page(addr) :
					 vmalloc_to_page(addr), n,
					 offset_in_page(addr)) != n) {
				pcache_wb_submit(c, bio);	/* full */
				bio = NULL;
				continue;
			}
			addr += n;
			len -= n;
		}
		next_off = p->off + p->len;
	}
	if (bio)
		pcache_wb_submit(c, bio);
	blk_finish_plug(&plug);
	if (!atomic_dec_and_test(&wb->inflight))
		wait_for_completion_io(&wb->done);
	return blk_status_to_errno(READ_ONCE(wb->status));
}

/* The backing device's cache, written out: a persistence point. */
static int pcache_wb_flush(struct pcache *c)
{
	int r;

	if (pcache_frozen())
		return 0;
	r = blkdev_issue_flush(c->backing_bdev);
	if (!r)
		pcache_persist_point();
	return r;
}

/* ---- the worker ---- */

static void pcache_wb_damage(struct pcache *c, struct pcache_pos at,
			     const char *why, u32 key)
{
	struct pcache_writeback *wb = &c->wb;

	atomic64_inc(&wb->errors);
	wb->broken = true;
	pcache_log_damage(c, "writeback", at, key, why);
}

/* One pass.  0: done (or nothing to do), -EIO: retry later, else damage. */
static int pcache_wb_pass(struct pcache *c, struct pcache_pos head)
{
	struct pcache_writeback *wb = &c->wb;
	struct pcache_pos start = c->dirty_tail, end, at;
	const char *why = NULL;
	u32 nr_keys, bad_key, i;
	u64 log_bytes;
	s64 dirty = 0;
	int r;

	r = pcache_wb_collect(c, head, &end, &nr_keys, &at, &why, &log_bytes);
	if (r) {
		pcache_wb_damage(c, at, why, U32_MAX);
		return r;
	}
	r = pcache_wb_resolve(c, nr_keys, &why, &bad_key);
	if (r) {
		pcache_wb_damage(c, start, why, bad_key);
		return r == -EIO ? -EINVAL : r;
	}
	if (wb->nr_pieces) {
		r = pcache_wb_write(c);
		if (!r)
			r = pcache_wb_flush(c);
		if (r) {
			atomic64_inc(&wb->errors);
			wb->backoff_ms = clamp(wb->backoff_ms * 2,
					       PCACHE_WB_BACKOFF_MIN_MS,
					       PCACHE_WB_BACKOFF_MAX_MS);
			pcache_err_limit(c, "writeback of the ksets from %u:%u failed (%d): data stays dirty, retrying in %u ms",
					 start.seg, start.off, r, wb->backoff_ms);
			return -EIO;
		}
	}
	if (wb->backoff_ms) {
		pcache_info(c, "writeback resumed at %u:%u", start.seg, start.off);
		wb->backoff_ms = 0;
	}
	pcache_dirty_tail_persist(c, end);
	/* What replay and the write path counted, uncounted. */
	wb->pass_bytes = 0;
	for (i = 0; i < nr_keys; i++)
		if (!(wb->keys[i].flags & PCACHE_KEY_FLAGS_CLEAN))
			dirty += wb->keys[i].len;
	for (i = 0; i < wb->nr_pieces; i++)
		wb->pass_bytes += wb->pieces[i].len;
	this_cpu_sub(c->stats->dirty_bytes, dirty);
	WRITE_ONCE(wb->consumed, wb->consumed + log_bytes);
	wake_up_all(&wb->advanced);
	if (pcache_gc_due(c))
		pcache_gc_kick(c);
	return 0;
}

static void pcache_wb_fn(struct work_struct *work)
{
	struct pcache *c = container_of(to_delayed_work(work), struct pcache,
					wb.work);
	struct pcache_writeback *wb = &c->wb;
	struct pcache_pos head;
	int r;

	if (READ_ONCE(wb->stopped) || wb->broken || pcache_frozen() ||
	    !pcache_meta_rw(c))
		return;
	if (READ_ONCE(writeback_hold)) {
		queue_delayed_work(c->wq, &wb->work, HZ);
		return;
	}
	/*
	 * Declare idle before looking at key_head: a kset closed after the
	 * look sees idle and kicks (the head lock orders the two).
	 */
	WRITE_ONCE(wb->idle, true);
	spin_lock(&c->head_lock);
	head = c->key_head;
	spin_unlock(&c->head_lock);
	if (pcache_pos_equal(c->dirty_tail, head)) {
		wb->deferred_since = 0;
		return;
	}
	WRITE_ONCE(wb->idle, false);
	if (!pcache_wb_due(c)) {
		queue_delayed_work(c->wq, &wb->work,
				   msecs_to_jiffies(READ_ONCE(c->writeback_quiet_ms)));
		return;
	}

	r = pcache_wb_pass(c, head);
	if (r == -EIO)
		queue_delayed_work(c->wq, &wb->work,
				   msecs_to_jiffies(wb->backoff_ms));
	else if (!r)
		queue_delayed_work(c->wq, &wb->work, pcache_wb_throttle(c));
}

/*
 * The writeback_rate cap (MiB/s, 0: none): after a pass that wrote B
 * bytes, wait B / rate before the next one.
 */
static unsigned long pcache_wb_throttle(struct pcache *c)
{
	u32 rate = READ_ONCE(c->writeback_rate);

	if (!rate || !c->wb.pass_bytes)
		return 0;
	return div64_u64((u64)c->wb.pass_bytes * HZ, (u64)rate << 20);
}

/*
 * The flush message: close every kset, then wait until writeback has
 * passed every kset written so far, that is every dirty byte written
 * before the message is on the backing device and flushed there.  Returns
 * early with -EINTR on a signal, -EIO when writeback fails or stops for
 * good (damage, read-only metadata).
 */
static int __pcache_wb_flush_wait(struct pcache *c)
{
	struct pcache_writeback *wb = &c->wb;
	u64 errors = pcache_wb_errors(c), target;
	long left;
	int r;

	while (pcache_kset_close_all(c)) {
		pcache_wb_kick(c);
		pcache_gc_kick(c);
		if (msleep_interruptible(100))
			return -EINTR;
		if (!pcache_meta_rw(c))
			return -EIO;
	}
	spin_lock(&c->head_lock);
	target = c->log_produced;
	spin_unlock(&c->head_lock);
	pcache_wb_kick(c);
	for (;;) {
		left = wait_event_interruptible_timeout(wb->advanced,
				READ_ONCE(wb->consumed) >= target ||
				wb->broken || !pcache_meta_rw(c), HZ);
		if (left < 0)
			return -EINTR;
		if (READ_ONCE(wb->consumed) >= target)
			break;
		if (wb->broken || !pcache_meta_rw(c))
			return -EIO;
		if (pcache_wb_errors(c) != errors) {
			pcache_err(c, "flush: writeback failed, dirty data stays in the cache");
			return -EIO;
		}
	}
	if (READ_ONCE(c->backing_written) && xchg(&c->backing_written, false)) {
		r = blkdev_issue_flush(c->backing_bdev);
		if (r)
			return r;
	}
	return 0;
}

/* Writeback runs without pause while a flush waits (pcache_wb_due()). */
int pcache_wb_flush_wait(struct pcache *c)
{
	int r;

	atomic_inc(&c->wb.waiters);
	r = __pcache_wb_flush_wait(c);
	atomic_dec(&c->wb.waiters);
	return r;
}
