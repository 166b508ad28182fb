// The resolved logical map: newer wins, dirty/clean, and the cross-key
// checks (shared cache bytes, payload in a log segment).
#include "damage_expect.h"
#include "logical_map.h"
#include "test_cache.h"

#include <gtest/gtest.h>

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

} // namespace
} // namespace pcache::test
