// A progress bar on stderr, drawn only when stderr is a terminal, the tool
// is not quiet, and the operation has lasted long enough to be worth one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pcache {

class progress_bar {
public:
	progress_bar(std::string label, bool enabled);
	~progress_bar();
	void update(uint64_t done, uint64_t total);
	void finish();

private:
	std::string label_;
	bool enabled_;
	bool drawn_ = false;
	std::chrono::steady_clock::time_point start_, last_;
};

} // namespace pcache
