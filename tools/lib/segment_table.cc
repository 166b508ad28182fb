#include "segment_table.h"

namespace pcache {

void segment_table::reset(uint32_t n_segs)
{
	phys_.assign(n_segs, kUnknown);
	gen_.assign(n_segs, 0);
}

void segment_table::set(const segment_record &seg)
{
	if (seg.id >= phys_.size())
		return;
	phys_[seg.id] = seg.phys;
	gen_[seg.id] = seg.generation();
}

} // namespace pcache
