// Splitting a byte range at page boundaries, for the devices that keep
// their bytes page by page (memory_device, overlay_device).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace pcache {

// Calls f(page index, offset in the page, bytes, offset in the range) for
// each page [off, off + len) touches, in order.
template <typename F>
void for_each_page(uint64_t off, size_t len, uint64_t page_size, F f)
{
	for (size_t done = 0; done < len;) {
		uint64_t at = off + done;
		uint64_t in_page = at % page_size;
		size_t n = static_cast<size_t>(std::min<uint64_t>(len - done, page_size - in_page));
		f(at / page_size, static_cast<size_t>(in_page), n, done);
		done += n;
	}
}

} // namespace pcache
