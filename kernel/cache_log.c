// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: the key log.
 *
 * Keys are gathered in n_ksets in-memory kset buffers; all keys of one
 * 4 MiB region go to buffer (off >> 22) % n_ksets, appended under the
 * region's subtree lock in the order they enter the index, so the log
 * order of two overlapping keys is the order they won in the index.  A
 * buffer is closed (written at key_head) when full, on FUA and FLUSH, one
 * second after its first key, on suspend and on removal.
 *
 * Replay walks the log from key_tail and rebuilds the index, the in-use
 * segments, references and key_head.  Every value it reads is checked
 * before use, and the walk is bounded: each step either advances inside a
 * segment or moves to a key segment not visited before.
 */
#include <linux/bitmap.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

#include "pcache.h"

static void pcache_kset_close_fn(struct work_struct *work);

/*
 * How long a kset with keys may stay open.  1 s as upstream; tests raise it
 * to show that FLUSH and FUA alone make writes durable.
 */
static unsigned int kset_close_delay_ms = 1000;
module_param(kset_close_delay_ms, uint, 0644);
MODULE_PARM_DESC(kset_close_delay_ms,
		 "Write an open kset this many ms after its first key (default 1000)");

int pcache_log_init(struct pcache *c)
{
	u32 i;

	spin_lock_init(&c->head_lock);
	c->n_ksets = num_online_cpus();
	c->ksets = kcalloc(c->n_ksets, sizeof(*c->ksets), GFP_KERNEL);
	if (!c->ksets)
		return -ENOMEM;
	for (i = 0; i < c->n_ksets; i++) {
		struct pcache_kset *ks = &c->ksets[i];

		ks->cache = c;
		spin_lock_init(&ks->lock);
		INIT_DELAYED_WORK(&ks->close_work, pcache_kset_close_fn);
		ks->buf = kzalloc(PCACHE_KSET_ONMEDIA_SIZE_MAX, GFP_KERNEL);
		if (!ks->buf)
			return -ENOMEM;
	}
	return 0;
}

void pcache_log_exit(struct pcache *c)
{
	u32 i;

	if (!c->ksets)
		return;
	for (i = 0; i < c->n_ksets; i++)
		kfree(c->ksets[i].buf);
	kfree(c->ksets);
	c->ksets = NULL;
}

/* ---- writing the log ---- */

/*
 * Make room at key_head for a kset of @size bytes plus the LAST kset that
 * may have to follow it.  When the key segment is too full, chain a new
 * one: zero its first header (so the log stays terminated), then write a
 * LAST kset pointing to it.  Caller holds head_lock.
 */
static int pcache_log_make_room(struct pcache *c, u32 size)
{
	struct pcache_cache_kset_onmedia last = {};
	int seg;

	if (PCACHE_SEG_DATA_SIZE - c->key_head.off >= size + PCACHE_LOG_TAIL_ROOM)
		return 0;
	seg = pcache_seg_alloc(c, true);
	if (seg < 0)
		return seg;
	pcache_pmem_zero(pcache_seg_data(c, seg), PCACHE_KSET_HEADER_SIZE);
	pmem_wmb();
	last.next_cache_seg_id = cpu_to_le32(seg);
	last.magic = cpu_to_le64(PCACHE_KSET_MAGIC);
	last.flags = cpu_to_le64(PCACHE_KSET_FLAGS_LAST);
	last.crc = cpu_to_le32(pcache_crc((u8 *)&last + 4, sizeof(last) - 4));
	pcache_pmem_write(pcache_pos_addr(c, c->key_head), &last, sizeof(last));
	pmem_wmb();
	c->key_head.seg = seg;
	c->key_head.off = 0;
	return 0;
}

/*
 * Write the kset at key_head.  The 24 zero bytes that terminate the log
 * after it are made durable before the kset itself, so a power cut never
 * leaves a valid kset followed by an older one.  Caller holds ks->lock.
 */
