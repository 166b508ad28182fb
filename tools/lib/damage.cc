#include "damage.h"

#include <sstream>

namespace pcache {

const char *to_string(severity s)
{
	switch (s) {
	case severity::none:
		return "clean";
	case severity::warning:
		return "warning";
	case severity::error:
		return "error";
	case severity::fatal:
		return "fatal";
	}
	return "?";
}

const char *to_string(damage_kind kind)
{
	switch (kind) {
#define PCACHE_DAMAGE_NAME(name, sev) \
	case damage_kind::name:       \
		return #name;
		PCACHE_DAMAGE_KINDS(PCACHE_DAMAGE_NAME)
#undef PCACHE_DAMAGE_NAME
	}
	return "?";
}

severity severity_of(damage_kind kind)
{
	switch (kind) {
#define PCACHE_DAMAGE_SEVERITY(name, sev) \
	case damage_kind::name:           \
		return severity::sev;
		PCACHE_DAMAGE_KINDS(PCACHE_DAMAGE_SEVERITY)
#undef PCACHE_DAMAGE_SEVERITY
	}
	return severity::error;
}

const char *to_string(record_kind kind)
{
	switch (kind) {
	case record_kind::device:
		return "device";
	case record_kind::superblock:
		return "superblock";
	case record_kind::cache_info:
		return "cache_info";
	case record_kind::stray_cache_info:
		return "stray cache_info";
	case record_kind::key_tail:
		return "key_tail";
	case record_kind::dirty_tail:
		return "dirty_tail";
	case record_kind::seg_info:
		return "seg_info";
	case record_kind::seg_gen:
		return "seg_gen";
	case record_kind::kset:
		return "kset";
	case record_kind::key:
		return "key";
	case record_kind::payload:
		return "payload";
	case record_kind::log:
		return "log";
	}
	return "?";
}

std::string to_string(const location &where)
{
	std::ostringstream out;
	if (where.input_line)
		out << "line " << *where.input_line << ": ";
	if (where.segment && (where.record == record_kind::seg_info ||
			      where.record == record_kind::seg_gen)) {
		out << "segment " << *where.segment;
		if (where.phys_segment && *where.phys_segment != *where.segment)
			out << " (physical " << *where.phys_segment << ")";
		out << " ";
	}
	switch (where.record) {
	case record_kind::key:
	case record_kind::payload:
		if (where.key_index)
			out << (where.record == record_kind::key ? "key " : "payload of key ")
			    << *where.key_index;
		else
			out << to_string(where.record);
		if (where.kset)
			out << " of kset " << to_string(*where.kset);
		break;
	case record_kind::kset:
		out << "kset";
		if (where.kset)
			out << " at " << to_string(*where.kset);
		break;
	default:
		out << to_string(where.record);
		break;
	}
	if (where.replica)
		out << " replica " << *where.replica;
	if (where.device_offset)
		out << " (byte " << *where.device_offset << ")";
	return out.str();
}

std::string to_string(const damage &d)
{
	std::ostringstream out;
	out << to_string(d.level()) << ": " << to_string(d.where) << ": " << d.detail;
	if (!d.origin.empty()) {
		out << "; origin bytes";
		size_t shown = 0;
		for (const auto &r : d.origin) {
			if (shown == 4) {
				out << " and " << d.origin.size() - shown << " more ranges";
				break;
			}
			out << (shown ? ", " : " ") << "[" << r.begin << ", " << r.end << ")";
			++shown;
		}
	}
	return out.str();
}

void damage_tally::report(const damage &d)
{
	severity s = d.level();
	if (s > worst_)
		worst_ = s;
	if (s >= severity::error)
		++errors_;
	else
		++warnings_;
	if (next_)
		next_->report(d);
}

} // namespace pcache
