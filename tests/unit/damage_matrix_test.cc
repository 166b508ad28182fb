// The damage matrix (see damage_matrix.h): one test per structure, each
// running every field x mutation x (CRC recomputed or not) case, and
// listing every case that breaks a rule.
#include "cache_check.h"
#include "crc32c.h"
#include "damage_matrix.h"
#include "layout.h"
#include "output.h"
#include "overlay_device.h"
#include "repair.h"
#include "walker.h"
#include "writeback.h"
#include "xml_emitter.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <sstream>

namespace pcache::test::matrix {
namespace {

uint64_t get(device &dev, uint64_t off, unsigned width)
{
	uint64_t v = 0;
	unsigned char b[8] = {};
	dev.read(off, b, width);
	for (unsigned i = 0; i < width; ++i)
		v |= uint64_t(b[i]) << (8 * i);
	return v;
}

void set(device &dev, uint64_t off, unsigned width, uint64_t v)
{
	unsigned char b[8];
	for (unsigned i = 0; i < width; ++i)
		b[i] = static_cast<unsigned char>(v >> (8 * i));
	dev.write(off, b, width);
}

void reseal(device &dev, const field &f)
{
	uint64_t size = f.record_size;
	if (f.group == "kset" || f.group == "key") {
		// The size the (possibly mutated) header declares, where it can be.
		uint32_t key_num = static_cast<uint32_t>(get(dev, f.record + 4, 4));
		uint64_t flags = get(dev, f.record + 16, 8);
		if (flags & PCACHE_KSET_FLAGS_LAST)
			size = PCACHE_KSET_HEADER_SIZE;
		else if (key_num <= PCACHE_KSET_KEYS_MAX)
			size = PCACHE_KSET_SIZE(key_num);
	}
	std::vector<unsigned char> rec(size);
	dev.read(f.record, rec.data(), rec.size());
	set(dev, f.record, 4, record_crc(rec.data(), rec.size()));
}

uint64_t mutated(uint64_t v, unsigned width, mutation m, std::mt19937_64 &rng)
{
	uint64_t mask = width == 8 ? ~uint64_t(0) : (uint64_t(1) << (8 * width)) - 1;
	switch (m) {
	case mutation::zero:
		return 0;
	case mutation::ones:
		return mask;
	case mutation::plus_one:
		return (v + 1) & mask;
	case mutation::minus_one:
		return (v - 1) & mask;
	case mutation::random:
		return rng() & mask;
	}
	return v;
}

// Mutations whose harm pcache_check cannot see, by design: a field behind a
// valid CRC that carries meaning with no redundancy to compare it with.
// Each entry: (field name part, reason).  Only CRC-recomputed cases.
struct blind_spot {
	const char *field;
	const char *why;
};

struct matrix_run {
	const base_image &base;
	std::vector<uint64_t> sectors;	// of every key of the base image
	view original;
	std::vector<std::string> failures;
	std::vector<std::string> blind;	// undetected harm, allowed by a blind spot
	std::vector<std::string> torn;	// undetected harm that reads as a torn end
	unsigned cases = 0, unchanged = 0, harmless = 0, detected = 0;
	std::vector<blind_spot> allowed;

	explicit matrix_run(const base_image &b) : base(b)
	{
		for (const cache_key &k : base.keys)
			for (uint64_t s = k.off / 512; s < k.end() / 512; ++s)
				sectors.push_back(s);
		overlay_device same(const_cast<memory_device &>(base.cache.dev));
		original = view_of(same, const_cast<memory_device &>(base.origin), sectors);
	}

	void fail(const std::string &name, const std::string &what) { failures.push_back(name + ": " + what); }

	bool blind_spot_for(const field &f, bool resealed, std::string &why) const
	{
		if (!resealed)
			return false;
		for (const auto &b : allowed)
			if (f.name.find(b.field) != std::string::npos) {
				why = b.why;
				return true;
			}
		return false;
	}

