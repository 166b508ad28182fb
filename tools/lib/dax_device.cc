#include "dax_device.h"

#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace pcache {
namespace {

// SIGBUS from a poisoned pmem line lands here while a copy is running.
thread_local sigjmp_buf *g_copy_env = nullptr;

void on_sigbus(int sig, siginfo_t *, void *)
{
	if (g_copy_env)
		siglongjmp(*g_copy_env, 1);
	std::signal(sig, SIG_DFL);
	std::raise(sig);
}

void install_sigbus_handler()
{
	static bool installed = [] {
		struct sigaction sa{};
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, nullptr);
		return true;
	}();
	(void)installed;
}

// Copies with SIGBUS turned into a false return.
bool guarded_copy(void *dst, const void *src, size_t len)
{
	sigjmp_buf env;
	sigjmp_buf *saved = g_copy_env;
	if (sigsetjmp(env, 1)) {
		g_copy_env = saved;
		return false;
	}
	g_copy_env = &env;
	std::memcpy(dst, src, len);
	g_copy_env = saved;
	return true;
}

constexpr uintptr_t kCacheLine = 64;

#if defined(__x86_64__)
bool cpu_has_clflushopt()
{
	unsigned eax, ebx, ecx, edx;
	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return false;
	return ebx & (1u << 23);
}

__attribute__((target("clflushopt"))) void flush_lines_opt(uintptr_t begin, uintptr_t end)
{
	for (uintptr_t p = begin; p < end; p += kCacheLine)
		_mm_clflushopt(reinterpret_cast<void *>(p));
}

void flush_lines(const void *addr, size_t len)
{
	static const bool opt = cpu_has_clflushopt();
	uintptr_t begin = reinterpret_cast<uintptr_t>(addr) & ~(kCacheLine - 1);
	uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
	if (opt) {
		flush_lines_opt(begin, end);
	} else {
		for (uintptr_t p = begin; p < end; p += kCacheLine)
			_mm_clflush(reinterpret_cast<void *>(p));
	}
}

void store_fence()
{
	_mm_sfence();
}
#else
// Without an x86 cache-flush instruction, rely on the platform keeping the
// mapping coherent with the media (true for eADR-class persistence).
void flush_lines(const void *, size_t) {}
void store_fence()
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#endif

} // namespace

dax_device::dax_device(std::string path, int fd, uint64_t size, bool writable)
	: device(std::move(path), size, writable), fd_(fd), map_(nullptr)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *map = ::mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		int err = errno;
		::close(fd_);
		fail("cannot map the device", 0, err);
	}
	map_ = static_cast<unsigned char *>(map);
	install_sigbus_handler();
}

dax_device::~dax_device()
{
	::munmap(map_, size());
	::close(fd_);
}

void dax_device::do_read(uint64_t off, void *buf, size_t len)
{
	if (!guarded_copy(buf, map_ + off, len))
		fail("media error (SIGBUS) reading " + std::to_string(len) + " bytes", off);
}

void dax_device::do_write(uint64_t off, const void *buf, size_t len)
{
	if (!guarded_copy(map_ + off, buf, len))
		fail("media error (SIGBUS) writing " + std::to_string(len) + " bytes", off);
	flush_lines(map_ + off, len);
}

void dax_device::flush()
{
	store_fence();
}

} // namespace pcache
