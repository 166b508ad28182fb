// pcache_repair: repairs the metadata of a pcache cache, into a copy
// (-i IN -o OUT) or in place with a backup of every region it changes
// (--in-place DEV --backup FILE), and puts such a backup back
// (--restore-backup FILE DEV).  Every repair is planned and checked in
// memory first: nothing is written unless the result checks clean.
#include "cli.h"
#include "device.h"
#include "image_copy.h"
#include "output.h"
#include "path_util.h"
#include "progress.h"
#include "repair.h"
#include "repair_backup.h"
#include "text_format.h"

#include <sys/stat.h>

using namespace pcache;
namespace po = boost::program_options;

namespace {

struct repair_options {
	std::string input;
	std::string output;
	std::string in_place;
	std::string backup;
	std::string restore_backup;
	std::string device;	// positional: the device of --restore-backup
	bool dry_run = false;
	bool json = false;
};

std::string result_word(const repair_plan &plan, bool dry_run)
{
	bool lost = plan.report.dirty_data_lost();
	if (!plan.changes() && plan.report.changes().empty())
		return lost ? "clean, but dirty data is lost" : "clean (nothing to repair)";
	std::string verb = dry_run ? "would be repaired" : "repaired";
	return lost ? verb + "; dirty data lost (listed above)" : verb;
}

// The report on stdout; the exit status.
int finish(const cli::tool &tool, const repair_options &opt, const repair_plan &plan, const std::string &device)
{
	std::string result = result_word(plan, opt.dry_run);
	if (!tool.quiet()) {
		output out("");
		out.write(opt.json ? plan.report.json(device, result) : plan.report.text(result));
		out.commit();
	}
	return plan.result_clean() && !plan.report.dirty_data_lost() ? 0 : 1;
}

// Plans the repair of `dev`; refuses a result that would not check clean.
repair_plan plan_or_refuse(device &dev, const std::string &nothing_written)
{
	repair_plan plan = plan_repair(dev);
	if (!plan.result_clean()) {
		std::string first = plan.result_damage.items.empty() ? std::string("?")
								     : to_string(plan.result_damage.items[0]);
		throw std::runtime_error("the repaired metadata would still not check clean (" + first +
					 "); this damage is beyond what pcache_repair can put right; " +
					 nothing_written);
	}
	return plan;
}

int repair_copy(const cli::tool &tool, const repair_options &opt)
{
	if (opt.output.empty() && !opt.dry_run)
		throw cli::usage_error("no output given (-o DEVICE|FILE; see pcache_repair --help)");
	if (!opt.output.empty() && (opt.output == opt.input || same_file(opt.input, opt.output)))
		throw cli::usage_error("-i and -o name the same device; use --in-place DEV --backup FILE to "
				       "repair a device where it is");
	auto in = open_device(opt.input, access_mode::read_only, true);
	if (!opt.output.empty() && !is_new_or_regular_file(opt.output)) {
		// A device output must exist and be large enough; checked before
		// any work (write_image checks again).
		auto probe = open_device(opt.output, access_mode::read_write);
		if (probe->size() < in->size())
			throw std::runtime_error(opt.output + ": " + std::to_string(probe->size()) +
						 " bytes, smaller than the " + std::to_string(in->size()) +
						 " bytes of " + opt.input + "; nothing was written");
	}
	repair_plan plan = plan_or_refuse(*in, "nothing was written");
	if (!opt.dry_run) {
		progress_bar bar("writing " + opt.output, !tool.quiet(), progress_bar::units::bytes);
		write_image(plan.overlay(), opt.output, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
	}
	return finish(tool, opt, plan, opt.input);
}

int repair_in_place(const cli::tool &tool, const repair_options &opt)
{
	if (opt.backup.empty() && !opt.dry_run)
		throw cli::usage_error("--in-place needs --backup FILE: every region the repair changes is "
				       "saved there first (see pcache_repair --help)");
	if (!opt.backup.empty()) {
		struct stat st;
		if (::stat(opt.backup.c_str(), &st) == 0)
			throw cli::usage_error("the backup file " + opt.backup +
					       " exists already; it may be the only copy of an earlier backup: "
					       "choose another name");
		if (same_file(opt.backup, opt.in_place))
			throw cli::usage_error("--backup names the device itself");
	}
	auto dev = open_device(opt.in_place, opt.dry_run ? access_mode::read_only : access_mode::read_write, true);
	repair_plan plan = plan_or_refuse(*dev, "nothing was written");
	if (!opt.dry_run) {
		std::vector<changed_run> runs = plan.overlay().changes();
		write_backup(opt.backup, dev->size(), runs);
		apply_runs(*dev, runs);
		uint64_t bytes = 0;
		for (const auto &r : runs)
			bytes += r.after.size();
		plan.report.note("wrote " + std::to_string(runs.size()) + " regions (" + size_string(bytes) +
				 ") to " + opt.in_place + "; what they held is saved in " + opt.backup +
				 " (pcache_repair --restore-backup " + opt.backup + " " + opt.in_place + " puts it back)");
	}
	return finish(tool, opt, plan, opt.in_place);
}

int put_back(const cli::tool &tool, const repair_options &opt)
{
	if (opt.device.empty())
		throw cli::usage_error("--restore-backup FILE needs the device to put it back on "
				       "(pcache_repair --restore-backup FILE DEVICE)");
	backup_contents backup = read_backup(opt.restore_backup);
	auto dev = open_device(opt.device, access_mode::read_write, true);
	uint64_t bytes = restore_backup(*dev, backup);
	tool.note("put back " + std::to_string(backup.runs.size()) + " regions (" + size_string(bytes) + ") from " +
		  opt.restore_backup + " on " + opt.device);
	return 0;
}

int run(const cli::tool &tool, const repair_options &opt)
{
	int modes = !opt.input.empty() + !opt.in_place.empty() + !opt.restore_backup.empty();
	if (modes != 1)
		throw cli::usage_error(std::string(modes ? "give only one of" : "give one of") +
				       " -i IN -o OUT, --in-place DEV --backup FILE, --restore-backup FILE DEV "
				       "(see pcache_repair --help)");
	if (!opt.restore_backup.empty()) {
		if (opt.dry_run || opt.json || !opt.output.empty() || !opt.backup.empty())
			throw cli::usage_error("--restore-backup takes no other option");
		return put_back(tool, opt);
	}
	if (!opt.device.empty())
		throw cli::usage_error("unexpected argument '" + opt.device +
				       "' (the input is given with -i or --in-place)");
	if (!opt.in_place.empty()) {
		if (!opt.output.empty())
			throw cli::usage_error("--in-place and -o cannot be combined");
		return repair_in_place(tool, opt);
	}
	if (!opt.backup.empty())
		throw cli::usage_error("--backup goes with --in-place (-o writes a copy and leaves the input alone)");
	return repair_copy(tool, opt);
}

} // namespace

int main(int argc, char **argv)
{
	cli::tool tool("pcache_repair",
		       "-i IN -o OUT | --in-place DEV --backup FILE | --restore-backup FILE DEV [options]",
		       "Repairs the metadata of a pcache cache: into a copy (-i IN -o OUT; IN is never "
		       "modified), or in place\nafter saving every region it changes to a backup file. "
		       "The repair is planned and checked in memory\nfirst; nothing is written unless the "
		       "result checks clean. Every change, and every origin range\nwhose data could not be "
		       "kept, is reported.\nExit status 0: the result is clean and no dirty data was lost; "
		       "1: otherwise, or any error.");
	repair_options opt;
	tool.options().add_options()
		("input,i", po::value(&opt.input)->value_name("IN"), "the cache device or image to repair into a copy")
		("output,o", po::value(&opt.output)->value_name("OUT"),
		 "where the repaired copy goes: a file (created, or replaced when complete) or a device "
		 "at least as large as IN")
		("in-place", po::value(&opt.in_place)->value_name("DEV"), "repair DEV where it is (needs --backup)")
		("backup", po::value(&opt.backup)->value_name("FILE"),
		 "with --in-place: first save every region the repair changes to FILE (a new file)")
		("restore-backup", po::value(&opt.restore_backup)->value_name("FILE"),
		 "put the regions saved in FILE back on the device given after it")
		("dry-run", po::bool_switch(&opt.dry_run), "report what would be repaired; write nothing")
		("json", po::bool_switch(&opt.json), "print the report as one JSON document");
	tool.hidden().add_options()("device", po::value(&opt.device));
	tool.positional("device");
	return tool.main(argc, argv, [&](const po::variables_map &) { return run(tool, opt); });
}
