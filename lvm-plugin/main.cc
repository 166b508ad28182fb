// lvpcache: pmem-cached logical volumes (man lvpcache(8), lvmpcache(7)).
#include "command.h"

#include <libdevmapper.h>

#include <cstring>
#include <iostream>

using namespace lvpcache;

namespace {

struct entry {
	const char *name;
	int (*run)(int, char **);
	const char *summary;
};

const entry commands[] = {
	{"attach", run_attach, "attach a pcache cache to an LV"},
	{"create", run_create, "create a new LV with a pcache cache"},
	{"activate", run_activate, "check and activate pcache volumes"},
	{"deactivate", run_deactivate, "deactivate pcache volumes"},
	{"detach", run_detach, "write the cache back and detach it (--uncache: remove it)"},
	{"status", run_status, "show pcache volumes, their use and health"},
	{"set", run_set, "change the cache mode, gc_percent or writeback rate"},
	{"check", run_check, "check the cache metadata of an inactive volume"},
	{"repair", run_repair, "repair the cache metadata of an inactive volume"},
};

void usage(std::ostream &out)
{
	out << "Usage: lvpcache COMMAND [options] ...\n\n"
	       "Manages LVM logical volumes cached on persistent memory by the pcache target.\n\n"
	       "Commands:\n";
	for (const auto &c : commands)
		out << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << "\n";
	out << "\n'lvpcache COMMAND --help' shows the options of a command.\n"
	       "  -h, --help     print this help and exit\n"
	       "  -V, --version  print the version (x.y.z) and exit\n";
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 2) {
		std::cerr << "lvpcache: no command given (see lvpcache --help)" << std::endl;
		return 1;
	}
	std::string first = argv[1];
	if (first == "-h" || first == "--help") {
		usage(std::cout);
		return 0;
	}
	if (first == "-V" || first == "--version") {
		std::cout << PCACHE_VERSION << "\n";
		return 0;
	}
	for (const auto &c : commands) {
		if (first == c.name) {
			int status = c.run(argc - 1, argv + 1);
			dm_lib_release();
			return status;
		}
	}
	std::cerr << "lvpcache: unknown command '" << first << "' (see lvpcache --help)" << std::endl;
	return 1;
}
