#include "check_report.h"

#include "json_text.h"
#include "text_format.h"

#include <sstream>

namespace pcache {
namespace {

constexpr uint64_t kTextPerKind = 20;
constexpr uint64_t kJsonPerKind = 1000;

std::string json_damage(const damage &d)
{
	std::ostringstream o;
	o << "{\"severity\":" << json_string(to_string(d.level()))
	  << ",\"kind\":" << json_string(to_string(d.kind)) << "," << json_location_fields(d.where)
	  << ",\"origin\":[";
	for (size_t i = 0; i < d.origin.size(); ++i)
		o << (i ? "," : "") << "[" << d.origin[i].begin << "," << d.origin[i].end << "]";
	o << "],\"message\":" << json_string(to_string(d.where) + ": " + d.detail) << "}";
	return o.str();
}

} // namespace

check_report::check_report(output &out, style s, std::string device)
	: out_(out), style_(s), device_(std::move(device))
{
}

void check_report::on_tails(const replica_set<pos_record> &key_tail,
			    const replica_set<pos_record> &dirty_tail)
{
	if (key_tail.any_valid())
		key_tail_ = key_tail.current().pos;
	if (dirty_tail.any_valid())
		dirty_tail_ = dirty_tail.current().pos;
}

void check_report::report(const damage &d)
{
	tally_.report(d);
	uint64_t seen = ++per_kind_[d.kind];
	switch (style_) {
	case style::quiet:
		break;
	case style::text:
		if (seen <= kTextPerKind)
			out_.write(to_string(d) + "\n");
		break;
	case style::json:
		if (seen <= kJsonPerKind)
			listed_.push_back(d);
		else
			++unlisted_;
		break;
	}
}

void check_report::finish()
{
	if (style_ == style::text)
		text_summary();
	else if (style_ == style::json)
		json_document();
}

void check_report::text_summary()
{
	for (const auto &[kind, count] : per_kind_)
		if (count > kTextPerKind)
			out_.write("... and " + std::to_string(count - kTextPerKind) + " more " +
				   to_string(kind) + " records not listed\n");
	if (sb_ && info_ && info_->any_valid()) {
		const cache_info &ci = info_->current();
		out_.write("cache: " + std::to_string(ci.n_segs) + " of " + std::to_string(sb_->seg_num) +
			   " segments; " + describe_flags(ci) + "\n");
	}
	if (log_) {
		out_.write("log: " + std::to_string(log_->ksets) + " ksets and " +
			   std::to_string(log_->last_ksets) + " LAST ksets, " + std::to_string(log_->bytes) +
			   " bytes from key_tail " + to_string(log_->start) + " to " + to_string(log_->end) +
			   (dirty_tail_ ? ", dirty_tail " + to_string(*dirty_tail_) : "") + "\n");
		out_.write("keys: " + std::to_string(log_->keys) + " (" + std::to_string(log_->stale_keys) +
			   " stale)\n");
	}
	if (map_ && log_) {
		out_.write("map: " + std::to_string(map_->live_extents) + " live extents, " +
			   size_string(map_->live_bytes) + " cached, " + size_string(map_->dirty_bytes) +
			   " dirty\n");
		out_.write("segments used: " + std::to_string(map_->segments_used) + " (" +
			   std::to_string(map_->key_segments) + " holding the log, " +
			   std::to_string(map_->data_segments) + " holding data)\n");
	}
	if (payload_)
		out_.write("data CRCs: " + std::to_string(payload_->first) + " keys verified, " +
			   size_string(payload_->second) + "\n");
	for (const auto &n : notes_)
		out_.write(n + "\n");
	std::string result = tally_.worst() >= severity::error ? "damaged" : "clean";
	out_.write("result: " + result + " (" + std::to_string(tally_.errors()) + " errors, " +
		   std::to_string(tally_.warnings()) + " warnings)\n");
}

void check_report::json_document()
{
	std::ostringstream o;
	severity w = tally_.worst();
	o << "{\"tool\":\"pcache_check\",\"version\":" << json_string(PCACHE_VERSION)
	  << ",\"device\":" << json_string(device_) << ",\"result\":"
	  << json_string(w >= severity::error ? "damaged" : w == severity::warning ? "warnings" : "clean")
	  << ",\"errors\":" << tally_.errors() << ",\"warnings\":" << tally_.warnings();
	if (sb_)
		o << ",\"superblock\":{\"seg_num\":" << sb_->seg_num << ",\"flags\":" << sb_->flags << "}";
	if (info_ && info_->any_valid()) {
		const cache_info &ci = info_->current();
		o << ",\"cache_info\":{\"replica\":" << *info_->chosen << ",\"seq\":" << unsigned(ci.header.seq)
		  << ",\"seg_id\":" << ci.seg_id << ",\"n_segs\":" << ci.n_segs << ",\"flags\":" << ci.flags
		  << ",\"data_crc\":" << (ci.data_crc() ? "true" : "false")
		  << ",\"init_done\":" << (ci.init_done() ? "true" : "false")
		  << ",\"mode\":" << json_string(cache_mode_name(ci.mode()))
		  << ",\"gc_percent\":" << ci.gc_percent()
		  << ",\"needs_check\":" << (ci.needs_check() ? "true" : "false") << "}";
	}
	if (key_tail_)
		o << ",\"key_tail\":" << json_string(to_string(*key_tail_));
	if (dirty_tail_)
		o << ",\"dirty_tail\":" << json_string(to_string(*dirty_tail_));
	if (log_)
		o << ",\"log\":{\"start\":" << json_string(to_string(log_->start))
		  << ",\"end\":" << json_string(to_string(log_->end)) << ",\"ksets\":" << log_->ksets
		  << ",\"last_ksets\":" << log_->last_ksets << ",\"keys\":" << log_->keys
		  << ",\"stale_keys\":" << log_->stale_keys << ",\"bytes\":" << log_->bytes
		  << ",\"complete\":" << (log_->complete ? "true" : "false") << "}";
	if (map_)
		o << ",\"map\":{\"live_extents\":" << map_->live_extents << ",\"live_bytes\":" << map_->live_bytes
		  << ",\"dirty_extents\":" << map_->dirty_extents << ",\"dirty_bytes\":" << map_->dirty_bytes
		  << "},\"segments\":{\"chained\":" << segments_ << ",\"used\":" << map_->segments_used
		  << ",\"log\":" << map_->key_segments << ",\"data\":" << map_->data_segments << "}";
	if (payload_)
		o << ",\"data_crc_verified\":{\"keys\":" << payload_->first << ",\"bytes\":" << payload_->second
		  << "}";
	o << ",\"damage\":[";
	for (size_t i = 0; i < listed_.size(); ++i)
		o << (i ? "," : "") << json_damage(listed_[i]);
	o << "],\"damage_not_listed\":" << unlisted_ << ",\"notes\":[";
	for (size_t i = 0; i < notes_.size(); ++i)
		o << (i ? "," : "") << json_string(notes_[i]);
	o << "]}\n";
	out_.write(o.str());
}

} // namespace pcache
