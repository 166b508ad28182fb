#include "logical_map.h"

#include "rules.h"

#include <algorithm>

namespace pcache {
namespace {

// packed_key layout.  Every field is bounded by the rules a key passed
// before it gets here (key_is_sound): offsets and lengths are sector
// multiples, a key stays inside one 4 MiB region and one segment, the
// origin is below 16 PiB (32-bit region number), segments < 2^20.
//
//   hi: region:32 | sector in region:13 | length in sectors - 1:13 |
//       clean:1 | dirty window:1 | segment bits 16..19:4
//   lo: segment bits 0..15:16 | payload sector in segment:15 | spare:1 |
//       log order:32
constexpr unsigned kSectorShift = 9;
constexpr uint64_t kMaxOrder = UINT32_MAX;

packed_key pack(const key_record &r)
{
	const cache_key &k = r.key;
	uint64_t region = k.off >> PCACHE_SUBTREE_SHIFT;
	uint64_t sector = (k.off & PCACHE_SUBTREE_MASK) >> kSectorShift;
	uint64_t len = (k.len >> kSectorShift) - 1;
	uint64_t seg = k.seg;
	uint64_t seg_sector = k.seg_off >> kSectorShift;
	packed_key p;
	p.hi = region << 32 | sector << 19 | len << 6 | uint64_t(k.clean()) << 5 |
	       uint64_t(r.dirty_window) << 4 | seg >> 16;
	p.lo = (seg & 0xFFFF) << 48 | seg_sector << 33 | (r.order & kMaxOrder);
	return p;
}

uint64_t region_of(const packed_key &p) { return p.hi >> 32; }
uint32_t sector_of(const packed_key &p) { return (p.hi >> 19) & 0x1FFF; }
uint32_t sectors_of(const packed_key &p) { return ((p.hi >> 6) & 0x1FFF) + 1; }
bool clean_of(const packed_key &p) { return (p.hi >> 5) & 1; }
bool window_of(const packed_key &p) { return (p.hi >> 4) & 1; }
uint32_t seg_of(const packed_key &p) { return uint32_t((p.hi & 0xF) << 16 | p.lo >> 48); }
uint32_t seg_sector_of(const packed_key &p) { return (p.lo >> 33) & 0x7FFF; }
uint32_t order_of(const packed_key &p) { return uint32_t(p.lo); }
// (segment, payload sector) as one ordered number.
uint64_t cache_pos_of(const packed_key &p) { return (p.hi & 0xF) << 31 | p.lo >> 33; }

byte_range origin_of(const packed_key &p)
{
	uint64_t off = region_of(p) << PCACHE_SUBTREE_SHIFT | uint64_t(sector_of(p)) << kSectorShift;
	return {off, off + (uint64_t(sectors_of(p)) << kSectorShift)};
}

constexpr uint32_t kNoOwner = UINT32_MAX;

} // namespace

logical_map::logical_map(damage_sink &sink) : sink_(sink) {}

void logical_map::on_cache_info(const replica_set<cache_info> &info)
{
	n_segs_ = info.current().n_segs;
	// Bounded by seg_num <= PCACHE_CACHE_SEGS_MAX through the walk; keep
	// the sets to that size whatever n_segs claims.
	uint32_t n = std::min<uint32_t>(n_segs_, PCACHE_CACHE_SEGS_MAX);
	key_segs_.assign(n, false);
	data_segs_.assign(n, false);
}

void logical_map::mark(std::vector<bool> &set, uint32_t seg)
{
	if (seg < set.size())
		set[seg] = true;
}

// The log's segments, counted like the kernel's in-use bitmap: key_tail's
// segment even when the log is empty, and every LAST kset's target.
void logical_map::on_tails(const replica_set<pos_record> &key_tail, const replica_set<pos_record> &)
{
	if (key_tail.any_valid())
		mark(key_segs_, key_tail.current().pos.seg);
}

void logical_map::on_kset(const kset_record &k) { mark(key_segs_, k.pos.seg); }

void logical_map::on_last_kset(const kset_record &k)
{
	mark(key_segs_, k.pos.seg);
	mark(key_segs_, k.header.next_seg());
}

void logical_map::on_key(const key_record &r)
{
	if (!key_is_sound(r.key, n_segs_))
		return;	// reported by the key rules
	mark(data_segs_, r.key.seg);	// the kernel counts stale keys' segments too
	if (r.stale())
		return;
	if (r.order > kMaxOrder) {
		if (!too_many_reported_)
			sink_.report({damage_kind::log_too_many_keys, location(record_kind::log),
				      "more than 2^32 keys in the log: the map is checked for the first "
				      "2^32 only",
				      {}});
		too_many_reported_ = true;
		return;
	}
	if (count_ % kChunk == 0)
		chunks_.emplace_back(new packed_key[kChunk]);
	chunks_.back()[count_ % kChunk] = pack(r);
	++count_;
}

void logical_map::on_end_log(const log_summary &s)
{
	all_dirty_ = !s.dirty_tail_reached;
}

void logical_map::check_cache_overlaps()
{
	std::sort(keys_.begin(), keys_.end(), [](const packed_key &a, const packed_key &b) {
		return cache_pos_of(a) < cache_pos_of(b);
	});
	// Within one segment, the key reaching furthest so far.
	const packed_key *reach = nullptr;
	uint64_t reach_end = 0;
	for (const packed_key &k : keys_) {
		uint32_t seg = seg_of(k);
		if (seg < key_segs_.size() && key_segs_[seg]) {
			location where{record_kind::payload};
			sink_.report({damage_kind::key_in_log_segment, where,
				      "key number " + std::to_string(order_of(k)) +
					      " of the log has its payload in cache segment " +
					      std::to_string(seg) + ", which holds ksets of the log",
				      {origin_of(k)}});
		}
		uint64_t start = cache_pos_of(k), end = start + sectors_of(k);
		if (reach && seg_of(*reach) != seg)
			reach = nullptr;
		if (reach && start < reach_end) {
			location where{record_kind::payload};
			sink_.report({damage_kind::keys_share_cache_space, where,
				      "keys number " + std::to_string(order_of(*reach)) + " and " +
					      std::to_string(order_of(k)) +
					      " of the log both claim cache bytes at " + std::to_string(seg) +
					      ":" + std::to_string(uint64_t(seg_sector_of(k)) << kSectorShift) +
					      "; one of them was overwritten",
				      {origin_of(*reach), origin_of(k)}});
		}
		if (!reach || end > reach_end) {
			reach = &k;
			reach_end = end;
		}
	}
}

void logical_map::resolve_region(size_t begin, size_t end, extent_sink *out)
{
	uint32_t lo = UINT32_MAX, hi = 0;
	for (size_t i = begin; i < end; ++i) {
		lo = std::min(lo, sector_of(keys_[i]));
		hi = std::max(hi, sector_of(keys_[i]) + sectors_of(keys_[i]));
	}
	std::fill(owner_.begin() + lo, owner_.begin() + hi, kNoOwner);
	// Keys are in log order: a later key takes the sectors it covers.
	for (size_t i = begin; i < end; ++i) {
		uint32_t s = sector_of(keys_[i]);
		std::fill(owner_.begin() + s, owner_.begin() + s + sectors_of(keys_[i]),
			  static_cast<uint32_t>(i - begin));
	}
	uint64_t region_off = region_of(keys_[begin]) << PCACHE_SUBTREE_SHIFT;
	for (uint32_t s = lo; s < hi;) {
		uint32_t who = owner_[s];
		uint32_t run = s;
		while (run < hi && owner_[run] == who)
			++run;
		if (who != kNoOwner) {
			const packed_key &k = keys_[begin + who];
			extent e;
			e.off = region_off + (uint64_t(s) << kSectorShift);
			e.len = (run - s) << kSectorShift;
			e.seg = seg_of(k);
			e.seg_off = (seg_sector_of(k) + (s - sector_of(k))) << kSectorShift;
			e.dirty = (window_of(k) || all_dirty_) && !clean_of(k);
			++summary_.live_extents;
			summary_.live_bytes += e.len;
			if (e.dirty) {
				++summary_.dirty_extents;
				summary_.dirty_bytes += e.len;
			}
			if (out)
				out->on_extent(e);
		}
		s = run;
	}
}

void logical_map::resolve(extent_sink *out)
{
	// One exactly-sized array, filled while the chunks are released, so
	// the peak stays near 16 bytes per key.
	keys_.resize(count_);
	for (uint64_t i = 0; i < count_; i += kChunk) {
		uint64_t n = std::min<uint64_t>(kChunk, count_ - i);
		std::copy(chunks_[i / kChunk].get(), chunks_[i / kChunk].get() + n, keys_.begin() + i);
		chunks_[i / kChunk].reset();
	}
	chunks_.clear();
	chunks_.shrink_to_fit();
	summary_.mapped_keys = count_;

	check_cache_overlaps();

	std::sort(keys_.begin(), keys_.end(), [](const packed_key &a, const packed_key &b) {
		return region_of(a) != region_of(b) ? region_of(a) < region_of(b)
						    : order_of(a) < order_of(b);
	});
	owner_.assign((PCACHE_SUBTREE_SIZE >> kSectorShift) + 1, kNoOwner);
	for (size_t begin = 0; begin < keys_.size();) {
		size_t end = begin + 1;
		while (end < keys_.size() && region_of(keys_[end]) == region_of(keys_[begin]))
			++end;
		resolve_region(begin, end, out);
		begin = end;
	}

	for (size_t i = 0; i < key_segs_.size(); ++i) {
		summary_.key_segments += key_segs_[i];
		summary_.data_segments += data_segs_[i];
		summary_.segments_used += key_segs_[i] || data_segs_[i];
	}
	keys_.clear();
	keys_.shrink_to_fit();
}

} // namespace pcache
