#include "repair_headers.h"

#include "decode.h"
#include "encode.h"
#include "layout.h"
#include "replica_update.h"
#include "rules.h"
#include "text_format.h"
#include "walker.h"

#include <algorithm>
#include <cstring>

namespace pcache {
namespace {

class collect_worst : public damage_sink {
public:
	void report(const damage &d) override
	{
		worst = std::max(worst, d.level());
		if (d.level() >= severity::error && first.empty())
			first = d.detail;
	}
	severity worst = severity::none;
	std::string first;
};

bool plausible_mode(uint32_t mode)
{
	return mode <= PCACHE_CACHE_MODE_WRITEAROUND || mode == PCACHE_CACHE_MODE_PASSTHROUGH;
}

// The settings part of cache_info.flags, made valid: INIT_DONE, a known
// mode, gc_percent within range.  Other bits are kept.
uint32_t sane_flags(uint32_t flags)
{
	flags |= PCACHE_CACHE_FLAGS_INIT_DONE;
	uint32_t mode = (flags & PCACHE_CACHE_FLAGS_MODE_MASK) >> PCACHE_CACHE_FLAGS_MODE_SHIFT;
	if (!plausible_mode(mode))
		flags &= ~PCACHE_CACHE_FLAGS_MODE_MASK;
	uint32_t gc = (flags & PCACHE_CACHE_FLAGS_GC_MASK) >> PCACHE_CACHE_FLAGS_GC_SHIFT;
	if (gc > PCACHE_GC_PERCENT_MAX)
		flags = (flags & ~PCACHE_CACHE_FLAGS_GC_MASK) |
			(PCACHE_GC_PERCENT_DEFAULT << PCACHE_CACHE_FLAGS_GC_SHIFT);
	return flags;
}

std::string replica_action(replica_update u, unsigned chosen_slot)
{
	switch (u) {
	case replica_update::bad_copy:
		return "the damaged copy was rewritten from replica " + std::to_string(chosen_slot) +
		       " with the next sequence number";
	case replica_update::new_copy:
		return "a corrected copy was written into replica " + std::to_string(1 - chosen_slot) +
		       " with the next sequence number";
	case replica_update::rebuilt:
		return "no valid copy: rebuilt and written into both replicas";
	case replica_update::none:
		break;
	}
	return "";
}

change_kind replica_change(replica_update u)
{
	switch (u) {
	case replica_update::bad_copy:
		return change_kind::replica_rewritten;
	case replica_update::rebuilt:
		return change_kind::record_rebuilt;
	default:
		return change_kind::record_updated;
	}
}

using phys_segment = segment_record;

phys_segment read_phys(device &dev, uint32_t phys)
{
	return read_segment_record(dev, 0, phys);
}

// seg_info replica 0 as stored, even with a bad CRC (a hint when rebuilding).
segment_info raw_seg_info(device &dev, uint32_t phys, unsigned slot)
{
	pcache_segment_info raw;
	dev.read(seg_info_offset(phys, slot), &raw, sizeof(raw));
	return decode(raw);
}

// The chain as the kernel follows it from `first` for `n` segments.  Stops
// short where a link is missing; the result's size says how far it got.
std::vector<uint32_t> follow_chain(device &dev, uint32_t seg_num, uint32_t first, uint32_t n)
{
	std::vector<uint32_t> chain;
	std::vector<bool> used(seg_num, false);
	uint32_t p = first;
	while (chain.size() < n && p < seg_num && !used[p]) {
		chain.push_back(p);
		used[p] = true;
		if (chain.size() == n)
			break;
		phys_segment s = read_phys(dev, p);
		if (!s.info.any_valid() || !s.info.current().has_next())
			break;
		p = s.info.current().next_seg;
	}
	return chain;
}

// Rebuilds the chain from the seg_info records of every physical segment.
// `first`: the first segment cache_info names, if in range.  `n`: the
// length if known (0: up to the first segment without HAS_NEXT).
//
// In an intact chain every segment but the first is linked to exactly
// once.  So a segment nobody links to (an "orphan") is where a damaged
// link should have pointed: the first segment named by cache_info is not
// trusted if something links to it while segment 0 is an orphan; a link to a
// segment that two segments claim is taken to be the damaged one when the
// next physical segment is an orphan (the kernel's format chains segments
// in physical order).
std::vector<uint32_t> rebuild_chain(device &dev, uint32_t seg_num, std::optional<uint32_t> first,
				    uint32_t n)
{
	std::vector<std::optional<uint32_t>> next(seg_num);
	std::vector<bool> valid(seg_num, false), ends(seg_num, false), used(seg_num, false);
	std::vector<uint32_t> claims(seg_num, 0);
	for (uint32_t p = 0; p < seg_num; ++p) {
		phys_segment s = read_phys(dev, p);
		if (!s.info.any_valid())
			continue;
		valid[p] = true;
		const segment_info &si = s.info.current();
		if (si.has_next() && si.next_seg < seg_num && si.next_seg != p) {
			next[p] = si.next_seg;
			++claims[si.next_seg];
		} else if (!si.has_next()) {
			ends[p] = true;
		}
	}
	auto orphan = [&](uint32_t p) { return p < seg_num && !used[p] && valid[p] && claims[p] == 0; };
	// The first orphan at or after `from`, wrapping.
	auto find_orphan = [&](uint32_t from) -> std::optional<uint32_t> {
		for (uint32_t q = 0; q < seg_num; ++q)
			if (orphan((from + q) % seg_num))
				return (from + q) % seg_num;
		return std::nullopt;
	};
	// The first segment: cache_info's, unless something links to it and
	// segment 0, where the kernel's format starts every chain, is an orphan.
	uint32_t head = 0;
	if (first && (claims[*first] == 0 || !orphan(0)))
		head = *first;
	else if (!first)
		head = find_orphan(0).value_or(0);

	std::vector<uint32_t> chain;
	uint32_t limit = n ? n : seg_num;
	uint32_t p = head;
	for (;;) {
		chain.push_back(p);
		used[p] = true;
		if (chain.size() >= limit)
			break;
		if (!n && valid[p] && ends[p])
			break;	// the natural end of an intact chain
		std::optional<uint32_t> q;
		if (next[p] && !used[*next[p]]) {
			q = next[p];
			if (claims[*q] > 1 && orphan(p + 1))
				q = p + 1;
		} else if (orphan(p + 1)) {
			q = p + 1;
		} else if (auto o = find_orphan(p + 1)) {
			q = o;
		} else if (p + 1 < seg_num && !used[p + 1]) {
			q = p + 1;
		} else {
			for (uint32_t c = 0; c < seg_num && !q; ++c)
				if (!used[c])
					q = c;
		}
		if (!q)
			break;
		p = *q;
	}
	return chain;
}

} // namespace

void repair_superblock(repair_state &st)
{
	device &dev = st.base;
	if (dev.size() < PCACHE_SB_OFF + sizeof(pcache_sb))
		throw repair_refused(dev.path() + ": too small to be a pcache cache (" +
				     std::to_string(dev.size()) + " bytes)");
	if (dev.size() < PCACHE_CACHE_DEV_SIZE_MIN)
		throw repair_refused(dev.path() + ": " + std::to_string(dev.size()) +
				     " bytes; the kernel refuses cache devices smaller than 512 MiB");
	pcache_sb raw;
	dev.read(PCACHE_SB_OFF, &raw, sizeof(raw));
	st.sb = decode(raw);
	collect_worst sb_damage;
	check_superblock(st.sb, dev.size(), sb_damage);

	pcache_cache_info raw_info[PCACHE_META_REPLICAS];
	for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i)
		dev.read(PCACHE_CACHE_INFO_REPLICA_OFF(i), &raw_info[i], sizeof(raw_info[i]));
	st.info_found = decode_replicas(raw_info);
	if (sb_damage.worst < severity::fatal)
		return;

