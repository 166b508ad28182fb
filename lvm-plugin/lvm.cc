#include "lvm.h"

#include "process.h"

#include <iostream>
#include <sstream>

namespace lvpcache {

namespace {

// LVM's error text without its warnings (device-size notes, "not zeroed"),
// which are noise next to the reason a command failed; all of it when
// there is nothing else.
std::string error_text(const std::string &err)
{
	std::istringstream in(err);
	std::string line, errors, all;
	while (std::getline(in, line)) {
		auto start = line.find_first_not_of(" \t");
		if (start == std::string::npos)
			continue;
		line = line.substr(start);
		all += (all.empty() ? "" : "; ") + line;
		if (line.rfind("WARNING:", 0) != 0)
			errors += (errors.empty() ? "" : "; ") + line;
	}
	return errors.empty() ? all : errors;
}

} // namespace

std::string lvm::command_line(const std::vector<std::string> &args)
{
	std::vector<std::string> argv{"lvm"};
	argv.insert(argv.end(), args.begin(), args.end());
	return shell_quote(argv);
}

std::string lvm::run_captured(const std::vector<std::string> &args) const
{
	if (verbose_)
		std::cerr << "lvpcache: running " << command_line(args) << std::endl;
	std::vector<std::string> argv{"lvm"};
	argv.insert(argv.end(), args.begin(), args.end());
	// Our own descriptors are close-on-exec; this only quiets LVM about
	// descriptors a caller (a shell, systemd) handed us.
	auto r = run_process(argv, {{"LVM_SUPPRESS_FD_WARNINGS", "1"}});
	if (r.status != 0) {
		std::string why = error_text(r.err);
		if (why.empty())
			why = "exit status " + std::to_string(r.status);
		throw lvm_error(why);
	}
	return r.out;
}

void lvm::run(const std::vector<std::string> &args) const
{
	run_captured(args);
}

nlohmann::json lvm::report(const std::vector<std::string> &args, const std::string &kind) const
{
	std::vector<std::string> full = args;
	full.insert(full.begin() + 1, {"--reportformat", "json"});
	std::string out = run_captured(full);
	nlohmann::json doc;
	try {
		doc = nlohmann::json::parse(out);
	} catch (const nlohmann::json::exception &e) {
		throw lvm_error("cannot parse the JSON report of '" + command_line(full) + "': " + e.what());
	}
	nlohmann::json rows = nlohmann::json::array();
	if (!doc.contains("report"))
		throw lvm_error("'" + command_line(full) + "' printed no report");
	for (const auto &report : doc["report"])
		if (report.contains(kind))
			for (const auto &row : report[kind])
				rows.push_back(row);
	return rows;
}

} // namespace lvpcache
