/*
 * btree.h - the copy-on-write B+tree that holds all of Agora's metadata.
 *
 * Keys and values are byte strings ordered by memcmp (shorter first on a
 * common prefix). The tree never touches drives itself: it reads and writes
 * whole pages through a struct ag_pager, so the same code runs over the
 * mirrored drive pages (pager.c) and over memory in the unit test.
 *
 * Pages are immutable once written. A write handle keeps the pages it has
 * changed in memory ("dirty"); ag_tree_flush() gives every dirty page a new
 * address, writes it and returns the new root. Pages the new tree no longer
 * references are reported through pager->release so the space layer can
 * reclaim them once no reader can still see them.
 *
 * Page layout: bytes [0, AG_PAGE_HDR) belong to the pager (checksum, magic,
 * own address, generation: page.h); the tree owns [AG_PAGE_HDR, page_size).
 * The tree never writes the header; it reads a page's generation (to
 * refuse pages newer than its root) and its address, generation and crc
 * (to know a page it has checked before).
 * page_size must hold two maximum-size leaf entries (at least 2678 bytes;
 * 4096 in practice) and be at most 32768; ag_tree_open() says -EINVAL
 * otherwise. A page whose contents do not parse gives -AG_ECORRUPT
 * (base.h).
 *
 * Locking: a handle is used by one thread at a time. Any number of read
 * handles may share one pager concurrently if the pager is thread-safe.
 */
#ifndef AG_BTREE_H
#define AG_BTREE_H

#include <stddef.h>
#include <stdint.h>

#include "page.h" /* AG_PAGE_HDR */
#define AG_KEY_MAX 288
#define AG_VAL_MAX 1024

struct ag_pager {
	size_t page_size;
	void *ctx;
	/* Fill buf (page_size bytes) with the page at addr, verified;
	 * -AG_ESTALEROOT with buf holding another page, verified, when that
	 * is what the place of addr holds now (its slot was reused). */
	int (*read)(void *ctx, uint64_t addr, void *buf);
	/* Write buf as the page at addr, stamped with generation gen. The
	 * pager fills bytes [0, AG_PAGE_HDR) itself. */
	int (*write)(void *ctx, uint64_t addr, uint64_t gen, void *buf);
	/* A fresh, never-referenced page address. */
	int (*alloc)(void *ctx, uint64_t *addr);
	/* A page the tree being built no longer references. */
	void (*release)(void *ctx, uint64_t addr);
	/* Non-zero when read checks bytes 0-3 of a page as a crc of the
	 * rest: then a page seen before with the same crc, address and
	 * generation is not checked again. */
	int crc_verified;
};

struct ag_tree;
struct ag_cursor;

/* Open the tree whose root page is at root (0: an empty tree). The handle
 * keeps a pointer to pager, which must outlive it. */
int ag_tree_open(struct ag_tree **tp, const struct ag_pager *pager,
		 uint64_t root);
/* Free the handle and every uncommitted change. Accepts NULL. */
void ag_tree_close(struct ag_tree *t);

/* Copy the value of key into val (capacity *vlen); *vlen becomes its
 * length. -ENOENT when absent, -ERANGE when val is too small. get and del
 * give -EINVAL for a key length that put would refuse. */
int ag_tree_get(struct ag_tree *t, const void *key, size_t klen, void *val,
		size_t *vlen);
/* Insert or replace. -EINVAL when klen is 0 or over AG_KEY_MAX, or vlen
 * over AG_VAL_MAX. */
int ag_tree_put(struct ag_tree *t, const void *key, size_t klen,
		const void *val, size_t vlen);
/* Remove key; -ENOENT when absent. */
int ag_tree_del(struct ag_tree *t, const void *key, size_t klen);

/* Give every dirty page an address, write it stamped with gen, and return
 * the new root address in *root (0 for an empty tree). The handle stays
 * usable and now reads the flushed tree. */
int ag_tree_flush(struct ag_tree *t, uint64_t gen, uint64_t *root);
/* Refuse with -AG_ESTALEROOT any page whose header says it was written
 * after generation gen, and any such page the pager finds where the one
 * asked for was: a reader at an old root meeting a reused address learns
 * that it must move to a newer root (base.h). Default: no limit, so
 * every such page is -AG_ECORRUPT. */
void ag_tree_set_max_gen(struct ag_tree *t, uint64_t gen);
/* The generation set by ag_tree_set_max_gen (UINT64_MAX: none). */
uint64_t ag_tree_max_gen(const struct ag_tree *t);
/* Keep at most pages clean pages loaded (default 4096). */
void ag_tree_set_cache(struct ag_tree *t, size_t pages);
/* Root address and height of what the handle last opened or flushed. */
uint64_t ag_tree_root(const struct ag_tree *t);
/* Non-zero when the handle has unflushed changes. */
int ag_tree_dirty(const struct ag_tree *t);

/* Position a cursor at the first key >= key (klen 0: the first key). The
 * cursor must not outlive its tree handle, and the tree must not be
 * modified while a cursor is open. */
int ag_tree_seek(struct ag_tree *t, const void *key, size_t klen,
		 struct ag_cursor **cp);
/* Return 1 and point *key and *val at the current entry, then advance; 0 at
 * the end; negative errno on a read error. The pointers stay valid until
 * the next call on the cursor. */
int ag_cursor_next(struct ag_cursor *c, const void **key, size_t *klen,
		   const void **val, size_t *vlen);
void ag_cursor_free(struct ag_cursor *c);

/* Visit every page reachable from the root (for fsck and space
 * accounting): cb(addr, level, arg), level 0 for leaves. A non-zero return
 * from cb stops the walk and is returned. A page that cannot be read is
 * reported to cb with level -1 and its error is remembered; the walk goes
 * on and returns the first such error at the end. Pages not yet flushed
 * have no address: they are reported with addr 0. Pages are visited
 * parent first. */
int ag_tree_walk(struct ag_tree *t,
		 int (*cb)(uint64_t addr, int level, void *arg), void *arg);

/* Dirty every page of the tree whose address pick(addr, arg) says 1 to,
 * and the pages on the way to it: the next ag_tree_flush() writes them
 * at new addresses and releases the old ones, as any change does. This
 * is how the space a few live pages pin is emptied (compaction); the
 * tree's contents do not change. Only branch pages and the leaves picked
 * are read. *picked (may be NULL) counts the pages picked. 0 or -errno
 * (the pages dirtied so far stay dirty). */
int ag_tree_rewrite(struct ag_tree *t, int (*pick)(uint64_t addr, void *arg),
		    void *arg, uint64_t *picked);

/* How full the pages of a tree are, for measuring what metadata costs:
 * pages and the bytes of them in use (page header, node header, key
 * prefix, slots and live cells), leaves and branches apart. */
struct ag_tree_usage {
	uint64_t leaves, leaf_used;
	uint64_t branches, branch_used;
	size_t page_size;
};
/* Add up *u over every page reachable from the root, as ag_tree_walk
 * visits them (a page that cannot be read counts for nothing, and its
 * error is returned at the end). */
int ag_tree_usage(struct ag_tree *t, struct ag_tree_usage *u);

#endif
