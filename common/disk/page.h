/*
 * page.h - the header of a metadata page, and page epochs: the one place
 * that knows where the header's fields lie (format.h has the table, as
 * the format's reference; the offsets below are that table as code).
 *
 * The pager (pager.c) stamps it on every write and verifies it on every
 * read; the tree (node.c) only reads the address, the generation and
 * the crc of pages the pager handed it. A copy whose crc, magic or
 * address is wrong is corrupt; one whose header does not even name its
 * address is not that page at all (never written there, or overwritten
 * whole), which is how a torn commit differs from a damaged one
 * (commit.h).
 */
#ifndef AG_PAGE_H
#define AG_PAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format.h"
#include "util.h"

/* The first AG_PAGE_HDR bytes of every metadata page, little-endian: */
#define AG_PAGE_HDR 32
#define AG_PAGE_HDR_CRC 0	/* u32 crc32c of bytes [4, page size) */
#define AG_PAGE_HDR_MAGIC 4	/* 4 bytes AG_PAGE_MAGIC, "AGPG" */
#define AG_PAGE_HDR_ADDR 8	/* u64 the page's own address */
#define AG_PAGE_HDR_GEN 16	/* u64 generation that wrote it */
#define AG_PAGE_HDR_RESERVED 24 /* u64 0 */
/* the crc covers the page from here to its end */
#define AG_PAGE_HDR_CRC_FROM AG_PAGE_HDR_MAGIC

static inline uint32_t ag_page_hdr_crc(const void *page)
{
	return get_le32((const uint8_t *)page + AG_PAGE_HDR_CRC);
}

static inline uint64_t ag_page_hdr_addr(const void *page)
{
	return get_le64((const uint8_t *)page + AG_PAGE_HDR_ADDR);
}

static inline uint64_t ag_page_hdr_gen(const void *page)
{
	return get_le64((const uint8_t *)page + AG_PAGE_HDR_GEN);
}

/* The crc page (page_size bytes) should carry. */
static inline uint32_t ag_page_hdr_sum(const void *page, size_t page_size)
{
	return ag_crc32c((const uint8_t *)page + AG_PAGE_HDR_CRC_FROM,
			 page_size - AG_PAGE_HDR_CRC_FROM);
}

/* Fill the header of page (page_size bytes, its body written): it is
 * then the page at addr, written by generation gen. */
static inline void ag_page_hdr_stamp(void *page, size_t page_size,
				     uint64_t addr, uint64_t gen)
{
	uint8_t *p = page;

	memcpy(p + AG_PAGE_HDR_MAGIC, AG_PAGE_MAGIC, 4);
	put_le64(p + AG_PAGE_HDR_ADDR, addr);
	put_le64(p + AG_PAGE_HDR_GEN, gen);
	put_le64(p + AG_PAGE_HDR_RESERVED, 0);
	put_le32(p + AG_PAGE_HDR_CRC, ag_page_hdr_sum(p, page_size));
}

/* Whether page's header says it is the page at addr (magic and address),
 * checksum aside. */
static inline int ag_page_hdr_names(const void *page, uint64_t addr)
{
	const uint8_t *p = page;

	return !memcmp(p + AG_PAGE_HDR_MAGIC, AG_PAGE_MAGIC, 4) &&
	       ag_page_hdr_addr(p) == addr;
}

/* 0 when page is a good copy of the page at addr, -AG_ECORRUPT when not. */
static inline int ag_page_hdr_verify(const void *page, size_t page_size,
				     uint64_t addr)
{
	if (!ag_page_hdr_names(page, addr) ||
	    ag_page_hdr_crc(page) != ag_page_hdr_sum(page, page_size))
		return -AG_ECORRUPT;
	return 0;
}

/* Whether page epoch a is ahead of b: epochs (format.h, page addresses)
 * run from 1 to 0xffff and wrap, so "ahead" means by less than half the
 * circle. */
static inline int ag_page_epoch_ahead(uint32_t a, uint32_t b)
{
	uint32_t d = (a + AG_MAX_PAGE_SLOTS - b) % AG_MAX_PAGE_SLOTS;

	return d && d < AG_MAX_PAGE_SLOTS / 2;
}

#endif
