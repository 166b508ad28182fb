#include "process.h"

#include <cerrno>
#include <fcntl.h>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace lvpcache {

namespace {

// Closes a pipe end when it goes out of scope.
struct fd_guard {
	int fd = -1;
	~fd_guard()
	{
		if (fd >= 0)
			::close(fd);
	}
};

void drain(int fds[2], std::string *sinks[2])
{
	pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
	int open_count = 2;
	char buf[65536];
	while (open_count) {
		if (::poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
		}
		for (int i = 0; i < 2; ++i) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = ::read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				p[i].fd = -1;
				--open_count;
				continue;
			}
			sinks[i]->append(buf, static_cast<size_t>(n));
		}
	}
}

} // namespace

process_result run_process(const std::vector<std::string> &argv,
			   const std::map<std::string, std::string> &env, output_mode mode)
{
	if (argv.empty())
		throw std::logic_error("run_process: no program");
	int out_pipe[2], err_pipe[2], exec_pipe[2];
	bool capture = mode == output_mode::capture;
	if ((capture && (::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC))) ||
	    ::pipe2(exec_pipe, O_CLOEXEC))
		throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
	pid_t pid = ::fork();
	if (pid < 0)
		throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
	if (pid == 0) {
		if (capture) {
			::dup2(out_pipe[1], STDOUT_FILENO);
			::dup2(err_pipe[1], STDERR_FILENO);
		}
		for (const auto &[k, v] : env)
			::setenv(k.c_str(), v.c_str(), 1);
		std::vector<char *> args;
		for (const auto &a : argv)
			args.push_back(const_cast<char *>(a.c_str()));
		args.push_back(nullptr);
		::execvp(args[0], args.data());
		int e = errno;
		(void)!::write(exec_pipe[1], &e, sizeof(e));
		::_exit(127);
	}
	::close(exec_pipe[1]);
	fd_guard exec_read{exec_pipe[0]};
	process_result r;
	if (capture) {
		::close(out_pipe[1]);
		::close(err_pipe[1]);
		fd_guard o{out_pipe[0]}, e{err_pipe[0]};
		int fds[2] = {out_pipe[0], err_pipe[0]};
		std::string *sinks[2] = {&r.out, &r.err};
		drain(fds, sinks);
	}
	int wstatus = 0;
	while (::waitpid(pid, &wstatus, 0) < 0) {
		if (errno != EINTR)
			throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
	}
	int exec_errno = 0;
	if (::read(exec_pipe[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
		r.status = 127;
		r.err = "cannot run " + argv[0] + ": " + std::strerror(exec_errno);
		return r;
	}
	if (WIFEXITED(wstatus))
		r.status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		r.status = 128 + WTERMSIG(wstatus);
	return r;
}

std::string shell_quote(const std::vector<std::string> &argv)
{
	std::string s;
	for (const auto &a : argv) {
		if (!s.empty())
			s += ' ';
		bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
							       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
							       "0123456789_+-./=:%,@") ==
						   std::string::npos;
		if (plain) {
			s += a;
			continue;
		}
		s += '\'';
		for (char c : a)
			s += c == '\'' ? std::string("'\\''") : std::string(1, c);
		s += '\'';
	}
	return s;
}

} // namespace lvpcache
