// The damage table: every kind has a name and a severity, and records
// print as "severity: location: detail; origin bytes [a, b)".
#include "damage.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace pcache::test {
namespace {

TEST(Damage, EveryKindHasAUniqueNameAndASeverity)
{
	std::set<std::string> names;
	int kinds = 0;
#define PCACHE_COUNT(name, sev)                                                   \
	++kinds;                                                                  \
	EXPECT_EQ(std::string(to_string(damage_kind::name)), #name);              \
	EXPECT_NE(severity_of(damage_kind::name), severity::none) << #name;       \
	names.insert(to_string(damage_kind::name));
	PCACHE_DAMAGE_KINDS(PCACHE_COUNT)
#undef PCACHE_COUNT
	EXPECT_EQ(names.size(), size_t(kinds));
}

TEST(Damage, OneLineWithLocationAndOrigin)
{
	location where{record_kind::key};
	where.kset = cache_pos{3, 5144};
	where.key_index = 7;
	where.device_offset = 123456;
	damage d{damage_kind::key_crosses_subtree, where, "crosses a 4 MiB boundary", {{4190208, 4198400}}};
	EXPECT_EQ(to_string(d), "error: key 7 of kset 3:5144 (byte 123456): crosses a 4 MiB boundary; "
				"origin bytes [4190208, 4198400)");
	where = location(record_kind::seg_gen);
	where.segment = 4;
	where.phys_segment = 9;
	where.replica = 1;
	where.input_line = 12;
	EXPECT_EQ(to_string(where), "line 12: segment 4 (physical 9) seg_gen replica 1");
}

TEST(Damage, TallyKeepsTheWorst)
{
	damage_list list;
	damage_tally tally(&list);
	tally.report({damage_kind::stray_cache_info, {}, "", {}});
	EXPECT_EQ(tally.worst(), severity::warning);
	tally.report({damage_kind::kset_damaged, {}, "", {}});
	tally.report({damage_kind::kset_no_keys, {}, "", {}});
	EXPECT_EQ(tally.worst(), severity::error);
	EXPECT_EQ(tally.errors(), 1u);
	EXPECT_EQ(tally.warnings(), 2u);
	EXPECT_EQ(list.items.size(), 3u);
}

} // namespace
} // namespace pcache::test
