// Running the programs lvpcache drives: lvm, pcache_check, pcache_repair.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace lvpcache {

struct process_result {
	// The exit status; 128 + N when killed by signal N; 127 when the
	// program could not be started (err then says why).
	int status = 0;
	std::string out, err;
};

enum class output_mode {
	capture,	// collect stdout and stderr
	inherit,	// the child writes to our stdout/stderr (progress bars, reports)
};

// Runs argv[0] (looked up in PATH) with extra environment variables.
process_result run_process(const std::vector<std::string> &argv,
			   const std::map<std::string, std::string> &env = {},
			   output_mode mode = output_mode::capture);

// "prog arg 'arg with space'": for messages that tell a user what to run.
std::string shell_quote(const std::vector<std::string> &argv);

} // namespace lvpcache
