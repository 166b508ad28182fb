#include "targets.h"

#include "cache_check.h"
#include "damage_matrix.h"
#include "decode.h"
#include "kset_correction.h"
#include "logical_map.h"
#include "memory_device.h"
#include "output.h"
#include "overlay_device.h"
#include "repair.h"
#include "restore_writer.h"
#include "rules.h"
#include "walker.h"
#include "writeback.h"
#include "xml_emitter.h"
#include "xml_reader.h"

#include <pcache/pcache_format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace pcache::fuzz {
namespace {

class ignore_all : public damage_sink {
public:
	void report(const damage &d) override { (void)to_string(d); }
};

// Reads `n` bytes for a record from the input, wrapping around.
template <typename Raw>
Raw take(const uint8_t *data, size_t size, size_t &at)
{
	Raw raw;
	auto out = reinterpret_cast<unsigned char *>(&raw);
	for (size_t i = 0; i < sizeof(raw); ++i)
		out[i] = size ? data[(at + i) % size] : 0;
	at += sizeof(raw);
	return raw;
}

[[noreturn]] void finding(const char *what)
{
	std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
	std::abort();
}

} // namespace

int decoders(const uint8_t *data, size_t size)
{
	ignore_all sink;
	size_t at = 0;
	superblock sb = decode(take<pcache_sb>(data, size, at));
	check_superblock(sb, size * 4096, sink);
	pcache_cache_info ci_raw[2] = {take<pcache_cache_info>(data, size, at), take<pcache_cache_info>(data, size, at)};
	auto ci = decode_replicas(ci_raw);
	check_replicas(ci, replicated::cache_info, sink);
	if (ci.any_valid())
		check_cache_info(ci, sb, sink);
	check_stray_cache_info(slot_state_of(ci_raw[0]), decode(ci_raw[0]), decode(ci_raw[1]), sink);
	pcache_cache_pos_onmedia tails[2] = {take<pcache_cache_pos_onmedia>(data, size, at),
					     take<pcache_cache_pos_onmedia>(data, size, at)};
	auto tail = decode_replicas(tails);
	check_replicas(tail, replicated::key_tail, sink);
	if (tail.any_valid())
		check_tail(replicated::key_tail, tail, sb.seg_num, sink);
	segment_record seg;
	pcache_segment_info si[2] = {take<pcache_segment_info>(data, size, at), take<pcache_segment_info>(data, size, at)};
	pcache_cache_seg_gen sg[2] = {take<pcache_cache_seg_gen>(data, size, at), take<pcache_cache_seg_gen>(data, size, at)};
	seg.info = decode_replicas(si);
	seg.gen = decode_replicas(sg);
	check_replicas(seg.info, replicated::seg_info, sink, &seg);
	check_replicas(seg.gen, replicated::seg_gen, sink, &seg);
	check_segment(seg, sink);
	chain_follower chain(sb.seg_num % 4096, ci.value[0].n_segs % 4096);
	chain.next(seg, sink);

	// The rest of the input as a kset.
	size_t rest = size > at ? size - at : 0;
	const uint8_t *k = data + (size > at ? at : 0);
	if (rest >= PCACHE_KSET_HEADER_SIZE) {
		pcache_cache_kset_onmedia raw;
		std::memcpy(&raw, k, sizeof(raw));
		kset_record rec;
		rec.header = decode(raw);
		rec.pos = {1, 8};
		uint32_t n_segs = 1 + (sb.seg_num % 64);
		check_kset(rec, n_segs, sink);
		uint64_t size_needed = rec.size();
		if (!rec.header.last() && rec.header.key_num <= PCACHE_KSET_KEYS_MAX && size_needed <= rest)
			kset_crc_ok(k, size_needed);
		auto read = [&](size_t len, unsigned char *out) {
			if (len > rest)
				return false;
			std::memcpy(out, k, len);
			return true;
		};
		correct_kset_header(rec.header, n_segs, read);
		for (size_t i = 0; PCACHE_KSET_SIZE(i + 1) <= rest && i < PCACHE_KSET_KEYS_MAX; ++i) {
			pcache_cache_key_onmedia kraw;
			std::memcpy(&kraw, k + PCACHE_KSET_SIZE(i), sizeof(kraw));
			key_record kr;
			kr.key = decode(kraw);
			kr.segment_gen = sb.seg_num;
			kr.dirty_window = i % 2;
			check_key(kr, n_segs, sink);
			key_is_sound(kr.key, n_segs);
		}
	}
	return 0;
}

