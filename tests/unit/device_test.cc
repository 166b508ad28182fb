// Device access: files through pread/pwrite, the open errors users see,
// and the sparse memory device the other tests use.
#include "device.h"
#include "memory_device.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pcache::test {
namespace {

std::string message_of(const std::string &path, access_mode mode)
{
	try {
		open_device(path, mode);
	} catch (const io_error &e) {
		return e.what();
	}
	return "";
}

TEST(Device, RegularFileReadWrite)
{
	char path[] = "/tmp/pcache_device_test.XXXXXX";
	int fd = ::mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
	::close(fd);
	{
		auto dev = open_device(path, access_mode::read_write);
		EXPECT_EQ(dev->size(), 1u << 20);
		EXPECT_STREQ(dev->kind(), "file");
		const char msg[] = "pcache";
		dev->write(4096, msg, sizeof(msg));
		dev->flush();
		char back[sizeof(msg)];
		dev->read(4096, back, sizeof(back));
		EXPECT_STREQ(back, msg);
		EXPECT_THROW(dev->read((1 << 20) - 2, back, 4), io_error);
	}
	auto ro = open_device(path, access_mode::read_only);
	EXPECT_FALSE(ro->writable());
	char b = 0;
	EXPECT_THROW(ro->write(0, &b, 1), std::logic_error);
	std::remove(path);
}

TEST(Device, OpenErrorsNameThePathAndTheProblem)
{
	EXPECT_EQ(message_of("/nonexistent/cache.img", access_mode::read_only),
		  "/nonexistent/cache.img: no such file or device");
	EXPECT_EQ(message_of("/tmp", access_mode::read_only),
		  "/tmp: is a directory, not a cache device or image file");
	EXPECT_EQ(message_of("/dev/null", access_mode::read_only),
		  "/dev/null: not a regular file, block device or device-dax device");
}

TEST(Device, MemoryDeviceIsSparse)
{
	memory_device dev(1ULL << 40);
	unsigned char buf[8192];
	dev.read(12345, buf, sizeof(buf));
	for (unsigned char c : buf)
		ASSERT_EQ(c, 0);
	unsigned char one = 1;
	dev.write((1ULL << 39) + 4095, &one, 1);
	dev.write((1ULL << 39) + 4096, &one, 1);
	EXPECT_EQ(dev.pages_in_use(), 2u);
	dev.read((1ULL << 39) + 4094, buf, 4);
	EXPECT_EQ(buf[0], 0);
	EXPECT_EQ(buf[1], 1);
	EXPECT_EQ(buf[2], 1);
}

} // namespace
} // namespace pcache::test
