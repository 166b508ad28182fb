// Access to a cache device or image.
//
// One class hierarchy behind one interface: regular files and block
// devices are read and written with pread/pwrite; device-dax character
// devices (/dev/daxX.Y) support only mmap, so they are mapped whole.  Every
// failure is an io_error whose message names the path and what went wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace pcache {

class io_error : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

enum class access_mode { read_only, read_write };

class device {
public:
	device(std::string path, uint64_t size, bool writable)
		: path_(std::move(path)), size_(size), writable_(writable) {}
	virtual ~device() = default;
	device(const device &) = delete;
	device &operator=(const device &) = delete;

	const std::string &path() const { return path_; }
	uint64_t size() const { return size_; }
	bool writable() const { return writable_; }
	virtual const char *kind() const = 0;	// "file", "block device", ...

	// Exactly `len` bytes at `off`; beyond the end or short -> io_error.
	void read(uint64_t off, void *buf, size_t len);
	void write(uint64_t off, const void *buf, size_t len);
	// Make every completed write durable.
	virtual void flush() = 0;
	// The first offset >= off that may hold data other than zeros (size()
	// if none), and the first offset >= off from which only zeros follow
	// up to the next data.  Devices that cannot tell say "all data".
	virtual uint64_t next_data(uint64_t off) { return off; }
	virtual uint64_t next_hole(uint64_t off) { (void)off; return size_; }

protected:
	virtual void do_read(uint64_t off, void *buf, size_t len) = 0;
	virtual void do_write(uint64_t off, const void *buf, size_t len) = 0;
	[[noreturn]] void fail(const std::string &what, uint64_t off, int err = 0) const;

private:
	void check_range(uint64_t off, size_t len) const;

	std::string path_;
	uint64_t size_;
	bool writable_;
};

// Opens a regular file, block device or device-dax character device.
// read_write opens block devices with O_EXCL, so a cache in use by the
// kernel is refused ("is the cache in use by the kernel?"); `exclusive`
// does the same for reading (a device whose metadata the kernel is
// changing cannot be read consistently).
std::unique_ptr<device> open_device(const std::string &path, access_mode mode, bool exclusive = false);

} // namespace pcache
