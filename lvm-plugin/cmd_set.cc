// lvpcache set: change a volume's settings, live and in its tags.
#include "activation.h"
#include "command.h"
#include "kernel_target.h"
#include "transaction.h"
#include "values.h"

namespace lvpcache {

int run_set(int argc, char **argv)
{
	command cmd("set [--cachemode MODE] [--gc-percent N] [--writeback-rate N] VG/LV",
		    "Changes the settings of a pcache volume: on an active volume through device-mapper\n"
		    "messages, at once; always in the tags of its origin, for the next activation.");
	std::string mode, gc, rate;
	cmd.options().add_options()
		("cachemode", po::value(&mode)->value_name("MODE"),
		 "writeback, writethrough, writearound or passthrough (needs pcache >= 1.1.0; leaving "
		 "writeback first writes the dirty data back)")
		("gc-percent", po::value(&gc)->value_name("N"),
		 "garbage collection threshold, percent of the cache used (0-90)")
		("writeback-rate", po::value(&rate)->value_name("MiB/s"),
		 "cap the writeback rate (0 = unlimited; needs pcache >= 1.1.0)");
	cmd.hidden().add_options()("lv", po::value<std::string>(), "VG/LV");
	cmd.positional("lv");
	return cmd.run(argc, argv, true, [&](const po::variables_map &vm, context &ctx) {
		auto name = parse_lv_name(required_positional(vm, "lv", "VG/LV"));
		if (mode.empty() && gc.empty() && rate.empty())
			throw cli::usage_error("nothing to set: give --cachemode, --gc-percent or --writeback-rate");
		std::optional<std::string> new_mode;
		std::optional<unsigned> new_gc, new_rate;
		if (!mode.empty())
			new_mode = parse_cache_mode(mode);
		if (!gc.empty())
			new_gc = parse_unsigned(gc, "--gc-percent", gc_percent_max);
		if (!rate.empty())
			new_rate = parse_unsigned(rate, "--writeback-rate", UINT32_MAX);

		vg_model model(ctx.lvm_cli, name.vg);
		const volume &v = model.get(name.lv);
		if (!v.origin)
			throw std::runtime_error(v.full_name() + ": " + v.missing_reason(model.vg()));
		settings old = v.config, next = v.config;
		if (new_mode)
			next.cache_mode = *new_mode;
		if (new_gc)
			next.gc_percent = *new_gc;
		if (new_rate)
			next.writeback_rate = *new_rate;
		bool active = is_active(v);
		bool mode_changes = next.cache_mode != old.cache_mode;
		bool rate_changes = next.writeback_rate != old.writeback_rate;
		if (mode_changes || rate_changes) {
			dm::version target = load_pcache_target();
			if (mode_changes)
				require_interface_1_1(target, "the 'cache_mode' message and modes other than writeback",
						      "--cachemode");
			if (rate_changes)
				require_interface_1_1(target, "the 'writeback_rate' message", "--writeback-rate");
		}

		transaction tx(ctx.lvm_cli, "set " + v.full_name());
		if (active) {
			if (next.gc_percent != old.gc_percent)
				tx.step("send gc_percent " + std::to_string(next.gc_percent),
					[&] { send_message(v, "gc_percent " + std::to_string(next.gc_percent)); },
					[&] { send_message(v, "gc_percent " + std::to_string(old.gc_percent)); },
					"dmsetup message " + v.dm_name() + " 0 gc_percent " + std::to_string(old.gc_percent));
			if (rate_changes)
				tx.step("send writeback_rate " + std::to_string(next.writeback_rate),
					[&] { send_message(v, "writeback_rate " + std::to_string(next.writeback_rate)); },
					[&] { send_message(v, "writeback_rate " + std::to_string(old.writeback_rate)); },
					"dmsetup message " + v.dm_name() + " 0 writeback_rate " +
						std::to_string(old.writeback_rate));
			if (mode_changes) {
				// Leaving writeback needs a clean cache (as dm-cache): write it back first.
				if (old.cache_mode == "writeback")
					tx.step("write back the dirty data (flush)", [&] { send_message(v, "flush"); },
						nullptr, "");
				tx.step("send cache_mode " + next.cache_mode,
					[&] { send_message(v, "cache_mode " + next.cache_mode); },
					[&] { send_message(v, "cache_mode " + old.cache_mode); },
					"dmsetup message " + v.dm_name() + " 0 cache_mode " + old.cache_mode);
			}
		}
		std::vector<std::string> change{"lvchange"}, back{"lvchange"};
		auto old_tags = old.tags(), new_tags = next.tags();
		for (size_t i = 0; i < old_tags.size(); ++i) {
			if (old_tags[i] == new_tags[i])
				continue;
			change.insert(change.end(), {"--deltag", old_tags[i], "--addtag", new_tags[i]});
			back.insert(back.end(), {"--deltag", new_tags[i], "--addtag", old_tags[i]});
		}
		if (change.size() > 1) {
			change.push_back(v.origin->full_name());
			back.push_back(v.origin->full_name());
			tx.lvm_step("store the settings in the tags of " + v.origin->full_name(), change, back);
		}
		tx.commit();
		return 0;
	});
}

} // namespace lvpcache
