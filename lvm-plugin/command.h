// The frame of every lvpcache command: options parsed with
// Boost.Program_options through the tools' shared cli::tool (-h, -V, -q,
// one-line errors, exit status 0 or 1), plus --verbose, and the global lock
// for commands that change something.
#pragma once

#include "cli.h"
#include "context.h"

#include <functional>
#include <string>

namespace lvpcache {

namespace po = boost::program_options;
namespace cli = pcache::cli;

class command {
public:
	// synopsis: "attach [options] VG/LV"
	command(const std::string &synopsis, const std::string &description);

	po::options_description &options() { return tool_.options(); }
	// Options not shown in --help: the positional arguments.
	po::options_description &hidden() { return tool_.hidden(); }
	void positional(const char *name, int max_count = 1);

	// Parses argv (argv[0] is the command's name) and runs body with the
	// global lock held when `changes` is set.
	int run(int argc, char **argv, bool changes,
		const std::function<int(const po::variables_map &, context &)> &body);

	std::string usage() const { return tool_.usage(); }

private:
	cli::tool tool_;
	bool verbose_ = false;
};

// A VG/LV given as positional "lv" (one-line error when missing).
std::string required_positional(const po::variables_map &vm, const char *name, const char *what);

int run_attach(int argc, char **argv);
int run_create(int argc, char **argv);
int run_activate(int argc, char **argv);
int run_deactivate(int argc, char **argv);
int run_detach(int argc, char **argv);
int run_status(int argc, char **argv);
int run_set(int argc, char **argv);
int run_check(int argc, char **argv);
int run_repair(int argc, char **argv);

} // namespace lvpcache
