// The pcache volume model in LVM's metadata (man/lvmpcache.7):
//   <lv>_pcorig  the origin, renamed; holds the settings
//   <lv>_pcvol   the cache LV on DAX PVs: pcache metadata and cached data
//   <lv>         a virtual "error" LV that only reserves the name, so LVM
//                never creates another LV (and dm device <vg>-<lv>) under it
// Every component carries pcache.role=... and pcache.volume=<lv> tags;
// components have activation skip and autoactivation off.
#pragma once

#include "lvm_state.h"

#include <string>
#include <vector>

namespace lvpcache {

namespace tag {
inline const std::string role = "pcache.role";
inline const std::string volume = "pcache.volume";
inline const std::string format = "pcache.format";
inline const std::string cache_mode = "pcache.cache_mode";
inline const std::string data_crc = "pcache.data_crc";
inline const std::string gc_percent = "pcache.gc_percent";
inline const std::string writeback_rate = "pcache.writeback_rate";
// What detach restores on a component.
inline const std::string was_name = "pcache.was_name";
inline const std::string was_autoactivation = "pcache.was_autoactivation";
inline const std::string was_skip = "pcache.was_skip";

inline const std::string role_origin = "origin";
inline const std::string role_cachevol = "cachevol";
inline const std::string role_volume = "volume";

std::string make(const std::string &key, const std::string &value);
} // namespace tag

std::string origin_lv_name(const std::string &lv);
std::string cachevol_lv_name(const std::string &lv);

inline const std::vector<std::string> cache_modes = {"writeback", "writethrough", "writearound",
						     "passthrough"};
constexpr unsigned gc_percent_max = 90;
constexpr unsigned gc_percent_default = 70;

struct settings {
	std::string cache_mode = "writeback";
	bool data_crc = false;
	unsigned gc_percent = gc_percent_default;
	unsigned writeback_rate = 0;	// MiB/s, 0 = unlimited

	// The settings tags of an origin (defaults for missing ones).
	static settings from_tags(const lv_info &origin);
	std::vector<std::string> tags() const;
};

struct volume {
	std::string vg, vg_uuid, name;
	const lv_info *origin = nullptr, *cachevol = nullptr, *placeholder = nullptr;
	settings config;

	std::string full_name() const { return vg + "/" + name; }
	std::string dm_name() const;
	// PCACHE-<vg uuid><origin uuid>, dashes dropped as in LVM's LVM- uuids.
	std::string dm_uuid() const;
	std::string link_path() const { return "/dev/" + vg + "/" + name; }
	std::string origin_name() const { return origin_lv_name(name); }
	std::string cachevol_name() const { return cachevol_lv_name(name); }
	std::string origin_path() const { return "/dev/" + vg + "/" + origin_name(); }
	std::string cachevol_path() const { return "/dev/" + vg + "/" + cachevol_name(); }
	// Why the components cannot be activated (empty: they can).
	std::string missing_reason(const vg_info &vg) const;
};

std::vector<volume> find_volumes(const vg_info &vg);

// One VG as LVM reports it, with its pcache volumes (which point into it).
class vg_model {
public:
	vg_model(const lvm &lvm, const std::string &vg, pv_report pvs = pv_report::when_needed);
	explicit vg_model(vg_info vg);
	vg_model(const vg_model &) = delete;
	vg_model &operator=(const vg_model &) = delete;

	const vg_info &vg() const { return vg_; }
	const std::vector<volume> &volumes() const { return volumes_; }
	const volume *find(const std::string &lv) const;
	// Throws "vg/lv is not a pcache volume" (saying what it is instead).
	const volume &get(const std::string &lv) const;

private:
	vg_info vg_;
	std::vector<volume> volumes_;
};

// vg/lv as given on the command line; a one-line error when it is not
// one, or when LV is not a pcache volume.
struct lv_name {
	std::string vg, lv;
	std::string full() const { return vg + "/" + lv; }
};
lv_name parse_lv_name(const std::string &arg);
// LVM's rules for VG and LV names (what lvcreate would accept).
void check_lvm_name(const std::string &name, const char *what);

} // namespace lvpcache
