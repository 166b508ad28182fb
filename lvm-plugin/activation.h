// Bringing a pcache volume up and down: the components through LVM, the
// cache checked by pcache_check, the pcache table through libdevmapper.
#pragma once

#include "context.h"
#include "dm.h"
#include "pcache_status.h"
#include "volume.h"

#include <optional>
#include <string>

namespace lvpcache {

// Whether the volume's pcache device is loaded (a device <vg>-<lv> with
// the volume's PCACHE- uuid).
bool is_active(const volume &v);

// Activates the components, checks the cache (pcache_check -q
// --clear-needs-check-flag; "repair needed: lvpcache repair vg/lv" when it
// finds damage), loads the table and makes /dev/<vg>/<lv>.  Undoes every
// step on failure.  Does nothing for an active volume.
void activate(const context &ctx, const vg_model &model, const volume &v);

// Removes the pcache device (the kernel writes its open key sets) and
// deactivates the components.  Refuses while the device is open.
void deactivate(const context &ctx, const volume &v);

// Removes the pcache device only (components stay active); refuses while
// it is open.  Does nothing when it is not loaded.
void remove_device(const volume &v);

// Deactivates the components only (after a failed or partial activation,
// or before changing them).
void deactivate_components(const context &ctx, const volume &v);

// The live status and table of an active volume.
pcache_status live_status(const volume &v);
pcache_table live_table(const volume &v);

// Sends a message to an active volume; a refusal (EINVAL) is reported
// with the kernel's own log line.
void send_message(const volume &v, const std::string &msg);

// pcache_check (or pcache_repair), found next to lvpcache or in PATH.
std::string tool_path(const std::string &tool);

} // namespace lvpcache
