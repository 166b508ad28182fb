// The walker on small images built in memory: what it emits, and exactly
// which damage it reports for one break at a time.
#include "damage_expect.h"
#include "encode.h"
#include "layout.h"
#include "payload_verifier.h"
#include "test_cache.h"
#include "walker.h"

#include <gtest/gtest.h>

namespace pcache::test {
namespace {

TEST(Walker, FreshCacheIsClean)
{
	test_cache c;
	walk_result r = walk(c);
	EXPECT_TRUE(none(r.damage));
	EXPECT_EQ(r.events.segments.size(), 31u);
	EXPECT_TRUE(r.events.began);
	EXPECT_TRUE(r.events.ended_log);
	EXPECT_TRUE(r.events.ended);
	EXPECT_EQ(r.events.summary.end, (cache_pos{0, 0}));
	EXPECT_TRUE(r.events.summary.dirty_tail_reached);
	EXPECT_TRUE(r.events.summary.complete);
}

TEST(Walker, KsetsAndKeysInLogOrder)
{
	test_cache c;
	c.append_kset(keys_at(0, 3));
	cache_pos second = c.append_kset(keys_at(1 << 20, 2, 1, 65536));
	walk_result r = walk(c);
	EXPECT_TRUE(none(r.damage));
	ASSERT_EQ(r.events.ksets.size(), 2u);
	EXPECT_EQ(r.events.ksets[1].pos, second);
	EXPECT_EQ(second.off, PCACHE_KSET_SIZE(3));
	ASSERT_EQ(r.events.keys.size(), 5u);
	EXPECT_EQ(r.events.keys[3].order, 3u);
	EXPECT_EQ(r.events.keys[3].index, 0u);
	EXPECT_EQ(r.events.keys[3].kset, second);
	EXPECT_EQ(r.events.keys[3].device_offset, data_offset(0, second.off) + PCACHE_KSET_HEADER_SIZE);
	EXPECT_EQ(r.events.summary.end, c.head);
	EXPECT_EQ(r.events.summary.keys, 5u);
	EXPECT_EQ(r.events.summary.bytes, PCACHE_KSET_SIZE(3) + PCACHE_KSET_SIZE(2));
}

TEST(Walker, LastKsetContinuesInTheNextSegment)
{
	test_cache c;
	c.append_kset(keys_at(0, 1));
	c.append_last(5);
	c.append_kset(keys_at(8192, 1));
	walk_result r = walk(c);
	EXPECT_TRUE(none(r.damage));
	ASSERT_EQ(r.events.lasts.size(), 1u);
	EXPECT_EQ(r.events.lasts[0].header.next_seg(), 5u);
	ASSERT_EQ(r.events.ksets.size(), 2u);
	EXPECT_EQ(r.events.ksets[1].pos, (cache_pos{5, 0}));
	EXPECT_EQ(r.events.summary.key_segments, 2u);
	EXPECT_EQ(r.events.summary.last_ksets, 1u);
	EXPECT_EQ(r.events.summary.end, (cache_pos{5, uint32_t(PCACHE_KSET_SIZE(1))}));
}

TEST(Walker, ResolvesLogicalSegmentsThroughTheChain)
{
	test_cache c;
	// Three cache segments at physical 10 -> 4 -> 20.
	cache_info ci = c.cache_info_in(0);
	ci.seg_id = 10;
	ci.n_segs = 3;
	c.set_cache_info(ci, 0);
	segment_info si;
	si.header.seq = 3;
	si.flags = PCACHE_SEG_INFO_FLAGS_HAS_NEXT | PCACHE_SEGMENT_TYPE_CACHE_DATA << PCACHE_SEG_INFO_TYPE_SHIFT;
	si.next_seg = 4;
	c.set_seg_info(10, si, 0);
	si.next_seg = 20;
	c.set_seg_info(4, si, 0);
	std::vector<unsigned char> kset = encode_kset(keys_at(0, 1, 2), 0);
	c.write(data_offset(10, 0), kset.data(), kset.size());
	walk_result r = walk(c);
	EXPECT_TRUE(none(r.damage));
	ASSERT_EQ(r.events.segments.size(), 3u);
	EXPECT_EQ(r.events.segments[0].phys, 10u);
	EXPECT_EQ(r.events.segments[1].phys, 4u);
	EXPECT_EQ(r.events.segments[2].phys, 20u);
	ASSERT_EQ(r.events.keys.size(), 1u);
	EXPECT_EQ(r.events.ksets[0].device_offset, data_offset(10, 0));
}

TEST(Walker, TornKsetAtTheEndIsAWarning)
{
	test_cache c;
	c.append_kset(keys_at(0, 2));
	cache_pos torn = c.append_kset(keys_at(65536, 2));
	c.poke(c.kset_offset(torn) + PCACHE_KSET_SIZE(1) + 3, 0x5A);	// inside its second key
	walk_result r = walk(c);
	ASSERT_TRUE(only(r.damage, damage_kind::log_torn_end));
	EXPECT_EQ(r.damage.items[0].where.kset, torn);
	EXPECT_EQ(r.damage.items[0].origin.size(), 2u);
	EXPECT_EQ(r.events.keys.size(), 2u);
	EXPECT_EQ(r.events.summary.end, torn);
	EXPECT_TRUE(r.events.summary.complete);
}

TEST(Walker, DamagedKsetInTheMiddleIsAnError)
{
	test_cache c;
	c.append_kset(keys_at(0, 2));
	cache_pos bad = c.append_kset(keys_at(65536, 2));
	c.append_kset(keys_at(1 << 20, 2));
	c.poke(c.kset_offset(bad) + PCACHE_KSET_HEADER_SIZE + 1, 0x77);
	walk_result r = walk(c);
	ASSERT_TRUE(only(r.damage, damage_kind::kset_damaged));
	const damage &d = r.damage.items[0];
	EXPECT_EQ(d.where.kset, bad);
	ASSERT_EQ(d.origin.size(), 2u);
	EXPECT_EQ(d.origin[1].begin, 65536u + 4096);
	EXPECT_EQ(r.events.keys.size(), 2u);
	EXPECT_FALSE(r.events.summary.complete);
}

TEST(Walker, RepairModeStepsOverADamagedKset)
{
	test_cache c;
	c.append_kset(keys_at(0, 2));
	cache_pos bad = c.append_kset(keys_at(65536, 2));
	c.append_kset(keys_at(1 << 20, 3));
	c.poke(c.kset_offset(bad) + 9, 0x00);	// the magic
	walk_result r = walk(c, true);
	ASSERT_TRUE(only(r.damage, damage_kind::kset_damaged));
	EXPECT_NE(r.damage.items[0].detail.find("stepped over"), std::string::npos);
	EXPECT_EQ(r.events.keys.size(), 5u);
	EXPECT_EQ(r.events.summary.skipped_ksets, 1u);
	EXPECT_EQ(r.events.summary.end, c.head);
}

TEST(Walker, GarbageAtTheEndOfTheLogWarns)
{
	test_cache c;
	c.append_kset(keys_at(0, 1));
	c.poke(c.kset_offset(c.head) + 2, 0x42);
	walk_result r = walk(c);
	EXPECT_TRUE(only(r.damage, damage_kind::log_end_not_zeroed));
	EXPECT_EQ(r.events.keys.size(), 1u);
}

TEST(Walker, KsetWithTooManyKeysEndsTheLog)
{
	test_cache c;
	c.append_kset(keys_at(0, 1));
	std::vector<cache_key> many(129, make_key(0, 512, 1, 0));
	c.append_kset(many);
	walk_result r = walk(c);
	EXPECT_TRUE(only(r.damage, damage_kind::kset_too_many_keys));
	EXPECT_EQ(r.events.keys.size(), 1u);
}

TEST(Walker, LogCycleStopsTheWalk)
{
	test_cache c;
	c.append_kset(keys_at(0, 1));
	c.append_last(3);
	c.append_kset(keys_at(8192, 1));
	// A LAST kset back to segment 0 (append_last would zero its start).
	std::vector<unsigned char> back = encode_last_kset(0, PCACHE_KSET_FLAGS_LAST);
	c.write(c.kset_offset(c.head), back.data(), back.size());
	walk_result r = walk(c);
	ASSERT_TRUE(only(r.damage, damage_kind::log_revisits_segment));
	EXPECT_EQ(r.events.keys.size(), 2u);
	EXPECT_FALSE(r.events.summary.complete);
}

TEST(Walker, LastKsetOutsideTheCache)
{
	test_cache c;
	std::vector<unsigned char> last = encode_last_kset(40, PCACHE_KSET_FLAGS_LAST);
	c.write(c.kset_offset(c.head), last.data(), last.size());
	walk_result r = walk(c);
	EXPECT_TRUE(only(r.damage, damage_kind::last_kset_next_out_of_range));
}

TEST(Walker, BrokenChainAndTheLogBeyondIt)
{
	test_cache c;
	segment_info si;
	si.header.seq = 3;
	si.flags = PCACHE_SEGMENT_TYPE_CACHE_DATA << PCACHE_SEG_INFO_TYPE_SHIFT;	// HAS_NEXT lost
	c.set_seg_info(1, si, 0);
	c.append_kset(keys_at(0, 1));
	c.append_last(4);
	walk_result r = walk(c);
	EXPECT_EQ(r.events.segments.size(), 2u);
	EXPECT_EQ(r.kinds(), (std::vector<damage_kind>{damage_kind::seg_chain_broken,
							damage_kind::log_segment_unknown}));
}

TEST(Walker, ChainCycle)
{
	test_cache c;
	segment_info si;
	si.header.seq = 3;
	si.flags = PCACHE_SEG_INFO_FLAGS_HAS_NEXT | PCACHE_SEGMENT_TYPE_CACHE_DATA << PCACHE_SEG_INFO_TYPE_SHIFT;
	si.next_seg = 0;
	c.set_seg_info(2, si, 0);
	walk_result r = walk(c);
	EXPECT_TRUE(only(r.damage, damage_kind::seg_chain_cycle));
	EXPECT_EQ(r.events.segments.size(), 3u);
}

TEST(Walker, DirtyTailMustBeAKsetBoundary)
{
	test_cache c;
	c.append_kset(keys_at(0, 2));
	c.set_dirty_tail({0, 8}, 2);
	walk_result r = walk(c);
	EXPECT_TRUE(only(r.damage, damage_kind::dirty_tail_not_on_log));
}

TEST(Walker, DirtyWindowStartsAtDirtyTail)
{
	test_cache c;
	c.append_kset(keys_at(0, 1));
	cache_pos second = c.append_kset(keys_at(8192, 1));
	c.set_dirty_tail(second, 2);
	walk_result r = walk(c);
	EXPECT_TRUE(none(r.damage));
	ASSERT_EQ(r.events.keys.size(), 2u);
	EXPECT_FALSE(r.events.keys[0].dirty_window);
	EXPECT_TRUE(r.events.keys[1].dirty_window);
}

TEST(Walker, StaleKeysAreCountedNotDamage)
{
	test_cache c;
	c.set_gen(2, 1);
	// A stale key is clean data (a dirty one would be damage: key_stale_dirty).
	cache_key stale = make_key(0, 4096, 2, 0, 0);
	stale.flags = PCACHE_KEY_FLAGS_CLEAN;
	c.append_kset({stale, make_key(4096, 4096, 2, 4096, 1)});
	walk_result r = walk(c);
	EXPECT_TRUE(none(r.damage));
	ASSERT_EQ(r.events.keys.size(), 2u);
	EXPECT_TRUE(r.events.keys[0].stale());
	EXPECT_FALSE(r.events.keys[1].stale());
	EXPECT_EQ(r.events.summary.stale_keys, 1u);
}

TEST(Walker, StrayCacheInfoCopyWarns)
{
	test_cache c;
	cache_info ci = c.cache_info_in(0);
	ci.header.seq = 2;
	c.put(PCACHE_CACHE_INFO_STRAY_OFF, encode(ci));
	walk_result r = walk(c);
	EXPECT_TRUE(only(r.damage, damage_kind::stray_cache_info));
}

TEST(Walker, NewestCacheInfoAcrossSeqWrapAround)
{
	test_cache c;
	cache_info ci = c.cache_info_in(0);
	ci.header.seq = 255;
	c.set_cache_info(ci, 0);
	ci.header.seq = 0;
	ci.flags = (ci.flags & ~PCACHE_CACHE_FLAGS_GC_MASK) | 40 << PCACHE_CACHE_FLAGS_GC_SHIFT;
	c.set_cache_info(ci, 1);
	walk_result r = walk(c);
	EXPECT_TRUE(none(r.damage));
	ASSERT_TRUE(r.events.have_info);
	EXPECT_EQ(*r.events.info.chosen, 1u);
	EXPECT_EQ(r.events.info.current().gc_percent(), 40u);
}

TEST(Walker, DamagedNewestKeyTailFallsBackToTheOther)
{
	test_cache c;
	cache_pos second = c.append_kset(keys_at(0, 1));
	c.append_kset(keys_at(8192, 1));
	(void)second;
	c.set_key_tail({0, uint32_t(PCACHE_KSET_SIZE(1))}, 2, 1);
	c.poke(PCACHE_KEY_TAIL_OFF(1) + 9, 0xEE);
	walk_result r = walk(c);
	ASSERT_TRUE(only(r.damage, damage_kind::tail_replica_damaged));
	EXPECT_EQ(r.damage.items[0].where.replica, 1u);
	EXPECT_EQ(r.events.summary.start, (cache_pos{0, 0}));	// replica 0's
	EXPECT_EQ(r.events.keys.size(), 2u);
}

TEST(Walker, BadSuperblockStopsEverything)
{
	test_cache c;
	c.poke(PCACHE_SB_OFF + 17, 0x01);	// seg_num
	walk_result r = walk(c);
	EXPECT_TRUE(only(r.damage, damage_kind::sb_bad_crc));
	EXPECT_FALSE(r.events.have_info);
	EXPECT_TRUE(r.events.ended);
}

TEST(Walker, NoValidCacheInfoStopsEverything)
{
	test_cache c;
	c.poke(PCACHE_CACHE_INFO_OFF + 12, 0x01);
	walk_result r = walk(c);
	EXPECT_TRUE(only(r.damage, damage_kind::cache_info_missing));
	EXPECT_FALSE(r.events.have_tails);
}

TEST(Walker, TooSmallOrXmlIsAFormatError)
{
	memory_device tiny(4000, "tiny");
	damage_list list;
	metadata_visitor none_visitor;
	EXPECT_THROW(walker(tiny, list).walk(none_visitor), format_error);
	memory_device xml(1 << 20, "xml");
	const char text[] = "<?xml version=\"1.0\"?>\n<pcache_metadata format_version=\"1\">";
	xml.write(0, text, sizeof(text) - 1);
	try {
		walker(xml, list).walk(none_visitor);
		FAIL() << "no error";
	} catch (const format_error &e) {
		EXPECT_NE(std::string(e.what()).find("looks like XML"), std::string::npos);
	}
}

TEST(PayloadVerifier, GoodCrcsAreQuiet)
{
	test_cache c(0x1183);	// DATA_CRC on
	c.append_kset({c.data_key(0, 4096, 1, 0, 0xAA), c.data_key(4096, 8192, 1, 4096, 0xBB)});
	damage_list list;
	payload_verifier verify(c.dev, list);
	walker(c.dev, list).walk(verify);
	EXPECT_TRUE(none(list));
	EXPECT_EQ(verify.verified_keys(), 2u);
	EXPECT_EQ(verify.verified_bytes(), 12288u);
}

TEST(PayloadVerifier, DamagedPayload)
{
	test_cache c(0x1183);
	c.append_kset({c.data_key(0, 4096, 1, 0, 0xAA), c.data_key(1 << 20, 4096, 1, 4096, 0xBB)});
	c.poke(data_offset(1, 4096 + 100), 0);
	damage_list list;
	payload_verifier verify(c.dev, list);
	walker(c.dev, list).walk(verify);
	ASSERT_TRUE(only(list, damage_kind::key_data_crc_mismatch));
	EXPECT_EQ(list.items[0].origin[0], (byte_range{1 << 20, (1 << 20) + 4096}));
	EXPECT_EQ(list.items[0].where.key_index, 1u);
}

TEST(PayloadVerifier, StaleKeyWithAStaleCrc)
{
	test_cache c(0x1183);
	c.set_gen(1, 1);
	cache_key old = c.data_key(0, 4096, 1, 0, 0xAA, 0);
	old.flags = PCACHE_KEY_FLAGS_CLEAN;	// stale keys are clean (else key_stale_dirty)
	c.poke(data_offset(1, 5), 0x11);	// the segment was reused since
	c.append_kset({old});
	damage_list list;
	payload_verifier verify(c.dev, list);
	walker(c.dev, list).walk(verify);
	EXPECT_TRUE(only(list, damage_kind::stale_key_data_crc_mismatch));
}

TEST(PayloadVerifier, OffWithoutDataCrc)
{
	test_cache c;	// DATA_CRC off: data_crc fields mean nothing
	cache_key k = make_key(0, 4096, 1, 0);
	k.data_crc = 0x12345678;
	c.append_kset({k});
	damage_list list;
	payload_verifier verify(c.dev, list);
	walker(c.dev, list).walk(verify);
	EXPECT_TRUE(none(list));
	EXPECT_EQ(verify.verified_keys(), 0u);
}

} // namespace
} // namespace pcache::test

