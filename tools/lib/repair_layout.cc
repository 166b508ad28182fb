#include "repair_layout.h"

#include "encode.h"
#include "layout.h"

namespace pcache {
namespace {

bool segment_changed(const log_model &m, const log_segment &s, bool final_segment)
{
	for (uint32_t i : s.entries) {
		const log_entry &e = m.entries[i];
		if (e.kind == log_entry::type::lost || e.restored)
			return true;
		for (uint32_t k = 0; k < e.keys; ++k)
			if (m.keys[e.first_key + k].dropped())
				return true;
	}
	return final_segment && m.cut.has_value();
}

location kset_where(const repair_state &st, const log_entry &e)
{
	location where{record_kind::kset};
	where.kset = e.pos;
	where.device_offset = data_offset(st.phys[e.pos.seg], e.pos.off);
	return where;
}

} // namespace

void lay_out_log(repair_state &st, log_model &m)
{
	std::vector<std::optional<cache_pos>> moved(m.entries.size());
	cache_pos end = m.end;
	for (size_t si = 0; si < m.segments.size(); ++si) {
		const log_segment &s = m.segments[si];
		bool final_segment = si + 1 == m.segments.size() && (!s.next || m.cut);
		if (!segment_changed(m, s, final_segment)) {
			for (uint32_t i : s.entries)
				moved[i] = m.entries[i].pos;
			continue;
		}
		uint64_t off = s.start;
		bool ends_with_last = false;
		uint64_t dropped_keys = 0, rewritten = 0;
		auto put = [&](const std::vector<unsigned char> &bytes) {
			if (off + bytes.size() + PCACHE_KSET_HEADER_SIZE > PCACHE_SEG_DATA_SIZE)
				throw repair_refused("internal error: the rewritten log of segment " +
						     std::to_string(s.seg) + " does not fit; nothing was written");
			st.out.write(data_offset(st.phys[s.seg], static_cast<uint32_t>(off)), bytes.data(), bytes.size());
			off += bytes.size();
		};
		for (uint32_t i : s.entries) {
			const log_entry &e = m.entries[i];
			if (e.restored)
				st.report.change(change_kind::kset_restored, kset_where(st, e), e.why);
			if (e.kind == log_entry::type::lost) {
				st.report.change(change_kind::kset_dropped, kset_where(st, e),
						 "left out of the log (" + std::to_string(e.keys) + " keys): " + e.why);
				continue;
			}
			if (e.kind == log_entry::type::last) {
				moved[i] = cache_pos{s.seg, static_cast<uint32_t>(off)};
				put(encode_last_kset(e.header.next_seg(), e.header.flags));
				ends_with_last = true;
				++rewritten;
				continue;
			}
			std::vector<cache_key> kept;
			for (uint32_t k = 0; k < e.keys; ++k) {
				const log_key &key = m.keys[e.first_key + k];
				if (!key.dropped()) {
					kept.push_back(key.key);
					continue;
				}
				++dropped_keys;
				location where{record_kind::key};
				where.kset = e.pos;
				where.key_index = key.index;
				where.device_offset = key.device_offset;
				st.report.change(change_kind::key_dropped, where,
						 "origin bytes [" + std::to_string(key.key.off) + ", " +
							 std::to_string(key.key.off + key.key.len) + ") " +
							 (e.dirty && !key.key.clean() ? "dirty" : "clean") + ": " +
							 describe(key.fate));
			}
			if (kept.empty() && e.keys)
				continue;	// nothing left of it
			moved[i] = cache_pos{s.seg, static_cast<uint32_t>(off)};
			put(encode_kset(kept, e.header.flags));
			++rewritten;
		}
		if (s.next && !m.cut && !ends_with_last) {
			put(encode_last_kset(*s.next, PCACHE_KSET_FLAGS_LAST));
			++rewritten;
			location where{record_kind::kset};
			where.kset = cache_pos{s.seg, static_cast<uint32_t>(off - PCACHE_KSET_HEADER_SIZE)};
			st.report.change(change_kind::log_rewritten, where,
					 "a new LAST kset leads on to segment " + std::to_string(*s.next));
		}
		if (final_segment || !s.next || m.cut) {
			unsigned char zero[PCACHE_KSET_HEADER_SIZE] = {};
			st.out.write(data_offset(st.phys[s.seg], static_cast<uint32_t>(off)), zero, sizeof(zero));
			end = cache_pos{s.seg, static_cast<uint32_t>(off)};
		}
		location where{record_kind::log};
		where.segment = s.seg;
		where.kset = cache_pos{s.seg, s.start};
		st.report.change(change_kind::log_rewritten, where,
				 std::to_string(rewritten) + " records of segment " + std::to_string(s.seg) +
					 " written again from offset " + std::to_string(s.start) +
					 (dropped_keys ? ", without " + std::to_string(dropped_keys) + " dropped keys" : "") +
					 ", so the ksets stay continuous; the segment's log now ends at " +
					 std::to_string(off));
		if (m.cut && si + 1 == m.segments.size())
			break;
	}
	if (m.cut) {
		location where{record_kind::log};
		where.kset = end;
		st.report.change(change_kind::log_truncated, where, "the log now ends here: " + *m.cut);
		st.report.lose_unknown(where, *m.cut);
	}

	// dirty_tail names the same record as before, wherever it went.
	if (m.dirty_from) {
		std::optional<cache_pos> at;
		for (size_t i = *m.dirty_from; i < m.entries.size() && !at; ++i)
			at = moved[i];
		cache_pos now = at.value_or(end);
		if (now != st.dirty_tail) {
			if (st.dirty_tail_why.empty())
				st.dirty_tail_why = "moved with the record it names";
			st.dirty_tail = now;
		}
	}
}

} // namespace pcache
