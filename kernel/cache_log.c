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
	pcache_persist_point();
	last.next_cache_seg_id = cpu_to_le32(seg);
	last.magic = cpu_to_le64(PCACHE_KSET_MAGIC);
	last.flags = cpu_to_le64(PCACHE_KSET_FLAGS_LAST);
	last.crc = cpu_to_le32(pcache_crc((u8 *)&last + 4, sizeof(last) - 4));
	pcache_pmem_write(pcache_pos_addr(c, c->key_head), &last, sizeof(last));
	pmem_wmb();
	pcache_persist_point();
	c->key_head.seg = seg;
	c->key_head.off = 0;
	c->log_produced += PCACHE_KSET_HEADER_SIZE;
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
	pcache_persist_point();
	pcache_pmem_write(dst, buf, size);
	pmem_wmb();
	pcache_persist_point();
	c->key_head.off += size;
	c->log_produced += size;
	spin_unlock(&c->head_lock);

	ks->nr_keys = 0;
	pcache_wb_kset_closed(c);
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

/*
 * CRC of @len bytes of segment @seg's data at @seg_off, read with
 * machine-check safe copies through @bounce (PAGE_SIZE).  -EIO on a media
 * error.  The caller has checked the range against the segment.
 */
int pcache_pmem_data_crc(struct pcache *c, u32 seg, u32 seg_off, u32 len,
			 u8 *bounce, u32 *crc)
{
	const u8 *src = pcache_seg_data(c, seg) + seg_off;
	u32 n, v = PCACHE_CRC_SEED;

	while (len) {
		n = min_t(u32, len, PAGE_SIZE);
		if (pcache_copy_mc(bounce, src, n))
			return -EIO;
		v = pcache_crc_update(v, bounce, n);
		src += n;
		len -= n;
	}
	*crc = v;
	return 0;
}

/* CRC of a key's payload (see pcache_pmem_data_crc()). */
int pcache_key_data_crc(struct pcache *c, const struct pcache_key *key,
			u8 *bounce, u32 *crc)
{
	return pcache_pmem_data_crc(c, key->seg, key->seg_off, key->len,
				    bounce, crc);
}

/*
 * Decode a key read from media and check it before any of its values is
 * used: seg becomes an index into segs[], off and len a place in the index
 * and a range of pmem.  Replay, writeback and GC all go through here.
 * Returns NULL, or the reason the key is invalid.
 */
const char *pcache_key_decode(struct pcache *c,
			      const struct pcache_cache_key_onmedia *k,
			      struct pcache_key *key)
{
	key->off = le64_to_cpu(k->off);
	key->len = le32_to_cpu(k->len);
	key->flags = le32_to_cpu(k->flags);
	key->seg = le32_to_cpu(k->cache_seg_id);
	key->seg_off = le32_to_cpu(k->cache_seg_off);
	key->gen = le64_to_cpu(k->seg_gen);
	key->data_crc = le32_to_cpu(k->data_crc);

	if (key->seg >= c->n_segs)
		return "Key points to a segment out of range";
	if (!key->len || key->len > PCACHE_SUBTREE_SIZE ||
	    key->len % PCACHE_SECTOR_SIZE || key->off % PCACHE_SECTOR_SIZE)
		return "Key has an invalid length or offset";
	if ((key->off >> PCACHE_SUBTREE_SHIFT) !=
	    ((key->off + key->len - 1) >> PCACHE_SUBTREE_SHIFT))
		return "Key crosses a 4 MiB boundary";
	if (key->off + key->len > c->backing_size)
		return "Key lies beyond the backing device";
	if ((u64)key->seg_off + key->len > PCACHE_SEG_DATA_SIZE)
		return "Key data overruns its segment";
	if (key->flags & ~PCACHE_KEY_FLAGS_CLEAN)
		return "Key has unknown or EMPTY flags";
	if (key->gen > READ_ONCE(c->segs[key->seg].gen))
		return "Key generation ahead of its segment";
	return NULL;
}

/*
 * Copy the kset at @pos out of pmem and check it.  Returns 0 for a valid
 * kset (normal or LAST), 1 for the end of the log (bad magic or CRC), or a
 * negative errno with *why set: a media error, or a kset whose magic holds
 * but whose size is impossible.  key_num sizes the CRC and the copy, so it
 * is bounded first.
 */
