// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: the cache device.  Maps the whole DAX device, reads and writes the
 * replicated metadata records, validates the superblock and formats a
 * device whose superblock magic is zero.
 */
#include <linux/vmalloc.h>

#include "pcache.h"

/* ---- the DAX mapping ---- */

static int pcache_dev_vmap(struct pcache *c, struct dax_device *dax,
			   pgoff_t pgoff, long nr_pages, char **error)
{
	struct page **pages;
	long done = 0, got, i;
	struct page *first;
	void *kaddr;

	pages = kvmalloc_array(nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		*error = "Cannot allocate memory to map the cache device";
		return -ENOMEM;
	}
	while (done < nr_pages) {
		got = pcache_dax_map(dax, pgoff + done, nr_pages - done,
				     &kaddr, &first);
		if (got <= 0 || !first) {
			*error = got <= 0 ? "DAX mapping of the cache device failed"
				: "cache device pages have no struct page (cannot vmap)";
			kvfree(pages);
			return got < 0 ? got : -EOPNOTSUPP;
		}
		for (i = 0; i < got && done < nr_pages; i++)
			pages[done++] = nth_page(first, i);
	}
	c->base = vmap(pages, nr_pages, VM_MAP, PAGE_KERNEL);
	kvfree(pages);
	if (!c->base) {
		*error = "vmap of the cache device failed";
		return -ENOMEM;
	}
	c->vmapped = true;
	return 0;
}

int pcache_dev_map(struct pcache *c, struct dm_dev *dev, char **error)
{
	struct block_device *bdev = dev->bdev;
	struct dax_device *dax = pcache_dm_dax(dev);
	sector_t start = get_start_sect(bdev);
	struct page *first;
	long nr_pages, got;
	void *kaddr;
	int id, r = 0;

	if (!dax) {
		*error = "Cache device is not DAX-capable";
		return -EOPNOTSUPP;
	}
	c->dev_size = bdev_nr_bytes(bdev);
	if (c->dev_size < PCACHE_CACHE_DEV_SIZE_MIN) {
		*error = "Cache device is smaller than 512 MiB";
		return -ENOSPC;
	}
	if (start & ((PAGE_SIZE >> SECTOR_SHIFT) - 1)) {
		*error = "Cache device partition is not page-aligned";
		return -EINVAL;
	}
	nr_pages = c->dev_size >> PAGE_SHIFT;

	id = dax_read_lock();
	got = pcache_dax_map(dax, start >> (PAGE_SHIFT - SECTOR_SHIFT),
			     nr_pages, &kaddr, &first);
	if (got >= nr_pages) {
		c->base = kaddr;
	} else if (got > 0) {
		/* Not one contiguous kernel mapping: stitch it with vmap. */
		r = pcache_dev_vmap(c, dax, start >> (PAGE_SHIFT - SECTOR_SHIFT),
				    nr_pages, error);
	} else {
		*error = "DAX mapping of the cache device failed";
		r = got ? got : -EIO;
	}
	dax_read_unlock(id);
	if (r)
		return r;
	/*
	 * Writeback hands pmem pages to the backing device's bios: they are
	 * found with virt_to_page() in the linear map, vmalloc_to_page()
	 * when stitched with vmap.
	 */
	c->pmem_linear = !c->vmapped && virt_addr_valid(c->base) &&
		virt_addr_valid(c->base + c->dev_size - 1);
	if (!c->vmapped && !c->pmem_linear) {
		*error = "Cache device mapping has no struct pages";
		return -EOPNOTSUPP;
	}
	return 0;
}

void pcache_dev_unmap(struct pcache *c)
{
	if (c->vmapped && c->base)
		vunmap(c->base);
	c->base = NULL;
}

/* ---- persistent stores ---- */

/*
 * Store @len bytes durably (after the caller's pmem_wmb()).  A frozen
 * target (fault injection) drops every store, as a power cut would.
 */
void pcache_pmem_write(void *dst, const void *src, size_t len)
{
	if (pcache_frozen())
		return;
	memcpy_flushcache(dst, src, len);
}

void pcache_pmem_zero(void *dst, size_t len)
{
	static const u8 zeros[512];
	size_t n;

	if (pcache_frozen())
		return;
	while (len) {
		n = min(len, sizeof(zeros));
		memcpy_flushcache(dst, zeros, n);
		dst += n;
		len -= n;
	}
}

/* ---- replicated records (cache_info, tails, seg_info, seg_gen) ---- */

