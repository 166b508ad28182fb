#include "cli.h"

#include <iostream>
#include <new>
#include <sstream>

namespace pcache::cli {

bool wants_quiet(int argc, char **argv, const std::string &value_options)
{
	for (int i = 1; i < argc; ++i) {
		std::string a = argv[i];
		if (a == "--")
			break;
		if (a == "--quiet")
			return true;
		if (a.size() < 2 || a[0] != '-' || a[1] == '-')
			continue;
		for (size_t j = 1; j < a.size(); ++j) {
			if (a[j] == 'q')
				return true;
			if (value_options.find(a[j]) != std::string::npos) {
				if (j + 1 == a.size())
					++i;	// the value is the next argument
				break;
			}
		}
	}
	return false;
}

tool::tool(std::string name, std::string synopsis, std::string description)
	: name_(std::move(name)), synopsis_(std::move(synopsis)),
	  description_(std::move(description)), options_("Options")
{
	options_.add_options()
		("help,h", "print this help and exit")
		("version,V", "print the version (x.y.z) and exit")
		("quiet,q", "print nothing; only the exit status tells the result");
}

void tool::positional(const char *name, int max_count)
{
	positional_.add(name, max_count);
}

void tool::error(const std::string &msg) const
{
	if (!quiet_)
		std::cerr << name_ << ": " << msg << std::endl;
}

std::string tool::usage() const
{
	std::ostringstream out;
	out << "Usage: " << name_ << " " << synopsis_ << "\n\n" << description_ << "\n\n" << options_;
	return out.str();
}

int tool::main(int argc, char **argv, const std::function<int(const po::variables_map &)> &body)
{
	std::string value_options;
	for (const auto &opt : options_.options()) {
		std::string flag = opt->canonical_display_name(po::command_line_style::allow_dash_for_short);
		if (opt->semantic()->max_tokens() > 0 && flag.size() == 2 && flag[0] == '-')
			value_options += flag[1];
	}
	quiet_ = wants_quiet(argc, argv, value_options);
	try {
		po::variables_map vm;
		po::options_description all;
		all.add(options_).add(hidden_);
		try {
			po::store(po::command_line_parser(argc, argv)
					  .options(all)
					  .positional(positional_)
					  .style(po::command_line_style::unix_style)
					  .run(),
				  vm);
			po::notify(vm);
		} catch (const po::error &e) {
			throw usage_error(std::string(e.what()) + " (see " + name_ + " --help)");
		}
		if (vm.count("help")) {
			if (!quiet_)
				std::cout << usage();
			return 0;
		}
		if (vm.count("version")) {
			if (!quiet_)
				std::cout << PCACHE_VERSION << "\n";
			return 0;
		}
		return body(vm) ? 1 : 0;
	} catch (const std::bad_alloc &) {
		error("out of memory");
	} catch (const std::exception &e) {
		error(e.what());
	}
	return 1;
}

} // namespace pcache::cli
