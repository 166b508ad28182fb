// The metadata walker: reads a cache device in the order the kernel does
// (superblock -> cache_info -> tails -> segment chain -> kset log -> keys),
// judges every record with the rules, reports damage to a damage_sink and
// emits the records to a metadata_visitor.
//
// Log walking is bounded: every step either moves forward inside a
// segment or enters a segment the log has not visited, and every value
// read from media is range-checked before it becomes an index or a length.
//
// Repair mode (walk_options::repair) steps over a damaged kset when the
// log demonstrably resumes after it (the next record is a valid kset), so
// that dump --repair, and later pcache_repair, can save what follows.
#pragma once

#include "damage.h"
#include "device.h"
#include "events.h"
#include "segment_table.h"

#include <pcache/pcache_format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <stdexcept>
#include <vector>

namespace pcache {

// The input is not a cache at all (too small to hold a superblock).
class format_error : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

struct walk_options {
	bool header_only = false;	// superblock, cache_info and tails only
	bool repair = false;		// step over damaged ksets where the log resumes
	bool skip_log = false;		// headers and segment chain only
};

// Does the start of the device look like an XML document?
bool looks_like_xml(device &dev);

// Both seg_info and both seg_gen replicas of physical segment `phys`
// (< seg_num, checked by the caller), as logical segment `id`.
segment_record read_segment_record(device &dev, uint32_t id, uint32_t phys);

class read_window;
class log_tracker;

class walker {
public:
	walker(device &dev, damage_sink &sink, walk_options opts = {});
	// Throws format_error if the device cannot hold a superblock, io_error
	// if a header record cannot be read.
	void walk(metadata_visitor &out);
	// The chain as walked (logical -> physical, generations).
	const segment_table &segments() const;

private:
	struct kset_probe;
	enum class log_end { ended, damaged, resumed };

	bool read_superblock(superblock &sb);
	bool read_cache_info(const superblock &sb, replica_set<cache_info> &info);
	void read_stray_cache_info(const cache_info &in_use);
	template <typename Raw>
	void read_pair(uint64_t first, uint64_t stride, Raw (&raw)[PCACHE_META_REPLICAS]);
	void walk_segments(const superblock &sb, const cache_info &ci, metadata_visitor &out);
	void walk_log(const replica_set<pos_record> &key_tail, const replica_set<pos_record> &dirty_tail,
		      metadata_visitor &out);
	bool probe(read_window &win, const cache_pos &pos, kset_probe &p);
	log_end classify_end(read_window &win, const kset_probe &bad, const cache_pos &pos,
			     log_tracker &log, cache_pos &resume);
	std::optional<cache_pos> corrected_next(read_window &win, const kset_probe &bad,
						const cache_pos &pos, std::string &what, bool &corrected);
	std::optional<cache_pos> scan_for_kset(read_window &win, const cache_pos &pos);
	std::optional<uint32_t> swallowed_record(read_window &win, const kset_probe &p, const cache_pos &pos);
	std::vector<byte_range> key_ranges(const kset_probe &p) const;

	device &dev_;
	damage_sink &sink_;
	walk_options opts_;
	segment_table segs_;
	bool entered_by_last_ = false;	// the walk reached this segment through a LAST kset
};

} // namespace pcache
