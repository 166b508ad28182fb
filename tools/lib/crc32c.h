// CRC-32C as used by the pcache format: Castagnoli polynomial, reflected,
// the register starts at the given seed, no inversion before or after.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pcache {

// Linux crc32c(seed, buf, len) semantics.  Chaining works:
// crc32c(crc32c(s, a, n), b, m) == crc32c(s, a || b, n + m).
uint32_t crc32c(uint32_t seed, const void *data, size_t len);

// The CRC of a pcache record: seed PCACHE_CRC_SEED over bytes [4, len)
// (the crc field itself is the first four bytes and is excluded).
uint32_t record_crc(const void *record, size_t len);

// The CRC of a payload (key data_crc): seed PCACHE_CRC_SEED over all bytes.
uint32_t data_crc(const void *data, size_t len);

// Exposed for tests: which implementation is in use, and the table-driven
// implementation on its own so both can be checked against the vectors.
bool crc32c_uses_cpu_instruction();
namespace detail {
uint32_t crc32c_portable(uint32_t seed, const void *data, size_t len);
}

} // namespace pcache