int pcache_kset_read(struct pcache *c, struct pcache_pos pos,
		     struct pcache_cache_kset_onmedia *ks, const char **why)
{
	void *src = pcache_pos_addr(c, pos);
	u32 n, size;

	if (pcache_copy_mc(ks, src, PCACHE_KSET_HEADER_SIZE))
		goto media_error;
	if (le64_to_cpu(ks->magic) != PCACHE_KSET_MAGIC)
		return 1;
	if (le64_to_cpu(ks->flags) & PCACHE_KSET_FLAGS_LAST) {
		if (le32_to_cpu(ks->crc) !=
		    pcache_crc((u8 *)ks + 4, PCACHE_KSET_HEADER_SIZE - 4))
			return 1;
		if (le32_to_cpu(ks->next_cache_seg_id) >= c->n_segs) {
			*why = "LAST kset points to a segment out of range";
			return -EINVAL;
		}
		return 0;
	}
	n = le32_to_cpu(ks->key_num);
	if (n > PCACHE_KSET_KEYS_MAX) {
		*why = "Kset key_num exceeds 128";
		return -EINVAL;
	}
	size = PCACHE_KSET_SIZE(n);
	if (pos.off + size + PCACHE_LOG_TAIL_ROOM > PCACHE_SEG_DATA_SIZE) {
		*why = "Kset overruns its segment";
		return -EINVAL;
	}
	if (pcache_copy_mc(ks, src, size))
		goto media_error;
	if (le32_to_cpu(ks->crc) != pcache_crc((u8 *)ks + 4, size - 4))
		return 1;
	return 0;

media_error:
	*why = "Media error reading the key log";
	return -EIO;
}

/*
 * Writeback or GC met damage in the log at run time (@key: index of the
 * key in the kset or pass, U32_MAX for the kset itself): it stops, says
 * where and why, and the cache goes to read-only metadata mode with
 * NEEDS_CHECK set on media.
 */
void pcache_log_damage(struct pcache *c, const char *who,
		       struct pcache_pos at, u32 key, const char *why)
{
	if (key == U32_MAX)
		pcache_err(c, "%s: kset at %u:%u: %s; %s stopped, run pcache_check",
			   who, at.seg, at.off, why, who);
	else
		pcache_err(c, "%s: ksets from %u:%u, key %u: %s; %s stopped, run pcache_check",
			   who, at.seg, at.off, key, why, who);
	pcache_metadata_failed(c, why);
}

struct pcache_replay {
	struct pcache *cache;
	struct pcache_pos pos;		/* kset being replayed */
	struct pcache_cache_kset_onmedia *kset;
	u8 *crc_buf;			/* PAGE_SIZE bounce for data CRCs */
	unsigned long *visited;		/* key segments walked */
	char **error;
	bool dirty_part;		/* at or after dirty_tail */
	/*
	 * A damaged kset was met before dirty_tail: the keys before it
	 * cannot be trusted to show the newest data, but everything there
	 * is on the backing device already, so only the keys from
	 * dirty_tail on are indexed, and the cache loads read-only.
	 */
	bool damaged;
	s64 dirty_bytes;
	u64 produced;			/* log bytes from dirty_tail on */
	u32 crc_drops;			/* clean keys dropped: bad data CRC */
};

static int replay_fail(struct pcache_replay *rp, u32 i, const char *why,
		       const struct pcache_key *key)
{
	struct pcache *c = rp->cache;

	pcache_err(c, "key log: kset at %u:%u, key %u: %s (off %llu len %u flags %#x segment %u+%u gen %llu; %u segments, backing device %llu bytes)",
		   rp->pos.seg, rp->pos.off, i, why, key->off, key->len,
		   key->flags, key->seg, key->seg_off, key->gen, c->n_segs,
		   c->backing_size);
	*rp->error = (char *)why;
	return -EINVAL;
}

