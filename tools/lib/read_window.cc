#include "read_window.h"

#include <algorithm>
#include <cstring>

namespace pcache {

read_window::read_window(device &dev, size_t window) : dev_(dev), buf_(window) {}

void read_window::read(uint64_t off, void *out, size_t len)
{
	if (len > buf_.size()) {
		dev_.read(off, out, len);
		return;
	}
	if (off < start_ || off + len > start_ + filled_) {
		if (off > dev_.size() || len > dev_.size() - off) {
			dev_.read(off, out, len);	// throws the range error
			return;
		}
		start_ = off & ~uint64_t(4095);
		filled_ = static_cast<size_t>(std::min<uint64_t>(buf_.size(), dev_.size() - start_));
		if (off + len > start_ + filled_)
			start_ = off, filled_ = std::min<uint64_t>(buf_.size(), dev_.size() - off);
		try {
			dev_.read(start_, buf_.data(), filled_);
		} catch (const io_error &) {
			// A media error somewhere in the window: read just what
			// was asked, so only a record that is really bad fails.
			filled_ = 0;
			dev_.read(off, out, len);
			return;
		}
	}
	std::memcpy(out, buf_.data() + (off - start_), len);
}

} // namespace pcache
