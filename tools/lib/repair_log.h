// The kset log as the repair walker finds it: the records in log order
// with their positions, the keys, and the damaged spans the walk stepped
// over.  Collected from the shared walker (repair mode) run over the
// overlay, so the records before the log are the repaired ones.
//
// A damaged span is restored whole when one restored header field makes
// its CRC match and its length fits exactly up to where the log goes on
// (kset_correction.h); otherwise its keys, decoded as well as the bytes
// allow, only name the origin ranges that were lost.
#pragma once

#include "damage.h"
#include "events.h"
#include "repair_state.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pcache {

struct log_entry {
	enum class type { kset, last, lost };
	type kind = type::kset;
	cache_pos pos;			// where it was found
	uint64_t span = 0;		// bytes it took (lost: up to where the log went on)
	kset_header header;		// kset / last
	uint32_t first_key = 0;		// its keys: [first_key, first_key + keys) of log_model::keys
	uint32_t keys = 0;
	bool restored = false;		// a damaged span made whole by restoring a header field
	bool dirty = false;		// at or after dirty_tail
	uint64_t device_offset = 0;
	std::string why;		// lost: what was wrong
};

// What happens to a key in the repaired log.
enum class key_fate {
	keep,
	stale,			// kept, invalidated by its segment's generation (ignored by readers)
	stale_bad_crc,		// stale, and its data no longer matches its CRC (nothing lost)
	lost_span,		// in a damaged kset that could not be restored
	bad_fields,		// bounds, alignment, segment: cannot be placed
	bad_crc,		// payload does not match its data CRC
	unreadable,		// payload could not be read
	bad_generation,		// generation does not fit its segment's (see repair_keys.h)
	shares_cache_space,	// its cache bytes were taken by a later key
	in_log_segment,		// its payload lies in a segment that holds the log
	shadows_lost,		// clean, and would show older data where newer data was lost
};
const char *describe(key_fate fate);

struct log_key {
	cache_key key;
	uint32_t entry = 0;
	uint32_t index = 0;		// in its kset
	uint64_t device_offset = 0;
	key_fate fate = key_fate::keep;
	bool sound = true;		// fields place it (key_is_sound)

	bool dropped() const { return fate != key_fate::keep && fate != key_fate::stale; }
	// Held data newer than what lies behind it (not stale).
	bool current() const { return fate != key_fate::stale && fate != key_fate::stale_bad_crc; }
};

struct log_segment {
	uint32_t seg = 0;
	uint32_t start = 0;		// offset of its first record (key_tail's offset in the first)
	std::vector<uint32_t> entries;
	std::optional<uint32_t> next;	// the segment the log goes on in
};

struct log_model {
	std::vector<log_entry> entries;	// in log order
	std::vector<log_key> keys;	// grouped by entry (see log_entry::first_key)
	std::vector<log_segment> segments;
	cache_pos end;			// where the walk ended (the old key_head)
	bool damaged = false;		// the walk met damage in the log
	// The walk stopped at damage it could not step over: whatever lay
	// beyond `end` is lost.
	std::optional<std::string> cut;
	std::optional<size_t> dirty_from;	// first entry at or after dirty_tail (entries.size(): the end)
	std::vector<cache_pos> torn;	// records cut short at the end of the log
	// The walk stopped because a LAST kset leads to a segment that is not
	// the log's: the last LAST entry is the one.
	bool last_leads_nowhere = false;
	std::optional<size_t> nowhere_entry;	// that LAST kset, left out of the log

	uint64_t order(const log_key &k) const { return uint64_t(k.entry) << 8 | k.index; }
};

// Walks the log of the overlay from st.key_tail.
log_model collect_log(repair_state &st);

// The keys that can be made out in a record cut short (or garbage) at the
// end of the log: by its header if that is plausible, else as bare keys
// up to the first 40 zero bytes.  Only keys whose fields place them.
std::vector<cache_key> keys_at_log_end(repair_state &st, const cache_pos &pos);

} // namespace pcache
