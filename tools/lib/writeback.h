// Offline writeback: the dirty data of a cache, written to its origin.
//
// The plan is the resolved logical map restricted to dirty extents: each
// origin byte once, with its newest data (spec §7.5), ordered by the log
// order of the keys that hold it, so the origin receives the writes in the
// order the cache took them.  Then the origin is flushed, and only then is
// the cache marked clean by advancing dirty_tail to the end of the log
// (spec §8.7), the way the kernel's writeback does, kset by kset.
//
// A run stopped half way (an interrupt, a failed write) leaves dirty_tail
// where it was: the next run writes everything again, which is harmless.
#pragma once

#include "damage.h"
#include "device.h"
#include "records.h"
#include "replica.h"
#include "segment_table.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pcache {

struct dirty_extent {
	uint64_t off = 0;	// origin byte offset
	uint32_t len = 0;
	uint64_t cache_offset = 0;	// device byte on the cache
	uint32_t order = 0;	// log order of its key
};

struct writeback_plan {
	std::vector<dirty_extent> extents;	// in the order to write them
	uint64_t bytes = 0;
	severity worst = severity::none;	// of the metadata, as pcache_check judges it
	cache_pos dirty_tail;			// in effect
	cache_pos end;				// the end of the log: dirty_tail once written back
	replica_set<pos_record> dirty_tail_found;
	bool dirty_tail_known = false;
};

// Reads the metadata of `cache` (data CRCs verified if `verify_data` and
// the cache has them on) and reports damage to `sink`.
writeback_plan plan_writeback(device &cache, damage_sink &sink, bool verify_data);

struct failed_range {
	uint64_t begin = 0, end = 0;
	std::string reason;
};

struct writeback_result {
	uint64_t extents = 0;
	uint64_t bytes = 0;
	std::vector<failed_range> failed;
	bool interrupted = false;
	bool flushed = false;
};

struct writeback_options {
	// Called after each extent with (bytes done, bytes in all).
	std::function<void(uint64_t, uint64_t)> progress;
	// Set (e.g. by a signal handler) to stop after the extent being written.
	const std::atomic<bool> *stop = nullptr;
};

// Copies every extent of the plan from `cache` to `origin`, then flushes
// the origin.  Failures are collected, not thrown, so every range that
// could not be written is known; the origin is flushed in any case.
writeback_result run_writeback(device &cache, const writeback_plan &plan, device &origin,
			       const writeback_options &opts = {});

// Marks the cache clean: dirty_tail := plan.end, as a new copy in the slot
// that does not hold the copy in use, made durable and read back.
void mark_clean(device &cache, const writeback_plan &plan);

} // namespace pcache
