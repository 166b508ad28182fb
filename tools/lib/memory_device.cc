#include "memory_device.h"

#include "page_span.h"

#include <algorithm>
#include <cstring>

namespace pcache {

memory_device::memory_device(uint64_t size, std::string name)
	: device(std::move(name), size, true)
{
}

void memory_device::do_read(uint64_t off, void *buf, size_t len)
{
	auto out = static_cast<unsigned char *>(buf);
	for_each_page(off, len, kPage, [&](uint64_t page, size_t in_page, size_t n, size_t done) {
		auto it = pages_.find(page);
		if (it == pages_.end())
			std::memset(out + done, 0, n);
		else
			std::memcpy(out + done, it->second.data() + in_page, n);
	});
}

void memory_device::do_write(uint64_t off, const void *buf, size_t len)
{
	auto in = static_cast<const unsigned char *>(buf);
	for_each_page(off, len, kPage, [&](uint64_t page, size_t in_page, size_t n, size_t done) {
		auto it = pages_.find(page);
		if (it == pages_.end())
			it = pages_.emplace(page, std::array<unsigned char, kPage>{}).first;
		std::memcpy(it->second.data() + in_page, in + done, n);
	});
}

} // namespace pcache
