// A sparse in-memory device: 4 KiB pages allocated on first write, zeros
// elsewhere.  For tests, which need 512 MiB "devices" holding a few pages.
#pragma once

#include "device.h"

#include <array>
#include <unordered_map>

namespace pcache {

class memory_device : public device {
public:
	explicit memory_device(uint64_t size, std::string name = "memory");
	const char *kind() const override { return "memory device"; }
	void flush() override {}
	size_t pages_in_use() const { return pages_.size(); }

protected:
	void do_read(uint64_t off, void *buf, size_t len) override;
	void do_write(uint64_t off, const void *buf, size_t len) override;

private:
	static constexpr uint64_t kPage = 4096;
	std::unordered_map<uint64_t, std::array<unsigned char, kPage>> pages_;
};

} // namespace pcache
