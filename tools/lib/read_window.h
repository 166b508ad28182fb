// Sequential reads through a window: the kset log is read a few bytes at
// a time but in increasing order, so one large read serves many records.
// The window starts small and doubles while the reads go on where the
// last fill ended, up to its maximum: a short log costs a short read, a
// long one large reads.
#pragma once

#include "device.h"

#include <cstdint>
#include <memory>

namespace pcache {

class read_window {
public:
	explicit read_window(device &dev, size_t window = 256 << 10);
	// Copies [off, off + len) of the device into out.
	void read(uint64_t off, void *out, size_t len);

private:
	static constexpr size_t kFirstFill = 64 << 10;

	device &dev_;
	size_t max_;
	size_t next_fill_ = kFirstFill;
	std::unique_ptr<unsigned char[]> buf_;	// max_ bytes, uninitialised: only what is filled is touched
	uint64_t start_ = 0;
	size_t filled_ = 0;
};

} // namespace pcache
