// CRC-32C against the vectors of the format specification, Appendix A,
// computed on records built from the shared format header.
#include "crc32c.h"

#include <pcache/pcache_format.h>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	      "these vectors assign little-endian fields directly");

namespace {

using pcache::record_crc;

TEST(Crc32c, StandardCheckValueWithInvertedSeed)
{
	// Standard CRC-32C("123456789") = 0xE3069283 is ~crc(~0, data).
	const char *digits = "123456789";
	EXPECT_EQ(~pcache::crc32c(0xFFFFFFFFu, digits, 9), 0xE3069283u);
	EXPECT_EQ(~pcache::detail::crc32c_portable(0xFFFFFFFFu, digits, 9), 0xE3069283u);
}

TEST(Crc32c, SuperblockVectors)
{
	pcache_sb sb{};
	sb.magic = PCACHE_MAGIC;
	sb.seg_num = 2015;
	EXPECT_EQ(record_crc(&sb, sizeof(sb)), 0x379b9a9du);
	sb.seg_num = 31;
	EXPECT_EQ(record_crc(&sb, sizeof(sb)), 0x047f7742u);
}

TEST(Crc32c, CacheInfoVector)
{
	pcache_cache_info info{};
	info.header.seq = 1;
	info.n_segs = 2015;
	info.flags = 0x1182;
	EXPECT_EQ(record_crc(&info, sizeof(info)), 0x9a4202edu);
}

TEST(Crc32c, PosAndSegGenVectors)
{
	pcache_cache_pos_onmedia pos{};
	pos.header.seq = 1;
	EXPECT_EQ(record_crc(&pos, sizeof(pos)), 0x6ef5dfb0u);
	pcache_cache_seg_gen gen{};
	gen.header.seq = 1;
	EXPECT_EQ(record_crc(&gen, sizeof(gen)), 0x6ef5dfb0u);
}

TEST(Crc32c, SegInfoVectors)
{
	pcache_segment_info si{};
	si.header.seq = 1;
	si.flags = 0x2;
	EXPECT_EQ(record_crc(&si, sizeof(si)), 0xfc8d25feu);
	si.header.seq = 2;
	si.flags = 0x3;
	si.next_seg = 1;
	EXPECT_EQ(record_crc(&si, sizeof(si)), 0x3b668e31u);
}

TEST(Crc32c, LastKsetVector)
{
	pcache_cache_kset_onmedia kset{};
	kset.next_cache_seg_id = 5;
	kset.magic = PCACHE_KSET_MAGIC;
	kset.flags = PCACHE_KSET_FLAGS_LAST;
	EXPECT_EQ(record_crc(&kset, PCACHE_KSET_HEADER_SIZE), 0x5917c2a5u);
}

TEST(Crc32c, OneKeyKsetVector)
{
	std::vector<unsigned char> buf(PCACHE_KSET_SIZE(1));
	pcache_cache_kset_onmedia header{};
	header.key_num = 1;
	header.magic = PCACHE_KSET_MAGIC;
	pcache_cache_key_onmedia key{};
	key.len = 4096;
	key.cache_seg_id = 1;
	std::memcpy(buf.data(), &header, sizeof(header));
	std::memcpy(buf.data() + sizeof(header), &key, sizeof(key));
	EXPECT_EQ(record_crc(buf.data(), buf.size()), 0xd4d6c614u);
}

TEST(Crc32c, DataVectorAndBothImplementationsAgree)
{
	std::vector<unsigned char> zeros(4096);
	EXPECT_EQ(pcache::data_crc(zeros.data(), zeros.size()), 0x603571b1u);
	std::vector<unsigned char> bytes(1000);
	for (size_t i = 0; i < bytes.size(); ++i)
		bytes[i] = static_cast<unsigned char>(i * 7 + 3);
	// Every length 0..999 exercises the word loop and the byte tail.
	for (size_t len = 0; len < bytes.size(); ++len)
		ASSERT_EQ(pcache::crc32c(PCACHE_CRC_SEED, bytes.data(), len),
			  pcache::detail::crc32c_portable(PCACHE_CRC_SEED, bytes.data(), len))
			<< "length " << len;
}

TEST(Crc32c, ZeroedSlotsNeverValidate)
{
	unsigned char zeros[24] = {};
	EXPECT_EQ(record_crc(zeros, 16), 0x5f840b80u);
	EXPECT_EQ(record_crc(zeros, 24), 0xb9b69066u);
}

} // namespace
