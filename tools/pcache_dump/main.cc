// pcache_dump: writes the metadata of a pcache cache as XML (lossless, for
// pcache_restore), as a listing for people, or as the resolved logical map.
#include "cli.h"
#include "device.h"
#include "human_emitter.h"
#include "logical_emitter.h"
#include "logical_map.h"
#include "output.h"
#include "walker.h"
#include "xml_emitter.h"

using namespace pcache;
namespace po = boost::program_options;

namespace {

struct dump_options {
	std::string device;
	std::string output_path;
	std::string format = "xml";
	bool logical = false;
	bool repair = false;
};

// Damage policy of a dump: the first error stops it (nothing is written),
// unless --repair, where errors are listed on stderr and the walk steps
// over what it can.  Warnings never matter to a dump.
class dump_damage : public damage_sink {
public:
	dump_damage(const cli::tool &tool, bool repair) : tool_(tool), repair_(repair) {}
	void report(const damage &d) override
	{
		if (d.level() < severity::error)
			return;
		if (!repair_)
			throw std::runtime_error(to_string(d) +
						 "; the metadata is damaged: run pcache_check for a full "
						 "report, or pcache_dump --repair to dump what is readable");
		if (d.level() == severity::fatal && fatal_.empty())
			fatal_ = to_string(d);
		++count_;
		tool_.error("--repair: " + to_string(d));
	}
	uint64_t count() const { return count_; }
	// Damage that left nothing to dump, even with --repair.
	const std::string &fatal() const { return fatal_; }

private:
	const cli::tool &tool_;
	bool repair_;
	uint64_t count_ = 0;
	std::string fatal_;
};

int run_dump(const dump_options &opt, const cli::tool &tool)
{
	if (opt.format != "xml" && opt.format != "human")
		throw cli::usage_error("--format must be xml or human, not '" + opt.format + "'");
	auto dev = open_device(opt.device, access_mode::read_only);
	output out(opt.output_path);	// an unwritable -o fails here, before any work
	dump_damage damage(tool, opt.repair);
	walk_options walk;
	walk.repair = opt.repair;
	bool human = opt.format == "human";

	if (opt.logical) {
		logical_map map(damage);
		logical_emitter emitter(out, human);
		visitor_tee tee({&map, &emitter});
		walker(*dev, damage, walk).walk(tee);
		emitter.begin();
		map.resolve(&emitter);
		emitter.end(map.summary());
	} else if (human) {
		human_emitter emitter(out);
		walker(*dev, damage, walk).walk(emitter);
	} else {
		xml_emitter emitter(out);
		walker(*dev, damage, walk).walk(emitter);
	}
	if (!damage.fatal().empty())
		throw std::runtime_error("nothing to dump: " + damage.fatal());
	out.commit();
	if (damage.count())
		tool.error("--repair: " + std::to_string(damage.count()) +
			   " problems; the dump leaves out what they made unreadable");
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	cli::tool tool("pcache_dump", "[options] DEVICE|FILE",
		       "Writes the metadata of a pcache cache device or image as XML (the input of "
		       "pcache_restore),\nas a listing for people, or as the resolved logical map.");
	dump_options opt;
	tool.options().add_options()
		("output,o", po::value(&opt.output_path)->value_name("FILE"),
		 "write to FILE instead of standard output")
		("format,f", po::value(&opt.format)->value_name("xml|human"),
		 "xml (default) or human")
		("logical", po::bool_switch(&opt.logical),
		 "dump the resolved logical map: origin extent -> cache location, dirty or clean")
		("repair", po::bool_switch(&opt.repair),
		 "step over damage and dump what is readable, saying what was skipped");
	tool.hidden().add_options()("device", po::value(&opt.device));
	tool.positional("device");
	return tool.main(argc, argv, [&](const po::variables_map &vm) {
		if (!vm.count("device"))
			throw cli::usage_error("no cache device or image given (see pcache_dump --help)");
		return run_dump(opt, tool);
	});
}
