// lvpcache check / repair: the metadata tools on an inactive volume's cache LV.
#include "activation.h"
#include "block_device.h"
#include "command.h"
#include "process.h"
#include "transaction.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <sys/stat.h>

namespace lvpcache {

namespace {

// The volume must be inactive (a live cache changes under the tools);
// activates only its cache LV for `body`, and deactivates it again.
int with_cache_lv(context &ctx, const std::string &arg, const char *verb,
		  const std::function<int(const volume &, const std::string &dev)> &body)
{
	auto name = parse_lv_name(arg);
	vg_model model(ctx.lvm_cli, name.vg);
	const volume &v = model.get(name.lv);
	if (is_active(v))
		throw std::runtime_error(v.full_name() + " is active; " + verb +
					 " works on an inactive volume (lvpcache deactivate " + v.full_name() + ")");
	if (!v.cachevol || v.cachevol->partial)
		throw std::runtime_error(v.full_name() + ": " + v.missing_reason(model.vg()));
	std::string cv = v.vg + "/" + v.cachevol_name();
	bool was_active = v.cachevol->active;
	if (!was_active)
		ctx.lvm_cli.run({"lvchange", "-ay", "-K", cv});
	int status;
	try {
		status = body(v, "/dev/mapper/" + dm::lvm_dm_name(v.vg, v.cachevol_name()));
	} catch (...) {
		if (!was_active)
			ctx.lvm_cli.run({"lvchange", "-an", cv});
		throw;
	}
	if (!was_active)
		ctx.lvm_cli.run({"lvchange", "-an", cv});
	return status;
}

std::string default_backup(const volume &v)
{
	std::string dir = "/var/lib/lvpcache";
	::mkdir("/var/lib", 0755);
	if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
		throw std::runtime_error("cannot create " + dir + ": " + std::strerror(errno));
	char stamp[32];
	std::time_t now = std::time(nullptr);
	std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
	return dir + "/" + v.vg + "-" + v.name + "-" + stamp + ".backup";
}

} // namespace

int run_check(int argc, char **argv)
{
	command cmd("check VG/LV",
		    "Checks the pcache metadata on the cache LV of an inactive volume with pcache_check\n"
		    "and prints its report.  Exit status 0: clean; 1: damage found (lvpcache repair).");
	cmd.hidden().add_options()("lv", po::value<std::string>(), "VG/LV");
	cmd.positional("lv");
	return cmd.run(argc, argv, true, [&](const po::variables_map &vm, context &ctx) {
		return with_cache_lv(ctx, required_positional(vm, "lv", "VG/LV"), "check",
				     [&](const volume &v, const std::string &dev) {
					     if (cache_is_unformatted(dev)) {
						     if (!ctx.quiet)
							     std::cout << v.full_name() << ": the cache is new "
									  "(formatted on its first activation): "
									  "nothing to check\n";
						     return 0;
					     }
					     std::vector<std::string> args{tool_path("pcache_check")};
					     if (ctx.quiet)
						     args.push_back("-q");
					     args.push_back(dev);
					     auto r = run_process(args, {}, output_mode::inherit);
					     if (r.status > 1)
						     throw std::runtime_error("pcache_check could not run (exit status " +
									      std::to_string(r.status) + ")");
					     return r.status;
				     });
	});
}

int run_repair(int argc, char **argv)
{
	command cmd("repair [--backup FILE] VG/LV",
		    "Repairs the pcache metadata on the cache LV of an inactive volume in place with\n"
		    "pcache_repair, which first saves every region it changes (the damaged metadata) to a\n"
		    "backup file, kept for analysis.  Exit status 0: repaired (or nothing to repair) with\n"
		    "no dirty data lost; 1: dirty data was lost (see the report), or the repair failed.");
	std::string backup;
	cmd.options().add_options()
		("backup", po::value(&backup)->value_name("FILE"),
		 "where to save the damaged regions (a new file; default "
		 "/var/lib/lvpcache/VG-LV-DATE.backup)");
	cmd.hidden().add_options()("lv", po::value<std::string>(), "VG/LV");
	cmd.positional("lv");
	return cmd.run(argc, argv, true, [&](const po::variables_map &vm, context &ctx) {
		return with_cache_lv(ctx, required_positional(vm, "lv", "VG/LV"), "repair",
				     [&](const volume &v, const std::string &dev) {
					     if (cache_is_unformatted(dev))
						     throw std::runtime_error(v.full_name() + ": the cache is new "
											      "(never activated): nothing "
											      "to repair");
					     std::string file = backup.empty() ? default_backup(v) : backup;
					     std::vector<std::string> args{tool_path("pcache_repair"), "--in-place",
									   dev, "--backup", file};
					     if (ctx.quiet)
						     args.push_back("-q");
					     auto r = run_process(args, {}, output_mode::inherit);
					     if (r.status > 1)
						     throw std::runtime_error(
							     "pcache_repair could not run (exit status " +
							     std::to_string(r.status) + ")" +
							     (r.err.empty() ? "" : ": " + r.err));
					     auto check = run_process({tool_path("pcache_check"), "-q", dev});
					     struct stat st;
					     bool kept = ::stat(file.c_str(), &st) == 0;
					     if (check.status != 0)
						     throw std::runtime_error(
							     v.full_name() + ": the cache still does not check clean "
									     "after pcache_repair; it stays down" +
							     (kept ? " (damaged regions saved in " + file + ")" : ""));
					     if (kept)
						     ctx.note(v.full_name() + ": the damaged metadata is kept in " + file);
					     if (r.status != 0)
						     ctx.note(v.full_name() + ": repaired, but dirty data was lost "
									      "(see the report above); the volume "
									      "can be activated");
					     return r.status;
				     });
	});
}

} // namespace lvpcache
