#include "kset_correction.h"

#include "byte_order.h"
#include "crc32c.h"

#include <pcache/pcache_format.h>

#include <cstring>
#include <vector>

namespace pcache {
namespace {

// The CRC of a kset whose header is `h` and whose keys are `keys`
// (n * 40 bytes), computed without building the record: the CRC of the
// header's bytes [4, 24) chained into the keys.
uint32_t crc_with(const kset_header &h, const unsigned char *keys, size_t key_bytes)
{
	pcache_cache_kset_onmedia raw{};
	raw.key_num = to_le32(h.key_num);
	raw.magic = to_le64(h.magic);
	raw.flags = to_le64(h.flags);
	uint32_t crc = record_crc(&raw, sizeof(raw));
	return key_bytes ? crc32c(crc, keys, key_bytes) : crc;
}

} // namespace

std::optional<kset_correction> correct_kset_header(
	const kset_header &stored, uint32_t n_segs,
	const std::function<bool(size_t, unsigned char *)> &read)
{
	std::vector<unsigned char> bytes(PCACHE_KSET_ONMEDIA_SIZE_MAX);
	size_t have = 0;
	// The largest prefix that exists (a record near the end of the data
	// area may not have room for 128 keys).
	for (size_t len = PCACHE_KSET_ONMEDIA_SIZE_MAX; len >= PCACHE_KSET_HEADER_SIZE; len -= PCACHE_KEY_SIZE) {
		if (read(len, bytes.data())) {
			have = len;
			break;
		}
		if (len < PCACHE_KSET_HEADER_SIZE + PCACHE_KEY_SIZE)
			break;
	}
	if (!have)
		return std::nullopt;
	const unsigned char *keys = bytes.data() + PCACHE_KSET_HEADER_SIZE;
	auto fits = [&](uint32_t n) { return PCACHE_KSET_SIZE(n) <= have; };
	auto matches = [&](const kset_header &h) {
		size_t key_bytes = h.last() ? 0 : size_t(h.key_num) * PCACHE_KEY_SIZE;
		return crc_with(h, keys, key_bytes) == stored.crc;
	};
	auto unique = [](std::optional<kset_correction> &found, const kset_correction &c) {
		if (found)
			return false;	// a second candidate: ambiguous
		found = c;
		return true;
	};

	// The magic.
	if (stored.magic != PCACHE_KSET_MAGIC) {
		kset_header h = stored;
		h.magic = PCACHE_KSET_MAGIC;
		if ((h.last() || (h.key_num >= 1 && h.key_num <= PCACHE_KSET_KEYS_MAX && fits(h.key_num))) &&
		    h.unknown_flags() == 0 && matches(h))
			return kset_correction{h, "magic"};
	}
	if (stored.magic != PCACHE_KSET_MAGIC)
		return std::nullopt;	// two damaged fields: not guessed

	// The flags: LAST, or no flags.
	for (uint64_t flags : {uint64_t(PCACHE_KSET_FLAGS_LAST), uint64_t(0)}) {
		if (flags == stored.flags)
			continue;
		kset_header h = stored;
		h.flags = flags;
		if (!h.last() && (h.key_num < 1 || h.key_num > PCACHE_KSET_KEYS_MAX || !fits(h.key_num)))
			continue;
		if (h.last() && h.next_seg() >= n_segs)
			continue;
		if (matches(h))
			return kset_correction{h, "flags"};
	}
	if (stored.unknown_flags())
		return std::nullopt;

	std::optional<kset_correction> found;
	if (!stored.last()) {
		// The key count.
		for (uint32_t n = 1; n <= PCACHE_KSET_KEYS_MAX && fits(n); ++n) {
			if (n == stored.key_num)
				continue;
			kset_header h = stored;
			h.key_num = n;
			if (matches(h) && !unique(found, {h, "key_num"}))
				return std::nullopt;
		}
		return found;
	}
	// The next segment of a LAST kset.
	for (uint32_t s = 0; s < n_segs; ++s) {
		if (s == stored.next_seg())
			continue;
		kset_header h = stored;
		h.key_num = s;
		if (matches(h) && !unique(found, {h, "next segment"}))
			return std::nullopt;
	}
	return found;
}

} // namespace pcache
