// Writing the repaired log into the overlay.
//
// A key segment in which nothing changed is left byte for byte as it is.
// In one where something did (a damaged kset left out or restored, keys
// dropped), the surviving records are written again one after the other
// from the segment's first position: a kset's bytes do not depend on where
// it lies, so moving the ones after a gap up closes it, and the chain of
// ksets stays continuous for the kernel's replay.  A segment whose LAST
// kset was lost gets a new one pointing where the log goes on; the last
// segment ends with the 24 zero bytes the kernel writes after every kset.
// dirty_tail moves with the record it named.
#pragma once

#include "repair_log.h"

namespace pcache {

void lay_out_log(repair_state &st, log_model &m);

} // namespace pcache