namespace {

// Where walker patches go: the records, the log, some payload.
struct region {
	uint64_t offset;
	uint32_t size;
};

const region kRegions[] = {
	{PCACHE_SB_OFF, 32},
	{PCACHE_CACHE_INFO_REPLICA_OFF(0), 32},
	{PCACHE_CACHE_INFO_REPLICA_OFF(1), 32},
	{PCACHE_CACHE_CTRL_OFF, 64},
	{PCACHE_SEG_DEV_OFF(0), 32},
	{PCACHE_SEG_DEV_OFF(0) + PCACHE_SEG_INFO_SIZE, 32},
	{PCACHE_SEG_DEV_OFF(0) + PCACHE_SEG_CTRL_OFF, 32},
	{PCACHE_SEG_DEV_OFF(1) + PCACHE_SEG_INFO_SIZE, 32},
	{PCACHE_SEG_DEV_OFF(2) + PCACHE_SEG_CTRL_OFF, 32},
	{PCACHE_SEG_DEV_OFF(3), 32},
	{PCACHE_SEG_DEV_OFF(0) + PCACHE_SEG_DATA_OFF, 1024},	// the log
	{PCACHE_SEG_DEV_OFF(3) + PCACHE_SEG_DATA_OFF, 256},	// after the LAST kset
	{PCACHE_SEG_DEV_OFF(1) + PCACHE_SEG_DATA_OFF, 65536},	// payloads
	{PCACHE_SEG_DEV_OFF(30), 8192 + 32},
	{PCACHE_SEG_DEV_OFF(5) + PCACHE_SEG_DATA_OFF, 512},	// a free segment
};

test::matrix::base_image &base()
{
	static test::matrix::base_image image(true);
	return image;
}

} // namespace

int walker(const uint8_t *data, size_t size)
{
	overlay_device dev(base().cache.dev);
	// Patches: region, offset (2 bytes), length, bytes.
	for (size_t at = 0; at + 4 <= size;) {
		const region &r = kRegions[data[at] % (sizeof(kRegions) / sizeof(kRegions[0]))];
		uint32_t off = (data[at + 1] | uint32_t(data[at + 2]) << 8) % r.size;
		size_t len = std::min<size_t>({data[at + 3], size - at - 4, r.size - off});
		dev.write(r.offset + off, data + at + 4, len);
		at += 4 + len;
	}
	ignore_all quiet;
	check_cache(dev, quiet, true);
	{
		static output null("/dev/null");
		xml_emitter xml(null);
		walk_options opts;
		opts.repair = true;
		pcache::walker(dev, quiet, opts).walk(xml);
	}
	std::unique_ptr<repair_plan> plan;
	try {
		plan = std::make_unique<repair_plan>(plan_repair(dev));
	} catch (const repair_refused &) {
		return 0;
	}
	if (!plan->result_clean())
		return 0;
	repair_plan again = plan_repair(plan->overlay());
	if (!again.result_clean())
		finding("a repaired result that checked clean does not check clean through a second repair");
	if (again.changes())
		finding("repairing a repaired result changes it");
	overlay_device origin(base().origin);
	writeback_plan wp = plan_writeback(plan->overlay(), quiet, false);
	if (wp.worst >= severity::error)
		finding("the writeback of a repaired result finds damage");
	run_writeback(plan->overlay(), wp, origin);
	return 0;
}

int xml(const uint8_t *data, size_t size)
{
	int fd = ::memfd_create("pcache-fuzz-xml", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t done = 0;
	while (done < size) {
		ssize_t n = ::write(fd, data + done, size - done);
		if (n <= 0)
			break;
		done += static_cast<size_t>(n);
	}
	std::string path = "/proc/self/fd/" + std::to_string(fd);
	damage_list problems;
	bool valid = false;
	try {
		logical_map map(problems);
		read_metadata_xml(path, map, problems);
		map.resolve(nullptr);
		valid = true;
		for (const auto &d : problems.items)
			valid &= d.level() < severity::error;
	} catch (const xml_error &) {
	} catch (const io_error &) {
	}
	if (valid) {
		// What pcache_restore then writes.
		memory_device out(PCACHE_CACHE_DEV_SIZE_MIN + (64ULL << 20), "restore");
		try {
			restore_writer writer(out);
			ignore_all quiet;
			read_metadata_xml(path, writer, quiet);
			writer.commit();
			damage_list after;
			check_cache(out, after, false);
		} catch (const io_error &) {
			// an input describing more segments than the output holds
		}
	}
	::close(fd);
	return 0;
}

} // namespace pcache::fuzz
