// What every command gets: the LVM runner and the global options.
#pragma once

#include "lvm.h"

namespace lvpcache {

struct context {
	lvm lvm_cli;
	bool verbose = false;
	bool yes = false;
	bool quiet = false;	// -q: nothing on stdout or stderr	// --yes: answer yes to the one question lvpcache asks

	explicit context(bool verbose_) : lvm_cli(verbose_), verbose(verbose_) {}
	// "lvpcache: <msg>" on stderr (progress notes, warnings).
	void note(const std::string &msg) const;
};

} // namespace lvpcache
