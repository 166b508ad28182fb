// Facts about block devices from sysfs, and the few bytes lvpcache reads
// and writes on a cache LV itself.
#pragma once

#include <cstdint>
#include <string>

namespace lvpcache {

// Whether the block device at path (a node or a link to one) supports
// DAX: /sys/dev/block/M:m/queue/dax, as LVM's dev_is_pmem() reads it.
bool is_dax(const std::string &path);

// Whether the superblock magic of the pcache cache at path is zero: a
// cache the kernel will format on its first load (nothing to check).
bool cache_is_unformatted(const std::string &path);

// Zeroes the superblock, both cache_info replicas and the tails (every
// record before the first segment), so that an old cache on the device is
// never loaded again: the kernel formats a new one on first use.
void zero_cache_records(const std::string &path);

// Writes `bytes` zeros at the start of a block device (O_DIRECT, then
// fsync): what lvcreate does to a new LV, against stale signatures.
void zero_block_device_start(const std::string &path, size_t bytes);

} // namespace lvpcache
