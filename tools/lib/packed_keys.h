// A growable array of 16-byte packed keys that costs what it holds.
//
// Grown with realloc: for large blocks glibc moves pages with mremap
// instead of copying, and capacity that was never written is never made
// resident, so the peak RSS of n keys stays near 16 * n bytes (a
// std::vector would hold old and new storage at once while growing).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pcache {

struct packed_key {
	uint64_t hi;
	uint64_t lo;
};
static_assert(sizeof(packed_key) == 16, "packed_key must stay 16 bytes");

class packed_keys {
public:
	packed_keys() = default;
	~packed_keys();
	packed_keys(const packed_keys &) = delete;
	packed_keys &operator=(const packed_keys &) = delete;

	void push_back(const packed_key &k)
	{
		if (size_ == capacity_)
			grow();
		data_[size_++] = k;
	}
	size_t size() const { return size_; }
	packed_key *begin() { return data_; }
	packed_key *end() { return data_ + size_; }
	const packed_key &operator[](size_t i) const { return data_[i]; }
	void clear();

private:
	void grow();

	packed_key *data_ = nullptr;
	size_t size_ = 0;
	size_t capacity_ = 0;
};

} // namespace pcache
