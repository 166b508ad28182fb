// key_tail and dirty_tail: which positions the repaired cache uses.
//
// A tail whose copies are all damaged, or whose position lies outside the
// cache, is recovered:
// - dirty_tail from key_tail: everything in the log is then treated as
//   dirty (writing clean data back twice is harmless, losing dirty data
//   is not);
// - key_tail from dirty_tail: the ksets before dirty_tail were written
//   back already, so starting the log there loses no dirty data;
// - both: from the key segments themselves.  Every segment whose data area
//   starts with a valid kset is followed through its ksets to its LAST
//   kset; the log starts at the first segment of the longest chain of
//   such links (or at a position a damaged key_tail copy names on that
//   chain), and dirty_tail is set to key_tail.
#pragma once

#include "repair_state.h"

namespace pcache {

// Settles st.key_tail and st.dirty_tail from the records and writes them
// into the overlay (provisionally: the log phase may still move them).
void repair_tails(repair_state &st);
// Writes the tails in effect, with replicas as spec §5.3 recommends, and
// reports what changed.
void write_tails(repair_state &st, bool report = true);

// Is there a valid kset (or the zeroed header of an empty log) at `pos`?
enum class record_at { kset, zero, other };
record_at probe_record(device &dev, const repair_state &st, const cache_pos &pos);

} // namespace pcache
