/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pcache on-media format: the single source of truth.
 *
 * This header is included by the kernel target (kernel/) and by the C++
 * tools library (tools/lib/).  It contains only fixed-width structs,
 * constants and offsets; no code.  The layout is the one written by the
 * dm-pcache target of Linux 6.18 (see ../shared/spec/pcache-format.md and
 * docs/format.md); pcache's own extensions live in the bits and fields the
 * upstream target ignores and are listed in docs/format-extensions.md.
 *
 * Byte order: upstream stores every record except the superblock in the
 * byte order of the formatting host and records a big-endian host in
 * PCACHE_SB_F_BIGENDIAN.  pcache supports little-endian images only (that is
 * every image written on x86, arm64 and riscv), so all fields are declared
 * little-endian here and both sides convert explicitly; an image with the
 * big-endian flag is refused by name.
 *
 * Every size and offset is pinned by a static assertion at the end of this
 * file, so the kernel and the tools cannot drift apart.
 */
#ifndef PCACHE_FORMAT_H
#define PCACHE_FORMAT_H

#ifdef __KERNEL__
#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/types.h>
#else
#include <linux/types.h>
#include <stddef.h>
#ifndef __cplusplus
#include <assert.h>
#endif
#endif

/* ---------------------------------------------------------------------
 * Device layout (byte offsets from the start of the cache device)
 * ------------------------------------------------------------------- */
#define PCACHE_KIB			1024ULL
#define PCACHE_MIB			(1024ULL * PCACHE_KIB)

#define PCACHE_SB_OFF			(4 * PCACHE_KIB)
#define PCACHE_SB_SIZE			(4 * PCACHE_KIB)
#define PCACHE_CACHE_INFO_OFF		(8 * PCACHE_KIB)
#define PCACHE_CACHE_INFO_SIZE		(4 * PCACHE_KIB)	/* replica stride */
#define PCACHE_CACHE_CTRL_OFF		(16 * PCACHE_KIB)
#define PCACHE_CACHE_CTRL_SIZE		(4 * PCACHE_KIB)
#define PCACHE_SEGMENTS_OFF		(20 * PCACHE_KIB)
#define PCACHE_SEG_SIZE			(16 * PCACHE_MIB)
#define PCACHE_CACHE_DEV_SIZE_MIN	(512 * PCACHE_MIB)
#define PCACHE_CACHE_SEGS_MAX		(1024U * 1024U)

/* Older kernels (6.18 before the December 2025 fix) wrote every second
 * cache_info update at INFO_OFF + 24; no reader ever looks there. */
#define PCACHE_CACHE_INFO_STRAY_OFF	(PCACHE_CACHE_INFO_OFF + 24)

/* Number of replicas of every replicated record. */
#define PCACHE_META_REPLICAS		2

/* Inside a segment (offsets from the segment start). */
#define PCACHE_SEG_INFO_SIZE		(4 * PCACHE_KIB)	/* replica stride */
#define PCACHE_SEG_CTRL_OFF		(8 * PCACHE_KIB)
#define PCACHE_SEG_CTRL_SIZE		(4 * PCACHE_KIB)
#define PCACHE_SEG_DATA_OFF		(12 * PCACHE_KIB)
#define PCACHE_SEG_DATA_SIZE		(PCACHE_SEG_SIZE - PCACHE_SEG_DATA_OFF)

/* Logical (backing-device) geometry. */
#define PCACHE_SUBTREE_SHIFT		22
#define PCACHE_SUBTREE_SIZE		(1ULL << PCACHE_SUBTREE_SHIFT)
#define PCACHE_SUBTREE_MASK		(PCACHE_SUBTREE_SIZE - 1)
#define PCACHE_SECTOR_SIZE		512U

/* ---------------------------------------------------------------------
 * Constants
 * ------------------------------------------------------------------- */
#define PCACHE_MAGIC			0x65B05EFA96C596EFULL
#define PCACHE_KSET_MAGIC		0x676894a64e164f1aULL
/* CRC-32C (Castagnoli), reflected, initial register = seed, no final xor. */
#define PCACHE_CRC_SEED			0x3B15AU

#define PCACHE_KSET_KEYS_MAX		128U
#define PCACHE_GC_PERCENT_DEFAULT	70U
#define PCACHE_GC_PERCENT_MAX		90U