static int pcache_kset_close_locked(struct pcache *c, struct pcache_kset *ks)
{
	struct pcache_cache_kset_onmedia *buf = ks->buf;
	u32 size = PCACHE_KSET_SIZE(ks->nr_keys);
	void *dst;
	int r;

	if (!ks->nr_keys)
		return 0;
	buf->key_num = cpu_to_le32(ks->nr_keys);
	buf->magic = cpu_to_le64(PCACHE_KSET_MAGIC);
	buf->flags = 0;
	buf->crc = cpu_to_le32(pcache_crc((u8 *)buf + 4, size - 4));

	spin_lock(&c->head_lock);
	r = pcache_log_make_room(c, size);
	if (r) {
		spin_unlock(&c->head_lock);
		return r;
	}
	dst = pcache_pos_addr(c, c->key_head);
	pcache_pmem_zero(dst + size, PCACHE_KSET_HEADER_SIZE);
	pmem_wmb();
	pcache_pmem_write(dst, buf, size);
	pmem_wmb();
	c->key_head.off += size;
	spin_unlock(&c->head_lock);

	ks->nr_keys = 0;
	return 0;
}

static struct pcache_kset *pcache_kset_of(struct pcache *c, u64 off)
{
	return &c->ksets[(off >> PCACHE_SUBTREE_SHIFT) % c->n_ksets];
}

/*
 * Append a key to its region's kset.  The caller holds the region's
 * subtree lock and inserts the key into the index under the same hold.
 * Returns -EBUSY when a full buffer could not be closed for lack of a key
 * segment; nothing was appended then.
 */
int pcache_kset_append(struct pcache *c,
		       const struct pcache_cache_key_onmedia *key)
{
	struct pcache_kset *ks = pcache_kset_of(c, le64_to_cpu(key->off));
	int r = 0;

	spin_lock(&ks->lock);
	if (ks->nr_keys == PCACHE_KSET_KEYS_MAX) {
		r = pcache_kset_close_locked(c, ks);
		if (r)
			goto out;
	}
	ks->buf->data[ks->nr_keys++] = *key;
	if (ks->nr_keys == 1)
		queue_delayed_work(c->wq, &ks->close_work,
				   msecs_to_jiffies(READ_ONCE(kset_close_delay_ms)));
	else if (ks->nr_keys == PCACHE_KSET_KEYS_MAX)
		pcache_kset_close_locked(c, ks);	/* else: next append */
out:
	spin_unlock(&ks->lock);
	return r;
}

static int pcache_kset_close(struct pcache *c, struct pcache_kset *ks)
{
	int r;

	spin_lock(&ks->lock);
	r = pcache_kset_close_locked(c, ks);
	spin_unlock(&ks->lock);
	return r;
}

int pcache_kset_close_region(struct pcache *c, u64 off)
{
	return pcache_kset_close(c, pcache_kset_of(c, off));
}

int pcache_kset_close_all(struct pcache *c)
{
	int r = 0, err;
	u32 i;

	for (i = 0; i < c->n_ksets; i++) {
		err = pcache_kset_close(c, &c->ksets[i]);
		if (err && !r)
			r = err;
	}
	return r;
}

static void pcache_kset_close_fn(struct work_struct *work)
{
	struct pcache_kset *ks = container_of(to_delayed_work(work),
					      struct pcache_kset, close_work);

	/* No key segment free: try again soon. */
	if (pcache_kset_close(ks->cache, ks))
		queue_delayed_work(ks->cache->wq, &ks->close_work, HZ / 10);
}

/* ---- replay ---- */

struct pcache_replay {
	struct pcache *cache;
	struct pcache_pos pos;		/* kset being replayed */
	struct pcache_cache_kset_onmedia *kset;
	u8 *crc_buf;			/* PAGE_SIZE bounce for data CRCs */
	unsigned long *visited;		/* key segments walked */
	char **error;
};

/* CRC of a key's payload, read with machine-check safe copies. */
static int pcache_replay_data_crc(struct pcache_replay *rp, u32 seg,
				  u32 seg_off, u32 len, u32 *crc)
{
	const u8 *src = pcache_seg_data(rp->cache, seg) + seg_off;
	u32 n, v = PCACHE_CRC_SEED;

	while (len) {
		n = min_t(u32, len, PAGE_SIZE);
		if (pcache_copy_mc(rp->crc_buf, src, n))
			return -EIO;
		v = pcache_crc_update(v, rp->crc_buf, n);
		src += n;
		len -= n;
	}
	*crc = v;
	return 0;
}

