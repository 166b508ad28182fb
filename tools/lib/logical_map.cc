#include "logical_map.h"

#include "rules.h"

#include <algorithm>
#include <thread>

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

// Calls f(word index, mask) for the words covering bits [first, last).
template <typename F>
void for_bit_range(uint32_t first, uint32_t last, F f)
{
	while (first < last) {
		uint32_t lo = first % 64;
		uint32_t hi = std::min<uint32_t>(64, lo + (last - first));
		uint64_t mask = (hi == 64 ? ~uint64_t(0) : (uint64_t(1) << hi) - 1) & ~((uint64_t(1) << lo) - 1);
		f(first / 64, mask);
		first += hi - lo;
	}
}

// Sets bits [first, last) of a bitmap; true if none was set before.
bool set_bits(uint64_t *bits, uint32_t first, uint32_t last)
{
	bool clear = true;
	for_bit_range(first, last, [&](uint32_t w, uint64_t mask) {
		clear &= !(bits[w] & mask);
		bits[w] |= mask;
	});
	return clear;
}

bool any_bits(const uint64_t *bits, uint32_t first, uint32_t last)
{
	bool any = false;
	for_bit_range(first, last, [&](uint32_t w, uint64_t mask) { any |= (bits[w] & mask) != 0; });
	return any;
}
constexpr size_t kSectorWords = (PCACHE_SEG_DATA_SIZE >> kSectorShift) / 64 + 1;
constexpr size_t kConflictsListed = 20;

} // namespace

logical_map::logical_map(damage_sink &sink) : sink_(sink) {}

void logical_map::on_cache_info(const replica_set<cache_info> &info)
{
	n_segs_ = info.current().n_segs;
	// Keys reach here only with seg < n_segs; n_segs itself is bounded by
	// the rules (n_segs <= seg_num <= PCACHE_CACHE_SEGS_MAX) or reported.
	uint32_t n = std::min<uint32_t>(n_segs_, PCACHE_CACHE_SEGS_MAX);
	key_segs_.assign(n, false);
	data_segs_.assign(n, false);
	sectors_.clear();
	sectors_.resize(n);
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
	packed_key k = pack(r);
	if (!claim_sectors(k) && conflicts_.size() < kConflictsListed)
		conflicts_.push_back({k});
	keys_.push_back(k);
}

bool logical_map::claim_sectors(const packed_key &k)
{
	uint32_t seg = seg_of(k);
	if (seg >= sectors_.size())
		return true;
	auto &bits = sectors_[seg];
	if (!bits)
		bits.reset(new uint64_t[kSectorWords]());
	bool clear = set_bits(bits.get(), seg_sector_of(k), seg_sector_of(k) + sectors_of(k));
	if (!clear)
		++conflict_count_;
	return clear;
}

void logical_map::on_end_log(const log_summary &s)
{
	all_dirty_ = !s.dirty_tail_reached;
}

// Conflicts were found as keys arrived; now that every key is known, name
// the earlier key each one collided with.
void logical_map::report_conflicts()
{
	auto cache_range = [](const packed_key &k) {
		uint64_t start = cache_pos_of(k);
		return std::make_pair(start, start + sectors_of(k));
	};
	for (const packed_key &k : keys_) {
		auto [start, end] = cache_range(k);
		for (conflict &c : conflicts_) {
			auto [cs, ce] = cache_range(c.key);
			if (!c.found && order_of(k) < order_of(c.key) && start < ce && cs < end) {
				c.found = true;
				c.partner = k;
			}
		}
	}
	for (const conflict &c : conflicts_) {
		std::string first = c.found ? "key number " + std::to_string(order_of(c.partner)) : "an earlier key";
		std::vector<byte_range> origin{origin_of(c.key)};
		if (c.found)
			origin.insert(origin.begin(), origin_of(c.partner));
		sink_.report({damage_kind::keys_share_cache_space, location(record_kind::payload),
			      "key number " + std::to_string(order_of(c.key)) + " of the log claims cache bytes at " +
				      std::to_string(seg_of(c.key)) + ":" +
				      std::to_string(uint64_t(seg_sector_of(c.key)) << kSectorShift) + " that " + first +
				      " holds; one of them was overwritten",
			      origin});
	}
	if (conflict_count_ > conflicts_.size())
		sink_.report({damage_kind::keys_share_cache_space, location(record_kind::payload),
			      std::to_string(conflict_count_ - conflicts_.size()) +
				      " more keys claim cache bytes that earlier keys hold",
			      {}});
}

