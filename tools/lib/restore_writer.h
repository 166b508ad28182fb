// Metadata events -> a cache device: the sink of pcache_restore.
//
// Writes what the kernel's format and log writer would have left: both
// cache_info slots and the tail page (zeroed, then the valid replicas), for
// every chained segment its 12 KiB header (zeroed, then the valid seg_info
// and seg_gen replicas), every kset at its position and 24 zero bytes after
// the last one (the end of the log).  Data areas are not touched, except to
// copy payloads from a source cache when one is given.
//
// The superblock is written by commit(), last: until then the device is
// not recognisable as a cache (pcache_restore zeroes it before starting).
#pragma once

#include "device.h"
#include "events.h"
#include "segment_table.h"

#include <cstdint>
#include <vector>

namespace pcache {

struct restore_stats {
	uint32_t segments = 0;
	uint64_t ksets = 0;
	uint64_t keys = 0;
	uint64_t copied_keys = 0;
	uint64_t copied_bytes = 0;
};

class restore_writer : public metadata_visitor {
public:
	// source/source_segs: the cache to copy payloads from (--data-from),
	// or null.
	restore_writer(device &out, device *source = nullptr, const segment_table *source_segs = nullptr);

	void on_superblock(const superblock &sb) override { sb_ = sb; }
	void on_cache_info(const replica_set<cache_info> &info) override;
	void on_tails(const replica_set<pos_record> &key_tail,
		      const replica_set<pos_record> &dirty_tail) override;
	void on_segment(const segment_record &seg) override;
	void on_kset(const kset_record &kset) override;
	void on_key(const key_record &key) override;
	void on_last_kset(const kset_record &kset) override;
	void on_end_log(const log_summary &summary) override;

	// Makes everything durable, then writes the superblock.
	void commit();
	const restore_stats &stats() const { return stats_; }

private:
	void put(const cache_pos &pos, const void *bytes, size_t len);
	void flush_kset();
	void drain();
	void copy_payload(const cache_key &key);

	device &out_;
	device *source_;
	const segment_table *source_segs_;
	superblock sb_;
	uint32_t seg_num_ = 0;
	segment_table segs_;
	// The open kset, written when the next record starts.
	bool kset_open_ = false;
	cache_pos kset_pos_;
	uint64_t kset_flags_ = 0;
	std::vector<cache_key> keys_;
	// Consecutive log records are gathered into one write.
	std::vector<unsigned char> pending_;
	uint64_t pending_off_ = 0;
	std::vector<unsigned char> copy_buf_;
	restore_stats stats_;
};

} // namespace pcache
