#include "image_copy.h"

#include "decode.h"
#include "path_util.h"

#include <pcache/pcache_format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace pcache {
namespace {

constexpr size_t kChunk = 1 << 20;

// A new file next to the final name, removed unless committed.
class temp_image {
public:
	temp_image(const std::string &final_path, uint64_t size) : final_(final_path)
	{
		std::string temp = dir_of(final_path) + "/." + base_of(final_path) + ".XXXXXX";
		std::vector<char> tmpl(temp.begin(), temp.end());
		tmpl.push_back('\0');
		int fd = ::mkstemp(tmpl.data());
		if (fd < 0)
			throw io_error("cannot write " + final_path + ": " + std::strerror(errno));
		path_ = tmpl.data();
		mode_t mask = ::umask(0);
		::umask(mask);
		::fchmod(fd, 0666 & ~mask);
		int rc = ::ftruncate(fd, static_cast<off_t>(size));
		int err = errno;
		::close(fd);
		if (rc != 0) {
			::unlink(path_.c_str());
			throw io_error("cannot write " + final_path + ": " + std::strerror(err));
		}
	}
	~temp_image()
	{
		if (!path_.empty())
			::unlink(path_.c_str());
	}
	const std::string &path() const { return path_; }
	void commit()
	{
		if (::rename(path_.c_str(), final_.c_str()) != 0)
			throw io_error("cannot write " + final_ + ": " + std::strerror(errno));
		path_.clear();
	}

private:
	std::string final_, path_;
};

// Copies [begin, end) of src to dst; `sparse`: dst reads as zeros there
// already, so all-zero chunks are skipped.
void copy_range(device &src, device &dst, uint64_t begin, uint64_t end, bool sparse, uint64_t &done,
		uint64_t total, const copy_progress &progress)
{
	std::vector<unsigned char> buf(kChunk);
	for (uint64_t off = begin; off < end;) {
		if (sparse) {
			// Holes of the source need no writing into a new file.
			uint64_t data = std::min(src.next_data(off), end);
			done += data - off;
			off = data;
			if (off == end)
				break;
		}
		uint64_t stop = sparse ? std::min(std::max(src.next_hole(off), off + 1), end) : end;
		size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, stop - off));
		src.read(off, buf.data(), n);
		if (!sparse || !all_zero(buf.data(), n))
			dst.write(off, buf.data(), n);
		off += n;
		done += n;
		if (progress)
			progress(done, total);
	}
}

} // namespace

bool is_new_or_regular_file(const std::string &path)
{
	struct stat st;
	if (::stat(path.c_str(), &st) != 0)
		return errno == ENOENT;
	return S_ISREG(st.st_mode);
}

void write_image(device &src, const std::string &out_path, const copy_progress &progress)
{
	uint64_t done = 0, total = src.size();
	if (is_new_or_regular_file(out_path)) {
		struct stat st;
		if (::stat(dir_of(out_path).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
			throw io_error("cannot write " + out_path + ": no such directory");
		temp_image temp(out_path, src.size());
		{
			auto dst = open_device(temp.path(), access_mode::read_write);
			copy_range(src, *dst, 0, total, true, done, total, progress);
			dst->flush();
		}
		temp.commit();
		sync_dir_of(out_path);
		return;
	}

	auto dst = open_device(out_path, access_mode::read_write);
	if (dst->size() < src.size())
		throw io_error(out_path + ": " + std::to_string(dst->size()) + " bytes, smaller than the " +
			       std::to_string(src.size()) + " bytes of the cache; nothing was written");
	const std::vector<unsigned char> zero_sb(PCACHE_SB_SIZE, 0);
	try {
		dst->write(PCACHE_SB_OFF, zero_sb.data(), zero_sb.size());
		dst->flush();
		copy_range(src, *dst, 0, PCACHE_SB_OFF, false, done, total, progress);
		copy_range(src, *dst, PCACHE_SB_OFF + PCACHE_SB_SIZE, total, false, done, total, progress);
		dst->flush();
		std::vector<unsigned char> sb(PCACHE_SB_SIZE);
		src.read(PCACHE_SB_OFF, sb.data(), sb.size());
		dst->write(PCACHE_SB_OFF, sb.data(), sb.size());
		dst->flush();
	} catch (const io_error &e) {
		try {
			dst->write(PCACHE_SB_OFF, zero_sb.data(), zero_sb.size());
			dst->flush();
		} catch (const io_error &) {
		}
		throw io_error(std::string(e.what()) + "; the superblock of " + out_path +
			       " is zeroed, so it is not taken for a cache");
	}
}

} // namespace pcache
