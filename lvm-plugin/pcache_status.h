// The pcache target's status line: upstream's nine fields; then either
// writeback_errors alone (pcache 1.0 with writeback) or issue 6's nine
// fields (statistics, dirty bytes, writeback errors, mode, metadata mode,
// needs_check); or the single word Fail.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lvpcache {

struct pcache_extended_status {
	uint64_t read_hits = 0, read_misses = 0, write_hits = 0, write_misses = 0;
	uint64_t dirty_bytes = 0, writeback_errors = 0;
	std::string mode;		// writeback, writethrough, writearound, passthrough
	bool metadata_read_only = false;
	bool needs_check = false;
};

struct pcache_status {
	bool failed = false;		// "Fail": nothing else is reported
	uint32_t sb_flags = 0, seg_total = 0, cache_segs = 0, segs_used = 0, gc_percent = 0;
	uint32_t cache_flags = 0;
	std::string key_head, dirty_tail, key_tail;	// "segment:offset"
	// pcache 1.0 with writeback (issue 5) appends writeback_errors as a
	// tenth field; issue 6's layout has it among the extended fields.
	std::optional<uint64_t> writeback_errors;
	std::optional<pcache_extended_status> extended;
};

// Throws std::runtime_error naming the field that does not parse.
pcache_status parse_pcache_status(const std::string &params);

// The pcache table's options: "<cache> <backing> 4 cache_mode M data_crc B"
// (upstream prints "crc" for "data_crc"; both are accepted).
struct pcache_table {
	std::string cache_dev, backing_dev, cache_mode = "writeback";
	bool data_crc = false;
};
pcache_table parse_pcache_table(const std::string &params);

} // namespace lvpcache
