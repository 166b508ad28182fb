#include "repair_log.h"

#include "decode.h"
#include "kset_correction.h"
#include "layout.h"
#include "rules.h"
#include "walker.h"

#include <cstring>

namespace pcache {

const char *describe(key_fate fate)
{
	switch (fate) {
	case key_fate::keep:
		return "kept";
	case key_fate::stale:
		return "stale";
	case key_fate::stale_bad_crc:
		return "stale (invalidated), and its data no longer matches its CRC, which would stop the "
		       "kernel's replay";
	case key_fate::lost_span:
		return "its kset was damaged beyond repair";
	case key_fate::bad_fields:
		return "its fields cannot be placed (bounds, alignment or segment)";
	case key_fate::bad_crc:
		return "its data does not match its data CRC";
	case key_fate::unreadable:
		return "its data cannot be read";
	case key_fate::bad_generation:
		return "its generation does not fit its segment's";
	case key_fate::shares_cache_space:
		return "a later key took its cache bytes";
	case key_fate::in_log_segment:
		return "its data lies in a segment that holds the log";
	case key_fate::shadows_lost:
		return "clean, and older than data that was lost in its range";
	}
	return "?";
}

namespace {

// The walker's words for a damaged kset, without what the kernel would do
// and what --repair did: "it fails its CRC but the log goes on at 0:208".
std::string short_reason(std::string detail)
{
	const std::string prefix = "damaged kset: ";
	if (detail.compare(0, prefix.size(), prefix) == 0)
		detail.erase(0, prefix.size());
	auto cut = detail.find("; the kernel's replay");
	if (cut != std::string::npos)
		detail.erase(cut);
	return detail;
}

// Receives the walk: records in order, and the damage that tells where
// spans were stepped over and where the walk had to stop.
class log_collector : public metadata_visitor, public damage_sink {
public:
	explicit log_collector(log_model &m) : m_(m) {}

	void report(const damage &d) override
	{
		if (d.where.record != record_kind::kset && d.where.record != record_kind::log &&
		    d.kind != damage_kind::read_error)
			return;	// keys are judged by the repair itself
		switch (d.kind) {
		case damage_kind::kset_damaged:
		case damage_kind::kset_too_many_keys:
			m_.damaged = true;
			if (d.where.kset) {
				pending_ = d.where.kset;
				pending_why_ = short_reason(d.detail);
				pending_offset_ = d.where.device_offset.value_or(0);
			}
			break;
		case damage_kind::kset_overruns_segment:
		case damage_kind::kset_no_room_for_last:
		case damage_kind::last_kset_next_out_of_range:
			m_.damaged = true;
			bad_ = d.where.kset;
			bad_why_ = short_reason(d.detail);
			break;
		case damage_kind::last_kset_target_invalid:
			m_.damaged = true;
			m_.last_leads_nowhere = true;
			m_.cut = short_reason(d.detail);
			for (size_t i = m_.entries.size(); i-- > 0;)
				if (m_.entries[i].kind == log_entry::type::last) {
					mark_lost(m_.entries[i], "it leads to a segment that is not the log's");
					m_.nowhere_entry = i;
					break;
				}
			break;
		case damage_kind::kset_swallows_next:
			m_.damaged = true;
			if (d.where.kset) {
				fix_ = d.where.kset;
				fix_why_ = d.detail;
				auto cut = fix_why_.find(" (--repair");
				if (cut != std::string::npos)
					fix_why_.erase(cut);
			}
			break;
		case damage_kind::log_revisits_segment:
			m_.damaged = true;
			// Reported once the LAST kset was emitted: it is the last entry.
			if (!m_.entries.empty()) {
				mark_lost(m_.entries.back(), d.detail);
				m_.cut = "the log's LAST kset at " + to_string(m_.entries.back().pos) +
					 " leads back into a segment it passed; " + d.detail;
			}
			break;
		case damage_kind::log_segment_unknown:
		case damage_kind::read_error:
			m_.damaged = true;
			stop_why_ = d.detail;
			break;
		case damage_kind::log_torn_end:
		case damage_kind::log_end_not_zeroed:
			if (d.where.kset)
				m_.torn.push_back(*d.where.kset);
			break;
		default:
			break;
		}
	}

