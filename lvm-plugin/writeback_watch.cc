#include "writeback_watch.h"

namespace lvpcache {

bool writeback_watch::stalled(uint64_t dirty_bytes, uint64_t writeback_errors, clock::time_point now)
{
	errors_ = writeback_errors;
	if (!least_dirty_ || dirty_bytes < *least_dirty_) {
		least_dirty_ = dirty_bytes;
		errors_at_progress_ = writeback_errors;
		last_progress_ = now;
		return false;
	}
	return new_errors() > 0 && now - last_progress_ > limit_;
}

} // namespace lvpcache
