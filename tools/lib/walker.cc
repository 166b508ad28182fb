#include "walker.h"

#include "decode.h"
#include "kset_correction.h"
#include "layout.h"
#include "log_tracker.h"
#include "read_window.h"
#include "rules.h"

#include <algorithm>
#include <cstring>

namespace pcache {

bool looks_like_xml(device &dev)
{
	unsigned char buf[512];
	size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof(buf), dev.size()));
	dev.read(0, buf, n);
	size_t i = 0;
	if (n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF)
		i = 3;	// UTF-8 byte order mark
	while (i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		++i;
	auto starts = [&](const char *s) {
		size_t len = std::strlen(s);
		return n - i >= len && std::memcmp(buf + i, s, len) == 0;
	};
	return starts("<?xml") || starts("<pcache") || starts("<!--");
}

// A record read at a log position, judged as a kset.
struct walker::kset_probe {
	enum class status { valid, zero, invalid } state = status::invalid;
	kset_header header;
	bool magic_ok = false;
	bool size_known = false;	// header plausible enough to size the record
	uint64_t size = 0;
	uint64_t device_offset = 0;
	std::vector<unsigned char> bytes;	// header and keys, when size_known
};

walker::walker(device &dev, damage_sink &sink, walk_options opts)
	: dev_(dev), sink_(sink), opts_(opts)
{
}

template <typename Raw>
void walker::read_pair(uint64_t first, uint64_t stride, Raw (&raw)[PCACHE_META_REPLICAS])
{
	for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i)
		dev_.read(first + i * stride, &raw[i], sizeof(Raw));
}

const segment_table &walker::segments() const
{
	return segs_;
}

void walker::walk(metadata_visitor &out)
{
	superblock sb;
	if (!read_superblock(sb)) {
		out.on_end();
		return;
	}
	out.on_superblock(sb);
	replica_set<cache_info> info;
	if (!read_cache_info(sb, info)) {
		out.on_end();
		return;
	}
	out.on_cache_info(info);

	pcache_cache_pos_onmedia raw_key[PCACHE_META_REPLICAS], raw_dirty[PCACHE_META_REPLICAS];
	read_pair(PCACHE_KEY_TAIL_OFF(0), sizeof(pcache_cache_pos_onmedia), raw_key);
	read_pair(PCACHE_DIRTY_TAIL_OFF(0), sizeof(pcache_cache_pos_onmedia), raw_dirty);
	auto key_tail = decode_replicas(raw_key);
	auto dirty_tail = decode_replicas(raw_dirty);
	uint32_t n_segs = info.current().n_segs;
	check_replicas(key_tail, replicated::key_tail, sink_);
	if (key_tail.any_valid())
		check_tail(replicated::key_tail, key_tail, n_segs, sink_);
	check_replicas(dirty_tail, replicated::dirty_tail, sink_);
	if (dirty_tail.any_valid())
		check_tail(replicated::dirty_tail, dirty_tail, n_segs, sink_);
	out.on_tails(key_tail, dirty_tail);

	if (!opts_.header_only) {
		walk_segments(sb, info.current(), out);
		if (!opts_.skip_log)
			walk_log(key_tail, dirty_tail, out);
	}
	out.on_end();
}

bool walker::read_superblock(superblock &sb)
{
	// XML given where a cache is expected is a usage mistake, not damage.
	auto refuse_xml = [&] {
		if (dev_.size() && looks_like_xml(dev_))
			throw format_error(dev_.path() +
					   ": this looks like XML, not a cache device or image "
					   "(pcache_restore turns pcache_dump's XML into a cache)");
	};
	if (dev_.size() < PCACHE_SB_OFF + sizeof(pcache_sb)) {
		refuse_xml();
		throw format_error(dev_.path() + ": too small to be a pcache cache (" +
				   std::to_string(dev_.size()) + " bytes; the superblock ends at byte " +
				   std::to_string(PCACHE_SB_OFF + sizeof(pcache_sb)) + ")");
	}
	pcache_sb raw;
	dev_.read(PCACHE_SB_OFF, &raw, sizeof(raw));
	sb = decode(raw);
	if (sb.magic != PCACHE_MAGIC)
		refuse_xml();
	if (check_superblock(sb, dev_.size(), sink_) == severity::fatal)
		return false;
	check_device_size(dev_.size(), sink_);
	return true;
}

