#include "volume.h"

#include "dm.h"

#include <algorithm>
#include <stdexcept>

namespace lvpcache {

std::string tag::make(const std::string &key, const std::string &value)
{
	return key + "=" + value;
}

std::string origin_lv_name(const std::string &lv)
{
	return lv + "_pcorig";
}

std::string cachevol_lv_name(const std::string &lv)
{
	return lv + "_pcvol";
}

namespace {

unsigned tag_number(const lv_info &lv, const std::string &key, unsigned fallback, unsigned max)
{
	auto v = lv.tag_value(key);
	if (!v)
		return fallback;
	try {
		size_t used = 0;
		unsigned long n = std::stoul(*v, &used);
		if (used == v->size() && n <= max)
			return static_cast<unsigned>(n);
	} catch (const std::exception &) {
	}
	throw std::runtime_error(lv.full_name() + ": tag " + key + "=" + *v +
				 " is not a valid value; fix it with lvchange --deltag/--addtag");
}

std::string strip_dashes(const std::string &s)
{
	std::string r;
	std::copy_if(s.begin(), s.end(), std::back_inserter(r), [](char c) { return c != '-'; });
	return r;
}

} // namespace

settings settings::from_tags(const lv_info &origin)
{
	settings s;
	if (auto m = origin.tag_value(tag::cache_mode)) {
		if (std::find(cache_modes.begin(), cache_modes.end(), *m) == cache_modes.end())
			throw std::runtime_error(origin.full_name() + ": tag " + tag::cache_mode + "=" + *m +
						 " names no cache mode");
		s.cache_mode = *m;
	}
	if (auto c = origin.tag_value(tag::data_crc))
		s.data_crc = *c == "true";
	s.gc_percent = tag_number(origin, tag::gc_percent, gc_percent_default, gc_percent_max);
	s.writeback_rate = tag_number(origin, tag::writeback_rate, 0, UINT32_MAX);
	return s;
}

std::vector<std::string> settings::tags() const
{
	return {tag::make(tag::cache_mode, cache_mode), tag::make(tag::data_crc, data_crc ? "true" : "false"),
		tag::make(tag::gc_percent, std::to_string(gc_percent)),
		tag::make(tag::writeback_rate, std::to_string(writeback_rate))};
}

std::string volume::dm_name() const
{
	return dm::lvm_dm_name(vg, name);
}

std::string volume::dm_uuid() const
{
	return "PCACHE-" + strip_dashes(vg_uuid) + strip_dashes(origin ? origin->uuid : "");
}

std::string volume::missing_reason(const vg_info &vginfo) const
{
	auto pv_list = [&]() {
		std::string s;
		for (const auto *pv : vginfo.missing_pvs())
			s += (s.empty() ? "" : ", ") + pv->uuid;
		return s.empty() ? std::string() : " (missing PV uuid " + s + ")";
	};
	if (!origin)
		return "its origin LV " + vg + "/" + origin_name() + " does not exist";
	if (!cachevol)
		return "its cache LV " + vg + "/" + cachevol_name() + " does not exist";
	if (cachevol->partial)
		return "its cache LV " + cachevol->full_name() + " is missing a PV" + pv_list();
	if (origin->partial)
		return "its origin LV " + origin->full_name() + " is missing a PV" + pv_list();
	return "";
}

std::vector<volume> find_volumes(const vg_info &vg)
{
	std::vector<volume> result;
	auto named = [&](const std::string &name) {
		auto it = std::find_if(result.begin(), result.end(),
				       [&](const volume &v) { return v.name == name; });
		if (it != result.end())
			return &*it;
		volume &v = result.emplace_back();
		v.vg = vg.name;
		v.vg_uuid = vg.uuid;
		v.name = name;
		return &v;
	};
	for (const auto &lv : vg.lvs) {
		auto role = lv.tag_value(tag::role);
		auto of = lv.tag_value(tag::volume);
		if (!role || !of)
			continue;
		volume *v = named(*of);
		const lv_info **slot = *role == tag::role_origin	 ? &v->origin
				       : *role == tag::role_cachevol ? &v->cachevol
				       : *role == tag::role_volume   ? &v->placeholder
								     : nullptr;
		if (!slot)
			throw std::runtime_error(lv.full_name() + ": unknown tag " + tag::role + "=" + *role);
		if (*slot)
			throw std::runtime_error("pcache volume " + vg.name + "/" + *of + " has two " + *role +
						 " LVs: " + (*slot)->name + " and " + lv.name +
						 "; remove the tags of the wrong one");
		*slot = &lv;
	}
	for (auto &v : result)
		if (v.origin)
			v.config = settings::from_tags(*v.origin);
	return result;
}

vg_model::vg_model(const lvm &lvm, const std::string &vg, pv_report pvs)
	: vg_model(read_vg(lvm, vg, pvs))
{
}

vg_model::vg_model(vg_info vg) : vg_(std::move(vg)), volumes_(find_volumes(vg_))
{
}

const volume *vg_model::find(const std::string &lv) const
{
	for (const auto &v : volumes_)
		if (v.name == lv)
			return &v;
	return nullptr;
}

const volume &vg_model::get(const std::string &lv) const
{
	if (const volume *v = find(lv))
		return *v;
	std::string name = vg_.name + "/" + lv;
	const lv_info *l = vg_.find(lv);
	if (!l)
		throw std::runtime_error(name + " does not exist");
	if (auto of = l->tag_value(tag::volume))
		throw std::runtime_error(name + " is a component of the pcache volume " + vg_.name + "/" +
					 *of + ", not a pcache volume");
	throw std::runtime_error(name + " is not a pcache volume (attach a cache with lvpcache attach)");
}

void check_lvm_name(const std::string &name, const char *what)
{
	static const std::string allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789+_.-";
	if (name.empty())
		throw std::invalid_argument(std::string("empty ") + what + " name");
	if (name.size() > 127)
		throw std::invalid_argument(std::string(what) + " name is longer than 127 characters: " +
					    name);
	if (name[0] == '-' || name == "." || name == "..")
		throw std::invalid_argument(std::string("invalid ") + what + " name: " + name);
	if (name.find_first_not_of(allowed) != std::string::npos)
		throw std::invalid_argument(std::string("invalid ") + what + " name '" + name +
					    "': only letters, digits and + _ . - are allowed");
}

lv_name parse_lv_name(const std::string &arg)
{
	std::string s = arg;
	if (s.rfind("/dev/", 0) == 0)
		s = s.substr(5);
	auto slash = s.find('/');
	if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos)
		throw std::invalid_argument("'" + arg + "' is not VG/LV");
	lv_name n{s.substr(0, slash), s.substr(slash + 1)};
	check_lvm_name(n.vg, "VG");
	check_lvm_name(n.lv, "LV");
	return n;
}

} // namespace lvpcache
