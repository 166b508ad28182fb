// Writing a planned repair to a device, with a backup of what it replaces.
//
// Backup file (little-endian; pcache_repair(8) documents it):
//   bytes 0-7    magic "PCREPBK1"
//         8-11   format version, 1
//         12-15  number of regions N
//         16-23  size of the device in bytes
//         24-31  0
//   N regions, each:
//         8 bytes  device offset
//         4 bytes  length L
//         4 bytes  CRC of the L bytes as they were (before the repair)
//         4 bytes  CRC of the L bytes as the repair wrote them
//         4 bytes  0
//         L bytes  as they were
//   4 bytes  CRC of everything before it
// CRCs are the format's CRC-32C (seed 0x3B15A, spec §2.3).
#pragma once

#include "device.h"
#include "overlay_device.h"

#include <string>
#include <vector>

namespace pcache {

// Writes the backup of `runs` (what they replace on a device of
// `device_size` bytes) to a new file at `path`, durably.  Refuses an
// existing file: it may be the only copy of an earlier backup.
void write_backup(const std::string &path, uint64_t device_size, const std::vector<changed_run> &runs);

// Writes `runs` to `dev`: the log and segment headers first, then the
// tails, cache_info and the superblock last, then flushes.  If a write
// fails, what was written is put back as it was (and flushed) before the
// error is thrown; the message says whether that worked.
void apply_runs(device &dev, const std::vector<changed_run> &runs);

struct backup_contents {
	uint64_t device_size = 0;
	std::vector<changed_run> runs;	// `after` holds only the CRC check (empty vector)
	std::vector<uint32_t> after_crc;
};

// Reads and validates a backup file (throws std::runtime_error naming
// what is wrong).
backup_contents read_backup(const std::string &path);

// Puts the bytes of a backup back on `dev`.  Every region must hold
// either what the repair wrote or what the backup holds (a repair that
// was interrupted); otherwise nothing is written.  Returns the bytes put
// back.
uint64_t restore_backup(device &dev, const backup_contents &backup);

} // namespace pcache
