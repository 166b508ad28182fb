// Typed damage records.
//
// Every rule of the checker has its own damage_kind, with a fixed severity
// and a stable name (used in --json output and by tests).  A record says
// exactly where the problem is (which record and replica, which segment,
// which kset and key, which device bytes) and which logical byte ranges of
// the origin it puts at risk, so that check, dump --repair and, later,
// repair and offline writeback can all act on the same description.
#pragma once

#include "records.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pcache {

// Ordered: the result of a check is the maximum over its records.
enum class severity {
	none = 0,
	warning = 1,	// harmless: the cache loads and serves the right data
	error = 2,	// the cache would not load, or would serve wrong data
	fatal = 3,	// nothing beyond this record can be read
};
const char *to_string(severity s);

#define PCACHE_DAMAGE_KINDS(X)						\
	X(device_below_minimum, error)					\
	X(read_error, error)						\
	X(sb_not_formatted, fatal)					\
	X(sb_bad_magic, fatal)						\
	X(sb_bad_crc, fatal)						\
	X(sb_big_endian, fatal)						\
	X(sb_unknown_flags, warning)					\
	X(sb_no_segments, fatal)					\
	X(sb_seg_num_exceeds_device, fatal)				\
	X(sb_seg_num_over_max, fatal)					\
	X(cache_info_replica_damaged, error)				\
	X(cache_info_missing, fatal)					\
	X(cache_info_not_initialised, error)				\
	X(cache_info_no_segments, fatal)				\
	X(cache_info_n_segs_exceeds_seg_num, error)			\
	X(cache_info_seg_id_out_of_range, fatal)			\
	X(cache_info_gc_percent_out_of_range, error)			\
	X(cache_info_mode_unused, error)				\
	X(cache_info_mode_unknown, error)				\
	X(cache_info_unknown_flags, warning)				\
	X(cache_info_reserved_nonzero, warning)				\
	X(stray_cache_info, warning)					\
	X(tail_replica_damaged, error)				\
	X(tail_missing, error)						\
	X(tail_segment_out_of_range, error)				\
	X(tail_offset_out_of_range, error)				\
	X(tail_offset_misaligned, error)				\
	X(dirty_tail_not_on_log, error)					\
	X(seg_info_replica_damaged, error)				\
	X(seg_info_missing, error)					\
	X(seg_info_bad_type, warning)					\
	X(seg_info_unknown_flags, warning)				\
	X(seg_chain_broken, error)					\
	X(seg_chain_next_out_of_range, error)				\
	X(seg_chain_cycle, error)					\
	X(seg_gen_replica_damaged, error)				\
	X(seg_gen_missing, error)					\
	X(log_torn_end, warning)					\
	X(log_end_not_zeroed, warning)					\
	X(kset_damaged, error)						\
	X(kset_too_many_keys, error)					\
	X(kset_no_keys, warning)					\
	X(kset_overruns_segment, error)					\
	X(kset_no_room_for_last, error)					\
	X(kset_unknown_flags, warning)					\
	X(last_kset_next_out_of_range, error)				\
	X(last_kset_target_invalid, error)				\
	X(kset_swallows_next, error)					\
	X(log_revisits_segment, error)					\
	X(log_segment_unknown, error)					\
	X(log_too_many_keys, error)					\
	X(key_zero_length, error)					\
	X(key_length_unaligned, error)					\
	X(key_offset_unaligned, error)					\
	X(key_too_long, error)						\
	X(key_crosses_subtree, error)					\
	X(key_offset_too_large, error)					\
	X(key_segment_out_of_range, error)				\
	X(key_overruns_segment, error)					\
	X(key_cache_offset_unaligned, error)				\
	X(key_generation_ahead, error)					\
	X(key_stale_dirty, error)					\
	X(key_empty_flag, error)					\
	X(key_unknown_flags, warning)					\
	X(key_reserved_nonzero, warning)				\
	X(key_in_log_segment, error)					\
	X(key_data_crc_mismatch, error)					\
	X(stale_key_data_crc_mismatch, error)				\
	X(keys_share_cache_space, error)

enum class damage_kind {
#define PCACHE_DAMAGE_ENUM(name, sev) name,
	PCACHE_DAMAGE_KINDS(PCACHE_DAMAGE_ENUM)
#undef PCACHE_DAMAGE_ENUM
};

const char *to_string(damage_kind kind);
severity severity_of(damage_kind kind);

// Which on-media record a damage record is about.
enum class record_kind {
	device,
	superblock,
	cache_info,
	stray_cache_info,
	key_tail,
	dirty_tail,
	seg_info,
	seg_gen,
	kset,
	key,
	payload,
	log,
};
const char *to_string(record_kind kind);

struct byte_range {
	uint64_t begin = 0;
	uint64_t end = 0;	// exclusive

	bool operator==(const byte_range &o) const { return begin == o.begin && end == o.end; }
};

struct location {
	location() = default;
	location(record_kind r) : record(r) {}	// NOLINT: implicit on purpose

	record_kind record = record_kind::device;
	std::optional<unsigned> replica;
	std::optional<uint32_t> segment;	// logical cache segment
	std::optional<uint32_t> phys_segment;
	std::optional<cache_pos> kset;		// position of the kset in the log
	std::optional<uint32_t> key_index;	// key within that kset
	std::optional<uint64_t> device_offset;	// first byte of the record
	std::optional<uint64_t> input_line;	// XML line (pcache_restore)
};

// "cache_info replica 1 (byte 12288)", "key 3 of kset 0:5144", ...
std::string to_string(const location &where);

struct damage {
	damage_kind kind;
	location where;
	std::string detail;			// what is wrong, in words
	std::vector<byte_range> origin;		// logical bytes put at risk

	severity level() const { return severity_of(kind); }
};

// "error: <location>: <detail>; origin bytes [a, b)"
std::string to_string(const damage &d);

class damage_sink {
public:
	virtual ~damage_sink() = default;
	virtual void report(const damage &d) = 0;
};

// Keeps the worst severity and counts; forwards to another sink if given.
class damage_tally : public damage_sink {
public:
	explicit damage_tally(damage_sink *next = nullptr) : next_(next) {}
	void report(const damage &d) override;
	severity worst() const { return worst_; }
	uint64_t errors() const { return errors_; }
	uint64_t warnings() const { return warnings_; }

private:
	damage_sink *next_;
	severity worst_ = severity::none;
	uint64_t errors_ = 0;
	uint64_t warnings_ = 0;
};

// Drops every record: for a walk whose caller wants the metadata, not a
// verdict (the verdict comes from another walk).
class ignore_damage : public damage_sink {
public:
	void report(const damage &) override {}
};

// Collects every record (tests, restore validation).
class damage_list : public damage_sink {
public:
	void report(const damage &d) override { items.push_back(d); }
	std::vector<damage> items;
};

} // namespace pcache
