// LVM driven through its command line (the way lvm_import_vdo does it):
// every change is one lvm command, which LVM commits atomically; reports are
// read with --reportformat json.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace lvpcache {

// An lvm command failed; what() is LVM's own error text.
class lvm_error : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

class lvm {
public:
	// verbose: echo every command on stderr before running it.
	explicit lvm(bool verbose) : verbose_(verbose) {}

	// Runs "lvm <args>"; throws lvm_error carrying LVM's error lines.
	void run(const std::vector<std::string> &args) const;

	// Runs a report command (lvs, pvs, vgs) with --reportformat json and
	// returns the rows of its one report ("lv", "pv" or "vg").
	nlohmann::json report(const std::vector<std::string> &args, const std::string &kind) const;

	// The command as a user would type it again.
	static std::string command_line(const std::vector<std::string> &args);

private:
	std::string run_captured(const std::vector<std::string> &args) const;
	bool verbose_;
};

} // namespace lvpcache
