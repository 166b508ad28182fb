#include "xml_reader.h"

#include "device.h"
#include "encode.h"
#include "layout.h"
#include "log_tracker.h"
#include "rules.h"
#include "segment_table.h"
#include "xml_attributes.h"
#include "xml_schema.h"

#include <expat.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <array>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace pcache {
namespace {

using namespace xml;

// Damage found while reading gets the line of the element that caused it.
class line_stamper : public damage_sink {
public:
	explicit line_stamper(damage_sink &next) : next_(next) {}
	void report(const damage &d) override
	{
		damage copy = d;
		if (line_)
			copy.where.input_line = line_;
		worst_ = std::max(worst_, d.level());
		next_.report(copy);
	}
	void set_line(uint64_t line) { line_ = line; }
	severity worst() const { return worst_; }

private:
	damage_sink &next_;
	uint64_t line_ = 0;
	severity worst_ = severity::none;
};

// The root's children come in this order.
enum class stage { none, superblock, cache_info, key_tail, dirty_tail, segments, log, end };

struct pending_key {
	cache_key key;
	uint64_t line;
};

class reader {
public:
	reader(metadata_visitor &out, damage_sink &damage, const xml_read_options &opts)
		: out_(out), damage_(damage), opts_(opts)
	{
	}
	~reader()
	{
		if (parser_)
			XML_ParserFree(parser_);
	}

	void parse(const std::string &path);

	// Element readers (see rule_for).
	void superblock_element(xml_attributes &a);
	void cache_info_element(xml_attributes &a);
	void key_tail_element(xml_attributes &a);
	void dirty_tail_element(xml_attributes &a);
	void segments_element(xml_attributes &a);
	void segment_start(xml_attributes &a);
	void seg_info_element(xml_attributes &a);
	void seg_gen_element(xml_attributes &a);
	void log_element(xml_attributes &a);
	void kset_start(xml_attributes &a);
	void key_element(xml_attributes &a);
	void last_kset_element(xml_attributes &a);

private:
	static void XMLCALL on_start(void *self, const XML_Char *name, const XML_Char **atts);
	static void XMLCALL on_finish(void *self, const XML_Char *name);
	static void XMLCALL on_text(void *self, const XML_Char *s, int len);
	template <typename F>
	void guarded(F f);
	[[noreturn]] void fail(const std::string &msg) { throw xml_error(msg); }
	uint64_t line() const { return XML_GetCurrentLineNumber(parser_); }

	void start(const std::string &name, const char **atts);
	void finish(const std::string &name);
	void enter_stage(stage next, const std::string &name);
	void advance_to(stage next);
	bool stop_on_fatal(severity s);

	void root(const std::string &name, xml_attributes &a);
	void tail_element(replica_set<pos_record> &set, const char *name, xml_attributes &a);
	void flush_cache_info();
	void flush_tails();
	void segment_end();
	void segments_end();
	void log_start();
	void log_end();
	void check_position(const char *what, const cache_pos &pos);
	void kset_end();
	uint64_t device_offset_of(const cache_pos &pos, uint64_t within) const;
	template <typename T>
	unsigned slot_of(replica_set<T> &set, const char *name, xml_attributes &a);
	// Damage about a replicated record points at the element of the copy
	// in use (or at the first one given, when none is valid).
	using slot_lines = std::array<uint64_t, PCACHE_META_REPLICAS>;
	template <typename T>
	void point_at(const replica_set<T> &set, const slot_lines &lines);
	meta_header header_of(xml_attributes &a);

	XML_Parser parser_ = nullptr;
	metadata_visitor &out_;
	line_stamper damage_;
	const xml_read_options &opts_;
	std::string error_;
	bool stopped_ = false;		// by fatal damage: no more to learn
	std::vector<std::string> stack_;
	bool root_seen_ = false;

	stage stage_ = stage::none;
	superblock sb_;
	replica_set<cache_info> info_;
	replica_set<pos_record> key_tail_, dirty_tail_;
	slot_lines info_lines_{}, key_tail_lines_{}, dirty_tail_lines_{};
	slot_lines seg_info_lines_{}, seg_gen_lines_{};
	uint64_t segment_line_ = 0;
	uint32_t n_ = 0;	// segments the chain can hold: min(n_segs, seg_num)

