#include "lvm_commands.h"

namespace lvpcache {

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string> &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

std::vector<std::string> tag_args(const char *op, const std::vector<std::string> &tags)
{
	std::vector<std::string> args;
	for (const auto &t : tags) {
		args.push_back(op);
		args.push_back(t);
	}
	return args;
}

std::vector<std::string> create_placeholder(const std::string &vg, const std::string &lv, uint64_t bytes)
{
	return concat(concat({"lvcreate", "--type", "error", "-an", "--setactivationskip", "y",
			      "--setautoactivation", "n"},
			     tag_args("--addtag", {tag::make(tag::role, tag::role_volume), tag::make(tag::volume, lv)})),
		      {"-L", std::to_string(bytes) + "b", "-n", lv, vg});
}

unmark_commands unmark_component(const lv_info &lv)
{
	std::vector<std::string> ours;
	for (const auto &t : lv.tags)
		if (t.rfind("pcache.", 0) == 0)
			ours.push_back(t);
	std::string aa = lv.tag_value(tag::was_autoactivation).value_or("y");
	std::string skip = lv.tag_value(tag::was_skip).value_or("n");
	unmark_commands c;
	c.unmark = concat({"lvchange", "--setactivationskip", skip, "--setautoactivation", aa},
			  tag_args("--deltag", ours));
	c.unmark.push_back(lv.full_name());
	c.remark = concat({"lvchange", "--setactivationskip", lv.skip_activation ? "y" : "n",
			   "--setautoactivation", lv.autoactivation ? "y" : "n"},
			  tag_args("--addtag", ours));
	c.remark.push_back(lv.full_name());
	return c;
}

} // namespace lvpcache
