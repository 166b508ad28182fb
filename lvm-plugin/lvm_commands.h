// The lvm command lines lvpcache builds in more than one place.
#pragma once

#include "volume.h"

#include <string>
#include <vector>

namespace lvpcache {

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string> &b);
// {"--addtag", t1, "--addtag", t2, ...}
std::vector<std::string> tag_args(const char *op, const std::vector<std::string> &tags);

// lvcreate of the virtual error LV that reserves the name vg/lv.
std::vector<std::string> create_placeholder(const std::string &vg, const std::string &lv, uint64_t bytes);

// lvchange that makes lv a plain LV again: every pcache.* tag dropped, the
// activation flags it had before attach (its was_* tags) restored; and the
// command that undoes that.
struct unmark_commands {
	std::vector<std::string> unmark, remark;
};
unmark_commands unmark_component(const lv_info &lv);

} // namespace lvpcache
