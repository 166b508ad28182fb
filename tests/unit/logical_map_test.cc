// The resolved logical map: newer wins, dirty/clean, and the cross-key
// checks (shared cache bytes, payload in a log segment).
#include "damage_expect.h"
#include "logical_map.h"
#include "test_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace pcache::test {
namespace {

struct collect : extent_sink {
	std::vector<extent> extents;
	void on_extent(const extent &e) override { extents.push_back(e); }
};

class map_fixture : public ::testing::Test {
protected:
	map_fixture() : map(damage)
	{
		replica_set<cache_info> info;
		info.value[0].n_segs = 31;
		info.state[0] = slot_state::valid;
		info.choose();
		map.on_cache_info(info);
		kset_record log_seg;
		log_seg.pos = {0, 0};
		map.on_kset(log_seg);
	}

	void key(uint64_t off, uint32_t len, uint32_t seg, uint32_t seg_off, bool clean = false,
		 bool window = true, uint64_t gen = 0, uint64_t seg_gen = 0)
	{
		key_record r;
		r.key = make_key(off, len, seg, seg_off, gen);
		if (clean)
			r.key.flags = PCACHE_KEY_FLAGS_CLEAN;
		r.order = order++;
		r.dirty_window = window;
		r.segment_gen = seg_gen;
		map.on_key(r);
	}

	std::vector<extent> resolve(bool dirty_tail_reached = true)
	{
		log_summary s;
		s.dirty_tail_reached = dirty_tail_reached;
		map.on_end_log(s);
		collect out;
		map.resolve(&out);
		return out.extents;
	}

