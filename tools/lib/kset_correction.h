// Finding the one damaged header field of a kset whose CRC fails.
//
// A kset's CRC covers its header (all but the CRC itself) and its keys.
// When it fails, one damaged header field can often be identified: if
// replacing that field with a candidate value (the magic; LAST or no
// flags; a key count of 1..128; for a LAST kset, a next segment) makes the
// stored CRC match, the record is that kset with the field restored.  A
// match by chance is about as likely as a random 32-bit CRC matching
// (the candidates number a few hundred, at most n_segs for the next
// segment), so the walker uses a correction to know where the log goes on
// and pcache_repair uses it to recover the kset whole instead of losing
// its keys.  A damaged CRC field (every other byte intact) is not found
// here: the walker recognises it by the log going on right after it.
#pragma once

#include "records.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace pcache {

struct kset_correction {
	kset_header header;	// as it must have been
	std::string field;	// "magic", "flags", "key_num", "next segment"
	uint64_t size() const
	{
		return header.last() ? PCACHE_KSET_HEADER_SIZE : PCACHE_KSET_SIZE(header.key_num);
	}
};

// `read(len, out)` reads `len` bytes of the record from its start (up to
// PCACHE_KSET_ONMEDIA_SIZE_MAX; false if they do not exist).  `stored` is
// the header as found.  Only a correction that is unique for its field is
// returned.
std::optional<kset_correction> correct_kset_header(
	const kset_header &stored, uint32_t n_segs,
	const std::function<bool(size_t, unsigned char *)> &read);

} // namespace pcache
