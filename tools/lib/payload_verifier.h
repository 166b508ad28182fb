// Verifies the data CRC of every key's payload when the cache has
// DATA_CRC on, as the kernel does on replay: for every key in the log,
// stale ones included (a stale key that fails its CRC makes Linux's replay
// refuse to start the cache, spec §7.4).
#pragma once

#include "damage.h"
#include "device.h"
#include "events.h"
#include "segment_table.h"

#include <vector>

namespace pcache {

class payload_verifier : public metadata_visitor {
public:
	payload_verifier(device &dev, damage_sink &sink);

	void on_superblock(const superblock &sb) override { seg_num_ = sb.seg_num; }
	void on_cache_info(const replica_set<cache_info> &info) override;
	void on_segment(const segment_record &seg) override { segs_.set(seg); }
	void on_key(const key_record &key) override;

	uint64_t verified_keys() const { return verified_; }
	uint64_t verified_bytes() const { return bytes_; }

private:
	device &dev_;
	damage_sink &sink_;
	uint32_t seg_num_ = 0;
	bool enabled_ = false;
	uint32_t n_segs_ = 0;
	segment_table segs_;
	std::vector<unsigned char> buf_;
	uint64_t verified_ = 0;
	uint64_t bytes_ = 0;
};

} // namespace pcache
