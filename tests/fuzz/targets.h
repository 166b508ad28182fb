// The fuzz targets (make fuzz): one function per target, called by the
// libFuzzer binaries (fuzz_*.cc) and by the unit test that replays the
// regression corpus in tests/fuzz/corpus/<target>/ (fuzz_corpus_test.cc).
//
// - decoders: every on-media decoder, CRC check and field rule, and the
//   kset header correction, on arbitrary bytes;
// - walker: a valid cache image in memory with patches from the input
//   applied (region, offset, bytes), through pcache_check's judgement,
//   dump --repair, the repair planner and the salvage writeback; a
//   repaired result that checks clean must repair to itself;
// - xml: pcache_restore's reader and validation on arbitrary XML, and the
//   restore writer when the input validates.
// Each returns 0; a broken invariant aborts (a finding).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pcache::fuzz {

int decoders(const uint8_t *data, size_t size);
int walker(const uint8_t *data, size_t size);
int xml(const uint8_t *data, size_t size);

} // namespace pcache::fuzz
