// pcache_writeback: writes the dirty data of a pcache cache to its origin
// with no kernel involved, then marks the cache clean.  --salvage writes
// what is intact of a cache whose metadata is damaged.
#include "cli.h"
#include "device.h"
#include "output.h"
#include "path_util.h"
#include "progress.h"
#include "repair.h"
#include "text_format.h"
#include "writeback.h"

#include <atomic>
#include <csignal>
#include <sys/stat.h>

using namespace pcache;
namespace po = boost::program_options;

namespace {

struct writeback_cli {
	std::string cache;
	std::string origin;
	bool dry_run = false;
	bool salvage = false;
	bool no_metadata_update = false;
};

std::atomic<bool> g_stop{false};

void on_signal(int)
{
	g_stop = true;
}

// SIGINT/SIGTERM stop the copy after the extent being written; a second
// one kills the tool (SA_RESETHAND).
void catch_interrupts()
{
	struct sigaction sa{};
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGTERM, &sa, nullptr);
}

class first_error : public damage_sink {
public:
	void report(const damage &d) override
	{
		if (d.level() >= severity::error && text.empty())
			text = to_string(d);
	}
	std::string text;
};

std::string range_text(uint64_t b, uint64_t e)
{
	return "[" + std::to_string(b) + ", " + std::to_string(e) + ")";
}

int run(const cli::tool &tool, const writeback_cli &opt)
{
	if (opt.cache.empty())
		throw cli::usage_error("no cache given (--cache DEV; see pcache_writeback --help)");
	if (opt.origin.empty() && !opt.dry_run)
		throw cli::usage_error("no origin given (--origin DEV; see pcache_writeback --help)");
	if (!opt.origin.empty() && same_file(opt.cache, opt.origin))
		throw cli::usage_error("--cache and --origin name the same device");
	bool update = !opt.dry_run && !opt.salvage && !opt.no_metadata_update;
	auto cache = open_device(opt.cache, update ? access_mode::read_write : access_mode::read_only, true);
	std::unique_ptr<device> origin;
	if (!opt.origin.empty())
		origin = open_device(opt.origin, opt.dry_run ? access_mode::read_only : access_mode::read_write, true);

	output out("");
	auto say = [&](const std::string &line) {
		if (!tool.quiet())
			out.write(line + "\n");
	};

	// The plan: from the cache as it is, or from its repaired view.
	first_error damage;
	std::unique_ptr<repair_plan> repaired;
	writeback_plan plan;
	if (opt.salvage) {
		repaired = std::make_unique<repair_plan>(plan_repair(*cache));
		if (!repaired->result_clean())
			throw std::runtime_error("the metadata is damaged beyond what the repair walker can read; "
						 "nothing was written");
		plan = plan_writeback(repaired->overlay(), damage, false);
	} else {
		plan = plan_writeback(*cache, damage, true);
		if (plan.worst >= severity::error)
			throw std::runtime_error("the metadata of " + opt.cache + " is damaged (" + damage.text +
						 "); nothing was written.  pcache_writeback --salvage writes back "
						 "every intact dirty extent; pcache_repair repairs the metadata");
	}
	if (origin)
		for (const dirty_extent &e : plan.extents)
			if (e.off + e.len > origin->size())
				throw std::runtime_error("dirty data at origin bytes " + range_text(e.off, e.off + e.len) +
							 " lies beyond the end of " + opt.origin + " (" +
							 std::to_string(origin->size()) +
							 " bytes): is it the cache's origin?  Nothing was written");

	std::vector<std::string> lost;
	if (repaired) {
		for (const lost_range &l : repaired->report.lost())
			if (l.dirty)
				lost.push_back("not recoverable: origin bytes " + range_text(l.range.begin, l.range.end) +
					       " (" + to_string(l.where) + ": " + l.reason + ")");
		for (const auto &[where, detail] : repaired->report.unknown())
			lost.push_back("not recoverable: " + to_string(where) + ": " + detail);
	}

	if (opt.dry_run) {
		for (const dirty_extent &e : plan.extents)
			say("would write origin bytes " + range_text(e.off, e.off + e.len) + " from cache byte " +
			    std::to_string(e.cache_offset));
		for (const auto &l : lost)
			say(l);
		say("dry run: " + std::to_string(plan.extents.size()) + " dirty extents (" + size_string(plan.bytes) +
		    ") would be written" + (origin ? " to " + opt.origin : "") + "; nothing was written");
		out.commit();
		return lost.empty() ? 0 : 1;
	}

	catch_interrupts();
	writeback_result res;
	{
		progress_bar bar("writing back", !tool.quiet(), progress_bar::units::bytes, true);
		writeback_options wo;
		wo.progress = [&](uint64_t done, uint64_t total) { bar.update(done, total); };
		wo.stop = &g_stop;
		res = run_writeback(*cache, plan, *origin, wo);
	}
	for (const failed_range &f : res.failed)
		say(f.end ? "failed: origin bytes " + range_text(f.begin, f.end) + ": " + f.reason
			  : "failed: " + f.reason);
	for (const auto &l : lost)
		say(l);
	say("wrote " + std::to_string(res.extents) + " of " + std::to_string(plan.extents.size()) +
	    " dirty extents (" + size_string(res.bytes) + ") to " + opt.origin + " in log order" +
	    (res.flushed ? "; origin flushed" : ""));
	bool ok = !res.interrupted && res.failed.empty();
	if (res.interrupted)
		say("interrupted: the cache is unchanged; run pcache_writeback again to finish (writing the "
		    "same data twice is harmless)");
	else if (!ok)
		say("the cache is unchanged (dirty_tail not advanced): its dirty data stays dirty");
	else if (opt.salvage)
		say("the cache's metadata was not updated (--salvage): repair it with pcache_repair before "
		    "using it again");
	else if (opt.no_metadata_update)
		say("the cache's metadata was not updated (--no-metadata-update): its data is still dirty");
	else if (plan.dirty_tail == plan.end && plan.extents.empty())
		say("the cache was clean already: dirty_tail " + to_string(plan.end) + " is the end of the log");
	else {
		mark_clean(*cache, plan);
		say("dirty_tail " + to_string(plan.dirty_tail) + " -> " + to_string(plan.end) + ": the cache is clean");
	}
	out.commit();
	return ok && lost.empty() ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
	cli::tool tool("pcache_writeback", "--cache DEV --origin DEV [options]",
		       "Writes every dirty extent of a pcache cache to its origin device, newest data "
		       "winning, in the order\nthe cache took the writes; flushes the origin; then marks "
		       "the cache clean by advancing dirty_tail.\nNo kernel is involved: for a cache that "
		       "cannot be loaded.  Exit status 0: everything was written;\n1: anything was not, "
		       "or any error.");
	writeback_cli opt;
	tool.options().add_options()
		("cache", po::value(&opt.cache)->value_name("DEV"), "the cache device or image")
		("origin", po::value(&opt.origin)->value_name("DEV"), "the origin (backing) device or image")
		("dry-run", po::bool_switch(&opt.dry_run), "list what would be written; write nothing")
		("salvage", po::bool_switch(&opt.salvage),
		 "the metadata is damaged: write every intact dirty extent (read as pcache_repair would "
		 "repair it), list those that cannot be, and leave the cache as it is")
		("no-metadata-update", po::bool_switch(&opt.no_metadata_update),
		 "write the data but leave the cache as it is (its data stays dirty)");
	return tool.main(argc, argv, [&](const po::variables_map &) { return run(tool, opt); });
}
