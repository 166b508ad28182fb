#include "repair_keys.h"

#include "crc32c.h"
#include "decode.h"
#include "encode.h"
#include "layout.h"
#include "replica_update.h"
#include "rules.h"
#include "text_format.h"

#include <algorithm>
#include <map>
#include <numeric>

namespace pcache {
namespace {

bool dirty_key(const log_model &m, const log_key &k)
{
	return m.entries[k.entry].dirty && !k.key.clean();
}

// Does the payload match the data CRC?  Throws io_error if unreadable.
bool payload_ok(repair_state &st, const cache_key &k, std::vector<unsigned char> &buf)
{
	buf.resize(k.len);
	st.out.read(data_offset(st.phys[k.seg], k.seg_off), buf.data(), k.len);
	return data_crc(buf.data(), k.len) == k.data_crc;
}

// cache_info had no valid copy: data CRCs are on if the keys say so (a
// majority of the placeable keys match their payload's CRC).
void settle_data_crc(repair_state &st, log_model &m)
{
	uint64_t match = 0, total = 0;
	std::vector<unsigned char> buf;
	for (const log_key &k : m.keys) {
		if (k.fate != key_fate::keep || !k.sound)
			continue;
		++total;
		try {
			match += payload_ok(st, k.key, buf);
		} catch (const io_error &) {
		}
	}
	bool on = total && match * 2 > total;
	if (on == st.info.data_crc())
		return;
	st.info.flags ^= PCACHE_CACHE_FLAGS_DATA_CRC;
	for (unsigned slot = 0; slot < PCACHE_META_REPLICAS; ++slot) {
		cache_info ci = st.info;
		ci.header.seq = 1;
		auto raw = encode(ci);
		st.out.write(PCACHE_CACHE_INFO_REPLICA_OFF(slot), &raw, sizeof(raw));
	}
	st.report.note("cache_info: data CRCs " + std::string(on ? "on" : "off") + ", as " +
		       std::to_string(match) + " of " + std::to_string(total) + " keys' data show");
}

void check_payloads(repair_state &st, log_model &m)
{
	std::vector<unsigned char> buf;
	for (log_key &k : m.keys) {
		if (k.fate != key_fate::keep)
			continue;
		try {
			if (!payload_ok(st, k.key, buf))
				k.fate = key_fate::bad_crc;
		} catch (const io_error &) {
			k.fate = key_fate::unreadable;
		}
	}
}

// See the header: one generation per segment that fits the keys best.
void settle_generations(repair_state &st, log_model &m)
{
	struct tally {
		uint64_t dirty = 0, all = 0;
	};
	std::vector<std::map<uint64_t, tally>> per_seg(st.n_segs());
	for (const log_key &k : m.keys) {
		if (k.fate != key_fate::keep)
			continue;
		tally &t = per_seg[k.key.seg][k.key.gen];
		++t.all;
		t.dirty += dirty_key(m, k);
	}
	std::vector<uint64_t> chosen(st.n_segs());
	for (uint32_t s = 0; s < st.n_segs(); ++s) {
		const auto &gens = per_seg[s];
		uint64_t stored = st.gen[s].value_or(0);
		// Dirty keys lost, then keys lost, for generation g.
		auto cost = [&](uint64_t g) {
			uint64_t dirty_lost = 0, ahead = 0;
			for (const auto &[kg, t] : gens) {
				if (kg != g)
					dirty_lost += t.dirty;
				if (kg > g)
					ahead += t.all - t.dirty;
			}
			return std::make_pair(dirty_lost, ahead);
		};
		uint64_t best = stored;
		auto best_cost = cost(stored);
		for (const auto &[g, t] : gens) {
			auto c = cost(g);
			if (c < best_cost || (c == best_cost && g > best && best != stored)) {
				best = g;
				best_cost = c;
			}
		}
		chosen[s] = best;
		bool rewrite = st.gen_rebuild[s] || !st.gen[s] || best != stored;
		if (!rewrite)
			continue;
		uint32_t p = st.phys[s];
		pcache_cache_seg_gen raw_pair[PCACHE_META_REPLICAS];
		for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i)
			st.base.read(seg_gen_offset(p, i), &raw_pair[i], sizeof(raw_pair[i]));
		replica_set<seg_gen> found = decode_replicas(raw_pair);
		seg_gen want;
		want.gen = best;
		auto same = [](const seg_gen &a, const seg_gen &b) { return a.gen == b.gen; };
		replica_update u = settle_replicas(st.out, seg_gen_offset(p, 0), sizeof(pcache_cache_seg_gen),
						   found, want, same);
		location where{record_kind::seg_gen};
		where.segment = s;
		where.phys_segment = p;
		if (u != replica_update::rebuilt && found.chosen)
			where.replica = 1 - *found.chosen;
		where.device_offset = seg_gen_offset(p, where.replica.value_or(0));
		std::string detail =
			!found.any_valid()
				? "no valid copy: generation " + std::to_string(best) +
					  (gens.empty() ? " (no key uses the segment)" : " (from its keys)") +
					  " written into both replicas"
				: "generation " + std::to_string(stored) + " -> " + std::to_string(best) +
					  ", the one its dirty keys have (new copy in replica " +
					  std::to_string(*where.replica) + ")";
		st.report.change(u == replica_update::rebuilt ? change_kind::record_rebuilt : change_kind::record_updated,
				 where, detail);
		st.gen[s] = best;
	}
	for (log_key &k : m.keys) {
		if ((k.fate == key_fate::bad_crc || k.fate == key_fate::unreadable) && k.key.gen < chosen[k.key.seg])
			k.fate = key_fate::stale_bad_crc;	// invalidated data: nothing is lost
		if (k.fate != key_fate::keep)
			continue;
		uint64_t g = chosen[k.key.seg];
		if (k.key.gen > g || (k.key.gen != g && dirty_key(m, k)))
			k.fate = key_fate::bad_generation;
		else if (k.key.gen < g)
			k.fate = key_fate::stale;
	}
}

void check_log_segments(const repair_state &st, log_model &m)
{
	std::vector<bool> log_seg(st.n_segs(), false);
	log_seg[st.key_tail.seg] = true;
	if (m.end.seg < st.n_segs())
		log_seg[m.end.seg] = true;
	for (const log_segment &s : m.segments)
		log_seg[s.seg] = true;
	for (log_key &k : m.keys)
		if (k.fate == key_fate::keep && log_seg[k.key.seg])
			k.fate = key_fate::in_log_segment;
}

// Kept keys never share cache bytes: of two that do, the older is dropped
// (the segment's allocation only moves forward: the later key's write
// came last).
void check_cache_space(log_model &m)
{
	std::vector<uint32_t> live;
	for (uint32_t i = 0; i < m.keys.size(); ++i)
		if (m.keys[i].fate == key_fate::keep)
			live.push_back(i);
	auto start = [&](uint32_t i) { return std::make_pair(m.keys[i].key.seg, m.keys[i].key.seg_off); };
	std::sort(live.begin(), live.end(), [&](uint32_t a, uint32_t b) { return start(a) < start(b); });
	std::optional<uint32_t> last;	// the surviving key with the furthest end so far
	for (uint32_t i : live) {
		const cache_key &k = m.keys[i].key;
		if (last) {
			const cache_key &l = m.keys[*last].key;
			if (l.seg == k.seg && uint64_t(l.seg_off) + l.len > k.seg_off) {
				uint32_t older = m.order(m.keys[*last]) < m.order(m.keys[i]) ? *last : i;
				m.keys[older].fate = key_fate::shares_cache_space;
				if (older == i)
					continue;
			}
		}
		last = i;
	}
}

// Who owns each origin byte, newest first (see the header).
class range_claims {
public:
	enum class owner : uint8_t { kept, lost_dirty, lost_clean };
	struct piece {
		uint64_t end;
		owner who;
		uint32_t key;
	};

