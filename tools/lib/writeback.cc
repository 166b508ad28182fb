#include "writeback.h"

#include "decode.h"
#include "layout.h"
#include "logical_map.h"
#include "payload_verifier.h"
#include "replica_update.h"
#include "walker.h"

#include <algorithm>

namespace pcache {
namespace {

// Keeps what the plan needs from the walk.
class plan_collector : public metadata_visitor, public extent_sink {
public:
	explicit plan_collector(writeback_plan &plan) : plan_(plan) {}

	void on_superblock(const superblock &sb) override { seg_num_ = sb.seg_num; }
	void on_cache_info(const replica_set<cache_info> &info) override
	{
		segs_.reset(std::min(info.current().n_segs, seg_num_));
	}
	void on_tails(const replica_set<pos_record> &, const replica_set<pos_record> &dirty) override
	{
		plan_.dirty_tail_found = dirty;
		plan_.dirty_tail_known = dirty.any_valid();
		if (dirty.any_valid())
			plan_.dirty_tail = dirty.current().pos;
	}
	void on_segment(const segment_record &seg) override { segs_.set(seg); }
	void on_end_log(const log_summary &s) override { plan_.end = s.end; }
	void on_extent(const extent &e) override
	{
		if (!e.dirty || !segs_.known(e.seg))
			return;
		plan_.extents.push_back({e.off, e.len, data_offset(segs_.phys(e.seg), e.seg_off), e.order});
		plan_.bytes += e.len;
	}

private:
	writeback_plan &plan_;
	uint32_t seg_num_ = 0;
	segment_table segs_;
};

} // namespace

writeback_plan plan_writeback(device &cache, damage_sink &sink, bool verify_data)
{
	writeback_plan plan;
	damage_tally tally(&sink);
	logical_map map(tally);
	payload_verifier payloads(cache, tally);
	plan_collector collect(plan);
	std::vector<metadata_visitor *> sinks{&map, &collect};
	if (verify_data)
		sinks.push_back(&payloads);
	visitor_tee tee(sinks);
	walker(cache, tally, {}).walk(tee);
	map.resolve(&collect);
	plan.worst = tally.worst();
	// The order the cache took the writes in; within a key, origin order.
	std::stable_sort(plan.extents.begin(), plan.extents.end(),
			 [](const dirty_extent &a, const dirty_extent &b) { return a.order < b.order; });
	return plan;
}

writeback_result run_writeback(device &cache, const writeback_plan &plan, device &origin,
			       const writeback_options &opts)
{
	writeback_result res;
	std::vector<unsigned char> buf;
	uint64_t done = 0;
	for (const dirty_extent &e : plan.extents) {
		if (opts.stop && opts.stop->load()) {
			res.interrupted = true;
			break;
		}
		buf.resize(e.len);
		bool read_ok = false;
		try {
			cache.read(e.cache_offset, buf.data(), e.len);
			read_ok = true;
			origin.write(e.off, buf.data(), e.len);
			++res.extents;
			res.bytes += e.len;
		} catch (const io_error &err) {
			res.failed.push_back({e.off, e.off + e.len,
					      (read_ok ? "cannot write the origin: " : "cannot read the cache: ") +
						      std::string(err.what())});
		}
		done += e.len;
		if (opts.progress)
			opts.progress(done, plan.bytes);
	}
	try {
		origin.flush();
		res.flushed = true;
	} catch (const io_error &err) {
		res.failed.push_back({0, 0, std::string("cannot flush the origin: ") + err.what()});
	}
	return res;
}

void mark_clean(device &cache, const writeback_plan &plan)
{
	pos_record want;
	want.pos = plan.end;
	auto same = [](const pos_record &a, const pos_record &b) { return a.pos == b.pos; };
	settle_replicas(cache, PCACHE_DIRTY_TAIL_OFF(0), sizeof(pcache_cache_pos_onmedia), plan.dirty_tail_found, want,
			same);
	cache.flush();
	pcache_cache_pos_onmedia back[PCACHE_META_REPLICAS];
	for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i)
		cache.read(PCACHE_DIRTY_TAIL_OFF(i), &back[i], sizeof(back[i]));
	auto now = decode_replicas(back);
	if (!now.any_valid() || now.current().pos != plan.end)
		throw io_error(cache.path() + ": the new dirty_tail did not read back as the one in use");
}

} // namespace pcache
