// The walker after a damaged record: where the log goes on (a restored
// header field, a scan within one kset's reach), and where it really ends
// (the terminator after a kset write cut short).
#include "damage_expect.h"
#include "encode.h"
#include "layout.h"
#include "test_cache.h"
#include "walker.h"

#include <gtest/gtest.h>

namespace pcache::test {
namespace {

// Writes a little-endian u32 into the image.
void put32(test_cache &c, uint64_t off, uint32_t v)
{
	c.put(off, v);
}

TEST(WalkerResync, DamagedKeyCountIsFoundByTheCrc)
{
	test_cache c;
	c.append_kset(keys_at(0, 2));
	cache_pos bad = c.append_kset(keys_at(65536, 3));
	c.append_kset(keys_at(1 << 20, 1));
	put32(c, c.kset_offset(bad) + 4, 7);	// key_num 3 -> 7, CRC left as it was
	walk_result r = walk(c);
	ASSERT_TRUE(only(r.damage, damage_kind::kset_damaged));
	EXPECT_NE(r.damage.items[0].detail.find("its key_num is damaged"), std::string::npos);
	EXPECT_EQ(r.events.keys.size(), 2u);
}

TEST(WalkerResync, RepairModeResumesAfterAKsetWithADamagedKeyCount)
{
	test_cache c;
	c.append_kset(keys_at(0, 2));
	cache_pos bad = c.append_kset(keys_at(65536, 3));
	cache_pos after = c.append_kset(keys_at(1 << 20, 1));
	put32(c, c.kset_offset(bad) + 4, 0);
	walk_result r = walk(c, true);
	ASSERT_TRUE(only(r.damage, damage_kind::kset_damaged));
	ASSERT_EQ(r.events.ksets.size(), 2u);
	EXPECT_EQ(r.events.ksets[1].pos, after);
	EXPECT_EQ(r.events.summary.end, c.head);
}

TEST(WalkerResync, DamagedNextSegmentOfALastKsetIsFoundByTheCrc)
{
	test_cache c;
	c.append_kset(keys_at(0, 1));
	cache_pos last = c.append_last(7);
	c.append_kset(keys_at(8192, 2));
	put32(c, c.kset_offset(last) + 4, 9);	// next segment 7 -> 9
	walk_result r = walk(c, true);
	ASSERT_TRUE(only(r.damage, damage_kind::kset_damaged));
	EXPECT_NE(r.damage.items[0].detail.find("its next segment is damaged"), std::string::npos);
	ASSERT_EQ(r.events.ksets.size(), 2u);
	EXPECT_EQ(r.events.ksets[1].pos, (cache_pos{7, 0}));
	EXPECT_EQ(r.events.keys.size(), 3u);
}

TEST(WalkerResync, LastKsetWithItsFlagsClearedIsFoundByTheCrc)
{
	test_cache c;
	c.append_kset(keys_at(0, 1));
	cache_pos last = c.append_last(4);
	c.append_kset(keys_at(8192, 1));
	c.put(c.kset_offset(last) + 16, uint64_t(0));	// LAST flag gone
	walk_result r = walk(c);
	ASSERT_TRUE(only(r.damage, damage_kind::kset_damaged));
	EXPECT_NE(r.damage.items[0].detail.find("its flags is damaged"), std::string::npos);
}

TEST(WalkerResync, ScanFindsTheNextKsetWhenTheHeaderIsGarbage)
{
	test_cache c;
	c.append_kset(keys_at(0, 1));
	cache_pos bad = c.append_kset(keys_at(65536, 2));
	cache_pos after = c.append_kset(keys_at(1 << 20, 1));
	// Crc, key count, magic and flags all garbage.
	for (unsigned i = 0; i < PCACHE_KSET_HEADER_SIZE; ++i)
		c.poke(c.kset_offset(bad) + i, static_cast<unsigned char>(0xC3 + i));
	walk_result r = walk(c, true);
	ASSERT_TRUE(only(r.damage, damage_kind::kset_damaged));
	ASSERT_EQ(r.events.ksets.size(), 2u);
	EXPECT_EQ(r.events.ksets[1].pos, after);
}

TEST(WalkerResync, ScanStopsAtATerminator)
{
	// A garbage header at the end of the log, zeros after it, then a valid
	// kset left over from an earlier use of the segment: not the log.
	test_cache c;
	c.append_kset(keys_at(0, 1));
	cache_pos end = c.head;
	c.poke(c.kset_offset(end) + 2, 0x42);
	std::vector<unsigned char> old = encode_kset(keys_at(1 << 20, 1), 0);
	c.write(c.kset_offset(end) + 256, old.data(), old.size());
	walk_result r = walk(c, true);
	EXPECT_TRUE(only(r.damage, damage_kind::log_end_not_zeroed));
	EXPECT_EQ(r.events.ksets.size(), 1u);
	EXPECT_EQ(r.events.summary.end, end);
}

TEST(WalkerResync, KsetWithTooManyKeysIsSteppedOverInRepairMode)
{
	test_cache c;
	c.append_kset(keys_at(0, 1));
	cache_pos bad = c.append_kset(keys_at(65536, 2));
	c.append_kset(keys_at(1 << 20, 1));
	put32(c, c.kset_offset(bad) + 4, 200);
	walk_result r = walk(c, true);
	ASSERT_TRUE(only(r.damage, damage_kind::kset_too_many_keys));
	EXPECT_EQ(r.events.ksets.size(), 2u);
	EXPECT_EQ(r.events.summary.skipped_ksets, 1u);
}

} // namespace
} // namespace pcache::test
