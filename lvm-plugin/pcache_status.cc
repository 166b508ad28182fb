#include "pcache_status.h"

#include <sstream>
#include <stdexcept>
#include <vector>

namespace lvpcache {

namespace {

std::vector<std::string> words(const std::string &s)
{
	std::istringstream in(s);
	std::vector<std::string> w;
	for (std::string x; in >> x;)
		w.push_back(x);
	return w;
}

uint64_t parse_number(const std::string &s, int base, const char *what)
{
	try {
		size_t used = 0;
		uint64_t v = std::stoull(s, &used, base);
		if (used == s.size() && s[0] != '-' && s[0] != '+')
			return v;
	} catch (const std::exception &) {
	}
	throw std::runtime_error(std::string("pcache status: ") + what + " is not a number: '" + s + "'");
}

uint32_t parse_u32(const std::string &s, int base, const char *what)
{
	uint64_t v = parse_number(s, base, what);
	if (v > UINT32_MAX)
		throw std::runtime_error(std::string("pcache status: ") + what + " out of range: " + s);
	return static_cast<uint32_t>(v);
}

std::string parse_position(const std::string &s, const char *what)
{
	auto colon = s.find(':');
	if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
		throw std::runtime_error(std::string("pcache status: ") + what + " is not segment:offset: '" +
					 s + "'");
	parse_number(s.substr(0, colon), 10, what);
	parse_number(s.substr(colon + 1), 10, what);
	return s;
}

} // namespace

pcache_status parse_pcache_status(const std::string &params)
{
	auto w = words(params);
	pcache_status st;
	if (w.size() == 1 && w[0] == "Fail") {
		st.failed = true;
		return st;
	}
	if (w.size() != 9 && w.size() != 10 && w.size() != 18)
		throw std::runtime_error("pcache status has " + std::to_string(w.size()) +
					 " fields, expected 9 or 10 (pcache 1.0) or 18 (pcache >= 1.1): '" +
					 params + "'");
	st.sb_flags = parse_u32(w[0], 16, "sb_flags");
	st.seg_total = parse_u32(w[1], 10, "seg_total");
	st.cache_segs = parse_u32(w[2], 10, "cache_segs");
	st.segs_used = parse_u32(w[3], 10, "segs_used");
	st.gc_percent = parse_u32(w[4], 10, "gc_percent");
	st.cache_flags = parse_u32(w[5], 16, "cache_flags");
	st.key_head = parse_position(w[6], "key_head");
	st.dirty_tail = parse_position(w[7], "dirty_tail");
	st.key_tail = parse_position(w[8], "key_tail");
	if (w.size() == 10)
		st.writeback_errors = parse_number(w[9], 10, "writeback errors");
	if (w.size() == 18) {
		pcache_extended_status x;
		x.read_hits = parse_number(w[9], 10, "read hits");
		x.read_misses = parse_number(w[10], 10, "read misses");
		x.write_hits = parse_number(w[11], 10, "write hits");
		x.write_misses = parse_number(w[12], 10, "write misses");
		x.dirty_bytes = parse_number(w[13], 10, "dirty bytes");
		x.writeback_errors = parse_number(w[14], 10, "writeback errors");
		st.writeback_errors = x.writeback_errors;
		x.mode = w[15];
		if (w[16] != "rw" && w[16] != "ro")
			throw std::runtime_error("pcache status: metadata mode is not rw or ro: '" + w[16] + "'");
		x.metadata_read_only = w[16] == "ro";
		if (w[17] != "needs_check" && w[17] != "-")
			throw std::runtime_error("pcache status: last field is not needs_check or -: '" +
						 w[17] + "'");
		x.needs_check = w[17] == "needs_check";
		st.extended = x;
	}
	return st;
}

pcache_table parse_pcache_table(const std::string &params)
{
	auto w = words(params);
	if (w.size() < 2)
		throw std::runtime_error("pcache table has fewer than two devices: '" + params + "'");
	pcache_table t;
	t.cache_dev = w[0];
	t.backing_dev = w[1];
	for (size_t i = 3; i + 1 < w.size(); i += 2) {
		if (w[i] == "cache_mode")
			t.cache_mode = w[i + 1];
		else if (w[i] == "data_crc" || w[i] == "crc")
			t.data_crc = w[i + 1] == "true";
	}
	return t;
}

} // namespace lvpcache