/* Superblock flags. */
#define PCACHE_SB_F_BIGENDIAN		(1U << 0)

/* cache_info.flags */
#define PCACHE_CACHE_FLAGS_DATA_CRC	(1U << 0)
#define PCACHE_CACHE_FLAGS_INIT_DONE	(1U << 1)
#define PCACHE_CACHE_FLAGS_MODE_SHIFT	2
#define PCACHE_CACHE_FLAGS_MODE_MASK	(0xFU << PCACHE_CACHE_FLAGS_MODE_SHIFT)
#define PCACHE_CACHE_FLAGS_GC_SHIFT	6
#define PCACHE_CACHE_FLAGS_GC_MASK	(0x7FU << PCACHE_CACHE_FLAGS_GC_SHIFT)
/*
 * pcache extension (docs/format-extensions.md): set by the target when a
 * metadata failure was seen at run time, cleared only by
 * `pcache_check --clear-needs-check-flag`.  Upstream ignores this bit and
 * carries it along when it rewrites cache_info.
 */
#define PCACHE_CACHE_FLAGS_NEEDS_CHECK	(1U << 13)
/* Bits upstream defines or pcache's extensions use; anything else is unknown. */
#define PCACHE_CACHE_FLAGS_KNOWN	(PCACHE_CACHE_FLAGS_DATA_CRC |	\
					 PCACHE_CACHE_FLAGS_INIT_DONE |	\
					 PCACHE_CACHE_FLAGS_MODE_MASK |	\
					 PCACHE_CACHE_FLAGS_GC_MASK |	\
					 PCACHE_CACHE_FLAGS_NEEDS_CHECK)

/* Cache modes stored in cache_info.flags bits 2..5. */
#define PCACHE_CACHE_MODE_WRITEBACK	0U
#define PCACHE_CACHE_MODE_WRITETHROUGH	1U
#define PCACHE_CACHE_MODE_WRITEAROUND	2U
#define PCACHE_CACHE_MODE_WRITEONLY	3U	/* upstream: defined, unused */
/* pcache extension: values 4..15 are unused upstream. */
#define PCACHE_CACHE_MODE_PASSTHROUGH	4U

/* segment_info.flags */
#define PCACHE_SEG_INFO_FLAGS_HAS_NEXT	(1U << 0)
#define PCACHE_SEG_INFO_TYPE_SHIFT	1
#define PCACHE_SEG_INFO_TYPE_MASK	(0xFU << PCACHE_SEG_INFO_TYPE_SHIFT)
#define PCACHE_SEGMENT_TYPE_CACHE_DATA	1U

/* key.flags */
#define PCACHE_KEY_FLAGS_EMPTY		(1U << 0)	/* never persisted */
#define PCACHE_KEY_FLAGS_CLEAN		(1U << 1)

/* kset.flags */
#define PCACHE_KSET_FLAGS_LAST		(1ULL << 0)

/* ---------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------- */

/* Header shared by cache_info, pos, seg_info and seg_gen records.  The CRC
 * covers bytes [4, sizeof(record)) of the containing record, as stored. */
struct pcache_meta_header {
	__le32 crc;
	__u8 seq;	/* 8-bit, compared with wrap-around */
	__u8 version;	/* never set by upstream; may hold garbage */
	__le16 res;	/* never set by upstream; may hold garbage */
};

/* Superblock, single copy at PCACHE_SB_OFF.  CRC covers bytes [4, 24),
 * including the tail padding, which keeps whatever was there before. */
struct pcache_sb {
	__le32 crc;
	__le32 flags;
	__le64 magic;
	__le32 seg_num;
	__le32 pad;
};

/* Two replicas at PCACHE_CACHE_INFO_OFF + i * PCACHE_CACHE_INFO_SIZE. */
struct pcache_cache_info {
	struct pcache_meta_header header;
	__le32 seg_id;		/* physical id of logical segment 0 */
	__le32 n_segs;
	__le32 flags;
	__le32 reserved;
};

/* key_tail / dirty_tail position (two replicas each, stride 16 bytes). */
struct pcache_cache_pos_onmedia {
	struct pcache_meta_header header;
	__le32 cache_seg_id;	/* logical segment id */
	__le32 seg_off;		/* offset in that segment's data area */
};

