// The damage matrix (issue 8): every field of every on-media structure,
// set to zero, all ones, +1, -1 and a random value, with its record's CRC
// recomputed and not.  For each case: pcache_check must report it (or the
// mutation must be shown harmless: reads and dirty data unchanged), dump
// --repair, pcache_repair and pcache_writeback --salvage must not crash,
// the repaired result must check clean and repair again to itself, and no
// byte may change or stop being dirty outside the ranges the repair
// reports as lost.  Run in process on a small image in memory, so that
// the ~3000 cases take seconds.
#pragma once

#include "test_cache.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pcache::test::matrix {

// One field of one record, and how to reseal the record after editing it.
struct field {
	std::string name;	// "cache_info[1].n_segs"
	uint64_t offset;	// device byte of the field
	unsigned width;		// 1, 2, 4 or 8 bytes
	uint64_t record;	// device byte of the record
	uint64_t record_size;	// bytes the CRC covers from the record start (CRC at +0)
	std::string group;	// "superblock", "key", ... (for allow-lists)
};

enum class mutation { zero, ones, plus_one, minus_one, random };
const char *to_string(mutation m);

// What a read of one 512-byte origin sector returns, and whether it is dirty.
struct sector_state {
	uint32_t data = 0;	// CRC of the bytes
	bool dirty = false;
	bool cached = false;
};
using view = std::map<uint64_t, sector_state>;	// by sector number

// The image every case starts from, and what it holds.
struct base_image {
	explicit base_image(bool data_crc);
	test_cache cache;
	memory_device origin{1ULL << 30, "origin"};	// clean data is on it
	std::vector<field> fields;
	std::vector<cache_key> keys;	// every key written, for the sectors of interest
	cache_pos last_kset;		// the last kset of the log (a "torn end" if damaged)
};

// The logical view of `dev` over `origin`: at the given sectors, and at
// every sector `dev` caches.
view view_of(device &dev, device &origin, const std::vector<uint64_t> &sectors);

} // namespace pcache::test::matrix
