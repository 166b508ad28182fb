// Offline writeback: what is written (dirty data only, newest wins, in log
// order), what a failure or an interrupt leaves, and marking clean.
#include "cache_check.h"
#include "damage_expect.h"
#include "decode.h"
#include "failing_device.h"
#include "layout.h"
#include "test_cache.h"
#include "writeback.h"

#include <gtest/gtest.h>

namespace pcache::test {
namespace {

unsigned char byte_at(device &dev, uint64_t off)
{
	unsigned char b;
	dev.read(off, &b, 1);
	return b;
}

// Keys: an old dirty write of [0, 8K), a newer one of [4K, 8K), a clean
// read fill at 1 MiB, and a key before dirty_tail at 2 MiB.
struct cache_with_data {
	cache_with_data()
	{
		written_back = c.append_kset({c.data_key(2 << 20, 4096, 1, 0, 0x0B)});
		c.set_dirty_tail(c.head);
		c.append_kset({c.data_key(0, 8192, 1, 4096, 0x01)});
		cache_key fill = c.data_key(1 << 20, 4096, 1, 12288, 0x0C);
		fill.flags = PCACHE_KEY_FLAGS_CLEAN;
		c.append_kset({c.data_key(4096, 4096, 1, 16384, 0x02), fill});
	}
	test_cache c;
	cache_pos written_back;
	memory_device origin{64ULL << 20, "origin"};
};

TEST(Writeback, DirtyDataNewestWinsInLogOrder)
{
	cache_with_data w;
	damage_list damage;
	writeback_plan plan = plan_writeback(w.c.dev, damage, true);
	EXPECT_TRUE(none(damage));
	ASSERT_EQ(plan.extents.size(), 2u);
	EXPECT_EQ(plan.extents[0].off, 0u);	// the older key's surviving part first
	EXPECT_EQ(plan.extents[0].len, 4096u);
	EXPECT_EQ(plan.extents[1].off, 4096u);
	EXPECT_EQ(plan.bytes, 8192u);
	writeback_result r = run_writeback(w.c.dev, plan, w.origin);
	EXPECT_TRUE(r.failed.empty());
	EXPECT_TRUE(r.flushed);
	EXPECT_EQ(byte_at(w.origin, 0), 0x01);
	EXPECT_EQ(byte_at(w.origin, 4096), 0x02);
	EXPECT_EQ(byte_at(w.origin, 1 << 20), 0x00);	// clean: not written
	EXPECT_EQ(byte_at(w.origin, 2 << 20), 0x00);	// before dirty_tail: not written
}

TEST(Writeback, MarkingCleanAdvancesDirtyTailToTheEnd)
{
	cache_with_data w;
	damage_list damage;
	writeback_plan plan = plan_writeback(w.c.dev, damage, true);
	run_writeback(w.c.dev, plan, w.origin);
	mark_clean(w.c.dev, plan);
	damage_list after;
	check_outcome checked = check_cache(w.c.dev, after, true);
	EXPECT_TRUE(none(after));
	EXPECT_EQ(checked.map.dirty_bytes, 0u);
	pcache_cache_pos_onmedia raw;
	w.c.dev.read(PCACHE_DIRTY_TAIL_OFF(1), &raw, sizeof(raw));
	EXPECT_EQ(decode(raw).pos, w.c.head);
	EXPECT_EQ(decode(raw).header.seq, 2);
}

TEST(Writeback, AFailedWriteIsListedAndTheRestWritten)
{
	cache_with_data w;
	damage_list damage;
	writeback_plan plan = plan_writeback(w.c.dev, damage, true);
	failing_device origin(w.origin);
	origin.fail_begin = 0;
	origin.fail_end = 512;
	writeback_result r = run_writeback(w.c.dev, plan, origin);
	ASSERT_EQ(r.failed.size(), 1u);
	EXPECT_EQ(r.failed[0].begin, 0u);
	EXPECT_EQ(r.failed[0].end, 4096u);
	EXPECT_NE(r.failed[0].reason.find("cannot write the origin"), std::string::npos);
	EXPECT_EQ(byte_at(w.origin, 4096), 0x02);
}

TEST(Writeback, AnUnreadableExtentIsListed)
{
	cache_with_data w;
	damage_list damage;
	writeback_plan plan = plan_writeback(w.c.dev, damage, true);
	failing_device cache(w.c.dev);
	cache.read_fail_begin = data_offset(1, 16384);
	cache.read_fail_end = cache.read_fail_begin + 1;
	writeback_result r = run_writeback(cache, plan, w.origin);
	ASSERT_EQ(r.failed.size(), 1u);
	EXPECT_NE(r.failed[0].reason.find("cannot read the cache"), std::string::npos);
}

TEST(Writeback, AnInterruptStopsBeforeTheNextExtent)
{
	cache_with_data w;
	damage_list damage;
	writeback_plan plan = plan_writeback(w.c.dev, damage, true);
	std::atomic<bool> stop{false};
	writeback_options opts;
	opts.stop = &stop;
	opts.progress = [&](uint64_t, uint64_t) { stop = true; };
	writeback_result r = run_writeback(w.c.dev, plan, w.origin, opts);
	EXPECT_TRUE(r.interrupted);
	EXPECT_EQ(r.extents, 1u);
	EXPECT_TRUE(r.flushed);
}

TEST(Writeback, DamagedMetadataIsReported)
{
	cache_with_data w;
	w.c.poke(w.c.kset_offset(w.written_back) + 30, 0x01);
	damage_list damage;
	writeback_plan plan = plan_writeback(w.c.dev, damage, true);
	EXPECT_GE(plan.worst, severity::error);
}

} // namespace
} // namespace pcache::test
