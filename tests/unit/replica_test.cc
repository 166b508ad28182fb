// Replica choice, exactly as spec §2.5.
#include "replica.h"

#include <gtest/gtest.h>

namespace pcache::test {
namespace {

std::optional<unsigned> choose(slot_state s0, uint8_t q0, slot_state s1, uint8_t q1)
{
	return choose_replica({slot_summary{s0, q0}, slot_summary{s1, q1}});
}

constexpr auto V = slot_state::valid;
constexpr auto B = slot_state::bad_crc;
constexpr auto E = slot_state::empty;

TEST(ReplicaChoice, NoneValid)
{
	EXPECT_EQ(choose(E, 0, E, 0), std::nullopt);
	EXPECT_EQ(choose(B, 5, B, 6), std::nullopt);
}

TEST(ReplicaChoice, OnlyOneValid)
{
	EXPECT_EQ(choose(V, 1, E, 0), 0u);
	EXPECT_EQ(choose(E, 0, V, 1), 1u);
	// A damaged copy's seq means nothing, however new it looks.
	EXPECT_EQ(choose(V, 1, B, 200), 0u);
	EXPECT_EQ(choose(B, 9, V, 1), 1u);
}

TEST(ReplicaChoice, NewerWins)
{
	EXPECT_EQ(choose(V, 1, V, 2), 1u);
	EXPECT_EQ(choose(V, 2, V, 1), 0u);
}

TEST(ReplicaChoice, EqualSeqsKeepReplicaZero) { EXPECT_EQ(choose(V, 42, V, 42), 0u); }

TEST(ReplicaChoice, WrapAround)
{
	EXPECT_EQ(choose(V, 255, V, 0), 1u);	// 0 follows 255
	EXPECT_EQ(choose(V, 0, V, 255), 0u);
	EXPECT_EQ(choose(V, 250, V, 3), 1u);
	EXPECT_EQ(choose(V, 3, V, 250), 0u);
}

TEST(ReplicaChoice, DifferenceOf127)
{
	EXPECT_EQ(choose(V, 0, V, 127), 1u);
	EXPECT_EQ(choose(V, 127, V, 0), 0u);
}

TEST(ReplicaChoice, DifferenceOf128KeepsReplicaZero)
{
	// (int8_t)(128) is -128: not newer, in either order.
	EXPECT_EQ(choose(V, 0, V, 128), 0u);
	EXPECT_EQ(choose(V, 128, V, 0), 0u);
	EXPECT_EQ(choose(V, 200, V, 72), 0u);
}

TEST(ReplicaChoice, SeqNewer)
{
	EXPECT_TRUE(seq_newer(1, 0));
	EXPECT_TRUE(seq_newer(0, 255));
	EXPECT_FALSE(seq_newer(5, 5));
	EXPECT_FALSE(seq_newer(128, 0));
	EXPECT_FALSE(seq_newer(0, 128));
}

} // namespace
} // namespace pcache::test
