#include "encode.h"

#include "crc32c.h"
#include "byte_order.h"

#include <cstring>

namespace pcache {
namespace {

pcache_meta_header encode_header(const meta_header &h)
{
	pcache_meta_header raw{};
	raw.seq = h.seq;
	raw.version = h.version;
	raw.res = to_le16(h.res);
	return raw;
}

// The CRC is the first four bytes of every record and covers the rest.
template <typename Raw>
uint32_t crc_field(const Raw &raw)
{
	return to_le32(record_crc(&raw, sizeof(raw)));
}

} // namespace

pcache_sb encode(const superblock &sb)
{
	pcache_sb raw{};
	raw.flags = to_le32(sb.flags);
	raw.magic = to_le64(sb.magic);
	raw.seg_num = to_le32(sb.seg_num);
	raw.pad = to_le32(sb.pad);
	raw.crc = crc_field(raw);
	return raw;
}

pcache_cache_info encode(const cache_info &ci)
{
	pcache_cache_info raw{};
	raw.header = encode_header(ci.header);
	raw.seg_id = to_le32(ci.seg_id);
	raw.n_segs = to_le32(ci.n_segs);
	raw.flags = to_le32(ci.flags);
	raw.reserved = to_le32(ci.reserved);
	raw.header.crc = crc_field(raw);
	return raw;
}

pcache_cache_pos_onmedia encode(const pos_record &pos)
{
	pcache_cache_pos_onmedia raw{};
	raw.header = encode_header(pos.header);
	raw.cache_seg_id = to_le32(pos.pos.seg);
	raw.seg_off = to_le32(pos.pos.off);
	raw.header.crc = crc_field(raw);
	return raw;
}

pcache_segment_info encode(const segment_info &si)
{
	pcache_segment_info raw{};
	raw.header = encode_header(si.header);
	raw.flags = to_le32(si.flags);
	raw.next_seg = to_le32(si.next_seg);
	raw.header.crc = crc_field(raw);
	return raw;
}

pcache_cache_seg_gen encode(const seg_gen &gen)
{
	pcache_cache_seg_gen raw{};
	raw.header = encode_header(gen.header);
	raw.gen = to_le64(gen.gen);
	raw.header.crc = crc_field(raw);
	return raw;
}

pcache_cache_key_onmedia encode(const cache_key &key)
{
	pcache_cache_key_onmedia raw{};
	raw.off = to_le64(key.off);
	raw.len = to_le32(key.len);
	raw.flags = to_le32(key.flags);
	raw.cache_seg_id = to_le32(key.seg);
	raw.cache_seg_off = to_le32(key.seg_off);
	raw.seg_gen = to_le64(key.gen);
	raw.data_crc = to_le32(key.data_crc);
	raw.reserved = to_le32(key.reserved);
	return raw;
}

std::vector<unsigned char> encode_kset(const std::vector<cache_key> &keys, uint64_t flags)
{
	std::vector<unsigned char> out(PCACHE_KSET_SIZE(keys.size()));
	pcache_cache_kset_onmedia header{};
	header.key_num = to_le32(static_cast<uint32_t>(keys.size()));
	header.magic = to_le64(PCACHE_KSET_MAGIC);
	header.flags = to_le64(flags);
	std::memcpy(out.data(), &header, sizeof(header));
	for (size_t i = 0; i < keys.size(); ++i) {
		pcache_cache_key_onmedia raw = encode(keys[i]);
		std::memcpy(out.data() + PCACHE_KSET_SIZE(i), &raw, sizeof(raw));
	}
	uint32_t crc = to_le32(record_crc(out.data(), out.size()));
	std::memcpy(out.data(), &crc, sizeof(crc));
	return out;
}

std::vector<unsigned char> encode_last_kset(uint32_t next_seg, uint64_t flags)
{
	pcache_cache_kset_onmedia header{};
	header.next_cache_seg_id = to_le32(next_seg);
	header.magic = to_le64(PCACHE_KSET_MAGIC);
	header.flags = to_le64(flags);
	header.crc = to_le32(record_crc(&header, sizeof(header)));
	std::vector<unsigned char> out(sizeof(header));
	std::memcpy(out.data(), &header, sizeof(header));
	return out;
}

} // namespace pcache
