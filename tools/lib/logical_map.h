// The resolved logical map: which cache bytes hold each origin byte, and
// whether they are dirty, after replaying the log with "newer wins"
// (spec §7.4, §7.5, §10.2).
//
// Memory: every usable key is packed into 16 bytes (packed_keys), so the
// map costs about 16 bytes per key however many there are, plus one 4 KiB
// bitmap of cache sectors per segment that holds data.  Resolution sorts
// the keys by (4 MiB region, log order), on two threads, and settles each
// region with a per-sector owner table whose cost is bounded by the
// region's span.
//
// Checks done here, across keys: no two non-stale keys claim the same
// cache sectors (allocation in a segment generation is a bump pointer, so
// in a sound log they never do; the sector bitmaps catch it as keys
// arrive), and no non-stale key's payload lies in a segment that holds the
// kset log.
#pragma once

#include "damage.h"
#include "events.h"
#include "packed_keys.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace pcache {

struct extent {
	uint64_t off = 0;	// origin byte offset
	uint32_t len = 0;
	uint32_t seg = 0;	// logical cache segment
	uint32_t seg_off = 0;	// offset in its data area
	bool dirty = false;
	uint32_t order = 0;	// log order of the key it comes from (pcache_writeback)
};

class extent_sink {
public:
	virtual ~extent_sink() = default;
	virtual void on_extent(const extent &e) = 0;
};

struct map_summary {
	uint64_t mapped_keys = 0;	// keys that took part in the map
	uint64_t live_extents = 0;
	uint64_t live_bytes = 0;
	uint64_t dirty_extents = 0;
	uint64_t dirty_bytes = 0;
	uint32_t data_segments = 0;	// segments referenced by keys in the log
	uint32_t key_segments = 0;	// segments the log runs through
	uint32_t segments_used = 0;	// the kernel's segs_used: union of both
};


class logical_map : public metadata_visitor {
public:
	explicit logical_map(damage_sink &sink);

	void on_cache_info(const replica_set<cache_info> &info) override;
	void on_tails(const replica_set<pos_record> &key_tail,
		      const replica_set<pos_record> &dirty_tail) override;
	void on_kset(const kset_record &k) override;
	void on_last_kset(const kset_record &k) override;
	void on_key(const key_record &k) override;
	void on_end_log(const log_summary &s) override;

	// After the walk: cross-key checks, then the resolved extents in
	// origin order to `out` (may be null).  Call once.
	void resolve(extent_sink *out);
	const map_summary &summary() const { return summary_; }

private:
	// A key whose cache sectors an earlier key had claimed.
	struct conflict {
		packed_key key;
		bool found = false;	// the earlier key, once found:
		packed_key partner{};
	};

	void mark(std::vector<bool> &set, uint32_t seg);
	bool claim_sectors(const packed_key &k);
	void report_conflicts();
	void check_log_segments();
	void sort_by_region();
	void emit_region(size_t begin, size_t end, extent_sink &out);
	void count_region(size_t begin, size_t end);
	void count_extent(const packed_key &k, uint32_t len_sectors);
	bool overlapping(size_t begin, size_t end);
	bool count_pass(size_t begin, size_t end);
	void clear_covered(size_t begin, size_t end);

	damage_sink &sink_;
	uint32_t n_segs_ = 0;
	bool all_dirty_ = false;	// dirty_tail not on the log
	bool too_many_reported_ = false;
	std::vector<bool> key_segs_;
	std::vector<bool> data_segs_;
	// One bit per 512-byte sector of each data area, for segments that
	// hold keys (allocated on first use).
	std::vector<std::unique_ptr<uint64_t[]>> sectors_;
	std::vector<conflict> conflicts_;
	uint64_t conflict_count_ = 0;
	packed_keys keys_;
	std::vector<uint32_t> owner_;		// emit_region's per-sector owners
	std::vector<uint64_t> covered_;		// count_region's sector bitmap
	map_summary summary_;
};

} // namespace pcache
