// A copy-on-write view of a device: reads see the base device with the
// overlay's writes on top; writes stay in memory, page by page.
//
// pcache_repair plans every change into an overlay, checks the result
// through it (walker, rules, logical map) and only then writes the changed
// bytes to a real device, so a repair that would not check clean is
// refused before a single byte is written, and the exact set of touched
// regions is known in advance (for --backup).
#pragma once

#include "device.h"

#include <array>
#include <cstdint>
#include <map>
#include <vector>

namespace pcache {

// Bytes that differ between the base device and the overlay.
struct changed_run {
	uint64_t offset = 0;
	std::vector<unsigned char> before;	// as on the base device
	std::vector<unsigned char> after;	// as planned
};

class overlay_device : public device {
public:
	explicit overlay_device(device &base);
	const char *kind() const override { return base_.kind(); }
	void flush() override {}
	uint64_t next_data(uint64_t off) override;
	uint64_t next_hole(uint64_t off) override;

	// The runs of bytes that differ from the base, in device order
	// (unchanged bytes inside written pages are left out).
	std::vector<changed_run> changes() const;
	bool changed() const;
	// Drops every planned write.
	void clear() { pages_.clear(); }

protected:
	void do_read(uint64_t off, void *buf, size_t len) override;
	void do_write(uint64_t off, const void *buf, size_t len) override;

private:
	static constexpr uint64_t kPage = 4096;
	struct page {
		std::array<unsigned char, kPage> base{};	// the base's bytes
		std::array<unsigned char, kPage> now{};
		size_t valid = 0;	// bytes of the page inside the device
	};
	page &page_at(uint64_t index);

	device &base_;
	std::map<uint64_t, page> pages_;	// ordered: changes() walks in device order
};

} // namespace pcache
