// Small text helpers shared by the human-readable outputs.
#pragma once

#include "records.h"
#include "replica.h"

#include <cstdint>
#include <string>

namespace pcache {

std::string hex_string(uint64_t v);		// "0x1182"
std::string size_string(uint64_t bytes);	// "7.4 MiB (7782400 bytes)"
// "init_done, writeback, gc_percent 70, data_crc off"
std::string describe_flags(const cache_info &ci);

// "replica 0 (seq 1) in use; replica 1 empty"
template <typename T>
std::string describe_replicas(const replica_set<T> &set)
{
	std::string s;
	for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i) {
		if (i)
			s += "; ";
		s += "replica " + std::to_string(i) + " ";
		if (set.state[i] == slot_state::valid)
			s += "seq " + std::to_string(set.value[i].header.seq) +
			     (set.chosen && *set.chosen == i ? " (in use)" : "");
		else
			s += to_string(set.state[i]);
	}
	return s;
}

} // namespace pcache
