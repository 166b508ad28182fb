// What pcache_repair did: every change it made, and every logical range
// of the origin whose newest data it could not keep.
//
// A lost range is "dirty" when its newest data was not yet on the origin
// (lost for good) and "clean" when the origin holds it (only the cached
// copy is gone).  Ranges come from the keys that held the data; for a kset
// that was damaged, they are what its keys claim, so a key damaged in its
// offset or length names the wrong range (the report says so).
#pragma once

#include "damage.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pcache {

// Stable names of the changes (--json "kind"; listed in pcache_repair(8)).
#define PCACHE_REPAIR_CHANGES(X)	\
	X(superblock_rebuilt)		\
	X(replica_rewritten)		\
	X(record_rebuilt)		\
	X(record_updated)		\
	X(kset_restored)		\
	X(kset_dropped)			\
	X(key_dropped)			\
	X(log_rewritten)		\
	X(log_truncated)

enum class change_kind {
#define PCACHE_CHANGE_ENUM(name) name,
	PCACHE_REPAIR_CHANGES(PCACHE_CHANGE_ENUM)
#undef PCACHE_CHANGE_ENUM
};
const char *to_string(change_kind kind);

struct repair_change {
	change_kind kind;
	location where;
	std::string detail;
};

struct lost_range {
	byte_range range;
	bool dirty = false;
	// In a kset cut short at the end of the log: an interrupted write
	// (never acknowledged as durable) or damage that looks the same.
	// Listed, not counted as lost.
	bool torn = false;
	location where;		// the key or kset that held the newest data
	std::string reason;
};

class repair_report {
public:
	void change(change_kind kind, const location &where, std::string detail);
	void lose(const lost_range &r) { lost_.push_back(r); }
	// Part of the log could not be read at all: whatever it held is lost,
	// dirty or not (counted as dirty data lost).
	void lose_unknown(const location &where, std::string detail);
	void note(std::string text) { notes_.push_back(std::move(text)); }

	const std::vector<repair_change> &changes() const { return changes_; }
	const std::vector<lost_range> &lost() const { return lost_; }
	const std::vector<std::string> &notes() const { return notes_; }
	const std::vector<std::pair<location, std::string>> &unknown() const { return unknown_; }
	bool dirty_data_lost() const;
	uint64_t lost_bytes(bool dirty) const;

	// The report for people: one line per change, per lost range, notes,
	// then a result line.  `result` is "clean", "repaired", ...
	std::string text(const std::string &result) const;
	std::string json(const std::string &device, const std::string &result) const;

private:
	std::vector<repair_change> changes_;
	std::vector<lost_range> lost_;
	std::vector<std::pair<location, std::string>> unknown_;
	std::vector<std::string> notes_;
};

} // namespace pcache
