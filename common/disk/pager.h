/*
 * pager.h - metadata pages on the drives: each page mirrored on 3
 * distinct drives, verified on read (crc32c, magic, own address), with a
 * shared read cache.
 *
 * Pages are immutable once written, so the cache needs no invalidation:
 * an address means the same bytes until its segment is freed, and a
 * reader that meets a reused address sees a wrong generation or address
 * and starts over from a newer commit. The page header the pager stamps
 * and checks is page.h's.
 */
#ifndef AG_PAGER_H
#define AG_PAGER_H

#include <stdatomic.h>
#include <stdint.h>

#include "btree.h"
#include "commit.h"
#include "drive.h"
#include "page.h"

struct ag_pagestore;

/* A page cache of cache_bytes over ds (borrowed; must outlive it). */
int ag_pagestore_new(struct ag_drives *ds, uint64_t cache_bytes,
		     struct ag_pagestore **psp);
void ag_pagestore_free(struct ag_pagestore *ps);

/* Read a verified copy of the page at addr into buf, trying each mirror
 * in turn; a bad copy is counted against its drive. -AG_ECORRUPT or -EIO
 * when no copy is good, but -AG_ESTALEROOT, with that page in buf, when
 * one holds a whole page of a later epoch at the same place: the slot
 * was freed and reused (space.h), which is no fault of the drives. */
int ag_page_read(struct ag_pagestore *ps, uint64_t addr, void *buf);
/* Stamp the header of buf (crc, magic, addr, gen) and write all mirrors.
 * Succeeds when at least one copy landed and every present drive of the
 * three took it or is already known failed. */
int ag_page_write(struct ag_pagestore *ps, uint64_t addr, uint64_t gen,
		  void *buf);
/* Deferred writes (metad): while on, ag_page_write only stamps and queues
 * the page; ag_pagestore_flush then writes every queued copy, coalesced
 * per drive and on all drives at once, and syncs them. */
void ag_pagestore_defer(struct ag_pagestore *ps, int on);
int ag_pagestore_flush(struct ag_pagestore *ps);
/* Make the queued pages and rec durable in one flush of every drive; rec
 * lists the pages so that readers can tell a whole commit from a torn
 * one (a commit of too many pages to list takes two flushes). Lazy: write
 * them all but sync nothing (rec->lazy_since says since when nothing was
 * synced); -EAGAIN, with nothing written, for a commit of too many pages
 * to list, which must be durable; -E2BIG, with nothing written, when the
 * data rec lists (rec->ndata) does not fit beside its pages. */
int ag_pagestore_commit(struct ag_pagestore *ps, struct ag_commit_rec *rec,
			int lazy);
/* A check for ag_commit_pick (arg: the page store): 1 when every page
 * rec lists is on the drives, written by rec's generation; 0 when one is
 * not (never written: a torn commit); -AG_ECORRUPT when one is there,
 * its header naming it, but no mirror of it verifies. */
int ag_pagestore_check_commit(void *arg, const struct ag_commit_rec *rec);
/* Take a page another process read or wrote (metad pushes the pages of
 * a commit to the client whose transaction it holds) into the cache, if
 * it verifies: its bytes are those on the drives, pages being immutable.
 * -AG_ECORRUPT otherwise. */
int ag_pagestore_adopt(struct ag_pagestore *ps, const void *page);
/* Drop queued pages (a failed commit). */
void ag_pagestore_discard(struct ag_pagestore *ps);
/* Write every mirror of page addr (written by generation gen) that does
 * not hold it again, from one that does, straight to the drives (not
 * synced): returns how many were written, or -AG_ECORRUPT when no
 * mirror holds it. */
int ag_page_repair(struct ag_pagestore *ps, uint64_t addr, uint64_t gen);
/* Check every mirror of the page (fsck): returns the number of good
 * copies, adds the number of damaged or unreadable ones to *bad and of
 * those that hold something else entirely (never written, or
 * overwritten whole) to *unwritten. */
int ag_page_check(struct ag_pagestore *ps, uint64_t addr, int *bad,
		  int *unwritten);

/* Pages one metadata segment holds. */
uint32_t ag_pages_per_segment(const struct ag_label *l);

/* Fill pg with this store's read and write; alloc and release come from
 * the caller (metad's space manager), or NULL for read-only handles. */
void ag_pagestore_pager(struct ag_pagestore *ps, struct ag_pager *pg,
			int (*alloc)(void *, uint64_t *),
			void (*release)(void *, uint64_t), void *alloc_ctx);

extern atomic_ulong ag_page_fallbacks; /* reads served by a 2nd mirror */

#endif
