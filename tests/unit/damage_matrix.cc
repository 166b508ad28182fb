#include "damage_matrix.h"

#include "crc32c.h"
#include "layout.h"
#include "logical_map.h"
#include "walker.h"

#include <pcache/pcache_format.h>

#include <algorithm>

namespace pcache::test::matrix {

const char *to_string(mutation m)
{
	switch (m) {
	case mutation::zero:
		return "zero";
	case mutation::ones:
		return "ones";
	case mutation::plus_one:
		return "+1";
	case mutation::minus_one:
		return "-1";
	case mutation::random:
		return "random";
	}
	return "?";
}

namespace {

void add_header(std::vector<field> &out, const std::string &name, uint64_t rec, uint64_t size,
		const std::string &group)
{
	out.push_back({name + ".crc", rec, 4, rec, size, group});
	out.push_back({name + ".seq", rec + 4, 1, rec, size, group});
	out.push_back({name + ".version", rec + 5, 1, rec, size, group});
	out.push_back({name + ".res", rec + 6, 2, rec, size, group});
}

void add_kset(std::vector<field> &out, const std::string &name, uint64_t rec, uint64_t size, bool last)
{
	out.push_back({name + ".crc", rec, 4, rec, size, "kset"});
	out.push_back({name + (last ? ".next_seg" : ".key_num"), rec + 4, 4, rec, size, "kset"});
	out.push_back({name + ".magic", rec + 8, 8, rec, size, "kset"});
	out.push_back({name + ".flags", rec + 16, 8, rec, size, "kset"});
}

void add_key(std::vector<field> &out, const std::string &name, uint64_t kset, uint64_t kset_size, unsigned i)
{
	uint64_t k = kset + PCACHE_KSET_SIZE(i);
	struct {
		const char *f;
		unsigned off, width;
	} fields[] = {{"off", 0, 8},	 {"len", 8, 4},	  {"flags", 12, 4},    {"seg", 16, 4},
		      {"seg_off", 20, 4}, {"gen", 24, 8}, {"data_crc", 32, 4}, {"reserved", 36, 4}};
	for (const auto &f : fields)
		out.push_back({name + "." + f.f, k + f.off, f.width, kset, kset_size, "key"});
}

} // namespace

base_image::base_image(bool data_crc) : cache(data_crc ? 0x1183 : 0x1182)
{
	test_cache &c = cache;
	// Both cache_info replicas valid (seq 1 and 2); both tail replicas.
	cache_info ci = c.cache_info_in(0);
	ci.header.seq = 2;
	c.set_cache_info(ci, 1);

	auto key = [&](uint64_t off, uint32_t len, uint32_t seg, uint32_t seg_off, unsigned char fill,
		       uint64_t gen = 0, bool clean = false, bool on_origin = false) {
		cache_key k = c.data_key(off, len, seg, seg_off, fill, gen);
		if (!data_crc)
			k.data_crc = 0;
		if (clean)
			k.flags = PCACHE_KEY_FLAGS_CLEAN;
		if (on_origin) {
			std::vector<unsigned char> bytes(len, fill);
			origin.write(off, bytes.data(), len);
		}
		keys.push_back(k);
		return k;
	};
	c.set_gen(2, 1);	// segment 2 was reused once: generation 1 (slot 1, seq 2)
	// Clean window: written back already, so the origin holds the data.
	cache_pos k1 = c.append_kset({key(0, 8192, 1, 0, 0x11, 0, false, true),
				      key(1 << 20, 4096, 1, 8192, 0x12, 0, false, true)});
	std::vector<unsigned char> older(4096, 0x99);
	origin.write(2 << 20, older.data(), older.size());
	cache_pos k2 = c.append_kset({key(2 << 20, 4096, 2, 0, 0x13, 0, true, false)});	// stale
	// Dirty window from k3.
	cache_pos k3 = c.append_kset({key(0, 4096, 1, 12288, 0x21), key(3 << 20, 8192, 1, 16384, 0x22)});
	cache_pos k4 = c.append_kset({key(4 << 20, 4096, 2, 4096, 0x31, 1),
				      key((1 << 20) + 4096, 4096, 1, 24576, 0x32, 0, true, true),
				      key(5 << 20, 4096, 1, 28672, 0x33)});
	cache_pos last = c.append_last(3);
	cache_pos k5 = c.append_kset({key(6 << 20, 4096, 2, 8192, 0x41, 1),
				      key((3 << 20) + 4096, 4096, 2, 12288, 0x42, 1)});
	cache_pos k6 = c.append_kset({key(7 << 20, 4096, 1, 32768, 0x51)});
	last_kset = k6;
	c.set_key_tail({0, 0}, 1, 0);
	c.set_key_tail({0, 0}, 2, 1);
	c.set_dirty_tail(k2, 1, 0);	// the older copy
	c.set_dirty_tail(k3, 2, 1);
	(void)k5;

	fields.push_back({"sb.crc", PCACHE_SB_OFF, 4, PCACHE_SB_OFF, 24, "superblock"});
	fields.push_back({"sb.flags", PCACHE_SB_OFF + 4, 4, PCACHE_SB_OFF, 24, "superblock"});
	fields.push_back({"sb.magic", PCACHE_SB_OFF + 8, 8, PCACHE_SB_OFF, 24, "superblock"});
	fields.push_back({"sb.seg_num", PCACHE_SB_OFF + 16, 4, PCACHE_SB_OFF, 24, "superblock"});
	fields.push_back({"sb.pad", PCACHE_SB_OFF + 20, 4, PCACHE_SB_OFF, 24, "superblock"});
	for (unsigned r = 0; r < 2; ++r) {
		uint64_t rec = PCACHE_CACHE_INFO_REPLICA_OFF(r);
		std::string n = "cache_info[" + std::to_string(r) + "]";
		add_header(fields, n, rec, 24, "cache_info");
		fields.push_back({n + ".seg_id", rec + 8, 4, rec, 24, "cache_info"});
		fields.push_back({n + ".n_segs", rec + 12, 4, rec, 24, "cache_info"});
		fields.push_back({n + ".flags", rec + 16, 4, rec, 24, "cache_info"});
		fields.push_back({n + ".reserved", rec + 20, 4, rec, 24, "cache_info"});
	}
	for (unsigned r = 0; r < 2; ++r) {
		for (int dirty = 0; dirty < 2; ++dirty) {
			uint64_t rec = dirty ? PCACHE_DIRTY_TAIL_OFF(r) : PCACHE_KEY_TAIL_OFF(r);
			std::string n = std::string(dirty ? "dirty_tail[" : "key_tail[") + std::to_string(r) + "]";
			add_header(fields, n, rec, 16, dirty ? "dirty_tail" : "key_tail");
			fields.push_back({n + ".seg", rec + 8, 4, rec, 16, dirty ? "dirty_tail" : "key_tail"});
			fields.push_back({n + ".off", rec + 12, 4, rec, 16, dirty ? "dirty_tail" : "key_tail"});
		}
	}
	// A log segment, a data segment, a reused data segment, the last one.
	for (uint32_t seg : {0u, 1u, 2u, 30u}) {
		for (unsigned r = 0; r < 2; ++r) {
			uint64_t si = seg_info_offset(seg, r);
			std::string n = "seg" + std::to_string(seg) + ".seg_info[" + std::to_string(r) + "]";
			add_header(fields, n, si, 16, "seg_info");
			fields.push_back({n + ".flags", si + 8, 4, si, 16, "seg_info"});
			fields.push_back({n + ".next", si + 12, 4, si, 16, "seg_info"});
			uint64_t g = seg_gen_offset(seg, r);
			std::string gn = "seg" + std::to_string(seg) + ".seg_gen[" + std::to_string(r) + "]";
			add_header(fields, gn, g, 16, "seg_gen");
			fields.push_back({gn + ".gen", g + 8, 8, g, 16, "seg_gen"});
		}
	}
	// A clean kset, a dirty one in the middle, the LAST kset, the last kset.
	add_kset(fields, "kset1", c.kset_offset(k1), PCACHE_KSET_SIZE(2), false);
	add_kset(fields, "kset4", c.kset_offset(k4), PCACHE_KSET_SIZE(3), false);
	add_kset(fields, "last", c.kset_offset(last), PCACHE_KSET_HEADER_SIZE, true);
	add_kset(fields, "kset6", c.kset_offset(k6), PCACHE_KSET_SIZE(1), false);
	add_key(fields, "kset1.key1", c.kset_offset(k1), PCACHE_KSET_SIZE(2), 1);
	add_key(fields, "kset4.key0", c.kset_offset(k4), PCACHE_KSET_SIZE(3), 0);
	add_key(fields, "kset4.key1", c.kset_offset(k4), PCACHE_KSET_SIZE(3), 1);
}

namespace {

class extent_map : public extent_sink {
public:
	void on_extent(const extent &e) override { extents.push_back(e); }
	std::vector<extent> extents;
};

class collect_segments : public metadata_visitor {
public:
	void on_segment(const segment_record &s) override { segs.set(s); }
	void on_cache_info(const replica_set<cache_info> &info) override { segs.reset(info.current().n_segs); }
	segment_table segs;
};

} // namespace

view view_of(device &dev, device &origin, const std::vector<uint64_t> &sectors)
{
	ignore_damage quiet;
	logical_map map(quiet);
	collect_segments segs;
	visitor_tee tee({&map, &segs});
	walker(dev, quiet, {}).walk(tee);
	extent_map extents;
	map.resolve(&extents);
	std::map<uint64_t, std::pair<uint64_t, bool>> cached;	// sector -> (device byte, dirty)
	for (const extent &e : extents.extents) {
		if (!segs.segs.known(e.seg))
			continue;
		for (uint32_t s = 0; s < e.len / 512; ++s)
			cached[e.off / 512 + s] = {data_offset(segs.segs.phys(e.seg), e.seg_off) + s * 512ULL, e.dirty};
	}
	view v;
	unsigned char buf[512];
	std::vector<uint64_t> all = sectors;
	for (const auto &[s, where] : cached)
		all.push_back(s);
	for (uint64_t s : all) {
		sector_state st;
		auto it = cached.find(s);
		if (it != cached.end()) {
			dev.read(it->second.first, buf, sizeof(buf));
			st.cached = true;
			st.dirty = it->second.second;
		} else {
			origin.read(s * 512, buf, sizeof(buf));
		}
		st.data = data_crc(buf, sizeof(buf));
		v[s] = st;
	}
	return v;
}

} // namespace pcache::test::matrix
