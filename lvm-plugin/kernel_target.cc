#include "kernel_target.h"

#include "process.h"

#include <stdexcept>

namespace lvpcache {

dm::version load_pcache_target()
{
	if (auto v = dm::target_version("pcache"))
		return *v;
	auto r = run_process({"modprobe", "pcache"});
	if (auto v = dm::target_version("pcache"))
		return *v;
	std::string why = r.err;
	while (!why.empty() && (why.back() == '\n' || why.back() == ' '))
		why.pop_back();
	throw std::runtime_error("the pcache device-mapper target is not available: 'modprobe pcache' "
				 "failed" + (why.empty() ? std::string() : ": " + why));
}

void require_interface_1_1(const dm::version &v, const std::string &feature,
			   const std::string &command)
{
	if (v.at_least(pcache_interface_1_1.major, pcache_interface_1_1.minor,
		       pcache_interface_1_1.patch))
		return;
	throw std::runtime_error("the loaded pcache module (" + v.str() + ") does not support " +
				 feature + "; " + command + " needs pcache >= " +
				 pcache_interface_1_1.str());
}

} // namespace lvpcache