/*
 * Read both replicas of a record of @size bytes at @base and @base+@stride
 * and copy the newest one whose CRC holds into @out.  Returns its slot, or
 * -ENOENT when neither is valid.  A replica that cannot be read (media
 * error) counts as invalid.  The seq comparison is the format's 8-bit
 * wrap-around one: equal seqs keep slot 0.
 */
int pcache_meta_find_latest(const void *base, size_t stride, size_t size,
			    void *out)
{
	u8 buf[32];
	struct pcache_meta_header *hdr = (void *)buf;
	int slot, latest = -ENOENT;
	u8 latest_seq = 0;

	if (WARN_ON_ONCE(size > sizeof(buf) || size < sizeof(*hdr)))
		return -EINVAL;
	for (slot = 0; slot < PCACHE_META_REPLICAS; slot++) {
		if (pcache_copy_mc(buf, base + slot * stride, size))
			continue;
		if (le32_to_cpu(hdr->crc) != pcache_crc(buf + 4, size - 4))
			continue;
		if (latest >= 0 && (s8)(hdr->seq - latest_seq) <= 0)
			continue;
		latest = slot;
		latest_seq = hdr->seq;
		memcpy(out, buf, size);
	}
	return latest;
}

/* Seal @rec (CRC over bytes [4, size)) and store it in replica @slot. */
void pcache_meta_write(void *base, size_t stride, int slot, void *rec,
		       size_t size)
{
	struct pcache_meta_header *hdr = rec;

	hdr->crc = cpu_to_le32(pcache_crc(rec + 4, size - 4));
	pcache_pmem_write(base + slot * stride, rec, size);
	pmem_wmb();
	pcache_persist_point();
}

static bool pcache_all_zero(const u8 *p, size_t len)
{
	return !p[0] && !memcmp(p, p + 1, len - 1);
}

/*
 * After a load: a replica whose CRC fails although it is not all zeros is
 * a torn write (a power cut in the middle of its 16 or 24 bytes) or
 * damage.  Rewrite it from the newest valid copy with seq + 1, so both
 * replicas are valid again and the healed one is the newest.  All-zero
 * replicas are slots never written, and are left alone.  Returns the slot
 * holding the newest copy, or -ENOENT when none is valid.
 */
int pcache_meta_heal(struct pcache *c, void *base, size_t stride,
		     size_t size, const char *what)
{
	struct pcache_meta_header *hdr;
	u8 good[32], buf[32];
	int latest, slot;

	latest = pcache_meta_find_latest(base, stride, size, good);
	if (latest < 0)
		return latest;
	hdr = (void *)good;
	for (slot = 0; slot < PCACHE_META_REPLICAS; slot++) {
		if (slot == latest)
			continue;
		if (!pcache_copy_mc(buf, base + slot * stride, size)) {
			if (le32_to_cpu(((struct pcache_meta_header *)buf)->crc) ==
			    pcache_crc(buf + 4, size - 4) ||
			    pcache_all_zero(buf, size))
				continue;
		}
		hdr->seq++;
		pcache_meta_write(base, stride, slot, good, size);
		pcache_info(c, "healed %s replica %d from replica %d (seq %u)",
			    what, slot, latest, hdr->seq);
		latest = slot;
	}
	return latest;
}

/* ---- format ---- */

static void pcache_format_segment(struct pcache *c, u32 p, u32 seg_num)
{
	void *seg = c->base + PCACHE_SEG_DEV_OFF(p);
	struct pcache_cache_seg_gen gen = { .header.seq = 1 };
	struct pcache_segment_info info = { .header.seq = 1 };
	u32 flags = PCACHE_SEGMENT_TYPE_CACHE_DATA << PCACHE_SEG_INFO_TYPE_SHIFT;

	pcache_pmem_zero(seg, PCACHE_SEG_DATA_OFF);
	pcache_meta_write(seg + PCACHE_SEG_GEN_REPLICA_OFF(0),
			  sizeof(gen), 0, &gen, sizeof(gen));
	if (p + 1 < seg_num) {
		flags |= PCACHE_SEG_INFO_FLAGS_HAS_NEXT;
		info.next_seg = cpu_to_le32(p + 1);
	}
	info.flags = cpu_to_le32(flags);
	pcache_meta_write(seg, PCACHE_SEG_INFO_SIZE, 0, &info, sizeof(info));
	/* An empty log: a kset header of zeros. */
	pcache_pmem_zero(seg + PCACHE_SEG_DATA_OFF, PCACHE_KSET_HEADER_SIZE);
}

/*
 * Format a device whose superblock magic is zero.  The superblock is
 * written last: a power cut during format leaves the magic zero, so the
 * next load simply formats again.
 */
