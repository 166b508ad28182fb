#include "overlay_device.h"

#include "page_span.h"

#include <algorithm>
#include <cstring>

namespace pcache {

overlay_device::overlay_device(device &base)
	: device(base.path(), base.size(), true), base_(base)
{
}

overlay_device::page &overlay_device::page_at(uint64_t index)
{
	auto it = pages_.find(index);
	if (it != pages_.end())
		return it->second;
	page p;
	uint64_t start = index * kPage;
	p.valid = static_cast<size_t>(std::min<uint64_t>(kPage, size() - start));
	base_.read(start, p.base.data(), p.valid);
	p.now = p.base;
	return pages_.emplace(index, p).first->second;
}

void overlay_device::do_read(uint64_t off, void *buf, size_t len)
{
	auto out = static_cast<unsigned char *>(buf);
	for_each_page(off, len, kPage, [&](uint64_t index, size_t in_page, size_t n, size_t done) {
		auto it = pages_.find(index);
		if (it == pages_.end())
			base_.read(index * kPage + in_page, out + done, n);
		else
			std::memcpy(out + done, it->second.now.data() + in_page, n);
	});
}

void overlay_device::do_write(uint64_t off, const void *buf, size_t len)
{
	auto in = static_cast<const unsigned char *>(buf);
	for_each_page(off, len, kPage, [&](uint64_t index, size_t in_page, size_t n, size_t done) {
		std::memcpy(page_at(index).now.data() + in_page, in + done, n);
	});
}

// The base's holes, minus the pages the overlay holds.
uint64_t overlay_device::next_data(uint64_t off)
{
	uint64_t data = base_.next_data(off);
	auto it = pages_.lower_bound(off / kPage);
	if (it != pages_.end())
		data = std::min(data, std::max(off, it->first * kPage));
	return std::min(data, size());
}

uint64_t overlay_device::next_hole(uint64_t off)
{
	uint64_t hole = base_.next_hole(off);
	// Every step moves past a page the overlay holds.
	for (auto it = pages_.lower_bound(off / kPage); it != pages_.end() && it->first * kPage <= hole; ++it) {
		uint64_t page_end = (it->first + 1) * kPage;
		if (page_end > hole)
			hole = std::max(hole, base_.next_hole(page_end));
	}
	return std::min(hole, size());
}

bool overlay_device::changed() const
{
	for (const auto &[index, p] : pages_)
		if (std::memcmp(p.base.data(), p.now.data(), p.valid) != 0)
			return true;
	return false;
}

std::vector<changed_run> overlay_device::changes() const
{
	// Unchanged bytes between two changed ones in the same page are
	// taken into the run when the gap is small: fewer, larger writes.
	constexpr size_t kMergeGap = 64;
	std::vector<changed_run> runs;
	for (const auto &[index, p] : pages_) {
		uint64_t start = index * kPage;
		for (size_t i = 0; i < p.valid;) {
			if (p.base[i] == p.now[i]) {
				++i;
				continue;
			}
			size_t j = i + 1, last = i;
			while (j < p.valid && j - last <= kMergeGap) {
				if (p.base[j] != p.now[j])
					last = j;
				++j;
			}
			j = last + 1;
			uint64_t off = start + i;
			// A run that continues one from the previous page is merged.
			if (!runs.empty() && runs.back().offset + runs.back().after.size() == off) {
				changed_run &r = runs.back();
				r.before.insert(r.before.end(), p.base.begin() + i, p.base.begin() + j);
				r.after.insert(r.after.end(), p.now.begin() + i, p.now.begin() + j);
			} else {
				runs.push_back({off, {p.base.begin() + i, p.base.begin() + j},
						{p.now.begin() + i, p.now.begin() + j}});
			}
			i = j;
		}
	}
	return runs;
}

} // namespace pcache
