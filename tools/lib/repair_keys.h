// The fate of every key in the repaired log, and the origin ranges whose
// newest data is lost.
//
// A key is dropped when it cannot be placed (bounds, alignment, segment),
// when its data fails its data CRC or cannot be read, when its cache bytes
// were taken by a later key (allocation in a segment only moves forward,
// so the later key holds them), when its data lies in a segment that holds
// the log, or when its generation does not fit its segment's.
//
// Generations: the kernel never invalidates a segment that holds dirty
// data, so every dirty key of a segment has the segment's generation and
// no key is ahead of it.  When the keys disagree with the stored
// generation, the generation that keeps the most dirty keys (then the
// most keys) is chosen and written; keys that still do not fit are
// dropped.
//
// Lost ranges: walking the keys from the newest to the oldest, each origin
// byte belongs to the newest key that covers it.  The bytes whose newest
// key was dropped (or was in a kset lost to damage) are the lost ranges:
// dirty when that key was dirty.  An older clean key under a range whose
// newer data was lost is dropped too (the origin is at least as new); an
// older dirty key is kept, and the report says its older data now shows.
#pragma once

#include "repair_log.h"

namespace pcache {

void judge_keys(repair_state &st, log_model &m);

} // namespace pcache
