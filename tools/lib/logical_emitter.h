// The resolved logical map (logical_map) -> XML or text, for
// pcache_dump --logical: one extent per line, in origin order, with its
// cache location as logical segment, offset, and absolute device byte.
#pragma once

#include "events.h"
#include "logical_map.h"
#include "output.h"
#include "segment_table.h"
#include "xml_writer.h"

namespace pcache {

class logical_emitter : public metadata_visitor, public extent_sink {
public:
	logical_emitter(output &out, bool human) : out_(out), xml_(out), human_(human) {}

	void on_superblock(const superblock &sb) override { seg_num_ = sb.seg_num; }
	void on_cache_info(const replica_set<cache_info> &info) override;
	void on_segment(const segment_record &seg) override { segs_.set(seg); }

	void begin();
	void on_extent(const extent &e) override;
	void end(const map_summary &summary);

private:
	output &out_;
	xml_writer xml_;
	bool human_;
	uint32_t seg_num_ = 0;
	segment_table segs_;
};

} // namespace pcache