bool walker::read_cache_info(const superblock &sb, replica_set<cache_info> &info)
{
	pcache_cache_info raw[PCACHE_META_REPLICAS];
	read_pair(PCACHE_CACHE_INFO_OFF, PCACHE_CACHE_INFO_SIZE, raw);
	info = decode_replicas(raw);
	if (check_replicas(info, replicated::cache_info, sink_) == severity::fatal)
		return false;
	if (check_cache_info(info, sb, sink_) == severity::fatal)
		return false;
	read_stray_cache_info(info.current());
	return true;
}

void walker::read_stray_cache_info(const cache_info &in_use)
{
	pcache_cache_info raw;
	dev_.read(PCACHE_CACHE_INFO_STRAY_OFF, &raw, sizeof(raw));
	check_stray_cache_info(slot_state_of(raw), decode(raw), in_use, sink_);
}

segment_record read_segment_record(device &dev, uint32_t id, uint32_t phys)
{
	// Both seg_info replicas and the seg_gen pair lie in the first
	// 8 KiB + 32 bytes of the segment: one read.
	constexpr size_t kHeaderBytes = PCACHE_SEG_GEN_REPLICA_OFF(PCACHE_META_REPLICAS);
	unsigned char bytes[kHeaderBytes];
	dev.read(segment_offset(phys), bytes, sizeof(bytes));
	pcache_segment_info raw_info[PCACHE_META_REPLICAS];
	pcache_cache_seg_gen raw_gen[PCACHE_META_REPLICAS];
	for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i) {
		std::memcpy(&raw_info[i], bytes + PCACHE_SEG_INFO_REPLICA_OFF(i), sizeof(raw_info[i]));
		std::memcpy(&raw_gen[i], bytes + PCACHE_SEG_GEN_REPLICA_OFF(i), sizeof(raw_gen[i]));
	}
	segment_record rec;
	rec.id = id;
	rec.phys = phys;
	rec.info = decode_replicas(raw_info);
	rec.gen = decode_replicas(raw_gen);
	return rec;
}

void walker::walk_segments(const superblock &sb, const cache_info &ci, metadata_visitor &out)
{
	// n_segs beyond seg_num is reported by the cache_info rules; never
	// walk further than the device holds segments.
	uint32_t n = std::min(ci.n_segs, sb.seg_num);
	segs_.reset(n);
	chain_follower chain(sb.seg_num, n);
	uint32_t phys = ci.seg_id;
	for (uint32_t id = 0; id < n; ++id) {
		segment_record rec = read_segment_record(dev_, id, phys);
		check_replicas(rec.info, replicated::seg_info, sink_, &rec);
		check_replicas(rec.gen, replicated::seg_gen, sink_, &rec);
		check_segment(rec, sink_);
		segs_.set(rec);
		out.on_segment(rec);
		std::optional<uint32_t> next = chain.next(rec, sink_);
		if (!next)
			break;
		phys = *next;
	}
}

bool walker::probe(read_window &win, const cache_pos &pos, kset_probe &p)
{
	p = kset_probe{};
	if (!segs_.known(pos.seg) || !kset_header_fits(pos))
		return false;
	p.device_offset = data_offset(segs_.phys(pos.seg), pos.off);
	pcache_cache_kset_onmedia raw;
	win.read(p.device_offset, &raw, sizeof(raw));
	if (all_zero(&raw, sizeof(raw))) {
		p.state = kset_probe::status::zero;
		return true;
	}
	p.header = decode(raw);
	p.magic_ok = p.header.magic == PCACHE_KSET_MAGIC;
	// key_num is only trusted as a length once bounded: a LAST kset is a
	// bare header, a normal one at most 128 keys, and the bytes must exist.
	p.size = p.header.last() ? PCACHE_KSET_HEADER_SIZE
	       : p.header.key_num <= PCACHE_KSET_KEYS_MAX ? PCACHE_KSET_SIZE(p.header.key_num)
							  : 0;
	p.size_known = p.size && p.device_offset + p.size <= dev_.size();
	if (p.size_known) {
		p.bytes.resize(p.size);
		win.read(p.device_offset, p.bytes.data(), p.size);
		if (p.magic_ok && kset_crc_ok(p.bytes.data(), p.size))
			p.state = kset_probe::status::valid;
	}
	return true;
}

