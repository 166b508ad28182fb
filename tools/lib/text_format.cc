#include "text_format.h"

#include <cinttypes>
#include <cstdio>

namespace pcache {

std::string hex_string(uint64_t v)
{
	char buf[24];
	std::snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return buf;
}

std::string size_string(uint64_t bytes)
{
	static const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	if (bytes < 1024)
		return std::to_string(bytes) + " bytes";
	double v = static_cast<double>(bytes);
	unsigned u = 0;
	for (v /= 1024; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]); v /= 1024)
		++u;
	char buf[64];
	std::snprintf(buf, sizeof(buf), "%.1f %s (%" PRIu64 " bytes)", v, units[u], bytes);
	return buf;
}

std::string describe_flags(const cache_info &ci)
{
	std::string s = ci.init_done() ? "init_done" : "NOT init_done";
	s += ", " + cache_mode_name(ci.mode()) + ", gc_percent " + std::to_string(ci.gc_percent());
	s += ci.data_crc() ? ", data_crc on" : ", data_crc off";
	if (ci.needs_check())
		s += ", needs_check";
	if (ci.unknown_flags())
		s += ", unknown bits " + hex_string(ci.unknown_flags());
	return s;
}

} // namespace pcache
