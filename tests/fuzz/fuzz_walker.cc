// libFuzzer entry point of the walker target (targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return pcache::fuzz::walker(data, size);
}
