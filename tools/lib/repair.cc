#include "repair.h"

#include "cache_check.h"
#include "encode.h"
#include "layout.h"
#include "rules.h"
#include "repair_headers.h"
#include "repair_keys.h"
#include "repair_layout.h"
#include "repair_log.h"
#include "repair_tails.h"

namespace pcache {
namespace {

class errors_only : public damage_sink {
public:
	explicit errors_only(damage_list &list) : list_(list) {}
	void report(const damage &d) override
	{
		if (d.level() >= severity::error && list_.items.size() < 20)
			list_.items.push_back(d);
	}

private:
	damage_list &list_;
};

// dirty_tail is not on the log from key_tail: either the log is damaged
// before it (then, if it names a valid kset, the log starts there: what
// came before was written back) or dirty_tail itself is wrong (then
// everything from key_tail is treated as dirty).
bool start_at_dirty_tail(repair_state &st, const log_model &m)
{
	if (m.dirty_from)
		return false;
	// A walk that met damage, or that found nothing but garbage at
	// key_tail, does not speak against dirty_tail.
	bool doubtful = m.damaged || m.cut || !m.torn.empty() || m.entries.empty();
	if (!doubtful || st.key_tail == st.dirty_tail || probe_record(st.out, st, st.dirty_tail) != record_at::kset)
		return false;
	st.key_tail = st.dirty_tail;
	st.key_tail_why = "the log from key_tail is damaged before dirty_tail " + to_string(st.dirty_tail) +
			  "; the log starts at dirty_tail (the ksets before it were written back already)";
	return true;
}

bool settle_dirty_tail(repair_state &st, const log_model &m)
{
	if (m.dirty_from)
		return false;
	std::string was = to_string(st.dirty_tail);
	st.dirty_tail = st.key_tail;
	st.dirty_tail_why = "dirty_tail " + was + " is not a kset on the log from key_tail; everything from "
			    "key_tail is treated as dirty (clean data may be written back twice, which is harmless)";
	return true;
}

// The log ends where it should have gone on into another segment: a LAST
// kset leads to a segment that is not the log's, or the last record was
// damaged and left out, or is a kset none of whose keys can be placed (a
// LAST kset damaged into one).  If exactly one segment that starts with a
// valid kset is not on the log, that is where it went on: a LAST kset
// leading there is written at that point and the log is walked again.
bool continue_log(repair_state &st, const log_model &m)
{
	if (m.entries.empty())
		return false;
	const log_entry &last = m.entries.back();
	bool lost_end = last.kind == log_entry::type::lost && !last.restored && m.segments.back().seg == m.end.seg &&
			!m.last_leads_nowhere;
	bool garbage_end = false;
	if (last.kind == log_entry::type::kset && last.keys && !m.last_leads_nowhere) {
		garbage_end = true;
		for (uint32_t i = 0; i < last.keys; ++i)
			garbage_end &= !key_is_sound(m.keys[last.first_key + i].key, st.n_segs());
	}
	if (!m.last_leads_nowhere && !lost_end && !garbage_end)
		return false;
	std::vector<bool> on_log(st.n_segs(), false);
	for (const log_segment &s : m.segments)
		on_log[s.seg] = true;
	std::optional<uint32_t> only;
	for (uint32_t s = 0; s < st.n_segs(); ++s) {
		if (on_log[s] || probe_record(st.out, st, {s, 0}) != record_at::kset)
			continue;
		if (only)
			return false;	// more than one: no way to tell
		only = s;
	}
	if (!only)
		return false;
	// Where the new LAST kset goes: over the damaged LAST kset or record.
	const log_entry *at = m.nowhere_entry ? &m.entries[*m.nowhere_entry] : &last;
	if (uint64_t(at->pos.off) + 2 * PCACHE_KSET_HEADER_SIZE > PCACHE_SEG_DATA_SIZE)
		return false;
	std::vector<unsigned char> rec = encode_last_kset(*only, PCACHE_KSET_FLAGS_LAST);
	st.out.write(data_offset(st.phys[at->pos.seg], at->pos.off), rec.data(), rec.size());
	location where{record_kind::kset};
	where.kset = at->pos;
	where.device_offset = data_offset(st.phys[at->pos.seg], at->pos.off);
	st.report.change(change_kind::log_rewritten, where,
			 "the log led nowhere from here (" +
				 (m.cut ? *m.cut : std::string("a damaged record")) +
				 "); a LAST kset here now leads to cache segment " + std::to_string(*only) +
				 ", the only segment starting with a kset that the log did not reach");
	return true;
}

// Records cut short at the end of the log: their keys are listed as
// possibly lost.
void report_torn(repair_state &st, const log_model &m)
{
	for (const cache_pos &p : m.torn) {
		std::vector<cache_key> keys = keys_at_log_end(st, p);
		location where{record_kind::kset};
		where.kset = p;
		where.device_offset = data_offset(st.phys[p.seg], p.off);
		for (const cache_key &k : keys) {
			lost_range r;
			r.range = {k.off, k.end()};
			r.dirty = m.dirty_from.has_value() && !k.clean();
			r.torn = true;
			r.where = where;
			r.reason = "a kset cut short at the end of the log: an interrupted write, whose keys "
				   "were never acknowledged as durable, or damage that looks the same; left as it is";
			st.report.lose(r);
		}
		if (keys.empty())
			st.report.note("note: the log ends at " + to_string(p) +
				       " with bytes that are not a kset (an interrupted write, or damage); left as "
				       "they are");
	}
}

} // namespace

repair_plan plan_repair(device &dev)
{
	repair_plan plan;
	plan.state = std::make_unique<repair_state>(dev, plan.report);
	repair_state &st = *plan.state;

	repair_superblock(st);
	repair_cache_info_and_chain(st);
	repair_tails(st);
	log_model m = collect_log(st);
	if (start_at_dirty_tail(st, m)) {
		write_tails(st, false);
		m = collect_log(st);
	}
	// Every round adds a segment to the log.
	for (uint32_t round = 0; round < st.n_segs() && continue_log(st, m); ++round)
		m = collect_log(st);
	if (settle_dirty_tail(st, m)) {
		write_tails(st, false);
		m = collect_log(st);
	}
	report_torn(st, m);
	judge_keys(st, m);
	lay_out_log(st, m);
	write_tails(st);

	errors_only keep(plan.result_damage);
	plan.result = check_cache(st.out, keep, false).worst;
	return plan;
}

} // namespace pcache
