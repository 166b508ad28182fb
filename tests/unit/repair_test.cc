// pcache_repair's engine, one repair at a time: each test breaks one thing
// in a small image, plans a repair, and checks that the planned result is
// clean, that repairing it again changes nothing, and what the report says.
#include "crc32c.h"
#include "decode.h"
#include "encode.h"
#include "layout.h"
#include "repair_test_util.h"

#include <pcache/pcache_format.h>

namespace pcache::test {
namespace {

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

namespace pcache::test {
namespace {

const lost_range *lost_at(const repair_report &r, uint64_t origin)
{
	for (const auto &l : r.lost())
		if (l.range.begin <= origin && origin < l.range.end)
			return &l;
	return nullptr;
}

cache_info info_in(device &dev, unsigned slot)
{
	pcache_cache_info raw;
	dev.read(PCACHE_CACHE_INFO_REPLICA_OFF(slot), &raw, sizeof(raw));
	return decode(raw);
}

pos_record tail_in(device &dev, uint64_t off)
{
	pcache_cache_pos_onmedia raw;
	dev.read(off, &raw, sizeof(raw));
	return decode(raw);
}

TEST(RepairCacheInfo, BothReplicasBadAreRebuiltFromTheChainAndTheLog)
{
	test_cache c(0x1183);	// data CRCs on
	c.append_kset({c.data_key(0, 4096, 1, 0, 0xA1), c.data_key(8192, 4096, 1, 4096, 0xA2)});
	c.poke(PCACHE_CACHE_INFO_REPLICA_OFF(0) + 1, 0xEE);	// the CRC of the only copy
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(has_change(plan.report, change_kind::record_rebuilt));
	for (unsigned slot = 0; slot < 2; ++slot) {
		cache_info ci = info_in(plan.overlay(), slot);
		EXPECT_EQ(ci.seg_id, 0u);
		EXPECT_EQ(ci.n_segs, 31u);
		EXPECT_TRUE(ci.init_done());
		EXPECT_TRUE(ci.data_crc()) << "the keys' data match their CRCs";
	}
	EXPECT_FALSE(plan.report.dirty_data_lost());
}

TEST(RepairCacheInfo, DataCrcsStayOffWithoutEvidence)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	c.poke(PCACHE_CACHE_INFO_REPLICA_OFF(0) + 13, 0x01);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_FALSE(info_in(plan.overlay(), 0).data_crc());
	EXPECT_EQ(info_in(plan.overlay(), 0).gc_percent(), 70u);
}

TEST(RepairCacheInfo, InvalidFieldsOfTheCopyInUseAreCorrectedInANewCopy)
{
	test_cache c(0x1180);	// INIT_DONE clear
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	cache_info ci = info_in(plan.overlay(), 1);
	EXPECT_EQ(ci.header.seq, 2);
	EXPECT_TRUE(ci.init_done());
	EXPECT_EQ(info_in(plan.overlay(), 0).flags, 0x1180u);	// the old copy stays
}

TEST(RepairSuperblock, RebuiltWhenCacheInfoShowsACache)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	c.poke(PCACHE_SB_OFF + 9, 0x00);	// magic
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(has_change(plan.report, change_kind::superblock_rebuilt));
	pcache_sb raw;
	plan.overlay().read(PCACHE_SB_OFF, &raw, sizeof(raw));
	EXPECT_EQ(decode(raw).seg_num, 31u);
}

TEST(RepairSuperblock, NoCacheInfoMeansNotACache)
{
	memory_device dev(PCACHE_CACHE_DEV_SIZE_MIN);
	EXPECT_THROW(plan_repair(dev), repair_refused);
}

TEST(RepairReplicas, DamagedTailCopyIsRewrittenIntoItsOwnSlot)
{
	test_cache c;
	c.set_key_tail({0, 0}, 7, 1);
	c.poke(PCACHE_KEY_TAIL_OFF(0) + 12, 0x33);	// slot 0 damaged
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	ASSERT_EQ(plan.report.changes().size(), 1u) << describe(plan.report);
	EXPECT_EQ(plan.report.changes()[0].where.replica, 0u);
	pos_record fixed = tail_in(plan.overlay(), PCACHE_KEY_TAIL_OFF(0));
	EXPECT_EQ(fixed.header.seq, 8);
	EXPECT_EQ(fixed.pos, (cache_pos{0, 0}));
}

TEST(RepairReplicas, DamagedSegInfoAndSegGenCopiesAreRewritten)
{
	test_cache c;
	c.poke(seg_info_offset(4, 0) + 10, 0x77);
	c.set_gen(6, 0, 2, 1);
	c.poke(seg_gen_offset(6, 0) + 9, 0x77);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_EQ(plan.report.changes().size(), 2u) << describe(plan.report);
	for (const auto &ch : plan.report.changes())
		EXPECT_EQ(ch.kind, change_kind::replica_rewritten);
}

TEST(RepairChain, ASegmentWithNoValidSegInfoIsLinkedBackIn)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 9, 0)});
	c.poke(seg_info_offset(3, 0) + 1, 0x11);
	c.poke(seg_info_offset(3, 1) + 1, 0x11);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	pcache_segment_info raw;
	plan.overlay().read(seg_info_offset(3, 0), &raw, sizeof(raw));
	segment_info si = decode(raw);
	EXPECT_TRUE(si.has_next());
	EXPECT_EQ(si.next_seg, 4u);
	EXPECT_FALSE(plan.report.dirty_data_lost());
}

