#include "xml_emitter.h"

#include "xml_schema.h"

namespace pcache {

using namespace xml;

void xml_emitter::on_superblock(const superblock &sb)
{
	xml_.declaration();
	xml_.open(kRoot);
	xml_.attr(kFormatVersionAttr, uint64_t(kFormatVersion));
	xml_.close_start();
	root_open_ = true;
	xml_.open(kSuperblock);
	xml_.attr(kSegNum, uint64_t(sb.seg_num));
	if (sb.flags)
		xml_.attr_hex(kFlags, sb.flags);
	if (sb.pad)
		xml_.attr_hex(kPad, sb.pad);
	xml_.close_empty();
}

void xml_emitter::header(const meta_header &h, unsigned slot)
{
	xml_.attr(kSlot, uint64_t(slot));
	xml_.attr(kSeq, uint64_t(h.seq));
	if (h.version)
		xml_.attr(kVersion, uint64_t(h.version));
	if (h.res)
		xml_.attr(kRes, uint64_t(h.res));
}

void xml_emitter::on_cache_info(const replica_set<cache_info> &info)
{
	for (unsigned slot = 0; slot < PCACHE_META_REPLICAS; ++slot) {
		if (info.state[slot] != slot_state::valid)
			continue;
		const cache_info &ci = info.value[slot];
		xml_.open(kCacheInfo);
		header(ci.header, slot);
		xml_.attr(kSegId, uint64_t(ci.seg_id));
		xml_.attr(kNSegs, uint64_t(ci.n_segs));
		xml_.attr(kDataCrc, ci.data_crc());
		xml_.attr(kInitDone, ci.init_done());
		xml_.attr(kMode, cache_mode_name(ci.mode()));
		xml_.attr(kGcPercent, uint64_t(ci.gc_percent()));
		xml_.attr(kNeedsCheck, ci.needs_check());
		if (ci.unknown_flags())
			xml_.attr_hex(kExtraFlags, ci.unknown_flags());
		if (ci.reserved)
			xml_.attr_hex(kReserved, ci.reserved);
		xml_.close_empty();
	}
}

void xml_emitter::tail(const char *name, const replica_set<pos_record> &set)
{
	for (unsigned slot = 0; slot < PCACHE_META_REPLICAS; ++slot) {
		if (set.state[slot] != slot_state::valid)
			continue;
		xml_.open(name);
		header(set.value[slot].header, slot);
		xml_.attr(kSeg, uint64_t(set.value[slot].pos.seg));
		xml_.attr(kOff, uint64_t(set.value[slot].pos.off));
		xml_.close_empty();
	}
}

void xml_emitter::on_tails(const replica_set<pos_record> &key_tail,
			   const replica_set<pos_record> &dirty_tail)
{
	tail(kKeyTail, key_tail);
	tail(kDirtyTail, dirty_tail);
}

void xml_emitter::on_segment(const segment_record &seg)
{
	if (!segments_open_) {
		xml_.open(kSegments);
		xml_.close_start();
		segments_open_ = true;
	}
	xml_.open(kSegment);
	xml_.attr(kId, uint64_t(seg.id));
	xml_.attr(kPhys, uint64_t(seg.phys));
	xml_.close_start();
	for (unsigned slot = 0; slot < PCACHE_META_REPLICAS; ++slot) {
		if (seg.info.state[slot] != slot_state::valid)
			continue;
		const segment_info &si = seg.info.value[slot];
		xml_.open(kSegInfo);
		header(si.header, slot);
		xml_.attr(kHasNext, si.has_next());
		xml_.attr(kType, uint64_t(si.type()));
		xml_.attr(kNext, uint64_t(si.next_seg));
		if (si.unknown_flags())
			xml_.attr_hex(kExtraFlags, si.unknown_flags());
		xml_.close_empty();
	}
	for (unsigned slot = 0; slot < PCACHE_META_REPLICAS; ++slot) {
		if (seg.gen.state[slot] != slot_state::valid)
			continue;
		xml_.open(kSegGen);
		header(seg.gen.value[slot].header, slot);
		xml_.attr(kGen, seg.gen.value[slot].gen);
		xml_.close_empty();
	}
	xml_.end(kSegment);
}

void xml_emitter::close_segments()
{
	if (segments_open_)
		xml_.end(kSegments);
	segments_open_ = false;
}

void xml_emitter::on_begin_log()
{
	close_segments();
	xml_.open(kLog);
	xml_.close_start();
}

void xml_emitter::close_kset()
{
	if (kset_open_)
		xml_.end(kKset);
	kset_open_ = false;
}

void xml_emitter::on_kset(const kset_record &kset)
{
	close_kset();
	xml_.open(kKset);
	xml_.attr(kSeg, uint64_t(kset.pos.seg));
	xml_.attr(kOff, uint64_t(kset.pos.off));
	if (kset.header.unknown_flags())
		xml_.attr_hex(kExtraFlags, kset.header.unknown_flags());
	if (!kset.header.key_num) {
		xml_.close_empty();
		return;
	}
	xml_.close_start();
	kset_open_ = true;
}

void xml_emitter::on_key(const key_record &rec)
{
	const cache_key &k = rec.key;
	xml_.open(kKey);
	xml_.attr(kOff, k.off);
	xml_.attr(kLen, uint64_t(k.len));
	xml_.attr(kSeg, uint64_t(k.seg));
	xml_.attr(kSegOff, uint64_t(k.seg_off));
	xml_.attr(kGen, k.gen);
	if (k.clean())
		xml_.attr(kClean, true);
	if (k.data_crc)
		xml_.attr_hex(kDataCrc, k.data_crc);
	if (k.flags & ~PCACHE_KEY_FLAGS_CLEAN)
		xml_.attr_hex(kExtraFlags, k.flags & ~PCACHE_KEY_FLAGS_CLEAN);
	if (k.reserved)
		xml_.attr_hex(kReserved, k.reserved);
	xml_.close_empty();
}

void xml_emitter::on_last_kset(const kset_record &kset)
{
	close_kset();
	xml_.open(kLastKset);
	xml_.attr(kSeg, uint64_t(kset.pos.seg));
	xml_.attr(kOff, uint64_t(kset.pos.off));
	xml_.attr(kNext, uint64_t(kset.header.next_seg()));
	if (kset.header.unknown_flags())
		xml_.attr_hex(kExtraFlags, kset.header.unknown_flags());
	xml_.close_empty();
}

void xml_emitter::on_end_log(const log_summary &)
{
	close_kset();
	xml_.end(kLog);
}

void xml_emitter::on_end()
{
	close_kset();
	close_segments();
	if (root_open_)
		xml_.end(kRoot);
	root_open_ = false;
}

} // namespace pcache
