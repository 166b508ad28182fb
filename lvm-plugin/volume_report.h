// One row of `lvpcache status`: what LVM and the kernel say about a volume.
#pragma once

#include "pcache_status.h"
#include "volume.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace lvpcache {

struct volume_report {
	std::string vg, name, origin, cachevol;
	uint64_t origin_size = 0, cache_size = 0;
	bool active = false;
	settings config;			// from the tags
	std::string mode;			// live mode when active, else the tag
	std::string health;			// ok, needs_check, read-only, Fail, missing device, -
	std::string problem;			// why, for "missing device"
	std::optional<pcache_status> kernel;
	std::string kernel_error;		// the status could not be read or parsed

	std::optional<double> used_percent() const;
	std::optional<double> dirty_percent() const;
	std::optional<double> read_hit_percent() const;
	std::optional<double> write_hit_percent() const;

	nlohmann::json to_json() const;
};

volume_report make_report(const vg_model &model, const volume &v);

} // namespace lvpcache
