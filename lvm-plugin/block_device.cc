#include "block_device.h"

#include <pcache/pcache_format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vector>

namespace lvpcache {

namespace {

[[noreturn]] void sys_fail(const std::string &what)
{
	throw std::runtime_error(what + ": " + std::strerror(errno));
}

struct fd_closer {
	int fd;
	~fd_closer() { ::close(fd); }
};

void zero_start(const std::string &path, size_t bytes, int extra_flags)
{
	int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | extra_flags);
	if (fd < 0)
		sys_fail("cannot open " + path + " for writing");
	fd_closer c{fd};
	std::vector<char> zeros(bytes, 0);
	if (::pwrite(fd, zeros.data(), zeros.size(), 0) != static_cast<ssize_t>(zeros.size()))
		sys_fail("cannot zero the start of " + path);
	if (::fsync(fd) != 0)
		sys_fail("cannot flush " + path);
}

} // namespace

bool is_dax(const std::string &path)
{
	struct stat st;
	if (::stat(path.c_str(), &st) != 0)
		sys_fail("cannot find " + path);
	if (!S_ISBLK(st.st_mode))
		throw std::runtime_error(path + " is not a block device");
	std::string attr = "/sys/dev/block/" + std::to_string(major(st.st_rdev)) + ":" +
			   std::to_string(minor(st.st_rdev)) + "/queue/dax";
	std::ifstream in(attr);
	int dax = 0;
	// Kernels without DAX support have no such attribute: not DAX.
	return in >> dax && dax == 1;
}

bool cache_is_unformatted(const std::string &path)
{
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		sys_fail("cannot open " + path);
	fd_closer c{fd};
	__le64 magic = 0;
	off_t at = PCACHE_SB_OFF + offsetof(struct pcache_sb, magic);
	if (::pread(fd, &magic, sizeof(magic), at) != static_cast<ssize_t>(sizeof(magic)))
		sys_fail("cannot read the superblock of " + path);
	return magic == 0;
}

void zero_cache_records(const std::string &path)
{
	// O_EXCL: a cache LV that something holds (a loaded table) is refused.
	zero_start(path, PCACHE_SEGMENTS_OFF, O_EXCL);
}

void zero_block_device_start(const std::string &path, size_t bytes)
{
	zero_start(path, bytes, 0);
}

} // namespace lvpcache
