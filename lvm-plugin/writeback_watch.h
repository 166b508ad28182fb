// Tells a writeback that fails from one that is only slow, for detach's
// wait on the kernel's cleaner: an origin that refuses every write would
// otherwise keep detach waiting forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace lvpcache {

class writeback_watch {
public:
	using clock = std::chrono::steady_clock;

	explicit writeback_watch(clock::duration limit) : limit_(limit) {}

	// One reading of the status.  True when the dirty bytes have not gone
	// below their lowest value for longer than the limit while the kernel
	// counted new writeback errors.  A slow writeback without errors (a
	// rate cap, a busy origin) is never stalled.
	bool stalled(uint64_t dirty_bytes, uint64_t writeback_errors, clock::time_point now);

	// The errors counted since the last progress.
	uint64_t new_errors() const { return errors_ - errors_at_progress_; }

private:
	clock::duration limit_;
	std::optional<uint64_t> least_dirty_;
	uint64_t errors_ = 0, errors_at_progress_ = 0;
	clock::time_point last_progress_;
};

} // namespace lvpcache
