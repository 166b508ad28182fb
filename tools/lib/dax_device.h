// Device-dax character devices (/dev/daxX.Y): no read()/write(), only
// mmap.  The whole device is mapped shared.  Reads that hit a pmem media
// error raise SIGBUS; it is caught and turned into an io_error naming the
// offset instead of killing the tool.  Writes are made durable by flushing
// the written cache lines (msync is not supported on device-dax).
#pragma once

#include "device.h"

namespace pcache {

class dax_device : public device {
public:
	dax_device(std::string path, int fd, uint64_t size, bool writable);
	~dax_device() override;
	const char *kind() const override { return "device-dax device"; }
	void flush() override;

protected:
	void do_read(uint64_t off, void *buf, size_t len) override;
	void do_write(uint64_t off, const void *buf, size_t len) override;

private:
	int fd_;
	unsigned char *map_;
};

} // namespace pcache
