#include "repair.h"

#include "cache_check.h"
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
bool settle_dirty_tail(repair_state &st, const log_model &m)
{
	if (m.dirty_from)
		return false;
	std::string was = to_string(st.dirty_tail);
	if ((m.damaged || m.cut) && st.key_tail != st.dirty_tail &&
	    probe_record(st.out, st, st.dirty_tail) == record_at::kset) {
		st.key_tail = st.dirty_tail;
		st.key_tail_why = "the log from key_tail is damaged before dirty_tail " + was +
				  "; the log starts at dirty_tail (the ksets before it were written back already)";
		return true;
	}
	st.dirty_tail = st.key_tail;
	st.dirty_tail_why = "dirty_tail " + was + " is not a kset on the log from key_tail; everything from "
			    "key_tail is treated as dirty (clean data may be written back twice, which is harmless)";
	return true;
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
	if (settle_dirty_tail(st, m)) {
		write_tails(st, false);
		m = collect_log(st);
	}
	for (const cache_pos &p : m.torn)
		st.report.note("note: the log ends at " + to_string(p) +
			       " with a kset write cut short (its keys were never acknowledged as durable); "
			       "left as it is");
	judge_keys(st, m);
	lay_out_log(st, m);
	write_tails(st);

	errors_only keep(plan.result_damage);
	plan.result = check_cache(st.out, keep, false).worst;
	return plan;
}

} // namespace pcache
