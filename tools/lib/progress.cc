#include "progress.h"

#include <cstdio>
#include <unistd.h>

namespace pcache {

progress_bar::progress_bar(std::string label, bool enabled)
	: label_(std::move(label)), enabled_(enabled && ::isatty(STDERR_FILENO)),
	  start_(std::chrono::steady_clock::now()), last_(start_)
{
}

progress_bar::~progress_bar()
{
	finish();
}

void progress_bar::update(uint64_t done, uint64_t total)
{
	if (!enabled_ || !total)
		return;
	auto now = std::chrono::steady_clock::now();
	// Quick operations never show a bar; then redraw at most 10 times a second.
	if (now - start_ < std::chrono::milliseconds(500) || now - last_ < std::chrono::milliseconds(100))
		return;
	last_ = now;
	constexpr int width = 40;
	int percent = static_cast<int>(done * 100 / total);
	int filled = percent * width / 100;
	std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", label_.c_str(), filled,
		     "========================================", width - filled, "", percent);
	std::fflush(stderr);
	drawn_ = true;
}

void progress_bar::finish()
{
	if (drawn_) {
		std::fprintf(stderr, "\r%*s\r", static_cast<int>(label_.size()) + 50, "");
		std::fflush(stderr);
	}
	drawn_ = false;
}

} // namespace pcache
