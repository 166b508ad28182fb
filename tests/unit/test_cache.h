// A small cache image in memory, formatted the way Linux 6.18 formats one,
// with helpers to append ksets and to break things; and a visitor that
// records what a walk emitted.  Shared by the walker, map and XML tests.
#pragma once

#include "damage.h"
#include "events.h"
#include "memory_device.h"
#include "records.h"

#include <pcache/pcache_format.h>

#include <cstring>
#include <vector>

namespace pcache::test {

constexpr uint64_t kMiB = 1024 * 1024;

class test_cache {
public:
	// A 512 MiB device with seg_num 31 (what format gives it), logical
	// segment i at physical i, log empty at 0:0.
	explicit test_cache(uint32_t cache_flags = 0x1182);

	memory_device dev{PCACHE_CACHE_DEV_SIZE_MIN, "test"};
	uint32_t seg_num = 31;
	cache_pos head;	// where the next kset goes

	template <typename T>
	void put(uint64_t off, const T &raw)
	{
		dev.write(off, &raw, sizeof(raw));
	}
	void write(uint64_t off, const void *bytes, size_t len) { dev.write(off, bytes, len); }
	void poke(uint64_t off, unsigned char byte) { dev.write(off, &byte, 1); }
	unsigned char peek(uint64_t off);

	void set_cache_info(const cache_info &ci, unsigned slot);
	cache_info cache_info_in(unsigned slot);
	void set_key_tail(cache_pos pos, uint8_t seq = 1, unsigned slot = 0);
	void set_dirty_tail(cache_pos pos, uint8_t seq = 1, unsigned slot = 0);
	void set_gen(uint32_t seg, uint64_t gen, uint8_t seq = 2, unsigned slot = 1);
	void set_seg_info(uint32_t seg, const segment_info &si, unsigned slot);

	// Appends a kset at `head` like the kernel (24 zero bytes after it).
	cache_pos append_kset(const std::vector<cache_key> &keys, uint64_t flags = 0);
	// Appends a LAST kset and moves `head` to (next, 0).
	cache_pos append_last(uint32_t next);
	// Writes `len` bytes of `fill` as the payload of a key, and returns the
	// key with its data CRC set.
	cache_key data_key(uint64_t off, uint32_t len, uint32_t seg, uint32_t seg_off, unsigned char fill,
			   uint64_t gen = 0);

	uint64_t kset_offset(const cache_pos &pos) const;
};

cache_key make_key(uint64_t off, uint32_t len, uint32_t seg, uint32_t seg_off, uint64_t gen = 0);
// n keys of 4 KiB at consecutive origin offsets from first_off, payloads
// packed from seg:seg_off.
std::vector<cache_key> keys_at(uint64_t first_off, unsigned n, uint32_t seg = 1, uint32_t seg_off = 0);

// Records a walk.
struct recorder : metadata_visitor {
	std::vector<segment_record> segments;
	std::vector<kset_record> ksets;
	std::vector<kset_record> lasts;
	std::vector<key_record> keys;
	bool have_info = false, have_tails = false, began = false, ended_log = false, ended = false;
	replica_set<cache_info> info;
	log_summary summary;

	void on_cache_info(const replica_set<cache_info> &i) override { info = i, have_info = true; }
	void on_tails(const replica_set<pos_record> &, const replica_set<pos_record> &) override { have_tails = true; }
	void on_segment(const segment_record &s) override { segments.push_back(s); }
	void on_begin_log() override { began = true; }
	void on_kset(const kset_record &k) override { ksets.push_back(k); }
	void on_key(const key_record &k) override { keys.push_back(k); }
	void on_last_kset(const kset_record &k) override { lasts.push_back(k); }
	void on_end_log(const log_summary &s) override { summary = s, ended_log = true; }
	void on_end() override { ended = true; }
};

struct walk_result {
	recorder events;
	damage_list damage;
	std::vector<damage_kind> kinds() const;
	size_t errors() const;
};

walk_result walk(test_cache &c, bool repair = false);

} // namespace pcache::test
