// One rule per test: a valid superblock, one mutation, one complaint.
#include "damage_expect.h"
#include "encode.h"
#include "rules.h"

#include <gtest/gtest.h>

namespace pcache::test {
namespace {

constexpr uint64_t kDevice = 1071644672;	// the golden vectors' pmem: 63 segments

superblock valid_sb()
{
	superblock sb;
	sb.magic = PCACHE_MAGIC;
	sb.seg_num = 63;
	sb.crc = encode(sb).crc;
	return sb;
}

damage_list check(superblock sb, bool recrc = true, uint64_t device = kDevice)
{
	if (recrc)
		sb.crc = encode(sb).crc;
	damage_list list;
	check_superblock(sb, device, list);
	return list;
}

TEST(SuperblockRules, ValidHasNoDamage) { EXPECT_TRUE(none(check(valid_sb()))); }

TEST(SuperblockRules, PadIsCoveredByCrcButFree)
{
	superblock sb = valid_sb();
	sb.pad = 0xdeadbeef;
	EXPECT_TRUE(none(check(sb)));
}

TEST(SuperblockRules, ZeroMagicIsNotFormatted)
{
	superblock sb = valid_sb();
	sb.magic = 0;
	EXPECT_TRUE(only(check(sb), damage_kind::sb_not_formatted));
}

TEST(SuperblockRules, WrongMagic)
{
	superblock sb = valid_sb();
	sb.magic ^= 1;
	EXPECT_TRUE(only(check(sb), damage_kind::sb_bad_magic));
}

TEST(SuperblockRules, BadCrc)
{
	superblock sb = valid_sb();
	sb.crc ^= 0x100;
	EXPECT_TRUE(only(check(sb, false), damage_kind::sb_bad_crc));
}

TEST(SuperblockRules, BigEndianImagesAreRefused)
{
	superblock sb = valid_sb();
	sb.flags = PCACHE_SB_F_BIGENDIAN;
	damage_list list = check(sb);
	ASSERT_TRUE(only(list, damage_kind::sb_big_endian));
	EXPECT_EQ(list.items[0].level(), severity::fatal);
}

TEST(SuperblockRules, UnknownFlagsWarn)
{
	superblock sb = valid_sb();
	sb.flags = 0x10;
	damage_list list = check(sb);
	ASSERT_TRUE(only(list, damage_kind::sb_unknown_flags));
	EXPECT_EQ(list.items[0].level(), severity::warning);
}

TEST(SuperblockRules, NoSegments)
{
	superblock sb = valid_sb();
	sb.seg_num = 0;
	EXPECT_TRUE(only(check(sb), damage_kind::sb_no_segments));
}

TEST(SuperblockRules, MoreSegmentsThanTheDeviceHolds)
{
	superblock sb = valid_sb();
	sb.seg_num = 64;
	EXPECT_TRUE(only(check(sb), damage_kind::sb_seg_num_exceeds_device));
}

TEST(SuperblockRules, UnknownDeviceSizeSkipsTheCapacityRule)
{
	superblock sb = valid_sb();
	sb.seg_num = 5000;
	EXPECT_TRUE(none(check(sb, true, 0)));
}

TEST(SuperblockRules, AboveTheSegmentMaximum)
{
	superblock sb = valid_sb();
	sb.seg_num = PCACHE_CACHE_SEGS_MAX + 1;
	EXPECT_TRUE(only(check(sb, true, 0), damage_kind::sb_seg_num_over_max));
}

TEST(DeviceRules, SmallerThanTheKernelMinimum)
{
	damage_list list;
	check_device_size(PCACHE_CACHE_DEV_SIZE_MIN - 4096, list);
	EXPECT_TRUE(only(list, damage_kind::device_below_minimum));
	damage_list fine;
	check_device_size(PCACHE_CACHE_DEV_SIZE_MIN, fine);
	EXPECT_TRUE(none(fine));
}

} // namespace
} // namespace pcache::test
