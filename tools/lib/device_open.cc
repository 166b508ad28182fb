// Chooses the device class from what the path is.
#include "dax_device.h"
#include "device.h"
#include "file_device.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace pcache {
namespace {

[[noreturn]] void refuse(const std::string &path, const std::string &why)
{
	throw io_error(path + ": " + why);
}

std::string open_failure(int err, bool block_write)
{
	switch (err) {
	case ENOENT:
		return "no such file or device";
	case EACCES:
	case EPERM:
		return "permission denied";
	case EBUSY:
		return block_write ? "device is busy (is the cache in use by the kernel?)"
				   : "device is busy";
	case EROFS:
		return "read-only file system";
	default:
		return std::string("cannot open: ") + std::strerror(err);
	}
}

// Device-dax character devices have a "dax" subsystem and a size in sysfs.
bool sysfs_dax_size(const struct stat &st, uint64_t &size)
{
	std::string dir = "/sys/dev/char/" + std::to_string(major(st.st_rdev)) + ":" +
			  std::to_string(minor(st.st_rdev));
	char link[256];
	ssize_t n = ::readlink((dir + "/subsystem").c_str(), link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	const char *base = std::strrchr(link, '/');
	base = base ? base + 1 : link;
	if (std::strcmp(base, "dax") != 0)
		return false;
	std::ifstream in(dir + "/size");
	return static_cast<bool>(in >> size);
}

} // namespace

std::unique_ptr<device> open_device(const std::string &path, access_mode mode, bool exclusive)
{
	struct stat st;
	if (::stat(path.c_str(), &st) != 0)
		refuse(path, open_failure(errno, false));
	bool rw = mode == access_mode::read_write;
	bool block = S_ISBLK(st.st_mode);
	uint64_t dax_size = 0;
	bool dax = S_ISCHR(st.st_mode) && sysfs_dax_size(st, dax_size);
	if (S_ISDIR(st.st_mode))
		refuse(path, "is a directory, not a cache device or image file");
	if (!S_ISREG(st.st_mode) && !block && !dax)
		refuse(path, "not a regular file, block device or device-dax device");

	int flags = (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	bool excl = (rw || exclusive) && block;
	if (excl)
		flags |= O_EXCL;
	int fd = ::open(path.c_str(), flags);
	if (fd < 0)
		refuse(path, open_failure(errno, excl));

	uint64_t size = 0;
	if (block) {
		if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
			int err = errno;
			::close(fd);
			refuse(path, std::string("cannot get the device size: ") + std::strerror(err));
		}
	} else if (dax) {
		size = dax_size;
	} else {
		size = static_cast<uint64_t>(st.st_size);
	}

	if (dax)
		return std::make_unique<dax_device>(path, fd, size, rw);
	return std::make_unique<file_device>(path, fd, size, rw, block);
}

} // namespace pcache
