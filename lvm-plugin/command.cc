#include "command.h"

#include "dm.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lvpcache {

namespace {

// Serialises lvpcache commands that change things (boot-time activation
// from udev and from the boot unit may run at the same time as an admin).
class global_lock {
public:
	global_lock()
	{
		::mkdir("/run/lock", 0755);
		fd_ = ::open("/run/lock/lvpcache.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd_ < 0)
			throw std::runtime_error(std::string("cannot open /run/lock/lvpcache.lock: ") +
						 std::strerror(errno));
		while (::flock(fd_, LOCK_EX) != 0)
			if (errno != EINTR)
				throw std::runtime_error(std::string("cannot lock /run/lock/lvpcache.lock: ") +
							 std::strerror(errno));
	}
	~global_lock() { ::close(fd_); }

private:
	int fd_;
};

} // namespace

command::command(const std::string &synopsis, const std::string &description)
	: tool_("lvpcache", synopsis, description)
{
	tool_.options().add_options()("verbose,v", po::bool_switch(&verbose_),
				      "show every LVM command lvpcache runs");
}

void command::positional(const char *name, int max_count)
{
	tool_.positional(name, max_count);
}

int command::run(int argc, char **argv, bool changes,
		 const std::function<int(const po::variables_map &, context &)> &body)
{
	return tool_.main(argc, argv, [&](const po::variables_map &vm) {
		dm::init_logging(verbose_);
		context ctx(verbose_);
		ctx.quiet = tool_.quiet();
		if (!changes)
			return body(vm, ctx);
		global_lock lock;
		return body(vm, ctx);
	});
}

std::string required_positional(const po::variables_map &vm, const char *name, const char *what)
{
	if (!vm.count(name))
		throw cli::usage_error(std::string("no ") + what + " given (see lvpcache --help)");
	return vm[name].as<std::string>();
}

} // namespace lvpcache
