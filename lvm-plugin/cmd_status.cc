// lvpcache status: one row per pcache volume.
#include "command.h"
#include "values.h"
#include "volume_report.h"

#include <cstdio>
#include <iostream>

namespace lvpcache {

namespace {

std::string percent(const std::optional<double> &v)
{
	if (!v)
		return "-";
	char buf[16];
	std::snprintf(buf, sizeof(buf), "%.1f", *v);
	return buf;
}

void print_table(const std::vector<volume_report> &rows)
{
	std::vector<std::vector<std::string>> cells{
		{"LV", "Origin", "Cache", "OSize", "CSize", "Mode", "Used%", "Dirty%", "RdHit%", "WrHit%",
		 "GC%", "State", "Health"}};
	for (const auto &r : rows)
		cells.push_back({r.vg + "/" + r.name, r.origin.empty() ? "-" : r.origin,
				 r.cachevol.empty() ? "-" : r.cachevol, human_size(r.origin_size),
				 r.cache_size ? human_size(r.cache_size) : "-", r.mode, percent(r.used_percent()),
				 percent(r.dirty_percent()), percent(r.read_hit_percent()),
				 percent(r.write_hit_percent()),
				 std::to_string(r.kernel && !r.kernel->failed ? r.kernel->gc_percent
									       : r.config.gc_percent),
				 r.active ? "active" : "inactive", r.health});
	std::vector<size_t> width(cells[0].size(), 0);
	for (const auto &row : cells)
		for (size_t i = 0; i < row.size(); ++i)
			width[i] = std::max(width[i], row[i].size());
	for (const auto &row : cells) {
		std::string line;
		for (size_t i = 0; i < row.size(); ++i)
			line += row[i] + (i + 1 < row.size() ? std::string(width[i] - row[i].size() + 2, ' ') : "");
		std::cout << line << "\n";
	}
	for (const auto &r : rows)
		if (!r.problem.empty())
			std::cout << r.vg << "/" << r.name << ": " << r.problem << "\n";
		else if (!r.kernel_error.empty())
			std::cout << r.vg << "/" << r.name << ": " << r.kernel_error << "\n";
}

} // namespace

int run_status(int argc, char **argv)
{
	command cmd("status [--json] [VG/LV|VG...]",
		    "Shows each pcache volume (of the VGs or volumes given, or all): origin, cache, sizes,\n"
		    "mode, cache used, dirty data, hit ratios, gc_percent, state and health (ok,\n"
		    "needs_check, read-only, Fail, missing device).  '-' where the kernel does not report\n"
		    "a value (inactive volume, or pcache < 1.1.0 for dirty data and hit ratios).");
	bool json = false;
	cmd.options().add_options()
		("json", po::bool_switch(&json), "print one JSON document");
	cmd.hidden().add_options()("lv", po::value<std::vector<std::string>>(), "VG/LV or VG");
	cmd.positional("lv", -1);
	return cmd.run(argc, argv, false, [&](const po::variables_map &vm, context &ctx) {
		std::vector<std::string> args;
		if (vm.count("lv"))
			args = vm["lv"].as<std::vector<std::string>>();
		std::vector<std::string> vgs;
		std::vector<lv_name> wanted;
		for (const auto &a : args) {
			if (a.find('/') != std::string::npos) {
				wanted.push_back(parse_lv_name(a));
				vgs.push_back(wanted.back().vg);
			} else {
				check_lvm_name(a, "VG");
				vgs.push_back(a);
			}
		}
		std::vector<volume_report> rows;
		auto infos = read_vgs(ctx.lvm_cli, vgs);
		for (auto &info : infos) {
			vg_model model(std::move(info));
			bool whole_vg = std::find(args.begin(), args.end(), model.vg().name) != args.end() ||
					args.empty();
			for (const auto &v : model.volumes()) {
				bool named = std::any_of(wanted.begin(), wanted.end(), [&](const lv_name &n) {
					return n.vg == v.vg && n.lv == v.name;
				});
				if (whole_vg || named)
					rows.push_back(make_report(model, v));
			}
			for (const auto &n : wanted)
				if (n.vg == model.vg().name)
					model.get(n.lv);	// throws for a name that is no pcache volume
		}
		if (json) {
			nlohmann::json doc;
			doc["pcache_volumes"] = nlohmann::json::array();
			for (const auto &r : rows)
				doc["pcache_volumes"].push_back(r.to_json());
			if (!ctx.quiet)
				std::cout << doc.dump(2) << "\n";
		} else if (!ctx.quiet) {
			print_table(rows);
		}
		return 0;
	});
}

} // namespace lvpcache
