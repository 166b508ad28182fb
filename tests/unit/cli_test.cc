// -q is decided before parsing, so even a bad command line stays silent.
#include "cli.h"

#include <gtest/gtest.h>

#include <vector>

namespace pcache::test {
namespace {

bool quiet(std::vector<const char *> args, const std::string &value_options = "io")
{
	args.insert(args.begin(), "tool");
	return cli::wants_quiet(static_cast<int>(args.size()), const_cast<char **>(args.data()), value_options);
}

TEST(Cli, QuietForms)
{
	EXPECT_TRUE(quiet({"-q", "dev"}));
	EXPECT_TRUE(quiet({"dev", "--quiet"}));
	EXPECT_TRUE(quiet({"-Vq"}));
	EXPECT_TRUE(quiet({"--bogus", "-q"}));
	EXPECT_FALSE(quiet({"dev"}));
	EXPECT_FALSE(quiet({"--", "-q"}));
}

TEST(Cli, QAsTheValueOfAnotherOptionIsNotQuiet)
{
	EXPECT_FALSE(quiet({"-oq"}));		// output file named "q"
	EXPECT_FALSE(quiet({"-o", "-q"}));	// output file named "-q"
	EXPECT_TRUE(quiet({"-o", "x", "-q"}));
}

} // namespace
} // namespace pcache::test
