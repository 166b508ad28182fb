#include "records.h"

namespace pcache {

namespace {
struct mode_name {
	uint32_t value;
	const char *name;
};
constexpr mode_name kModes[] = {
	{PCACHE_CACHE_MODE_WRITEBACK, "writeback"},
	{PCACHE_CACHE_MODE_WRITETHROUGH, "writethrough"},
	{PCACHE_CACHE_MODE_WRITEAROUND, "writearound"},
	{PCACHE_CACHE_MODE_WRITEONLY, "writeonly"},
	{PCACHE_CACHE_MODE_PASSTHROUGH, "passthrough"},
};
} // namespace

std::string cache_mode_name(uint32_t mode)
{
	for (const auto &m : kModes)
		if (m.value == mode)
			return m.name;
	return std::to_string(mode);
}

bool parse_cache_mode(const std::string &name, uint32_t &mode)
{
	for (const auto &m : kModes) {
		if (name == m.name) {
			mode = m.value;
			return true;
		}
	}
	return false;
}

std::string to_string(const cache_pos &pos)
{
	return std::to_string(pos.seg) + ":" + std::to_string(pos.off);
}

} // namespace pcache
