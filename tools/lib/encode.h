// One encoder per on-media struct: host record -> raw bytes, with the CRC
// computed over the encoded bytes (the host record's crc field is ignored).
// Used by pcache_restore and by pcache_check --clear-needs-check-flag.
#pragma once

#include "records.h"

#include <pcache/pcache_format.h>

#include <cstddef>
#include <vector>

namespace pcache {

pcache_sb encode(const superblock &sb);
pcache_cache_info encode(const cache_info &ci);
pcache_cache_pos_onmedia encode(const pos_record &pos);
pcache_segment_info encode(const segment_info &si);
pcache_cache_seg_gen encode(const seg_gen &gen);
pcache_cache_key_onmedia encode(const cache_key &key);

// A normal kset: 24-byte header followed by the keys, CRC over all of it.
// `flags` is written as given (normally 0).
std::vector<unsigned char> encode_kset(const std::vector<cache_key> &keys, uint64_t flags);
// A LAST kset (24 bytes) pointing at logical segment next_seg.  `flags` must
// include PCACHE_KSET_FLAGS_LAST.
std::vector<unsigned char> encode_last_kset(uint32_t next_seg, uint64_t flags);

} // namespace pcache
