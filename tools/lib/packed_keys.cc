#include "packed_keys.h"

#include <cstdlib>
#include <new>
#include <sys/mman.h>

namespace pcache {

packed_keys::~packed_keys()
{
	std::free(data_);
}

void packed_keys::grow()
{
	size_t capacity = capacity_ ? capacity_ * 2 : 4096;
	void *p = std::realloc(data_, capacity * sizeof(packed_key));
	if (!p)
		throw std::bad_alloc();
	data_ = static_cast<packed_key *>(p);
	capacity_ = capacity;
	// Sorting moves keys all over the array: huge pages save most TLB
	// misses.  Advice only; the range is rounded inwards to whole pages.
	const uintptr_t page = 2 << 20;
	uintptr_t start = (reinterpret_cast<uintptr_t>(data_) + page - 1) & ~(page - 1);
	uintptr_t end = (reinterpret_cast<uintptr_t>(data_) + capacity * sizeof(packed_key)) & ~(page - 1);
	if (end > start)
		::madvise(reinterpret_cast<void *>(start), end - start, MADV_HUGEPAGE);
}

void packed_keys::clear()
{
	std::free(data_);
	data_ = nullptr;
	size_ = capacity_ = 0;
}

} // namespace pcache
