#include "memory_device.h"

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
	while (len) {
		uint64_t page = off / kPage, in_page = off % kPage;
		size_t n = static_cast<size_t>(std::min<uint64_t>(len, kPage - in_page));
		auto it = pages_.find(page);
		if (it == pages_.end())
			std::memset(out, 0, n);
		else
			std::memcpy(out, it->second.data() + in_page, n);
		out += n;
		off += n;
		len -= n;
	}
}

void memory_device::do_write(uint64_t off, const void *buf, size_t len)
{
	auto in = static_cast<const unsigned char *>(buf);
	while (len) {
		uint64_t page = off / kPage, in_page = off % kPage;
		size_t n = static_cast<size_t>(std::min<uint64_t>(len, kPage - in_page));
		auto it = pages_.find(page);
		if (it == pages_.end())
			it = pages_.emplace(page, std::array<unsigned char, kPage>{}).first;
		std::memcpy(it->second.data() + in_page, in, n);
		in += n;
		off += n;
		len -= n;
	}
}

} // namespace pcache
