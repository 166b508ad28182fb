#include "rules.h"

#include "encode.h"
#include "layout.h"

#include <cinttypes>
#include <cstdio>

namespace pcache {
namespace {

std::string hex(uint64_t v)
{
	char buf[24];
	std::snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return buf;
}

// Reports one violation and folds its severity into `worst`.
struct reporter {
	damage_sink &sink;
	location where;
	severity worst = severity::none;

	void operator()(damage_kind kind, std::string detail, std::vector<byte_range> origin = {})
	{
		damage d{kind, where, std::move(detail), std::move(origin)};
		if (d.level() > worst)
			worst = d.level();
		sink.report(d);
	}
};

struct replicated_traits {
	record_kind record;
	damage_kind damaged;
	damage_kind missing;
	const char *consequence;	// of having no valid copy
};

replicated_traits traits_of(replicated which)
{
	switch (which) {
	case replicated::cache_info:
		return {record_kind::cache_info, damage_kind::cache_info_replica_damaged,
			damage_kind::cache_info_missing,
			"the kernel would re-initialise the cache and abandon everything in it"};
	case replicated::key_tail:
		return {record_kind::key_tail, damage_kind::tail_replica_damaged,
			damage_kind::tail_missing,
			"the kernel refuses to start the cache (the log cannot be replayed)"};
	case replicated::dirty_tail:
		return {record_kind::dirty_tail, damage_kind::tail_replica_damaged,
			damage_kind::tail_missing,
			"the kernel refuses to start the cache (dirty data cannot be located)"};
	case replicated::seg_info:
		return {record_kind::seg_info, damage_kind::seg_info_replica_damaged,
			damage_kind::seg_info_missing,
			"the segment chain cannot be followed; the kernel refuses to start the cache"};
	case replicated::seg_gen:
		return {record_kind::seg_gen, damage_kind::seg_gen_replica_damaged,
			damage_kind::seg_gen_missing,
			"the kernel takes generation 0, which can bring invalidated keys back"};
	}
	return {};
}

uint64_t replica_offset(replicated which, unsigned slot, const segment_record *seg)
{
	switch (which) {
	case replicated::cache_info:
		return PCACHE_CACHE_INFO_REPLICA_OFF(slot);
	case replicated::key_tail:
		return PCACHE_KEY_TAIL_OFF(slot);
	case replicated::dirty_tail:
		return PCACHE_DIRTY_TAIL_OFF(slot);
	case replicated::seg_info:
		return seg_info_offset(seg->phys, slot);
	case replicated::seg_gen:
		return seg_gen_offset(seg->phys, slot);
	}
	return 0;
}

location replica_location(replicated which, unsigned slot, const segment_record *seg)
{
	location where;
	where.record = traits_of(which).record;
	where.replica = slot;
	where.device_offset = replica_offset(which, slot, seg);
	if (seg) {
		where.segment = seg->id;
		where.phys_segment = seg->phys;
	}
	return where;
}

byte_range key_range(const cache_key &k)
{
	uint64_t end = k.off + k.len < k.off ? UINT64_MAX : k.off + k.len;
	return {k.off, end};
}

} // namespace

severity check_device_size(uint64_t device_size, damage_sink &sink)
{
	reporter report{sink, {record_kind::device}};
	if (device_size < PCACHE_CACHE_DEV_SIZE_MIN)
		report(damage_kind::device_below_minimum,
		       "the device has " + std::to_string(device_size) +
			       " bytes; dm-pcache refuses cache devices smaller than 512 MiB");
	return report.worst;
}

severity check_superblock(const superblock &sb, uint64_t device_size, damage_sink &sink)
{
	location where{record_kind::superblock};
	where.device_offset = PCACHE_SB_OFF;
	reporter report{sink, where};

	if (sb.magic == 0) {
		report(damage_kind::sb_not_formatted,
		       "magic is zero: not a pcache cache, or never formatted");
		return report.worst;
	}
	if (sb.magic != PCACHE_MAGIC) {
		report(damage_kind::sb_bad_magic, "bad magic " + hex(sb.magic) + " (expected " +
							  hex(PCACHE_MAGIC) + "): not a pcache cache");
		return report.worst;
	}
	uint32_t computed = encode(sb).crc;
	if (computed != sb.crc) {
		report(damage_kind::sb_bad_crc, "bad CRC " + hex(sb.crc) + " (computed " + hex(computed) +
							") over a valid magic");
		return report.worst;
	}
	if (sb.flags & PCACHE_SB_F_BIGENDIAN) {
		report(damage_kind::sb_big_endian,
		       "written by a big-endian host; pcache supports little-endian caches only");
		return report.worst;
	}
	if (sb.flags & ~PCACHE_SB_F_BIGENDIAN)
		report(damage_kind::sb_unknown_flags,
		       "unknown flag bits " + hex(sb.flags & ~PCACHE_SB_F_BIGENDIAN) + " (ignored)");
	if (sb.seg_num == 0) {
		report(damage_kind::sb_no_segments, "seg_num is 0");
	} else if (sb.seg_num > PCACHE_CACHE_SEGS_MAX) {
		report(damage_kind::sb_seg_num_over_max,
		       "seg_num " + std::to_string(sb.seg_num) + " exceeds the maximum of " +
			       std::to_string(PCACHE_CACHE_SEGS_MAX));
	} else if (device_size && sb.seg_num > segment_capacity(device_size)) {
		report(damage_kind::sb_seg_num_exceeds_device,
		       "seg_num " + std::to_string(sb.seg_num) + " needs " +
			       std::to_string(device_bytes_for(sb.seg_num)) + " bytes but the device has " +
			       std::to_string(device_size) + " (room for " +
			       std::to_string(segment_capacity(device_size)) + " segments)");
	}
	return report.worst;
}

template <typename T>
severity check_replicas(const replica_set<T> &set, replicated which, damage_sink &sink,
			const segment_record *seg)
{
	replicated_traits traits = traits_of(which);
	severity worst = severity::none;
	if (!set.any_valid()) {
		location where = replica_location(which, 0, seg);
		where.replica.reset();
		reporter report{sink, where};
		report(traits.missing, std::string("no valid replica (replica 0 ") + to_string(set.state[0]) +
					       ", replica 1 " + to_string(set.state[1]) + "): " +
					       traits.consequence);
		return report.worst;
	}
	for (unsigned slot = 0; slot < PCACHE_META_REPLICAS; ++slot) {
		if (set.state[slot] != slot_state::bad_crc)
			continue;
		reporter report{sink, replica_location(which, slot, seg)};
		report(traits.damaged, "bad CRC (damage, or an update cut by a crash); replica " +
					       std::to_string(*set.chosen) + " (seq " +
					       std::to_string(set.current().header.seq) +
					       ") is used; pcache_repair rewrites this copy from it");
		worst = std::max(worst, report.worst);
	}
	return worst;
}

template severity check_replicas(const replica_set<cache_info> &, replicated, damage_sink &,
				 const segment_record *);
template severity check_replicas(const replica_set<pos_record> &, replicated, damage_sink &,
				 const segment_record *);
template severity check_replicas(const replica_set<segment_info> &, replicated, damage_sink &,
				 const segment_record *);
template severity check_replicas(const replica_set<seg_gen> &, replicated, damage_sink &,
				 const segment_record *);

severity check_cache_info(const replica_set<cache_info> &set, const superblock &sb,
			  damage_sink &sink)
{
	reporter report{sink, replica_location(replicated::cache_info, *set.chosen, nullptr)};
	const cache_info &ci = set.current();

	if (!ci.init_done())
		report(damage_kind::cache_info_not_initialised,
		       "INIT_DONE is clear: the kernel would re-initialise the cache and abandon "
		       "everything in it");
	if (ci.n_segs == 0)
		report(damage_kind::cache_info_no_segments, "n_segs is 0");
	else if (ci.n_segs > sb.seg_num)
		report(damage_kind::cache_info_n_segs_exceeds_seg_num,
		       "n_segs " + std::to_string(ci.n_segs) + " exceeds the superblock's seg_num " +
			       std::to_string(sb.seg_num));
	if (ci.seg_id >= sb.seg_num)
		report(damage_kind::cache_info_seg_id_out_of_range,
		       "the first cache segment is physical segment " + std::to_string(ci.seg_id) +
			       ", beyond seg_num " + std::to_string(sb.seg_num));
	if (ci.gc_percent() > PCACHE_GC_PERCENT_MAX)
		report(damage_kind::cache_info_gc_percent_out_of_range,
		       "gc_percent " + std::to_string(ci.gc_percent()) + " is above the maximum of " +
			       std::to_string(PCACHE_GC_PERCENT_MAX));
	if (ci.mode() == PCACHE_CACHE_MODE_WRITEONLY)
		report(damage_kind::cache_info_mode_unused,
		       "cache mode 3 (writeonly) is defined by upstream but implemented by no kernel");
	else if (ci.mode() > PCACHE_CACHE_MODE_PASSTHROUGH)
		report(damage_kind::cache_info_mode_unknown,
		       "unknown cache mode " + std::to_string(ci.mode()));
	if (ci.unknown_flags())
		report(damage_kind::cache_info_unknown_flags,
		       "unknown flag bits " + hex(ci.unknown_flags()) +
			       " (perhaps written by a newer pcache; ignored)");
	if (ci.reserved)
		report(damage_kind::cache_info_reserved_nonzero,
		       "reserved field is " + hex(ci.reserved) + ", expected 0 (ignored)");
	return report.worst;
}

severity check_stray_cache_info(slot_state state, const cache_info &stray,
				const cache_info &in_use, damage_sink &sink)
{
	location where{record_kind::stray_cache_info};
	where.device_offset = PCACHE_CACHE_INFO_STRAY_OFF;
	reporter report{sink, where};
	if (state == slot_state::empty)
		return report.worst;
	if (state == slot_state::bad_crc) {
		report(damage_kind::stray_cache_info,
		       "non-zero bytes where Linux 6.18 before its December 2025 fix wrote cache_info "
		       "copies; no reader looks there");
		return report.worst;
	}
	std::string detail = "a cache_info copy (seq " + std::to_string(stray.header.seq) +
			     ", flags " + hex(stray.flags) +
			     ") left by Linux 6.18 before its December 2025 fix; no reader looks there";
	if (seq_newer(stray.header.seq, in_use.header.seq) && stray.flags != in_use.flags)
		detail += "; it is newer than the copy in use, so its settings (e.g. gc_percent " +
			  std::to_string(stray.gc_percent()) + ") are not in effect";
	report(damage_kind::stray_cache_info, detail);
	return report.worst;
}

bool tail_in_range(const cache_pos &pos, uint32_t n_segs)
{
	return pos.seg < n_segs && kset_header_fits(pos) && pos.off % 8 == 0;
}

severity check_tail(replicated which, const replica_set<pos_record> &set, uint32_t n_segs,
		    damage_sink &sink)
{
	reporter report{sink, replica_location(which, *set.chosen, nullptr)};
	const cache_pos &pos = set.current().pos;
	if (pos.seg >= n_segs)
		report(damage_kind::tail_segment_out_of_range,
		       "position " + to_string(pos) + " names cache segment " + std::to_string(pos.seg) +
			       " of " + std::to_string(n_segs));
	if (!kset_header_fits(pos))
		report(damage_kind::tail_offset_out_of_range,
		       "position " + to_string(pos) + " lies beyond the last kset position of a segment (" +
			       std::to_string(PCACHE_SEG_DATA_SIZE - PCACHE_KSET_HEADER_SIZE) + ")");
	else if (pos.off % 8)
		report(damage_kind::tail_offset_misaligned,
		       "position " + to_string(pos) + " is not 8-byte aligned like every kset");
	return report.worst;
}

severity check_segment(const segment_record &seg, damage_sink &sink)
{
	if (!seg.info.any_valid())
		return severity::none;
	reporter report{sink, replica_location(replicated::seg_info, *seg.info.chosen, &seg)};
	const segment_info &si = seg.info.current();
	if (si.type() != PCACHE_SEGMENT_TYPE_CACHE_DATA)
		report(damage_kind::seg_info_bad_type,
		       "segment type " + std::to_string(si.type()) + ", expected 1 (cache data; ignored)");
	if (si.unknown_flags())
		report(damage_kind::seg_info_unknown_flags,
		       "unknown flag bits " + hex(si.unknown_flags()) + " (ignored)");
	return report.worst;
}

chain_follower::chain_follower(uint32_t seg_num, uint32_t n_segs)
	: seg_num_(seg_num), n_segs_(n_segs), used_(seg_num, false)
{
}

std::optional<uint32_t> chain_follower::next(const segment_record &rec, damage_sink &sink)
{
	if (rec.phys < used_.size())
		used_[rec.phys] = true;
	if (rec.id + 1 >= n_segs_ || !rec.info.any_valid())
		return std::nullopt;
	// The fault lies in the seg_info copy in use: name it.
	reporter report{sink, replica_location(replicated::seg_info, *rec.info.chosen, &rec)};
	const segment_info &si = rec.info.current();
	std::string lost = "; cache segments " + std::to_string(rec.id + 1) + ".." +
			   std::to_string(n_segs_ - 1) + " cannot be found";
	if (!si.has_next()) {
		report(damage_kind::seg_chain_broken,
		       "HAS_NEXT is clear but the chain must hold " + std::to_string(n_segs_) +
			       " segments" + lost);
		return std::nullopt;
	}
	if (si.next_seg >= seg_num_) {
		report(damage_kind::seg_chain_next_out_of_range,
		       "next segment " + std::to_string(si.next_seg) + " is beyond seg_num " +
			       std::to_string(seg_num_) + lost);
		return std::nullopt;
	}
	if (used_[si.next_seg]) {
		report(damage_kind::seg_chain_cycle,
		       "next segment " + std::to_string(si.next_seg) + " is already in the chain" + lost);
		return std::nullopt;
	}
	return si.next_seg;
}

location kset_location(const kset_record &kset)
{
	location where{record_kind::kset};
	where.kset = kset.pos;
	if (kset.device_offset)
		where.device_offset = kset.device_offset;
	return where;
}

location key_location(const key_record &key, record_kind kind)
{
	location where{kind};
	where.kset = key.kset;
	where.key_index = key.index;
	if (key.device_offset)
		where.device_offset = key.device_offset;
	return where;
}

severity check_kset(const kset_record &kset, uint32_t n_segs, damage_sink &sink)
{
	reporter report{sink, kset_location(kset)};
	const kset_header &h = kset.header;
	if (h.last()) {
		if (h.next_seg() >= n_segs)
			report(damage_kind::last_kset_next_out_of_range,
			       "LAST kset points to cache segment " + std::to_string(h.next_seg()) + " of " +
				       std::to_string(n_segs) + "; the rest of the log is lost");
	} else if (h.key_num > PCACHE_KSET_KEYS_MAX) {
		report(damage_kind::kset_too_many_keys,
		       "key_num " + std::to_string(h.key_num) + " exceeds " +
			       std::to_string(PCACHE_KSET_KEYS_MAX) + "; the kernel ends the log here");
	} else {
		if (h.key_num == 0)
			report(damage_kind::kset_no_keys, "a kset with no keys (never written by the kernel)");
		uint64_t end = uint64_t(kset.pos.off) + kset.size();
		if (end > PCACHE_SEG_DATA_SIZE)
			report(damage_kind::kset_overruns_segment,
			       "ends at byte " + std::to_string(end) + " of a " +
				       std::to_string(PCACHE_SEG_DATA_SIZE) + "-byte data area");
		else if (end + PCACHE_KSET_HEADER_SIZE > PCACHE_SEG_DATA_SIZE)
			report(damage_kind::kset_no_room_for_last,
			       "leaves " + std::to_string(PCACHE_SEG_DATA_SIZE - end) +
				       " bytes in its segment, too few for the LAST kset that must follow");
	}
	if (h.unknown_flags())
		report(damage_kind::kset_unknown_flags,
		       "unknown flag bits " + hex(h.unknown_flags()) + " (ignored)");
	return report.worst;
}

bool key_is_sound(const cache_key &k, uint32_t n_segs)
{
	return k.len != 0 && k.len % PCACHE_SECTOR_SIZE == 0 && k.off % PCACHE_SECTOR_SIZE == 0 &&
	       k.len <= PCACHE_SUBTREE_SIZE && !crosses_subtree(k.off, k.len) &&
	       k.off + k.len <= kMaxOriginBytes && k.seg < n_segs &&
	       uint64_t(k.seg_off) + k.len <= PCACHE_SEG_DATA_SIZE &&
	       k.seg_off % PCACHE_SECTOR_SIZE == 0 && !k.empty();
}

severity check_key(const key_record &rec, uint32_t n_segs, damage_sink &sink)
{
	reporter report{sink, key_location(rec)};
	const cache_key &k = rec.key;
	std::vector<byte_range> origin{key_range(k)};
	auto bad = [&](damage_kind kind, const std::string &detail) { report(kind, detail, origin); };

	if (k.len == 0)
		bad(damage_kind::key_zero_length, "length 0");
	else if (k.len % PCACHE_SECTOR_SIZE)
		bad(damage_kind::key_length_unaligned,
		    "length " + std::to_string(k.len) + " is not a multiple of 512");
	if (k.off % PCACHE_SECTOR_SIZE)
		bad(damage_kind::key_offset_unaligned,
		    "origin offset " + std::to_string(k.off) + " is not a multiple of 512");
	if (k.len > PCACHE_SUBTREE_SIZE)
		bad(damage_kind::key_too_long, "length " + std::to_string(k.len) + " exceeds 4 MiB");
	else if (crosses_subtree(k.off, k.len))
		bad(damage_kind::key_crosses_subtree, "crosses a 4 MiB boundary of the origin");
	if (k.off + k.len > kMaxOriginBytes || k.off + k.len < k.off)
		bad(damage_kind::key_offset_too_large, "lies beyond 16 PiB of origin");
	if (k.seg >= n_segs)
		bad(damage_kind::key_segment_out_of_range,
		    "payload in cache segment " + std::to_string(k.seg) + " of " + std::to_string(n_segs));
	if (uint64_t(k.seg_off) + k.len > PCACHE_SEG_DATA_SIZE)
		bad(damage_kind::key_overruns_segment,
		    "payload [" + std::to_string(k.seg_off) + ", " + std::to_string(uint64_t(k.seg_off) + k.len) +
			    ") runs past the end of the segment's data area");
	if (k.seg_off % PCACHE_SECTOR_SIZE)
		bad(damage_kind::key_cache_offset_unaligned,
		    "payload offset " + std::to_string(k.seg_off) + " is not a multiple of 512");
	if (rec.segment_gen && k.gen > *rec.segment_gen)
		bad(damage_kind::key_generation_ahead,
		    "generation " + std::to_string(k.gen) + " is ahead of its segment's " +
			    std::to_string(*rec.segment_gen) + " (a lost seg_gen update?)");
	// GC never passes dirty_tail, and a segment is invalidated only when
	// GC has passed every key in it: a dirty key is never stale in a cache
	// the kernel wrote.  Its data would be dropped without being written
	// back (a lost seg_gen update gone the wrong way, or a damaged gen).
	if (rec.stale() && rec.dirty())
		bad(damage_kind::key_stale_dirty,
		    "dirty key of generation " + std::to_string(k.gen) + " in a segment at generation " +
			    std::to_string(*rec.segment_gen) +
			    ": the kernel would drop its data without writing it back");
	if (k.empty())
		bad(damage_kind::key_empty_flag, "carries the EMPTY flag of in-memory placeholders");
	if (k.unknown_flags())
		bad(damage_kind::key_unknown_flags,
		    "unknown flag bits " + hex(k.unknown_flags()) + " (ignored)");
	if (k.reserved)
		bad(damage_kind::key_reserved_nonzero,
		    "reserved field is " + hex(k.reserved) + ", expected 0 (ignored)");
	return report.worst;
}

} // namespace pcache
