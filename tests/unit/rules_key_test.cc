// Key rules: a valid key, one mutation, one complaint, and the complaint
// names the key's origin range.
#include "damage_expect.h"
#include "rules.h"

#include <gtest/gtest.h>

namespace pcache::test {
namespace {

key_record valid_key()
{
	key_record r;
	r.key.off = 8 << 20;
	r.key.len = 4096;
	r.key.seg = 5;
	r.key.seg_off = 65536;
	r.key.gen = 3;
	r.segment_gen = 3;
	r.kset = {1, 5144};
	r.index = 7;
	return r;
}

damage_list check(const key_record &r)
{
	damage_list list;
	check_key(r, 63, list);
	return list;
}

#define KEY_RULE(name, kind, mutation)                         \
	TEST(KeyRules, name)                                   \
	{                                                      \
		key_record r = valid_key();                    \
		mutation;                                      \
		damage_list list = check(r);                   \
		ASSERT_TRUE(only(list, damage_kind::kind));    \
		EXPECT_EQ(list.items[0].where.key_index, 7u);  \
		ASSERT_EQ(list.items[0].origin.size(), 1u);    \
		EXPECT_EQ(list.items[0].origin[0].begin, r.key.off); \
	}

TEST(KeyRules, ValidKeys)
{
	EXPECT_TRUE(none(check(valid_key())));
	key_record whole = valid_key();
	whole.key.len = 4 << 20;	// a whole 4 MiB region
	EXPECT_TRUE(none(check(whole)));
	key_record stale = valid_key();
	stale.key.gen = 2;	// older than its segment: stale, not damage
	EXPECT_TRUE(none(check(stale)));
	EXPECT_TRUE(stale.stale());
	EXPECT_TRUE(key_is_sound(valid_key().key, 63));
}

KEY_RULE(ZeroLength, key_zero_length, r.key.len = 0)
KEY_RULE(LengthNotSectorMultiple, key_length_unaligned, r.key.len = 4000)
KEY_RULE(OffsetNotSectorAligned, key_offset_unaligned, r.key.off += 100)
KEY_RULE(LongerThan4MiB, key_too_long, (r.key.off = 0, r.key.len = (4 << 20) + 512))
KEY_RULE(Crosses4MiBBoundary, key_crosses_subtree, r.key.off = (12 << 20) - 2048)
KEY_RULE(BeyondTheLargestOrigin, key_offset_too_large, r.key.off = kMaxOriginBytes)
KEY_RULE(SegmentOutOfRange, key_segment_out_of_range, r.key.seg = 63)
KEY_RULE(OverrunsItsSegment, key_overruns_segment, r.key.seg_off = PCACHE_SEG_DATA_SIZE - 2048)
KEY_RULE(CacheOffsetNotSectorAligned, key_cache_offset_unaligned, r.key.seg_off = 65536 + 8)
KEY_RULE(GenerationAheadOfItsSegment, key_generation_ahead, r.key.gen = 4)
KEY_RULE(StaleDirtyKey, key_stale_dirty, (r.key.gen = 2, r.dirty_window = true))
KEY_RULE(PersistedEmptyFlag, key_empty_flag, r.key.flags = PCACHE_KEY_FLAGS_EMPTY)
KEY_RULE(UnknownFlags, key_unknown_flags, r.key.flags = 0x10)
KEY_RULE(Reserved, key_reserved_nonzero, r.key.reserved = 1)

TEST(KeyRules, WarningsLeaveTheKeySound)
{
	key_record r = valid_key();
	r.key.flags = 0x10 | PCACHE_KEY_FLAGS_CLEAN;
	r.key.reserved = 9;
	EXPECT_TRUE(key_is_sound(r.key, 63));
	r.key.flags = PCACHE_KEY_FLAGS_EMPTY;
	EXPECT_FALSE(key_is_sound(r.key, 63));
}

} // namespace
} // namespace pcache::test
