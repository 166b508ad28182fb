#include "volume_report.h"

#include "activation.h"

#include <pcache/pcache_format.h>

namespace lvpcache {

namespace {

std::optional<double> ratio(uint64_t part, uint64_t whole)
{
	if (!whole)
		return std::nullopt;
	return 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

nlohmann::json opt(const std::optional<double> &v)
{
	return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

} // namespace

std::optional<double> volume_report::used_percent() const
{
	if (!kernel || kernel->failed)
		return std::nullopt;
	return ratio(kernel->segs_used, kernel->cache_segs);
}

std::optional<double> volume_report::dirty_percent() const
{
	if (!kernel || kernel->failed || !kernel->extended)
		return std::nullopt;
	return ratio(kernel->extended->dirty_bytes, uint64_t(kernel->cache_segs) * PCACHE_SEG_DATA_SIZE);
}

std::optional<double> volume_report::read_hit_percent() const
{
	if (!kernel || kernel->failed || !kernel->extended)
		return std::nullopt;
	const auto &x = *kernel->extended;
	return ratio(x.read_hits, x.read_hits + x.read_misses);
}

std::optional<double> volume_report::write_hit_percent() const
{
	if (!kernel || kernel->failed || !kernel->extended)
		return std::nullopt;
	const auto &x = *kernel->extended;
	return ratio(x.write_hits, x.write_hits + x.write_misses);
}

volume_report make_report(const vg_model &model, const volume &v)
{
	volume_report r;
	r.vg = v.vg;
	r.name = v.name;
	r.origin = v.origin ? v.origin->name : "";
	r.cachevol = v.cachevol ? v.cachevol->name : "";
	r.origin_size = v.origin ? v.origin->size : 0;
	r.cache_size = v.cachevol ? v.cachevol->size : 0;
	r.config = v.config;
	r.mode = v.config.cache_mode;
	r.active = v.origin && is_active(v);
	r.problem = v.missing_reason(model.vg());
	if (r.active) {
		try {
			r.kernel = live_status(v);
			if (r.kernel->extended)
				r.mode = r.kernel->extended->mode;
			else
				r.mode = live_table(v).cache_mode;
		} catch (const std::exception &e) {
			r.kernel_error = e.what();
		}
	}
	if (r.kernel && r.kernel->failed)
		r.health = "Fail";
	else if (!r.problem.empty())
		r.health = "missing device";
	else if (r.kernel && r.kernel->extended && r.kernel->extended->needs_check)
		r.health = "needs_check";
	else if (r.kernel && r.kernel->extended && r.kernel->extended->metadata_read_only)
		r.health = "read-only";
	else if (r.active && r.kernel)
		r.health = "ok";
	else if (r.active)
		r.health = "unknown";
	else
		r.health = "-";
	return r;
}

nlohmann::json volume_report::to_json() const
{
	nlohmann::json j;
	j["vg"] = vg;
	j["lv"] = name;
	j["origin"] = origin;
	j["cachevol"] = cachevol;
	j["origin_size"] = origin_size;
	j["cache_size"] = cache_size;
	j["active"] = active;
	j["cache_mode"] = mode;
	j["data_crc"] = config.data_crc;
	j["gc_percent"] = kernel && !kernel->failed ? kernel->gc_percent : config.gc_percent;
	j["writeback_rate"] = config.writeback_rate;
	j["used_percent"] = opt(used_percent());
	j["dirty_percent"] = opt(dirty_percent());
	j["dirty_bytes"] = kernel && kernel->extended ? nlohmann::json(kernel->extended->dirty_bytes)
						      : nlohmann::json(nullptr);
	j["read_hit_percent"] = opt(read_hit_percent());
	j["write_hit_percent"] = opt(write_hit_percent());
	j["health"] = health;
	if (!problem.empty())
		j["problem"] = problem;
	if (!kernel_error.empty())
		j["kernel_error"] = kernel_error;
	if (kernel) {
		nlohmann::json k;
		k["failed"] = kernel->failed;
		if (!kernel->failed) {
			k["sb_flags"] = kernel->sb_flags;
			k["seg_total"] = kernel->seg_total;
			k["cache_segs"] = kernel->cache_segs;
			k["segs_used"] = kernel->segs_used;
			k["gc_percent"] = kernel->gc_percent;
			k["cache_flags"] = kernel->cache_flags;
			k["key_head"] = kernel->key_head;
			k["dirty_tail"] = kernel->dirty_tail;
			k["key_tail"] = kernel->key_tail;
			k["writeback_errors"] = kernel->writeback_errors ? nlohmann::json(*kernel->writeback_errors)
									 : nlohmann::json(nullptr);
			if (kernel->extended) {
				const auto &x = *kernel->extended;
				k["read_hits"] = x.read_hits;
				k["read_misses"] = x.read_misses;
				k["write_hits"] = x.write_hits;
				k["write_misses"] = x.write_misses;
				k["dirty_bytes"] = x.dirty_bytes;
				k["mode"] = x.mode;
				k["metadata_mode"] = x.metadata_read_only ? "ro" : "rw";
				k["needs_check"] = x.needs_check;
			}
		}
		j["kernel"] = k;
	} else {
		j["kernel"] = nullptr;
	}
	return j;
}

} // namespace lvpcache
