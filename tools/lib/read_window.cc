#include "read_window.h"

#include <algorithm>
#include <cstring>

namespace pcache {

read_window::read_window(device &dev, size_t window) : dev_(dev), max_(window) {}

void read_window::read(uint64_t off, void *out, size_t len)
{
	if (len > max_) {
		dev_.read(off, out, len);
		return;
	}
	if (off < start_ || off + len > start_ + filled_) {
		if (off > dev_.size() || len > dev_.size() - off) {
			dev_.read(off, out, len);	// throws the range error
			return;
		}
		// A fill that continues the last one: the walk goes on
		// sequentially, so read more next time.
		bool sequential = filled_ && off >= start_ && off < start_ + filled_ + 4096;
		next_fill_ = sequential ? std::min(next_fill_ * 2, max_) : std::max(kFirstFill, std::min(len, max_));
		size_t want = std::max(next_fill_, len);
		start_ = off & ~uint64_t(4095);
		filled_ = static_cast<size_t>(std::min<uint64_t>(want, dev_.size() - start_));
		if (off + len > start_ + filled_)
			start_ = off, filled_ = std::min<uint64_t>(want, dev_.size() - off);
		if (!buf_)
			buf_.reset(new unsigned char[max_]);
		try {
			dev_.read(start_, buf_.get(), filled_);
		} catch (const io_error &) {
			// A media error somewhere in the window: read just what
			// was asked, so only a record that is really bad fails.
			filled_ = 0;
			dev_.read(off, out, len);
			return;
		}
	}
	std::memcpy(out, buf_.get() + (off - start_), len);
}

} // namespace pcache