	// Only a valid cache_info copy shows this was a cache: without one the
	// device is not ours to touch (the kernel would format it).
	if (!st.info_found.any_valid())
		throw repair_refused(dev.path() + ": not a pcache cache (superblock: " + sb_damage.first +
				     ") and no valid cache_info copy shows it was one; nothing to repair from");
	const cache_info &ci = st.info_found.current();
	uint32_t capacity = static_cast<uint32_t>(
		std::min<uint64_t>(segment_capacity(dev.size()), PCACHE_CACHE_SEGS_MAX));
	uint32_t seg_num = st.sb.seg_num;
	bool stored_ok = seg_num > 0 && seg_num <= capacity && ci.n_segs <= seg_num && ci.seg_id < seg_num;
	if (!stored_ok)
		seg_num = ci.n_segs > 0 && ci.n_segs <= capacity && ci.seg_id < ci.n_segs ? ci.n_segs : capacity;
	superblock sb;
	sb.magic = PCACHE_MAGIC;
	sb.flags = 0;
	sb.seg_num = seg_num;
	sb.pad = st.sb.pad;
	pcache_sb fixed = encode(sb);
	st.out.write(PCACHE_SB_OFF, &fixed, sizeof(fixed));
	st.sb = decode(fixed);
	location where{record_kind::superblock};
	where.device_offset = PCACHE_SB_OFF;
	st.report.change(change_kind::superblock_rebuilt, where,
			 "rebuilt (it had: " + sb_damage.first + "): magic, little-endian, seg_num " +
				 std::to_string(seg_num) +
				 (stored_ok ? " as stored" : " from cache_info and the device size"));
}

