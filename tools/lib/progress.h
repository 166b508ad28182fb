// Progress of a long operation on stderr.
//
// On a terminal (and not quiet): a bar, redrawn in place, once the
// operation has lasted long enough to be worth one.  In bytes mode the bar
// also shows the bytes left, the rate and the time left.  Off a terminal,
// a tool may ask for plain lines instead (one every `line_interval`), so
// that a log of a long run shows it moving; short runs print nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pcache {

class progress_bar {
public:
	enum class units { none, bytes };

	progress_bar(std::string label, bool enabled, units u = units::none, bool plain_lines = false);
	~progress_bar();
	void update(uint64_t done, uint64_t total);
	void finish();

	// "12.0 MiB left, 30.1 MiB/s, 0:02 left" (bytes mode), for the line
	// or the bar.
	static std::string rate_text(uint64_t done, uint64_t total, double seconds);

private:
	std::string label_;
	bool enabled_;
	bool tty_;
	units units_;
	bool plain_lines_;
	bool drawn_ = false;
	std::chrono::steady_clock::time_point start_, last_;
};

} // namespace pcache