std::vector<byte_range> walker::key_ranges(const kset_probe &p) const
{
	std::vector<byte_range> ranges;
	if (!p.size_known || p.header.last())
		return ranges;
	for (uint32_t i = 0; i < p.header.key_num; ++i) {
		pcache_cache_key_onmedia raw;
		std::memcpy(&raw, p.bytes.data() + PCACHE_KSET_SIZE(i), sizeof(raw));
		cache_key k = decode(raw);
		if (k.len && k.off + k.len > k.off)
			ranges.push_back({k.off, k.off + k.len});
	}
	return ranges;
}

// Where a damaged record at `pos` would end if one header field were
// restored (kset_correction.h): the next record's position, or for a LAST
// kset the start of its next segment.
std::optional<cache_pos> walker::corrected_next(read_window &win, const kset_probe &bad,
						 const cache_pos &pos, std::string &what, bool &corrected)
{
	if (bad.state != kset_probe::status::invalid)
		return std::nullopt;
	auto read = [&](size_t len, unsigned char *out) {
		if (uint64_t(pos.off) + len > PCACHE_SEG_DATA_SIZE || bad.device_offset + len > dev_.size())
			return false;
		win.read(bad.device_offset, out, len);
		return true;
	};
	std::optional<kset_correction> fix = correct_kset_header(bad.header, segs_.size(), read);
	if (!fix)
		return std::nullopt;
	what = "its " + fix->field + " is damaged (the CRC matches with the " + fix->field + " restored)";
	corrected = true;
	if (fix->header.last())
		return cache_pos{fix->header.next_seg(), 0};
	uint64_t next = uint64_t(pos.off) + fix->size();
	if (!kset_header_fits({pos.seg, static_cast<uint32_t>(next)}))
		return std::nullopt;
	return cache_pos{pos.seg, static_cast<uint32_t>(next)};
}

// A valid kset whose declared keys contain the start of another valid
// kset at a key boundary: its key count was damaged (with its CRC made
// valid again), and the "keys" from there on are the next record.  A key
// can never hold the kset magic where a kset has it (its length field
// would be the magic's low half, not a sector multiple), so a magic there
// is never part of a real key.  Returns the number of real keys.
std::optional<uint32_t> walker::swallowed_record(read_window &win, const kset_probe &p, const cache_pos &pos)
{
	if (p.header.last())
		return std::nullopt;
	const uint64_t magic = PCACHE_KSET_MAGIC;
	unsigned char le[8];
	for (unsigned i = 0; i < 8; ++i)
		le[i] = static_cast<unsigned char>(magic >> (8 * i));
	kset_probe inner;
	for (uint32_t m = 1; m < p.header.key_num; ++m) {
		size_t at = PCACHE_KSET_SIZE(m);
		if (std::memcmp(p.bytes.data() + at + 8, le, 8) != 0)
			continue;
		cache_pos cand{pos.seg, static_cast<uint32_t>(pos.off + at)};
		if (probe(win, cand, inner) && inner.state == kset_probe::status::valid)
			return m;
	}
	return std::nullopt;
}

// After a damaged record, the first valid kset within the reach of one
// kset, not beyond 24 zero bytes (the terminator the kernel writes after
// every kset: past one, anything valid is left over from an earlier use
// of the segment, not part of this log).
std::optional<cache_pos> walker::scan_for_kset(read_window &win, const cache_pos &pos)
{
	kset_probe p;
	uint64_t limit = uint64_t(pos.off) + PCACHE_KSET_ONMEDIA_SIZE_MAX + 8;
	for (uint64_t off = uint64_t(pos.off) + 8; off <= limit; off += 8) {
		cache_pos cand{pos.seg, static_cast<uint32_t>(off)};
		if (!kset_header_fits(cand) || !probe(win, cand, p))
			return std::nullopt;
		if (p.state == kset_probe::status::zero)
			return std::nullopt;
		if (p.state == kset_probe::status::valid)
			return cand;
	}
	return std::nullopt;
}

