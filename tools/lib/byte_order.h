// Explicit little-endian conversion for on-media fields.
//
// The shared format header declares every on-media field __le16/32/64.  In
// user space those are plain integer typedefs, so the compiler cannot stop
// a raw read; the rule instead is that only the decoders (decode.cc) and
// encoders (encode.cc) touch raw structs, and they go through these
// functions for every field.
#pragma once

#include <endian.h>

#include <cstdint>

namespace pcache {

inline uint16_t from_le16(uint16_t v) { return le16toh(v); }
inline uint32_t from_le32(uint32_t v) { return le32toh(v); }
inline uint64_t from_le64(uint64_t v) { return le64toh(v); }

inline uint16_t to_le16(uint16_t v) { return htole16(v); }
inline uint32_t to_le32(uint32_t v) { return htole32(v); }
inline uint64_t to_le64(uint64_t v) { return htole64(v); }

} // namespace pcache