static int pcache_replay_key(struct pcache_replay *rp, u32 i)
{
	struct pcache *c = rp->cache;
	struct pcache_extent *e, *spare = NULL;
	struct pcache_subtree *st;
	struct pcache_key key;
	const char *why;
	u32 crc;

	why = pcache_key_decode(c, &rp->kset->data[i], &key);
	if (why)
		return replay_fail(rp, i, why, &key);

	/* Every key of the window holds its segment, stale or not. */
	pcache_seg_mark_used(c, key.seg);
	pcache_seg_get(c, key.seg);
	/* Writeback passes stale dirty keys too: count what it will pass. */
	if (rp->dirty_part && !(key.flags & PCACHE_KEY_FLAGS_CLEAN))
		rp->dirty_bytes += key.len;
	if (key.gen < c->segs[key.seg].gen)
		return 0;	/* stale: its segment was reused since */
	if (rp->damaged && !rp->dirty_part)
		return 0;	/* see struct pcache_replay */

	if (c->opts.data_crc) {
		if (pcache_key_data_crc(c, &key, rp->crc_buf, &crc)) {
			pcache_err(c, "key log: media error in data of key %u of kset %u:%u",
				   i, rp->pos.seg, rp->pos.off);
			*rp->error = "Media error reading cached data during replay";
			return -EIO;
		}
		if (crc != key.data_crc && (key.flags & PCACHE_KEY_FLAGS_CLEAN)) {
			/*
			 * A clean copy is on the backing device: leave the
			 * range uncached, as a read hit would.
			 */
			pcache_err_limit(c, "key log: kset at %u:%u, key %u: data CRC %08x, expected %08x: clean data at %llu dropped from the cache",
					 rp->pos.seg, rp->pos.off, i, crc,
					 key.data_crc, key.off);
			rp->crc_drops++;
			return 0;
		}
		if (crc != key.data_crc) {
			pcache_err(c, "key log: kset at %u:%u, key %u: data CRC %08x, expected %08x",
				   rp->pos.seg, rp->pos.off, i, crc, key.data_crc);
			*rp->error = "Data CRC mismatch during replay";
			return -EIO;
		}
	}

	e = pcache_extent_alloc(GFP_KERNEL);
	if (!e)
		goto nomem;
	e->off = key.off;
	e->len = key.len;
	e->flags = key.flags;
	e->seg = key.seg;
	e->seg_off = key.seg_off;
	e->gen = key.gen;
	e->key_seg_off = key.seg_off;
	e->key_len = key.len;
	e->data_crc = key.data_crc;
	st = pcache_subtree_of(c, key.off);
	if (pcache_index_needs_spare(st, key.off, key.len)) {
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

/*
 * rp->pos holds a kset whose magic is right but whose CRC is not, and the
 * log must go on (dirty_tail is still ahead, or needs_check says something
 * went wrong).  When its key_num is sane and a valid kset (or dirty_tail)
 * follows it, it is damage in the middle of the log: returns its size.
 * Otherwise 0: the end of the log.
 *
 * At or after dirty_tail on a cache without needs_check, a kset failing
 * its CRC is always the end of the log, as upstream reads it: a power cut
 * can tear a kset written over an older one of a reused key segment so
 * that its first words are still the old ones, and an old valid kset then
 * follows it.
 */
static u32 pcache_replay_damaged_size(struct pcache_replay *rp)
{
	struct pcache *c = rp->cache;
	struct pcache_cache_kset_onmedia hdr;
	struct pcache_pos next = rp->pos;
	const char *why = NULL;
	u32 n;

	if (pcache_copy_mc(&hdr, pcache_pos_addr(c, rp->pos), sizeof(hdr)))
		return 0;
	if (le64_to_cpu(hdr.magic) != PCACHE_KSET_MAGIC ||
	    (le64_to_cpu(hdr.flags) & PCACHE_KSET_FLAGS_LAST))
		return 0;
	n = le32_to_cpu(hdr.key_num);
	/* key_num is not covered by a CRC that holds: bound it first. */
	if (!n || n > PCACHE_KSET_KEYS_MAX ||
	    rp->pos.off + PCACHE_KSET_SIZE(n) + PCACHE_LOG_TAIL_ROOM >
	    PCACHE_SEG_DATA_SIZE)
		return 0;
	next.off += PCACHE_KSET_SIZE(n);
	if (!pcache_pos_equal(next, c->dirty_tail) &&
	    pcache_kset_read(c, next, rp->kset, &why))
		return 0;
	return PCACHE_KSET_SIZE(n);
}

/* One kset at rp->pos.  Returns 1 at the end of the log, 0 to go on. */
static int pcache_replay_kset(struct pcache_replay *rp)
{
	struct pcache_cache_kset_onmedia *ks = rp->kset;
	struct pcache *c = rp->cache;
	const char *why = NULL;
	u32 n, i, next, size;
	int r;

	r = pcache_kset_read(c, rp->pos, ks, &why);
	if (r < 0) {
		pcache_err(c, "key log: kset at %u:%u: %s", rp->pos.seg,
			   rp->pos.off, why);
		*rp->error = (char *)why;
		return r;
	}
	if (r) {
		if (rp->dirty_part && !c->needs_check)
			return 1;
		size = pcache_replay_damaged_size(rp);
		if (!size)
			return 1;
		if (rp->dirty_part) {
			pcache_err(c, "key log: needs_check is set and the kset at %u:%u (at or after dirty_tail %u:%u) fails its CRC, valid ksets following",
				   rp->pos.seg, rp->pos.off, c->dirty_tail.seg,
				   c->dirty_tail.off);
			*rp->error = "Damaged kset in the dirty part of the key log: run pcache_check and pcache_repair";
			return -EINVAL;
		}
		pcache_err(c, "key log: kset at %u:%u (before dirty_tail %u:%u) fails its CRC and valid ksets follow: loading read-only, data from the backing device",
			   rp->pos.seg, rp->pos.off, c->dirty_tail.seg,
			   c->dirty_tail.off);
		if (!rp->damaged)
			pcache_index_drop_all(c);
		rp->damaged = true;
		rp->pos.off += size;
		return 0;
	}
	if (rp->dirty_part)
		rp->produced += le64_to_cpu(ks->flags) & PCACHE_KSET_FLAGS_LAST ?
			PCACHE_KSET_HEADER_SIZE :
			PCACHE_KSET_SIZE(le32_to_cpu(ks->key_num));
	if (le64_to_cpu(ks->flags) & PCACHE_KSET_FLAGS_LAST) {
		next = le32_to_cpu(ks->next_cache_seg_id);
		if (__test_and_set_bit(next, rp->visited)) {
			pcache_err(c, "key log: LAST kset at %u:%u points back to segment %u",
				   rp->pos.seg, rp->pos.off, next);
			*rp->error = "Key log loops back to a segment already walked";
			return -EINVAL;
		}
		pcache_seg_mark_used(c, next);
		rp->pos.seg = next;
		rp->pos.off = 0;
		return 0;
	}
	n = le32_to_cpu(ks->key_num);
	for (i = 0; i < n; i++) {
		r = pcache_replay_key(rp, i);
		if (r)
			return r;
	}
	rp->pos.off += PCACHE_KSET_SIZE(n);
	return 0;
}

/*
 * A key segment must hold no data: a key pointing into one would make GC
 * free the segment under the log.  Only a crafted image does that.
 */
static int pcache_replay_check_key_segments(struct pcache_replay *rp)
{
	struct pcache *c = rp->cache;
	u32 seg;

	for_each_set_bit(seg, rp->visited, c->n_segs) {
		if (atomic_read(&c->segs[seg].refs)) {
			pcache_err(c, "key log: segment %u holds ksets and is named by %d keys",
				   seg, atomic_read(&c->segs[seg].refs));
			*rp->error = "Key points into a key segment";
			return -EINVAL;
		}
	}
	return 0;
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
		if (pcache_pos_equal(rp.pos, c->dirty_tail)) {
			dirty_tail_seen = true;
			rp.dirty_part = true;
		}
		r = pcache_replay_kset(&rp);
		if (r)
			break;
		if (!(++steps % 256))
			cond_resched();
	}
	if (r < 0)
		goto out;
	r = pcache_replay_check_key_segments(&rp);
	if (r)
		goto out;
	c->key_head = rp.pos;
	if (!dirty_tail_seen) {
		pcache_err(c, "dirty_tail %u:%u is not a kset boundary between key_tail %u:%u and the log end %u:%u",
			   c->dirty_tail.seg, c->dirty_tail.off,
			   c->key_tail.seg, c->key_tail.off,
			   rp.pos.seg, rp.pos.off);
		*error = "dirty_tail is not on the key log";
		r = -EINVAL;
		goto out;
	}
	this_cpu_add(c->stats->dirty_bytes, rp.dirty_bytes);
	this_cpu_add(c->stats->crc_heals, rp.crc_drops);
	c->log_produced = rp.produced;
	if (rp.damaged)
		c->meta_mode = PCACHE_META_RO;
out:
	bitmap_free(rp.visited);
	kfree(rp.crc_buf);
	kvfree(rp.kset);
	return r;
}