	// The pieces overlapping [b, e), in order.
	template <typename F>
	void overlapping(uint64_t b, uint64_t e, F f) const
	{
		auto it = pieces_.upper_bound(b);
		if (it != pieces_.begin() && std::prev(it)->second.end > b)
			--it;
		for (; it != pieces_.end() && it->first < e; ++it)
			f(it->first, it->second);
	}

	// Gives the unclaimed parts of [b, e) to `key`.
	void claim(uint64_t b, uint64_t e, owner who, uint32_t key)
	{
		std::vector<std::pair<uint64_t, uint64_t>> gaps;
		uint64_t at = b;
		overlapping(b, e, [&](uint64_t pb, const piece &p) {
			if (pb > at)
				gaps.emplace_back(at, pb);
			at = std::max(at, p.end);
		});
		if (at < e)
			gaps.emplace_back(at, e);
		for (const auto &[gb, ge] : gaps)
			pieces_[gb] = {ge, who, key};
	}

	const std::map<uint64_t, piece> &pieces() const { return pieces_; }

private:
	std::map<uint64_t, piece> pieces_;
};

location key_where(const repair_state &st, const log_model &m, const log_key &k)
{
	const log_entry &e = m.entries[k.entry];
	location where{e.kind == log_entry::type::lost ? record_kind::kset : record_kind::key};
	where.kset = e.pos;
	if (e.kind != log_entry::type::lost)
		where.key_index = k.index;
	where.device_offset = e.kind == log_entry::type::lost ? e.device_offset : k.device_offset;
	(void)st;
	return where;
}

std::string key_reason(const log_model &m, const log_key &k)
{
	const log_entry &e = m.entries[k.entry];
	if (k.fate == key_fate::lost_span)
		return "in the damaged kset: " + e.why;
	return std::string(describe(k.fate));
}

void lost_ranges(repair_state &st, log_model &m)
{
	std::vector<uint32_t> order(m.keys.size());
	std::iota(order.begin(), order.end(), 0);
	std::sort(order.begin(), order.end(),
		  [&](uint32_t a, uint32_t b) { return m.order(m.keys[a]) > m.order(m.keys[b]); });
	range_claims claims;
	using owner = range_claims::owner;
	for (uint32_t i : order) {
		log_key &k = m.keys[i];
		if (!k.current())
			continue;
		if (!k.sound) {
			// Cannot be placed: report what it claims.  A key never
			// crosses a 4 MiB boundary of the origin, so when only its
			// length is implausible its data lay in [off, end of region).
			const cache_key &d = k.key;
			bool len_bad = d.len == 0 || d.len % PCACHE_SECTOR_SIZE || d.len > PCACHE_SUBTREE_SIZE ||
				       crosses_subtree(d.off, d.len);
			bool off_ok = d.off % PCACHE_SECTOR_SIZE == 0 && d.off < kMaxOriginBytes;
			if (k.dropped() && len_bad && off_ok)
				st.report.lose({{d.off, (d.off | PCACHE_SUBTREE_MASK) + 1}, dirty_key(m, k), false,
						key_where(st, m, k),
						key_reason(m, k) + "; its length is damaged: its data lay somewhere in this "
								   "range (a key never crosses a 4 MiB boundary)"});
			else if (k.dropped() && d.len && d.off + d.len > d.off)
				st.report.lose({{d.off, d.off + d.len}, dirty_key(m, k), false, key_where(st, m, k),
						key_reason(m, k) + "; a damaged key: the range may be wrong"});
			continue;
		}
		uint64_t b = k.key.off, e = k.key.end();
		if (k.fate == key_fate::keep) {
			bool shadows = false;
			claims.overlapping(b, e, [&](uint64_t, const range_claims::piece &p) {
				shadows |= p.who == owner::lost_clean;
			});
			if (shadows && !dirty_key(m, k)) {
				k.fate = key_fate::shadows_lost;
			} else if (shadows) {
				st.report.note("key " + std::to_string(k.index) + " of kset " +
					       to_string(m.entries[k.entry].pos) + " (origin bytes [" + std::to_string(b) +
					       ", " + std::to_string(e) +
					       ")): older dirty data, kept; it now shows where newer clean data was dropped");
			}
		}
		owner who = k.fate == key_fate::keep ? owner::kept
			  : dirty_key(m, k)	     ? owner::lost_dirty
						     : owner::lost_clean;
		claims.claim(b, e, who, i);
	}
	// Report the lost pieces; adjacent ones of one key, or of one damaged
	// kset, together.
	auto together = [&](uint32_t a, uint32_t b) {
		const log_key &ka = m.keys[a], &kb = m.keys[b];
		return a == b || (ka.fate == key_fate::lost_span && kb.fate == key_fate::lost_span &&
				  ka.entry == kb.entry && dirty_key(m, ka) == dirty_key(m, kb));
	};
	std::vector<std::pair<uint32_t, byte_range>> runs;
	for (const auto &[b, p] : claims.pieces()) {
		if (p.who == owner::kept)
			continue;
		if (!runs.empty() && together(runs.back().first, p.key) && runs.back().second.end == b)
			runs.back().second.end = p.end;
		else
			runs.push_back({p.key, {b, p.end}});
	}
	for (const auto &[key, range] : runs) {
		const log_key &k = m.keys[key];
		st.report.lose({range, dirty_key(m, k), false, key_where(st, m, k), key_reason(m, k)});
	}
}

} // namespace

void judge_keys(repair_state &st, log_model &m)
{
	uint32_t n = st.n_segs();
	for (log_key &k : m.keys) {
		k.sound = key_is_sound(k.key, n);
		if (k.fate == key_fate::keep && !k.sound)
			k.fate = key_fate::bad_fields;
	}
	if (st.info_rebuilt)
		settle_data_crc(st, m);
	if (st.info.data_crc())
		check_payloads(st, m);
	settle_generations(st, m);
	check_log_segments(st, m);
	check_cache_space(m);
	lost_ranges(st, m);
}

} // namespace pcache
