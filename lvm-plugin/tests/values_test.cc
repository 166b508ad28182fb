// Option values: sizes, booleans, numbers, modes, systemd escapes.
#include "values.h"

#include <gtest/gtest.h>

using namespace lvpcache;

TEST(Values, Sizes)
{
	EXPECT_EQ(parse_size("512", "-L"), 512ull << 20);
	EXPECT_EQ(parse_size("1G", "-L"), 1ull << 30);
	EXPECT_EQ(parse_size("1.5g", "-L"), 3ull << 29);
	EXPECT_EQ(parse_size("8s", "-L"), 4096u);
	EXPECT_EQ(parse_size("4096b", "-L"), 4096u);
	EXPECT_THROW(parse_size("", "-L"), std::invalid_argument);
	EXPECT_THROW(parse_size("-1G", "-L"), std::invalid_argument);
	EXPECT_THROW(parse_size("1X", "-L"), std::invalid_argument);
	EXPECT_THROW(parse_size("0", "-L"), std::invalid_argument);
}

TEST(Values, Booleans)
{
	EXPECT_TRUE(parse_bool("y", "--data-crc"));
	EXPECT_FALSE(parse_bool("false", "--data-crc"));
	EXPECT_THROW(parse_bool("maybe", "--data-crc"), std::invalid_argument);
}

TEST(Values, Numbers)
{
	EXPECT_EQ(parse_unsigned("90", "--gc-percent", 90), 90u);
	EXPECT_THROW(parse_unsigned("91", "--gc-percent", 90), std::invalid_argument);
	EXPECT_THROW(parse_unsigned("-1", "--gc-percent", 90), std::invalid_argument);
	EXPECT_THROW(parse_unsigned("5x", "--gc-percent", 90), std::invalid_argument);
}

TEST(Values, CacheModes)
{
	EXPECT_EQ(parse_cache_mode("writearound"), "writearound");
	EXPECT_THROW(parse_cache_mode("writeonly"), std::invalid_argument);
}

TEST(Values, SystemdInstanceEscapes)
{
	EXPECT_EQ(unescape_systemd("my\\x2bvg"), "my+vg");
	EXPECT_EQ(unescape_systemd("my-vg"), "my-vg");
}
