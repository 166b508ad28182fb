#include "logical_emitter.h"

#include "layout.h"
#include "text_format.h"
#include "xml_schema.h"

#include <algorithm>

namespace pcache {

using namespace xml;

void logical_emitter::on_cache_info(const replica_set<cache_info> &info)
{
	segs_.reset(std::min(info.current().n_segs, seg_num_));
}

void logical_emitter::begin()
{
	if (human_)
		return;
	xml_.declaration();
	xml_.open(kLogicalRoot);
	xml_.attr(kFormatVersionAttr, uint64_t(kFormatVersion));
	xml_.close_start();
}

void logical_emitter::on_extent(const extent &e)
{
	// Extents come from keys that passed the rules, so e.seg is a known
	// segment of the chain.
	uint64_t dev = data_offset(segs_.phys(e.seg), e.seg_off);
	if (human_) {
		out_.write("[" + std::to_string(e.off) + ", " + std::to_string(e.off + e.len) + ") -> " +
			   std::to_string(e.seg) + ":" + std::to_string(e.seg_off) + " (device byte " +
			   std::to_string(dev) + ") " + (e.dirty ? "dirty" : "clean") + "\n");
		return;
	}
	xml_.open(kExtent);
	xml_.attr(kOff, e.off);
	xml_.attr(kLen, uint64_t(e.len));
	xml_.attr(kSeg, uint64_t(e.seg));
	xml_.attr(kSegOff, uint64_t(e.seg_off));
	xml_.attr(kDevOff, dev);
	xml_.attr(kDirty, e.dirty);
	xml_.close_empty();
}

void logical_emitter::end(const map_summary &s)
{
	if (human_) {
		out_.write(std::to_string(s.live_extents) + " extents, " + size_string(s.live_bytes) +
			   " cached, " + size_string(s.dirty_bytes) + " dirty\n");
		return;
	}
	xml_.open(kSummary);
	xml_.attr("extents", s.live_extents);
	xml_.attr("bytes", s.live_bytes);
	xml_.attr("dirty_extents", s.dirty_extents);
	xml_.attr("dirty_bytes", s.dirty_bytes);
	xml_.close_empty();
	xml_.end(kLogicalRoot);
}

} // namespace pcache
