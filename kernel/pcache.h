/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcache: persistent-memory block cache, device-mapper target.
 *
 * Layers (one .c file each):
 *   cache_dev.c   the DAX mapping, replicated metadata records, superblock,
 *                 format
 *   cache_meta.c  cache_info, the segment chain, tails; loading a cache
 *   cache_seg.c   segment allocator, references, per-CPU data heads
 *   cache_index.c the index: one rb-tree of extents per 4 MiB subtree
 *   cache_log.c   kset buffers, the key log (close path) and replay
 *   cache_req.c   the I/O paths: writes, read hits, misses and fills, flush
 *   cache_wb.c    writeback: dirty keys to the backing device, in log order
 *   cache_gc.c    garbage collection: key_tail forward, segments freed
 *   dm_pcache.c   the device-mapper glue: ctr/dtr/map/status/message
 *   crc.c         choice of the CRC-32C implementation
 *   fault.c       fault injection for the crash tests (off unless armed)
 *
 * Glossary: a *key* maps a logical byte range of the backing device to a
 * range of a cache segment; keys are written in *ksets* (up to 128 keys)
 * to the *key log*, a chain of key segments from key_tail to key_head.
 * Every layout fact comes from <pcache/pcache_format.h>.
 *
 * Lock order: subtree -> kset -> key_head -> segment allocator, and
 * gen_lock innermost.
 * A data head lock is never held together with a subtree lock.
 *
 * Log pointers on media always satisfy key_tail <= dirty_tail <= key_head:
 * writeback persists dirty_tail only after the backing device has flushed
 * the data it passes, and GC moves key_tail only up to a persisted
 * dirty_tail and drops a segment's references only after key_tail passed
 * its keys on media.
 */
#ifndef PCACHE_H
#define PCACHE_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include <pcache/pcache_format.h>
#include "compat.h"

#define DM_MSG_PREFIX "pcache"

