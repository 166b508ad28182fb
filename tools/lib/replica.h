// Replica choice for the two-copy records (cache_info, key_tail,
// dirty_tail, seg_info, seg_gen), exactly as spec §2.5: the first valid
// copy becomes the latest; the second replaces it only if its 8-bit seq is
// strictly newer by signed difference.  So equal seqs and a difference of
// exactly 128 keep replica 0.
#pragma once

#include <pcache/pcache_format.h>

#include <array>
#include <cstdint>
#include <optional>

namespace pcache {

enum class slot_state {
	empty,		// all zero: never written (zeroed slots never validate)
	bad_crc,	// written, but the CRC does not match: torn or damaged
	valid,
};

const char *to_string(slot_state state);

// a is newer than b in 8-bit wrap-around order.
inline bool seq_newer(uint8_t a, uint8_t b)
{
	return static_cast<int8_t>(static_cast<uint8_t>(a - b)) > 0;
}

struct slot_summary {
	slot_state state = slot_state::empty;
	uint8_t seq = 0;
};

// The replica a reader uses, or nothing if neither is valid.
std::optional<unsigned> choose_replica(const std::array<slot_summary, PCACHE_META_REPLICAS> &slots);

// Both copies of a record as found (or as described in XML), and the one
// readers use.  T has a `header` with a `seq`.
template <typename T>
struct replica_set {
	std::array<T, PCACHE_META_REPLICAS> value{};
	std::array<slot_state, PCACHE_META_REPLICAS> state{slot_state::empty, slot_state::empty};
	std::optional<unsigned> chosen;

	bool any_valid() const { return chosen.has_value(); }
	const T &current() const { return value[*chosen]; }

	// Recompute `chosen` from the states and seqs.
	void choose()
	{
		std::array<slot_summary, PCACHE_META_REPLICAS> slots;
		for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i)
			slots[i] = {state[i], value[i].header.seq};
		chosen = choose_replica(slots);
	}

	// Where an update should go (spec §5.3's recommendation): the slot
	// that does not hold the copy in use.
	unsigned update_slot() const { return chosen ? 1 - *chosen : 0; }
};

} // namespace pcache
