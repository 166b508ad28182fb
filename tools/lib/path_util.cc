#include "path_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pcache {

std::string dir_of(const std::string &path)
{
	auto slash = path.rfind('/');
	if (slash == std::string::npos)
		return ".";
	return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string &path)
{
	auto slash = path.rfind('/');
	return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool same_file(const std::string &a, const std::string &b)
{
	struct stat sa, sb;
	if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0)
		return false;
	if (S_ISBLK(sa.st_mode) || S_ISCHR(sa.st_mode))
		return sa.st_mode == sb.st_mode && sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void sync_dir_of(const std::string &path)
{
	int dir = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir >= 0) {
		::fsync(dir);
		::close(dir);
	}
}

} // namespace pcache
