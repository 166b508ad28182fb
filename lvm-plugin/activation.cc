#include "activation.h"

#include "block_device.h"
#include "kernel_log.h"
#include "kernel_target.h"
#include "process.h"
#include "transaction.h"

#include <cerrno>
#include <cstring>
#include <limits.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace lvpcache {

namespace {

std::string mapper_path(const std::string &vg, const std::string &lv)
{
	return "/dev/mapper/" + dm::lvm_dm_name(vg, lv);
}

// "major:minor" of an active LV, as the pcache table names its devices.
std::string dev_number(const std::string &vg, const std::string &lv)
{
	auto i = dm::info(dm::lvm_dm_name(vg, lv));
	if (!i.exists)
		throw std::runtime_error(vg + "/" + lv + " is not active");
	return std::to_string(i.major) + ":" + std::to_string(i.minor);
}

// /dev/<vg>/<lv> -> /dev/mapper/<vg>-<lv>.  udev's rule (69-lvpcache.rules)
// makes it where udev runs; without udev lvpcache does, as LVM does for
// its own LVs then.
void make_link(const volume &v)
{
	std::string target = "/dev/mapper/" + v.dm_name();
	std::string dir = "/dev/" + v.vg;
	if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
		throw std::runtime_error("cannot create " + dir + ": " + std::strerror(errno));
	char buf[PATH_MAX];
	ssize_t n = ::readlink(v.link_path().c_str(), buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		struct stat a, b;
		if (::stat(v.link_path().c_str(), &a) == 0 && ::stat(target.c_str(), &b) == 0 &&
		    a.st_rdev == b.st_rdev)
			return;	// udev's link (../dm-N) or ours
	}
	::unlink(v.link_path().c_str());
	if (::symlink(target.c_str(), v.link_path().c_str()) != 0)
		throw std::runtime_error("cannot create " + v.link_path() + ": " + std::strerror(errno));
}

void remove_link(const volume &v)
{
	char buf[PATH_MAX];
	ssize_t n = ::readlink(v.link_path().c_str(), buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = 0;
	std::string to(buf);
	// Only our link (or udev's, to a dm node): never a file of someone else.
	if (to == "/dev/mapper/" + v.dm_name() || to.rfind("../dm-", 0) == 0)
		::unlink(v.link_path().c_str());
	std::string dir = "/dev/" + v.vg;
	::rmdir(dir.c_str());	// only when empty, as LVM does
}

std::string self_dir()
{
	char buf[PATH_MAX];
	ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return "";
	std::string p(buf, static_cast<size_t>(n));
	return p.substr(0, p.rfind('/'));
}

// The placeholder LV active by hand (lvchange -ay -K) holds the name
// <vg>-<lv> with an error table: take it down when nothing has it open.
void free_placeholder_name(const context &ctx, const volume &v, const dm::device_info &di)
{
	if (v.placeholder && di.uuid.rfind("LVM-", 0) == 0 && di.open_count == 0) {
		ctx.note(v.full_name() + ": the name placeholder LV was active (error target); "
					 "deactivating it");
		ctx.lvm_cli.run({"lvchange", "-an", v.vg + "/" + v.name});
		return;
	}
	throw std::runtime_error("a device-mapper device named " + v.dm_name() + " (uuid " + di.uuid +
				 ") exists and is not this pcache volume; remove it first");
}

void check_cache(const volume &v, transaction &tx)
{
	std::string dev = mapper_path(v.vg, v.cachevol_name());
	if (cache_is_unformatted(dev))
		return;	// a new cache: the kernel formats it on this first load
	auto r = run_process({tool_path("pcache_check"), "-q", "--clear-needs-check-flag", dev});
	if (r.status == 1)
		tx.fail("check the cache metadata",
			"pcache_check found damage in " + v.vg + "/" + v.cachevol_name() +
				"; repair needed: lvpcache repair " + v.full_name());
	if (r.status != 0)
		tx.fail("check the cache metadata",
			"pcache_check could not run (exit status " + std::to_string(r.status) + ")" +
				(r.err.empty() ? "" : ": " + r.err));
}

} // namespace

std::string tool_path(const std::string &tool)
{
	std::string next_to_us = self_dir() + "/" + tool;
	if (::access(next_to_us.c_str(), X_OK) == 0)
		return next_to_us;
	return tool;	// found in PATH, or "cannot run" later
}

bool is_active(const volume &v)
{
	auto i = dm::info(v.dm_name());
	return i.exists && i.uuid == v.dm_uuid();
}

void activate(const context &ctx, const vg_model &model, const volume &v)
{
	auto di = dm::info(v.dm_name());
	if (di.exists && di.uuid == v.dm_uuid())
		return;
	std::string missing = v.missing_reason(model.vg());
	if (!missing.empty())
		throw std::runtime_error(
			v.full_name() + " not activated: " + missing +
			". The volume stays down, and its origin is not activated alone: it lacks the "
			"writes still in the cache. When the device is back: lvpcache activate " +
			v.full_name() + ". To give up the cache and its dirty data: lvpcache detach "
			"--force " + v.full_name());
	if (di.exists)
		free_placeholder_name(ctx, v, di);
	dm::version target = load_pcache_target();
	if (v.config.cache_mode != "writeback")
		require_interface_1_1(target, "cache mode " + v.config.cache_mode,
				      "activating " + v.full_name());
	if (v.config.writeback_rate)
		require_interface_1_1(target, "the 'writeback_rate' message",
				      "activating " + v.full_name() + " with a writeback rate");

	transaction tx(ctx.lvm_cli, "activate " + v.full_name());
	std::string origin = v.vg + "/" + v.origin_name(), cachevol = v.vg + "/" + v.cachevol_name();
	tx.lvm_step("activate the components", {"lvchange", "-ay", "-K", origin, cachevol},
		    {"lvchange", "-an", origin, cachevol});
	std::string cache_dev = mapper_path(v.vg, v.cachevol_name());
	tx.step(
		"check that the cache LV supports DAX",
		[&] {
			if (!is_dax(cache_dev))
				throw std::runtime_error(cachevol + " does not support DAX (queue/dax is 0): "
								    "is a PV under it not pmem, or moved by pvmove?");
		},
		nullptr, "");
	check_cache(v, tx);

	std::string params = dev_number(v.vg, v.cachevol_name()) + " " + dev_number(v.vg, v.origin_name()) +
			     " 4 cache_mode " + v.config.cache_mode + " data_crc " +
			     (v.config.data_crc ? "true" : "false");
	kernel_log_cursor klog;
	tx.step(
		"load the pcache table",
		[&] {
			try {
				dm::create(v.dm_name(), v.dm_uuid(), v.origin->size / 512, "pcache", params);
			} catch (const dm::dm_error &e) {
				std::string why = klog.lines_with("pcache");
				throw std::runtime_error(std::string(e.what()) +
							 (why.empty() ? "" : " (kernel: " + why + ")"));
			}
		},
		[&] { dm::remove(v.dm_name()); }, "dmsetup remove " + v.dm_name());
	tx.step(
		"apply the settings",
		[&] {
			auto st = live_status(v);
			if (!st.failed && st.gc_percent != v.config.gc_percent)
				send_message(v, "gc_percent " + std::to_string(v.config.gc_percent));
			if (v.config.writeback_rate)
				send_message(v, "writeback_rate " + std::to_string(v.config.writeback_rate));
		},
		nullptr, "");
	tx.step("create " + v.link_path(), [&] { make_link(v); }, nullptr, "");
	tx.commit();
}

void deactivate_components(const context &ctx, const volume &v)
{
	std::vector<std::string> args{"lvchange", "-an"};
	for (const lv_info *lv : {v.origin, v.cachevol})
		if (lv && dm::info(dm::lvm_dm_name(v.vg, lv->name)).exists)
			args.push_back(lv->full_name());
	if (args.size() > 2)
		ctx.lvm_cli.run(args);
}

void remove_device(const volume &v)
{
	auto di = dm::info(v.dm_name());
	if (di.exists && di.uuid == v.dm_uuid()) {
		if (di.open_count > 0)
			throw std::runtime_error(v.full_name() + " is in use (open " +
						 std::to_string(di.open_count) +
						 " times): unmount it or stop what uses it first");
		try {
			dm::remove(v.dm_name());
		} catch (const dm::dm_error &e) {
			if (e.error_number() == EBUSY)
				throw std::runtime_error(v.full_name() + " is in use: unmount it or stop "
									 "what uses it first");
			throw;
		}
		remove_link(v);
	}
}

void deactivate(const context &ctx, const volume &v)
{
	remove_device(v);
	try {
		deactivate_components(ctx, v);
	} catch (const std::exception &e) {
		throw std::runtime_error(v.full_name() + ": the pcache device is removed, but deactivating "
							 "its components failed: " + std::string(e.what()) +
					 "\nto finish, run: lvchange -an " + v.vg + "/" + v.origin_name() + " " +
					 v.vg + "/" + v.cachevol_name());
	}
}

pcache_status live_status(const volume &v)
{
	return parse_pcache_status(dm::status(v.dm_name()));
}

pcache_table live_table(const volume &v)
{
	return parse_pcache_table(dm::table(v.dm_name()));
}

void send_message(const volume &v, const std::string &msg)
{
	kernel_log_cursor klog;
	try {
		dm::message(v.dm_name(), msg);
	} catch (const dm::dm_error &e) {
		std::string why = klog.lines_with("pcache");
		throw std::runtime_error(v.full_name() + ": the pcache target refused the message '" + msg +
					 "': " + std::strerror(e.error_number()) +
					 (why.empty() ? "" : " (kernel: " + why + ")"));
	}
}

} // namespace lvpcache
