// lvpcache activate / deactivate.
#include "activation.h"
#include "command.h"
#include "values.h"

#include <iostream>

namespace lvpcache {

namespace {

// The volumes named (VG/LV...), or with --all every volume of the VGs named
// (every VG when none is).  Calls fn for each; an error on one volume is
// reported and the others are still done.  Returns the exit status.
int for_each_selected(context &ctx, const po::variables_map &vm, bool all, const char *verb,
		      const std::function<void(const vg_model &, const volume &)> &fn)
{
	std::vector<std::string> args;
	if (vm.count("lv"))
		args = vm["lv"].as<std::vector<std::string>>();
	int status = 0;
	auto attempt = [&](const std::function<void()> &f) {
		try {
			f();
		} catch (const std::exception &e) {
			if (!ctx.quiet)
				std::cerr << "lvpcache: " << e.what() << std::endl;
			status = 1;
		}
	};
	if (!all) {
		if (args.empty())
			throw cli::usage_error(std::string("give VG/LV, or --all (see lvpcache ") + verb + " --help)");
		for (const auto &a : args)
			parse_lv_name(a);	// every name checked before anything is done
		for (const auto &a : args)
			attempt([&] {
				auto n = parse_lv_name(a);
				vg_model model(ctx.lvm_cli, n.vg);
				fn(model, model.get(n.lv));
			});
		return status;
	}
	std::vector<std::string> vgs;
	for (const auto &a : args) {
		std::string vg = unescape_systemd(a);
		check_lvm_name(vg, "VG");
		vgs.push_back(vg);
	}
	auto all_vgs = read_vgs(ctx.lvm_cli, vgs);
	for (auto &info : all_vgs) {
		vg_model model(std::move(info));
		for (const auto &v : model.volumes())
			attempt([&] { fn(model, v); });
	}
	return status;
}

int run_selection(int argc, char **argv, const char *verb, const std::string &synopsis,
		  const std::string &description,
		  const std::function<void(context &, const vg_model &, const volume &)> &fn)
{
	command cmd(synopsis, description);
	bool all = false;
	cmd.options().add_options()
		("all,a", po::bool_switch(&all),
		 "every pcache volume of the VGs given (of every VG when none is given)");
	cmd.hidden().add_options()("lv", po::value<std::vector<std::string>>(), "VG/LV...");
	cmd.positional("lv", -1);
	return cmd.run(argc, argv, true, [&](const po::variables_map &vm, context &ctx) {
		return for_each_selected(ctx, vm, all, verb,
					 [&](const vg_model &m, const volume &v) { fn(ctx, m, v); });
	});
}

} // namespace

int run_activate(int argc, char **argv)
{
	return run_selection(
		argc, argv, "activate", "activate VG/LV... | --all [VG...]",
		"Activates pcache volumes: activates the components, checks the cache with\n"
		"pcache_check -q --clear-needs-check-flag, loads the pcache table and makes /dev/VG/LV.\n"
		"A volume whose cache LV or origin is missing stays down (its origin is never activated\n"
		"alone); damaged cache metadata stops activation with 'repair needed'.",
		[](context &ctx, const vg_model &m, const volume &v) {
			bool was = is_active(v);
			activate(ctx, m, v);
			if (!was && ctx.verbose)
				ctx.note(v.full_name() + " activated");
		});
}

int run_deactivate(int argc, char **argv)
{
	return run_selection(
		argc, argv, "deactivate", "deactivate VG/LV... | --all [VG...]",
		"Removes the pcache device of each volume (the kernel writes its open key sets) and\n"
		"deactivates its components.  A volume that is open (mounted) is left as it is.",
		[](context &ctx, const vg_model &, const volume &v) { deactivate(ctx, v); });
}

} // namespace lvpcache