static void pcache_format(struct pcache *c, struct pcache_sb *sb, u32 seg_num)
{
	struct pcache_cache_pos_onmedia pos = { .header.seq = 1 };
	struct pcache_cache_info info = { .header.seq = 1 };
	u32 flags, p;

	pcache_info(c, "formatting cache device: %u segments", seg_num);
	pcache_pmem_zero(c->base + PCACHE_CACHE_INFO_OFF,
			 PCACHE_SEGMENTS_OFF - PCACHE_CACHE_INFO_OFF);
	for (p = 0; p < seg_num; p++) {
		pcache_format_segment(c, p, seg_num);
		cond_resched();
	}
	/* key_tail = dirty_tail = (0, 0), replica 0. */
	pcache_meta_write(c->base + PCACHE_KEY_TAIL_OFF(0), sizeof(pos), 0,
			  &pos, sizeof(pos));
	pcache_meta_write(c->base + PCACHE_DIRTY_TAIL_OFF(0), sizeof(pos), 0,
			  &pos, sizeof(pos));

	flags = PCACHE_CACHE_FLAGS_INIT_DONE |
		(c->opts.cache_mode << PCACHE_CACHE_FLAGS_MODE_SHIFT) |
		(PCACHE_GC_PERCENT_DEFAULT << PCACHE_CACHE_FLAGS_GC_SHIFT);
	if (c->opts.data_crc)
		flags |= PCACHE_CACHE_FLAGS_DATA_CRC;
	info.seg_id = cpu_to_le32(0);
	info.n_segs = cpu_to_le32(seg_num);
	info.flags = cpu_to_le32(flags);
	pcache_meta_write(c->base + PCACHE_CACHE_INFO_OFF,
			  PCACHE_CACHE_INFO_SIZE, 0, &info, sizeof(info));

	/* Keep the padding as found (it is covered by the CRC). */
	sb->flags = cpu_to_le32(0);
	sb->magic = cpu_to_le64(PCACHE_MAGIC);
	sb->seg_num = cpu_to_le32(seg_num);
	sb->crc = cpu_to_le32(pcache_crc((u8 *)sb + 4, sizeof(*sb) - 4));
	pcache_pmem_write(c->base + PCACHE_SB_OFF, sb, sizeof(*sb));
	pmem_wmb();
}

/* ---- superblock ---- */

static u32 pcache_seg_capacity(struct pcache *c)
{
	u64 n = div_u64(c->dev_size - PCACHE_SEGMENTS_OFF, PCACHE_SEG_SIZE);

	return min_t(u64, n, PCACHE_CACHE_SEGS_MAX);
}

/*
 * Validate the superblock, or format the device when its magic is zero.
 * Nothing else ever formats: a damaged cache is refused, never rebuilt.
 */
int pcache_sb_load_or_format(struct pcache *c, char **error)
{
	u32 capacity = pcache_seg_capacity(c);
	struct pcache_sb sb;
	u64 magic;
	u32 seg_num;

	if (pcache_copy_mc(&sb, c->base + PCACHE_SB_OFF, sizeof(sb))) {
		*error = "Media error reading the superblock";
		return -EIO;
	}
	magic = le64_to_cpu(sb.magic);
	if (!magic) {
		pcache_format(c, &sb, capacity);
		if (pcache_copy_mc(&sb, c->base + PCACHE_SB_OFF, sizeof(sb))) {
			*error = "Media error reading the superblock";
			return -EIO;
		}
		magic = le64_to_cpu(sb.magic);
	}
	if (magic != PCACHE_MAGIC) {
		pcache_err(c, "superblock magic %016llx, expected %016llx",
			   magic, PCACHE_MAGIC);
		*error = "Unexpected superblock magic: not a pcache device";
		return -EINVAL;
	}
	if (le32_to_cpu(sb.crc) != pcache_crc((u8 *)&sb + 4, sizeof(sb) - 4)) {
		*error = "Superblock CRC mismatch";
		return -EINVAL;
	}
	c->sb_flags = le32_to_cpu(sb.flags);
	if (c->sb_flags & PCACHE_SB_F_BIGENDIAN) {
		*error = "Cache was formatted on a big-endian host: not supported";
		return -EINVAL;
	}
	/*
	 * seg_num sizes every array and bounds every segment id below: it
	 * must fit the device (and the format's limit) before it is trusted.
	 */
	seg_num = le32_to_cpu(sb.seg_num);
	if (!seg_num || seg_num > capacity) {
		pcache_err(c, "superblock seg_num %u, device holds %u segments",
			   seg_num, capacity);
		*error = "Superblock seg_num does not fit the cache device";
		return -EINVAL;
	}
	c->seg_num = seg_num;
	return 0;
}