void repair_cache_info_and_chain(repair_state &st)
{
	device &dev = st.out;
	uint32_t seg_num = st.sb.seg_num;
	const replica_set<cache_info> &found = st.info_found;

	// What cache_info says, if a copy is valid and its chain fields make sense.
	std::optional<uint32_t> first;
	uint32_t n = 0;
	if (found.any_valid()) {
		const cache_info &ci = found.current();
		if (ci.seg_id < seg_num)
			first = ci.seg_id;
		if (ci.n_segs > 0 && ci.n_segs <= seg_num)
			n = ci.n_segs;
	}
	std::vector<uint32_t> chain;
	if (first && n)
		chain = follow_chain(dev, seg_num, *first, n);
	if (chain.size() != n || !n) {
		// A broken link, or no length to follow: rebuild from every segment.
		chain = rebuild_chain(dev, seg_num, first, n);
		if (!chain.empty() && n && chain.size() < n)
			n = static_cast<uint32_t>(chain.size());
	}
	st.phys = chain;

	// cache_info: the copy in use with the chain and flags made valid, or
	// rebuilt from a damaged copy's settings.
	cache_info want;
	if (found.any_valid()) {
		want = found.current();
	} else {
		// The newer-looking damaged copy's settings, if plausible.
		want.flags = PCACHE_CACHE_FLAGS_INIT_DONE |
			     (PCACHE_GC_PERCENT_DEFAULT << PCACHE_CACHE_FLAGS_GC_SHIFT);
		for (unsigned i : {1u, 0u}) {
			const cache_info &c = found.value[i];
			if (found.state[i] == slot_state::empty)
				continue;
			uint32_t mode = c.mode();
			if (plausible_mode(mode) && c.gc_percent() <= PCACHE_GC_PERCENT_MAX && c.init_done() &&
			    !c.unknown_flags()) {
				want.flags = c.flags;
				break;
			}
		}
		want.reserved = 0;
		st.info_rebuilt = true;
	}
	want.seg_id = chain.front();
	want.n_segs = static_cast<uint32_t>(chain.size());
	want.flags = sane_flags(want.flags);
	st.info = want;
	auto same = [](const cache_info &a, const cache_info &b) {
		return a.seg_id == b.seg_id && a.n_segs == b.n_segs && a.flags == b.flags &&
		       a.reserved == b.reserved;
	};
	replica_update u = settle_replicas(st.out, PCACHE_CACHE_INFO_OFF, PCACHE_CACHE_INFO_SIZE, found, want, same);
	if (u != replica_update::none) {
		location where{record_kind::cache_info};
		if (u != replica_update::rebuilt)
			where.replica = 1 - *found.chosen;
		where.device_offset = PCACHE_CACHE_INFO_REPLICA_OFF(where.replica.value_or(0));
		std::string detail = replica_action(u, found.chosen.value_or(0));
		if (u != replica_update::bad_copy)
			detail += " (first segment " + std::to_string(want.seg_id) + ", " +
				  std::to_string(want.n_segs) + " segments, flags " + hex_string(want.flags) + ")";
		st.report.change(replica_change(u), where, detail);
	}

	// Every segment of the chain: seg_info linking to the next one, and
	// the seg_gen replicas.
	st.gen.assign(chain.size(), std::nullopt);
	st.gen_rebuild.assign(chain.size(), false);
	for (uint32_t id = 0; id < chain.size(); ++id) {
		uint32_t p = chain[id];
		phys_segment s = read_phys(dev, p);
		segment_info si;
		if (s.info.any_valid())
			si = s.info.current();
		else
			si = raw_seg_info(dev, p, 0);
		si.flags &= ~PCACHE_SEG_INFO_FLAGS_HAS_NEXT;
		if (!s.info.any_valid())
			si.flags = PCACHE_SEGMENT_TYPE_CACHE_DATA << PCACHE_SEG_INFO_TYPE_SHIFT;
		if (id + 1 < chain.size()) {
			si.flags |= PCACHE_SEG_INFO_FLAGS_HAS_NEXT;
			si.next_seg = chain[id + 1];
		} else if (!s.info.any_valid()) {
			si.next_seg = 0;
		}
		auto same_link = [](const segment_info &a, const segment_info &b) {
			return a.flags == b.flags && (!a.has_next() || a.next_seg == b.next_seg);
		};
		replica_update u = settle_replicas(dev, seg_info_offset(p, 0), PCACHE_SEG_INFO_SIZE, s.info, si,
						   same_link);
		if (u != replica_update::none) {
			location where{record_kind::seg_info};
			where.segment = id;
			where.phys_segment = p;
			if (u != replica_update::rebuilt)
				where.replica = 1 - *s.info.chosen;
			where.device_offset = seg_info_offset(p, where.replica.value_or(0));
			std::string detail = replica_action(u, s.info.chosen.value_or(0));
			if (u != replica_update::bad_copy)
				detail += si.has_next() ? " (next segment " + std::to_string(si.next_seg) + ")"
							: " (last segment of the chain)";
			st.report.change(replica_change(u), where, detail);
		}

		if (s.gen.any_valid()) {
			st.gen[id] = s.gen.current().gen;
			auto same_gen = [](const seg_gen &a, const seg_gen &b) { return a.gen == b.gen; };
			replica_update g = settle_replicas(dev, seg_gen_offset(p, 0), sizeof(pcache_cache_seg_gen),
							   s.gen, s.gen.current(), same_gen);
			if (g != replica_update::none) {
				location where{record_kind::seg_gen};
				where.segment = id;
				where.phys_segment = p;
				where.replica = 1 - *s.gen.chosen;
				where.device_offset = seg_gen_offset(p, *where.replica);
				st.report.change(replica_change(g), where, replica_action(g, *s.gen.chosen));
			}
		} else {
			st.gen_rebuild[id] = true;	// settled once the keys are known
		}
	}
}

} // namespace pcache
