// Metadata events -> the pcache metadata XML (docs/xml-format.md).
//
// Lossless: every valid replica of every replicated record is written with
// its slot, including the header bytes upstream leaves uninitialised
// (version, res) and the superblock's pad when they are not zero, so that
// pcache_restore can write the records back byte for byte.  Invalid
// replicas are left out: restore writes them as zeroed (invalid) slots.
#pragma once

#include "events.h"
#include "xml_writer.h"

namespace pcache {

class xml_emitter : public metadata_visitor {
public:
	explicit xml_emitter(output &out) : xml_(out) {}

	void on_superblock(const superblock &sb) override;
	void on_cache_info(const replica_set<cache_info> &info) override;
	void on_tails(const replica_set<pos_record> &key_tail,
		      const replica_set<pos_record> &dirty_tail) override;
	void on_segment(const segment_record &seg) override;
	void on_begin_log() override;
	void on_kset(const kset_record &kset) override;
	void on_key(const key_record &key) override;
	void on_last_kset(const kset_record &kset) override;
	void on_end_log(const log_summary &summary) override;
	void on_end() override;

private:
	void header(const meta_header &h, unsigned slot);
	void tail(const char *name, const replica_set<pos_record> &set);
	void close_kset();
	void close_segments();

	xml_writer xml_;
	bool root_open_ = false;
	bool segments_open_ = false;
	bool kset_open_ = false;
};

} // namespace pcache
