// The loaded pcache target and what its version supports.  Target 1.0.0 is
// the data path with upstream's interface (table options, nine status
// fields, the gc_percent message); issue 6's interface -- cache modes other
// than writeback, the flush / cleaner / cache_mode / writeback_rate
// messages and the extended status -- comes with target 1.1.0.
#pragma once

#include "dm.h"

#include <string>

namespace lvpcache {

inline constexpr dm::version pcache_interface_1_1 = {1, 1, 0};

// The pcache target's version, loading the module (modprobe pcache) when
// the kernel does not list it; throws when it cannot be loaded.
dm::version load_pcache_target();

// Throws "the loaded pcache module (1.0.0) does not support <feature>;
// <command> needs pcache >= 1.1.0" unless `v` has issue 6's interface.
void require_interface_1_1(const dm::version &v, const std::string &feature,
			   const std::string &command);

} // namespace lvpcache
