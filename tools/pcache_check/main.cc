// pcache_check: checks the metadata of a pcache cache device or image.
#include "cache_info_update.h"
#include "check_report.h"
#include "cli.h"
#include "device.h"
#include "logical_map.h"
#include "output.h"
#include "payload_verifier.h"
#include "walker.h"

using namespace pcache;
namespace po = boost::program_options;

namespace {

struct check_options {
	std::string device;
	bool super_block_only = false;
	bool skip_data = false;
	bool clear_needs_check = false;
	bool json = false;
};

// Clears NEEDS_CHECK after a check that found no error.
void clear_needs_check(device &dev, const replica_set<cache_info> &info, check_report &report)
{
	if (report.worst() >= severity::error) {
		report.add_note("needs_check: left as it is, the check found errors");
		return;
	}
	const cache_info &ci = info.current();
	if (!ci.needs_check()) {
		report.add_note("needs_check: was not set");
		return;
	}
	write_cache_info_flags(dev, info, ci.flags & ~PCACHE_CACHE_FLAGS_NEEDS_CHECK);
	report.add_note("needs_check: cleared (new cache_info copy in replica " +
			std::to_string(info.update_slot()) + ")");
}

// Keeps the cache_info the walk settled on, for the needs_check update.
class cache_info_keeper : public metadata_visitor {
public:
	void on_cache_info(const replica_set<cache_info> &info) override { info_ = info; }
	std::optional<replica_set<cache_info>> info_;
};

int run_check(const check_options &opt, bool quiet)
{
	if (opt.clear_needs_check && (opt.super_block_only || opt.skip_data))
		throw cli::usage_error("--clear-needs-check-flag needs a full check; it cannot be "
				       "combined with --super-block-only or --skip-data");
	auto dev = open_device(opt.device, opt.clear_needs_check ? access_mode::read_write
								  : access_mode::read_only);
	output out("");
	check_report report(out,
			    quiet ? check_report::style::quiet
			    : opt.json ? check_report::style::json
				       : check_report::style::text,
			    opt.device);
	logical_map map(report);
	payload_verifier payloads(*dev, report);
	cache_info_keeper keeper;
	std::vector<metadata_visitor *> sinks{&report, &keeper};
	if (!opt.super_block_only)
		sinks.push_back(&map);
	if (!opt.super_block_only && !opt.skip_data)
		sinks.push_back(&payloads);
	visitor_tee tee(sinks);

	walk_options walk;
	walk.header_only = opt.super_block_only;
	walker(*dev, report, walk).walk(tee);

	if (!opt.super_block_only) {
		map.resolve(nullptr);
		report.set_map(map.summary());
	}
	bool data_crc = keeper.info_ && keeper.info_->current().data_crc();
	if (opt.super_block_only)
		report.add_note("only the superblock, cache_info and tails were checked "
				"(--super-block-only)");
	else if (data_crc && opt.skip_data)
		report.add_note("data CRCs not verified (--skip-data)");
	else if (data_crc)
		report.set_payload(payloads.verified_keys(), payloads.verified_bytes());
	if (opt.clear_needs_check && keeper.info_)
		clear_needs_check(*dev, *keeper.info_, report);
	report.finish();
	out.commit();
	return report.worst() >= severity::error ? 1 : 0;
}

} // namespace

int main(int argc, char **argv)
{
	cli::tool tool("pcache_check", "[options] DEVICE|FILE",
		       "Checks the metadata of a pcache cache device or image: superblock, "
		       "cache_info and tail replicas,\nthe segment chain, the kset log, every key, "
		       "the data CRCs and the resolved logical map.\nExit status 0: clean "
		       "(warnings allowed); 1: damage found, or any error.");
	check_options opt;
	tool.options().add_options()
		("super-block-only", po::bool_switch(&opt.super_block_only),
		 "check only the superblock, cache_info and tail records")
		("skip-data", po::bool_switch(&opt.skip_data), "do not verify data CRCs")
		("clear-needs-check-flag", po::bool_switch(&opt.clear_needs_check),
		 "after a full check without errors, clear the needs_check flag")
		("json", po::bool_switch(&opt.json), "print the report as one JSON document");
	tool.hidden().add_options()("device", po::value(&opt.device));
	tool.positional("device");
	return tool.main(argc, argv, [&](const po::variables_map &vm) {
		if (!vm.count("device"))
			throw cli::usage_error("no cache device or image given (see pcache_check --help)");
		return run_check(opt, tool.quiet());
	});
}