namespace pcache::test {
namespace {

// Reads through to another device, except [bad_begin, bad_end), which
// cannot be read, like a poisoned pmem range.
class failing_device : public device {
public:
	failing_device(device &inner, uint64_t bad_begin, uint64_t bad_end)
		: device("failing", inner.size(), false), inner_(inner), bad_begin_(bad_begin), bad_end_(bad_end)
	{
	}
	const char *kind() const override { return "test device"; }
	void flush() override {}

protected:
	void do_read(uint64_t off, void *buf, size_t len) override
	{
		if (off < bad_end_ && bad_begin_ < off + len)
			fail("media error", off);
		inner_.read(off, buf, len);
	}
	void do_write(uint64_t, const void *, size_t) override {}

private:
	device &inner_;
	uint64_t bad_begin_, bad_end_;
};

TEST(Walker, UnreadableKsetIsAReadError)
{
	test_cache c;
	c.append_kset(keys_at(0, 2));
	cache_pos second = c.append_kset(keys_at(65536, 2));
	uint64_t bad = c.kset_offset(second) + 30;
	failing_device dev(c.dev, bad, bad + 1);
	walk_result r;
	walker(dev, r.damage).walk(r.events);
	ASSERT_TRUE(only(r.damage, damage_kind::read_error));
	EXPECT_EQ(r.damage.items[0].where.kset, second);
	EXPECT_NE(r.damage.items[0].detail.find("media error"), std::string::npos);
	EXPECT_EQ(r.events.keys.size(), 2u);	// the first kset, read before the bad range
	EXPECT_FALSE(r.events.summary.complete);
}

TEST(PayloadVerifier, UnreadablePayloadIsAReadError)
{
	test_cache c(0x1183);
	c.append_kset({c.data_key(0, 4096, 1, 0, 0xAA)});
	uint64_t bad = data_offset(1, 100);
	failing_device dev(c.dev, bad, bad + 1);
	damage_list list;
	payload_verifier verify(dev, list);
	walker(dev, list).walk(verify);
	ASSERT_TRUE(only(list, damage_kind::read_error));
	EXPECT_EQ(list.items[0].where.record, record_kind::payload);
	EXPECT_EQ(list.items[0].origin[0], (byte_range{0, 4096}));
}

} // namespace
} // namespace pcache::test