// The record at `pos` is not a valid kset.  Normally that is the end of
// the log; it is damage if the log demonstrably goes on after it: a valid
// kset follows it, one restored header field makes it valid, or a valid
// kset lies within a kset's length before any terminator.  In repair mode
// the walk steps over it and resumes at `resume`.
walker::log_end walker::classify_end(read_window &win, const kset_probe &bad, const cache_pos &pos,
				     log_tracker &log, cache_pos &resume)
{
	location where{record_kind::kset};
	where.kset = pos;
	where.device_offset = bad.device_offset;
	std::vector<byte_range> origin = key_ranges(bad);
	bool too_many = bad.magic_ok && !bad.header.last() && bad.header.key_num > PCACHE_KSET_KEYS_MAX;

	if (too_many) {
		kset_record rec = log.kset_at(pos, bad.header, bad.device_offset);
		check_kset(rec, segs_.size(), sink_);
		if (!opts_.repair)
			return log_end::damaged;
	}

	std::string what;
	bool corrected = false;
	std::optional<cache_pos> next;
	kset_probe after;
	bool resumes = false;
	if (bad.size_known && !bad.magic_ok && kset_crc_ok(bad.bytes.data(), bad.size)) {
		// A valid CRC cannot come from a write cut short: this is a whole
		// kset whose magic was damaged after its CRC was computed.
		what = "it has a bad magic under a valid CRC";
		corrected = true;
		if (bad.header.last())
			next = cache_pos{bad.header.next_seg(), 0};
		else if (uint64_t(pos.off) + bad.size <= PCACHE_SEG_DATA_SIZE - PCACHE_KSET_HEADER_SIZE)
			next = cache_pos{pos.seg, static_cast<uint32_t>(pos.off + bad.size)};
	} else {
		next = corrected_next(win, bad, pos, what, corrected);
	}
	if (next && next->seg < segs_.size() && segs_.known(next->seg) && probe(win, *next, after))
		resumes = after.state == kset_probe::status::valid ||
			  after.state == kset_probe::status::zero;
	if (!resumes && !too_many) {
		// The record's own length, or a LAST kset's target.
		next.reset();
		corrected = false;
		if (bad.size_known && bad.header.last() && bad.magic_ok) {
			cache_pos cand{bad.header.next_seg(), 0};
			if (cand.seg < segs_.size() && segs_.known(cand.seg))
				next = cand;
		} else if (bad.size_known && !bad.header.last()) {
			cache_pos cand{pos.seg, static_cast<uint32_t>(pos.off + bad.size)};
			if (uint64_t(pos.off) + bad.size <= PCACHE_SEG_DATA_SIZE && kset_header_fits(cand))
				next = cand;
		}
		bool terminated = false;
		if (next && probe(win, *next, after)) {
			resumes = after.state == kset_probe::status::valid;
			terminated = after.state == kset_probe::status::zero;
		}
		// A record whose own length ends at a terminator is a kset
		// write cut short: the end of the log.
		if (!resumes && !terminated) {
			next = scan_for_kset(win, pos);
			resumes = next.has_value();
		}
		if (resumes)
			what = bad.magic_ok ? "it fails its CRC" : "it has a bad magic";
	}
	if (too_many && !resumes) {
		next = scan_for_kset(win, pos);
		resumes = next.has_value();
		what = "it claims more than 128 keys";
	}

	if (resumes) {
		std::string detail = corrected
			? "damaged kset: " + what + "; the kernel's replay stops here and loses its keys "
			  "and every key after them"
			: "damaged kset: " + what + " but the log goes on at " + to_string(*next) +
			  "; the kernel's replay stops here and loses every key from here on";
		if (opts_.repair)
			detail += " (--repair: stepped over, its keys skipped)";
		if (!too_many)
			sink_.report({damage_kind::kset_damaged, where, detail, origin});
		if (!opts_.repair)
			return log_end::damaged;
		if (next->seg != pos.seg && !log.enter_segment(next->seg, nullptr, sink_))
			return log_end::damaged;
		log.skipped();
		resume = *next;
		return log_end::resumed;
	}
	if (too_many)
		return log_end::damaged;
	// (A kset write cut short there leaves the magic intact, or zero if
	// only the first header word made it.)
	if (entered_by_last_ && pos.off == 0 && !bad.magic_ok && bad.header.magic != 0) {
		// The kernel zeroes the start of a key segment before the LAST
		// kset that leads there: this is not the log's segment.
		sink_.report({damage_kind::last_kset_target_invalid, where,
			      "a LAST kset leads to cache segment " + std::to_string(pos.seg) +
				      ", whose data area starts with neither a kset nor zeros (it holds "
				      "something else); the log cannot be followed",
			      {}});
		return log_end::damaged;
	}
	if (bad.magic_ok)
		sink_.report({damage_kind::log_torn_end, where,
			      "the log ends with a kset that fails its CRC: an interrupted kset write "
			      "(its keys were never acknowledged as persistent) or damage",
			      origin});
	else
		sink_.report({damage_kind::log_end_not_zeroed, where,
			      "the log ends at bytes that are neither zero nor a kset (the kernel "
			      "zeroes the header after every kset it writes)",
			      {}});
	return log_end::ended;
}

