#include "cache_info_update.h"

#include "decode.h"
#include "encode.h"

namespace pcache {

void write_cache_info_flags(device &dev, const replica_set<cache_info> &info, uint32_t flags)
{
	cache_info next = info.current();
	next.flags = flags;
	next.header.seq = static_cast<uint8_t>(next.header.seq + 1);
	// The kernel never sets these bytes in cache_info; neither do we.
	next.header.version = 0;
	next.header.res = 0;
	unsigned slot = info.update_slot();
	pcache_cache_info raw = encode(next);
	dev.write(PCACHE_CACHE_INFO_REPLICA_OFF(slot), &raw, sizeof(raw));
	dev.flush();

	pcache_cache_info back[PCACHE_META_REPLICAS];
	for (unsigned i = 0; i < PCACHE_META_REPLICAS; ++i)
		dev.read(PCACHE_CACHE_INFO_REPLICA_OFF(i), &back[i], sizeof(back[i]));
	auto now = decode_replicas(back);
	if (!now.any_valid() || *now.chosen != slot || now.current().flags != flags)
		throw io_error(dev.path() + ": the new cache_info copy did not read back as the one in use");
}

} // namespace pcache
