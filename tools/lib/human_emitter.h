// Metadata events -> a listing for people (pcache_dump --format human).
// Not meant to be parsed; the XML is.
#pragma once

#include "events.h"
#include "output.h"
#include "segment_table.h"

namespace pcache {

class human_emitter : public metadata_visitor {
public:
	explicit human_emitter(output &out) : out_(out) {}

	void on_superblock(const superblock &sb) override;
	void on_cache_info(const replica_set<cache_info> &info) override;
	void on_tails(const replica_set<pos_record> &key_tail,
		      const replica_set<pos_record> &dirty_tail) override;
	void on_segment(const segment_record &seg) override;
	void on_kset(const kset_record &kset) override;
	void on_key(const key_record &key) override;
	void on_last_kset(const kset_record &kset) override;
	void on_end_log(const log_summary &summary) override;

private:
	void line(const std::string &label, const std::string &text);
	output &out_;
};

} // namespace pcache
