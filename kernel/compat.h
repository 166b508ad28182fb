/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcache: every difference between the kernel versions we build for.
 *
 * The module is written against Debian's 6.1 kernel.  Anything whose name,
 * signature or header moved in later kernels (6.12, 7.x) is wrapped here,
 * so supporting a new kernel means adding a branch in this file only.
 */
#ifndef PCACHE_COMPAT_H
#define PCACHE_COMPAT_H

#include <linux/version.h>
#include <linux/blkdev.h>
#include <linux/dax.h>
#include <linux/device-mapper.h>
#include <linux/mm.h>
#include <linux/uaccess.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 16, 0)
#include <linux/pfn_t.h>
#endif

/*
 * crc32c(): libcrc32c before 6.14, lib/crc32 afterwards; same semantics
 * (raw register, no inversion), which is what the format needs.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0)
#include <linux/crc32c.h>
#endif
#include <linux/crc32.h>

/*
 * pmem_wmb() lives in asm/barrier.h everywhere; memcpy_flushcache in
 * linux/string.h (arch override in asm/string_64.h).
 */
#include <linux/string.h>
#include <asm/barrier.h>

/*
 * The table-driven CRC-32C of lib/crc32.c, bypassing any CPU instruction.
 * 6.14 renamed it crc32c_base() when crc32c() itself became the library
 * entry point.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0)
#define pcache_crc32c_table(crc, p, len)	__crc32c_le(crc, p, len)
#else
#define pcache_crc32c_table(crc, p, len)	crc32c_base(crc, p, len)
#endif

/* The dax_device of a table device, as opened by dm_get_device(). */
static inline struct dax_device *pcache_dm_dax(struct dm_dev *dev)
{
	return dev->dax_dev;
}

/*
 * Map @nr_pages pages of @dax from @pgoff.  Returns the number of
 * contiguous pages mapped at *kaddr (possibly fewer than asked), or a
 * negative errno.  *page_of_first receives the struct page of the first
 * page, or NULL when the pfns have no struct page.
 */
static inline long pcache_dax_map(struct dax_device *dax, pgoff_t pgoff,
				  long nr_pages, void **kaddr,
				  struct page **page_of_first)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 16, 0)
	pfn_t pfn;
	long got = dax_direct_access(dax, pgoff, nr_pages, DAX_ACCESS,
				     kaddr, &pfn);

	if (got > 0)
		*page_of_first = pfn_t_to_page(pfn);
	return got;
#else
	unsigned long pfn;
	long got = dax_direct_access(dax, pgoff, nr_pages, DAX_ACCESS,
				     kaddr, &pfn);

	if (got > 0)
		*page_of_first = pfn_valid(pfn) ? pfn_to_page(pfn) : NULL;
	return got;
#endif
}

/* Machine-check safe copy: returns the number of bytes NOT copied. */
static inline unsigned long pcache_copy_mc(void *dst, const void *src,
					   size_t len)
{
	return copy_mc_to_kernel(dst, src, len);
}

#endif /* PCACHE_COMPAT_H */
