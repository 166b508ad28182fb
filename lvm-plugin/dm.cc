#include "dm.h"

#include <libdevmapper.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace lvpcache::dm {

namespace {

struct task_deleter {
	void operator()(dm_task *t) const { dm_task_destroy(t); }
};
using task_ptr = std::unique_ptr<dm_task, task_deleter>;

task_ptr new_task(int type, const std::string &name)
{
	task_ptr t(dm_task_create(type));
	if (!t)
		throw dm_error("cannot create a device-mapper task (is device-mapper available?)", ENOMEM);
	if (!name.empty() && !dm_task_set_name(t.get(), name.c_str()))
		throw dm_error("invalid device-mapper name " + name, EINVAL);
	return t;
}

[[noreturn]] void fail(const std::string &what, const dm_task *t)
{
	int err = dm_task_get_errno(const_cast<dm_task *>(t));
	throw dm_error(what + ": " + (err ? std::strerror(err) : "failed"), err);
}

std::string single_target_params(int type, const std::string &name, const char *what)
{
	auto t = new_task(type, name);
	dm_task_no_open_count(t.get());
	if (!dm_task_run(t.get()))
		fail(std::string("reading the ") + what + " of " + name, t.get());
	uint64_t start = 0, length = 0;
	char *target = nullptr, *params = nullptr;
	dm_get_next_target(t.get(), nullptr, &start, &length, &target, &params);
	if (!target)
		throw dm_error(name + " has no table", ENXIO);
	return params ? params : "";
}

// Runs a task that sends a uevent (create, remove), waiting for udev's
// rules to finish where udev runs; then settles libdm's own node work.
void run_with_udev(dm_task *t, const std::string &what)
{
	uint32_t cookie = 0;
	bool with_udev = udev_running();
	if (with_udev && !dm_task_set_cookie(t, &cookie, 0))
		throw dm_error("cannot set up udev synchronisation", EIO);
	int ok = dm_task_run(t);
	int err = dm_task_get_errno(t);
	if (with_udev)
		dm_udev_wait(cookie);
	if (!ok)
		throw dm_error(what + ": " + (err ? std::strerror(err) : "failed"), err);
	dm_task_update_nodes();
}

// Without udev (early boot without it, containers, the test VM) libdm
// may leave the node to a udev that never comes: make sure it exists.
void ensure_node(const std::string &name, uint32_t major, uint32_t minor)
{
	std::string path = std::string(dm_dir()) + "/" + name;
	struct stat st;
	if (::stat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode) &&
	    st.st_rdev == makedev(major, minor))
		return;
	::unlink(path.c_str());
	if (::mknod(path.c_str(), S_IFBLK | 0660, makedev(major, minor)) != 0)
		throw dm_error("cannot create " + path + ": " + std::strerror(errno), errno);
}

bool verbose_log = false;

void log_line(int level, const char *file, int line, int dm_errno, const char *f, ...)
	__attribute__((format(printf, 5, 6)));

void log_line(int level, const char *, int, int, const char *f, ...)
{
	if (!verbose_log || (level & 7) > 4 /* only errors and warnings */)
		return;
	va_list ap;
	va_start(ap, f);
	std::fputs("lvpcache: libdevmapper: ", stderr);
	std::vfprintf(stderr, f, ap);
	std::fputc('\n', stderr);
	va_end(ap);
}

} // namespace

void init_logging(bool verbose)
{
	verbose_log = verbose;
	dm_log_with_errno_init(log_line);
}

bool version::at_least(uint32_t ma, uint32_t mi, uint32_t pa) const
{
	if (major != ma)
		return major > ma;
	if (minor != mi)
		return minor > mi;
	return patch >= pa;
}

std::string version::str() const
{
	return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<version> target_version(const std::string &target)
{
	auto t = new_task(DM_DEVICE_LIST_VERSIONS, "");
	if (!dm_task_run(t.get()))
		fail("listing the device-mapper targets", t.get());
	dm_versions *v = dm_task_get_versions(t.get()), *last = nullptr;
	if (!v)
		return std::nullopt;
	do {
		last = v;
		if (target == v->name)
			return version{v->version[0], v->version[1], v->version[2]};
		v = reinterpret_cast<dm_versions *>(reinterpret_cast<char *>(v) + v->next);
	} while (last != v);
	return std::nullopt;
}

device_info info(const std::string &name)
{
	auto t = new_task(DM_DEVICE_INFO, name);
	if (!dm_task_run(t.get()))
		fail("reading the state of " + name, t.get());
	dm_info i;
	if (!dm_task_get_info(t.get(), &i))
		fail("reading the state of " + name, t.get());
	device_info d;
	if (!i.exists)
		return d;
	d.exists = true;
	d.major = i.major;
	d.minor = i.minor;
	d.open_count = i.open_count;
	d.suspended = i.suspended;
	d.live_table = i.live_table;
	const char *uuid = dm_task_get_uuid(t.get());
	d.uuid = uuid ? uuid : "";
	return d;
}

void create(const std::string &name, const std::string &uuid, uint64_t sectors,
	    const std::string &target, const std::string &params)
{
	auto t = new_task(DM_DEVICE_CREATE, name);
	if (!dm_task_set_uuid(t.get(), uuid.c_str()))
		throw dm_error("invalid device-mapper uuid " + uuid, EINVAL);
	if (!dm_task_add_target(t.get(), 0, sectors, target.c_str(), params.c_str()))
		throw dm_error("cannot build the table of " + name, ENOMEM);
	run_with_udev(t.get(), "creating " + name);
	auto i = info(name);
	if (i.exists)
		ensure_node(name, i.major, i.minor);
}

void remove(const std::string &name)
{
	auto t = new_task(DM_DEVICE_REMOVE, name);
	dm_task_retry_remove(t.get());
	run_with_udev(t.get(), "removing " + name);
	std::string path = std::string(dm_dir()) + "/" + name;
	::unlink(path.c_str());
}

std::string status(const std::string &name)
{
	return single_target_params(DM_DEVICE_STATUS, name, "status");
}

std::string table(const std::string &name)
{
	return single_target_params(DM_DEVICE_TABLE, name, "table");
}

void message(const std::string &name, const std::string &msg)
{
	auto t = new_task(DM_DEVICE_TARGET_MSG, name);
	if (!dm_task_set_sector(t.get(), 0) || !dm_task_set_message(t.get(), msg.c_str()))
		throw dm_error("cannot build the message '" + msg + "'", ENOMEM);
	if (!dm_task_run(t.get()))
		fail("message '" + msg + "' to " + name, t.get());
}

std::string lvm_dm_name(const std::string &vg, const std::string &lv)
{
	auto escape = [](const std::string &s) {
		std::string r;
		for (char c : s)
			r += c == '-' ? "--" : std::string(1, c);
		return r;
	};
	return escape(vg) + "-" + escape(lv);
}

bool udev_running()
{
	return ::access("/run/udev/control", F_OK) == 0 && dm_udev_get_sync_support();
}

} // namespace lvpcache::dm
