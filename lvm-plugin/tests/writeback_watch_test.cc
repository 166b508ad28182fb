#include "writeback_watch.h"

#include <gtest/gtest.h>

using lvpcache::writeback_watch;
using std::chrono::seconds;

namespace {

const writeback_watch::clock::time_point t0{};

TEST(WritebackWatch, ProgressIsNeverStalledDespiteErrors)
{
	writeback_watch w(seconds(30));
	EXPECT_FALSE(w.stalled(1000, 0, t0));
	EXPECT_FALSE(w.stalled(900, 5, t0 + seconds(60)));
	EXPECT_FALSE(w.stalled(800, 9, t0 + seconds(120)));
}

TEST(WritebackWatch, SlowWithoutErrorsIsNotStalled)
{
	writeback_watch w(seconds(30));
	EXPECT_FALSE(w.stalled(1000, 2, t0));
	EXPECT_FALSE(w.stalled(1000, 2, t0 + seconds(3600)));
}

TEST(WritebackWatch, ErrorsWithoutProgressStallAfterTheLimit)
{
	writeback_watch w(seconds(30));
	EXPECT_FALSE(w.stalled(1000, 2, t0));
	EXPECT_FALSE(w.stalled(1000, 4, t0 + seconds(30)));
	EXPECT_TRUE(w.stalled(1000, 7, t0 + seconds(31)));
	EXPECT_EQ(w.new_errors(), 5u);
}

TEST(WritebackWatch, NewDirtyDataIsNotProgress)
{
	writeback_watch w(seconds(30));
	EXPECT_FALSE(w.stalled(1000, 0, t0));
	EXPECT_FALSE(w.stalled(5000, 1, t0 + seconds(10)));
	EXPECT_TRUE(w.stalled(2000, 1, t0 + seconds(31)));
}

TEST(WritebackWatch, ProgressRestartsTheClock)
{
	writeback_watch w(seconds(30));
	EXPECT_FALSE(w.stalled(1000, 0, t0));
	EXPECT_FALSE(w.stalled(999, 3, t0 + seconds(29)));
	EXPECT_FALSE(w.stalled(999, 4, t0 + seconds(58)));
	EXPECT_TRUE(w.stalled(999, 4, t0 + seconds(60)));
	EXPECT_EQ(w.new_errors(), 1u);
}

} // namespace
