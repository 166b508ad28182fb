#include "kernel_log.h"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace lvpcache {

kernel_log_cursor::kernel_log_cursor()
{
	fd_ = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd_ >= 0)
		::lseek(fd_, 0, SEEK_END);
}

kernel_log_cursor::~kernel_log_cursor()
{
	if (fd_ >= 0)
		::close(fd_);
}

std::string kernel_log_cursor::lines_with(const std::string &needle)
{
	std::string found;
	if (fd_ < 0)
		return found;
	char buf[8192];
	for (;;) {
		// One record per read: "prio,seq,time,flags;message\n".
		ssize_t n = ::read(fd_, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	// records were overwritten; go on with the next
		if (n <= 0)
			break;
		std::string rec(buf, static_cast<size_t>(n));
		auto semi = rec.find(';');
		std::string msg = semi == std::string::npos ? rec : rec.substr(semi + 1);
		auto nl = msg.find('\n');
		if (nl != std::string::npos)
			msg.resize(nl);
		if (msg.find(needle) != std::string::npos)
			found += (found.empty() ? "" : "; ") + msg;
	}
	return found;
}

} // namespace lvpcache
