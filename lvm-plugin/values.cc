#include "values.h"

#include "volume.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace lvpcache {

uint64_t parse_size(const std::string &s, const char *option)
{
	auto bad = [&] {
		return std::invalid_argument(std::string("invalid size for ") + option + ": '" + s +
					     "' (examples: 512M, 2G, 1.5T)");
	};
	if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0]))))
		throw bad();
	size_t used = 0;
	double v;
	try {
		v = std::stod(s, &used);
	} catch (const std::exception &) {
		throw bad();
	}
	std::string unit = s.substr(used);
	double mult;
	if (unit.empty() || unit == "m" || unit == "M")
		mult = 1 << 20;
	else if (unit == "b" || unit == "B")
		mult = 1;
	else if (unit == "s" || unit == "S")
		mult = 512;
	else if (unit == "k" || unit == "K")
		mult = 1 << 10;
	else if (unit == "g" || unit == "G")
		mult = 1 << 30;
	else if (unit == "t" || unit == "T")
		mult = 1ULL << 40;
	else if (unit == "p" || unit == "P")
		mult = 1ULL << 50;
	else
		throw bad();
	double bytes = v * mult;
	if (!(bytes >= 1) || bytes > 9.0e18 || !std::isfinite(bytes))
		throw bad();
	return static_cast<uint64_t>(std::llround(bytes));
}

bool parse_bool(const std::string &s, const char *option)
{
	if (s == "y" || s == "yes" || s == "true")
		return true;
	if (s == "n" || s == "no" || s == "false")
		return false;
	throw std::invalid_argument(std::string("invalid value for ") + option + ": '" + s +
				    "' (use y or n)");
}

unsigned parse_unsigned(const std::string &s, const char *option, unsigned max)
{
	try {
		size_t used = 0;
		unsigned long v = std::stoul(s, &used);
		if (used == s.size() && !s.empty() && std::isdigit(static_cast<unsigned char>(s[0])) &&
		    v <= max)
			return static_cast<unsigned>(v);
	} catch (const std::exception &) {
	}
	throw std::invalid_argument(std::string("invalid value for ") + option + ": '" + s +
				    "' (a whole number from 0 to " + std::to_string(max) + ")");
}

std::string parse_cache_mode(const std::string &s)
{
	if (std::find(cache_modes.begin(), cache_modes.end(), s) != cache_modes.end())
		return s;
	throw std::invalid_argument("invalid cache mode '" + s +
				    "' (writeback, writethrough, writearound or passthrough)");
}

std::string human_size(uint64_t bytes)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = static_cast<double>(bytes);
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		++u;
	}
	char buf[32];
	if (u == 0)
		std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
	else
		std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
	return buf;
}

std::string unescape_systemd(const std::string &s)
{
	std::string r;
	for (size_t i = 0; i < s.size(); ++i) {
		if (s[i] == '\\' && i + 3 < s.size() + 0 && s[i + 1] == 'x' &&
		    std::isxdigit(static_cast<unsigned char>(s[i + 2])) &&
		    std::isxdigit(static_cast<unsigned char>(s[i + 3]))) {
			r += static_cast<char>(std::stoi(s.substr(i + 2, 2), nullptr, 16));
			i += 3;
			continue;
		}
		r += s[i];
	}
	return r;
}

} // namespace lvpcache
