// Replica rules: a damaged copy next to a good one warns; no good copy is
// the record's "missing" damage.
#include "damage_expect.h"
#include "rules.h"

#include <gtest/gtest.h>

namespace pcache::test {
namespace {

template <typename T>
replica_set<T> pair(slot_state a, uint8_t seq_a, slot_state b, uint8_t seq_b)
{
	replica_set<T> set;
	set.state = {a, b};
	set.value[0].header.seq = seq_a;
	set.value[1].header.seq = seq_b;
	set.choose();
	return set;
}

TEST(ReplicaRules, OneValidOneEmptyIsFine)
{
	damage_list list;
	check_replicas(pair<cache_info>(slot_state::valid, 1, slot_state::empty, 0), replicated::cache_info,
		       list);
	EXPECT_TRUE(none(list));
}

TEST(ReplicaRules, DamagedCacheInfoCopyIsAnErrorNamingTheOneUsed)
{
	damage_list list;
	check_replicas(pair<cache_info>(slot_state::valid, 4, slot_state::bad_crc, 5), replicated::cache_info,
		       list);
	ASSERT_TRUE(only(list, damage_kind::cache_info_replica_damaged));
	EXPECT_EQ(list.items[0].level(), severity::error);
	EXPECT_EQ(list.items[0].where.replica, 1u);
	EXPECT_EQ(list.items[0].where.device_offset, uint64_t(PCACHE_CACHE_INFO_REPLICA_OFF(1)));
	EXPECT_NE(list.items[0].detail.find("replica 0 (seq 4) is used"), std::string::npos);
}

TEST(ReplicaRules, NoValidCacheInfoIsFatal)
{
	damage_list list;
	check_replicas(pair<cache_info>(slot_state::bad_crc, 0, slot_state::empty, 0), replicated::cache_info,
		       list);
	ASSERT_TRUE(only(list, damage_kind::cache_info_missing));
	EXPECT_EQ(list.items[0].level(), severity::fatal);
}

TEST(ReplicaRules, DamagedTailCopy)
{
	damage_list list;
	check_replicas(pair<pos_record>(slot_state::bad_crc, 3, slot_state::valid, 2), replicated::dirty_tail,
		       list);
	ASSERT_TRUE(only(list, damage_kind::tail_replica_damaged));
	EXPECT_EQ(list.items[0].where.record, record_kind::dirty_tail);
	EXPECT_EQ(list.items[0].where.device_offset, uint64_t(PCACHE_DIRTY_TAIL_OFF(0)));
}

TEST(ReplicaRules, NoValidKeyTail)
{
	damage_list list;
	check_replicas(pair<pos_record>(slot_state::empty, 0, slot_state::empty, 0), replicated::key_tail, list);
	ASSERT_TRUE(only(list, damage_kind::tail_missing));
	EXPECT_EQ(list.items[0].where.record, record_kind::key_tail);
}

TEST(ReplicaRules, SegInfoAndSegGenNameTheirSegment)
{
	segment_record seg;
	seg.id = 3;
	seg.phys = 7;
	damage_list info, gen;
	check_replicas(pair<segment_info>(slot_state::bad_crc, 0, slot_state::bad_crc, 0), replicated::seg_info,
		       info, &seg);
	check_replicas(pair<seg_gen>(slot_state::valid, 1, slot_state::bad_crc, 9), replicated::seg_gen, gen,
		       &seg);
	ASSERT_TRUE(only(info, damage_kind::seg_info_missing));
	EXPECT_EQ(info.items[0].where.segment, 3u);
	EXPECT_EQ(info.items[0].where.phys_segment, 7u);
	ASSERT_TRUE(only(gen, damage_kind::seg_gen_replica_damaged));
	EXPECT_EQ(gen.items[0].where.device_offset,
		  uint64_t(PCACHE_SEG_DEV_OFF(7) + PCACHE_SEG_GEN_REPLICA_OFF(1)));
}

TEST(ReplicaRules, DamagedSegInfoCopy)
{
	segment_record seg;
	seg.id = 2;
	seg.phys = 2;
	damage_list list;
	check_replicas(pair<segment_info>(slot_state::bad_crc, 1, slot_state::valid, 2), replicated::seg_info,
		       list, &seg);
	ASSERT_TRUE(only(list, damage_kind::seg_info_replica_damaged));
	EXPECT_EQ(list.items[0].level(), severity::error);
	EXPECT_EQ(list.items[0].where.device_offset, uint64_t(PCACHE_SEG_DEV_OFF(2)));
}

TEST(ReplicaRules, NoValidSegGen)
{
	segment_record seg;
	damage_list list;
	check_replicas(pair<seg_gen>(slot_state::empty, 0, slot_state::bad_crc, 0), replicated::seg_gen, list,
		       &seg);
	EXPECT_TRUE(only(list, damage_kind::seg_gen_missing));
}

} // namespace
} // namespace pcache::test