/* At PCACHE_CACHE_CTRL_OFF. */
struct pcache_cache_ctrl {
	struct pcache_cache_pos_onmedia key_tail_pos[PCACHE_META_REPLICAS];
	struct pcache_cache_pos_onmedia dirty_tail_pos[PCACHE_META_REPLICAS];
};

/* Two replicas at segment + i * PCACHE_SEG_INFO_SIZE. */
struct pcache_segment_info {
	struct pcache_meta_header header;
	__le32 flags;
	__le32 next_seg;	/* physical id; valid only with HAS_NEXT */
};

struct pcache_cache_seg_gen {
	struct pcache_meta_header header;
	__le64 gen;
};

/* At segment + PCACHE_SEG_CTRL_OFF. */
struct pcache_cache_seg_ctrl {
	struct pcache_cache_seg_gen gen[PCACHE_META_REPLICAS];
	__le64 res[64];
};

struct pcache_cache_key_onmedia {
	__le64 off;		/* logical byte offset on the backing device */
	__le32 len;		/* bytes */
	__le32 flags;
	__le32 cache_seg_id;	/* logical segment id of the payload */
	__le32 cache_seg_off;	/* payload offset in that data area */
	__le64 seg_gen;
	__le32 data_crc;
	__le32 reserved;
};

/* Kset header; key_num keys follow for a normal kset.  A LAST kset has no
 * keys and its second word is the logical id of the next key segment. */
struct pcache_cache_kset_onmedia {
	__le32 crc;
	union {
		__le32 key_num;
		__le32 next_cache_seg_id;
	};
	__le64 magic;
	__le64 flags;
	struct pcache_cache_key_onmedia data[];
};

/* Derived sizes. */
#define PCACHE_KSET_HEADER_SIZE		sizeof(struct pcache_cache_kset_onmedia)
#define PCACHE_KEY_SIZE			sizeof(struct pcache_cache_key_onmedia)
#define PCACHE_KSET_SIZE(nr_keys)	(PCACHE_KSET_HEADER_SIZE + \
					 (size_t)(nr_keys) * PCACHE_KEY_SIZE)
#define PCACHE_KSET_ONMEDIA_SIZE_MAX	PCACHE_KSET_SIZE(PCACHE_KSET_KEYS_MAX)

/* Device offsets of the tail replicas. */
#define PCACHE_KEY_TAIL_OFF(i)		(PCACHE_CACHE_CTRL_OFF + \
		offsetof(struct pcache_cache_ctrl, key_tail_pos) + \
		(i) * sizeof(struct pcache_cache_pos_onmedia))
#define PCACHE_DIRTY_TAIL_OFF(i)	(PCACHE_CACHE_CTRL_OFF + \
		offsetof(struct pcache_cache_ctrl, dirty_tail_pos) + \
		(i) * sizeof(struct pcache_cache_pos_onmedia))
#define PCACHE_CACHE_INFO_REPLICA_OFF(i) \
		(PCACHE_CACHE_INFO_OFF + (i) * PCACHE_CACHE_INFO_SIZE)
/* Offsets inside a segment. */
#define PCACHE_SEG_INFO_REPLICA_OFF(i)	((i) * PCACHE_SEG_INFO_SIZE)
#define PCACHE_SEG_GEN_REPLICA_OFF(i)	(PCACHE_SEG_CTRL_OFF + \
		(i) * sizeof(struct pcache_cache_seg_gen))
/* Device offset of physical segment p (p < seg_num, checked by callers). */
#define PCACHE_SEG_DEV_OFF(p)		(PCACHE_SEGMENTS_OFF + \
					 (__u64)(p) * PCACHE_SEG_SIZE)

/* ---------------------------------------------------------------------
 * Layout pins
 * ------------------------------------------------------------------- */
static_assert(sizeof(struct pcache_meta_header) == 8, "meta_header size");
static_assert(offsetof(struct pcache_meta_header, seq) == 4, "meta seq");
static_assert(offsetof(struct pcache_meta_header, version) == 5, "meta version");
static_assert(offsetof(struct pcache_meta_header, res) == 6, "meta res");

static_assert(sizeof(struct pcache_sb) == 24, "sb size");
static_assert(offsetof(struct pcache_sb, flags) == 4, "sb flags");
static_assert(offsetof(struct pcache_sb, magic) == 8, "sb magic");
static_assert(offsetof(struct pcache_sb, seg_num) == 16, "sb seg_num");
static_assert(offsetof(struct pcache_sb, pad) == 20, "sb pad");

