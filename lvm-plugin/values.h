// Parsing the values of lvpcache's options: each throws
// std::invalid_argument with a one-line message naming the option.
#pragma once

#include <cstdint>
#include <string>

namespace lvpcache {

// "512M", "1g", "1.5G", "4096b", "8s" (LVM's units; binary; no unit: MiB).
uint64_t parse_size(const std::string &s, const char *option);
// y/n, yes/no, true/false.
bool parse_bool(const std::string &s, const char *option);
unsigned parse_unsigned(const std::string &s, const char *option, unsigned max);
// One of the cache modes.
std::string parse_cache_mode(const std::string &s);
// "1.5 GiB"
std::string human_size(uint64_t bytes);
// systemd's "\xNN" escapes (an instance name %i passed as it is) decoded.
std::string unescape_systemd(const std::string &s);

} // namespace lvpcache
