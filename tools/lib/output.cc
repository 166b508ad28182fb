#include "output.h"

#include "device.h"
#include "path_util.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pcache {
namespace {

[[noreturn]] void cannot_write(const std::string &path, int err)
{
	throw io_error("cannot write " + path + ": " + std::strerror(err));
}

} // namespace

output::output(const std::string &path)
{
	buf_.reserve(1 << 18);
	if (path.empty() || path == "-") {
		name_ = "standard output";
		fd_ = STDOUT_FILENO;
		return;
	}
	name_ = path;
	owned_ = true;
	struct stat st;
	if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
		throw io_error("cannot write " + path + ": it is a directory");
	if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
		fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
		if (fd_ < 0)
			cannot_write(path, errno);
		return;
	}
	std::string temp = dir_of(path) + "/." + base_of(path) + ".XXXXXX";
	std::vector<char> tmpl(temp.begin(), temp.end());
	tmpl.push_back('\0');
	fd_ = ::mkstemp(tmpl.data());
	if (fd_ < 0)
		cannot_write(path, errno);
	temp_ = tmpl.data();
	final_ = path;
	// mkstemp creates 0600; give the file the usual umask-derived mode.
	mode_t mask = ::umask(0);
	::umask(mask);
	::fchmod(fd_, 0666 & ~mask);
}

output::~output()
{
	if (owned_ && fd_ >= 0)
		::close(fd_);
	if (!temp_.empty())
		::unlink(temp_.c_str());
}

void output::drain()
{
	const char *p = buf_.data();
	size_t len = buf_.size();
	while (len) {
		ssize_t n = ::write(fd_, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			cannot_write(name_, n < 0 ? errno : EIO);
		p += n;
		len -= static_cast<size_t>(n);
	}
	buf_.clear();
}

void output::write(const char *data, size_t len)
{
	if (buf_.size() + len > buf_.capacity())
		drain();
	if (len > buf_.capacity()) {
		buf_.assign(data, data + len);
		drain();
		return;
	}
	buf_.insert(buf_.end(), data, data + len);
}

void output::commit()
{
	drain();
	if (!owned_)
		return;
	if (!temp_.empty()) {
		if (::fsync(fd_) != 0)
			cannot_write(name_, errno);
		if (::close(fd_) != 0) {
			fd_ = -1;
			cannot_write(name_, errno);
		}
		fd_ = -1;
		if (::rename(temp_.c_str(), final_.c_str()) != 0)
			cannot_write(name_, errno);
		temp_.clear();
	}
}

} // namespace pcache
