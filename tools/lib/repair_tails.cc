#include "repair_tails.h"

#include "decode.h"
#include "layout.h"
#include "replica_update.h"
#include "rules.h"

#include <cstring>
#include <vector>

namespace pcache {
namespace {

replica_set<pos_record> read_tail(device &dev, uint64_t first)
{
	pcache_cache_pos_onmedia raw[PCACHE_META_REPLICAS];
	for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i)
		dev.read(first + i * sizeof(raw[0]), &raw[i], sizeof(raw[i]));
	return decode_replicas(raw);
}

bool usable(const replica_set<pos_record> &set, uint32_t n_segs)
{
	return set.any_valid() && tail_in_range(set.current().pos, n_segs);
}

// A kset header at pos, judged like the walker does (size bounded before
// it is used, CRC over the declared bytes).
struct light_kset {
	record_at what = record_at::other;
	kset_header header;
	uint64_t size = 0;
};

light_kset read_light(device &dev, const repair_state &st, const cache_pos &pos)
{
	light_kset k;
	if (pos.seg >= st.n_segs() || !kset_header_fits(pos))
		return k;
	uint64_t off = data_offset(st.phys[pos.seg], pos.off);
	unsigned char bytes[PCACHE_KSET_ONMEDIA_SIZE_MAX];
	dev.read(off, bytes, PCACHE_KSET_HEADER_SIZE);
	if (all_zero(bytes, PCACHE_KSET_HEADER_SIZE)) {
		k.what = record_at::zero;
		return k;
	}
	pcache_cache_kset_onmedia raw;
	std::memcpy(&raw, bytes, sizeof(raw));
	k.header = decode(raw);
	if (k.header.magic != PCACHE_KSET_MAGIC)
		return k;
	if (!k.header.last() && (k.header.key_num == 0 || k.header.key_num > PCACHE_KSET_KEYS_MAX))
		return k;
	k.size = k.header.last() ? PCACHE_KSET_HEADER_SIZE : PCACHE_KSET_SIZE(k.header.key_num);
	if (uint64_t(pos.off) + k.size > PCACHE_SEG_DATA_SIZE)
		return k;
	dev.read(off, bytes, k.size);
	if (kset_crc_ok(bytes, k.size))
		k.what = record_at::kset;
	return k;
}

// What one key segment holds from its start: its ksets' positions and
// where its LAST kset leads.
struct segment_run {
	std::vector<uint32_t> offsets;	// of valid records, from 0
	std::optional<uint32_t> next;	// LAST kset target
};

segment_run follow_segment(device &dev, const repair_state &st, uint32_t seg)
{
	segment_run run;
	cache_pos pos{seg, 0};
	// Every step moves forward by at least a kset header.
	for (;;) {
		light_kset k = read_light(dev, st, pos);
		if (k.what != record_at::kset)
			break;
		run.offsets.push_back(pos.off);
		if (k.header.last()) {
			if (k.header.next_seg() < st.n_segs())
				run.next = k.header.next_seg();
			break;
		}
		pos.off += static_cast<uint32_t>(k.size);
	}
	return run;
}

// Both tails lost: the start of the longest chain of key segments.
cache_pos recover_log_start(repair_state &st)
{
	uint32_t n = st.n_segs();
	std::vector<segment_run> runs(n);
	std::vector<bool> target(n, false);
	for (uint32_t s = 0; s < n; ++s) {
		runs[s] = follow_segment(st.out, st, s);
		if (!runs[s].offsets.empty() && runs[s].next)
			target[*runs[s].next] = true;
	}
	auto chain_length = [&](uint32_t s) {
		std::vector<bool> seen(n, false);
		uint64_t ksets = 0;
		for (uint32_t p = s; p < n && !seen[p] && !runs[p].offsets.empty();) {
			seen[p] = true;
			ksets += runs[p].offsets.size();
			if (!runs[p].next)
				break;
			p = *runs[p].next;
		}
		return ksets;
	};
	std::optional<uint32_t> best;
	uint64_t best_len = 0;
	for (uint32_t s = 0; s < n; ++s) {
		if (runs[s].offsets.empty() || target[s])
			continue;
		uint64_t len = chain_length(s);
		if (!best || len > best_len)
			best = s, best_len = len;
	}
	if (!best) {
		// Only cycles (or nothing): any segment that holds ksets.
		for (uint32_t s = 0; s < n && !best; ++s)
			if (!runs[s].offsets.empty())
				best = s;
	}
	if (!best)
		return {0, 0};	// no ksets anywhere: an empty log

	// A damaged key_tail copy that names a kset on this chain is the
	// better start (GC may have passed the first ksets of the chain).
	std::optional<cache_pos> hint;
	std::optional<uint8_t> hint_seq;
	for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i) {
		if (st.key_tail_found.state[i] != slot_state::bad_crc)
			continue;
		const pos_record &r = st.key_tail_found.value[i];
		std::vector<bool> seen(n, false);
		for (uint32_t p = *best; p < n && !seen[p] && !runs[p].offsets.empty();) {
			seen[p] = true;
			if (r.pos.seg == p)
				for (uint32_t off : runs[p].offsets)
					if (off == r.pos.off && (!hint_seq || seq_newer(r.header.seq, *hint_seq)))
						hint = r.pos, hint_seq = r.header.seq;
			if (!runs[p].next)
				break;
			p = *runs[p].next;
		}
	}
	return hint ? *hint : cache_pos{*best, 0};
}

