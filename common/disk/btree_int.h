/*
 * btree_int.h - what the modules of the B+tree share: btree.c (the
 * handle, its node map, the operations and the copy-on-write
 * bookkeeping), node.c (the page codec: cell layout, prefix compression,
 * checking a page read from a disk) and cursor.c (iteration). Nothing
 * outside these three includes it; everyone else uses btree.h.
 *
 * Page layout, offsets from the start of the page (H = AG_PAGE_HDR; bytes
 * [0, H) are the pager's header, page.h: never written here, and read
 * only through page.h, for the generation that check_page holds against
 * the root's and the fingerprint of a checked page). Integers
 * little-endian.
 *
 *   H+0   u8   level           0 for leaves
 *   H+1   u8   flags           0 (anything else is rejected)
 *   H+2   u16  nkeys
 *   H+4   u16  cell_start      offset of the lowest cell; cells fill
 *                              [cell_start, page_size)
 *   H+6   u16  frag            bytes of dead cells above cell_start
 *   H+8   u16  plen            key prefix shared by every key in the page
 *                              (leaves only; 0 in branches)
 *   H+10  plen bytes           the prefix
 *   H+10+plen  nkeys x u16     slot array: cell offsets, in key order
 *   ...        free space (zeroed when the page is rebuilt)
 *   cells, packed toward the end of the page:
 *     leaf:   u16 slen, u16 vlen, key suffix [slen], value [vlen]
 *             (the key is prefix + suffix)
 *     branch: u16 klen, u64 child, key [klen]
 *             (cell i covers keys >= key i; key 0 is stored empty and
 *             means "everything below key 1")
 *
 * Page sizes from PAGE_MIN (two maximum leaf cells fit: 2678 bytes with
 * the limits in btree.h) to 32768 (offsets are u16) are accepted. A page
 * holds at least 2 maximum leaf cells (3 at 4096) and many more branch
 * cells, so an overfull page always splits into two: a key inside a leaf's
 * range shares the leaf's prefix, so the page grew by at most one cell;
 * a key that breaks the prefix sorts at an edge and can go alone.
 *
 * A page splits in the middle (by bytes), except after an insert that
 * continues a run of keys (node.c, ag_node_run_cut) or a value that grew
 * in place past half a page (ag_node_grow_cut): the cut then goes right
 * after that entry, at the leaf and at each parent the split reaches,
 * so a run of inserts, or of records completed in the order they were
 * made, leaves full pages behind it.
 *
 * Separators pushed up by a leaf split are the shortest prefix of the
 * right page's first key that still sorts above the left page's last key
 * (suffix truncation), so branch pages stay small and fan out widely.
 */
#ifndef AG_BTREE_INT_H
#define AG_BTREE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "btree.h"
#include "page.h"
#include "util.h" /* AG_E* and the little-endian helpers */

#define H AG_PAGE_HDR
#define T_LEVEL 0
#define T_FLAGS 1
#define T_NKEYS 2
#define T_CSTART 4
#define T_FRAG 6
#define T_PLEN 8
#define NODE_HDR 10
#define LCELL 4	 /* leaf cell header */
#define BCELL 10 /* branch cell header */

#define PAGE_MIN (H + NODE_HDR + 2 * (2 + LCELL + AG_KEY_MAX + AG_VAL_MAX))
#define PAGE_MAX 32768
#define MAX_H 32		 /* levels; real trees stay under 10 */
#define VBIT (1ULL << 63)	 /* marks the address of a dirty node */
#define CACHE_PAGES 4096	 /* clean pages a handle keeps */
#define SPARE_KEEP 64
#define IDLE_KEEP 32		 /* evicted nodes kept for the next read */
#define BUF_ALIGN 4096		 /* lets an O_DIRECT pager skip bouncing */

struct node {
	uint64_t addr;		   /* disk address, or VBIT | n when dirty */
	struct node *hnext;	   /* hash chain; spare/dead list link */
	struct node *prev, *next; /* LRU, clean nodes only */
	uint8_t *buf;
	int dirty;
};

/*
 * An entry being moved between pages: the key is k1 followed by k2 so that
 * a leaf's prefix and a cell's suffix can be used where they lie.
 */
struct ent {
	const uint8_t *k1, *k2, *v;
	uint64_t child;
	uint16_t k1len, k2len, vlen;
};

struct ag_tree {
	const struct ag_pager *pg;
	size_t ps, cap;		/* page size; bytes the tree owns per page */
	uint64_t root, committed, vnext;
	uint64_t max_gen;	/* pages stamped later are not of this tree */
	struct node **hash;
	size_t hmask, hcount;
	struct node lru;	/* sentinel; most recently used at next */
	size_t nclean, maxclean;
	struct node *spare, *dead; /* reserved nodes; retired until op end */
	struct node *idle;	   /* evicted, to be reused by ag_tree_load() */
	size_t nspare, nidle;
	/* scratch for rebalancing, allocated on the first write */
	struct ent *ents[2];
	uint32_t *psum;
	uint16_t *alcp, *rmin;
	size_t entcap, allp;
};

