// pcache_check's report: damage as it is found, then a summary; or, with
// --json, one JSON document at the end.  Damage of one kind beyond a limit
// is counted rather than listed, so a badly damaged cache still gives a
// readable report.
#pragma once

#include "damage.h"
#include "events.h"
#include "logical_map.h"
#include "output.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pcache {

class check_report : public damage_sink, public metadata_visitor {
public:
	enum class style { text, json, quiet };
	check_report(output &out, style s, std::string device);

	void report(const damage &d) override;

	void on_superblock(const superblock &sb) override { sb_ = sb; }
	void on_cache_info(const replica_set<cache_info> &info) override { info_ = info; }
	void on_tails(const replica_set<pos_record> &key_tail,
		      const replica_set<pos_record> &dirty_tail) override;
	void on_segment(const segment_record &) override { ++segments_; }
	void on_end_log(const log_summary &s) override { log_ = s; }

	void set_map(const map_summary &m) { map_ = m; }
	void set_payload(uint64_t keys, uint64_t bytes) { payload_ = {keys, bytes}; }
	void add_note(const std::string &note) { notes_.push_back(note); }
	// Prints the summary (text) or the whole document (json).
	void finish();

	severity worst() const { return tally_.worst(); }

private:
	void text_summary();
	void json_document();

	output &out_;
	style style_;
	std::string device_;
	damage_tally tally_;
	std::map<damage_kind, uint64_t> per_kind_;
	std::vector<damage> listed_;	// json
	uint64_t unlisted_ = 0;
	std::optional<superblock> sb_;
	std::optional<replica_set<cache_info>> info_;
	std::optional<cache_pos> key_tail_, dirty_tail_;
	uint32_t segments_ = 0;
	std::optional<log_summary> log_;
	std::optional<map_summary> map_;
	std::optional<std::pair<uint64_t, uint64_t>> payload_;
	std::vector<std::string> notes_;
};

} // namespace pcache
