// Settling both slots of a replicated record (cache_info, a tail, seg_info,
// seg_gen) on one value, the way spec §5.3 recommends for tools: a copy
// with the next sequence number goes into the slot that does not hold the
// copy in use, so an interrupted write leaves the old copy in charge.
#pragma once

#include "device.h"
#include "encode.h"
#include "replica.h"

#include <cstdint>

namespace pcache {

enum class replica_update {
	none,		// already as wanted, no damaged copy
	bad_copy,	// the copy in use was right; a damaged copy was rewritten from it
	new_copy,	// a new copy went into the other slot (the one in use was different)
	rebuilt,	// no valid copy: both slots written
};

// `same(a, b)` compares the fields that matter (not the header).  The
// written copies have version and res 0, as the kernel writes them.
template <typename T, typename Same>
replica_update settle_replicas(device &out, uint64_t slot0, uint64_t stride, const replica_set<T> &found,
			       T wanted, Same same)
{
	auto put = [&](T rec, unsigned slot, uint8_t seq) {
		rec.header.seq = seq;
		rec.header.version = 0;
		rec.header.res = 0;
		auto raw = encode(rec);
		out.write(slot0 + slot * stride, &raw, sizeof(raw));
	};
	if (!found.any_valid()) {
		// Equal sequence numbers: readers take replica 0; the other is a
		// full spare if the kernel's next update of replica 0 is torn.
		put(wanted, 0, 1);
		put(wanted, 1, 1);
		return replica_update::rebuilt;
	}
	unsigned in_use = *found.chosen, other = 1 - in_use;
	const T &current = found.current();
	uint8_t next = static_cast<uint8_t>(current.header.seq + 1);
	if (same(current, wanted)) {
		if (found.state[other] != slot_state::bad_crc)
			return replica_update::none;
		put(current, other, next);
		return replica_update::bad_copy;
	}
	put(wanted, other, next);
	return replica_update::new_copy;
}

} // namespace pcache
