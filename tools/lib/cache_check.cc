#include "cache_check.h"

#include "payload_verifier.h"
#include "walker.h"

namespace pcache {
namespace {

class log_keeper : public metadata_visitor {
public:
	void on_end_log(const log_summary &s) override { log = s; }
	log_summary log;
};

} // namespace

check_outcome check_cache(device &dev, damage_sink &sink, bool verify_data)
{
	damage_tally tally(&sink);
	logical_map map(tally);
	payload_verifier payloads(dev, tally);
	log_keeper keeper;
	std::vector<metadata_visitor *> sinks{&map, &keeper};
	if (verify_data)
		sinks.push_back(&payloads);
	visitor_tee tee(sinks);
	walker(dev, tally, {}).walk(tee);
	map.resolve(nullptr);
	check_outcome out;
	out.worst = tally.worst();
	out.log = keeper.log;
	out.map = map.summary();
	return out;
}

} // namespace pcache