#define pcache_err(c, fmt, ...) \
	DMERR("%s: " fmt, (c)->name, ##__VA_ARGS__)
#define pcache_err_limit(c, fmt, ...) \
	DMERR_LIMIT("%s: " fmt, (c)->name, ##__VA_ARGS__)
#define pcache_info(c, fmt, ...) \
	DMINFO("%s: " fmt, (c)->name, ##__VA_ARGS__)

/* Default and upper bound of the writeback_quiet message (ms). */
#define PCACHE_WB_QUIET_MS	500
#define PCACHE_WB_QUIET_MAX_MS	60000

/* Room a normal kset must leave behind it for a LAST kset (spec 7.2). */
#define PCACHE_LOG_TAIL_ROOM	PCACHE_KSET_HEADER_SIZE

/* A position in the cache: logical segment id and data-area offset. */
struct pcache_pos {
	u32 seg;
	u32 off;
};

struct pcache_segment {
	void *data;		/* kernel address of the data area */
	u32 phys;		/* physical segment id */
	/*
	 * References: one per key of the log window pointing here (taken at
	 * allocation or replay, dropped when GC passes the key), one while
	 * the segment is a data head, one per allocation not yet keyed.  At
	 * zero the generation is bumped on media and the segment freed.
	 */
	atomic_t refs;
	/* Keys whose seg_gen is older than this are stale. */
	u64 gen;
	u8 gen_seq;		/* seq of the newest valid seg_gen replica */
	s8 gen_slot;		/* its slot, -1 if none was valid */
};

struct pcache_extent {
	struct rb_node node;
	u64 off;		/* logical byte offset */
	u32 len;		/* bytes */
	u32 flags;		/* PCACHE_KEY_FLAGS_EMPTY / _CLEAN */
	u32 seg;		/* logical segment of the data */
	u32 seg_off;		/* offset of the data in its data area */
	union {
		u64 gen;	/* generation the data was written under */
		u64 fill_tag;	/* EMPTY placeholder: the miss that owns it */
	};
	/*
	 * The whole key this extent was cut from (trimming and splitting
	 * keep it), for the data CRC check of read hits: its data starts
	 * at key_seg_off of the same segment and has key_len bytes.
	 */
	u32 key_seg_off;
	u32 key_len;
	u32 data_crc;
};

/*
 * In-memory extent flag, never on media: the data CRC of the extent's key
 * was checked on a read hit (data_crc), so later hits skip the check.
 */
#define PCACHE_EXTENT_CRC_OK	(1U << 31)

struct pcache_subtree {
	spinlock_t lock;
	struct rb_root root;
	/*
	 * Writes of this region in flight to the backing device only
	 * (write-around): a read miss meanwhile is not cached, since it may
	 * have read the data the write replaces.
	 */
	atomic_t writes_around;
};

/* Per-CPU statistics, summed for the status line. */
struct pcache_stats {
	u64 read_hits;
	u64 read_misses;
	u64 write_hits;
	u64 write_misses;
	/* + when a dirty key is logged, - when writeback passes it */
	s64 dirty_bytes;
	u64 crc_heals;		/* clean read hits that failed their CRC */
};

/* Metadata mode: what the cache may still write to the cache device. */
enum pcache_meta_mode {
	PCACHE_META_RW,		/* normal */
	PCACHE_META_RO,		/* needs_check: no new keys, no metadata */
	PCACHE_META_FAIL,	/* even read-only is unsafe: all I/O fails */
};

/* An in-memory kset: the on-media image being filled, closed as a whole. */
struct pcache_kset {
	struct pcache *cache;
	spinlock_t lock;
	u32 nr_keys;
	struct delayed_work close_work;	/* 1 s after the first key */
	struct pcache_cache_kset_onmedia *buf;	/* PCACHE_KSET_ONMEDIA_SIZE_MAX */
};

/* Where new data goes on one CPU: the rest of one segment's data area. */
struct pcache_data_head {
	spinlock_t lock;
	bool valid;
	u32 seg;
	u32 off;
};

/* A key read from media and checked (pcache_key_decode()). */
struct pcache_key {
	u64 off;
	u32 len;
	u32 flags;
	u32 seg;
	u32 seg_off;
	u64 gen;
	u32 data_crc;
};

/* A piece of dirty data writeback copies: backing offset, pmem source. */
struct pcache_wb_piece {
	u64 off;
	u32 len;
	u32 seg;
	u32 seg_off;
};

/* A byte range [start, end) of the backing device. */
struct pcache_range {
	u64 start;
	u64 end;
};

/*
 * Writeback: one worker at a time (a delayed work item is never run
 * concurrently with itself) takes the ksets from dirty_tail in log order.
 */
struct pcache_writeback {
	struct delayed_work work;
	struct pcache_cache_kset_onmedia *kset;	/* one kset, copied out */
	struct pcache_key *keys;		/* keys of one pass */
	struct pcache_wb_piece *pieces;		/* what the pass writes */
	struct pcache_range *cover;		/* ranges of newer keys */
	u8 *crc_buf;				/* bounce for data CRCs */
	struct bio_set bs;
	bool bs_ready;
	u32 nr_pieces;
	u32 nr_cover;
	atomic_t inflight;
	blk_status_t status;			/* first bio error of a pass */
	struct completion done;
	unsigned int backoff_ms;
	bool idle;		/* nothing to do: a closed kset kicks us */
	bool stopped;		/* suspended or being removed */
	bool broken;		/* damaged metadata: stopped for good */
	atomic64_t errors;	/* failed passes (I/O errors, damage) */
	wait_queue_head_t advanced;	/* woken when dirty_tail moves */
	/*
	 * Log bytes (ksets, LAST ksets) writeback has passed since load;
	 * compared with pcache.log_produced by the flush message.
	 */
	u64 consumed;
	u64 pass_bytes;		/* data bytes of the last pass (rate cap) */
	/* When to write back: see pcache_wb_due() */
	bool kicked;		/* asked for a pass now */
	atomic_t waiters;	/* flush messages waiting */
	u64 last_io;		/* I/O count at the last look */
	unsigned long deferred_since;	/* jiffies; 0: not deferring */
};

struct pcache_gc {
	struct delayed_work work;
	struct pcache_cache_kset_onmedia *kset;
	struct pcache_key *keys;
	bool stopped;
	bool broken;
};

/* The table's options. */
struct pcache_opts {
	u32 cache_mode;
	bool mode_given;	/* else the mode stored in cache_info */
	bool data_crc;
	int gc_percent;		/* -1: not given */
};

/*
 * One cache, shared by the tables of its dm device during a live reload:
 * the new table's target attaches to it, the old one's detaches
 * (dm_pcache.c).
 */
struct pcache {
	struct dm_target *ti;		/* the live table's target */
	const char *name;		/* dm device name, for messages */
	struct mapped_device *md;
	struct list_head list;		/* pcache_caches */
	unsigned int refs;		/* targets using it (pcache_caches_lock) */
	struct block_device *cache_bdev;
	struct block_device *backing_bdev;
	struct pcache_opts opts;

	/* The cache device, mapped whole. */
	void *base;
	u64 dev_size;
	bool vmapped;
	bool pmem_linear;	/* base is in the linear map: virt_to_page() */

	/* Superblock and cache_info. */
	u32 sb_flags;
	u32 seg_num;			/* physical segments on the device */
	u32 n_segs;			/* logical cache segments */
	struct mutex info_lock;
	struct pcache_cache_info info;	/* newest valid replica */
	int info_slot;			/* slot holding it */

	struct pcache_segment *segs;	/* indexed by logical id */

	/* Segment allocator. */
	spinlock_t seg_lock;
	unsigned long *seg_used;	/* bitmap by logical id */
	u32 free_segs;
	u32 alloc_hint;
	u32 log_reserve;		/* segments only the key log may take */
	struct pcache_data_head __percpu *data_heads;

	/*
	 * Key log.  key_tail and dirty_tail are the persisted values; they
	 * change under tail_lock (readers that need both take it).
	 */
	spinlock_t head_lock;
	struct pcache_pos key_head;
	spinlock_t tail_lock;
	struct pcache_pos key_tail;
	struct pcache_pos dirty_tail;
	u8 key_tail_seq, dirty_tail_seq;
	int key_tail_slot, dirty_tail_slot;
	struct pcache_kset *ksets;
	u32 n_ksets;

	/* Index. */
	u64 backing_size;		/* bytes */
	struct pcache_subtree *subtrees;
	u32 n_subtrees;
	atomic64_t next_fill_tag;
	struct pcache_extent * __percpu *spares;	/* one spare per CPU */

	/* Writes waiting for space, retried by defer_work. */
	spinlock_t defer_lock;
	struct bio_list deferred;
	struct delayed_work defer_work;

	struct pcache_writeback wb;
	struct pcache_gc gc;

	struct workqueue_struct *wq;

	/*
	 * Cache mode and health.  The I/O path reads them with READ_ONCE;
	 * a write decides its policy inside an io_srcu read section, so a
	 * mode switch can wait (synchronize_srcu()) for every write that
	 * decided under the old mode.
	 */
	u32 mode;			/* PCACHE_CACHE_MODE_* */
	bool cleaner;			/* write back, cache no new writes */
	bool no_dirty;			/* invalidate: cache no dirty data */
	u32 meta_mode;			/* enum pcache_meta_mode */
	bool needs_check;		/* NEEDS_CHECK set in cache_info */
	const char *fail_reason;
	struct work_struct health_work;	/* persists NEEDS_CHECK */
	bool backing_written;		/* a write reached the backing device */
	bool index_diverged;		/* index dropped data media still shows */
	u32 writeback_rate;		/* MiB/s, 0: unlimited */
	u32 writeback_quiet_ms;		/* idle time before writeback, 0: none */
	u64 log_produced;		/* log bytes written (under head_lock) */
	struct srcu_struct io_srcu;
	bool srcu_ready;
	struct mutex msg_lock;		/* mode switch, flush, invalidate */
	spinlock_t gen_lock;		/* seg_gen updates */
	struct pcache_stats __percpu *stats;
	u8 __percpu *crc_bounce;	/* PAGE_SIZE per CPU: read-hit CRCs */
};

/* Per-bio state, in ti->per_io_data_size. */
struct pcache_bio {
	struct pcache *cache;
	struct work_struct work;	/* read-miss fill */
	struct bvec_iter iter;		/* the data, as mapped */
	u64 off;			/* logical byte offset */
	u64 fill_tag;			/* non-zero: fill the cache on completion */
	u32 done;			/* bytes of a write already keyed */
	u32 state;
};

#define PCACHE_BIO_FLUSHED	BIT(0)	/* ksets closed for REQ_PREFLUSH */
#define PCACHE_BIO_WRITTEN	BIT(1)	/* all data keyed */
#define PCACHE_BIO_HIT		BIT(2)	/* a write met cached data */
#define PCACHE_BIO_AROUND	BIT(3)	/* counted in writes_around */
#define PCACHE_BIO_CLEAN	BIT(4)	/* write-through: keys are CLEAN */

/* ---- helpers ---- */

/* crc.c: CRC-32C, by whichever implementation measured fastest at load. */
extern bool pcache_crc_use_table;
void pcache_crc_select(void);

static inline u32 pcache_crc_update(u32 crc, const void *p, size_t len)
{
	if (pcache_crc_use_table)
		return pcache_crc32c_table(crc, p, len);
	return crc32c(crc, p, len);
}

static inline u32 pcache_crc(const void *p, size_t len)
{
	return pcache_crc_update(PCACHE_CRC_SEED, p, len);
}

#define pcache_stat_inc(c, field)	this_cpu_inc((c)->stats->field)

static inline bool pcache_meta_rw(struct pcache *c)
{
	return READ_ONCE(c->meta_mode) == PCACHE_META_RW;
}

static inline void *pcache_seg_data(struct pcache *c, u32 seg)
{
	return c->segs[seg].data;
}

static inline void *pcache_pos_addr(struct pcache *c, struct pcache_pos pos)
{
	return pcache_seg_data(c, pos.seg) + pos.off;
}

static inline struct pcache_subtree *pcache_subtree_of(struct pcache *c,
							u64 off)
{
	return &c->subtrees[off >> PCACHE_SUBTREE_SHIFT];
}

static inline bool pcache_extent_stale(struct pcache *c,
				       const struct pcache_extent *e)
{
	if (e->flags & PCACHE_KEY_FLAGS_EMPTY)
		return false;
	return e->gen < READ_ONCE(c->segs[e->seg].gen);
}

/* fault.c: the crash tests' fault injection (see docs/target.md). */
extern bool pcache_fault_armed;
extern bool pcache_fault_frozen;
void __pcache_fault_point(void);
void __pcache_fault_acked(void);
bool pcache_fault_info_fails(void);

/*
 * A persistence point: a pmem fence after a kset, data or replica write,
 * or a completed FLUSH of the backing device.  Unless fault injection is
 * armed this costs one load of a read-mostly flag and a branch predicted
 * not taken.  Not a static key: the crash tests arm and disarm thousands
 * of times per boot, and patching kernel text that often while writeback
 * runs livelocked a vCPU under QEMU's TCG (a stale int3 at the patch site,
 * re-executed forever).
 */
static __always_inline void pcache_persist_point(void)
{
	if (unlikely(READ_ONCE(pcache_fault_armed)))
		__pcache_fault_point();
}

/*
 * After the freeze point every pmem store and backing write is dropped.
 * frozen is set only while armed and cleared by every (dis)arming, so it
 * alone answers: one load, as for the other hooks.
 */
static __always_inline bool pcache_frozen(void)
{
	return unlikely(READ_ONCE(pcache_fault_frozen));
}

/* A write or flush bio is about to be acknowledged. */
static __always_inline void pcache_fault_ack(void)
{
	if (unlikely(READ_ONCE(pcache_fault_armed)))
		__pcache_fault_acked();
}

/* cache_dev.c */
int pcache_dev_map(struct pcache *c, struct dm_dev *dev, char **error);
void pcache_dev_unmap(struct pcache *c);
void pcache_pmem_write(void *dst, const void *src, size_t len);
void pcache_pmem_zero(void *dst, size_t len);
int pcache_meta_find_latest(const void *base, size_t stride, size_t size,
			    void *out);
void pcache_meta_write(void *base, size_t stride, int slot, void *rec,
		       size_t size);
int pcache_meta_heal(struct pcache *c, void *base, size_t stride,
		     size_t size, const char *what);
int pcache_sb_load_or_format(struct pcache *c, char **error);

/* cache_meta.c */
int pcache_meta_load(struct pcache *c, char **error);
int pcache_info_set_gc_percent(struct pcache *c, u32 percent);
int pcache_info_set_mode(struct pcache *c, u32 mode);
int pcache_info_set_needs_check(struct pcache *c);
u32 pcache_gc_percent(struct pcache *c);
u32 pcache_info_flags(struct pcache *c);
void pcache_key_tail_persist(struct pcache *c, struct pcache_pos pos);
void pcache_dirty_tail_persist(struct pcache *c, struct pcache_pos pos);
void pcache_seg_gen_persist(struct pcache *c, u32 seg, u64 gen);
void pcache_meta_heal_all(struct pcache *c);

/* cache_seg.c */
int pcache_segs_init(struct pcache *c);
void pcache_segs_exit(struct pcache *c);
void pcache_seg_mark_used(struct pcache *c, u32 seg);
int pcache_seg_alloc(struct pcache *c, bool for_log);
u32 pcache_segs_used(struct pcache *c);
static inline void pcache_seg_get(struct pcache *c, u32 seg)
{
	atomic_inc(&c->segs[seg].refs);
}

void pcache_seg_put(struct pcache *c, u32 seg);
void pcache_seg_free(struct pcache *c, u32 seg);
void pcache_seg_invalidate(struct pcache *c, u32 seg);
int pcache_data_alloc(struct pcache *c, u32 want, struct pcache_pos *pos,
		      u32 *got);

/* cache_index.c */
int pcache_index_init(struct pcache *c);
void pcache_index_exit(struct pcache *c);
struct pcache_extent *pcache_extent_alloc(gfp_t gfp);
void pcache_extent_free(struct pcache_extent *e);
struct pcache_extent *pcache_index_first(struct pcache_subtree *st, u64 off);
struct pcache_extent *pcache_extent_next(struct pcache_extent *e);
void pcache_index_erase(struct pcache_subtree *st, struct pcache_extent *e);
bool pcache_index_needs_spare(struct pcache_subtree *st, u64 off, u32 len);
bool pcache_index_insert(struct pcache *c, struct pcache_subtree *st,
			 struct pcache_extent *new,
			 struct pcache_extent **spare);
int pcache_index_drop_range(struct pcache *c, u64 off, u64 len);
void pcache_index_drop_all(struct pcache *c);
int pcache_extent_cache_init(void);
void pcache_extent_cache_exit(void);

/* cache_log.c */
int pcache_log_init(struct pcache *c);
void pcache_log_exit(struct pcache *c);
int pcache_kset_append(struct pcache *c,
		       const struct pcache_cache_key_onmedia *key);
int pcache_kset_close_region(struct pcache *c, u64 off);
int pcache_kset_close_all(struct pcache *c);
int pcache_replay(struct pcache *c, char **error);
const char *pcache_key_decode(struct pcache *c,
			      const struct pcache_cache_key_onmedia *k,
			      struct pcache_key *key);
int pcache_pmem_data_crc(struct pcache *c, u32 seg, u32 seg_off, u32 len,
			 u8 *bounce, u32 *crc);
int pcache_key_data_crc(struct pcache *c, const struct pcache_key *key,
			u8 *bounce, u32 *crc);
int pcache_kset_read(struct pcache *c, struct pcache_pos pos,
		     struct pcache_cache_kset_onmedia *kset,
		     const char **why);
void pcache_log_damage(struct pcache *c, const char *who,
		       struct pcache_pos at, u32 key, const char *why);
void pcache_metadata_failed(struct pcache *c, const char *why);
void pcache_target_failed(struct pcache *c, const char *why);

static inline bool pcache_pos_equal(struct pcache_pos a, struct pcache_pos b)
{
	return a.seg == b.seg && a.off == b.off;
}

/* cache_wb.c */
int pcache_wb_init(struct pcache *c);
void pcache_wb_exit(struct pcache *c);
void pcache_wb_start(struct pcache *c);
void pcache_wb_stop(struct pcache *c);
void pcache_wb_kick(struct pcache *c);
void pcache_wb_kset_closed(struct pcache *c);
void pcache_wb_retime(struct pcache *c);
u64 pcache_wb_errors(struct pcache *c);
int pcache_wb_flush_wait(struct pcache *c);

/* cache_gc.c */
int pcache_gc_init(struct pcache *c);
void pcache_gc_exit(struct pcache *c);
void pcache_gc_start(struct pcache *c);
void pcache_gc_stop(struct pcache *c);
void pcache_gc_kick(struct pcache *c);
bool pcache_gc_due(struct pcache *c);
void pcache_tails(struct pcache *c, struct pcache_pos *key_tail,
		  struct pcache_pos *dirty_tail);

/* cache_req.c */
int pcache_map_bio(struct pcache *c, struct bio *bio);
int pcache_end_io(struct pcache *c, struct bio *bio, blk_status_t *err);
void pcache_defer_fn(struct work_struct *work);
void pcache_kick_deferred(struct pcache *c);
bool pcache_writes_waiting(struct pcache *c);
s64 pcache_dirty_bytes(struct pcache *c);
u64 pcache_crc_heals(struct pcache *c);
void pcache_stats_sum(struct pcache *c, struct pcache_stats *sum);
int pcache_invalidate_all(struct pcache *c);
void pcache_discard_range(struct pcache *c, u64 off, u64 len);

#endif /* PCACHE_H */
