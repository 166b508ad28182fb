#include "device.h"

#include <cstring>
#include <sstream>

namespace pcache {

void device::check_range(uint64_t off, size_t len) const
{
	if (off > size_ || len > size_ - off) {
		std::ostringstream msg;
		msg << path_ << ": access to bytes [" << off << ", " << off + len
		    << ") beyond the end of the " << kind() << " (" << size_ << " bytes)";
		throw io_error(msg.str());
	}
}

void device::read(uint64_t off, void *buf, size_t len)
{
	check_range(off, len);
	if (len)
		do_read(off, buf, len);
}

void device::write(uint64_t off, const void *buf, size_t len)
{
	if (!writable_)
		throw std::logic_error(path_ + ": write to a device opened read-only");
	check_range(off, len);
	if (len)
		do_write(off, buf, len);
}

void device::fail(const std::string &what, uint64_t off, int err) const
{
	std::ostringstream msg;
	msg << path_ << ": " << what << " at byte " << off;
	if (err)
		msg << ": " << std::strerror(err);
	throw io_error(msg.str());
}

} // namespace pcache