void logical_map::check_log_segments()
{
	for (const packed_key &k : keys_) {
		uint32_t seg = seg_of(k);
		if (seg < key_segs_.size() && key_segs_[seg])
			sink_.report({damage_kind::key_in_log_segment, location(record_kind::payload),
				      "key number " + std::to_string(order_of(k)) +
					      " of the log has its payload in cache segment " + std::to_string(seg) +
					      ", which holds ksets of the log",
				      {origin_of(k)}});
	}
}

namespace {

// Function objects, so that std::sort inlines them.
struct by_region_then_order_t {
	bool operator()(const packed_key &a, const packed_key &b) const
	{
		uint64_t ka = (a.hi & ~uint64_t(UINT32_MAX)) | (a.lo & UINT32_MAX);
		uint64_t kb = (b.hi & ~uint64_t(UINT32_MAX)) | (b.lo & UINT32_MAX);
		return ka < kb;
	}
} constexpr by_region_then_order;

struct by_order_t {
	bool operator()(const packed_key &a, const packed_key &b) const
	{
		return uint32_t(a.lo) < uint32_t(b.lo);
	}
} constexpr by_order;

constexpr size_t kRadixMin = 2048;	// below this, a comparison sort is faster
constexpr unsigned kDigitBits = 8;
constexpr uint32_t kBuckets = 1u << kDigitBits;

// In-place MSD radix sort on the region number (American flag sort), one
// byte at a time from bit `shift` down, so that each region's keys are
// together.  Byte digits keep the 256 write streams of a pass within the
// caches.  Within a region the log order is not restored here: the region
// passes do that only where keys overlap (most regions of most caches
// have none, and then the order does not matter).  `bounds`, if given,
// receives the top level's bucket boundaries and the buckets are left for
// the caller to finish.
void radix_by_region(packed_key *a, size_t n, int shift, size_t *bounds = nullptr)
{
	if (n < kRadixMin) {
		std::sort(a, a + n, by_region_then_order);
		return;
	}
	auto digit = [shift](const packed_key &k) { return (region_of(k) >> shift) & (kBuckets - 1); };
	size_t start[kBuckets + 1] = {}, next[kBuckets];
	for (size_t i = 0; i < n; ++i)
		++start[digit(a[i]) + 1];
	for (uint32_t b = 0; b < kBuckets; ++b)
		start[b + 1] += start[b];
	std::copy(start, start + kBuckets, next);
	for (uint32_t b = 0; b < kBuckets; ++b) {
		while (next[b] < start[b + 1]) {
			uint32_t d = digit(a[next[b]]);
			if (d == b)
				++next[b];
			else
				std::swap(a[next[b]], a[next[d]++]);
		}
	}
	if (bounds) {
		std::copy(start, start + kBuckets + 1, bounds);
		return;
	}
	for (uint32_t b = 0; b < kBuckets && shift > 0; ++b)
		if (start[b + 1] - start[b] >= 2)
			radix_by_region(a + start[b], start[b + 1] - start[b], shift - int(kDigitBits));
}

} // namespace

// Groups the keys by region, in region order.  The top radix level
// partitions the keys into independent buckets, which two threads finish.
void logical_map::sort_by_region()
{
	packed_key *a = keys_.begin();
	size_t n = keys_.size();
	uint32_t top = 0;
	for (size_t i = 0; i < n; ++i)
		top = std::max(top, uint32_t(region_of(a[i])));
	int shift = 0;
	while (shift + int(kDigitBits) < 32 && (top >> (shift + kDigitBits)))
		shift += kDigitBits;
	if (n < kRadixMin) {
		std::sort(a, a + n, by_region_then_order);
		return;
	}
	size_t bounds[kBuckets + 1];
	radix_by_region(a, n, shift, bounds);
	if (shift == 0)
		return;
	auto finish = [&](uint32_t from, uint32_t to) {
		for (uint32_t b = from; b < to; ++b)
			if (bounds[b + 1] - bounds[b] >= 2)
				radix_by_region(a + bounds[b], bounds[b + 1] - bounds[b], shift - int(kDigitBits));
	};
	// Split the buckets where half of the keys lie.
	uint32_t split = uint32_t(std::upper_bound(bounds, bounds + kBuckets + 1, n / 2) - bounds - 1);
	split = std::min(split, kBuckets);
	if (std::thread::hardware_concurrency() < 2) {
		finish(0, kBuckets);
		return;
	}
	std::thread other([&] { finish(split, kBuckets); });
	finish(0, split);
	other.join();
}

void logical_map::count_extent(const packed_key &k, uint32_t len_sectors)
{
	uint64_t len = uint64_t(len_sectors) << kSectorShift;
	++summary_.live_extents;
	summary_.live_bytes += len;
	if ((window_of(k) || all_dirty_) && !clean_of(k)) {
		++summary_.dirty_extents;
		summary_.dirty_bytes += len;
	}
}

