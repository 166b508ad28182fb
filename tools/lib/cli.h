// The command-line conventions every pcache metadata tool shares, in one
// place so that they cannot drift apart between tools:
//   -h/--help   usage on stdout, exit 0
//   -V/--version  the bare version (x.y.z) on stdout, exit 0
//   -q/--quiet  nothing at all on stdout or stderr, on any path, usage
//               errors included (only the exit status speaks)
//   exit status 0 for success, 1 for anything else; never 2, which LVM
//   reads as "tool missing"
//   every error is one line: "<tool>: <what is wrong>"
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <string>

namespace pcache::cli {

namespace po = boost::program_options;

// A mistake on the command line, reported like any other error.
class usage_error : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

class tool {
public:
	// synopsis: "[options] DEVICE|FILE"; description: what the tool does.
	tool(std::string name, std::string synopsis, std::string description);

	po::options_description &options() { return options_; }
	// Options not shown in --help (the positional arguments).
	po::options_description &hidden() { return hidden_; }
	// A positional argument (max_count -1: any number).
	void positional(const char *name, int max_count = 1);

	// Parses argv and runs body; returns the exit status.
	int main(int argc, char **argv, const std::function<int(const po::variables_map &)> &body);

	bool quiet() const { return quiet_; }
	const std::string &name() const { return name_; }
	// "<tool>: msg" on stderr, unless quiet.
	void error(const std::string &msg) const;
	void note(const std::string &msg) const { error(msg); }
	std::string usage() const;

private:
	std::string name_, synopsis_, description_;
	po::options_description options_;
	po::options_description hidden_;
	po::positional_options_description positional_;
	bool quiet_ = false;
};

// Did the user ask for quiet?  Decided before parsing, so that even a
// parse error stays silent.  `value_options` lists short options that take
// a value (a 'q' after one of them in a cluster is that value).
bool wants_quiet(int argc, char **argv, const std::string &value_options);

} // namespace pcache::cli