	void on_kset(const kset_record &k) override { add(k, log_entry::type::kset); }
	void on_last_kset(const kset_record &k) override { add(k, log_entry::type::last); }
	void on_key(const key_record &k) override
	{
		log_key key;
		key.key = k.key;
		key.entry = static_cast<uint32_t>(m_.entries.size() - 1);
		key.index = k.index;
		key.device_offset = k.device_offset;
		m_.keys.push_back(key);
		++m_.entries.back().keys;
	}
	void on_end_log(const log_summary &s) override
	{
		m_.end = s.end;
		if (pending_) {
			// Stepped over, and the walk ended where it resumed (an empty
			// rest of the log), or it could not step over at all.
			if (s.complete && s.end.seg == pending_->seg && s.end.off > pending_->off)
				push_lost(s.end.off - pending_->off);
			else
				push_lost(0), m_.cut = "the log cannot be followed beyond the damaged kset at " +
						      to_string(*pending_) + ": " + pending_why_;
			pending_.reset();
		}
		if (!s.complete && !m_.cut)
			m_.cut = "the walk stopped at " + to_string(s.end) +
				 (stop_why_.empty() ? std::string() : ": " + stop_why_);
	}

private:
	void mark_lost(log_entry &e, const std::string &why)
	{
		e.kind = log_entry::type::lost;
		e.why = why;
		for (uint32_t i = 0; i < e.keys; ++i)
			m_.keys[e.first_key + i].fate = key_fate::lost_span;
	}

	void push_lost(uint64_t span)
	{
		log_entry e;
		e.kind = log_entry::type::lost;
		e.pos = *pending_;
		e.span = span;
		e.device_offset = pending_offset_;
		e.why = pending_why_;
		e.first_key = static_cast<uint32_t>(m_.keys.size());
		m_.entries.push_back(e);
	}

