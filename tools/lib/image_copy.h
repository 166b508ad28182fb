// Writing a whole cache image to an output: pcache_repair -o.
//
// A regular file (or a path that does not exist yet) is written as a new
// sparse file next to it and renamed into place when complete, so a
// failed run leaves no plausible output and the old file as it was.  A
// device is written in place with its superblock zeroed first and written
// last; a failure leaves it zeroed, so the device is not taken for a cache.
#pragma once

#include "device.h"

#include <functional>
#include <string>

namespace pcache {

using copy_progress = std::function<void(uint64_t done, uint64_t total)>;

// Copies all of `src` (through whatever view it is, e.g. an overlay) to
// `out_path`.  Throws io_error; see above for what a failure leaves.
void write_image(device &src, const std::string &out_path, const copy_progress &progress = {});

// Is `path` a regular file, or nothing yet (a new image would be created)?
bool is_new_or_regular_file(const std::string &path);

} // namespace pcache
