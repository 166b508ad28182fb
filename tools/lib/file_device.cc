#include "file_device.h"

#include <algorithm>
#include <cerrno>
#include <unistd.h>

namespace pcache {

file_device::file_device(std::string path, int fd, uint64_t size, bool writable, bool block_device)
	: device(std::move(path), size, writable), fd_(fd), block_(block_device)
{
}

file_device::~file_device()
{
	::close(fd_);
}

void file_device::do_read(uint64_t off, void *buf, size_t len)
{
	auto p = static_cast<char *>(buf);
	while (len) {
		ssize_t n = ::pread(fd_, p, len, static_cast<off_t>(off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("read error", off, errno);
		if (n == 0)
			fail("unexpected end of " + std::string(kind()), off);
		p += n;
		off += static_cast<uint64_t>(n);
		len -= static_cast<size_t>(n);
	}
}

void file_device::do_write(uint64_t off, const void *buf, size_t len)
{
	auto p = static_cast<const char *>(buf);
	while (len) {
		ssize_t n = ::pwrite(fd_, p, len, static_cast<off_t>(off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("write error", off, n < 0 ? errno : EIO);
		p += n;
		off += static_cast<uint64_t>(n);
		len -= static_cast<size_t>(n);
	}
}

// Holes of sparse image files (block devices report none).
uint64_t file_device::next_data(uint64_t off)
{
	if (block_ || off >= size())
		return std::min(off, size());
	off_t r = ::lseek(fd_, static_cast<off_t>(off), SEEK_DATA);
	if (r < 0)
		return errno == ENXIO ? size() : off;
	return std::min<uint64_t>(static_cast<uint64_t>(r), size());
}

uint64_t file_device::next_hole(uint64_t off)
{
	if (block_ || off >= size())
		return size();
	off_t r = ::lseek(fd_, static_cast<off_t>(off), SEEK_HOLE);
	if (r < 0)
		return size();
	return std::min<uint64_t>(static_cast<uint64_t>(r), size());
}

void file_device::flush()
{
	if (writable() && ::fsync(fd_) != 0)
		fail("cannot flush writes (fsync)", 0, errno);
}

} // namespace pcache
