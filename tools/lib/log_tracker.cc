#include "log_tracker.h"

#include "layout.h"

namespace pcache {

log_tracker::log_tracker(const segment_table &segs, cache_pos key_tail,
			 std::optional<cache_pos> dirty_tail)
	: segs_(segs), dirty_tail_(dirty_tail), visited_(segs.size(), false)
{
	summary_.start = key_tail;
	summary_.end = key_tail;
	// Without a dirty_tail every key counts as dirty: the safe reading.
	dirty_ = !dirty_tail;
}

bool log_tracker::enter_segment(uint32_t seg, const kset_record *from, damage_sink &sink)
{
	if (seg < visited_.size() && visited_[seg]) {
		location where{record_kind::log};
		if (from) {
			where.record = record_kind::kset;
			where.kset = from->pos;
			if (from->device_offset)
				where.device_offset = from->device_offset;
		}
		sink.report({damage_kind::log_revisits_segment, where,
			     "the log enters cache segment " + std::to_string(seg) +
				     " a second time (a cycle); the walk stops here",
			     {}});
		return false;
	}
	if (seg < visited_.size())
		visited_[seg] = true;
	++summary_.key_segments;
	return true;
}

bool log_tracker::reachable(const cache_pos &pos, damage_sink &sink) const
{
	if (segs_.known(pos.seg))
		return true;
	location where{record_kind::log};
	where.kset = pos;
	sink.report({damage_kind::log_segment_unknown, where,
		     "the log continues in cache segment " + std::to_string(pos.seg) +
			     ", which the segment chain does not reach",
		     {}});
	return false;
}

void log_tracker::reach(const cache_pos &pos)
{
	if (dirty_tail_ && pos == *dirty_tail_) {
		dirty_ = true;
		summary_.dirty_tail_reached = true;
	}
}

kset_record log_tracker::kset_at(const cache_pos &pos, const kset_header &header,
				 uint64_t device_offset)
{
	reach(pos);
	kset_record k;
	k.pos = pos;
	k.header = header;
	k.device_offset = device_offset;
	k.dirty = dirty_;
	return k;
}

void log_tracker::add(const kset_record &kset)
{
	if (kset.header.last())
		++summary_.last_ksets;
	else
		++summary_.ksets;
	summary_.bytes += kset.size();
}

key_record log_tracker::key(const cache_key &key, const kset_record &kset, uint32_t index,
			    uint64_t device_offset)
{
	key_record r;
	r.key = key;
	r.kset = kset.pos;
	r.index = index;
	r.order = summary_.keys++;
	r.dirty_window = kset.dirty;
	r.segment_gen = segs_.gen_if_known(key.seg);
	r.device_offset = device_offset;
	if (r.stale())
		++summary_.stale_keys;
	return r;
}

void log_tracker::finish(const cache_pos &end, bool complete, damage_sink &sink)
{
	reach(end);
	summary_.end = end;
	summary_.complete = complete;
	// A walk cut short by damage may simply not have got there; that
	// damage is reported already.
	if (dirty_tail_ && !summary_.dirty_tail_reached && complete) {
		location where{record_kind::dirty_tail};
		sink.report({damage_kind::dirty_tail_not_on_log, where,
			     "dirty_tail " + to_string(*dirty_tail_) +
				     " is not a kset position on the log from key_tail " +
				     to_string(summary_.start) + " to its end " + to_string(end) +
				     "; every key is treated as dirty",
			     {}});
	}
}

} // namespace pcache
