// lvpcache attach / create: turn an LV into a pcache volume.
#include "activation.h"
#include "block_device.h"
#include "command.h"
#include "kernel_target.h"
#include "lvm_commands.h"
#include "transaction.h"
#include "values.h"

#include <pcache/pcache_format.h>

#include <algorithm>
#include <optional>

namespace lvpcache {

namespace {

struct attach_args {
	std::string cachevol, cachedevice, cachesize;
	std::string cachemode, data_crc, gc_percent, writeback_rate;
};

void add_attach_options(command &cmd, attach_args &a)
{
	cmd.options().add_options()
		("cachevol", po::value(&a.cachevol)->value_name("LV"),
		 "use this LV (in the same VG, on DAX PVs only) as the cache; it is renamed <lv>_pcvol")
		("cachedevice", po::value(&a.cachedevice)->value_name("PV"),
		 "create the cache LV <lv>_pcvol on this DAX PV of the VG (e.g. /dev/pmem0)")
		("cachesize", po::value(&a.cachesize)->value_name("SIZE"),
		 "size of the cache LV made with --cachedevice (default: all free space of the PV)")
		("cachemode", po::value(&a.cachemode)->value_name("MODE"),
		 "writeback (default), writethrough, writearound or passthrough (the last three need "
		 "pcache >= 1.1.0)")
		("data-crc", po::value(&a.data_crc)->value_name("y|n"),
		 "store a CRC of every cached block and verify it (default n); fixed at attach")
		("gc-percent", po::value(&a.gc_percent)->value_name("N"),
		 "garbage collection threshold, percent of the cache used (0-90, default 70)")
		("writeback-rate", po::value(&a.writeback_rate)->value_name("MiB/s"),
		 "cap the writeback rate (0 = unlimited, default; needs pcache >= 1.1.0)");
}

settings parse_settings(const attach_args &a)
{
	settings s;
	if (!a.cachemode.empty())
		s.cache_mode = parse_cache_mode(a.cachemode);
	if (!a.data_crc.empty())
		s.data_crc = parse_bool(a.data_crc, "--data-crc");
	if (!a.gc_percent.empty())
		s.gc_percent = parse_unsigned(a.gc_percent, "--gc-percent", gc_percent_max);
	if (!a.writeback_rate.empty())
		s.writeback_rate = parse_unsigned(a.writeback_rate, "--writeback-rate", UINT32_MAX);
	return s;
}

// What attach will do, fully validated before anything changes.
struct attach_plan {
	std::string vg, lv;
	const lv_info *origin = nullptr;
	const lv_info *cachevol = nullptr;	// --cachevol
	std::string cachedevice;		// --cachedevice
	uint64_t cache_bytes = 0;
	settings config;
	bool origin_active = false;	// deactivated first
	bool activate_after = false;	// the volume comes up at the end
	bool zero_origin_start = false;	// a new origin: zero its first 4 KiB, as lvcreate does
	std::string link_path;		// /dev/VG/LV
};

void check_settings_supported(const settings &s, bool need_target)
{
	if (s.cache_mode == "writeback" && !s.writeback_rate && !need_target)
		return;
	dm::version v = load_pcache_target();
	if (s.cache_mode != "writeback")
		require_interface_1_1(v, "cache mode " + s.cache_mode, "--cachemode " + s.cache_mode);
	if (s.writeback_rate)
		require_interface_1_1(v, "the 'writeback_rate' message", "--writeback-rate");
}

void check_cache_pvs(const vg_info &vg, const std::vector<std::string> &pvs, const std::string &what)
{
	for (const auto &name : pvs) {
		// LVM names a missing PV "[unknown]" in an LV's devices; the PV
		// report, when read, says it too.
		const pv_info *pv = vg.find_pv(name);
		if (name == "[unknown]" || (pv && pv->missing))
			throw std::runtime_error(what + " is on a missing PV");
		if (!is_dax(name))
			throw std::runtime_error(what + " is on " + name +
						 ", which does not support DAX (queue/dax is 0); the "
						 "cache must be on pmem or another DAX device");
	}
}

void check_size(uint64_t bytes, const std::string &what)
{
	if (bytes < PCACHE_CACHE_DEV_SIZE_MIN)
		throw std::runtime_error(what + " is " + human_size(bytes) +
					 "; a pcache cache needs at least 512 MiB");
}

void check_free_name(const vg_info &vg, const std::string &name, const std::string &allowed_existing = "")
{
	check_lvm_name(name, "LV");
	if (name != allowed_existing && vg.find(name))
		throw std::runtime_error(vg.name + "/" + name + " already exists; pcache needs that name");
}

const char *allowed_origin_types = "-CDmMoOrRV";

attach_plan plan_attach(const vg_info &vg, const std::string &lv, const attach_args &a,
			const settings &config, bool origin_is_new)
{
	attach_plan p;
	p.vg = vg.name;
	p.lv = lv;
	p.link_path = "/dev/" + vg.name + "/" + lv;
	p.config = config;
	if (a.cachevol.empty() == a.cachedevice.empty())
		throw cli::usage_error("give either --cachevol LV or --cachedevice PV");
	if (!a.cachesize.empty() && a.cachedevice.empty())
		throw cli::usage_error("--cachesize goes with --cachedevice");
	std::optional<uint64_t> cachesize;
	if (!a.cachesize.empty())
		cachesize = parse_size(a.cachesize, "--cachesize");

	if (!origin_is_new) {
		p.origin = vg.find(lv);
		if (!p.origin || p.origin->hidden)
			throw std::runtime_error(vg.name + "/" + lv + " does not exist");
		if (auto of = p.origin->tag_value(tag::volume))
			throw std::runtime_error(p.origin->full_name() + " is already part of the pcache volume " +
						 vg.name + "/" + *of);
		if (std::string(allowed_origin_types).find(p.origin->attr[0]) == std::string::npos ||
		    std::count(p.origin->segtypes.begin(), p.origin->segtypes.end(), "error") ||
		    std::count(p.origin->segtypes.begin(), p.origin->segtypes.end(), "zero"))
			throw std::runtime_error(p.origin->full_name() + " cannot be cached by pcache (LV type " +
						 p.origin->segtypes.front() + ")");
		if (p.origin->partial)
			throw std::runtime_error(p.origin->full_name() + " is missing a PV");
		if (p.origin->open)
			throw std::runtime_error(p.origin->full_name() +
						 " is open (mounted or in use); unmount it first");
		p.origin_active = p.origin->active;
		p.activate_after = p.origin_active;
	}
	check_free_name(vg, origin_lv_name(lv));
	check_free_name(vg, cachevol_lv_name(lv), a.cachevol);

	if (!a.cachevol.empty()) {
		std::string name = a.cachevol;
		if (name.find('/') != std::string::npos) {
			auto n = parse_lv_name(name);
			if (n.vg != vg.name)
				throw std::runtime_error("--cachevol " + name + " is not in the VG " + vg.name);
			name = n.lv;
		}
		check_lvm_name(name, "LV");
		p.cachevol = vg.find(name);
		if (!p.cachevol || p.cachevol->hidden)
			throw std::runtime_error("--cachevol: " + vg.name + "/" + name + " does not exist");
		if (name == lv)
			throw std::runtime_error("--cachevol cannot be the LV being cached");
		if (auto of = p.cachevol->tag_value(tag::volume))
			throw std::runtime_error(p.cachevol->full_name() + " is already part of the pcache volume " +
						 vg.name + "/" + *of);
		if (std::any_of(p.cachevol->segtypes.begin(), p.cachevol->segtypes.end(),
				[](const std::string &t) { return t != "linear"; }))
			throw std::runtime_error(p.cachevol->full_name() + " is not a linear LV; the cache LV "
									   "must be linear");
		if (p.cachevol->open)
			throw std::runtime_error(p.cachevol->full_name() + " is open (mounted or in use)");
		check_size(p.cachevol->size, p.cachevol->full_name());
		check_cache_pvs(vg, p.cachevol->devices, p.cachevol->full_name());
		p.cache_bytes = p.cachevol->size;
	} else {
		p.cachedevice = a.cachedevice;
		const pv_info *pv = vg.find_pv(a.cachedevice);
		if (!pv)
			throw std::runtime_error("--cachedevice " + a.cachedevice + " is not a PV of " + vg.name +
						 " (add it with: vgextend " + vg.name + " " + a.cachedevice + ")");
		check_cache_pvs(vg, {a.cachedevice}, "--cachedevice " + a.cachedevice);
		p.cache_bytes = cachesize ? *cachesize : pv->free;
		if (vg.extent_size)
			p.cache_bytes -= p.cache_bytes % vg.extent_size;
		check_size(p.cache_bytes, "the cache (" + a.cachedevice + " free space or --cachesize)");
		if (p.cache_bytes > pv->free)
			throw std::runtime_error("--cachesize " + human_size(p.cache_bytes) + " is more than the " +
						 human_size(pv->free) + " free on " + a.cachedevice);
	}
	check_settings_supported(config, p.origin_active || origin_is_new);
	return p;
}

// The tags and flags that make `lv` a component, and the command that
// takes them away again (restoring the flags it had).
struct component_marks {
	std::vector<std::string> mark, unmark;
};

component_marks component_commands(const lv_info *before, const std::string &full_name,
				   std::vector<std::string> tags)
{
	if (before) {
		tags.push_back(tag::make(tag::was_autoactivation, before->autoactivation ? "y" : "n"));
		tags.push_back(tag::make(tag::was_skip, before->skip_activation ? "y" : "n"));
	}
	component_marks m;
	m.mark = concat({"lvchange", "--setactivationskip", "y", "--setautoactivation", "n"},
			tag_args("--addtag", tags));
	m.mark.push_back(full_name);
	m.unmark = concat({"lvchange", "--setactivationskip", before && before->skip_activation ? "y" : "n",
			   "--setautoactivation", !before || before->autoactivation ? "y" : "n"},
			  tag_args("--deltag", tags));
	m.unmark.push_back(full_name);
	return m;
}

void execute_attach(const context &ctx, transaction &tx, const attach_plan &p)
{
	const std::string vg = p.vg, full = p.vg + "/" + p.lv;
	const std::string orig = origin_lv_name(p.lv), cv = cachevol_lv_name(p.lv);
	const std::string orig_full = vg + "/" + orig, cv_full = vg + "/" + cv;
	std::vector<std::string> cv_tags{tag::make(tag::role, tag::role_cachevol), tag::make(tag::volume, p.lv)};

	if (p.origin_active)
		tx.lvm_step("deactivate " + full, {"lvchange", "-an", full}, {"lvchange", "-ay", full});

	if (p.cachevol) {
		cv_tags.push_back(tag::make(tag::was_name, p.cachevol->name));
		if (p.cachevol->active)
			tx.lvm_step("deactivate " + p.cachevol->full_name(), {"lvchange", "-an", p.cachevol->full_name()},
				    {"lvchange", "-ay", p.cachevol->full_name()});
		if (p.cachevol->name != cv)
			tx.lvm_step("rename " + p.cachevol->full_name() + " to " + cv_full,
				    {"lvrename", vg, p.cachevol->name, cv}, {"lvrename", vg, cv, p.cachevol->name});
		auto m = component_commands(p.cachevol, cv_full, cv_tags);
		tx.lvm_step("mark " + cv_full + " as the cache LV", m.mark, m.unmark);
		// An old cache on the LV must never be loaded by accident.
		tx.lvm_step("activate " + cv_full + " to zero it", {"lvchange", "-ay", "-K", cv_full},
			    {"lvchange", "-an", cv_full});
	} else {
		// Created active (-K despite its activation skip) to be zeroed.
		tx.lvm_step("create the cache LV " + cv_full + " on " + p.cachedevice,
			    concat(concat({"lvcreate", "-ay", "-K", "-Zn", "-Wn", "--setactivationskip", "y",
					   "--setautoactivation", "n"},
					  tag_args("--addtag", cv_tags)),
				   {"-L", std::to_string(p.cache_bytes) + "b", "-n", cv, vg, p.cachedevice}),
			    {"lvremove", "-y", cv_full});
	}

	tx.step(
		"zero the pcache records of " + cv_full,
		[&] {
			std::string dev = "/dev/mapper/" + dm::lvm_dm_name(vg, cv);
			if (!is_dax(dev))
				throw std::runtime_error(cv_full + " does not support DAX once active");
			zero_cache_records(dev);
		},
		nullptr, "");
	tx.note_irreversible("the pcache records at the start of " + cv_full + " were zeroed");
	if (!p.activate_after)
		tx.lvm_step("deactivate " + cv_full, {"lvchange", "-an", cv_full}, {});

	tx.lvm_step("rename the origin " + full + " to " + orig_full, {"lvrename", vg, p.lv, orig},
		    {"lvrename", vg, orig, p.lv});
	std::vector<std::string> origin_tags{tag::make(tag::role, tag::role_origin), tag::make(tag::volume, p.lv),
					     tag::make(tag::format, "1")};
	for (const auto &t : p.config.tags())
		origin_tags.push_back(t);
	auto m = component_commands(p.origin, orig_full, origin_tags);
	tx.lvm_step("mark " + orig_full + " as the origin", m.mark, m.unmark);

	// The name <lv> stays taken in LVM: a virtual error LV, never activated.
	tx.lvm_step("reserve the name " + full, create_placeholder(vg, p.lv, p.origin->size),
		    {"lvremove", "-y", full});

	if (p.activate_after) {
		tx.step(
			"activate the pcache volume " + full,
			[&] {
				vg_model model(ctx.lvm_cli, vg);
				activate(ctx, model, model.get(p.lv));
			},
			[&] {
				vg_model model(ctx.lvm_cli, vg);
				deactivate(ctx, model.get(p.lv));
			},
			"lvpcache deactivate " + full);
	}
	if (p.zero_origin_start)
		tx.step(
			"zero the start of " + full,
			[&] {
				if (!p.activate_after)
					throw std::logic_error("zeroing needs the volume active");
				zero_block_device_start(p.link_path, 4096);
			},
			nullptr, "");
}

} // namespace

int run_attach(int argc, char **argv)
{
	command cmd("attach --cachevol LV|--cachedevice PV [options] VG/LV",
		    "Attaches a pcache cache on persistent memory to the LV VG/LV, which must not be open.\n"
		    "The LV is renamed <lv>_pcorig, the cache LV is <lv>_pcvol; the pcache volume keeps\n"
		    "the name VG/LV (device /dev/VG/LV).  An active LV comes back as an active pcache volume.");
	attach_args a;
	add_attach_options(cmd, a);
	cmd.hidden().add_options()("lv", po::value<std::string>(), "VG/LV");
	cmd.positional("lv");
	return cmd.run(argc, argv, true, [&](const po::variables_map &vm, context &ctx) {
		auto name = parse_lv_name(required_positional(vm, "lv", "VG/LV"));
		settings config = parse_settings(a);
		// The PV report only matters for --cachedevice (its free space).
		vg_model model(ctx.lvm_cli, name.vg,
			       a.cachedevice.empty() ? pv_report::when_needed : pv_report::always);
		auto plan = plan_attach(model.vg(), name.lv, a, config, false);
		transaction tx(ctx.lvm_cli, "attach " + name.full());
		execute_attach(ctx, tx, plan);
		tx.commit();
		return 0;
	});
}

int run_create(int argc, char **argv)
{
	command cmd("create -L SIZE -n LV --cachevol LV|--cachedevice PV [options] VG [PV...]",
		    "Creates a new LV of SIZE in VG (on the PVs given, or anywhere) and attaches a pcache\n"
		    "cache to it, as 'lvcreate' followed by 'lvpcache attach'.  The volume is left active.");
	attach_args a;
	std::string size, name;
	cmd.options().add_options()
		("size,L", po::value(&size)->value_name("SIZE"), "size of the new LV (e.g. 100G)")
		("name,n", po::value(&name)->value_name("LV"), "name of the new pcache volume");
	add_attach_options(cmd, a);
	cmd.hidden().add_options()("vg", po::value<std::vector<std::string>>(), "VG [PV...]");
	cmd.positional("vg", -1);
	return cmd.run(argc, argv, true, [&](const po::variables_map &vm, context &ctx) {
		if (!vm.count("vg"))
			throw cli::usage_error("no VG given (see lvpcache create --help)");
		auto args = vm["vg"].as<std::vector<std::string>>();
		if (size.empty())
			throw cli::usage_error("give the size of the new LV with -L SIZE");
		if (name.empty())
			throw cli::usage_error("give the name of the new LV with -n LV");
		uint64_t bytes = parse_size(size, "-L");
		std::string vg = args.front();
		check_lvm_name(vg, "VG");
		check_lvm_name(name, "LV");
		std::vector<std::string> pvs(args.begin() + 1, args.end());
		settings config = parse_settings(a);

		vg_model model(ctx.lvm_cli, vg, pv_report::always);
		if (model.vg().find(name))
			throw std::runtime_error(vg + "/" + name + " already exists");
		for (const auto &pv : pvs)
			if (!model.vg().find_pv(pv))
				throw std::runtime_error(pv + " is not a PV of " + vg);
		// Everything about the cache is checked before the origin exists.
		plan_attach(model.vg(), name, a, config, true);

		transaction tx(ctx.lvm_cli, "create " + vg + "/" + name);
		// Created inactive; its start is zeroed through the volume at the end.
		tx.lvm_step("create the LV " + vg + "/" + name,
			    concat({"lvcreate", "-an", "-Zn", "-Wn", "-L", std::to_string(bytes) + "b", "-n", name,
				    vg},
				   pvs),
			    {"lvremove", "-y", vg + "/" + name});
		// The new origin, with the PVs already read (one lvm command less).
		vg_info now = read_vg(ctx.lvm_cli, vg);
		now.pvs = model.vg().pvs;
		vg_model after(std::move(now));
		auto plan = plan_attach(after.vg(), name, a, config, false);
		plan.activate_after = true;
		plan.zero_origin_start = true;
		execute_attach(ctx, tx, plan);
		tx.commit();
		return 0;
	});
}

} // namespace lvpcache
