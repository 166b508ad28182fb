// Tail, segment, chain and kset rules: one mutation, one complaint.
#include "damage_expect.h"
#include "rules.h"

#include <gtest/gtest.h>

namespace pcache::test {
namespace {

replica_set<pos_record> tail_at(cache_pos pos)
{
	replica_set<pos_record> set;
	set.value[0].header.seq = 1;
	set.value[0].pos = pos;
	set.state[0] = slot_state::valid;
	set.choose();
	return set;
}

damage_list check_tail_at(cache_pos pos)
{
	damage_list list;
	check_tail(replicated::key_tail, tail_at(pos), 63, list);
	return list;
}

TEST(TailRules, ValidPositions)
{
	EXPECT_TRUE(none(check_tail_at({0, 0})));
	EXPECT_TRUE(none(check_tail_at({62, PCACHE_SEG_DATA_SIZE - PCACHE_KSET_HEADER_SIZE})));
}

TEST(TailRules, SegmentOutOfRange) { EXPECT_TRUE(only(check_tail_at({63, 0}), damage_kind::tail_segment_out_of_range)); }

TEST(TailRules, OffsetBeyondTheLastKsetPosition)
{
	EXPECT_TRUE(only(check_tail_at({1, PCACHE_SEG_DATA_SIZE - 16}), damage_kind::tail_offset_out_of_range));
}

TEST(TailRules, OffsetNotEightByteAligned)
{
	EXPECT_TRUE(only(check_tail_at({1, 4100}), damage_kind::tail_offset_misaligned));
}

segment_record valid_segment(uint32_t id, uint32_t phys, uint32_t next, bool has_next = true)
{
	segment_record seg;
	seg.id = id;
	seg.phys = phys;
	seg.info.value[0].header.seq = 1;
	seg.info.value[0].flags = (has_next ? PCACHE_SEG_INFO_FLAGS_HAS_NEXT : 0) |
				  PCACHE_SEGMENT_TYPE_CACHE_DATA << PCACHE_SEG_INFO_TYPE_SHIFT;
	seg.info.value[0].next_seg = next;
	seg.info.state[0] = slot_state::valid;
	seg.info.choose();
	return seg;
}

TEST(SegmentRules, ValidSegment)
{
	damage_list list;
	check_segment(valid_segment(0, 0, 1), list);
	EXPECT_TRUE(none(list));
}

TEST(SegmentRules, WrongTypeWarns)
{
	segment_record seg = valid_segment(0, 0, 1);
	seg.info.value[0].flags = PCACHE_SEG_INFO_FLAGS_HAS_NEXT | 2 << PCACHE_SEG_INFO_TYPE_SHIFT;
	damage_list list;
	check_segment(seg, list);
	EXPECT_TRUE(only(list, damage_kind::seg_info_bad_type));
}

TEST(SegmentRules, UnknownFlagsWarn)
{
	segment_record seg = valid_segment(0, 0, 1);
	seg.info.value[0].flags |= 0x100;
	damage_list list;
	check_segment(seg, list);
	EXPECT_TRUE(only(list, damage_kind::seg_info_unknown_flags));
}

TEST(ChainRules, FollowsNextAndStopsAtTheLastSegment)
{
	chain_follower chain(10, 3);
	damage_list list;
	EXPECT_EQ(chain.next(valid_segment(0, 4, 7), list), 7u);
	EXPECT_EQ(chain.next(valid_segment(1, 7, 2), list), 2u);
	// The last segment's link is not followed, whatever it says.
	EXPECT_EQ(chain.next(valid_segment(2, 2, 99), list), std::nullopt);
	EXPECT_TRUE(none(list));
}

TEST(ChainRules, MissingHasNext)
{
	chain_follower chain(10, 3);
	damage_list list;
	EXPECT_EQ(chain.next(valid_segment(0, 0, 1, false), list), std::nullopt);
	EXPECT_TRUE(only(list, damage_kind::seg_chain_broken));
}

TEST(ChainRules, NextBeyondSegNum)
{
	chain_follower chain(10, 3);
	damage_list list;
	EXPECT_EQ(chain.next(valid_segment(0, 0, 10), list), std::nullopt);
	EXPECT_TRUE(only(list, damage_kind::seg_chain_next_out_of_range));
}

TEST(ChainRules, Cycle)
{
	chain_follower chain(10, 5);
	damage_list list;
	EXPECT_EQ(chain.next(valid_segment(0, 3, 5), list), 5u);
	EXPECT_EQ(chain.next(valid_segment(1, 5, 3), list), std::nullopt);
	EXPECT_TRUE(only(list, damage_kind::seg_chain_cycle));
}

kset_record kset_at(cache_pos pos, uint32_t key_num, uint64_t flags = 0)
{
	kset_record k;
	k.pos = pos;
	k.header.key_num = key_num;
	k.header.magic = PCACHE_KSET_MAGIC;
	k.header.flags = flags;
	return k;
}

damage_list check(const kset_record &k)
{
	damage_list list;
	check_kset(k, 63, list);
	return list;
}

TEST(KsetRules, ValidKsets)
{
	EXPECT_TRUE(none(check(kset_at({0, 0}, 128))));
	EXPECT_TRUE(none(check(kset_at({0, 5144}, 62, PCACHE_KSET_FLAGS_LAST))));
	// Exactly room for the LAST kset after it.
	EXPECT_TRUE(none(check(kset_at({0, PCACHE_SEG_DATA_SIZE - 64 - 24}, 1))));
}

TEST(KsetRules, TooManyKeys) { EXPECT_TRUE(only(check(kset_at({0, 0}, 129)), damage_kind::kset_too_many_keys)); }

TEST(KsetRules, NoKeysWarns)
{
	damage_list list = check(kset_at({0, 0}, 0));
	ASSERT_TRUE(only(list, damage_kind::kset_no_keys));
	EXPECT_EQ(list.items[0].level(), severity::warning);
}

TEST(KsetRules, OverrunsTheSegment)
{
	EXPECT_TRUE(only(check(kset_at({0, PCACHE_SEG_DATA_SIZE - 64 + 8}, 1)), damage_kind::kset_overruns_segment));
}

TEST(KsetRules, LeavesNoRoomForTheLastKset)
{
	EXPECT_TRUE(only(check(kset_at({0, PCACHE_SEG_DATA_SIZE - 64 - 16}, 1)), damage_kind::kset_no_room_for_last));
}

TEST(KsetRules, UnknownFlagsWarn) { EXPECT_TRUE(only(check(kset_at({0, 0}, 1, 0x4)), damage_kind::kset_unknown_flags)); }

TEST(KsetRules, LastKsetPointingOutsideTheCache)
{
	EXPECT_TRUE(only(check(kset_at({0, 0}, 63, PCACHE_KSET_FLAGS_LAST)), damage_kind::last_kset_next_out_of_range));
}

} // namespace
} // namespace pcache::test
