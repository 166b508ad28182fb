// The backup of an in-place repair: written before anything changes, read
// back with every byte checked, put back only on the device it came from;
// and a repair whose writing fails puts the device back as it was.
#include "failing_device.h"
#include "memory_device.h"
#include "repair.h"
#include "repair_backup.h"
#include "test_cache.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace pcache::test {
namespace {

std::string temp_path(const char *name)
{
	return std::string(::testing::TempDir()) + "/" + name + "." + std::to_string(::getpid());
}

std::vector<unsigned char> bytes_of(device &dev, uint64_t off, size_t n)
{
	std::vector<unsigned char> b(n);
	dev.read(off, b.data(), n);
	return b;
}

// A damaged cache and its planned repair.
struct damaged {
	damaged()
	{
		c.append_kset({make_key(0, 4096, 1, 0)});
		c.poke(PCACHE_CACHE_INFO_REPLICA_OFF(1) + 12, 0x55);
		c.poke(PCACHE_KEY_TAIL_OFF(1) + 12, 0x55);
		before = bytes_of(c.dev, 0, 20480);
		plan = std::make_unique<repair_plan>(plan_repair(c.dev));
		runs = plan->overlay().changes();
	}
	test_cache c;
	std::vector<unsigned char> before;
	std::unique_ptr<repair_plan> plan;
	std::vector<changed_run> runs;
};

TEST(RepairBackup, WrittenReadAndPutBack)
{
	damaged d;
	ASSERT_EQ(d.runs.size(), 2u);
	std::string path = temp_path("backup");
	std::remove(path.c_str());
	write_backup(path, d.c.dev.size(), d.runs);
	apply_runs(d.c.dev, d.runs);
	EXPECT_NE(bytes_of(d.c.dev, 0, 20480), d.before);
	backup_contents b = read_backup(path);
	EXPECT_EQ(b.runs.size(), 2u);
	EXPECT_EQ(restore_backup(d.c.dev, b), d.runs[0].before.size() + d.runs[1].before.size());
	EXPECT_EQ(bytes_of(d.c.dev, 0, 20480), d.before);
	std::remove(path.c_str());
}

TEST(RepairBackup, AnExistingFileIsNeverOverwritten)
{
	damaged d;
	std::string path = temp_path("exists");
	std::ofstream(path) << "an earlier backup";
	EXPECT_THROW(write_backup(path, d.c.dev.size(), d.runs), io_error);
	std::ifstream in(path);
	std::string text;
	std::getline(in, text);
	EXPECT_EQ(text, "an earlier backup");
	std::remove(path.c_str());
}

TEST(RepairBackup, ADamagedBackupIsRefused)
{
	damaged d;
	std::string path = temp_path("damaged");
	std::remove(path.c_str());
	write_backup(path, d.c.dev.size(), d.runs);
	{
		std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
		f.seekp(40);
		f.put('\x7f');
	}
	EXPECT_THROW(read_backup(path), std::runtime_error);
	std::remove(path.c_str());
}

TEST(RepairBackup, PutBackOnlyWhereTheRepairWrote)
{
	damaged d;
	std::string path = temp_path("other");
	std::remove(path.c_str());
	write_backup(path, d.c.dev.size(), d.runs);
	apply_runs(d.c.dev, d.runs);
	d.c.poke(d.runs[0].offset, 0x42);	// the device changed since
	std::vector<unsigned char> now = bytes_of(d.c.dev, 0, 20480);
	EXPECT_THROW(restore_backup(d.c.dev, read_backup(path)), std::runtime_error);
	EXPECT_EQ(bytes_of(d.c.dev, 0, 20480), now);	// nothing written
	std::remove(path.c_str());
}

TEST(RepairBackup, AnInterruptedRepairCanBePutBack)
{
	damaged d;
	std::string path = temp_path("half");
	std::remove(path.c_str());
	write_backup(path, d.c.dev.size(), d.runs);
	// Only the first region was written when the repair stopped.
	d.c.dev.write(d.runs[0].offset, d.runs[0].after.data(), d.runs[0].after.size());
	restore_backup(d.c.dev, read_backup(path));
	EXPECT_EQ(bytes_of(d.c.dev, 0, 20480), d.before);
	std::remove(path.c_str());
}

TEST(RepairApply, AFailedWriteLeavesTheDeviceAsItWas)
{
	damaged d;
	failing_device dev(d.c.dev);
	dev.writes_ok = 1;	// the second region fails, once
	dev.once = true;
	EXPECT_THROW(apply_runs(dev, d.runs), io_error);
	EXPECT_EQ(bytes_of(d.c.dev, 0, 20480), d.before);
}

TEST(RepairApply, WhenPuttingBackFailsTooTheErrorSaysToRestoreTheBackup)
{
	damaged d;
	failing_device dev(d.c.dev);
	dev.writes_ok = 1;	// the device stops taking writes
	try {
		apply_runs(dev, d.runs);
		FAIL() << "the second write should fail";
	} catch (const io_error &e) {
		EXPECT_NE(std::string(e.what()).find("pcache_repair --restore-backup"), std::string::npos) << e.what();
	}
}

TEST(RepairApply, HeadersAreWrittenLast)
{
	test_cache c;
	c.append_kset({make_key(0, 4096, 1, 0)});
	cache_pos bad = c.append_kset({make_key(4096, 4096, 1, 4096)});
	c.append_kset({make_key(8192, 4096, 1, 8192)});
	c.set_dirty_tail(c.head);
	c.poke(c.kset_offset(bad) + PCACHE_KSET_HEADER_SIZE + 33, 0x77);	// a data CRC byte: the kset fails its CRC
	repair_plan plan = plan_repair(c.dev);
	std::vector<changed_run> runs = plan.overlay().changes();
	ASSERT_GE(runs.size(), 2u);
	failing_device dev(c.dev);
	dev.fail_begin = PCACHE_CACHE_CTRL_OFF;	// the tails
	dev.fail_end = PCACHE_CACHE_CTRL_OFF + 64;
	dev.once = true;
	std::vector<unsigned char> before = bytes_of(c.dev, 0, PCACHE_SEGMENTS_OFF + PCACHE_SEG_SIZE);
	try {
		apply_runs(dev, runs);
		FAIL() << "the tail write should fail";
	} catch (const io_error &e) {
		EXPECT_NE(std::string(e.what()).find("put back as it was"), std::string::npos) << e.what();
	}
	// The log was written before the tails, and put back.
	EXPECT_GT(dev.writes, runs.size());
	EXPECT_EQ(bytes_of(c.dev, 0, PCACHE_SEGMENTS_OFF + PCACHE_SEG_SIZE), before);
}

} // namespace
} // namespace pcache::test
