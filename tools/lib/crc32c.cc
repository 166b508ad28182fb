#include "crc32c.h"

#include <pcache/pcache_format.h>

#include <array>
#include <cstring>

namespace pcache {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

constexpr std::array<uint32_t, 256> make_table()
{
	std::array<uint32_t, 256> table{};
	for (uint32_t i = 0; i < 256; ++i) {
		uint32_t crc = i;
		for (int bit = 0; bit < 8; ++bit)
			crc = (crc >> 1) ^ ((crc & 1u) ? kPolyReflected : 0u);
		table[i] = crc;
	}
	return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

uint32_t table_crc(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--)
		crc = (crc >> 8) ^ kTable[(crc ^ *p++) & 0xFFu];
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t crc64 = crc;
	while (len >= 8) {
		uint64_t word;
		std::memcpy(&word, p, sizeof(word));
		crc64 = __builtin_ia32_crc32di(crc64, word);
		p += 8;
		len -= 8;
	}
	auto crc32 = static_cast<uint32_t>(crc64);
	while (len--)
		crc32 = __builtin_ia32_crc32qi(crc32, *p++);
	return crc32;
}

bool cpu_has_sse42()
{
	static const bool has = __builtin_cpu_supports("sse4.2");
	return has;
}
#endif

} // namespace

bool crc32c_uses_cpu_instruction()
{
#if defined(__x86_64__)
	return cpu_has_sse42();
#else
	return false;
#endif
}

uint32_t crc32c(uint32_t seed, const void *data, size_t len)
{
	auto p = static_cast<const uint8_t *>(data);
#if defined(__x86_64__)
	if (cpu_has_sse42())
		return crc32c_sse42(seed, p, len);
#endif
	return table_crc(seed, p, len);
}

namespace detail {
uint32_t crc32c_portable(uint32_t seed, const void *data, size_t len)
{
	return table_crc(seed, static_cast<const uint8_t *>(data), len);
}
} // namespace detail

uint32_t record_crc(const void *record, size_t len)
{
	auto p = static_cast<const uint8_t *>(record);
	return crc32c(PCACHE_CRC_SEED, p + 4, len - 4);
}

uint32_t data_crc(const void *data, size_t len)
{
	return crc32c(PCACHE_CRC_SEED, data, len);
}

} // namespace pcache
