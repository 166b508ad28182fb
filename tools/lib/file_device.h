// Regular files and block devices: pread/pwrite on a file descriptor.
#pragma once

#include "device.h"

namespace pcache {

class file_device : public device {
public:
	// Takes ownership of fd.
	file_device(std::string path, int fd, uint64_t size, bool writable, bool block_device);
	~file_device() override;
	const char *kind() const override { return block_ ? "block device" : "file"; }
	void flush() override;
	uint64_t next_data(uint64_t off) override;
	uint64_t next_hole(uint64_t off) override;

protected:
	void do_read(uint64_t off, void *buf, size_t len) override;
	void do_write(uint64_t off, const void *buf, size_t len) override;

private:
	int fd_;
	bool block_;
};

} // namespace pcache