	void add(const kset_record &k, log_entry::type kind)
	{
		if (pending_) {
			// The walk stepped over [pending, k.pos).
			uint64_t span = k.pos.seg == pending_->seg && k.pos.off > pending_->off
						? k.pos.off - pending_->off
						: PCACHE_KSET_HEADER_SIZE;
			push_lost(span);
			pending_.reset();
		}
		log_entry e;
		e.kind = kind;
		e.pos = k.pos;
		e.header = k.header;
		e.span = k.size();
		e.device_offset = k.device_offset;
		e.first_key = static_cast<uint32_t>(m_.keys.size());
		if (fix_ && *fix_ == k.pos) {
			e.restored = true;	// written again with the keys it really has
			e.why = fix_why_;
			fix_.reset();
		}
		m_.entries.push_back(e);
		if (bad_ && *bad_ == k.pos) {
			// The walk stops after this record: it is not part of the log.
			m_.entries.back().kind = log_entry::type::lost;
			m_.entries.back().why = bad_why_;
			m_.cut = "the log cannot be followed beyond the kset at " + to_string(k.pos) + ": " + bad_why_;
			bad_.reset();
		}
	}

public:
	// Keys of a record that turned out not to be part of the log.
	void finish()
	{
		for (log_entry &e : m_.entries)
			if (e.kind == log_entry::type::lost)
				for (uint32_t i = 0; i < e.keys; ++i)
					m_.keys[e.first_key + i].fate = key_fate::lost_span;
	}

private:
	log_model &m_;
	std::optional<cache_pos> pending_;
	std::string pending_why_;
	uint64_t pending_offset_ = 0;
	std::optional<cache_pos> bad_;
	std::optional<cache_pos> fix_;
	std::string fix_why_;
	std::string bad_why_;
	std::string stop_why_;
};

// Tries to make a stepped-over span whole (see the header); otherwise
// decodes what keys it can from it, to name the ranges that were lost.
void examine_lost(repair_state &st, log_model &m, size_t index, const std::optional<uint32_t> &next_seg)
{
	log_entry &e = m.entries[index];
	uint64_t dev_off = data_offset(st.phys[e.pos.seg], e.pos.off);
	uint64_t room = PCACHE_SEG_DATA_SIZE - e.pos.off;
	std::vector<unsigned char> bytes(PCACHE_KSET_ONMEDIA_SIZE_MAX);
	size_t have = static_cast<size_t>(std::min<uint64_t>(bytes.size(), room));
	st.out.read(dev_off, bytes.data(), have);
	pcache_cache_kset_onmedia raw;
	std::memcpy(&raw, bytes.data(), sizeof(raw));
	kset_header stored = decode(raw);

	auto read = [&](size_t len, unsigned char *out) {
		if (len > have)
			return false;
		std::memcpy(out, bytes.data(), len);
		return true;
	};
	std::optional<kset_correction> fix = correct_kset_header(stored, st.n_segs(), read);
	bool fits = false;
	if (fix && fix->header.last())
		fits = next_seg && fix->header.next_seg() == *next_seg;
	else if (fix)
		fits = e.span == fix->size();
	e.first_key = static_cast<uint32_t>(m.keys.size());
	e.keys = 0;
	uint32_t n = 0;
	bool bare = false;
	if (fix && fits) {
		e.kind = fix->header.last() ? log_entry::type::last : log_entry::type::kset;
		e.header = fix->header;
		e.restored = true;
		e.why = "its " + fix->field + " was damaged; restored (the CRC matches)";
		n = e.kind == log_entry::type::kset ? fix->header.key_num : 0;
	} else {
		// Key count: the header's if it fits the span, else what the span
		// holds: keys after a header, or keys alone (the tail of a kset
		// whose key count was damaged).
		uint64_t span = e.span ? e.span : have;
		uint64_t room_keys = span > PCACHE_KSET_HEADER_SIZE ? (span - PCACHE_KSET_HEADER_SIZE) / PCACHE_KEY_SIZE : 0;
		room_keys = std::min<uint64_t>(room_keys, PCACHE_KSET_KEYS_MAX);
		if (stored.magic == PCACHE_KSET_MAGIC && !stored.last() && stored.key_num <= room_keys)
			n = stored.key_num;
		else if (e.span && (span - PCACHE_KSET_HEADER_SIZE) % PCACHE_KEY_SIZE != 0 && span % PCACHE_KEY_SIZE == 0)
			n = static_cast<uint32_t>(span / PCACHE_KEY_SIZE), bare = true;
		else if (!stored.last() || stored.magic != PCACHE_KSET_MAGIC)
			n = static_cast<uint32_t>(room_keys);
	}
	size_t first = bare ? 0 : PCACHE_KSET_HEADER_SIZE;
	for (uint32_t i = 0; i < n && first + size_t(i + 1) * PCACHE_KEY_SIZE <= have; ++i) {
		pcache_cache_key_onmedia rk;
		std::memcpy(&rk, bytes.data() + first + size_t(i) * PCACHE_KEY_SIZE, sizeof(rk));
		log_key k;
		k.key = decode(rk);
		k.entry = static_cast<uint32_t>(index);
		k.index = i;
		k.device_offset = dev_off + first + size_t(i) * PCACHE_KEY_SIZE;
		k.fate = e.restored ? key_fate::keep : key_fate::lost_span;
		m.keys.push_back(k);
		++e.keys;
	}
}

} // namespace

std::vector<cache_key> keys_at_log_end(repair_state &st, const cache_pos &pos)
{
	std::vector<cache_key> keys;
	if (pos.seg >= st.n_segs() || pos.off >= PCACHE_SEG_DATA_SIZE)
		return keys;
	size_t have = static_cast<size_t>(std::min<uint64_t>(PCACHE_KSET_ONMEDIA_SIZE_MAX, PCACHE_SEG_DATA_SIZE - pos.off));
	std::vector<unsigned char> bytes(have);
	st.out.read(data_offset(st.phys[pos.seg], pos.off), bytes.data(), have);
	pcache_cache_kset_onmedia raw;
	if (have < sizeof(raw))
		return keys;
	std::memcpy(&raw, bytes.data(), sizeof(raw));
	kset_header h = decode(raw);
	size_t first = 0, n = have / PCACHE_KEY_SIZE;
	if (h.magic == PCACHE_KSET_MAGIC && !h.last() && h.key_num >= 1 && h.key_num <= PCACHE_KSET_KEYS_MAX &&
	    PCACHE_KSET_SIZE(h.key_num) <= have) {
		first = PCACHE_KSET_HEADER_SIZE;
		n = h.key_num;
	}
	for (size_t i = 0; i < n; ++i) {
		const unsigned char *p = bytes.data() + first + i * PCACHE_KEY_SIZE;
		if (first == 0 && all_zero(p, PCACHE_KEY_SIZE))
			break;
		pcache_cache_key_onmedia rk;
		std::memcpy(&rk, p, sizeof(rk));
		cache_key k = decode(rk);
		if (key_is_sound(k, st.n_segs()))
			keys.push_back(k);
	}
	return keys;
}

log_model collect_log(repair_state &st)
{
	log_model m;
	log_collector collect(m);
	walk_options opts;
	opts.repair = true;
	walker(st.out, collect, opts).walk(collect);
	collect.finish();

	// Segments in walk order, and the segment each one leads to.
	for (uint32_t i = 0; i < m.entries.size(); ++i) {
		const log_entry &e = m.entries[i];
		if (m.segments.empty() || m.segments.back().seg != e.pos.seg) {
			if (!m.segments.empty())
				m.segments.back().next = e.pos.seg;
			log_segment s;
			s.seg = e.pos.seg;
			s.start = m.segments.empty() ? st.key_tail.off : 0;
			m.segments.push_back(s);
		}
		m.segments.back().entries.push_back(i);
	}
	if (!m.segments.empty() && m.end.seg != m.segments.back().seg)
		m.segments.back().next = m.end.seg;	// the log went on into an empty segment

	for (const log_segment &s : m.segments)
		for (uint32_t i : s.entries)
			if (m.entries[i].kind == log_entry::type::lost && !m.entries[i].device_offset)
				m.entries[i].device_offset = data_offset(st.phys[s.seg], m.entries[i].pos.off);
	for (size_t si = 0; si < m.segments.size(); ++si)
		for (uint32_t i : m.segments[si].entries)
			if (m.entries[i].kind == log_entry::type::lost && m.entries[i].keys == 0)
				examine_lost(st, m, i, m.segments[si].next);

	// The dirty window: from the record dirty_tail names.
	for (size_t i = 0; i < m.entries.size() && !m.dirty_from; ++i)
		if (m.entries[i].pos == st.dirty_tail)
			m.dirty_from = i;
	if (!m.dirty_from && st.dirty_tail == m.end)
		m.dirty_from = m.entries.size();
	if (!m.dirty_from) {
		// Inside a span the walk stepped over: dirty from that span on.
		for (size_t i = 0; i < m.entries.size() && !m.dirty_from; ++i) {
			const log_entry &e = m.entries[i];
			if (e.kind == log_entry::type::lost && e.pos.seg == st.dirty_tail.seg &&
			    st.dirty_tail.off > e.pos.off && st.dirty_tail.off < e.pos.off + std::max<uint64_t>(e.span, 1))
				m.dirty_from = i;
		}
	}
	for (size_t i = m.dirty_from.value_or(0); i < m.entries.size(); ++i)
		m.entries[i].dirty = true;
	return m;
}

} // namespace pcache
