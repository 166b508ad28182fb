// lvpcache detach: write the cache back, then make the origin a plain LV
// named <lv> again (and with --uncache remove the cache LV).
#include "activation.h"
#include "block_device.h"
#include "command.h"
#include "kernel_target.h"
#include "lvm_commands.h"
#include "process.h"
#include "transaction.h"
#include "values.h"
#include "writeback_watch.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>
#include <unistd.h>

namespace lvpcache {

namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int)
{
	interrupted = true;
}

// SIGINT/SIGTERM set a flag while detach waits (a handler, not SIG_IGN,
// so that pcache_writeback started meanwhile still gets Ctrl-C).
class interrupt_guard {
public:
	interrupt_guard()
	{
		struct sigaction sa = {};
		sa.sa_handler = on_interrupt;
		::sigaction(SIGINT, &sa, &old_int_);
		::sigaction(SIGTERM, &sa, &old_term_);
	}
	~interrupt_guard()
	{
		::sigaction(SIGINT, &old_int_, nullptr);
		::sigaction(SIGTERM, &old_term_, nullptr);
	}

private:
	struct sigaction old_int_, old_term_;
};

std::string interrupted_message(const volume &v, bool active)
{
	return "detach of " + v.full_name() + " interrupted; nothing was detached and " + v.full_name() +
	       (active ? " is still active and cached" : " is still a pcache volume") +
	       " (the data written back so far stays written back): run the same command again to "
	       "continue";
}

// "1.2 GiB dirty, 85.0 MiB/s, ETA 0:15" redrawn on a terminal.
class writeback_progress {
public:
	writeback_progress(std::string label, bool enabled)
		: label_(std::move(label)), enabled_(enabled && ::isatty(STDERR_FILENO)),
		  start_(std::chrono::steady_clock::now())
	{
	}
	~writeback_progress() { finish(); }

	void update(uint64_t dirty)
	{
		auto now = std::chrono::steady_clock::now();
		double secs = std::chrono::duration<double>(now - start_).count();
		if (!first_)
			first_ = dirty;
		if (!enabled_ || secs < 0.5)
			return;
		double rate = secs > 0 && *first_ > dirty ? (*first_ - dirty) / secs : 0;
		std::string eta = "-:--";
		if (rate > 0) {
			auto left = static_cast<unsigned long>(dirty / rate);
			char buf[32];
			std::snprintf(buf, sizeof(buf), "%lu:%02lu", left / 60, left % 60);
			eta = buf;
		}
		std::fprintf(stderr, "\r%s: %s dirty, %s/s, ETA %s   ", label_.c_str(), human_size(dirty).c_str(),
			     human_size(static_cast<uint64_t>(rate)).c_str(), eta.c_str());
		std::fflush(stderr);
		drawn_ = true;
	}
	void finish()
	{
		if (drawn_)
			std::fprintf(stderr, "\r%*s\r", static_cast<int>(label_.size()) + 60, "");
		drawn_ = false;
	}

private:
	std::string label_;
	bool enabled_, drawn_ = false;
	std::chrono::steady_clock::time_point start_;
	std::optional<uint64_t> first_;
};

// The kernel can write the cache back only with read-write metadata and
// no needs_check flag; otherwise the offline path runs pcache_check first
// (which says whether the cache needs a repair).
bool can_clean_online(const volume &v)
{
	auto target = dm::target_version("pcache");
	if (!target || !target->at_least(pcache_interface_1_1.major, pcache_interface_1_1.minor,
					 pcache_interface_1_1.patch))
		return false;
	auto st = live_status(v);
	return !st.failed && st.extended && !st.extended->metadata_read_only && !st.extended->needs_check;
}

// How long the cleaner may go without writing a byte back while the
// kernel counts new writeback errors, before detach gives up.
constexpr auto stalled_writeback_limit = std::chrono::seconds(30);