// Do any two keys of the region cover a common sector?  (Only then does
// their log order matter.)  Leaves covered_ clear.
bool logical_map::overlapping(size_t begin, size_t end)
{
	if (end - begin < 2)
		return false;
	bool overlap = false;
	for (size_t i = begin; i < end && !overlap; ++i)
		overlap = !set_bits(covered_.data(), sector_of(keys_[i]), sector_of(keys_[i]) + sectors_of(keys_[i]));
	clear_covered(begin, end);
	return overlap;
}

void logical_map::clear_covered(size_t begin, size_t end)
{
	for (size_t i = begin; i < end; ++i) {
		uint32_t first = sector_of(keys_[i]);
		uint32_t last = first + sectors_of(keys_[i]);
		std::fill(covered_.begin() + first / 64, covered_.begin() + (last + 63) / 64, 0);
	}
}

// Newer wins, extents in origin order: a per-sector owner table (the
// latest key to cover each sector), then runs of one owner.
void logical_map::emit_region(size_t begin, size_t end, extent_sink &out)
{
	uint32_t lo = UINT32_MAX, hi = 0;
	for (size_t i = begin; i < end; ++i) {
		lo = std::min(lo, sector_of(keys_[i]));
		hi = std::max(hi, sector_of(keys_[i]) + sectors_of(keys_[i]));
	}
	std::fill(owner_.begin() + lo, owner_.begin() + hi, kNoOwner);
	if (overlapping(begin, end))
		std::sort(keys_.begin() + begin, keys_.begin() + end, by_order);
	// In log order, a later key takes the sectors it covers.
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
			count_extent(k, run - s);
			extent e;
			e.off = region_off + (uint64_t(s) << kSectorShift);
			e.len = (run - s) << kSectorShift;
			e.seg = seg_of(k);
			e.seg_off = (seg_sector_of(k) + (s - sector_of(k))) << kSectorShift;
			e.dirty = (window_of(k) || all_dirty_) && !clean_of(k);
			e.order = order_of(k);
			out.on_extent(e);
		}
		s = run;
	}
}

// Newer wins, counts only (pcache_check): newest key first, each keeps the
// sectors no newer key covered, tracked in a bitmap of the region.  Costs
// the keys' sectors, not the region's span.
void logical_map::count_region(size_t begin, size_t end)
{
	// Optimistically in the order at hand: if no sector is met twice, no
	// key overlaps another and the order did not matter.
	map_summary before = summary_;
	if (count_pass(begin, end)) {
		summary_ = before;
		std::sort(keys_.begin() + begin, keys_.begin() + end, by_order);
		count_pass(begin, end);
	}
}

// Newest key first, each keeps the sectors no newer key covered.  Returns
// whether any sector was met twice.  Leaves covered_ clear.
bool logical_map::count_pass(size_t begin, size_t end)
{
	bool overlap = false;
	for (size_t i = end; i-- > begin;) {
		const packed_key &k = keys_[i];
		uint32_t first = sector_of(k), last = first + sectors_of(k);
		if (!any_bits(covered_.data(), first, last)) {
			set_bits(covered_.data(), first, last);
			count_extent(k, last - first);	// the common case: all of it
			continue;
		}
		overlap = true;
		uint32_t run = 0;
		for (uint32_t s = first; s < last; ++s) {
			uint64_t mask = uint64_t(1) << (s % 64);
			if (covered_[s / 64] & mask) {
				if (run)
					count_extent(k, run);
				run = 0;
			} else {
				covered_[s / 64] |= mask;
				++run;
			}
		}
		if (run)
			count_extent(k, run);
	}
	clear_covered(begin, end);
	return overlap;
}

void logical_map::resolve(extent_sink *out)
{
	summary_.mapped_keys = keys_.size();
	sectors_.clear();
	sectors_.shrink_to_fit();
	if (!conflicts_.empty())
		report_conflicts();
	check_log_segments();
	sort_by_region();
	if (out)
		owner_.assign((PCACHE_SUBTREE_SIZE >> kSectorShift) + 1, kNoOwner);
	covered_.assign((PCACHE_SUBTREE_SIZE >> kSectorShift) / 64 + 1, 0);
	for (size_t begin = 0; begin < keys_.size();) {
		size_t end = begin + 1;
		while (end < keys_.size() && region_of(keys_[end]) == region_of(keys_[begin]))
			++end;
		if (out)
			emit_region(begin, end, *out);
		else
			count_region(begin, end);
		begin = end;
	}

	for (size_t i = 0; i < key_segs_.size(); ++i) {
		summary_.key_segments += key_segs_[i];
		summary_.data_segments += data_segs_[i];
		summary_.segments_used += key_segs_[i] || data_segs_[i];
	}
	keys_.clear();
}

} // namespace pcache
