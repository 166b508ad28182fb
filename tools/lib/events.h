// The records a metadata source (the device walker or the XML reader)
// hands to its sinks, and the sink interface itself.
//
// Sources emit, in this order: on_superblock, on_cache_info, on_tails,
// on_segment for each cache segment in chain order, on_begin_log, then
// on_kset / on_key... / on_last_kset in log order, on_end_log, and finally
// on_end.  A source that meets damage it cannot step over stops early and
// still calls on_end; sinks must cope with a stream that ends anywhere.
#pragma once

#include "records.h"
#include "replica.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace pcache {

struct segment_record {
	uint32_t id = 0;	// logical id (position in the chain)
	uint32_t phys = 0;	// physical segment
	replica_set<segment_info> info;
	replica_set<seg_gen> gen;

	// A missing seg_gen reads as generation 0 (what the kernel does).
	uint64_t generation() const { return gen.any_valid() ? gen.current().gen : 0; }
};

struct kset_record {
	cache_pos pos;
	kset_header header;
	uint64_t device_offset = 0;	// 0 when unknown (XML)
	bool dirty = false;		// at or after dirty_tail

	uint64_t size() const
	{
		return header.last() ? PCACHE_KSET_HEADER_SIZE : PCACHE_KSET_SIZE(header.key_num);
	}
};

struct key_record {
	cache_key key;
	cache_pos kset;			// the kset holding this key
	uint32_t index = 0;		// position in that kset
	uint64_t order = 0;		// position in the whole log, from 0
	bool dirty_window = false;	// kset in [dirty_tail, key_head)
	std::optional<uint64_t> segment_gen;	// generation of key.seg, if known
	uint64_t device_offset = 0;	// 0 when unknown (XML)

	// Invalidated by a later reuse of its segment: readers ignore it.
	bool stale() const { return segment_gen && key.gen < *segment_gen; }
	bool dirty() const { return dirty_window && !key.clean(); }
};

struct log_summary {
	cache_pos start;		// key_tail
	cache_pos end;			// key_head: first position that is not a kset
	uint64_t ksets = 0;		// normal ksets
	uint64_t last_ksets = 0;
	uint64_t keys = 0;
	uint64_t stale_keys = 0;
	uint64_t bytes = 0;		// kset bytes between key_tail and key_head
	uint32_t key_segments = 0;	// segments the log runs through
	bool dirty_tail_reached = false;
	bool complete = true;		// false if the walk stopped at damage
	uint64_t skipped_ksets = 0;	// stepped over (repair mode)
};

class metadata_visitor {
public:
	virtual ~metadata_visitor() = default;
	virtual void on_superblock(const superblock &) {}
	virtual void on_cache_info(const replica_set<cache_info> &) {}
	virtual void on_tails(const replica_set<pos_record> & /*key_tail*/,
			      const replica_set<pos_record> & /*dirty_tail*/) {}
	virtual void on_segment(const segment_record &) {}
	virtual void on_begin_log() {}
	virtual void on_kset(const kset_record &) {}
	virtual void on_key(const key_record &) {}
	virtual void on_last_kset(const kset_record &) {}
	virtual void on_end_log(const log_summary &) {}
	virtual void on_end() {}
};

// Forwards every event to several sinks, in order.
class visitor_tee : public metadata_visitor {
public:
	explicit visitor_tee(std::vector<metadata_visitor *> sinks) : sinks_(std::move(sinks)) {}
	void on_superblock(const superblock &sb) override { each([&](auto *v) { v->on_superblock(sb); }); }
	void on_cache_info(const replica_set<cache_info> &ci) override { each([&](auto *v) { v->on_cache_info(ci); }); }
	void on_tails(const replica_set<pos_record> &k, const replica_set<pos_record> &d) override
	{
		each([&](auto *v) { v->on_tails(k, d); });
	}
	void on_segment(const segment_record &s) override { each([&](auto *v) { v->on_segment(s); }); }
	void on_begin_log() override { each([&](auto *v) { v->on_begin_log(); }); }
	void on_kset(const kset_record &k) override { each([&](auto *v) { v->on_kset(k); }); }
	void on_key(const key_record &k) override { each([&](auto *v) { v->on_key(k); }); }
	void on_last_kset(const kset_record &k) override { each([&](auto *v) { v->on_last_kset(k); }); }
	void on_end_log(const log_summary &s) override { each([&](auto *v) { v->on_end_log(s); }); }
	void on_end() override { each([&](auto *v) { v->on_end(); }); }

private:
	template <typename F>
	void each(F f)
	{
		for (auto *v : sinks_)
			f(v);
	}
	std::vector<metadata_visitor *> sinks_;
};

} // namespace pcache
