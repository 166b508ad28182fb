// Logical cache segment -> physical segment and generation, as learnt from
// the chain.  Segments the chain did not reach are "unknown".
#pragma once

#include "events.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace pcache {

class segment_table {
public:
	void reset(uint32_t n_segs);
	void set(const segment_record &seg);

	uint32_t size() const { return static_cast<uint32_t>(phys_.size()); }
	bool known(uint32_t id) const { return id < phys_.size() && phys_[id] != kUnknown; }
	uint32_t phys(uint32_t id) const { return phys_[id]; }
	uint64_t gen(uint32_t id) const { return gen_[id]; }
	std::optional<uint64_t> gen_if_known(uint32_t id) const
	{
		return known(id) ? std::optional<uint64_t>(gen_[id]) : std::nullopt;
	}

private:
	static constexpr uint32_t kUnknown = UINT32_MAX;
	std::vector<uint32_t> phys_;
	std::vector<uint64_t> gen_;
};

} // namespace pcache
