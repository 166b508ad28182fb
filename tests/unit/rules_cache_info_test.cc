// One rule per test: a valid cache_info, one mutation, one complaint.
#include "damage_expect.h"
#include "rules.h"

#include <gtest/gtest.h>

namespace pcache::test {
namespace {

superblock sb63()
{
	superblock sb;
	sb.magic = PCACHE_MAGIC;
	sb.seg_num = 63;
	return sb;
}

replica_set<cache_info> valid_info()
{
	replica_set<cache_info> set;
	set.value[0].header.seq = 1;
	set.value[0].n_segs = 63;
	set.value[0].flags = 0x1182;	// INIT_DONE, writeback, gc_percent 70
	set.state[0] = slot_state::valid;
	set.choose();
	return set;
}

damage_list check(const replica_set<cache_info> &set)
{
	damage_list list;
	check_cache_info(set, sb63(), list);
	return list;
}

damage_list check_with(uint32_t flags)
{
	auto set = valid_info();
	set.value[0].flags = flags;
	return check(set);
}

uint32_t with_mode(uint32_t mode)
{
	return (0x1182u & ~PCACHE_CACHE_FLAGS_MODE_MASK) | mode << PCACHE_CACHE_FLAGS_MODE_SHIFT;
}

TEST(CacheInfoRules, ValidHasNoDamage) { EXPECT_TRUE(none(check(valid_info()))); }

TEST(CacheInfoRules, PcacheModesAndNeedsCheckAreValid)
{
	EXPECT_TRUE(none(check_with(with_mode(PCACHE_CACHE_MODE_WRITETHROUGH))));
	EXPECT_TRUE(none(check_with(with_mode(PCACHE_CACHE_MODE_WRITEAROUND))));
	EXPECT_TRUE(none(check_with(with_mode(PCACHE_CACHE_MODE_PASSTHROUGH))));
	EXPECT_TRUE(none(check_with(0x1182 | PCACHE_CACHE_FLAGS_NEEDS_CHECK | PCACHE_CACHE_FLAGS_DATA_CRC)));
}

TEST(CacheInfoRules, InitDoneClear)
{
	EXPECT_TRUE(only(check_with(0x1182 & ~PCACHE_CACHE_FLAGS_INIT_DONE),
			 damage_kind::cache_info_not_initialised));
}

TEST(CacheInfoRules, NoSegments)
{
	auto set = valid_info();
	set.value[0].n_segs = 0;
	EXPECT_TRUE(only(check(set), damage_kind::cache_info_no_segments));
}

TEST(CacheInfoRules, MoreSegmentsThanTheSuperblock)
{
	auto set = valid_info();
	set.value[0].n_segs = 64;
	EXPECT_TRUE(only(check(set), damage_kind::cache_info_n_segs_exceeds_seg_num));
}

TEST(CacheInfoRules, FirstSegmentBeyondSegNum)
{
	auto set = valid_info();
	set.value[0].seg_id = 63;
	EXPECT_TRUE(only(check(set), damage_kind::cache_info_seg_id_out_of_range));
}

TEST(CacheInfoRules, GcPercentAbove90)
{
	uint32_t flags = (0x1182 & ~PCACHE_CACHE_FLAGS_GC_MASK) | 91 << PCACHE_CACHE_FLAGS_GC_SHIFT;
	EXPECT_TRUE(only(check_with(flags), damage_kind::cache_info_gc_percent_out_of_range));
	EXPECT_TRUE(none(check_with((0x1182 & ~PCACHE_CACHE_FLAGS_GC_MASK) | 90 << PCACHE_CACHE_FLAGS_GC_SHIFT)));
}

TEST(CacheInfoRules, WriteonlyModeIsAnError)
{
	EXPECT_TRUE(only(check_with(with_mode(PCACHE_CACHE_MODE_WRITEONLY)), damage_kind::cache_info_mode_unused));
}

TEST(CacheInfoRules, UnknownModeIsAnError)
{
	EXPECT_TRUE(only(check_with(with_mode(5)), damage_kind::cache_info_mode_unknown));
	EXPECT_TRUE(only(check_with(with_mode(15)), damage_kind::cache_info_mode_unknown));
}

TEST(CacheInfoRules, UnknownFlagBitsWarn)
{
	damage_list list = check_with(0x1182 | 1u << 20);
	ASSERT_TRUE(only(list, damage_kind::cache_info_unknown_flags));
	EXPECT_EQ(list.items[0].level(), severity::warning);
}

TEST(CacheInfoRules, ReservedWarns)
{
	auto set = valid_info();
	set.value[0].reserved = 7;
	EXPECT_TRUE(only(check(set), damage_kind::cache_info_reserved_nonzero));
}

TEST(CacheInfoRules, LocationNamesTheReplicaInUse)
{
	auto set = valid_info();
	set.value[1] = set.value[0];
	set.value[1].header.seq = 2;
	set.value[1].flags = with_mode(9);
	set.state[1] = slot_state::valid;
	set.choose();
	damage_list list = check(set);
	ASSERT_TRUE(only(list, damage_kind::cache_info_mode_unknown));
	EXPECT_EQ(list.items[0].where.replica, 1u);
	EXPECT_EQ(list.items[0].where.device_offset, uint64_t(PCACHE_CACHE_INFO_REPLICA_OFF(1)));
}

TEST(StrayCacheInfoRules, EmptyIsSilent)
{
	damage_list list;
	check_stray_cache_info(slot_state::empty, {}, valid_info().current(), list);
	EXPECT_TRUE(none(list));
}

TEST(StrayCacheInfoRules, AValidOldCopyWarns)
{
	damage_list list;
	cache_info stray = valid_info().current();
	stray.header.seq = 2;
	stray.flags = (0x1182 & ~PCACHE_CACHE_FLAGS_GC_MASK) | 50 << PCACHE_CACHE_FLAGS_GC_SHIFT;
	check_stray_cache_info(slot_state::valid, stray, valid_info().current(), list);
	ASSERT_TRUE(only(list, damage_kind::stray_cache_info));
	EXPECT_EQ(list.items[0].level(), severity::warning);
	EXPECT_NE(list.items[0].detail.find("gc_percent 50"), std::string::npos);
}

TEST(StrayCacheInfoRules, GarbageWarns)
{
	damage_list list;
	check_stray_cache_info(slot_state::bad_crc, {}, valid_info().current(), list);
	EXPECT_TRUE(only(list, damage_kind::stray_cache_info));
}

} // namespace
} // namespace pcache::test
