#include "test_cache.h"

#include "crc32c.h"
#include "decode.h"
#include "encode.h"
#include "layout.h"
#include "walker.h"

namespace pcache::test {

cache_key make_key(uint64_t off, uint32_t len, uint32_t seg, uint32_t seg_off, uint64_t gen)
{
	cache_key k;
	k.off = off;
	k.len = len;
	k.seg = seg;
	k.seg_off = seg_off;
	k.gen = gen;
	return k;
}

std::vector<cache_key> keys_at(uint64_t first_off, unsigned n, uint32_t seg, uint32_t seg_off)
{
	std::vector<cache_key> keys;
	for (unsigned i = 0; i < n; ++i)
		keys.push_back(make_key(first_off + i * 4096, 4096, seg, seg_off + i * 4096));
	return keys;
}

test_cache::test_cache(uint32_t cache_flags)
{
	superblock sb;
	sb.magic = PCACHE_MAGIC;
	sb.seg_num = seg_num;
	put(PCACHE_SB_OFF, encode(sb));
	cache_info ci;
	ci.header.seq = 1;
	ci.n_segs = seg_num;
	ci.flags = cache_flags;
	set_cache_info(ci, 0);
	set_key_tail({0, 0});
	set_dirty_tail({0, 0});
	for (uint32_t s = 0; s < seg_num; ++s) {
		segment_info si;
		si.header.seq = 1;
		si.flags = PCACHE_SEGMENT_TYPE_CACHE_DATA << PCACHE_SEG_INFO_TYPE_SHIFT;
		set_seg_info(s, si, 0);
		if (s + 1 < seg_num) {
			si.header.seq = 2;
			si.flags |= PCACHE_SEG_INFO_FLAGS_HAS_NEXT;
			si.next_seg = s + 1;
			set_seg_info(s, si, 1);
		}
		set_gen(s, 0, 1, 0);
	}
}

unsigned char test_cache::peek(uint64_t off)
{
	unsigned char b;
	dev.read(off, &b, 1);
	return b;
}

void test_cache::set_cache_info(const cache_info &ci, unsigned slot)
{
	put(PCACHE_CACHE_INFO_REPLICA_OFF(slot), encode(ci));
}

cache_info test_cache::cache_info_in(unsigned slot)
{
	pcache_cache_info raw;
	dev.read(PCACHE_CACHE_INFO_REPLICA_OFF(slot), &raw, sizeof(raw));
	return decode(raw);
}

void test_cache::set_key_tail(cache_pos pos, uint8_t seq, unsigned slot)
{
	pos_record p;
	p.header.seq = seq;
	p.pos = pos;
	put(PCACHE_KEY_TAIL_OFF(slot), encode(p));
}

void test_cache::set_dirty_tail(cache_pos pos, uint8_t seq, unsigned slot)
{
	pos_record p;
	p.header.seq = seq;
	p.pos = pos;
	put(PCACHE_DIRTY_TAIL_OFF(slot), encode(p));
}

void test_cache::set_gen(uint32_t seg, uint64_t gen, uint8_t seq, unsigned slot)
{
	seg_gen g;
	g.header.seq = seq;
	g.gen = gen;
	put(seg_gen_offset(seg, slot), encode(g));
}

void test_cache::set_seg_info(uint32_t seg, const segment_info &si, unsigned slot)
{
	put(seg_info_offset(seg, slot), encode(si));
}

uint64_t test_cache::kset_offset(const cache_pos &pos) const
{
	return data_offset(pos.seg, pos.off);
}

cache_pos test_cache::append_kset(const std::vector<cache_key> &keys, uint64_t flags)
{
	cache_pos at = head;
	std::vector<unsigned char> bytes = encode_kset(keys, flags);
	unsigned char zero[PCACHE_KSET_HEADER_SIZE] = {};
	write(kset_offset(at) + bytes.size(), zero, sizeof(zero));
	write(kset_offset(at), bytes.data(), bytes.size());
	head.off += static_cast<uint32_t>(bytes.size());
	return at;
}

cache_pos test_cache::append_last(uint32_t next)
{
	cache_pos at = head;
	unsigned char zero[PCACHE_KSET_HEADER_SIZE] = {};
	write(data_offset(next, 0), zero, sizeof(zero));
	std::vector<unsigned char> bytes = encode_last_kset(next, PCACHE_KSET_FLAGS_LAST);
	write(kset_offset(at), bytes.data(), bytes.size());
	head = {next, 0};
	return at;
}

cache_key test_cache::data_key(uint64_t off, uint32_t len, uint32_t seg, uint32_t seg_off,
			       unsigned char fill, uint64_t gen)
{
	std::vector<unsigned char> payload(len, fill);
	write(data_offset(seg, seg_off), payload.data(), len);
	cache_key k = make_key(off, len, seg, seg_off, gen);
	k.data_crc = data_crc(payload.data(), len);
	return k;
}

std::vector<damage_kind> walk_result::kinds() const
{
	std::vector<damage_kind> out;
	for (const auto &d : damage.items)
		out.push_back(d.kind);
	return out;
}

size_t walk_result::errors() const
{
	size_t n = 0;
	for (const auto &d : damage.items)
		n += d.level() >= severity::error;
	return n;
}

walk_result walk(test_cache &c, bool repair)
{
	walk_result r;
	walk_options opts;
	opts.repair = repair;
	walker(c.dev, r.damage, opts).walk(r.events);
	return r;
}

} // namespace pcache::test