// Online: the cleaner writes everything back while the volume stays up.
// Ctrl-C, or a writeback that only fails, turns the cleaner off again
// and leaves the volume as it was.
void clean_online(const context &ctx, const volume &v)
{
	send_message(v, "cleaner on");
	auto give_up = [&](const std::string &why) {
		try {
			send_message(v, "cleaner off");
		} catch (const std::exception &e) {
			throw std::runtime_error(why + "; turning the cleaner off failed too: " + e.what());
		}
		throw std::runtime_error(why);
	};
	writeback_progress progress(v.full_name() + ": writing back", !ctx.quiet);
	writeback_watch watch(stalled_writeback_limit);
	for (;;) {
		auto st = live_status(v);
		if (st.failed || !st.extended)
			give_up(v.full_name() + ": the cache " +
				(st.failed ? "has failed (status Fail)" : "reports no dirty bytes") +
				"; cannot write it back");
		const auto &x = *st.extended;
		if (x.metadata_read_only || x.needs_check)
			give_up(v.full_name() + ": the cache metadata became " +
				(x.needs_check ? "needs_check" : "read-only") +
				" during the writeback; nothing was detached (see the kernel log, then "
				"lvpcache deactivate " + v.full_name() + " and lvpcache check " + v.full_name() + ")");
		progress.update(x.dirty_bytes);
		if (x.dirty_bytes == 0)
			break;
		if (watch.stalled(x.dirty_bytes, x.writeback_errors, std::chrono::steady_clock::now())) {
			progress.finish();
			give_up(v.full_name() + ": writing back to the origin " + v.vg + "/" + v.origin_name() +
				" fails (" + std::to_string(watch.new_errors()) + " writeback errors, no progress for " +
				std::to_string(stalled_writeback_limit.count()) +
				" s); nothing was detached and the volume stays cached (see the kernel log)");
		}
		if (interrupted) {
			progress.finish();
			give_up(interrupted_message(v, true));
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(200));
	}
	progress.finish();
	// Every byte written back and flushed on the origin.
	send_message(v, "flush");
}

struct offline_state {
	bool unformatted = false;
	uint64_t dirty_bytes = 0;
};

offline_state inspect_offline(const volume &v, const std::string &cache_dev)
{
	offline_state s;
	if (cache_is_unformatted(cache_dev)) {
		s.unformatted = true;
		return s;
	}
	auto r = run_process({tool_path("pcache_check"), "--json", cache_dev});
	if (r.status == 1)
		throw std::runtime_error(v.full_name() + ": the cache metadata is damaged (pcache_check); "
							 "repair it first: lvpcache repair " + v.full_name());
	if (r.status != 0)
		throw std::runtime_error("pcache_check could not run (exit status " + std::to_string(r.status) +
					 ")" + (r.err.empty() ? "" : ": " + r.err));
	try {
		auto doc = nlohmann::json::parse(r.out);
		s.dirty_bytes = doc.at("map").at("dirty_bytes").get<uint64_t>();
	} catch (const std::exception &e) {
		throw std::runtime_error("cannot read the dirty bytes from pcache_check --json: " +
					 std::string(e.what()));
	}
	return s;
}

// Offline: pcache_writeback writes the dirty data from the inactive cache
// LV to the origin and marks the cache clean (its progress bar on the
// terminal; Ctrl-C stops it with the cache unchanged).
void clean_offline(const context &ctx, const volume &v)
{
	std::string origin = v.vg + "/" + v.origin_name(), cachevol = v.vg + "/" + v.cachevol_name();
	std::string cache_dev = "/dev/mapper/" + dm::lvm_dm_name(v.vg, v.cachevol_name());
	std::string origin_dev = "/dev/mapper/" + dm::lvm_dm_name(v.vg, v.origin_name());
	if (!dm::info(dm::lvm_dm_name(v.vg, v.origin_name())).exists ||
	    !dm::info(dm::lvm_dm_name(v.vg, v.cachevol_name())).exists)
		ctx.lvm_cli.run({"lvchange", "-ay", "-K", origin, cachevol});
	try {
		auto s = inspect_offline(v, cache_dev);
		if (!s.unformatted && s.dirty_bytes) {
			ctx.note(v.full_name() + ": writing back " + human_size(s.dirty_bytes) +
				 " of dirty data to " + origin + " (pcache_writeback)");
			std::vector<std::string> args{tool_path("pcache_writeback"), "--cache", cache_dev,
						      "--origin", origin_dev};
			if (ctx.quiet)
				args.push_back("-q");
			auto r = run_process(args, {}, output_mode::inherit);
			if (interrupted)
				throw std::runtime_error(interrupted_message(v, false));
			if (r.status != 0)
				throw std::runtime_error(v.full_name() + ": pcache_writeback failed (exit status " +
							 std::to_string(r.status) + "); nothing was detached");
			s = inspect_offline(v, cache_dev);
			if (s.dirty_bytes)
				throw std::runtime_error(v.full_name() + ": " + human_size(s.dirty_bytes) +
							 " are still dirty after pcache_writeback; nothing was "
							 "detached");
		}
	} catch (...) {
		deactivate_components(ctx, v);
		throw;
	}
	deactivate_components(ctx, v);
}

