// What the kset log means, independent of where it is read from: the
// segments it runs through (each at most once), the dirty window from
// dirty_tail on, the order of keys, and the summary.  Shared by the device
// walker and the XML reader so both judge a log the same way.
#pragma once

#include "damage.h"
#include "events.h"
#include "segment_table.h"

#include <optional>
#include <vector>

namespace pcache {

class log_tracker {
public:
	log_tracker(const segment_table &segs, cache_pos key_tail, std::optional<cache_pos> dirty_tail);

	// The log enters logical segment `seg` (key_tail's first, then each
	// LAST kset's target).  False, with damage reported, if the log was
	// there already: a cycle.
	bool enter_segment(uint32_t seg, const kset_record *from, damage_sink &sink);

	// The log goes on at `pos`.  False, with damage reported, if the
	// segment chain does not reach pos's segment (a broken chain).
	bool reachable(const cache_pos &pos, damage_sink &sink) const;

	// A record (kset or LAST kset) starts at `pos`; fills its context.
	kset_record kset_at(const cache_pos &pos, const kset_header &header, uint64_t device_offset);
	// Counts a record once it is accepted as part of the log.
	void add(const kset_record &kset);
	key_record key(const cache_key &key, const kset_record &kset, uint32_t index,
		       uint64_t device_offset);

	// The log ends at `end`; reports a dirty_tail that was not on the walk.
	void finish(const cache_pos &end, bool complete, damage_sink &sink);
	void skipped() { ++summary_.skipped_ksets; }

	const log_summary &summary() const { return summary_; }
	bool in_dirty_window() const { return dirty_; }

private:
	void reach(const cache_pos &pos);

	const segment_table &segs_;
	std::optional<cache_pos> dirty_tail_;
	std::vector<bool> visited_;
	bool dirty_ = false;
	log_summary summary_;
};

} // namespace pcache
