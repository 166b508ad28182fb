// Updating cache_info in place, the way spec §5.3 recommends for tools: a
// new copy with seq = newest + 1 goes into the slot that does not hold the
// copy in use, so a torn write leaves the old copy in charge.
#pragma once

#include "device.h"
#include "records.h"
#include "replica.h"

namespace pcache {

// Writes a copy of the cache_info in use with `flags` replaced, makes it
// durable and reads both slots back to confirm that readers now choose
// it.  Throws io_error on failure.
void write_cache_info_flags(device &dev, const replica_set<cache_info> &info, uint32_t flags);

} // namespace pcache
