// What LVM knows about the VGs lvpcache works on, read from one `lvs` and
// one `pvs` JSON report.
#pragma once

#include "lvm.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace lvpcache {

struct lv_info {
	std::string vg, name, uuid, attr;
	std::vector<std::string> segtypes;	// one per segment
	std::vector<std::string> devices;	// PV names ("[unknown]" when missing)
	uint64_t size = 0;			// bytes
	std::set<std::string> tags;
	bool active = false, open = false;
	bool skip_activation = false, autoactivation = true;
	bool partial = false;			// a PV under it is missing
	bool hidden = false;			// a sub-LV ([name] in lvs -a)

	bool has_tag(const std::string &t) const { return tags.count(t) != 0; }
	// The value of the first tag "key=value", if any.
	std::optional<std::string> tag_value(const std::string &key) const;
	std::string full_name() const { return vg + "/" + name; }
};

struct pv_info {
	std::string name, uuid, vg;
	bool missing = false;
	uint64_t size = 0, free = 0;
};

struct vg_info {
	std::string name, uuid;
	uint64_t extent_size = 0;
	std::vector<lv_info> lvs;
	std::vector<pv_info> pvs;

	const lv_info *find(const std::string &lv) const;
	const pv_info *find_pv(const std::string &name) const;
	std::vector<const pv_info *> missing_pvs() const;
};

// Every lvm command costs a device scan: the PV report is read only when
// asked for, or when an LV misses a PV (to name it).
enum class pv_report { always, when_needed };

// The VGs named (every VG when names is empty).
std::vector<vg_info> read_vgs(const lvm &lvm, const std::vector<std::string> &names,
			      pv_report pvs = pv_report::when_needed);
// One VG; throws when LVM does not know it.
vg_info read_vg(const lvm &lvm, const std::string &name, pv_report pvs = pv_report::when_needed);

} // namespace lvpcache
