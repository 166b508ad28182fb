// The pcache status and table lines lvpcache reads.
#include "pcache_status.h"

#include <gtest/gtest.h>

using namespace lvpcache;

TEST(PcacheStatus, UpstreamNineFields)
{
	auto st = parse_pcache_status("0 63 63 1 70 1183 0:0 0:4096 0:0");
	EXPECT_FALSE(st.failed);
	EXPECT_EQ(st.seg_total, 63u);
	EXPECT_EQ(st.cache_segs, 63u);
	EXPECT_EQ(st.segs_used, 1u);
	EXPECT_EQ(st.gc_percent, 70u);
	EXPECT_EQ(st.cache_flags, 0x1183u);
	EXPECT_EQ(st.dirty_tail, "0:4096");
	EXPECT_FALSE(st.extended);
}

TEST(PcacheStatus, WritebackErrorsOfPcache10)
{
	auto st = parse_pcache_status("0 37 37 1 70 1182 0:0 0:0 0:0 3");
	EXPECT_EQ(st.writeback_errors, 3u);
	EXPECT_FALSE(st.extended);
}

TEST(PcacheStatus, ExtendedFieldsOfIssue6)
{
	auto st = parse_pcache_status("0 63 63 5 70 1182 1:8 0:0 0:0 10 2 30 4 1048576 0 writethrough ro needs_check");
	ASSERT_TRUE(st.extended);
	EXPECT_EQ(st.extended->read_hits, 10u);
	EXPECT_EQ(st.extended->read_misses, 2u);
	EXPECT_EQ(st.extended->write_hits, 30u);
	EXPECT_EQ(st.extended->write_misses, 4u);
	EXPECT_EQ(st.extended->dirty_bytes, 1048576u);
	EXPECT_EQ(st.extended->mode, "writethrough");
	EXPECT_EQ(st.writeback_errors, 0u);
	EXPECT_TRUE(st.extended->metadata_read_only);
	EXPECT_TRUE(st.extended->needs_check);
}

TEST(PcacheStatus, FailAlone)
{
	EXPECT_TRUE(parse_pcache_status("Fail").failed);
}

TEST(PcacheStatus, WrongFieldCountIsRefused)
{
	EXPECT_THROW(parse_pcache_status("0 63 63 1 70 1183 0:0 0:0"), std::runtime_error);
}

TEST(PcacheStatus, BadPositionIsRefused)
{
	EXPECT_THROW(parse_pcache_status("0 63 63 1 70 1183 0:0 0 0:0"), std::runtime_error);
}

TEST(PcacheStatus, BadMetadataModeIsRefused)
{
	EXPECT_THROW(parse_pcache_status("0 63 63 5 70 1182 1:8 0:0 0:0 1 2 3 4 5 0 writeback rx -"),
		     std::runtime_error);
}

TEST(PcacheTable, AcceptsUpstreamCrcKeyword)
{
	auto t = parse_pcache_table("253:1 253:0 4 cache_mode writeback crc true");
	EXPECT_EQ(t.cache_dev, "253:1");
	EXPECT_EQ(t.backing_dev, "253:0");
	EXPECT_EQ(t.cache_mode, "writeback");
	EXPECT_TRUE(t.data_crc);
}
