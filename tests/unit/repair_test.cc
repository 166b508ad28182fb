// pcache_repair's engine, one repair at a time: each test breaks one thing
// in a small image, plans a repair, and checks that the planned result is
// clean, that repairing it again changes nothing, and what the report says.
#include "decode.h"
#include "layout.h"
#include "repair_test_util.h"

#include <pcache/pcache_format.h>

namespace pcache::test {
namespace {

std::vector<cache_key> keys_at(uint64_t first_off, unsigned n, uint32_t seg = 1, uint32_t seg_off = 0)
{
	std::vector<cache_key> keys;
	for (unsigned i = 0; i < n; ++i)
		keys.push_back(make_key(first_off + i * 4096, 4096, seg, seg_off + i * 4096));
	return keys;
}

TEST(Repair, CleanCacheNeedsNothing)
{
	test_cache c;
	c.append_kset(keys_at(0, 3));
	repair_plan plan = plan_repair(c.dev);
	EXPECT_FALSE(plan.changes()) << describe(plan.report);
	EXPECT_TRUE(plan.report.changes().empty());
	EXPECT_TRUE(plan.report.lost().empty());
	EXPECT_TRUE(repairs_cleanly(plan));
}

TEST(Repair, DamagedCacheInfoReplicaIsRewrittenFromTheGoodOne)
{
	test_cache c;
	c.poke(PCACHE_CACHE_INFO_REPLICA_OFF(1) + 12, 0x55);	// replica 1 was never written: now garbage
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	ASSERT_EQ(plan.report.changes().size(), 1u) << describe(plan.report);
	const repair_change &ch = plan.report.changes()[0];
	EXPECT_EQ(ch.kind, change_kind::replica_rewritten);
	EXPECT_EQ(ch.where.replica, 1u);
	pcache_cache_info raw;
	plan.overlay().read(PCACHE_CACHE_INFO_REPLICA_OFF(1), &raw, sizeof(raw));
	cache_info fixed = decode(raw);
	EXPECT_EQ(fixed.header.seq, 2);	// good copy's seq + 1
	EXPECT_EQ(fixed.flags, 0x1182u);
}

TEST(Repair, MidLogDamagedKsetIsLeftOutAndTheLogStaysContinuous)
{
	test_cache c;
	c.append_kset(keys_at(0, 2));
	cache_pos bad = c.append_kset(keys_at(1 << 20, 2, 1, 8192));
	c.append_kset(keys_at(2 << 20, 2, 1, 16384));
	c.poke(c.kset_offset(bad) + PCACHE_KSET_HEADER_SIZE + 32, 0x77);	// key 0's data_crc
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	ASSERT_EQ(plan.report.lost().size(), 1u) << describe(plan.report);
	const lost_range &l = plan.report.lost()[0];
	EXPECT_TRUE(l.dirty);
	EXPECT_EQ(l.range.begin, 1u << 20);
	EXPECT_EQ(l.range.end, (1u << 20) + 8192);
	EXPECT_NE(l.reason.find("in the damaged kset: it fails its CRC but the log goes on at 0:208"),
		  std::string::npos) << l.reason;
	// The third kset moved up into the second's place.
	pcache_cache_kset_onmedia raw;
	plan.overlay().read(c.kset_offset(bad), &raw, sizeof(raw));
	EXPECT_EQ(decode(raw).key_num, 2u);
	EXPECT_TRUE(plan.report.dirty_data_lost());
	EXPECT_TRUE(has_change(plan.report, change_kind::kset_dropped));
}

} // namespace
} // namespace pcache::test
