#include "restore_writer.h"

#include "encode.h"
#include "layout.h"
#include "rules.h"

#include <algorithm>
#include <cstring>

namespace pcache {
namespace {
constexpr size_t kPendingMax = 1 << 20;
}

restore_writer::restore_writer(device &out, device *source, const segment_table *source_segs)
	: out_(out), source_(source), source_segs_(source_segs)
{
	pending_.reserve(kPendingMax + PCACHE_KSET_ONMEDIA_SIZE_MAX);
}

void restore_writer::on_cache_info(const replica_set<cache_info> &info)
{
	// Both cache_info slots and the tail page, zeroed as format does.
	std::vector<unsigned char> area(PCACHE_SEGMENTS_OFF - PCACHE_CACHE_INFO_OFF, 0);
	for (unsigned slot = 0; slot < PCACHE_META_REPLICAS; ++slot) {
		if (info.state[slot] != slot_state::valid)
			continue;
		pcache_cache_info raw = encode(info.value[slot]);
		std::memcpy(area.data() + PCACHE_CACHE_INFO_REPLICA_OFF(slot) - PCACHE_CACHE_INFO_OFF, &raw,
			    sizeof(raw));
	}
	out_.write(PCACHE_CACHE_INFO_OFF, area.data(), area.size());
	seg_num_ = sb_.seg_num;
	segs_.reset(std::min(info.current().n_segs, seg_num_));
}

void restore_writer::on_tails(const replica_set<pos_record> &key_tail,
			      const replica_set<pos_record> &dirty_tail)
{
	for (unsigned slot = 0; slot < PCACHE_META_REPLICAS; ++slot) {
		if (key_tail.state[slot] == slot_state::valid) {
			auto raw = encode(key_tail.value[slot]);
			out_.write(PCACHE_KEY_TAIL_OFF(slot), &raw, sizeof(raw));
		}
		if (dirty_tail.state[slot] == slot_state::valid) {
			auto raw = encode(dirty_tail.value[slot]);
			out_.write(PCACHE_DIRTY_TAIL_OFF(slot), &raw, sizeof(raw));
		}
	}
}

void restore_writer::on_segment(const segment_record &seg)
{
	std::vector<unsigned char> header(PCACHE_SEG_DATA_OFF, 0);
	for (unsigned slot = 0; slot < PCACHE_META_REPLICAS; ++slot) {
		if (seg.info.state[slot] == slot_state::valid) {
			auto raw = encode(seg.info.value[slot]);
			std::memcpy(header.data() + PCACHE_SEG_INFO_REPLICA_OFF(slot), &raw, sizeof(raw));
		}
		if (seg.gen.state[slot] == slot_state::valid) {
			auto raw = encode(seg.gen.value[slot]);
			std::memcpy(header.data() + PCACHE_SEG_GEN_REPLICA_OFF(slot), &raw, sizeof(raw));
		}
	}
	out_.write(segment_offset(seg.phys), header.data(), header.size());
	segs_.set(seg);
	++stats_.segments;
}

void restore_writer::drain()
{
	if (!pending_.empty())
		out_.write(pending_off_, pending_.data(), pending_.size());
	pending_.clear();
}

// Log records at consecutive device offsets go out as one write.
void restore_writer::put(const cache_pos &pos, const void *bytes, size_t len)
{
	uint64_t off = data_offset(segs_.phys(pos.seg), pos.off);
	if (pending_.empty() || off != pending_off_ + pending_.size() || pending_.size() >= kPendingMax) {
		drain();
		pending_off_ = off;
	}
	auto p = static_cast<const unsigned char *>(bytes);
	pending_.insert(pending_.end(), p, p + len);
}

void restore_writer::flush_kset()
{
	if (!kset_open_)
		return;
	std::vector<unsigned char> bytes = encode_kset(keys_, kset_flags_);
	put(kset_pos_, bytes.data(), bytes.size());
	++stats_.ksets;
	kset_open_ = false;
}

void restore_writer::on_kset(const kset_record &kset)
{
	flush_kset();
	kset_open_ = true;
	kset_pos_ = kset.pos;
	kset_flags_ = kset.header.flags;
	keys_.clear();
}

void restore_writer::on_key(const key_record &rec)
{
	keys_.push_back(rec.key);
	++stats_.keys;
	if (source_)
		copy_payload(rec.key);
}

void restore_writer::copy_payload(const cache_key &k)
{
	// Restore validated every key and that the source holds its segment.
	if (!key_is_sound(k, segs_.size()) || !source_segs_->known(k.seg))
		return;
	copy_buf_.resize(k.len);
	source_->read(data_offset(source_segs_->phys(k.seg), k.seg_off), copy_buf_.data(), k.len);
	out_.write(data_offset(segs_.phys(k.seg), k.seg_off), copy_buf_.data(), k.len);
	++stats_.copied_keys;
	stats_.copied_bytes += k.len;
}

void restore_writer::on_last_kset(const kset_record &kset)
{
	flush_kset();
	std::vector<unsigned char> bytes = encode_last_kset(kset.header.next_seg(), kset.header.flags);
	put(kset.pos, bytes.data(), bytes.size());
	++stats_.ksets;
}

void restore_writer::on_end_log(const log_summary &summary)
{
	flush_kset();
	// The end of the log, as the kernel marks it: a zeroed kset header.
	unsigned char zero[PCACHE_KSET_HEADER_SIZE] = {};
	put(summary.end, zero, sizeof(zero));
	drain();
}

void restore_writer::commit()
{
	drain();
	out_.flush();
	pcache_sb raw = encode(sb_);
	out_.write(PCACHE_SB_OFF, &raw, sizeof(raw));
	out_.flush();
}

} // namespace pcache