TEST(RepairChain, ALinkIntoTheChainAgainIsRedirected)
{
	test_cache c;
	segment_info si;
	si.header.seq = 3;
	si.flags = PCACHE_SEG_INFO_FLAGS_HAS_NEXT | (PCACHE_SEGMENT_TYPE_CACHE_DATA << PCACHE_SEG_INFO_TYPE_SHIFT);
	si.next_seg = 1;	// 5 -> 1: a cycle
	c.set_seg_info(5, si, 0);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	pcache_segment_info raw;
	plan.overlay().read(seg_info_offset(5, 1), &raw, sizeof(raw));
	EXPECT_EQ(decode(raw).next_seg, 6u);
}

TEST(RepairTails, KeyTailLostStartsTheLogAtDirtyTail)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos second = c.append_kset({make_key(8192, 4096, 1, 4096)});
	c.set_dirty_tail(second);
	c.poke(PCACHE_KEY_TAIL_OFF(0) + 1, 0x42);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_EQ(tail_in(plan.overlay(), PCACHE_KEY_TAIL_OFF(0)).pos, second);
	EXPECT_FALSE(plan.report.dirty_data_lost());
}

TEST(RepairTails, DirtyTailLostTreatsEverythingAsDirty)
{
	test_cache c;
	cache_pos first = c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos second = c.append_kset({make_key(8192, 4096, 1, 4096)});
	c.set_dirty_tail(second);
	c.poke(PCACHE_DIRTY_TAIL_OFF(0) + 1, 0x42);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_EQ(tail_in(plan.overlay(), PCACHE_DIRTY_TAIL_OFF(0)).pos, first);
	bool said = false;
	for (const auto &ch : plan.report.changes())
		said |= ch.detail.find("everything from key_tail is treated as dirty") != std::string::npos;
	EXPECT_TRUE(said) << describe(plan.report);
}

TEST(RepairTails, BothTailsLostAreFoundByFollowingLastKsets)
{
	test_cache c;
	// The log starts in segment 5 and goes on in 8; segment 0 is empty.
	c.head = {5, 0};
	cache_pos start = c.append_kset({make_key(0, 4096, 1, 0)});
	c.append_last(8);
	c.append_kset({make_key(8192, 4096, 1, 4096)});
	c.set_key_tail({5, 0});
	c.poke(PCACHE_KEY_TAIL_OFF(0) + 1, 0x42);
	c.poke(PCACHE_DIRTY_TAIL_OFF(0) + 1, 0x42);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_EQ(tail_in(plan.overlay(), PCACHE_KEY_TAIL_OFF(0)).pos, start);
	EXPECT_EQ(tail_in(plan.overlay(), PCACHE_DIRTY_TAIL_OFF(0)).pos, start);
	EXPECT_TRUE(plan.report.lost().empty()) << describe(plan.report);
}

TEST(RepairTails, ADamagedKeyTailCopyOnTheChainNamesTheStart)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos gc = c.append_kset({make_key(8192, 4096, 1, 4096)});	// GC got here
	c.set_key_tail(gc, 1, 0);
	c.poke(PCACHE_KEY_TAIL_OFF(0) + 1, 0x42);	// CRC only: the position is readable
	c.poke(PCACHE_DIRTY_TAIL_OFF(0) + 1, 0x42);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_EQ(tail_in(plan.overlay(), PCACHE_KEY_TAIL_OFF(0)).pos, gc);
}

TEST(RepairKeys, KeyWithBadBoundsIsDroppedAndReportedDirty)
{
	test_cache c;
	cache_key bad = make_key(4096, 4096, 1, 4096);
	bad.len = 1000;	// not a sector multiple
	cache_pos k = c.append_kset({make_key(0, 4096, 1, 0), bad});
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	const lost_range *l = lost_at(plan.report, 4096);
	ASSERT_NE(l, nullptr) << describe(plan.report);
	EXPECT_TRUE(l->dirty);
	EXPECT_EQ(l->where.kset, k);
	EXPECT_EQ(l->where.key_index, 1u);
	EXPECT_TRUE(has_change(plan.report, change_kind::key_dropped));
	EXPECT_TRUE(plan.report.dirty_data_lost());
}

