#include "progress.h"

#include <cinttypes>
#include <cstdio>
#include <unistd.h>

namespace pcache {
namespace {

constexpr auto kFirstDraw = std::chrono::milliseconds(500);
constexpr auto kRedraw = std::chrono::milliseconds(100);
constexpr auto kLineInterval = std::chrono::seconds(10);

std::string short_size(uint64_t bytes)
{
	static const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = static_cast<double>(bytes);
	unsigned u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]))
		v /= 1024, ++u;
	char buf[32];
	if (u == 0)
		std::snprintf(buf, sizeof(buf), "%" PRIu64 " bytes", bytes);
	else
		std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
	return buf;
}

} // namespace

progress_bar::progress_bar(std::string label, bool enabled, units u, bool plain_lines)
	: label_(std::move(label)), enabled_(enabled), tty_(::isatty(STDERR_FILENO)), units_(u),
	  plain_lines_(plain_lines), start_(std::chrono::steady_clock::now()), last_(start_)
{
}

progress_bar::~progress_bar()
{
	finish();
}

std::string progress_bar::rate_text(uint64_t done, uint64_t total, double seconds)
{
	uint64_t left = total > done ? total - done : 0;
	std::string s = short_size(left) + " left";
	if (seconds > 0 && done > 0) {
		double rate = static_cast<double>(done) / seconds;
		s += ", " + short_size(static_cast<uint64_t>(rate)) + "/s";
		uint64_t eta = static_cast<uint64_t>(static_cast<double>(left) / rate);
		char buf[32];
		std::snprintf(buf, sizeof(buf), ", ETA %" PRIu64 ":%02" PRIu64, eta / 60, eta % 60);
		s += buf;
	}
	return s;
}

void progress_bar::update(uint64_t done, uint64_t total)
{
	if (!enabled_ || !total || (!tty_ && !plain_lines_))
		return;
	auto now = std::chrono::steady_clock::now();
	double seconds = std::chrono::duration<double>(now - start_).count();
	int percent = static_cast<int>(done * 100 / total);
	if (!tty_) {
		if (now - last_ < kLineInterval)
			return;
		last_ = now;
		std::string extra = units_ == units::bytes ? ", " + rate_text(done, total, seconds) : "";
		std::fprintf(stderr, "%s: %d%% done%s\n", label_.c_str(), percent, extra.c_str());
		std::fflush(stderr);
		return;
	}
	// Quick operations never show a bar; then redraw at most 10 times a second.
	if (now - start_ < kFirstDraw || now - last_ < kRedraw)
		return;
	last_ = now;
	constexpr int width = 40;
	int filled = percent * width / 100;
	std::string extra = units_ == units::bytes ? " " + rate_text(done, total, seconds) : "";
	std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%%s\033[K", label_.c_str(), filled,
		     "========================================", width - filled, "", percent, extra.c_str());
	std::fflush(stderr);
	drawn_ = true;
}

void progress_bar::finish()
{
	if (drawn_) {
		std::fprintf(stderr, "\r\033[K");
		std::fflush(stderr);
	}
	drawn_ = false;
}

} // namespace pcache