#define replay_fail(rp, i, msg, fmt, ...) ({				\
	pcache_err((rp)->cache, "key log: kset at %u:%u, key %u: " fmt,	\
		   (rp)->pos.seg, (rp)->pos.off, (i), ##__VA_ARGS__);	\
	*(rp)->error = (msg);						\
	-EINVAL; })

static int pcache_replay_key(struct pcache_replay *rp, u32 i)
{
	const struct pcache_cache_key_onmedia *k = &rp->kset->data[i];
	struct pcache *c = rp->cache;
	u64 off = le64_to_cpu(k->off), gen = le64_to_cpu(k->seg_gen);
	u32 len = le32_to_cpu(k->len), flags = le32_to_cpu(k->flags);
	u32 seg = le32_to_cpu(k->cache_seg_id);
	u32 seg_off = le32_to_cpu(k->cache_seg_off), crc;
	struct pcache_extent *e, *spare = NULL;
	struct pcache_subtree *st;

	/*
	 * seg becomes an index into segs[]; off and len a place in the
	 * index and a range of pmem: all checked before any use.
	 */
	if (seg >= c->n_segs)
		return replay_fail(rp, i, "Key points to a segment out of range",
				   "segment %u >= %u", seg, c->n_segs);
	if (!len || len > PCACHE_SUBTREE_SIZE || len % PCACHE_SECTOR_SIZE ||
	    off % PCACHE_SECTOR_SIZE)
		return replay_fail(rp, i, "Key has an invalid length or offset",
				   "off %llu len %u", off, len);
	if ((off >> PCACHE_SUBTREE_SHIFT) != ((off + len - 1) >> PCACHE_SUBTREE_SHIFT))
		return replay_fail(rp, i, "Key crosses a 4 MiB boundary",
				   "off %llu len %u", off, len);
	if (off + len > c->backing_size)
		return replay_fail(rp, i, "Key lies beyond the backing device",
				   "off %llu len %u, backing device %llu bytes",
				   off, len, c->backing_size);
	if ((u64)seg_off + len > PCACHE_SEG_DATA_SIZE)
		return replay_fail(rp, i, "Key data overruns its segment",
				   "segment offset %u len %u", seg_off, len);
	if (flags & ~PCACHE_KEY_FLAGS_CLEAN)
		return replay_fail(rp, i, "Key has unknown or EMPTY flags",
				   "flags %#x", flags);
	if (gen > c->segs[seg].gen)
		return replay_fail(rp, i, "Key generation ahead of its segment",
				   "seg_gen %llu > segment %u generation %llu",
				   gen, seg, c->segs[seg].gen);

	/* Every key of the window holds its segment, stale or not. */
	pcache_seg_mark_used(c, seg);
	pcache_seg_get(c, seg);
	if (gen < c->segs[seg].gen)
		return 0;	/* stale: its segment was reused since */

	if (c->opts.data_crc) {
		if (pcache_replay_data_crc(rp, seg, seg_off, len, &crc)) {
			pcache_err(c, "key log: media error in data of key %u of kset %u:%u",
				   i, rp->pos.seg, rp->pos.off);
			*rp->error = "Media error reading cached data during replay";
			return -EIO;
		}
		if (crc != le32_to_cpu(k->data_crc)) {
			pcache_err(c, "key log: kset at %u:%u, key %u: data CRC %08x, expected %08x",
				   rp->pos.seg, rp->pos.off, i, crc,
				   le32_to_cpu(k->data_crc));
			*rp->error = "Data CRC mismatch during replay";
			return -EIO;
		}
	}

	e = pcache_extent_alloc(GFP_KERNEL);
	if (!e)
		goto nomem;
	e->off = off;
	e->len = len;
	e->flags = flags;
	e->seg = seg;
	e->seg_off = seg_off;
	e->gen = gen;
	st = pcache_subtree_of(c, off);
	if (pcache_index_needs_spare(st, off, len)) {
		spare = pcache_extent_alloc(GFP_KERNEL);
		if (!spare) {
			pcache_extent_free(e);
			goto nomem;
		}
	}
	pcache_index_insert(c, st, e, &spare);
	if (spare)
		pcache_extent_free(spare);
	return 0;
nomem:
	*rp->error = "Cannot allocate memory for the index";
	return -ENOMEM;
}

