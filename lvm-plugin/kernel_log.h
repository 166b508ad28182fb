// The kernel log lines written after a point in time: the pcache target
// explains a refused table only there ("device-mapper: table: ...: pcache:
// <reason>"), and a user should not need dmesg to learn why.
#pragma once

#include <string>

namespace lvpcache {

class kernel_log_cursor {
public:
	kernel_log_cursor();	// from now on
	~kernel_log_cursor();
	kernel_log_cursor(const kernel_log_cursor &) = delete;
	kernel_log_cursor &operator=(const kernel_log_cursor &) = delete;

	// New lines containing `needle`, joined by "; " (empty if none or if
	// the log cannot be read).
	std::string lines_with(const std::string &needle);

private:
	int fd_ = -1;
};

} // namespace lvpcache
