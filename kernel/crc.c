// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: which CRC-32C implementation to use.
 *
 * crc32c() is the kernel's best guess (crc32c-intel on x86: the CRC32
 * instruction, plus PCLMULQDQ and an FPU save for longer buffers).  Where
 * that instruction is slow, e.g. when it is emulated, the table-driven
 * code of lib/crc32.c can be several times faster.  As the RAID6 and XOR
 * code do, time both on a 4 KiB buffer when the module loads and keep the
 * faster.  Both compute the same function, so the choice never shows on
 * media.
 */
#include <linux/ktime.h>
#include <linux/slab.h>

#include "pcache.h"

bool pcache_crc_use_table __read_mostly;

#define PCACHE_CRC_TRIALS	8

static u64 pcache_crc_time(const u8 *buf, bool table)
{
	u64 best = U64_MAX, t;
	u32 v = 0;
	int i;

	for (i = 0; i < PCACHE_CRC_TRIALS; i++) {
		t = ktime_get_ns();
		v = table ? pcache_crc32c_table(v, buf, PAGE_SIZE) :
			    crc32c(v, buf, PAGE_SIZE);
		t = ktime_get_ns() - t;
		best = min(best, t);
	}
	/* Keep the result alive so the loop is not optimised away. */
	barrier_data(&v);
	return best;
}

void pcache_crc_select(void)
{
	u64 lib_ns, table_ns;
	u8 *buf;
	int i;

	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return;		/* keep crc32c() */
	for (i = 0; i < PAGE_SIZE; i++)
		buf[i] = i * 131;
	lib_ns = pcache_crc_time(buf, false);
	table_ns = pcache_crc_time(buf, true);
	kfree(buf);
	pcache_crc_use_table = table_ns < lib_ns;
	pr_info("pcache: CRC-32C by %s: %llu ns per 4 KiB (%s: %llu ns)\n",
		pcache_crc_use_table ? "table" : "crc32c()",
		pcache_crc_use_table ? table_ns : lib_ns,
		pcache_crc_use_table ? "crc32c()" : "table",
		pcache_crc_use_table ? lib_ns : table_ns);
}