	segment_table segs_;
	std::optional<chain_follower> chain_;
	bool segments_seen_ = false;
	uint32_t next_id_ = 0;
	std::optional<uint32_t> expected_phys_;
	bool chain_ended_ = false;
	segment_record seg_;

	std::optional<log_tracker> log_;
	cache_pos expected_;
	bool log_ended_ = false;	// a damaged link: no position follows
	cache_pos kset_pos_;
	uint64_t kset_flags_ = 0;
	uint64_t kset_line_ = 0;
	std::vector<pending_key> keys_;
};

template <typename F>
void reader::guarded(F f)
{
	if (!error_.empty() || stopped_)
		return;
	try {
		damage_.set_line(line());
		f();
	} catch (const std::exception &e) {
		error_ = "line " + std::to_string(line()) + ": " + e.what();
		XML_StopParser(parser_, XML_FALSE);
	}
	if (stopped_)
		XML_StopParser(parser_, XML_FALSE);
}

void XMLCALL reader::on_start(void *self, const XML_Char *name, const XML_Char **atts)
{
	auto r = static_cast<reader *>(self);
	r->guarded([&] { r->start(name, atts); });
}

void XMLCALL reader::on_finish(void *self, const XML_Char *name)
{
	auto r = static_cast<reader *>(self);
	r->guarded([&] { r->finish(name); });
}

void XMLCALL reader::on_text(void *self, const XML_Char *s, int len)
{
	auto r = static_cast<reader *>(self);
	r->guarded([&] {
		for (int i = 0; i < len; ++i)
			if (!std::strchr(" \t\r\n", s[i]))
				r->fail("unexpected text '" + std::string(s + i, std::min(len - i, 20)) +
					"' (only elements and attributes carry data)");
	});
}

bool reader::stop_on_fatal(severity s)
{
	if (s == severity::fatal)
		stopped_ = true;
	return stopped_;
}

// Where each element may appear, which stage of the root it opens (if
// it is a child of the root), and who reads it.
struct element_rule {
	const char *name;
	const char *parent;
	stage opens;
	void (reader::*read)(xml_attributes &);
};

const element_rule *rule_for(const std::string &name)
{
	static const element_rule rules[] = {
		{kSuperblock, kRoot, stage::superblock, &reader::superblock_element},
		{kCacheInfo, kRoot, stage::cache_info, &reader::cache_info_element},
		{kKeyTail, kRoot, stage::key_tail, &reader::key_tail_element},
		{kDirtyTail, kRoot, stage::dirty_tail, &reader::dirty_tail_element},
		{kSegments, kRoot, stage::segments, &reader::segments_element},
		{kSegment, kSegments, stage::none, &reader::segment_start},
		{kSegInfo, kSegment, stage::none, &reader::seg_info_element},
		{kSegGen, kSegment, stage::none, &reader::seg_gen_element},
		{kLog, kRoot, stage::log, &reader::log_element},
		{kKset, kLog, stage::none, &reader::kset_start},
		{kKey, kKset, stage::none, &reader::key_element},
		{kLastKset, kLog, stage::none, &reader::last_kset_element},
	};
	for (const auto &rule : rules)
		if (name == rule.name)
			return &rule;
	return nullptr;
}

void reader::start(const std::string &name, const char **atts)
{
	xml_attributes a(name.c_str(), atts);
	const std::string parent = stack_.empty() ? "" : stack_.back();
	if (parent.empty()) {
		if (root_seen_)
			fail("a second top-level element <" + name + ">");
		root(name, a);
	} else {
		const element_rule *rule = rule_for(name);
		if (!rule)
			fail("unknown element <" + name + ">");
		if (parent != rule->parent)
			fail("<" + name + "> is not allowed inside <" + parent + "> (it belongs inside <" +
			     rule->parent + ">)");
		if (rule->opens != stage::none)
			enter_stage(rule->opens, name);
		(this->*rule->read)(a);
	}
	stack_.push_back(name);
}

void reader::key_tail_element(xml_attributes &a) { tail_element(key_tail_, kKeyTail, a); }
void reader::dirty_tail_element(xml_attributes &a) { tail_element(dirty_tail_, kDirtyTail, a); }
void reader::segments_element(xml_attributes &a) { a.done(); }

void reader::log_element(xml_attributes &a)
{
	a.done();
	log_start();
}

void reader::finish(const std::string &name)
{
	stack_.pop_back();
	if (name == kSegment)
		segment_end();
	else if (name == kSegments)
		segments_end();
	else if (name == kKset)
		kset_end();
	else if (name == kLog)
		log_end();
	else if (name == kRoot) {
		if (stage_ < stage::cache_info)
			fail("</" + std::string(kRoot) + "> without <" + kSuperblock + "> and <" + kCacheInfo + ">");
		advance_to(stage::end);
		if (stopped_)
			return;
		if (!segments_seen_)
			fail("</" + std::string(kRoot) + "> without <" + kSegments + ">: the segment chain is missing");
		out_.on_end();
	}
}

void reader::root(const std::string &name, xml_attributes &a)
{
	root_seen_ = true;
	if (name == kLogicalRoot)
		fail("this is a logical map (pcache_dump --logical), a view that cannot be restored; "
		     "restore a plain pcache_dump");
	if (name != kRoot)
		fail("the document must start with <" + std::string(kRoot) + ">, not <" + name + ">");
	uint64_t version = a.number(kFormatVersionAttr, UINT32_MAX);
	a.done();
	if (version != kFormatVersion)
		fail("format_version " + std::to_string(version) + " is not supported (this pcache_restore reads " +
		     std::to_string(kFormatVersion) + ")");
}

void reader::enter_stage(stage next, const std::string &name)
{
	static const char *names[] = {"", kSuperblock, kCacheInfo, kKeyTail, kDirtyTail, kSegments, kLog};
	if (next < stage_)
		fail("<" + name + "> must come before <" + names[int(stage_)] + ">");
	bool repeatable = next == stage::cache_info || next == stage::key_tail || next == stage::dirty_tail;
	if (next == stage_ && !repeatable)
		fail("a second <" + name + ">");
	if (next != stage::superblock && stage_ == stage::none)
		fail("<" + name + "> before <" + std::string(kSuperblock) + ">");
	if (next > stage::cache_info && stage_ < stage::cache_info)
		fail("<" + name + "> before any <" + std::string(kCacheInfo) + ">");
	if (next != stage_)
		advance_to(next);
}

// The records of a stage are judged, and emitted, once the stage is over.
void reader::advance_to(stage next)
{
	if (stage_ == stage::cache_info && next > stage::cache_info)
		flush_cache_info();
	if (!stopped_ && stage_ >= stage::cache_info && stage_ <= stage::dirty_tail &&
	    next > stage::dirty_tail)
		flush_tails();
	stage_ = next;
}

void reader::superblock_element(xml_attributes &a)
{
	sb_.seg_num = static_cast<uint32_t>(a.number(kSegNum, UINT32_MAX));
	sb_.flags = static_cast<uint32_t>(a.number_or(kFlags, UINT32_MAX, 0));
	sb_.pad = static_cast<uint32_t>(a.number_or(kPad, UINT32_MAX, 0));
	a.done();
	sb_.magic = PCACHE_MAGIC;
	sb_.crc = encode(sb_).crc;
	if (stop_on_fatal(check_superblock(sb_, opts_.device_size, damage_)))
		return;
	if (opts_.device_size)
		check_device_size(opts_.device_size, damage_);
	out_.on_superblock(sb_);
}

meta_header reader::header_of(xml_attributes &a)
{
	meta_header h;
	h.seq = static_cast<uint8_t>(a.number(kSeq, UINT8_MAX));
	h.version = static_cast<uint8_t>(a.number_or(kVersion, UINT8_MAX, 0));
	h.res = static_cast<uint16_t>(a.number_or(kRes, UINT16_MAX, 0));
	return h;
}

template <typename T>
void reader::point_at(const replica_set<T> &set, const slot_lines &lines)
{
	if (set.any_valid())
		damage_.set_line(lines[*set.chosen]);
	else if (lines[0] || lines[1])
		damage_.set_line(lines[0] ? lines[0] : lines[1]);
}

template <typename T>
unsigned reader::slot_of(replica_set<T> &set, const char *name, xml_attributes &a)
{
	auto slot = static_cast<unsigned>(a.number(kSlot, PCACHE_META_REPLICAS - 1));
	if (set.state[slot] == slot_state::valid)
		fail("<" + std::string(name) + "> slot " + std::to_string(slot) + " is given twice");
	set.state[slot] = slot_state::valid;
	return slot;
}

void reader::cache_info_element(xml_attributes &a)
{
	unsigned slot = slot_of(info_, kCacheInfo, a);
	info_lines_[slot] = line();
	cache_info &ci = info_.value[slot];
	ci.header = header_of(a);
	ci.seg_id = static_cast<uint32_t>(a.number(kSegId, UINT32_MAX));
	ci.n_segs = static_cast<uint32_t>(a.number(kNSegs, UINT32_MAX));
	uint32_t mode;
	std::string mode_text = a.text(kMode);
	uint64_t mode_number;
	if (!parse_cache_mode(mode_text, mode)) {
		if (!parse_number(mode_text, 15, mode_number))
			fail("<cache_info> attribute mode: '" + mode_text +
			     "' is not writeback, writethrough, writearound, writeonly, passthrough or 0..15");
		mode = static_cast<uint32_t>(mode_number);
	}
	auto gc = static_cast<uint32_t>(a.number(kGcPercent, PCACHE_CACHE_FLAGS_GC_MASK >> PCACHE_CACHE_FLAGS_GC_SHIFT));
	uint32_t flags = (a.boolean(kDataCrc) ? PCACHE_CACHE_FLAGS_DATA_CRC : 0) |
			 (a.boolean(kInitDone) ? PCACHE_CACHE_FLAGS_INIT_DONE : 0) |
			 mode << PCACHE_CACHE_FLAGS_MODE_SHIFT | gc << PCACHE_CACHE_FLAGS_GC_SHIFT |
			 (a.boolean_or(kNeedsCheck, false) ? PCACHE_CACHE_FLAGS_NEEDS_CHECK : 0);
	auto extra = static_cast<uint32_t>(a.number_or(kExtraFlags, UINT32_MAX, 0));
	if (extra & PCACHE_CACHE_FLAGS_KNOWN)
		fail("<cache_info> attribute extra_flags: bits " + std::to_string(extra & PCACHE_CACHE_FLAGS_KNOWN) +
		     " have their own attributes");
	ci.flags = flags | extra;
	ci.reserved = static_cast<uint32_t>(a.number_or(kReserved, UINT32_MAX, 0));
	a.done();
}

void reader::flush_cache_info()
{
	info_.choose();
	point_at(info_, info_lines_);
	if (stop_on_fatal(check_replicas(info_, replicated::cache_info, damage_)) ||
	    stop_on_fatal(check_cache_info(info_, sb_, damage_)))
		return;
	n_ = std::min(info_.current().n_segs, sb_.seg_num);
	segs_.reset(n_);
	chain_.emplace(sb_.seg_num, n_);
	expected_phys_ = info_.current().seg_id;
	out_.on_cache_info(info_);
}

void reader::tail_element(replica_set<pos_record> &set, const char *name, xml_attributes &a)
{
	unsigned slot = slot_of(set, name, a);
	(&set == &key_tail_ ? key_tail_lines_ : dirty_tail_lines_)[slot] = line();
	pos_record &p = set.value[slot];
	p.header = header_of(a);
	p.pos.seg = static_cast<uint32_t>(a.number(kSeg, UINT32_MAX));
	p.pos.off = static_cast<uint32_t>(a.number(kOff, UINT32_MAX));
	a.done();
}

void reader::flush_tails()
{
	key_tail_.choose();
	dirty_tail_.choose();
	uint32_t n_segs = info_.current().n_segs;
	point_at(key_tail_, key_tail_lines_);
	check_replicas(key_tail_, replicated::key_tail, damage_);
	if (key_tail_.any_valid())
		check_tail(replicated::key_tail, key_tail_, n_segs, damage_);
	damage_.set_line(line());
	point_at(dirty_tail_, dirty_tail_lines_);
	check_replicas(dirty_tail_, replicated::dirty_tail, damage_);
	if (dirty_tail_.any_valid())
		check_tail(replicated::dirty_tail, dirty_tail_, n_segs, damage_);
	out_.on_tails(key_tail_, dirty_tail_);
}

void reader::segment_start(xml_attributes &a)
{
	auto id = static_cast<uint32_t>(a.number(kId, UINT32_MAX));
	auto phys = static_cast<uint32_t>(a.number(kPhys, UINT32_MAX));
	a.done();
	if (chain_ended_)
		fail("<segment id=\"" + std::to_string(id) + "\"> follows the end of the chain (segment " +
		     std::to_string(next_id_ ? next_id_ - 1 : 0) + " has no usable next link)");
	if (id != next_id_)
		fail("segments must be listed in chain order: expected id " + std::to_string(next_id_) +
		     ", found " + std::to_string(id));
	if (id >= n_)
		fail("segment id " + std::to_string(id) + " is beyond the cache's " + std::to_string(n_) +
		     " segments (n_segs " + std::to_string(info_.current().n_segs) + ", seg_num " +
		     std::to_string(sb_.seg_num) + ")");
	if (phys >= sb_.seg_num)
		fail("segment id " + std::to_string(id) + ": physical segment " + std::to_string(phys) +
		     " is beyond seg_num " + std::to_string(sb_.seg_num));
	if (expected_phys_ && phys != *expected_phys_)
		fail("segment id " + std::to_string(id) + ": phys " + std::to_string(phys) +
		     " but the chain leads to physical segment " + std::to_string(*expected_phys_));
	if (chain_->seen(phys))
		fail("segment id " + std::to_string(id) + ": physical segment " + std::to_string(phys) +
		     " is already in the chain");
	seg_ = segment_record{};
	seg_.id = id;
	seg_.phys = phys;
	segment_line_ = line();
	seg_info_lines_ = {};
	seg_gen_lines_ = {};
}

void reader::seg_info_element(xml_attributes &a)
{
	unsigned slot = slot_of(seg_.info, kSegInfo, a);
	seg_info_lines_[slot] = line();
	segment_info &si = seg_.info.value[slot];
	si.header = header_of(a);
	bool has_next = a.boolean(kHasNext);
	auto type = static_cast<uint32_t>(a.number(kType, PCACHE_SEG_INFO_TYPE_MASK >> PCACHE_SEG_INFO_TYPE_SHIFT));
	si.next_seg = static_cast<uint32_t>(a.number(kNext, UINT32_MAX));
	auto extra = static_cast<uint32_t>(a.number_or(kExtraFlags, UINT32_MAX, 0));
	a.done();
	uint32_t known = PCACHE_SEG_INFO_FLAGS_HAS_NEXT | PCACHE_SEG_INFO_TYPE_MASK;
	if (extra & known)
		fail("<seg_info> attribute extra_flags: bits " + std::to_string(extra & known) +
		     " have their own attributes");
	si.flags = (has_next ? PCACHE_SEG_INFO_FLAGS_HAS_NEXT : 0) | type << PCACHE_SEG_INFO_TYPE_SHIFT | extra;
}

void reader::seg_gen_element(xml_attributes &a)
{
	unsigned slot = slot_of(seg_.gen, kSegGen, a);
	seg_gen_lines_[slot] = line();
	seg_gen &g = seg_.gen.value[slot];
	g.header = header_of(a);
	g.gen = a.number(kGen, UINT64_MAX);
	a.done();
}

void reader::segment_end()
{
	seg_.info.choose();
	seg_.gen.choose();
	damage_.set_line(segment_line_);
	point_at(seg_.info, seg_info_lines_);
	check_replicas(seg_.info, replicated::seg_info, damage_, &seg_);
	check_segment(seg_, damage_);
	damage_.set_line(segment_line_);
	point_at(seg_.gen, seg_gen_lines_);
	check_replicas(seg_.gen, replicated::seg_gen, damage_, &seg_);
	segs_.set(seg_);
	out_.on_segment(seg_);
	++next_id_;
	damage_.set_line(segment_line_);
	point_at(seg_.info, seg_info_lines_);
	expected_phys_ = chain_->next(seg_, damage_);
	if (!expected_phys_)
		chain_ended_ = true;
}

void reader::segments_end()
{
	segments_seen_ = true;
	// A chain cut short by damage is reported by the chain rules.
	if (next_id_ < n_ && !chain_ended_)
		fail("n_segs is " + std::to_string(info_.current().n_segs) + " but only " +
		     std::to_string(next_id_) + " segments are listed");
}

uint64_t reader::device_offset_of(const cache_pos &pos, uint64_t within) const
{
	return segs_.known(pos.seg) ? data_offset(segs_.phys(pos.seg), pos.off + within) : 0;
}

void reader::log_start()
{
	if (!segments_seen_)
		fail("<log> before <segments>");
	uint32_t n = segs_.size();
	if (!key_tail_.any_valid() || !tail_in_range(key_tail_.current().pos, n))
		fail("<log> needs a valid key_tail inside the cache (see the key_tail problems above)");
	std::optional<cache_pos> dirty;
	if (dirty_tail_.any_valid() && tail_in_range(dirty_tail_.current().pos, n))
		dirty = dirty_tail_.current().pos;
	expected_ = key_tail_.current().pos;
	log_.emplace(segs_, expected_, dirty);
	out_.on_begin_log();
	log_->enter_segment(expected_.seg, nullptr, damage_);
}

void reader::check_position(const char *what, const cache_pos &pos)
{
	if (log_ended_)
		fail(std::string("<") + what + "> after the end of the walkable log (see the problems above)");
	if (pos != expected_)
		fail(std::string("<") + what + "> at " + to_string(pos) + ", but the log goes on at " +
		     to_string(expected_) + " (ksets follow each other from key_tail without gaps)");
	if (!log_->reachable(pos, damage_))
		log_ended_ = true;
}

void reader::kset_start(xml_attributes &a)
{
	kset_pos_.seg = static_cast<uint32_t>(a.number(kSeg, UINT32_MAX));
	kset_pos_.off = static_cast<uint32_t>(a.number(kOff, UINT32_MAX));
	kset_flags_ = a.number_or(kExtraFlags, UINT64_MAX, 0);
	a.done();
	if (kset_flags_ & PCACHE_KSET_FLAGS_LAST)
		fail("<kset> attribute extra_flags: bit 0 (LAST) is written as <last_kset>");
	check_position(kKset, kset_pos_);
	kset_line_ = line();
	keys_.clear();
}

void reader::key_element(xml_attributes &a)
{
	if (keys_.size() == PCACHE_KSET_KEYS_MAX)
		fail("more than " + std::to_string(PCACHE_KSET_KEYS_MAX) + " keys in one kset");
	cache_key k;
	k.off = a.number(kOff, UINT64_MAX);
	k.len = static_cast<uint32_t>(a.number(kLen, UINT32_MAX));
	k.seg = static_cast<uint32_t>(a.number(kSeg, UINT32_MAX));
	k.seg_off = static_cast<uint32_t>(a.number(kSegOff, UINT32_MAX));
	k.gen = a.number(kGen, UINT64_MAX);
	bool clean = a.boolean_or(kClean, false);
	k.data_crc = static_cast<uint32_t>(a.number_or(kDataCrc, UINT32_MAX, 0));
	auto extra = static_cast<uint32_t>(a.number_or(kExtraFlags, UINT32_MAX, 0));
	k.reserved = static_cast<uint32_t>(a.number_or(kReserved, UINT32_MAX, 0));
	a.done();
	if (extra & PCACHE_KEY_FLAGS_CLEAN)
		fail("<key> attribute extra_flags: bit 1 (CLEAN) is written as clean=\"true\"");
	k.flags = (clean ? PCACHE_KEY_FLAGS_CLEAN : 0) | extra;
	keys_.push_back({k, line()});
}

void reader::kset_end()
{
	kset_header h;
	h.key_num = static_cast<uint32_t>(keys_.size());
	h.magic = PCACHE_KSET_MAGIC;
	h.flags = kset_flags_;
	uint64_t dev = device_offset_of(kset_pos_, 0);
	kset_record rec = log_->kset_at(kset_pos_, h, dev);
	damage_.set_line(kset_line_);
	severity s = check_kset(rec, segs_.size(), damage_);
	log_->add(rec);
	out_.on_kset(rec);
	for (uint32_t i = 0; i < keys_.size(); ++i) {
		damage_.set_line(keys_[i].line);
		key_record kr = log_->key(keys_[i].key, rec, i, dev ? dev + PCACHE_KSET_SIZE(i) : 0);
		check_key(kr, segs_.size(), damage_);
		out_.on_key(kr);
	}
	uint64_t next = uint64_t(kset_pos_.off) + rec.size();
	if (s >= severity::error || !kset_header_fits({kset_pos_.seg, static_cast<uint32_t>(next)}))
		log_ended_ = true;
	else
		expected_.off = static_cast<uint32_t>(next);
}

void reader::last_kset_element(xml_attributes &a)
{
	cache_pos pos;
	pos.seg = static_cast<uint32_t>(a.number(kSeg, UINT32_MAX));
	pos.off = static_cast<uint32_t>(a.number(kOff, UINT32_MAX));
	auto next = static_cast<uint32_t>(a.number(kNext, UINT32_MAX));
	uint64_t extra = a.number_or(kExtraFlags, UINT64_MAX, 0);
	a.done();
	if (extra & PCACHE_KSET_FLAGS_LAST)
		fail("<last_kset> attribute extra_flags: bit 0 (LAST) is implied");
	check_position(kLastKset, pos);
	kset_header h;
	h.key_num = next;
	h.magic = PCACHE_KSET_MAGIC;
	h.flags = PCACHE_KSET_FLAGS_LAST | extra;
	kset_record rec = log_->kset_at(pos, h, device_offset_of(pos, 0));
	check_kset(rec, segs_.size(), damage_);
	log_->add(rec);
	out_.on_last_kset(rec);
	if (next >= segs_.size() || !log_->enter_segment(next, &rec, damage_))
		log_ended_ = true;
	else
		expected_ = {next, 0};
}

void reader::log_end()
{
	damage_.set_line(line());
	point_at(dirty_tail_, dirty_tail_lines_);
	log_->finish(expected_, !log_ended_, damage_);
	out_.on_end_log(log_->summary());
}

std::string expat_message(XML_Parser parser, bool at_end)
{
	XML_Error code = XML_GetErrorCode(parser);
	std::string msg = "line " + std::to_string(XML_GetCurrentLineNumber(parser)) + ": " +
			  XML_ErrorString(code);
	if (at_end && (code == XML_ERROR_NO_ELEMENTS || code == XML_ERROR_UNCLOSED_TOKEN ||
		       code == XML_ERROR_UNCLOSED_CDATA_SECTION || code == XML_ERROR_PARTIAL_CHAR ||
		       code == XML_ERROR_ASYNC_ENTITY))
		msg += " (the file ends early: truncated?)";
	return msg;
}

void reader::parse(const std::string &path)
{
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw io_error(path + ": " + (errno == ENOENT ? std::string("no such file")
							      : std::string(std::strerror(errno))));
	struct stat st;
	::fstat(fd, &st);
	auto total = static_cast<uint64_t>(st.st_size);

	parser_ = XML_ParserCreate("UTF-8");
	XML_SetUserData(parser_, this);
	XML_SetElementHandler(parser_, on_start, on_finish);
	XML_SetCharacterDataHandler(parser_, on_text);

	std::vector<char> buf(1 << 20);
	uint64_t done = 0;
	bool first = true;
	for (;;) {
		ssize_t n = ::read(fd, buf.data(), buf.size());
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			::close(fd);
			throw io_error(path + ": read error: " + std::strerror(err));
		}
		if (first && n > 0) {
			size_t i = 0;
			while (i < size_t(n) && std::strchr(" \t\r\n\xEF\xBB\xBF", buf[i]) && buf[i])
				++i;
			if (i < size_t(n) && buf[i] != '<') {
				::close(fd);
				throw xml_error(path + " is not XML (a cache device or image? pcache_dump turns "
						       "one into XML)");
			}
		}
		first = false;
		bool final = n == 0;
		if (XML_Parse(parser_, buf.data(), static_cast<int>(n), final) == XML_STATUS_ERROR) {
			::close(fd);
			if (!error_.empty())
				throw xml_error(error_);
			if (stopped_)
				return;
			throw xml_error(expat_message(parser_, final));
		}
		done += static_cast<uint64_t>(n);
		if (opts_.progress)
			opts_.progress(done, total);
		if (final)
			break;
	}
	::close(fd);
}

} // namespace

void read_metadata_xml(const std::string &path, metadata_visitor &out, damage_sink &damage,
		       const xml_read_options &opts)
{
	reader r(out, damage, opts);
	r.parse(path);
}

} // namespace pcache