void walker::walk_log(const replica_set<pos_record> &key_tail,
		      const replica_set<pos_record> &dirty_tail, metadata_visitor &out)
{
	uint32_t n = segs_.size();
	if (!key_tail.any_valid() || !tail_in_range(key_tail.current().pos, n))
		return;	// reported by the tail rules
	std::optional<cache_pos> dirty;
	if (dirty_tail.any_valid() && tail_in_range(dirty_tail.current().pos, n))
		dirty = dirty_tail.current().pos;

	cache_pos pos = key_tail.current().pos;
	entered_by_last_ = false;
	log_tracker log(segs_, pos, dirty);
	read_window win(dev_);
	out.on_begin_log();
	log.enter_segment(pos.seg, nullptr, sink_);
	bool complete = true;
	kset_probe p;

	for (;;) {
		if (!log.reachable(pos, sink_)) {
			complete = false;
			break;
		}
		try {
			probe(win, pos, p);
		} catch (const io_error &e) {
			location where{record_kind::kset};
			where.kset = pos;
			where.device_offset = data_offset(segs_.phys(pos.seg), pos.off);
			sink_.report({damage_kind::read_error, where, e.what(), {}});
			complete = false;
			break;
		}
		if (p.state == kset_probe::status::zero)
			break;	// the terminator the kernel writes after every kset
		if (p.state == kset_probe::status::invalid) {
			cache_pos resume;
			log_end end = classify_end(win, p, pos, log, resume);
			if (end == log_end::resumed) {
				entered_by_last_ = resume.seg != pos.seg;
				pos = resume;
				continue;
			}
			complete = end == log_end::ended;
			break;
		}

		kset_record rec = log.kset_at(pos, p.header, p.device_offset);
		severity s = check_kset(rec, n, sink_);
		log.add(rec);
		if (rec.header.last()) {
			out.on_last_kset(rec);
			uint32_t next = rec.header.next_seg();
			if (next >= n || !log.enter_segment(next, &rec, sink_)) {
				complete = false;
				break;
			}
			pos = {next, 0};
			entered_by_last_ = true;
			continue;
		}
		entered_by_last_ = false;
		uint32_t keys = rec.header.key_num;
		if (std::optional<uint32_t> inner = swallowed_record(win, p, pos)) {
			// In repair mode the kset keeps the keys before the record
			// it swallowed, and the walk goes on at that record.
			location where = kset_location(rec);
			sink_.report({damage_kind::kset_swallows_next, where,
				      "it claims " + std::to_string(keys) + " keys, but a valid kset starts at " +
					      to_string({pos.seg, static_cast<uint32_t>(pos.off + PCACHE_KSET_SIZE(*inner))}) +
					      " after its key " + std::to_string(*inner - 1) +
					      ": its key count is damaged; the kernel's replay reads that record as keys "
					      "and loses the log after it" +
					      (opts_.repair ? " (--repair: the kset ends there)" : ""),
				      {}});
			if (opts_.repair)
				keys = *inner;
		}
		out.on_kset(rec);
		for (uint32_t i = 0; i < keys; ++i) {
			pcache_cache_key_onmedia raw;
			std::memcpy(&raw, p.bytes.data() + PCACHE_KSET_SIZE(i), sizeof(raw));
			key_record key = log.key(decode(raw), rec, i, p.device_offset + PCACHE_KSET_SIZE(i));
			check_key(key, n, sink_);
			out.on_key(key);
		}
		uint64_t next_off = uint64_t(pos.off) + PCACHE_KSET_SIZE(keys);
		if (s >= severity::error || !kset_header_fits({pos.seg, static_cast<uint32_t>(next_off)})) {
			// Overrun: the record that would follow lies outside the
			// data area (reported by check_kset).
			complete = false;
			break;
		}
		pos.off = static_cast<uint32_t>(next_off);
	}
	log.finish(pos, complete, sink_);
	out.on_end_log(log.summary());
}

} // namespace pcache
