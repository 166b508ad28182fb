// pcache_check's judgement as a function: the walker, the rules, the
// logical map and optionally the data CRCs over a device, reporting every
// damage record to `sink`.  pcache_repair uses it on the repaired result
// (through the overlay) before writing anything.
#pragma once

#include "damage.h"
#include "device.h"
#include "events.h"
#include "logical_map.h"

namespace pcache {

struct check_outcome {
	severity worst = severity::none;
	log_summary log;
	map_summary map;
};

check_outcome check_cache(device &dev, damage_sink &sink, bool verify_data);

} // namespace pcache
