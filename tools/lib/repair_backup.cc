#include "repair_backup.h"

#include "byte_order.h"
#include "crc32c.h"
#include "path_util.h"

#include <pcache/pcache_format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace pcache {
namespace {

constexpr char kMagic[8] = {'P', 'C', 'R', 'E', 'P', 'B', 'K', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 32;
constexpr size_t kRegionHeaderBytes = 24;

void put_le(std::vector<unsigned char> &out, uint64_t v, size_t bytes)
{
	for (size_t i = 0; i < bytes; ++i)
		out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

uint64_t get_le(const unsigned char *p, size_t bytes)
{
	uint64_t v = 0;
	for (size_t i = 0; i < bytes; ++i)
		v |= uint64_t(p[i]) << (8 * i);
	return v;
}

uint32_t crc_of(const std::vector<unsigned char> &bytes)
{
	return data_crc(bytes.data(), bytes.size());
}

[[noreturn]] void backup_failed(const std::string &path, const std::string &what, int err)
{
	throw io_error("cannot write the backup " + path + ": " + what + (err ? ": " + std::string(std::strerror(err)) : ""));
}

// The order a repair is written in: everything in the segments first, then
// the header pages from the tails back to the superblock, so that the
// records that make the device a cache change last.
std::vector<const changed_run *> write_order(const std::vector<changed_run> &runs)
{
	std::vector<const changed_run *> order;
	for (const auto &r : runs)
		order.push_back(&r);
	std::stable_sort(order.begin(), order.end(), [](const changed_run *a, const changed_run *b) {
		bool sa = a->offset >= PCACHE_SEGMENTS_OFF, sb = b->offset >= PCACHE_SEGMENTS_OFF;
		if (sa != sb)
			return sa;
		return sa ? a->offset < b->offset : a->offset > b->offset;
	});
	return order;
}

} // namespace

void write_backup(const std::string &path, uint64_t device_size, const std::vector<changed_run> &runs)
{
	std::vector<unsigned char> out(kMagic, kMagic + sizeof(kMagic));
	put_le(out, kVersion, 4);
	put_le(out, runs.size(), 4);
	put_le(out, device_size, 8);
	put_le(out, 0, 8);
	for (const auto &r : runs) {
		put_le(out, r.offset, 8);
		put_le(out, r.before.size(), 4);
		put_le(out, crc_of(r.before), 4);
		put_le(out, crc_of(r.after), 4);
		put_le(out, 0, 4);
		out.insert(out.end(), r.before.begin(), r.before.end());
	}
	put_le(out, data_crc(out.data(), out.size()), 4);

	int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			throw io_error("the backup file " + path +
				       " exists already; it may be the only copy of an earlier backup: "
				       "choose another name");
		backup_failed(path, "cannot create it", errno);
	}
	const unsigned char *p = out.data();
	size_t left = out.size();
	while (left) {
		ssize_t n = ::write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			::close(fd);
			::unlink(path.c_str());
			backup_failed(path, "write error", err);
		}
		p += n;
		left -= static_cast<size_t>(n);
	}
	if (::fsync(fd) != 0 || ::close(fd) != 0) {
		int err = errno;
		::unlink(path.c_str());
		backup_failed(path, "cannot make it durable", err);
	}
	sync_dir_of(path);	// the file's name must be durable too
}

void apply_runs(device &dev, const std::vector<changed_run> &runs)
{
	std::vector<const changed_run *> order = write_order(runs);
	size_t written = 0;
	try {
		for (const changed_run *r : order) {
			dev.write(r->offset, r->after.data(), r->after.size());
			++written;
		}
		dev.flush();
	} catch (const io_error &e) {
		// Put back what was written (and the run that failed half way).
		std::string undo = "the device was put back as it was";
		try {
			for (size_t i = std::min(written + 1, order.size()); i-- > 0;)
				dev.write(order[i]->offset, order[i]->before.data(), order[i]->before.size());
			dev.flush();
		} catch (const io_error &e2) {
			undo = std::string("putting the device back failed too (") + e2.what() +
			       "): restore the backup with pcache_repair --restore-backup";
		}
		throw io_error(std::string(e.what()) + "; the repair was not completed; " + undo);
	}
}

backup_contents read_backup(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw io_error(path + ": cannot open the backup file: " + std::strerror(errno));
	std::vector<unsigned char> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	auto bad = [&](const std::string &why) -> std::runtime_error {
		return std::runtime_error(path + ": not a valid pcache_repair backup: " + why);
	};
	if (all.size() < kHeaderBytes + 4 || std::memcmp(all.data(), kMagic, sizeof(kMagic)) != 0)
		throw bad("no backup header");
	size_t body = all.size() - 4;
	if (get_le(all.data() + body, 4) != data_crc(all.data(), body))
		throw bad("its checksum does not match (truncated or damaged file)");
	if (get_le(all.data() + 8, 4) != kVersion)
		throw bad("format version " + std::to_string(get_le(all.data() + 8, 4)) + " is not 1");
	backup_contents b;
	uint64_t n = get_le(all.data() + 12, 4);
	b.device_size = get_le(all.data() + 16, 8);
	size_t at = kHeaderBytes;
	for (uint64_t i = 0; i < n; ++i) {
		if (body - at < kRegionHeaderBytes)
			throw bad("region " + std::to_string(i) + " is cut short");
		const unsigned char *h = all.data() + at;
		changed_run r;
		r.offset = get_le(h, 8);
		uint64_t len = get_le(h + 8, 4);
		uint32_t crc_before = static_cast<uint32_t>(get_le(h + 12, 4));
		at += kRegionHeaderBytes;
		if (body - at < len || r.offset > b.device_size || len > b.device_size - r.offset)
			throw bad("region " + std::to_string(i) + " lies outside the file or the device");
		r.before.assign(all.begin() + at, all.begin() + at + len);
		if (crc_of(r.before) != crc_before)
			throw bad("region " + std::to_string(i) + " is damaged");
		at += len;
		b.after_crc.push_back(static_cast<uint32_t>(get_le(h + 16, 4)));
		b.runs.push_back(std::move(r));
	}
	if (at != body)
		throw bad("bytes after the last region");
	return b;
}

uint64_t restore_backup(device &dev, const backup_contents &backup)
{
	if (dev.size() != backup.device_size)
		throw std::runtime_error(dev.path() + " has " + std::to_string(dev.size()) +
					 " bytes; the backup was taken of a device of " +
					 std::to_string(backup.device_size) + " bytes: not this device");
	std::vector<unsigned char> now;
	for (size_t i = 0; i < backup.runs.size(); ++i) {
		const changed_run &r = backup.runs[i];
		now.resize(r.before.size());
		dev.read(r.offset, now.data(), now.size());
		uint32_t crc = crc_of(now);
		if (crc != backup.after_crc[i] && now != r.before)
			throw std::runtime_error(dev.path() + ": bytes [" + std::to_string(r.offset) + ", " +
						 std::to_string(r.offset + r.before.size()) +
						 ") hold neither what the repair wrote nor what the backup holds: "
						 "the device changed since the repair (or it is not the device "
						 "repaired); nothing was written");
	}
	uint64_t bytes = 0;
	std::vector<const changed_run *> order = write_order(backup.runs);
	// The reverse of the repair's order: the superblock area first.
	for (size_t i = order.size(); i-- > 0;) {
		dev.write(order[i]->offset, order[i]->before.data(), order[i]->before.size());
		bytes += order[i]->before.size();
	}
	dev.flush();
	return bytes;
}

} // namespace pcache
