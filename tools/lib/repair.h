// pcache_repair's engine: plans every repair into an overlay of the
// device, then checks the planned result with pcache_check's rules.
// Nothing is written to any device here; the caller writes the overlay's
// changes (repair_apply.h) only if the result checks clean.
//
// The phases and what each repairs are described in repair_headers.h,
// repair_tails.h, repair_log.h, repair_keys.h and repair_layout.h.
#pragma once

#include "damage.h"
#include "repair_report.h"
#include "repair_state.h"

#include <memory>
#include <string>

namespace pcache {

struct repair_plan {
	repair_report report;
	std::unique_ptr<repair_state> state;
	// What pcache_check says of the planned result.
	severity result = severity::none;
	damage_list result_damage;	// its errors, when it is not clean

	overlay_device &overlay() { return state->out; }
	bool changes() const { return state->out.changed(); }
	bool result_clean() const { return result < severity::error; }
};

// Throws repair_refused when the device cannot be repaired, io_error when
// it cannot be read.
repair_plan plan_repair(device &dev);

} // namespace pcache
