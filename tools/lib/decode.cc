#include "decode.h"

#include "crc32c.h"
#include "byte_order.h"

#include <cstring>

namespace pcache {
namespace {

meta_header decode_header(const pcache_meta_header &raw)
{
	meta_header h;
	h.crc = from_le32(raw.crc);
	h.seq = raw.seq;
	h.version = raw.version;
	h.res = from_le16(raw.res);
	return h;
}

template <typename Raw>
bool record_crc_ok(const Raw &raw, uint32_t stored_le)
{
	return record_crc(&raw, sizeof(raw)) == from_le32(stored_le);
}

} // namespace

superblock decode(const pcache_sb &raw)
{
	superblock sb;
	sb.crc = from_le32(raw.crc);
	sb.flags = from_le32(raw.flags);
	sb.magic = from_le64(raw.magic);
	sb.seg_num = from_le32(raw.seg_num);
	sb.pad = from_le32(raw.pad);
	return sb;
}

cache_info decode(const pcache_cache_info &raw)
{
	cache_info ci;
	ci.header = decode_header(raw.header);
	ci.seg_id = from_le32(raw.seg_id);
	ci.n_segs = from_le32(raw.n_segs);
	ci.flags = from_le32(raw.flags);
	ci.reserved = from_le32(raw.reserved);
	return ci;
}

pos_record decode(const pcache_cache_pos_onmedia &raw)
{
	pos_record p;
	p.header = decode_header(raw.header);
	p.pos.seg = from_le32(raw.cache_seg_id);
	p.pos.off = from_le32(raw.seg_off);
	return p;
}

segment_info decode(const pcache_segment_info &raw)
{
	segment_info si;
	si.header = decode_header(raw.header);
	si.flags = from_le32(raw.flags);
	si.next_seg = from_le32(raw.next_seg);
	return si;
}

seg_gen decode(const pcache_cache_seg_gen &raw)
{
	seg_gen g;
	g.header = decode_header(raw.header);
	g.gen = from_le64(raw.gen);
	return g;
}

kset_header decode(const pcache_cache_kset_onmedia &raw)
{
	kset_header k;
	k.crc = from_le32(raw.crc);
	k.key_num = from_le32(raw.key_num);
	k.magic = from_le64(raw.magic);
	k.flags = from_le64(raw.flags);
	return k;
}

cache_key decode(const pcache_cache_key_onmedia &raw)
{
	cache_key k;
	k.off = from_le64(raw.off);
	k.len = from_le32(raw.len);
	k.flags = from_le32(raw.flags);
	k.seg = from_le32(raw.cache_seg_id);
	k.seg_off = from_le32(raw.cache_seg_off);
	k.gen = from_le64(raw.seg_gen);
	k.data_crc = from_le32(raw.data_crc);
	k.reserved = from_le32(raw.reserved);
	return k;
}

bool crc_ok(const pcache_sb &raw) { return record_crc_ok(raw, raw.crc); }
bool crc_ok(const pcache_cache_info &raw) { return record_crc_ok(raw, raw.header.crc); }
bool crc_ok(const pcache_cache_pos_onmedia &raw) { return record_crc_ok(raw, raw.header.crc); }
bool crc_ok(const pcache_segment_info &raw) { return record_crc_ok(raw, raw.header.crc); }
bool crc_ok(const pcache_cache_seg_gen &raw) { return record_crc_ok(raw, raw.header.crc); }

bool kset_crc_ok(const unsigned char *bytes, size_t size)
{
	uint32_t stored;
	std::memcpy(&stored, bytes, sizeof(stored));
	return record_crc(bytes, size) == from_le32(stored);
}

bool all_zero(const void *bytes, size_t n)
{
	auto p = static_cast<const unsigned char *>(bytes);
	for (size_t i = 0; i < n; ++i)
		if (p[i])
			return false;
	return true;
}

} // namespace pcache
