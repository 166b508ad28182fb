// One decoder per on-media struct: raw bytes as stored -> host record.
//
// Decoders convert every field explicitly from little-endian and never
// judge the content; the *_crc_ok() helpers recompute a record's CRC over
// the bytes as stored (spec §2.3).  Judging is the rules' job (rules.h).
#pragma once

#include "records.h"
#include "replica.h"

#include <pcache/pcache_format.h>

#include <cstddef>
#include <utility>

namespace pcache {

superblock decode(const pcache_sb &raw);
cache_info decode(const pcache_cache_info &raw);
pos_record decode(const pcache_cache_pos_onmedia &raw);
segment_info decode(const pcache_segment_info &raw);
seg_gen decode(const pcache_cache_seg_gen &raw);
kset_header decode(const pcache_cache_kset_onmedia &raw);
cache_key decode(const pcache_cache_key_onmedia &raw);

// CRC over bytes [4, sizeof) of a fixed-size record equals its stored CRC.
bool crc_ok(const pcache_sb &raw);
bool crc_ok(const pcache_cache_info &raw);
bool crc_ok(const pcache_cache_pos_onmedia &raw);
bool crc_ok(const pcache_segment_info &raw);
bool crc_ok(const pcache_cache_seg_gen &raw);

// CRC of a kset of `size` bytes starting at `bytes` (header + keys, or the
// bare header of a LAST kset) equals the stored one.  The caller has
// bounded `size` (at most PCACHE_KSET_ONMEDIA_SIZE_MAX).
bool kset_crc_ok(const unsigned char *bytes, size_t size);

// True if all n bytes are zero (a never-written replica slot).
bool all_zero(const void *bytes, size_t n);

// The state of one stored replica slot.
template <typename Raw>
slot_state slot_state_of(const Raw &raw)
{
	if (crc_ok(raw))
		return slot_state::valid;
	return all_zero(&raw, sizeof(raw)) ? slot_state::empty : slot_state::bad_crc;
}

// Both replicas of a record, decoded, with the one readers use (§2.5).
template <typename Raw, typename Host = decltype(decode(std::declval<Raw>()))>
replica_set<Host> decode_replicas(const Raw (&raw)[PCACHE_META_REPLICAS])
{
	replica_set<Host> set;
	for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i) {
		set.value[i] = decode(raw[i]);
		set.state[i] = slot_state_of(raw[i]);
	}
	set.choose();
	return set;
}

} // namespace pcache