/* One kset at rp->pos.  Returns 1 at the end of the log, 0 to go on. */
static int pcache_replay_kset(struct pcache_replay *rp)
{
	struct pcache_cache_kset_onmedia *ks = rp->kset;
	struct pcache *c = rp->cache;
	void *src = pcache_pos_addr(c, rp->pos);
	u32 n, size, i, next;
	int r;

	if (pcache_copy_mc(ks, src, PCACHE_KSET_HEADER_SIZE))
		goto media_error;
	if (le64_to_cpu(ks->magic) != PCACHE_KSET_MAGIC)
		return 1;
	if (le64_to_cpu(ks->flags) & PCACHE_KSET_FLAGS_LAST) {
		if (le32_to_cpu(ks->crc) !=
		    pcache_crc((u8 *)ks + 4, PCACHE_KSET_HEADER_SIZE - 4))
			return 1;
		next = le32_to_cpu(ks->next_cache_seg_id);
		if (next >= c->n_segs)
			return replay_fail(rp, 0, "LAST kset points to a segment out of range",
					   "next segment %u >= %u", next, c->n_segs);
		if (__test_and_set_bit(next, rp->visited))
			return replay_fail(rp, 0, "Key log loops back to a segment already walked",
					   "next segment %u", next);
		pcache_seg_mark_used(c, next);
		rp->pos.seg = next;
		rp->pos.off = 0;
		return 0;
	}
	/* key_num sizes the CRC and the copy: bound it first. */
	n = le32_to_cpu(ks->key_num);
	if (n > PCACHE_KSET_KEYS_MAX)
		return replay_fail(rp, 0, "Kset key_num exceeds 128",
				   "key_num %u > %u", n, PCACHE_KSET_KEYS_MAX);
	size = PCACHE_KSET_SIZE(n);
	if (rp->pos.off + size + PCACHE_LOG_TAIL_ROOM > PCACHE_SEG_DATA_SIZE)
		return replay_fail(rp, 0, "Kset overruns its segment",
				   "%u keys", n);
	if (pcache_copy_mc(ks, src, size))
		goto media_error;
	if (le32_to_cpu(ks->crc) != pcache_crc((u8 *)ks + 4, size - 4))
		return 1;
	for (i = 0; i < n; i++) {
		r = pcache_replay_key(rp, i);
		if (r)
			return r;
	}
	rp->pos.off += size;
	return 0;

media_error:
	pcache_err(c, "key log: media error reading kset at %u:%u",
		   rp->pos.seg, rp->pos.off);
	*rp->error = "Media error reading the key log";
	return -EIO;
}

static bool pos_equal(struct pcache_pos a, struct pcache_pos b)
{
	return a.seg == b.seg && a.off == b.off;
}

int pcache_replay(struct pcache *c, char **error)
{
	struct pcache_replay rp = { .cache = c, .pos = c->key_tail,
				    .error = error };
	bool dirty_tail_seen = false;
	u64 steps = 0;
	int r = -ENOMEM;

	rp.kset = kvmalloc(PCACHE_KSET_ONMEDIA_SIZE_MAX, GFP_KERNEL);
	rp.crc_buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	rp.visited = bitmap_zalloc(c->n_segs, GFP_KERNEL);
	if (!rp.kset || !rp.crc_buf || !rp.visited) {
		*error = "Cannot allocate memory for replay";
		goto out;
	}
	__set_bit(rp.pos.seg, rp.visited);
	pcache_seg_mark_used(c, rp.pos.seg);
	for (;;) {
		if (pos_equal(rp.pos, c->dirty_tail))
			dirty_tail_seen = true;
		r = pcache_replay_kset(&rp);
		if (r)
			break;
		if (!(++steps % 256))
			cond_resched();
	}
	if (r < 0)
		goto out;
	r = 0;
	c->key_head = rp.pos;
	if (!dirty_tail_seen) {
		pcache_err(c, "dirty_tail %u:%u is not a kset boundary between key_tail %u:%u and the log end %u:%u",
			   c->dirty_tail.seg, c->dirty_tail.off,
			   c->key_tail.seg, c->key_tail.off,
			   rp.pos.seg, rp.pos.off);
		*error = "dirty_tail is not on the key log";
		r = -EINVAL;
	}
out:
	bitmap_free(rp.visited);
	kfree(rp.crc_buf);
	kvfree(rp.kset);
	return r;
}
