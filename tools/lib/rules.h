// The checker's rules, as pure functions over decoded records.
//
// Both metadata sources (the device walker and the XML reader of
// pcache_restore) call these at the point where they have the record and
// its context, so a cache is judged the same way whether it comes from a
// device or from XML.  Each function reports every violation it finds to
// `sink` and returns the worst severity it reported; the caller stops
// walking on `fatal`.  One damage_kind per rule (damage.h).
#pragma once

#include "damage.h"
#include "events.h"
#include "records.h"
#include "replica.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace pcache {

// Upper bounds the tools rely on, beyond the format's own.
// Logical offsets are kept in 4 MiB regions numbered with 32 bits.
constexpr uint64_t kMaxOriginBytes = 1ULL << (32 + PCACHE_SUBTREE_SHIFT);	// 16 PiB

// Superblock at PCACHE_SB_OFF.  device_size 0 = unknown (XML input).
severity check_superblock(const superblock &sb, uint64_t device_size, damage_sink &sink);
// The kernel refuses cache devices below PCACHE_CACHE_DEV_SIZE_MIN.
severity check_device_size(uint64_t device_size, damage_sink &sink);

// Which of the five replicated records a replica_set is.
enum class replicated { cache_info, key_tail, dirty_tail, seg_info, seg_gen };

// One replica damaged while the other is good: an error that names the copy
// in use.  Nothing is lost (the kernel loads from the good copy), but the
// metadata is not as a completed update leaves it, so it must be repaired
// before it is trusted (pcache_repair rewrites the bad copy).  A never-written
// (all-zero) slot is normal and not reported.
// No valid replica: the record's "missing" kind.  `seg` names the segment
// for seg_info / seg_gen.
template <typename T>
severity check_replicas(const replica_set<T> &set, replicated which, damage_sink &sink,
			const segment_record *seg = nullptr);

// Field rules of the cache_info copy in use (set.any_valid()).
severity check_cache_info(const replica_set<cache_info> &set, const superblock &sb,
			  damage_sink &sink);
// A copy at PCACHE_CACHE_INFO_STRAY_OFF, where 6.18 before the December
// 2025 fix put every second update; no reader looks there.
severity check_stray_cache_info(slot_state state, const cache_info &stray,
				const cache_info &in_use, damage_sink &sink);

// The position in use of key_tail or dirty_tail (set.any_valid()).
severity check_tail(replicated which, const replica_set<pos_record> &set, uint32_t n_segs,
		    damage_sink &sink);
// A tail that can be used as a log position.
bool tail_in_range(const cache_pos &pos, uint32_t n_segs);

// Field rules of a segment's chosen seg_info (type, unknown bits).
severity check_segment(const segment_record &seg, damage_sink &sink);

// Follows the segment chain (spec §6) and reports broken links, ids out of
// range and cycles.
class chain_follower {
public:
	chain_follower(uint32_t seg_num, uint32_t n_segs);
	// Marks rec.phys used; returns the physical id of logical rec.id + 1,
	// or nothing if the chain ends here (last segment, or damage reported).
	std::optional<uint32_t> next(const segment_record &rec, damage_sink &sink);
	// The first physical segment (cache_info.seg_id) was already used?
	bool seen(uint32_t phys) const { return phys < used_.size() && used_[phys]; }

private:
	uint32_t seg_num_;
	uint32_t n_segs_;
	std::vector<bool> used_;
};

// A normal kset's header fields, or a LAST kset's next segment.
severity check_kset(const kset_record &kset, uint32_t n_segs, damage_sink &sink);

// A key's fields, and its generation against its segment's.
severity check_key(const key_record &key, uint32_t n_segs, damage_sink &sink);
// No error-level field rule fires: the key can be placed in the map and
// its payload read (generation not considered).
bool key_is_sound(const cache_key &key, uint32_t n_segs);

// Locations used by the rules, shared with the sources.
location key_location(const key_record &key, record_kind kind = record_kind::key);
location kset_location(const kset_record &kset);

} // namespace pcache
