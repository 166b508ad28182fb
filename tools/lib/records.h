// Host-side images of the on-media records.
//
// One plain struct per on-media struct of <pcache/pcache_format.h>, holding
// every field in host byte order, including the bytes upstream leaves
// uninitialised (header version/res, superblock pad): they are covered by
// the CRCs, so keeping them is what lets a record be written back
// byte-identical.  Only decode.cc and encode.cc convert between the two.
//
// Byte order: pcache supports little-endian images only.  Upstream stores
// every record but the superblock in the formatting host's byte order and
// marks big-endian hosts with PCACHE_SB_F_BIGENDIAN; such images are
// refused by name (damage_kind::sb_big_endian).
#pragma once

#include <pcache/pcache_format.h>

#include <cstdint>
#include <string>

namespace pcache {

// The header of cache_info, pos, seg_info and seg_gen records.
struct meta_header {
	uint32_t crc = 0;	// as stored
	uint8_t seq = 0;
	uint8_t version = 0;	// never set by upstream; may hold garbage
	uint16_t res = 0;	// never set by upstream; may hold garbage

	bool operator==(const meta_header &o) const
	{
		return crc == o.crc && seq == o.seq && version == o.version && res == o.res;
	}
};

struct superblock {
	uint32_t crc = 0;
	uint32_t flags = 0;
	uint64_t magic = 0;
	uint32_t seg_num = 0;
	uint32_t pad = 0;	// whatever was on media before format
};

// Cache modes (cache_info.flags bits 2..5, PCACHE_CACHE_MODE_*):
// "writeback", ... for the known values, the decimal number otherwise.
std::string cache_mode_name(uint32_t mode);
// Inverse of cache_mode_name for the five named modes.
bool parse_cache_mode(const std::string &name, uint32_t &mode);

struct cache_info {
	meta_header header;
	uint32_t seg_id = 0;	// physical id of logical segment 0
	uint32_t n_segs = 0;
	uint32_t flags = 0;
	uint32_t reserved = 0;

	bool data_crc() const { return flags & PCACHE_CACHE_FLAGS_DATA_CRC; }
	bool init_done() const { return flags & PCACHE_CACHE_FLAGS_INIT_DONE; }
	bool needs_check() const { return flags & PCACHE_CACHE_FLAGS_NEEDS_CHECK; }
	uint32_t mode() const
	{
		return (flags & PCACHE_CACHE_FLAGS_MODE_MASK) >> PCACHE_CACHE_FLAGS_MODE_SHIFT;
	}
	uint32_t gc_percent() const
	{
		return (flags & PCACHE_CACHE_FLAGS_GC_MASK) >> PCACHE_CACHE_FLAGS_GC_SHIFT;
	}
	uint32_t unknown_flags() const { return flags & ~PCACHE_CACHE_FLAGS_KNOWN; }
};

// A log position: logical cache segment and byte offset in its data area.
struct cache_pos {
	uint32_t seg = 0;
	uint32_t off = 0;

	bool operator==(const cache_pos &o) const { return seg == o.seg && off == o.off; }
	bool operator!=(const cache_pos &o) const { return !(*this == o); }
};
std::string to_string(const cache_pos &pos);	// "seg:off"

// key_tail / dirty_tail record.
struct pos_record {
	meta_header header;
	cache_pos pos;
};

struct segment_info {
	meta_header header;
	uint32_t flags = 0;
	uint32_t next_seg = 0;	// physical id, meaningful with HAS_NEXT

	bool has_next() const { return flags & PCACHE_SEG_INFO_FLAGS_HAS_NEXT; }
	uint32_t type() const
	{
		return (flags & PCACHE_SEG_INFO_TYPE_MASK) >> PCACHE_SEG_INFO_TYPE_SHIFT;
	}
	uint32_t unknown_flags() const
	{
		return flags & ~(PCACHE_SEG_INFO_FLAGS_HAS_NEXT | PCACHE_SEG_INFO_TYPE_MASK);
	}
};

struct seg_gen {
	meta_header header;
	uint64_t gen = 0;
};

struct kset_header {
	uint32_t crc = 0;
	uint32_t key_num = 0;	// next_cache_seg_id for a LAST kset
	uint64_t magic = 0;
	uint64_t flags = 0;

	bool last() const { return flags & PCACHE_KSET_FLAGS_LAST; }
	uint32_t next_seg() const { return key_num; }
	uint64_t unknown_flags() const { return flags & ~PCACHE_KSET_FLAGS_LAST; }
};

struct cache_key {
	uint64_t off = 0;	// logical byte offset on the origin
	uint32_t len = 0;
	uint32_t flags = 0;
	uint32_t seg = 0;	// logical cache segment of the payload
	uint32_t seg_off = 0;	// payload offset in that data area
	uint64_t gen = 0;	// segment generation at allocation
	uint32_t data_crc = 0;
	uint32_t reserved = 0;

	bool clean() const { return flags & PCACHE_KEY_FLAGS_CLEAN; }
	bool empty() const { return flags & PCACHE_KEY_FLAGS_EMPTY; }
	uint32_t unknown_flags() const
	{
		return flags & ~(PCACHE_KEY_FLAGS_CLEAN | PCACHE_KEY_FLAGS_EMPTY);
	}
	uint64_t end() const { return off + len; }
};

} // namespace pcache
