/*
 * fuzz_page.c - metadata pages: pager.c's check of a page pushed by
 * metad (ag_pagestore_adopt: header, address, crc, as it came and with
 * its crc made right), then node.c's validation and page decoding. The
 * input is a run of 4096-byte pages, served by an in-memory pager as
 * the mirrored drive pages would be once their crc matched. The page
 * whose own address (bytes 8-15) is asked for answers; any other address
 * is page addr % n, so child pointers reach the other pages too. The tree
 * is opened at page 0, looked up, listed, walked, then changed (a put and
 * a del, never flushed), so pages that pass validation meet every reader
 * and the rebalancing code.
 */
#include <errno.h>
#include <string.h>

#include "btree.h"
#include "format.h"
#include "fuzz.h"
#include "pager.h"
#include "util.h"

#define MAX_PAGES 8

struct mem_pages {
	const uint8_t *data;
	size_t n;
	uint64_t next_addr; /* for alloc */
};

static int mem_read(void *ctx, uint64_t addr, void *buf)
{
	const struct mem_pages *m = ctx;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (get_le64(m->data + i * AG_PAGE_SIZE + 8) == addr)
			break;
	if (i == m->n)
		i = addr % m->n;
	memcpy(buf, m->data + i * AG_PAGE_SIZE, AG_PAGE_SIZE);
	return 0;
}

static int mem_write(void *ctx, uint64_t addr, uint64_t gen, void *buf)
{
	(void)ctx;
	(void)addr;
	(void)gen;
	(void)buf;
	return -EROFS;
}

static int mem_alloc(void *ctx, uint64_t *addr)
{
	struct mem_pages *m = ctx;

	*addr = ++m->next_addr;
	return 0;
}

static void mem_release(void *ctx, uint64_t addr)
{
	(void)ctx;
	(void)addr;
}

/* Each page as a client takes one pushed with a reply, into the cache of
 * a store over a cluster of 4 drives (the store reads no drive here). */
static void adopt_pages(const uint8_t *data, size_t n)
{
	static struct ag_drives ds = {
		.n = 4,
		.label = { .version = AG_FORMAT_VERSION, .ndrives = 4,
			   .ec_k = 2, .ec_m = 1, .page_size = AG_PAGE_SIZE,
			   .strip_size = 65536, .nsegments = 64,
			   .segment_size = 64 << 20 },
	};
	static uint8_t page[AG_PAGE_SIZE];
	struct ag_pagestore *ps;
	size_t i;

	if (ag_pagestore_new(&ds, 0, &ps))
		return;
	for (i = 0; i < n; i++) {
		memcpy(page, data + i * AG_PAGE_SIZE, AG_PAGE_SIZE);
		ag_pagestore_adopt(ps, page);
		put_le32(page, ag_crc32c(page + 4, AG_PAGE_SIZE - 4));
		ag_pagestore_adopt(ps, page);
	}
	ag_pagestore_free(ps);
}

static int count_page(uint64_t addr, int level, void *arg)
{
	(void)addr;
	(void)level;
	++*(unsigned *)arg;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem_pages m = { .data = data, .n = size / AG_PAGE_SIZE,
			       .next_addr = 1ull << 40 };
	struct ag_pager pg = {
		.page_size = AG_PAGE_SIZE, .ctx = &m, .read = mem_read,
		.write = mem_write, .alloc = mem_alloc, .release = mem_release,
	};
	uint8_t first[AG_KEY_MAX], val[AG_VAL_MAX];
	struct ag_tree *t = NULL;
	struct ag_cursor *c = NULL;
	const void *k, *v;
	size_t kl, vl, first_len = 0;
	unsigned pages = 0;
	int rc;

	ag_log_set_level(2);
	if (m.n == 0 || m.n > MAX_PAGES)
		return 0;
	adopt_pages(data, m.n);
	if (ag_tree_open(&t, &pg, get_le64(data + 8)))
		return 0;
	if (!ag_tree_seek(t, NULL, 0, &c)) {
		while ((rc = ag_cursor_next(c, &k, &kl, &v, &vl)) == 1) {
			fuzz_touch(k, kl);
			fuzz_touch(v, vl);
			if (!first_len && kl <= sizeof(first)) {
				memcpy(first, k, kl);
				first_len = kl;
			}
		}
		ag_cursor_free(c);
	}
	vl = sizeof(val);
	if (first_len && !ag_tree_get(t, first, first_len, val, &vl))
		fuzz_touch(val, vl);
	ag_tree_walk(t, count_page, &pages);
	if (first_len) {
		ag_tree_put(t, first, first_len, "v", 1);
		ag_tree_del(t, first, first_len);
	}
	ag_tree_put(t, "\x01" "fuzz", 5, data, size < 64 ? size : 64);
	ag_tree_close(t);
	return 0;
}
