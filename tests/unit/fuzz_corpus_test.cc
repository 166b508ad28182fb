// The fuzz targets' regression corpus (tests/fuzz/corpus/<target>/), replayed
// through the same functions the libFuzzer binaries call: every input that
// once mattered (seeds, and inputs that found a bug, once fixed) must run
// clean here, under ASan and UBSan too (make unit-sanitize).
#include "targets.h"

#include <gtest/gtest.h>

#include <dirent.h>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace pcache::test {
namespace {

std::vector<std::string> corpus(const std::string &target)
{
	std::string dir = std::string(PCACHE_FUZZ_CORPUS) + "/" + target;
	std::vector<std::string> files;
	if (DIR *d = ::opendir(dir.c_str())) {
		while (dirent *e = ::readdir(d))
			if (e->d_name[0] != '.')
				files.push_back(dir + "/" + e->d_name);
		::closedir(d);
	}
	return files;
}

void replay(const std::string &target, int (*run)(const uint8_t *, size_t))
{
	std::vector<std::string> files = corpus(target);
	ASSERT_GE(files.size(), 3u) << "no regression corpus for " << target;
	for (const auto &f : files) {
		std::ifstream in(f, std::ios::binary);
		std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
		SCOPED_TRACE(f);
		EXPECT_EQ(run(bytes.data(), bytes.size()), 0);
	}
}

TEST(FuzzCorpus, Decoders) { replay("decoders", fuzz::decoders); }
TEST(FuzzCorpus, Walker) { replay("walker", fuzz::walker); }
TEST(FuzzCorpus, Xml) { replay("xml", fuzz::xml); }

} // namespace
} // namespace pcache::test
