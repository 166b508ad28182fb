// What the phases of a repair share: the device as found, the overlay the
// repaired metadata is planned into, the report, and the metadata in
// effect so far (each phase settles its part before the next reads it).
//
// Phases, in order (repair.h runs them): superblock; cache_info and the
// segment chain (repair_headers.h); key_tail and dirty_tail
// (repair_tails.h); the kset log (repair_log.h), its keys
// (repair_keys.h) and its new layout (repair_layout.h).
#pragma once

#include "overlay_device.h"
#include "records.h"
#include "repair_report.h"
#include "replica.h"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

namespace pcache {

// The device cannot be repaired (not a cache, or damage beyond what can be
// rebuilt); nothing is written.
class repair_refused : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

struct repair_state {
	repair_state(device &dev, repair_report &rep) : base(dev), out(dev), report(rep) {}

	device &base;
	overlay_device out;
	repair_report &report;

	superblock sb;
	replica_set<cache_info> info_found;
	cache_info info;			// in effect in the result
	bool info_rebuilt = false;		// no valid copy: DATA_CRC settled from the keys
	std::vector<uint32_t> phys;		// logical segment -> physical
	std::vector<std::optional<uint64_t>> gen;	// logical segment -> generation, if a copy is valid
	std::vector<bool> gen_rebuild;		// no valid seg_gen copy: written after the log is known
	replica_set<pos_record> key_tail_found, dirty_tail_found;
	cache_pos key_tail, dirty_tail;		// in effect in the result
	std::string key_tail_why, dirty_tail_why;	// why a tail was moved, for the report

	uint32_t n_segs() const { return static_cast<uint32_t>(phys.size()); }
};

} // namespace pcache
