// The device-mapper side, through libdevmapper's dm_task API (libdm's
// dm_tree cannot emit a target it does not know, so a pcache table is
// loaded with plain tasks).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace lvpcache::dm {

class dm_error : public std::runtime_error {
public:
	dm_error(const std::string &what, int err) : std::runtime_error(what), errno_(err) {}
	int error_number() const { return errno_; }

private:
	int errno_;
};

struct version {
	uint32_t major = 0, minor = 0, patch = 0;
	bool at_least(uint32_t ma, uint32_t mi, uint32_t pa = 0) const;
	std::string str() const;
};

struct device_info {
	bool exists = false;
	uint32_t major = 0, minor = 0;
	int open_count = 0;
	bool suspended = false;
	bool live_table = false;
	std::string uuid;
};

// Routes libdevmapper's own log lines to stderr only when verbose: every
// failure also reaches the caller as a dm_error with a full message.
void init_logging(bool verbose);

// The version of a loaded target type, if the kernel has it.
std::optional<version> target_version(const std::string &target);

device_info info(const std::string &name);

// Creates and resumes NAME with one target line, then makes /dev/mapper/NAME
// (waiting for udev when it runs, creating the node itself otherwise).
void create(const std::string &name, const std::string &uuid, uint64_t sectors,
	    const std::string &target, const std::string &params);

// Removes NAME (its node too); EBUSY when it is open.
void remove(const std::string &name);

// The parameters of NAME's single target in `dmsetup status` / `table`.
std::string status(const std::string &name);
std::string table(const std::string &name);

// Sends a target message to sector 0; throws dm_error with the errno
// (EINVAL for a message the target refuses).
void message(const std::string &name, const std::string &msg);

// LVM's device-mapper name for vg/lv: '-' doubled inside each part, joined
// by one '-' ("my-vg/data" -> "my--vg-data").
std::string lvm_dm_name(const std::string &vg, const std::string &lv);

// Whether udev is running to make device nodes and links.
bool udev_running();

} // namespace lvpcache::dm
