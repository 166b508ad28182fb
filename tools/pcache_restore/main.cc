// pcache_restore: writes the metadata described by pcache_dump's XML to a
// cache device or image.  The whole input is validated before the first
// byte is written; the superblock is written last.
#include "cli.h"
#include "damage.h"
#include "device.h"
#include "logical_map.h"
#include "progress.h"
#include "restore_writer.h"
#include "text_format.h"
#include "walker.h"
#include "xml_reader.h"

#include <sys/stat.h>

using namespace pcache;
namespace po = boost::program_options;

namespace {

struct restore_options {
	std::string input;
	std::string output;
	std::string data_from;
};

// Damage found in the input: errors refuse the restore, warnings are told.
class input_problems : public damage_sink {
public:
	input_problems(const cli::tool &tool, const std::string &input) : tool_(tool), input_(input) {}
	void report(const damage &d) override
	{
		tally_.report(d);
		if (++shown_ <= 20)
			tool_.error(input_ + ": " + to_string(d));
	}
	bool refused() const { return tally_.worst() >= severity::error; }
	uint64_t errors() const { return tally_.errors(); }
	uint64_t shown() const { return shown_; }

private:
	const cli::tool &tool_;
	std::string input_;
	damage_tally tally_;
	uint64_t shown_ = 0;
};

// Counts the input's segments, for the --data-from check.
class segment_counter : public metadata_visitor {
public:
	void on_segment(const segment_record &) override { ++count; }
	uint32_t count = 0;
};

bool same_file(const std::string &a, const std::string &b)
{
	struct stat sa, sb;
	return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino && (S_ISREG(sa.st_mode) || S_ISBLK(sa.st_mode)) &&
	       (S_ISBLK(sa.st_mode) ? sa.st_rdev == sb.st_rdev : true);
}

void check_input_file(const std::string &path)
{
	struct stat st;
	if (::stat(path.c_str(), &st) != 0)
		throw io_error(path + ": no such file");
	if (S_ISDIR(st.st_mode))
		throw io_error(path + ": is a directory, not an XML file");
	if (!S_ISREG(st.st_mode))
		throw io_error(path + ": not a regular file (the XML is read twice: to validate, then "
				      "to write)");
}

// The payload source of --data-from: a healthy cache whose chain we know.
struct data_source {
	std::unique_ptr<device> dev;
	segment_table segs;
};

std::unique_ptr<data_source> open_data_source(const std::string &path)
{
	auto src = std::make_unique<data_source>();
	src->dev = open_device(path, access_mode::read_only);
	damage_list problems;
	walk_options walk;
	walk.skip_log = true;
	walker w(*src->dev, problems, walk);
	metadata_visitor none;
	w.walk(none);
	for (const auto &d : problems.items)
		if (d.level() >= severity::error)
			throw std::runtime_error("--data-from " + path + ": " + to_string(d) +
						 " (the source's segment chain must be sound; run "
						 "pcache_check on it)");
	src->segs = w.segments();
	return src;
}

int run_restore(const restore_options &opt, const cli::tool &tool)
{
	if (opt.input.empty())
		throw cli::usage_error("no input XML given (-i FILE; see pcache_restore --help)");
	if (opt.output.empty())
		throw cli::usage_error("no output device or file given (-o DEVICE|FILE; see "
				       "pcache_restore --help)");
	check_input_file(opt.input);
	if (same_file(opt.input, opt.output))
		throw cli::usage_error("-i and -o name the same file");
	if (!opt.data_from.empty() && same_file(opt.data_from, opt.output))
		throw cli::usage_error("--data-from and -o name the same device; copy to a different one");
	auto out = open_device(opt.output, access_mode::read_write);
	std::unique_ptr<data_source> source;
	if (!opt.data_from.empty())
		source = open_data_source(opt.data_from);

	// Pass 1: validate everything; nothing is written.
	input_problems problems(tool, opt.input);
	{
		progress_bar bar("validating", !tool.quiet());
		xml_read_options read;
		read.device_size = out->size();
		read.progress = [&](uint64_t done, uint64_t total) { bar.update(done, total); };
		logical_map map(problems);
		segment_counter counter;
		visitor_tee tee({&map, &counter});
		read_metadata_xml(opt.input, tee, problems, read);
		map.resolve(nullptr);
		bar.finish();
		if (problems.refused()) {
			if (problems.shown() > 20)
				tool.error(std::to_string(problems.shown() - 20) + " more problems not listed");
			throw std::runtime_error(std::to_string(problems.errors()) +
						 " errors in the input; nothing was written to " + opt.output);
		}
		if (source && source->segs.size() < counter.count)
			throw std::runtime_error("--data-from " + opt.data_from + " has " +
						 std::to_string(source->segs.size()) +
						 " cache segments, the input describes " +
						 std::to_string(counter.count) + "; nothing was written");
	}

	// Pass 2: write.  From the first write on, a failure leaves the
	// superblock zeroed so the half-written device is not taken for a cache.
	restore_writer writer(*out, source ? source->dev.get() : nullptr, source ? &source->segs : nullptr);
	const std::vector<unsigned char> zero_sb(PCACHE_SB_SIZE, 0);
	try {
		out->write(PCACHE_SB_OFF, zero_sb.data(), zero_sb.size());
		out->flush();
		progress_bar bar("restoring", !tool.quiet());
		xml_read_options read;
		read.progress = [&](uint64_t done, uint64_t total) { bar.update(done, total); };
		ignore_damage validated;
		read_metadata_xml(opt.input, writer, validated, read);
		writer.commit();
	} catch (const std::exception &e) {
		try {
			out->write(PCACHE_SB_OFF, zero_sb.data(), zero_sb.size());
			out->flush();
		} catch (const std::exception &) {
		}
		throw std::runtime_error(std::string(e.what()) + "; the restore failed after writing had "
								 "started: the superblock of " +
					 opt.output + " is zeroed, so it is not recognised as a cache");
	}

	const restore_stats &s = writer.stats();
	std::string msg = "restored " + std::to_string(s.segments) + " segments, " +
			  std::to_string(s.ksets) + " ksets and " + std::to_string(s.keys) + " keys to " +
			  opt.output;
	if (source)
		msg += "; copied " + std::to_string(s.copied_keys) + " payloads (" +
		       size_string(s.copied_bytes) + ") from " + opt.data_from;
	else
		msg += "; data areas left untouched (--data-from copies payloads from a source cache)";
	tool.note(msg);
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	cli::tool tool("pcache_restore", "-i XML -o DEVICE|FILE [options]",
		       "Writes the metadata described by pcache_dump's XML to a cache device or image.\n"
		       "The whole input is validated before anything is written; the superblock is "
		       "written last.");
	restore_options opt;
	tool.options().add_options()
		("input,i", po::value(&opt.input)->value_name("XML"), "the XML written by pcache_dump")
		("output,o", po::value(&opt.output)->value_name("DEVICE|FILE"),
		 "the cache device or image file to write (must exist and be large enough)")
		("data-from", po::value(&opt.data_from)->value_name("DEVICE|FILE"),
		 "also copy the payload of every key from this cache (migration)");
	return tool.main(argc, argv, [&](const po::variables_map &) { return run_restore(opt, tool); });
}