TEST(RepairKeys, KeyWithBadDataCrcIsDroppedAndReported)
{
	test_cache c(0x1183);
	cache_key k = c.data_key(1 << 20, 4096, 1, 0, 0x5A);
	c.append_kset({k, c.data_key(2 << 20, 4096, 1, 4096, 0x5B)});
	c.poke(data_offset(1, 100), 0x00);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	ASSERT_EQ(plan.report.lost().size(), 1u) << describe(plan.report);
	EXPECT_EQ(plan.report.lost()[0].range.begin, 1u << 20);
	EXPECT_EQ(plan.report.lost()[0].range.end, (1u << 20) + 4096);
	EXPECT_NE(plan.report.lost()[0].reason.find("data CRC"), std::string::npos);
}

TEST(RepairKeys, ADroppedCleanKeyIsNotALossAndOlderCleanKeysUnderItGoToo)
{
	test_cache c(0x1183);
	cache_pos old = c.append_kset({c.data_key(0, 8192, 1, 0, 0x01)});
	c.append_kset({c.data_key(0, 4096, 1, 8192, 0x02)});
	c.poke(data_offset(1, 8192 + 5), 0xFF);	// the newer key's data is damaged
	c.set_dirty_tail(c.head);	// everything written back: all clean
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_FALSE(plan.report.dirty_data_lost()) << describe(plan.report);
	// The older clean key would show old data where the origin is newer.
	bool dropped_old = false;
	for (const auto &ch : plan.report.changes())
		dropped_old |= ch.kind == change_kind::key_dropped && ch.where.kset == old;
	EXPECT_TRUE(dropped_old) << describe(plan.report);
}

TEST(RepairKeys, AStaleKeyWhoseDataChangedIsDroppedWithoutLoss)
{
	test_cache c(0x1183);
	c.set_gen(2, 1);
	cache_key stale = c.data_key(0, 4096, 2, 0, 0x10, 0);
	stale.flags = PCACHE_KEY_FLAGS_CLEAN;
	c.poke(data_offset(2, 7), 0x99);	// the segment was reused since
	cache_pos k = c.append_kset({stale, c.data_key(8192, 4096, 2, 4096, 0x20, 1)});
	c.set_dirty_tail(c.head);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(plan.report.lost().empty()) << describe(plan.report);
	EXPECT_TRUE(has_change(plan.report, change_kind::key_dropped));
	(void)k;
}

TEST(RepairKeys, AKeyAheadOfItsSegmentRaisesTheGeneration)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 4, 0, 2), make_key(4096, 4096, 4, 4096, 2)});
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(plan.report.lost().empty()) << describe(plan.report);
	pcache_cache_seg_gen raw;
	plan.overlay().read(seg_gen_offset(4, 1), &raw, sizeof(raw));
	EXPECT_EQ(decode(raw).gen, 2u);
}

TEST(RepairKeys, StaleDirtyKeysBringTheGenerationBack)
{
	test_cache c;
	c.set_gen(4, 1);	// bumped, but the segment holds dirty keys of generation 0
	c.append_kset({make_key(0, 4096, 4, 0, 0), make_key(4096, 4096, 4, 4096, 0)});
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(plan.report.lost().empty()) << describe(plan.report);
	pcache_cache_seg_gen raw[2];
	plan.overlay().read(seg_gen_offset(4, 0), &raw[0], sizeof(raw[0]));
	EXPECT_EQ(decode(raw[0]).gen, 0u);
	EXPECT_EQ(decode(raw[0]).header.seq, 3);
}

TEST(RepairKeys, OfTwoKeysOnTheSameCacheBytesTheOlderIsDropped)
{
	test_cache c;
	c.append_kset({make_key(0, 8192, 3, 4096)});
	c.append_kset({make_key(1 << 20, 4096, 3, 8192)});
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	ASSERT_NE(lost_at(plan.report, 0), nullptr) << describe(plan.report);
	EXPECT_EQ(lost_at(plan.report, 1 << 20), nullptr);
}

TEST(RepairKeys, AKeyWithDataInALogSegmentIsDropped)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 0, 65536)});	// segment 0 holds the log
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	ASSERT_NE(lost_at(plan.report, 0), nullptr) << describe(plan.report);
}

