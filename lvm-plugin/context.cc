#include "context.h"

#include <iostream>

namespace lvpcache {

void context::note(const std::string &msg) const
{
	if (!quiet)
		std::cerr << "lvpcache: " << msg << std::endl;
}

} // namespace lvpcache
