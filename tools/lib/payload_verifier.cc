#include "payload_verifier.h"

#include "crc32c.h"
#include "layout.h"
#include "rules.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace pcache {

payload_verifier::payload_verifier(device &dev, damage_sink &sink) : dev_(dev), sink_(sink) {}

void payload_verifier::on_cache_info(const replica_set<cache_info> &info)
{
	enabled_ = info.current().data_crc();
	n_segs_ = info.current().n_segs;
	segs_.reset(std::min(n_segs_, seg_num_));
}

void payload_verifier::on_key(const key_record &rec)
{
	const cache_key &k = rec.key;
	// Only keys whose payload lies inside one data area can be read.
	if (!enabled_ || !key_is_sound(k, n_segs_) || !segs_.known(k.seg))
		return;
	uint64_t off = data_offset(segs_.phys(k.seg), k.seg_off);
	buf_.resize(k.len);
	try {
		dev_.read(off, buf_.data(), k.len);
	} catch (const io_error &e) {
		location where = key_location(rec, record_kind::payload);
		where.device_offset = off;
		sink_.report({damage_kind::read_error, where, e.what(), {{k.off, k.end()}}});
		return;
	}
	++verified_;
	bytes_ += k.len;
	uint32_t crc = data_crc(buf_.data(), k.len);
	if (crc == k.data_crc)
		return;
	char detail[200];
	std::snprintf(detail, sizeof(detail), "data CRC 0x%08" PRIx32 " does not match the key's 0x%08" PRIx32,
		      crc, k.data_crc);
	location where = key_location(rec, record_kind::payload);
	where.device_offset = off;
	if (rec.stale())
		sink_.report({damage_kind::stale_key_data_crc_mismatch, where,
			      std::string(detail) +
				      " (a stale key, whose segment was reused; Linux's replay still "
				      "checks it and would refuse to start the cache)",
			      {{k.off, k.end()}}});
	else
		sink_.report({damage_kind::key_data_crc_mismatch, where,
			      std::string(detail) + ": the cached data is damaged", {{k.off, k.end()}}});
}

} // namespace pcache