TEST(RepairLog, DirtyTailMovesWithItsKset)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos bad = c.append_kset({make_key(4096, 4096, 1, 4096)});
	cache_pos dirty = c.append_kset({make_key(8192, 4096, 1, 8192)});
	c.set_dirty_tail(dirty);
	c.poke(c.kset_offset(bad) + PCACHE_KSET_HEADER_SIZE + 33, 0x01);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_EQ(tail_in(plan.overlay(), PCACHE_DIRTY_TAIL_OFF(1)).pos, bad);
	// The lost kset was before dirty_tail: clean, nothing dirty lost.
	EXPECT_FALSE(plan.report.dirty_data_lost()) << describe(plan.report);
}

TEST(RepairLog, AKsetWhoseMagicWasDamagedIsRestoredWhole)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos bad = c.append_kset({make_key(4096, 4096, 1, 4096), make_key(8192, 4096, 1, 8192)});
	c.append_kset({make_key(12288, 4096, 1, 12288)});
	c.poke(c.kset_offset(bad) + 8, 0x00);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(has_change(plan.report, change_kind::kset_restored)) << describe(plan.report);
	EXPECT_TRUE(plan.report.lost().empty());
}

TEST(RepairLog, ADamagedLastKsetIsReplacedAndTheLogGoesOn)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos last = c.append_last(6);
	c.append_kset({make_key(4096, 4096, 1, 4096)});
	for (unsigned i = 0; i < 4; ++i)
		c.poke(c.kset_offset(last) + i, 0xFF);	// its CRC
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(plan.report.lost().empty()) << describe(plan.report);
}

TEST(RepairLog, AKsetThatSwallowedTheNextIsCutBack)
{
	test_cache c;
	cache_pos k = c.append_kset({make_key(0, 4096, 1, 0)});
	c.append_kset({make_key(4096, 4096, 1, 4096)});
	// key_num 1 -> 2 with the CRC made valid again over the next header.
	std::vector<cache_key> two{make_key(0, 4096, 1, 0), {}};
	std::vector<unsigned char> bytes(PCACHE_KSET_SIZE(2));
	c.dev.read(c.kset_offset(k), bytes.data(), bytes.size());
	uint32_t n = 2;
	std::memcpy(bytes.data() + 4, &n, 4);
	uint32_t crc = record_crc(bytes.data(), bytes.size());
	c.write(c.kset_offset(k), &crc, 4);
	c.write(c.kset_offset(k) + 4, &n, 4);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(plan.report.lost().empty()) << describe(plan.report);
	EXPECT_TRUE(has_change(plan.report, change_kind::kset_restored));
}

TEST(RepairLog, ATornEndIsLeftAndItsKeysListedAsPossiblyLost)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos torn = c.append_kset({make_key(4096, 4096, 1, 4096), make_key(8192, 4096, 1, 8192)});
	c.poke(c.kset_offset(torn) + PCACHE_KSET_SIZE(1) + 36, 0x01);
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_FALSE(plan.changes());
	EXPECT_FALSE(plan.report.dirty_data_lost());
	ASSERT_EQ(plan.report.lost().size(), 2u) << describe(plan.report);
	EXPECT_TRUE(plan.report.lost()[0].torn);
}

TEST(RepairLog, ALogLeadingNowhereGoesOnInTheOnlySegmentItDidNotReach)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos last = c.append_last(7);
	c.append_kset({make_key(4096, 4096, 1, 4096)});
	// A LAST kset, CRC valid, to a segment outside the cache.
	std::vector<unsigned char> bad = encode_last_kset(31, PCACHE_KSET_FLAGS_LAST);
	c.write(c.kset_offset(last), bad.data(), bad.size());
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(plan.report.lost().empty()) << describe(plan.report);
	EXPECT_FALSE(plan.report.dirty_data_lost());
	pcache_cache_kset_onmedia raw;
	plan.overlay().read(c.kset_offset(last), &raw, sizeof(raw));
	EXPECT_EQ(decode(raw).next_seg(), 7u);
}

TEST(RepairLog, ALogThatCannotBeFollowedEndsAndTheRestIsReportedLost)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos last = c.append_last(7);
	c.append_kset({make_key(4096, 4096, 1, 4096)});
	std::vector<unsigned char> bad = encode_last_kset(31, PCACHE_KSET_FLAGS_LAST);
	c.write(c.kset_offset(last), bad.data(), bad.size());
	// A second segment starting with a kset (left over from an earlier
	// log): no way to tell which one the log went on in.
	std::vector<unsigned char> old = encode_kset({make_key(1 << 20, 4096, 2, 0)}, 0);
	c.write(data_offset(9, 0), old.data(), old.size());
	repair_plan plan = plan_repair(c.dev);
	ASSERT_TRUE(repairs_cleanly(plan));
	EXPECT_TRUE(has_change(plan.report, change_kind::log_truncated)) << describe(plan.report);
	EXPECT_FALSE(plan.report.unknown().empty());
	EXPECT_TRUE(plan.report.dirty_data_lost());
}

} // namespace
} // namespace pcache::test