	damage_list damage;
	logical_map map;
	uint64_t order = 0;
};

TEST_F(map_fixture, NewerKeyWinsAndSplitsTheOlder)
{
	key(0, 16384, 1, 0);		// A: [0, 16K) at 1:0
	key(4096, 4096, 2, 8192);	// B: [4K, 8K) at 2:8K, newer
	auto e = resolve();
	EXPECT_TRUE(none(damage));
	ASSERT_EQ(e.size(), 3u);
	EXPECT_EQ(e[0].off, 0u);
	EXPECT_EQ(e[0].len, 4096u);
	EXPECT_EQ(e[0].seg, 1u);
	EXPECT_EQ(e[1].off, 4096u);
	EXPECT_EQ(e[1].seg, 2u);
	EXPECT_EQ(e[1].seg_off, 8192u);
	EXPECT_EQ(e[2].off, 8192u);
	EXPECT_EQ(e[2].len, 8192u);
	EXPECT_EQ(e[2].seg, 1u);
	EXPECT_EQ(e[2].seg_off, 8192u);	// advanced with the cut
	EXPECT_EQ(map.summary().live_bytes, 16384u);
	EXPECT_EQ(map.summary().live_extents, 3u);
}

TEST_F(map_fixture, OlderKeyDoesNotOverrideNewer)
{
	key(8192, 4096, 1, 0);
	key(0, 16384, 2, 0);	// newer and covers the first entirely
	auto e = resolve();
	ASSERT_EQ(e.size(), 1u);
	EXPECT_EQ(e[0].seg, 2u);
	EXPECT_EQ(e[0].len, 16384u);
}

TEST_F(map_fixture, ExtentsComeInOriginOrderAcrossRegions)
{
	key(12 << 20, 4096, 1, 0);
	key(0, 4096, 1, 4096);
	key((4 << 20) - 4096, 4096, 1, 8192);
	auto e = resolve();
	ASSERT_EQ(e.size(), 3u);
	EXPECT_EQ(e[0].off, 0u);
	EXPECT_EQ(e[1].off, (4u << 20) - 4096);
	EXPECT_EQ(e[2].off, 12u << 20);
}

TEST_F(map_fixture, DirtyMeansInTheWindowAndNotClean)
{
	key(0, 4096, 1, 0, false, true);
	key(4096, 4096, 1, 4096, true, true);
	key(8192, 4096, 1, 8192, false, false);
	auto e = resolve();
	ASSERT_EQ(e.size(), 3u);
	EXPECT_TRUE(e[0].dirty);
	EXPECT_FALSE(e[1].dirty);
	EXPECT_FALSE(e[2].dirty);
	EXPECT_EQ(map.summary().dirty_bytes, 4096u);
}

TEST_F(map_fixture, WithoutADirtyTailOnTheLogEverythingNotCleanIsDirty)
{
	key(0, 4096, 1, 0, false, false);
	key(4096, 4096, 1, 4096, true, false);
	auto e = resolve(false);
	ASSERT_EQ(e.size(), 2u);
	EXPECT_TRUE(e[0].dirty);
	EXPECT_FALSE(e[1].dirty);
}

TEST_F(map_fixture, StaleKeysAreNotMapped)
{
	key(0, 4096, 1, 0, false, true, 0, 1);
	auto e = resolve();
	EXPECT_TRUE(e.empty());
	EXPECT_EQ(map.summary().data_segments, 1u);	// still counted in use, like the kernel
}

TEST_F(map_fixture, TwoKeysSharingCacheBytes)
{
	key(0, 8192, 3, 4096);
	key(1 << 20, 4096, 3, 8192);
	resolve();
	ASSERT_TRUE(only(damage, damage_kind::keys_share_cache_space));
	EXPECT_EQ(damage.items[0].origin.size(), 2u);
}

TEST_F(map_fixture, AdjacentAllocationsAreFine)
{
	key(0, 8192, 3, 4096);
	key(1 << 20, 4096, 3, 12288);
	key(2 << 20, 4096, 4, 4096);
	resolve();
	EXPECT_TRUE(none(damage));
}

TEST_F(map_fixture, PayloadInALogSegment)
{
	key(0, 4096, 0, 65536);
	resolve();
	EXPECT_TRUE(only(damage, damage_kind::key_in_log_segment));
}

TEST_F(map_fixture, MoreKeysThanTheMapCanNumber)
{
	// Log order is kept in 32 bits: a 2^32nd key is reported, not mapped.
	order = uint64_t(UINT32_MAX) + 1;
	key(0, 4096, 1, 0);
	key(4096, 4096, 1, 4096);
	auto e = resolve();
	EXPECT_TRUE(only(damage, damage_kind::log_too_many_keys));
	EXPECT_TRUE(e.empty());
}

TEST_F(map_fixture, SegmentsUsed)
{
	key(0, 4096, 1, 0);
	key(4096, 4096, 7, 0);
	resolve();
	EXPECT_EQ(map.summary().key_segments, 1u);
	EXPECT_EQ(map.summary().data_segments, 2u);
	EXPECT_EQ(map.summary().segments_used, 3u);
}

TEST_F(map_fixture, ManyOverwritesOfOneRegion)
{
	for (unsigned i = 0; i < 5000; ++i)
		key((i % 7) * 4096, 4096, 1 + i / 4000, (i % 4000) * 4096);
	auto e = resolve();
	EXPECT_TRUE(none(damage));
	ASSERT_EQ(e.size(), 7u);
	// The last writer of offset 0 was key 4998 (4998 % 7 == 0).
	EXPECT_EQ(e[0].seg, 2u);
	EXPECT_EQ(e[0].seg_off, (4998u % 4000) * 4096);
}

// Against a sector-by-sector model of "newer wins", on enough keys to go
// through the radix sort (two levels: region numbers beyond 2^16), with
// heavy overlap in some regions and none in others; the counting pass of
// pcache_check and the listing of pcache_dump --logical must agree with it.
TEST(LogicalMapModel, AgreesWithASectorModel)
{
	std::mt19937_64 rng(42);
	std::vector<key_record> records;
	std::map<uint64_t, std::pair<uint64_t, bool>> model;	// sector -> (order, dirty)
	uint32_t seg_sector = 0, seg = 1;
	for (uint64_t order = 0; order < 30000; ++order) {
		uint64_t region = rng() % 4 == 0 ? rng() % 8 : rng() % (1u << 20);
		uint32_t sectors = 1 + rng() % 64;
		uint32_t start = rng() % (8192 - sectors + 1);
		if (seg_sector + sectors > 32744)
			seg_sector = 0, ++seg;
		key_record r;
		r.key = make_key(region << 22 | uint64_t(start) << 9, sectors << 9, seg, seg_sector << 9);
		r.key.flags = rng() % 5 == 0 ? PCACHE_KEY_FLAGS_CLEAN : 0;
		r.order = order;
		r.dirty_window = rng() % 3 != 0;
		r.segment_gen = 0;
		seg_sector += sectors;
		records.push_back(r);
		for (uint32_t s = 0; s < sectors; ++s)
			model[(region << 13) + start + s] = {order, r.dirty()};
	}
	// Model extents: runs of one owner over consecutive sectors.
	std::vector<extent> expected;
	uint64_t dirty_bytes = 0;
	for (auto it = model.begin(); it != model.end();) {
		auto run = it;
		uint64_t len = 0;
		while (run != model.end() && run->first == it->first + len && run->second == it->second)
			++run, ++len;
		extent e;
		e.off = it->first << 9;
		e.len = uint32_t(len << 9);
		e.dirty = it->second.second;
		expected.push_back(e);
		dirty_bytes += e.dirty ? e.len : 0;
		it = run;
	}

	auto feed = [&](logical_map &map) {
		replica_set<cache_info> info;
		info.value[0].n_segs = 1000;
		info.state[0] = slot_state::valid;
		info.choose();
		map.on_cache_info(info);
		for (const auto &r : records)
			map.on_key(r);
		log_summary s;
		s.dirty_tail_reached = true;
		map.on_end_log(s);
	};
	damage_list damage;
	logical_map counting(damage), listing(damage);
	feed(counting);
	feed(listing);
	counting.resolve(nullptr);
	struct collect out;
	listing.resolve(&out);
	EXPECT_TRUE(none(damage));

	ASSERT_EQ(out.extents.size(), expected.size());
	for (size_t i = 0; i < expected.size(); ++i) {
		ASSERT_EQ(out.extents[i].off, expected[i].off) << i;
		ASSERT_EQ(out.extents[i].len, expected[i].len) << i;
		ASSERT_EQ(out.extents[i].dirty, expected[i].dirty) << i;
	}
	for (const logical_map *m : {&counting, &listing}) {
		EXPECT_EQ(m->summary().live_extents, expected.size());
		EXPECT_EQ(m->summary().live_bytes, model.size() * 512);
		EXPECT_EQ(m->summary().dirty_bytes, dirty_bytes);
	}
}

} // namespace
} // namespace pcache::test