	void run_case(const field &f, mutation m, bool resealed, std::mt19937_64 &rng);
	void run_group(const std::string &group);
};

bool is_harmless(const view &before, const view &after)
{
	for (const auto &[s, b] : before) {
		auto it = after.find(s);
		if (it == after.end())
			return false;
		if (it->second.data != b.data || (b.dirty && !it->second.dirty))
			return false;
	}
	for (const auto &[s, a] : after) {
		auto it = before.find(s);
		if (it == before.end() && a.cached)
			return false;	// data appears where there was none
	}
	return true;
}

bool in_lost(const repair_report &r, uint64_t sector)
{
	uint64_t b = sector * 512;
	for (const auto &l : r.lost())
		if (l.range.begin <= b && b < l.range.end)
			return true;
	return !r.unknown().empty();
}

void matrix_run::run_case(const field &f, mutation m, bool resealed, std::mt19937_64 &rng)
{
	std::string name = f.name + " " + to_string(m) + (resealed ? " (CRC recomputed)" : "");
	overlay_device dev(const_cast<memory_device &>(base.cache.dev));
	uint64_t was = get(dev, f.offset, f.width);
	uint64_t now = mutated(was, f.width, m, rng);
	if (now == was) {
		++unchanged;
		return;
	}
	++cases;
	set(dev, f.offset, f.width, now);
	if (resealed)
		reseal(dev, f);

	// pcache_check
	ignore_damage quiet;
	damage_list found;
	check_outcome checked = check_cache(dev, found, true);
	bool detected_here = checked.worst >= severity::error;

	// pcache_dump --repair: must not crash.
	{
		output null("/dev/null");
		xml_emitter xml(null);
		walk_options opts;
		opts.repair = true;
		try {
			walker(dev, quiet, opts).walk(xml);
		} catch (const std::exception &e) {
			fail(name, std::string("dump --repair threw: ") + e.what());
		}
	}

	view reference = original;
	bool torn_end = false;
	for (const damage &d : found.items)
		torn_end |= d.kind == damage_kind::log_torn_end || d.kind == damage_kind::log_end_not_zeroed;
	if (!detected_here) {
		view mutated_view = view_of(dev, const_cast<memory_device &>(base.origin), sectors);
		if (is_harmless(original, mutated_view)) {
			++harmless;
		} else if (torn_end) {
			// Damage at the end of the log that looks exactly like a kset
			// write cut short by a power cut: pcache_check warns, and the
			// repair must list the keys as possibly lost (checked below).
			torn.push_back(name);
		} else {
			std::string why;
			if (!blind_spot_for(f, resealed, why)) {
				fail(name, "pcache_check finds nothing, but reads or dirty data change");
				return;
			}
			blind.push_back(name + ": " + why);
			reference = mutated_view;
		}
	} else {
		++detected;
	}

	// pcache_repair
	std::unique_ptr<repair_plan> plan;
	try {
		plan = std::make_unique<repair_plan>(plan_repair(dev));
	} catch (const std::exception &e) {
		fail(name, std::string("repair refused: ") + e.what());
		return;
	}
	if (!plan->result_clean()) {
		fail(name, "repaired result does not check clean: " +
				   (plan->result_damage.items.empty() ? std::string("?")
								      : to_string(plan->result_damage.items[0])));
		return;
	}
	repair_plan again = plan_repair(plan->overlay());
	if (again.changes() || !again.report.changes().empty())
		fail(name, "repairing the result again changes it: " +
				   (again.report.changes().empty() ? std::string("(bytes)")
								   : again.report.changes()[0].detail));

	// No byte changes or stops being dirty outside the reported losses.
	view repaired = view_of(plan->overlay(), const_cast<memory_device &>(base.origin), sectors);
	std::set<uint64_t> victim;
	if (f.group == "key" && (!plan->report.lost().empty() || !plan->report.changes().empty())) {
		// The damaged key itself: reported under the range it now claims.
		uint64_t key_start = f.record + PCACHE_KSET_HEADER_SIZE +
				     (f.offset - f.record - PCACHE_KSET_HEADER_SIZE) / PCACHE_KEY_SIZE * PCACHE_KEY_SIZE;
		uint64_t off = get(const_cast<memory_device &>(base.cache.dev), key_start, 8);
		uint64_t len = get(const_cast<memory_device &>(base.cache.dev), key_start + 8, 4);
		for (uint64_t s = off / 512; s < (off + len) / 512; ++s)
			victim.insert(s);
	}
	for (const auto &[s, ref] : reference) {
		if (in_lost(plan->report, s) || victim.count(s))
			continue;
		auto it = repaired.find(s);
		if (it == repaired.end() || it->second.data != ref.data) {
			fail(name, "origin sector " + std::to_string(s) + " changed without being reported lost");
			break;
		}
		if (ref.dirty && !it->second.dirty) {
			fail(name, "origin sector " + std::to_string(s) + " is no longer dirty and not reported lost");
			break;
		}
	}
	for (const auto &[s, rep] : repaired)
		if (rep.cached && !reference.count(s)) {
			fail(name, "the repaired cache maps origin sector " + std::to_string(s) + ", unknown before");
			break;
		}

	// pcache_writeback --salvage: the origin gets the repaired dirty data.
	overlay_device origin(const_cast<memory_device &>(base.origin));
	writeback_plan wp = plan_writeback(plan->overlay(), quiet, false);
	writeback_result wr = run_writeback(plan->overlay(), wp, origin);
	if (!wr.failed.empty())
		fail(name, "salvage writeback failed: " + wr.failed[0].reason);
	for (const auto &[s, rep] : repaired) {
		if (!rep.dirty)
			continue;
		unsigned char buf[512];
		origin.read(s * 512, buf, sizeof(buf));
		if (data_crc(buf, sizeof(buf)) != rep.data) {
			fail(name, "after the salvage writeback, origin sector " + std::to_string(s) +
					   " does not hold the cache's data");
			break;
		}
	}
}

void matrix_run::run_group(const std::string &group)
{
	std::mt19937_64 rng(0x5eed + group.size());
	for (const field &f : base.fields) {
		if (f.group != group)
			continue;
		for (mutation m : {mutation::zero, mutation::ones, mutation::plus_one, mutation::minus_one,
				   mutation::random})
			for (bool resealed : {false, true})
				run_case(f, m, resealed, rng);
	}
}

std::string join(const std::vector<std::string> &lines)
{
	std::ostringstream o;
	for (const auto &l : lines)
		o << "  " << l << "\n";
	return o.str();
}

void run_matrix(const std::string &group, bool data_crc, const std::vector<blind_spot> &allowed = {})
{
	static base_image with_crc(true), without_crc(false);
	matrix_run run(data_crc ? with_crc : without_crc);
	run.allowed = allowed;
	run.run_group(group);
	EXPECT_GT(run.cases, 0u);
	EXPECT_TRUE(run.failures.empty()) << run.failures.size() << " of " << run.cases << " cases fail:\n"
					  << join(run.failures);
	std::cout << "[ matrix   ] " << group << (data_crc ? " (data CRCs on)" : " (data CRCs off)") << ": "
		  << run.cases << " cases: " << run.detected << " reported by pcache_check, " << run.harmless
		  << " shown harmless, " << run.torn.size() << " read as a torn log end (warned), " << run.blind.size()
		  << " undetectable by design; " << run.unchanged
		  << " mutations left the field as it was\n";
	if (!run.blind.empty())
		std::cout << join(run.blind);
}

// The blind spots: a field changed behind a recomputed CRC into another
// value that a cache written by the kernel can have.  The result is a
// consistent cache that means something else; no checker can tell.  Every
// other undetected mutation must be shown harmless.
const std::vector<blind_spot> kKsetBlindSpots = {
	{"kset4.flags", "a mid-log kset turned into a LAST kset leading where the log goes on anyway: "
			"the kernel never reads what follows a LAST kset, so nothing shows its keys were keys"},
	{"last.next_seg", "a LAST kset leading to an empty segment is what the kernel writes when it "
			  "starts a key segment; the ksets no longer reached look like ones GC freed"},
};
const std::vector<blind_spot> kKeyBlindSpots = {
	{".off", "a key's origin offset is covered by no redundancy: the data just belongs elsewhere"},
	{".flags", "the CLEAN flag is legitimate on any key: dirty data reads as already written back"},
};
const std::vector<blind_spot> kKeyBlindSpotsWithoutDataCrc = {
	{".off", "a key's origin offset is covered by no redundancy: the data just belongs elsewhere"},
	{".flags", "the CLEAN flag is legitimate on any key: dirty data reads as already written back"},
	{".seg_off", "without data CRCs nothing ties a key to its data: other cache bytes are read"},
};

TEST(DamageMatrix, Superblock) { run_matrix("superblock", true); }
TEST(DamageMatrix, CacheInfo) { run_matrix("cache_info", true); }
TEST(DamageMatrix, KeyTail) { run_matrix("key_tail", true); }
TEST(DamageMatrix, DirtyTail) { run_matrix("dirty_tail", true); }
TEST(DamageMatrix, SegInfo) { run_matrix("seg_info", true); }
TEST(DamageMatrix, SegGen) { run_matrix("seg_gen", true); }
TEST(DamageMatrix, KsetHeaders) { run_matrix("kset", true, kKsetBlindSpots); }
TEST(DamageMatrix, KsetHeadersWithoutDataCrc) { run_matrix("kset", false, kKsetBlindSpots); }
TEST(DamageMatrix, Keys) { run_matrix("key", true, kKeyBlindSpots); }
TEST(DamageMatrix, KeysWithoutDataCrc) { run_matrix("key", false, kKeyBlindSpotsWithoutDataCrc); }

} // namespace
} // namespace pcache::test::matrix