bool confirm(const context &ctx, const std::string &question)
{
	if (ctx.yes)
		return true;
	if (!::isatty(STDIN_FILENO))
		throw std::runtime_error(question + " Not confirmed: add --yes to confirm without a terminal");
	std::cerr << question << " [y/n]: " << std::flush;
	std::string answer;
	std::getline(std::cin, answer);
	return answer == "y" || answer == "yes";
}

// The LVM metadata half of detach: name placeholder removed, origin
// renamed back and made plain, cache LV made plain (or removed).
void detach_metadata(const context &ctx, transaction &tx, const vg_model &model, const volume &v,
		     bool uncache, bool activate_after)
{
	const std::string vg = v.vg, full = v.full_name();
	if (v.placeholder)
		tx.lvm_step("remove the name placeholder " + full, {"lvremove", "-y", full},
			    create_placeholder(vg, v.name, v.placeholder->size));
	tx.lvm_step("rename " + v.origin->full_name() + " back to " + full,
		    {"lvrename", vg, v.origin->name, v.name}, {"lvrename", vg, v.name, v.origin->name});
	lv_info renamed = *v.origin;
	renamed.name = v.name;
	auto o = unmark_component(renamed);
	tx.lvm_step("make " + full + " a plain LV again", o.unmark, o.remark);
	if (v.cachevol && !v.cachevol->partial && !uncache) {
		auto c = unmark_component(*v.cachevol);
		tx.lvm_step("make " + v.cachevol->full_name() + " a plain LV again", c.unmark, c.remark);
		auto was = v.cachevol->tag_value(tag::was_name);
		if (was && *was != v.cachevol->name) {
			if (model.vg().find(*was))
				ctx.note("keeping the name " + v.cachevol->full_name() + ": " + vg + "/" + *was +
					 " exists");
			else
				tx.lvm_step("rename " + v.cachevol->full_name() + " back to " + vg + "/" + *was,
					    {"lvrename", vg, v.cachevol->name, *was},
					    {"lvrename", vg, *was, v.cachevol->name});
		}
	}
	if (activate_after)
		tx.lvm_step("activate " + full, {"lvchange", "-ay", full}, {"lvchange", "-an", full});
	if (v.cachevol && uncache)
		tx.lvm_step("remove the cache LV " + v.cachevol->full_name(),
			    {"lvremove", "-y", v.cachevol->full_name()}, {});
}

int detach_missing_cache(context &ctx, const vg_model &model, const volume &v, bool force)
{
	std::string why = v.missing_reason(model.vg());
	if (!force)
		throw std::runtime_error(v.full_name() + ": " + why +
					 ". Detaching without the cache loses every write that is only in "
					 "it; if that is acceptable: lvpcache detach --force " + v.full_name());
	ctx.note("WARNING: " + v.full_name() + ": " + why +
		 ". Dirty data in the cache is lost: the origin may hold old or inconsistent data "
		 "(check the file system before use).");
	if (!confirm(ctx, "Detach " + v.full_name() + " without its cache, losing its dirty data?"))
		throw std::runtime_error("not detached");
	auto di = dm::info(v.dm_name());
	if (di.exists && di.uuid == v.dm_uuid()) {
		if (di.open_count)
			throw std::runtime_error(v.full_name() + " is in use: unmount it first");
		dm::remove(v.dm_name());
	}
	deactivate_components(ctx, v);
	transaction tx(ctx.lvm_cli, "detach --force " + v.full_name());
	if (v.cachevol) {
		tx.lvm_step("remove the cache LV " + v.cachevol->full_name() + " (its PV is missing)",
			    {"lvremove", "-y", v.cachevol->full_name()}, {});
		tx.note_irreversible("the cache LV " + v.cachevol->full_name() + " was removed");
	}
	if (!model.vg().missing_pvs().empty()) {
		// LVM changes nothing else in a VG while PVs are missing; the
		// missing PV held only the cache LV (vgreduce refuses otherwise).
		tx.lvm_step("remove the missing PV from " + v.vg, {"vgreduce", "--removemissing", v.vg}, {});
		tx.note_irreversible("the missing PV was removed from " + v.vg);
	}
	detach_metadata(ctx, tx, model, v, false, false);
	tx.commit();
	return 0;
}

} // namespace