static_assert(sizeof(struct pcache_cache_info) == 24, "cache_info size");
static_assert(offsetof(struct pcache_cache_info, seg_id) == 8, "ci seg_id");
static_assert(offsetof(struct pcache_cache_info, n_segs) == 12, "ci n_segs");
static_assert(offsetof(struct pcache_cache_info, flags) == 16, "ci flags");
static_assert(offsetof(struct pcache_cache_info, reserved) == 20, "ci reserved");

static_assert(sizeof(struct pcache_cache_pos_onmedia) == 16, "pos size");
static_assert(offsetof(struct pcache_cache_pos_onmedia, cache_seg_id) == 8, "pos seg");
static_assert(offsetof(struct pcache_cache_pos_onmedia, seg_off) == 12, "pos off");

static_assert(sizeof(struct pcache_cache_ctrl) == 64, "ctrl size");
static_assert(offsetof(struct pcache_cache_ctrl, dirty_tail_pos) == 32, "ctrl dirty");

static_assert(sizeof(struct pcache_segment_info) == 16, "seg_info size");
static_assert(offsetof(struct pcache_segment_info, flags) == 8, "si flags");
static_assert(offsetof(struct pcache_segment_info, next_seg) == 12, "si next");

static_assert(sizeof(struct pcache_cache_seg_gen) == 16, "seg_gen size");
static_assert(offsetof(struct pcache_cache_seg_gen, gen) == 8, "seg_gen gen");
static_assert(sizeof(struct pcache_cache_seg_ctrl) == 544, "seg_ctrl size");

static_assert(sizeof(struct pcache_cache_key_onmedia) == 40, "key size");
static_assert(offsetof(struct pcache_cache_key_onmedia, len) == 8, "key len");
static_assert(offsetof(struct pcache_cache_key_onmedia, flags) == 12, "key flags");
static_assert(offsetof(struct pcache_cache_key_onmedia, cache_seg_id) == 16, "key seg");
static_assert(offsetof(struct pcache_cache_key_onmedia, cache_seg_off) == 20, "key seg off");
static_assert(offsetof(struct pcache_cache_key_onmedia, seg_gen) == 24, "key gen");
static_assert(offsetof(struct pcache_cache_key_onmedia, data_crc) == 32, "key crc");
static_assert(offsetof(struct pcache_cache_key_onmedia, reserved) == 36, "key res");

static_assert(sizeof(struct pcache_cache_kset_onmedia) == 24, "kset header size");
static_assert(offsetof(struct pcache_cache_kset_onmedia, key_num) == 4, "kset key_num");
static_assert(offsetof(struct pcache_cache_kset_onmedia, magic) == 8, "kset magic");
static_assert(offsetof(struct pcache_cache_kset_onmedia, flags) == 16, "kset flags");
static_assert(offsetof(struct pcache_cache_kset_onmedia, data) == 24, "kset keys");

static_assert(PCACHE_KSET_ONMEDIA_SIZE_MAX == 5144, "kset max size");
static_assert(PCACHE_SEG_DATA_SIZE == 16764928, "segment data area");
static_assert(PCACHE_KEY_TAIL_OFF(1) == 0x4010, "key_tail[1]");
static_assert(PCACHE_DIRTY_TAIL_OFF(0) == 0x4020, "dirty_tail[0]");
static_assert(PCACHE_DIRTY_TAIL_OFF(1) == 0x4030, "dirty_tail[1]");
static_assert(PCACHE_SEG_GEN_REPLICA_OFF(1) == 0x2010, "seg_gen[1]");
static_assert(PCACHE_CACHE_FLAGS_GC_MASK == 0x1FC0, "gc_percent bits");
static_assert((PCACHE_CACHE_FLAGS_NEEDS_CHECK &
	       (PCACHE_CACHE_FLAGS_DATA_CRC | PCACHE_CACHE_FLAGS_INIT_DONE |
		PCACHE_CACHE_FLAGS_MODE_MASK | PCACHE_CACHE_FLAGS_GC_MASK)) == 0,
	      "needs_check bit must not overlap upstream fields");

#endif /* PCACHE_FORMAT_H */
