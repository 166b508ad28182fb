#include "repair_report.h"

#include "json_text.h"
#include "text_format.h"

#include <sstream>

namespace pcache {

const char *to_string(change_kind kind)
{
	switch (kind) {
#define PCACHE_CHANGE_NAME(name) \
	case change_kind::name:  \
		return #name;
		PCACHE_REPAIR_CHANGES(PCACHE_CHANGE_NAME)
#undef PCACHE_CHANGE_NAME
	}
	return "?";
}

void repair_report::change(change_kind kind, const location &where, std::string detail)
{
	changes_.push_back({kind, where, std::move(detail)});
}

void repair_report::lose_unknown(const location &where, std::string detail)
{
	unknown_.emplace_back(where, std::move(detail));
}

bool repair_report::dirty_data_lost() const
{
	return !unknown_.empty() || lost_bytes(true) > 0;
}

uint64_t repair_report::lost_bytes(bool dirty) const
{
	uint64_t n = 0;
	for (const auto &r : lost_)
		if (r.dirty == dirty && !r.torn)
			n += r.range.end - r.range.begin;
	return n;
}

namespace {

std::string range_text(const byte_range &r)
{
	return "[" + std::to_string(r.begin) + ", " + std::to_string(r.end) + ")";
}

} // namespace

std::string repair_report::text(const std::string &result) const
{
	std::ostringstream o;
	for (const auto &c : changes_)
		o << "repaired: " << to_string(c.where) << ": " << c.detail << "\n";
	for (const auto &r : lost_) {
		if (r.torn) {
			o << "possibly lost: origin bytes " << range_text(r.range) << " (" << to_string(r.where) << ": "
			  << r.reason << ")\n";
			continue;
		}
		o << (r.dirty ? "lost dirty data: origin bytes " : "dropped clean data: origin bytes ")
		  << range_text(r.range) << " (" << to_string(r.where) << ": " << r.reason << ")"
		  << (r.dirty ? "" : "; the origin holds it") << "\n";
	}
	for (const auto &[where, detail] : unknown_)
		o << "lost: " << to_string(where) << ": " << detail << "\n";
	for (const auto &n : notes_)
		o << n << "\n";
	o << "summary: " << changes_.size() << " changes; " << size_string(lost_bytes(true))
	  << " of dirty data lost";
	if (!unknown_.empty())
		o << ", and whatever the unreadable part of the log held";
	o << "; " << size_string(lost_bytes(false)) << " of clean cached data dropped\n";
	o << "result: " << result << "\n";
	return o.str();
}

std::string repair_report::json(const std::string &device, const std::string &result) const
{
	std::ostringstream o;
	o << "{\"tool\":\"pcache_repair\",\"version\":" << json_string(PCACHE_VERSION)
	  << ",\"device\":" << json_string(device) << ",\"result\":" << json_string(result)
	  << ",\"dirty_data_lost\":" << (dirty_data_lost() ? "true" : "false")
	  << ",\"dirty_bytes_lost\":" << lost_bytes(true) << ",\"clean_bytes_dropped\":" << lost_bytes(false)
	  << ",\"changes\":[";
	for (size_t i = 0; i < changes_.size(); ++i) {
		const repair_change &c = changes_[i];
		o << (i ? "," : "") << "{\"kind\":" << json_string(to_string(c.kind)) << ","
		  << json_location_fields(c.where)
		  << ",\"message\":" << json_string(to_string(c.where) + ": " + c.detail) << "}";
	}
	o << "],\"lost\":[";
	for (size_t i = 0; i < lost_.size(); ++i) {
		const lost_range &r = lost_[i];
		o << (i ? "," : "") << "{\"begin\":" << r.range.begin << ",\"end\":" << r.range.end
		  << ",\"dirty\":" << (r.dirty ? "true" : "false") << ",\"torn\":" << (r.torn ? "true" : "false")
		  << "," << json_location_fields(r.where)
		  << ",\"reason\":" << json_string(r.reason) << "}";
	}
	o << "],\"unreadable\":[";
	for (size_t i = 0; i < unknown_.size(); ++i)
		o << (i ? "," : "") << "{" << json_location_fields(unknown_[i].first)
		  << ",\"message\":" << json_string(to_string(unknown_[i].first) + ": " + unknown_[i].second) << "}";
	o << "],\"notes\":[";
	for (size_t i = 0; i < notes_.size(); ++i)
		o << (i ? "," : "") << json_string(notes_[i]);
	o << "]}\n";
	return o.str();
}

} // namespace pcache
