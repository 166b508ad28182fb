// The copy-on-write overlay pcache_repair plans into.
#include "memory_device.h"
#include "overlay_device.h"

#include <gtest/gtest.h>

#include <cstring>

namespace pcache::test {
namespace {

TEST(OverlayDevice, ReadsSeeTheBaseWithWritesOnTop)
{
	memory_device base(1 << 20);
	unsigned char a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	base.write(4090, a, sizeof(a));
	overlay_device over(base);
	unsigned char b[3] = {9, 9, 9};
	over.write(4094, b, sizeof(b));	// across a page boundary
	unsigned char out[8];
	over.read(4090, out, sizeof(out));
	unsigned char expect[8] = {1, 2, 3, 4, 9, 9, 9, 8};
	EXPECT_EQ(std::memcmp(out, expect, 8), 0);
	base.read(4090, out, sizeof(out));
	EXPECT_EQ(std::memcmp(out, a, 8), 0);	// the base is untouched
}

TEST(OverlayDevice, ChangesAreTheBytesThatDiffer)
{
	memory_device base(1 << 20);
	overlay_device over(base);
	unsigned char same[4] = {0, 0, 0, 0};
	over.write(100, same, sizeof(same));
	EXPECT_FALSE(over.changed());
	EXPECT_TRUE(over.changes().empty());
	unsigned char b[2] = {7, 7};
	over.write(4095, b, 2);
	over.write(200000, b, 1);
	auto runs = over.changes();
	ASSERT_EQ(runs.size(), 2u);
	EXPECT_EQ(runs[0].offset, 4095u);
	EXPECT_EQ(runs[0].after, (std::vector<unsigned char>{7, 7}));
	EXPECT_EQ(runs[0].before, (std::vector<unsigned char>{0, 0}));
	EXPECT_EQ(runs[1].offset, 200000u);
}

TEST(OverlayDevice, NearbyChangesInAPageMakeOneRun)
{
	memory_device base(1 << 20);
	overlay_device over(base);
	unsigned char b = 1;
	over.write(10, &b, 1);
	over.write(40, &b, 1);
	auto runs = over.changes();
	ASSERT_EQ(runs.size(), 1u);
	EXPECT_EQ(runs[0].after.size(), 31u);
}

} // namespace
} // namespace pcache::test
