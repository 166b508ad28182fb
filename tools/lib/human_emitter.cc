#include "human_emitter.h"

#include "text_format.h"

namespace pcache {

void human_emitter::line(const std::string &label, const std::string &text)
{
	std::string l = label;
	if (l.size() < 18)
		l.resize(18, ' ');
	else
		l += ' ';
	out_.write(l + text + "\n");
}

void human_emitter::on_superblock(const superblock &sb)
{
	std::string text = std::to_string(sb.seg_num) + " segments of 16 MiB";
	if (sb.flags)
		text += ", flags " + hex_string(sb.flags);
	line("superblock", text);
}

void human_emitter::on_cache_info(const replica_set<cache_info> &info)
{
	const cache_info &ci = info.current();
	line("cache_info", describe_replicas(info));
	line("", std::to_string(ci.n_segs) + " cache segments from physical segment " +
			 std::to_string(ci.seg_id) + "; flags " + hex_string(ci.flags) + ": " +
			 describe_flags(ci));
}

void human_emitter::on_tails(const replica_set<pos_record> &key_tail,
			     const replica_set<pos_record> &dirty_tail)
{
	auto show = [&](const char *name, const replica_set<pos_record> &set) {
		std::string pos = set.any_valid() ? to_string(set.current().pos) : "none";
		line(name, pos + " (" + describe_replicas(set) + ")");
	};
	show("key_tail", key_tail);
	show("dirty_tail", dirty_tail);
}

void human_emitter::on_segment(const segment_record &seg)
{
	std::string text = "physical " + std::to_string(seg.phys) + ", generation " +
			   std::to_string(seg.generation());
	if (seg.info.any_valid() && seg.info.current().has_next())
		text += ", next physical " + std::to_string(seg.info.current().next_seg);
	line("segment " + std::to_string(seg.id), text);
}

void human_emitter::on_kset(const kset_record &kset)
{
	line("kset " + to_string(kset.pos),
	     std::to_string(kset.header.key_num) + " keys" + (kset.dirty ? ", not written back" : ""));
}

void human_emitter::on_key(const key_record &rec)
{
	const cache_key &k = rec.key;
	std::string text = "[" + std::to_string(k.off) + ", " + std::to_string(k.end()) + ") -> " +
			   std::to_string(k.seg) + ":" + std::to_string(k.seg_off) + " gen " +
			   std::to_string(k.gen);
	text += rec.stale() ? " stale" : rec.dirty() ? " dirty" : " clean";
	if (k.data_crc)
		text += " crc " + hex_string(k.data_crc);
	line("  key " + std::to_string(rec.index), text);
}

void human_emitter::on_last_kset(const kset_record &kset)
{
	line("last kset " + to_string(kset.pos),
	     "log continues in cache segment " + std::to_string(kset.header.next_seg()));
}

void human_emitter::on_end_log(const log_summary &s)
{
	line("log end " + to_string(s.end),
	     std::to_string(s.ksets) + " ksets, " + std::to_string(s.last_ksets) + " LAST, " +
		     std::to_string(s.keys) + " keys (" + std::to_string(s.stale_keys) + " stale), " +
		     std::to_string(s.bytes) + " bytes from " + to_string(s.start));
}

} // namespace pcache
