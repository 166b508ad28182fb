#include "lvm_state.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace lvpcache {

namespace {

std::string field(const nlohmann::json &row, const char *name)
{
	auto it = row.find(name);
	if (it == row.end() || !it->is_string())
		throw lvm_error(std::string("LVM report lacks the field ") + name);
	return it->get<std::string>();
}

uint64_t number(const nlohmann::json &row, const char *name)
{
	std::string s = field(row, name);
	try {
		size_t used = 0;
		uint64_t v = std::stoull(s, &used);
		if (used == s.size())
			return v;
	} catch (const std::exception &) {
	}
	throw lvm_error(std::string("LVM report field ") + name + " is not a number: '" + s + "'");
}

std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> parts;
	size_t start = 0;
	while (start <= s.size()) {
		size_t end = s.find(sep, start);
		if (end == std::string::npos)
			end = s.size();
		if (end > start)
			parts.push_back(s.substr(start, end - start));
		start = end + 1;
	}
	return parts;
}

// "/dev/vda(0)" -> "/dev/vda"; "[unknown](0)" -> "[unknown]".
std::string device_name(const std::string &d)
{
	auto paren = d.rfind('(');
	return paren == std::string::npos ? d : d.substr(0, paren);
}

const std::vector<std::string> lv_fields = {
	"vg_name",	 "vg_uuid",	 "vg_extent_size", "lv_name",	 "lv_uuid",
	"lv_attr",	 "lv_size",	 "segtype",	   "lv_tags",	 "devices",
	"lv_active",	 "lv_device_open", "lv_skip_activation", "lv_autoactivation",
	"lv_health_status"};

std::string join(const std::vector<std::string> &v, const char *sep)
{
	std::string s;
	for (const auto &x : v)
		s += (s.empty() ? "" : sep) + x;
	return s;
}

} // namespace

std::optional<std::string> lv_info::tag_value(const std::string &key) const
{
	std::string prefix = key + "=";
	for (const auto &t : tags)
		if (t.rfind(prefix, 0) == 0)
			return t.substr(prefix.size());
	return std::nullopt;
}

const lv_info *vg_info::find(const std::string &lv) const
{
	for (const auto &l : lvs)
		if (l.name == lv)
			return &l;
	return nullptr;
}

const pv_info *vg_info::find_pv(const std::string &name) const
{
	for (const auto &p : pvs)
		if (p.name == name)
			return &p;
	return nullptr;
}

std::vector<const pv_info *> vg_info::missing_pvs() const
{
	std::vector<const pv_info *> v;
	for (const auto &p : pvs)
		if (p.missing)
			v.push_back(&p);
	return v;
}

std::vector<vg_info> read_vgs(const lvm &lvm, const std::vector<std::string> &names, pv_report pvs)
{
	std::vector<std::string> args{"lvs", "-a", "--units", "b", "--nosuffix", "-o",
				      join(lv_fields, ",")};
	args.insert(args.end(), names.begin(), names.end());
	auto lv_rows = lvm.report(args, "lv");

	std::map<std::string, vg_info> vgs;
	std::vector<std::string> order = names;
	for (const auto &row : lv_rows) {
		std::string vg_name = field(row, "vg_name");
		auto &vg = vgs[vg_name];
		if (vg.name.empty()) {
			vg.name = vg_name;
			vg.uuid = field(row, "vg_uuid");
			vg.extent_size = number(row, "vg_extent_size");
			if (std::find(order.begin(), order.end(), vg_name) == order.end())
				order.push_back(vg_name);
		}
		std::string uuid = field(row, "lv_uuid");
		// With segment fields lvs prints one row per segment: merge them.
		auto same = std::find_if(vg.lvs.begin(), vg.lvs.end(),
					 [&](const lv_info &l) { return l.uuid == uuid; });
		bool first_row = same == vg.lvs.end();
		lv_info &lv = first_row ? vg.lvs.emplace_back() : *same;
		if (first_row) {
			lv.vg = vg_name;
			lv.name = field(row, "lv_name");
			if (lv.name.size() > 2 && lv.name.front() == '[' && lv.name.back() == ']') {
				lv.hidden = true;
				lv.name = lv.name.substr(1, lv.name.size() - 2);
			}
			lv.uuid = uuid;
			lv.attr = field(row, "lv_attr");
			lv.size = number(row, "lv_size");
			for (const auto &t : split(field(row, "lv_tags"), ','))
				lv.tags.insert(t);
			lv.active = field(row, "lv_active") == "active";
			lv.open = field(row, "lv_device_open") == "open";
			lv.skip_activation = !field(row, "lv_skip_activation").empty();
			lv.autoactivation = field(row, "lv_autoactivation") == "enabled";
			lv.partial = field(row, "lv_health_status") == "partial" ||
				     (lv.attr.size() > 8 && lv.attr[8] == 'p');
		}
		lv.segtypes.push_back(field(row, "segtype"));
		for (const auto &d : split(field(row, "devices"), ','))
			lv.devices.push_back(device_name(d));
	}
	bool need_pvs = pvs == pv_report::always;
	for (const auto &[name, vg] : vgs)
		for (const auto &lv : vg.lvs)
			need_pvs = need_pvs || lv.partial;
	nlohmann::json pv_rows = nlohmann::json::array();
	if (need_pvs)
		pv_rows = lvm.report({"pvs", "--units", "b", "--nosuffix", "-o",
				      "pv_name,pv_uuid,vg_name,vg_uuid,vg_extent_size,pv_missing,pv_size,pv_free"},
				     "pv");
	for (const auto &row : pv_rows) {
		std::string vg_name = field(row, "vg_name");
		auto it = vgs.find(vg_name);
		if (it == vgs.end()) {
			// A VG without LVs: only its PVs are known.
			if (vg_name.empty() ||
			    (!names.empty() && std::find(names.begin(), names.end(), vg_name) == names.end()))
				continue;
			it = vgs.emplace(vg_name, vg_info{}).first;
			it->second.name = vg_name;
			it->second.uuid = field(row, "vg_uuid");
			it->second.extent_size = number(row, "vg_extent_size");
			if (std::find(order.begin(), order.end(), vg_name) == order.end())
				order.push_back(vg_name);
		}
		pv_info pv;
		pv.name = field(row, "pv_name");
		pv.uuid = field(row, "pv_uuid");
		pv.vg = vg_name;
		pv.missing = field(row, "pv_missing") == "missing";
		pv.size = number(row, "pv_size");
		pv.free = number(row, "pv_free");
		it->second.pvs.push_back(pv);
	}
	// A VG named that has no LV (lvs fails for a VG that does not exist).
	for (const auto &n : names)
		if (!vgs.count(n)) {
			vgs[n].name = n;
			if (std::find(order.begin(), order.end(), n) == order.end())
				order.push_back(n);
		}
	std::vector<vg_info> result;
	for (const auto &n : order) {
		auto it = vgs.find(n);
		if (it != vgs.end())
			result.push_back(std::move(it->second));
	}
	return result;
}

vg_info read_vg(const lvm &lvm, const std::string &name, pv_report pvs)
{
	auto vgs = read_vgs(lvm, {name}, pvs);
	if (vgs.empty() || vgs.front().name != name)
		throw std::runtime_error("volume group " + name + " has no logical volumes");
	return vgs.front();
}

} // namespace lvpcache
