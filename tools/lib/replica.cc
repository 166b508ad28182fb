#include "replica.h"

namespace pcache {

const char *to_string(slot_state state)
{
	switch (state) {
	case slot_state::empty:
		return "empty";
	case slot_state::bad_crc:
		return "bad CRC";
	case slot_state::valid:
		return "valid";
	}
	return "?";
}

std::optional<unsigned> choose_replica(const std::array<slot_summary, PCACHE_META_REPLICAS> &slots)
{
	std::optional<unsigned> latest;
	for (unsigned i = 0; i < slots.size(); ++i) {
		if (slots[i].state != slot_state::valid)
			continue;
		if (!latest || seq_newer(slots[i].seq, slots[*latest].seq))
			latest = i;
	}
	return latest;
}

} // namespace pcache
