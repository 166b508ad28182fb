// A device that fails: writes (or reads) touching a given byte range throw
// io_error, or every write after the first `writes_ok`.  For the tests of
// what the tools do when a device fails half way.
#pragma once

#include "device.h"

#include <cstdint>
#include <limits>

namespace pcache::test {

class failing_device : public device {
public:
	explicit failing_device(device &base) : device(base.path(), base.size(), true), base_(base) {}
	const char *kind() const override { return "failing device"; }
	void flush() override {}

	uint64_t fail_begin = 0, fail_end = 0;	// writes touching [begin, end) fail
	uint64_t read_fail_begin = 0, read_fail_end = 0;
	uint64_t writes_ok = std::numeric_limits<uint64_t>::max();	// then every write fails
	bool once = false;	// only the first failing write fails (a transient error)
	uint64_t writes = 0;

protected:
	void do_read(uint64_t off, void *buf, size_t len) override
	{
		if (off < read_fail_end && off + len > read_fail_begin)
			fail("read error (test)", off, 5);
		base_.read(off, buf, len);
	}
	void do_write(uint64_t off, const void *buf, size_t len) override
	{
		if (writes >= writes_ok || (off < fail_end && off + len > fail_begin)) {
			if (once) {
				fail_begin = fail_end = 0;
				writes_ok = std::numeric_limits<uint64_t>::max();
			}
			fail("write error (test)", off, 5);
		}
		++writes;
		base_.write(off, buf, len);
	}

private:
	device &base_;
};

} // namespace pcache::test