struct path {
	struct node *n[MAX_H];
	int idx[MAX_H];
	int depth;
	uint32_t rightmost; /* bit d: n[d] is the last node of its level */
};

struct ag_cursor {
	struct ag_tree *t;
	int height, err, done;
	struct {
		uint64_t addr;
		int idx;
	} st[MAX_H]; /* by level; st[0] is the leaf */
	uint8_t key[AG_KEY_MAX];
	uint8_t val[AG_VAL_MAX];
};

static inline void cpy(void *d, const void *s, size_t n)
{
	if (n)
		memcpy(d, s, n);
}

static inline int nlevel(const uint8_t *b)
{
	return b[H + T_LEVEL];
}

static inline unsigned nkeys(const uint8_t *b)
{
	return get_le16(b + H + T_NKEYS);
}

static inline unsigned nplen(const uint8_t *b)
{
	return get_le16(b + H + T_PLEN);
}

static inline const uint8_t *nprefix(const uint8_t *b)
{
	return b + H + NODE_HDR;
}

static inline size_t slots(const uint8_t *b)
{
	return H + NODE_HDR + nplen(b);
}

static inline unsigned slot(const uint8_t *b, unsigned i)
{
	return get_le16(b + slots(b) + 2 * i);
}

static inline uint64_t child(const uint8_t *b, unsigned i)
{
	return get_le64(b + slot(b, i) + 2);
}

static inline void set_child(uint8_t *b, unsigned i, uint64_t a)
{
	put_le64(b + slot(b, i) + 2, a);
}

static inline size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- the page codec (node.c) ---- */

/* Read the page at addr into buf and validate it: 0, or -errno with
 * -AG_ECORRUPT for a bad page and -AG_ESTALEROOT for a reused one. */
int ag_node_read(const struct ag_tree *t, uint64_t addr, uint8_t *buf);
/* Index of the first key >= k in a leaf; *found when equal. */
unsigned ag_node_leaf_search(const uint8_t *b, const uint8_t *k, size_t kl,
			     int *found);
/* Index of the child of a branch whose range holds k. */
unsigned ag_node_branch_search(const uint8_t *b, const uint8_t *k,
			       size_t kl);
/* The entries of page b into e, in key order; returns their number. */
int ag_node_gather(const uint8_t *b, struct ent *e);
/* Key i of branch page b as the key of e. */
void ag_node_ent_pkey(struct ent *e, const uint8_t *b, unsigned i);
/* Check e[0..m) is in order, fill t->alcp, t->psum and t->allp. */
int ag_node_prep(struct ag_tree *t, const struct ent *e, int m, int leaf);
/* Bytes a page holding e[a..z) needs; p is the leaf prefix length. */
size_t ag_node_piece_cost(const struct ag_tree *t, const struct ent *e,
			  int a, int z, int leaf, size_t p);
/* The cut a leaf holding e[0..m), e[i] just inserted, splits at: i + 1
 * for a run of inserts, 0 for a balanced split (node.c says which).
 * upper is the leaf's upper bound (NULL: none known); rightmost when the
 * leaf is the last of the tree. */
int ag_node_run_cut(const struct ent *e, int m, int i, const uint8_t *upper,
		    size_t ulen, int rightmost);
/* The cut a leaf holding e[0..m) splits at after e[i] grew in place:
 * i + 1 when what lies before fills half a page, else 0 (node.c). */
int ag_node_grow_cut(const struct ag_tree *t, const struct ent *e, int m,
		     int i);
/* Cut e[0..m) into 1 or 2 pages at cut[]: their number, or -errno. A
 * target cut (not 0) is met as nearly as the sizes allow; 0 balances. */
int ag_node_partition(struct ag_tree *t, const struct ent *e, int m,
		      int leaf, int target, int *cut);
/* Lay e[a..z) out as a fresh page of the given level in b. */
int ag_node_write(const struct ag_tree *t, uint8_t *b, int level,
		  const struct ent *e, int a, int z);
/* Bytes of page b in use past the pager's header (node header, prefix,
 * slots and live cells; a branch has no prefix). */
size_t ag_node_leaf_used(const struct ag_tree *t, const uint8_t *b);
/* In-place leaf edits; -ENOSPC when the page must be rebuilt. */
int ag_node_leaf_insert(uint8_t *b, unsigned i, const uint8_t *k, size_t kl,
			const void *v, size_t vl);
int ag_node_leaf_replace(uint8_t *b, unsigned i, const void *v, size_t vl);
void ag_node_leaf_delete(uint8_t *b, unsigned i);

/* ---- the node map (btree.c), for cursor.c ---- */

/* The node at addr; expect is its level, or -1 when unknown (the root). */
int ag_tree_load(struct ag_tree *t, uint64_t addr, int expect,
		 struct node **np);
/* Evict clean nodes over the cache size; only where no caller holds
 * node pointers: public entry points. */
void ag_tree_trim(struct ag_tree *t);

#endif
