// Every decoder against bytes as Linux 6.18 wrote them (taken from the
// golden images in ../shared/vectors), and encode(decode(x)) == x.
#include "decode.h"
#include "encode.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace pcache::test {
namespace {

std::vector<unsigned char> bytes(const std::string &hex)
{
	std::vector<unsigned char> out;
	for (size_t i = 0; i + 1 < hex.size(); i += 2)
		out.push_back(static_cast<unsigned char>(std::stoul(hex.substr(i, 2), nullptr, 16)));
	return out;
}

template <typename Raw>
Raw raw_from(const std::string &hex)
{
	auto b = bytes(hex);
	EXPECT_EQ(b.size(), sizeof(Raw));
	Raw raw;
	std::memcpy(&raw, b.data(), sizeof(raw));
	return raw;
}

template <typename Raw>
std::string hex_of(const Raw &raw)
{
	std::string s;
	auto p = reinterpret_cast<const unsigned char *>(&raw);
	char buf[3];
	for (size_t i = 0; i < sizeof(raw); ++i) {
		std::snprintf(buf, sizeof(buf), "%02x", p[i]);
		s += buf;
	}
	return s;
}

TEST(Decode, SuperblockFromUpstream)
{
	const std::string hex = "db127f0900000000ef96c596fa5eb0653f00000000000000";
	auto raw = raw_from<pcache_sb>(hex);
	superblock sb = decode(raw);
	EXPECT_EQ(sb.crc, 0x097f12dbu);
	EXPECT_EQ(sb.flags, 0u);
	EXPECT_EQ(sb.magic, PCACHE_MAGIC);
	EXPECT_EQ(sb.seg_num, 63u);
	EXPECT_EQ(sb.pad, 0u);
	EXPECT_TRUE(crc_ok(raw));
	EXPECT_EQ(hex_of(encode(sb)), hex);
}

TEST(Decode, CacheInfoFromUpstream)
{
	const std::string hex = "4b4e99ef01000000000000003f0000008211000000000000";
	auto raw = raw_from<pcache_cache_info>(hex);
	cache_info ci = decode(raw);
	EXPECT_EQ(ci.header.seq, 1);
	EXPECT_EQ(ci.seg_id, 0u);
	EXPECT_EQ(ci.n_segs, 63u);
	EXPECT_EQ(ci.flags, 0x1182u);
	EXPECT_TRUE(ci.init_done());
	EXPECT_FALSE(ci.data_crc());
	EXPECT_EQ(ci.mode(), PCACHE_CACHE_MODE_WRITEBACK);
	EXPECT_EQ(ci.gc_percent(), 70u);
	EXPECT_FALSE(ci.needs_check());
	EXPECT_TRUE(crc_ok(raw));
	EXPECT_EQ(hex_of(encode(ci)), hex);
}

TEST(Decode, PositionWithUninitialisedHeaderBytes)
{
	pos_record p;
	p.header.seq = 9;
	p.header.version = 0xAB;	// upstream leaves these as stack garbage
	p.header.res = 0x1234;
	p.pos = {0x01020304, 0x0A0B0C0D};
	auto raw = encode(p);
	auto b = reinterpret_cast<const unsigned char *>(&raw);
	EXPECT_EQ(b[4], 9);
	EXPECT_EQ(b[5], 0xAB);
	EXPECT_EQ(b[6], 0x34);	// little-endian res
	EXPECT_EQ(b[8], 0x04);	// little-endian cache_seg_id
	EXPECT_EQ(b[12], 0x0D);
	pos_record back = decode(raw);
	EXPECT_EQ(back.header.version, 0xAB);
	EXPECT_EQ(back.header.res, 0x1234);
	EXPECT_EQ(back.pos, p.pos);
	EXPECT_TRUE(crc_ok(raw));
}

TEST(Decode, SegInfoFromUpstream)
{
	const std::string hex = "318e663b020000000300000001000000";
	auto raw = raw_from<pcache_segment_info>(hex);
	segment_info si = decode(raw);
	EXPECT_EQ(si.header.seq, 2);
	EXPECT_TRUE(si.has_next());
	EXPECT_EQ(si.type(), PCACHE_SEGMENT_TYPE_CACHE_DATA);
	EXPECT_EQ(si.next_seg, 1u);
	EXPECT_TRUE(crc_ok(raw));
	EXPECT_EQ(hex_of(encode(si)), hex);
}

TEST(Decode, SegGenFromUpstream)
{
	const std::string hex = "b0dff56e010000000000000000000000";
	auto raw = raw_from<pcache_cache_seg_gen>(hex);
	seg_gen g = decode(raw);
	EXPECT_EQ(g.header.seq, 1);
	EXPECT_EQ(g.gen, 0u);
	EXPECT_TRUE(crc_ok(raw));
	seg_gen big;
	big.header.seq = 3;
	big.gen = 0x1122334455667788ULL;
	EXPECT_EQ(decode(encode(big)).gen, big.gen);
}

TEST(Decode, KsetHeaderFromUpstream)
{
	auto raw = raw_from<pcache_cache_kset_onmedia>("5c7af805800000001a4f164ea69468670000000000000000");
	kset_header h = decode(raw);
	EXPECT_EQ(h.crc, 0x05f87a5cu);
	EXPECT_EQ(h.key_num, 128u);
	EXPECT_EQ(h.magic, PCACHE_KSET_MAGIC);
	EXPECT_FALSE(h.last());
}

TEST(Decode, KeyFieldByField)
{
	const std::string hex = "0070040000000000"	// off 0x47000
				"00100000"		// len 4096
				"02000000"		// flags CLEAN
				"01000000"		// cache_seg_id 1
				"00c03d00"		// cache_seg_off 0x3dc000
				"0500000000000000"	// seg_gen 5
				"efbeadde"		// data_crc
				"00000000";		// reserved
	auto raw = raw_from<pcache_cache_key_onmedia>(hex);
	cache_key k = decode(raw);
	EXPECT_EQ(k.off, 0x47000u);
	EXPECT_EQ(k.len, 4096u);
	EXPECT_TRUE(k.clean());
	EXPECT_EQ(k.seg, 1u);
	EXPECT_EQ(k.seg_off, 0x3dc000u);
	EXPECT_EQ(k.gen, 5u);
	EXPECT_EQ(k.data_crc, 0xdeadbeefu);
	EXPECT_EQ(hex_of(encode(k)), hex);
}

TEST(Decode, KsetEncodingAndCrc)
{
	cache_key k;
	k.len = 4096;
	k.seg = 1;
	auto bytes = encode_kset({k}, 0);
	ASSERT_EQ(bytes.size(), PCACHE_KSET_SIZE(1));
	EXPECT_TRUE(kset_crc_ok(bytes.data(), bytes.size()));
	// The spec's Appendix A vector for this kset.
	uint32_t crc;
	std::memcpy(&crc, bytes.data(), 4);
	EXPECT_EQ(crc, 0xd4d6c614u);
	bytes[30] ^= 1;
	EXPECT_FALSE(kset_crc_ok(bytes.data(), bytes.size()));
	auto last = encode_last_kset(5, PCACHE_KSET_FLAGS_LAST);
	std::memcpy(&crc, last.data(), 4);
	EXPECT_EQ(crc, 0x5917c2a5u);
}

TEST(Decode, SlotStates)
{
	pcache_cache_pos_onmedia zero{};
	EXPECT_EQ(slot_state_of(zero), slot_state::empty);
	pos_record p;
	p.header.seq = 1;
	auto good = encode(p);
	EXPECT_EQ(slot_state_of(good), slot_state::valid);
	good.seg_off = 8;
	EXPECT_EQ(slot_state_of(good), slot_state::bad_crc);
}

TEST(Decode, ReplicaPairsChooseTheNewestValid)
{
	pos_record a, b;
	a.header.seq = 7;
	a.pos = {1, 8};
	b.header.seq = 8;
	b.pos = {2, 16};
	pcache_cache_pos_onmedia raw[2] = {encode(a), encode(b)};
	auto set = decode_replicas(raw);
	ASSERT_TRUE(set.any_valid());
	EXPECT_EQ(*set.chosen, 1u);
	EXPECT_EQ(set.current().pos, b.pos);
	EXPECT_EQ(set.update_slot(), 0u);
	raw[1].seg_off ^= 1;	// damage the newer copy: the older one is used
	set = decode_replicas(raw);
	EXPECT_EQ(*set.chosen, 0u);
	EXPECT_EQ(set.state[1], slot_state::bad_crc);
}

} // namespace
} // namespace pcache::test
