// Device geometry derived from the format constants: where things are.
#pragma once

#include "records.h"

#include <pcache/pcache_format.h>

#include <cstdint>

namespace pcache {

// Segments a device of `size` bytes can hold (what format stores in
// seg_num), capped by nothing: the caller compares with the limits.
inline uint64_t segment_capacity(uint64_t size)
{
	return size < PCACHE_SEGMENTS_OFF ? 0 : (size - PCACHE_SEGMENTS_OFF) / PCACHE_SEG_SIZE;
}

// Bytes a cache of seg_num segments occupies on its device.
inline uint64_t device_bytes_for(uint64_t seg_num)
{
	return PCACHE_SEGMENTS_OFF + seg_num * PCACHE_SEG_SIZE;
}

inline uint64_t segment_offset(uint32_t phys)
{
	return PCACHE_SEG_DEV_OFF(phys);
}

// Device offset of byte `off` of physical segment `phys`'s data area.
inline uint64_t data_offset(uint32_t phys, uint64_t off)
{
	return segment_offset(phys) + PCACHE_SEG_DATA_OFF + off;
}

inline uint64_t seg_info_offset(uint32_t phys, unsigned replica)
{
	return segment_offset(phys) + PCACHE_SEG_INFO_REPLICA_OFF(replica);
}

inline uint64_t seg_gen_offset(uint32_t phys, unsigned replica)
{
	return segment_offset(phys) + PCACHE_SEG_GEN_REPLICA_OFF(replica);
}

// A position inside the data area where a kset header fits.
inline bool kset_header_fits(const cache_pos &pos)
{
	return pos.off <= PCACHE_SEG_DATA_SIZE - PCACHE_KSET_HEADER_SIZE;
}

// Origin-space geometry: keys never span a 4 MiB "subtree" boundary.
inline bool crosses_subtree(uint64_t off, uint64_t len)
{
	return len && (off >> PCACHE_SUBTREE_SHIFT) != ((off + len - 1) >> PCACHE_SUBTREE_SHIFT);
}

} // namespace pcache