int run_detach(int argc, char **argv)
{
	command cmd("detach [--uncache] [--force [--yes]] VG/LV",
		    "Writes every dirty byte of the cache back to the origin, then makes the origin a plain\n"
		    "LV named VG/LV again and the cache LV a plain LV (or removes it with --uncache).\n"
		    "An active volume is written back by the kernel (cleaner, pcache >= 1.1.0) and stays\n"
		    "active; otherwise by pcache_writeback, offline.  Interrupted (Ctrl-C), nothing is\n"
		    "detached and a new run continues.  The volume must not be open.");
	bool uncache = false, force = false, yes = false;
	cmd.options().add_options()
		("uncache", po::bool_switch(&uncache), "remove the cache LV after detaching")
		("force", po::bool_switch(&force),
		 "detach a volume whose cache LV is missing, losing the dirty data that was in it")
		("yes,y", po::bool_switch(&yes), "do not ask to confirm --force");
	cmd.hidden().add_options()("lv", po::value<std::string>(), "VG/LV");
	cmd.positional("lv");
	return cmd.run(argc, argv, true, [&](const po::variables_map &vm, context &ctx) {
		auto name = parse_lv_name(required_positional(vm, "lv", "VG/LV"));
		ctx.yes = yes;
		if (yes && !force)
			throw cli::usage_error("--yes only confirms --force");
		vg_model model(ctx.lvm_cli, name.vg);
		const volume &v = model.get(name.lv);
		if (!v.origin)
			throw std::runtime_error(v.full_name() + ": " + v.missing_reason(model.vg()) +
						 "; there is nothing to detach to");
		if (const lv_info *other = model.vg().find(v.name); other && other != v.placeholder)
			throw std::runtime_error(other->full_name() + " exists and is not the name placeholder of "
								      "the pcache volume; rename it first");
		if (!v.cachevol || v.cachevol->partial)
			return detach_missing_cache(ctx, model, v, force);
		if (force)
			throw cli::usage_error("--force is only for a volume whose cache LV is missing; " +
					       v.full_name() + "'s is present and is written back");

		interrupt_guard guard;
		bool was_active = is_active(v);
		if (was_active) {
			auto di = dm::info(v.dm_name());
			if (di.open_count)
				throw std::runtime_error(v.full_name() + " is in use (open " +
							 std::to_string(di.open_count) +
							 " times): unmount it first; detach replaces the pcache "
							 "device by the origin");
			if (can_clean_online(v))
				clean_online(ctx, v);
			remove_device(v);	// the components stay up for the offline check
		}
		try {
			clean_offline(ctx, v);
		} catch (...) {
			if (was_active)
				activate(ctx, model, v);
			throw;
		}
		try {
			transaction tx(ctx.lvm_cli, "detach " + v.full_name());
			detach_metadata(ctx, tx, model, v, uncache, was_active);
			tx.commit();
		} catch (...) {
			// The VG is as it was (or the error says what is left):
			// bring the volume back up as it was.
			if (was_active) {
				vg_model again(ctx.lvm_cli, v.vg);
				if (const volume *same = again.find(v.name))
					activate(ctx, again, *same);
			}
			throw;
		}
		return 0;
	});
}

} // namespace lvpcache
