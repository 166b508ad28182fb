// Repair of the records before the log: the superblock, cache_info, the
// segment chain with its seg_info and seg_gen replicas.
//
// Each record is judged by the same rules as pcache_check; a damaged
// replica next to a good one is rewritten from it; a record with no valid
// copy is rebuilt from what the rest of the device shows:
// - the superblock, when a valid cache_info copy shows the device is a
//   pcache cache (seg_num as stored if plausible, else from the chain or
//   the device size);
// - the chain, from the seg_info records of every physical segment: the
//   links that are intact, and where one is missing the segment that
//   starts an unclaimed run of links (a "fragment"), else the next
//   physical segment, which is where the kernel's format puts it;
// - cache_info, from the chain (first segment, length), the damaged copies
//   (mode, gc_percent, data CRCs when plausible) and defaults.
#pragma once

#include "repair_state.h"

namespace pcache {

// Throws repair_refused when the device is not a cache (no valid
// superblock and no valid cache_info copy to show it was one).
void repair_superblock(repair_state &st);
// Settles cache_info, the chain (st.phys) and the generations (st.gen).
void repair_cache_info_and_chain(repair_state &st);

} // namespace pcache