void put_tails(repair_state &st, bool report)
{
	auto same = [](const pos_record &a, const pos_record &b) { return a.pos == b.pos; };
	struct tail {
		record_kind which;
		uint64_t off;
		const replica_set<pos_record> &found;
		cache_pos pos;
		const std::string &why;
	} tails[] = {
		{record_kind::key_tail, PCACHE_KEY_TAIL_OFF(0), st.key_tail_found, st.key_tail, st.key_tail_why},
		{record_kind::dirty_tail, PCACHE_DIRTY_TAIL_OFF(0), st.dirty_tail_found, st.dirty_tail,
		 st.dirty_tail_why},
	};
	for (const tail &t : tails) {
		pos_record want;
		want.pos = t.pos;
		replica_update u = settle_replicas(st.out, t.off, sizeof(pcache_cache_pos_onmedia), t.found, want, same);
		if (!report || u == replica_update::none)
			continue;
		location where{t.which};
		if (u != replica_update::rebuilt)
			where.replica = 1 - *t.found.chosen;
		where.device_offset = t.off + where.replica.value_or(0) * sizeof(pcache_cache_pos_onmedia);
		std::string detail;
		if (u == replica_update::bad_copy)
			detail = "the damaged copy was rewritten from replica " + std::to_string(*t.found.chosen) +
				 " with the next sequence number";
		else
			detail = "set to " + to_string(t.pos) + (t.why.empty() ? "" : ": " + t.why) +
				 (u == replica_update::rebuilt ? " (no valid copy: written into both replicas)"
							       : " (new copy in replica " +
									 std::to_string(*where.replica) + ")");
		st.report.change(u == replica_update::bad_copy ? change_kind::replica_rewritten
			       : u == replica_update::rebuilt ? change_kind::record_rebuilt
							      : change_kind::record_updated,
				 where, detail);
	}
}

} // namespace

record_at probe_record(device &dev, const repair_state &st, const cache_pos &pos)
{
	return read_light(dev, st, pos).what;
}

void repair_tails(repair_state &st)
{
	uint32_t n = st.n_segs();
	st.key_tail_found = read_tail(st.base, PCACHE_KEY_TAIL_OFF(0));
	st.dirty_tail_found = read_tail(st.base, PCACHE_DIRTY_TAIL_OFF(0));
	bool key_ok = usable(st.key_tail_found, n);
	bool dirty_ok = usable(st.dirty_tail_found, n);
	auto lost = [&](const replica_set<pos_record> &set) {
		return set.any_valid() ? "its position " + to_string(set.current().pos) + " lies outside the cache"
				       : std::string("no valid copy");
	};
	if (key_ok) {
		st.key_tail = st.key_tail_found.current().pos;
	} else if (dirty_ok) {
		st.key_tail = st.dirty_tail_found.current().pos;
		st.key_tail_why = "key_tail had " + lost(st.key_tail_found) +
				  "; the log starts at dirty_tail (the ksets before it were written back already)";
	} else {
		st.key_tail = recover_log_start(st);
		st.key_tail_why = "key_tail had " + lost(st.key_tail_found) +
				  "; recovered from the key segments' ksets and LAST links";
	}
	if (dirty_ok) {
		st.dirty_tail = st.dirty_tail_found.current().pos;
	} else {
		st.dirty_tail = st.key_tail;
		st.dirty_tail_why = "dirty_tail had " + lost(st.dirty_tail_found) +
				    "; everything from key_tail is treated as dirty (clean data may be written "
				    "back twice, which is harmless)";
	}
	put_tails(st, false);
}

void write_tails(repair_state &st, bool report)
{
	put_tails(st, report);
}

} // namespace pcache
