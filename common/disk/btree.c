/*
 * btree.c - the copy-on-write B+tree behind Agora's metadata (see btree.h).
 *
 * Invariants:
 *  - A page read from the pager is validated once, in full, before it
 *    enters the handle's node map; everything after that trusts offsets
 *    and lengths without re-checking them. Pages come from disks, so a
 *    bad page must become -AG_ECORRUPT, never a wild read.
 *  - Clean nodes live in the map under their disk address and may be
 *    evicted (LRU) at the start of any public call, never in the middle of
 *    one. Dirty nodes live under a virtual address (VBIT set) and stay
 *    until ag_tree_flush() gives them a real one.
 *  - Every modification first turns the whole root-to-leaf path dirty; a
 *    clean page turning dirty is the one moment its address is released.
 *  - put and del reserve every page buffer they might need before they
 *    change anything, so -ENOMEM or a pager read error leaves the tree as
 *    it was. Merging with a sibling that cannot be read is skipped: an
 *    underfull page is legal, a half-done merge is not.
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
 * Separators pushed up by a leaf split are the shortest prefix of the
 * right page's first key that still sorts above the left page's last key
 * (suffix truncation), so branch pages stay small and fan out widely.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
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
	struct node *idle;	   /* evicted, to be reused by load() */
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

/* memcmp order, shorter first on a common prefix */
static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = min_sz(al, bl);
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return (al > bl) - (al < bl);
}

/* ---- validation ---- */

static int check_cells(const struct ag_tree *t, const uint8_t *b,
		       unsigned n, unsigned plen, unsigned cs)
{
	const uint8_t *pk = NULL;
	size_t pl = 0, sum = 0;
	int leaf = nlevel(b) == 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned off = slot(b, i), kl;
		const uint8_t *k;
		size_t sz;

		if (off < cs || off + (leaf ? LCELL : BCELL) > t->ps)
			return -AG_ECORRUPT;
		kl = get_le16(b + off);
		if (leaf) {
			unsigned vl = get_le16(b + off + 2);

			if (plen + kl > AG_KEY_MAX || plen + kl == 0 ||
			    vl > AG_VAL_MAX)
				return -AG_ECORRUPT;
			sz = LCELL + kl + vl;
			k = b + off + LCELL;
		} else {
			uint64_t c = get_le64(b + off + 2);

			if (kl > AG_KEY_MAX || (i == 0) != (kl == 0) || !c ||
			    (c & VBIT))
				return -AG_ECORRUPT;
			sz = BCELL + kl;
			k = b + off + BCELL;
		}
		if (off + sz > t->ps)
			return -AG_ECORRUPT;
		sum += sz;
		/* leaves compare suffixes: they share the prefix */
		if (pk && keycmp(pk, pl, k, kl) >= 0)
			return -AG_ECORRUPT;
		if (leaf || i > 0) {
			pk = k;
			pl = kl;
		}
	}
	/* bounds nkeys by space, which bounds every scratch array */
	return sum > t->ps - cs ? -AG_ECORRUPT : 0;
}

static int check_layout(const struct ag_tree *t, const uint8_t *b);

/* Pages whose layout passed, by a fingerprint of their address,
 * generation and crc (when the pager verified the crc): every
 * request opens a tree and loads its pages afresh, and checking each
 * cell of each page every time was a tenth of a small S3 GET. */
#define CHECKED_SLOTS 65536u
static _Atomic uint64_t checked[CHECKED_SLOTS];

static uint64_t page_fingerprint(const uint8_t *b)
{
	uint64_t h = ag_page_hdr_addr(b) * 0x9E3779B97F4A7C15ULL;

	h = (h ^ ag_page_hdr_gen(b)) * 0xC2B2AE3D27D4EB4FULL;
	h = (h ^ ag_page_hdr_crc(b)) * 0x165667B19E3779F9ULL;
	return h ^ (h >> 29);
}

static int written_after_root(const struct ag_tree *t, const uint8_t *b)
{
	return ag_page_hdr_gen(b) > t->max_gen;
}

static int check_page(const struct ag_tree *t, const uint8_t *b)
{
	uint64_t fp = page_fingerprint(b);
	_Atomic uint64_t *slot = &checked[fp % CHECKED_SLOTS];
	int rc;

	/* a page written after the root we read from is a reused address:
	 * the caller's view is stale and must move to a newer root */
	if (written_after_root(t, b))
		return -AG_ESTALEROOT;
	if (!t->pg->crc_verified)
		return check_layout(t, b);
	if (atomic_load_explicit(slot, memory_order_relaxed) == fp)
		return 0;
	rc = check_layout(t, b);
	if (!rc)
		atomic_store_explicit(slot, fp, memory_order_relaxed);
	return rc;
}

/* Read the page at addr into buf and validate it. The pager finds a
 * slot holding another page (-AG_ESTALEROOT, that page in buf) when the
 * page was freed and its slot reused: that moved the root on only if the
 * page now there was written after this tree's root; a page this root
 * can see written over a page it still references is damage. */
static int read_page(const struct ag_tree *t, uint64_t addr, uint8_t *buf)
{
	int rc = t->pg->read(t->pg->ctx, addr, buf);

	if (rc > 0)
		return -EIO;
	if (rc == -AG_ESTALEROOT && !written_after_root(t, buf))
		return AG_CORRUPT("page %#llx: its place holds page %#llx, "
				  "which its tree can see",
				  (unsigned long long)addr,
				  (unsigned long long)ag_page_hdr_addr(buf));
	return rc ? rc : check_page(t, buf);
}

static int check_layout(const struct ag_tree *t, const uint8_t *b)
{
	unsigned n = nkeys(b), plen = nplen(b);
	unsigned cs = get_le16(b + H + T_CSTART);
	int level = nlevel(b);

	if (b[H + T_FLAGS] || level >= MAX_H || plen > AG_KEY_MAX)
		return -AG_ECORRUPT;
	if (level > 0 && (plen || !n))
		return -AG_ECORRUPT;
	if (H + NODE_HDR + plen + 2 * (size_t)n > cs || cs > t->ps ||
	    get_le16(b + H + T_FRAG) > t->ps)
		return -AG_ECORRUPT;
	return check_cells(t, b, n, plen, cs);
}

/* ---- node map and clean-page LRU ---- */

static inline size_t hslot(const struct ag_tree *t, uint64_t a)
{
	return (size_t)((a * 0x9E3779B97F4A7C15ULL) >> 32) & t->hmask;
}

static struct node *hash_get(const struct ag_tree *t, uint64_t a)
{
	struct node *n = t->hash[hslot(t, a)];

	while (n && n->addr != a)
		n = n->hnext;
	return n;
}

static void hash_grow(struct ag_tree *t)
{
	size_t nsz = (t->hmask + 1) * 2;
	struct node **nh = calloc(nsz, sizeof(*nh)), **oh = t->hash;
	size_t osz = t->hmask + 1;

	if (!nh)
		return; /* longer chains, still correct */
	t->hash = nh;
	t->hmask = nsz - 1;
	for (size_t i = 0; i < osz; i++) {
		struct node *n = oh[i], *next;

		for (; n; n = next) {
			size_t h = hslot(t, n->addr);

			next = n->hnext;
			n->hnext = nh[h];
			nh[h] = n;
		}
	}
	free(oh);
}

static void hash_add(struct ag_tree *t, struct node *n)
{
	size_t h;

	if (t->hcount > t->hmask)
		hash_grow(t);
	h = hslot(t, n->addr);
	n->hnext = t->hash[h];
	t->hash[h] = n;
	t->hcount++;
}

static void hash_del(struct ag_tree *t, struct node *n)
{
	struct node **pp = &t->hash[hslot(t, n->addr)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	t->hcount--;
}

static void lru_del(struct node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

static void lru_front(struct ag_tree *t, struct node *n)
{
	n->next = t->lru.next;
	n->prev = &t->lru;
	t->lru.next->prev = n;
	t->lru.next = n;
}

/* Buffers for pages being read need no zeroing: the pager fills them. */
static uint8_t *buf_alloc(const struct ag_tree *t, int zero)
{
	uint8_t *b = aligned_alloc(BUF_ALIGN, (t->ps + BUF_ALIGN - 1) &
						      ~(size_t)(BUF_ALIGN - 1));

	if (b && zero)
		memset(b, 0, t->ps);
	return b;
}

static struct node *node_alloc(const struct ag_tree *t, int zero)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n && !(n->buf = buf_alloc(t, zero))) {
		free(n);
		n = NULL;
	}
	return n;
}

static void node_free(struct node *n)
{
	free(n->buf);
	free(n);
}

/* Called only where no caller holds node pointers: public entry points. */
static void trim(struct ag_tree *t)
{
	while (t->nclean > t->maxclean) {
		struct node *n = t->lru.prev;

		lru_del(n);
		hash_del(t, n);
		t->nclean--;
		if (t->nidle < IDLE_KEEP) {
			n->hnext = t->idle;
			t->idle = n;
			t->nidle++;
		} else {
			node_free(n);
		}
	}
}

static struct node *idle_take(struct ag_tree *t)
{
	struct node *n = t->idle;

	if (!n)
		return node_alloc(t, 0);
	t->idle = n->hnext;
	t->nidle--;
	return n;
}

static void idle_put(struct ag_tree *t, struct node *n)
{
	n->hnext = t->idle;
	t->idle = n;
	t->nidle++;
}

/* The node at addr; expect is its level, or -1 when unknown (the root). */
static int load(struct ag_tree *t, uint64_t addr, int expect,
		struct node **np)
{
	struct node *n = hash_get(t, addr);
	int rc;

	if (!n) {
		if (!addr || (addr & VBIT))
			return -AG_ECORRUPT;
		if (!(n = idle_take(t)))
			return -ENOMEM;
		rc = read_page(t, addr, n->buf);
		if (rc) {
			idle_put(t, n);
			return rc;
		}
		n->addr = addr;
		hash_add(t, n);
		lru_front(t, n);
		t->nclean++;
	} else if (!n->dirty && t->lru.next != n) {
		lru_del(n);
		lru_front(t, n);
	}
	if (expect >= 0 && nlevel(n->buf) != expect)
		return -AG_ECORRUPT;
	*np = n;
	return 0;
}

/* ---- searching ---- */

/* Index of the first key >= k; *found when equal. */
static unsigned leaf_search(const uint8_t *b, const uint8_t *k, size_t kl,
			    int *found)
{
	unsigned n = nkeys(b), plen = nplen(b), lo = 0, hi = n;

	*found = 0;
	if (plen) {
		size_t m = min_sz(kl, plen);
		int c = m ? memcmp(k, nprefix(b), m) : 0;

		if (c < 0 || (c == 0 && kl < plen))
			return 0;
		if (c > 0)
			return n;
		k += plen;
		kl -= plen;
	}
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2, off = slot(b, mid);
		int c = keycmp(b + off + LCELL, get_le16(b + off), k, kl);

		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
			if (!c) {
				*found = 1;
				break;
			}
		}
	}
	return hi;
}

/* Index of the child whose range holds k. */
static unsigned branch_search(const uint8_t *b, const uint8_t *k, size_t kl)
{
	unsigned lo = 1, hi = nkeys(b);

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2, off = slot(b, mid);

		if (keycmp(b + off + BCELL, get_le16(b + off), k, kl) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

static int descend(struct ag_tree *t, const uint8_t *k, size_t kl,
		   struct path *p, int *found)
{
	uint64_t a = t->root;
	int expect = -1, rc;

	p->rightmost = 1;
	for (int d = 0; d < MAX_H; d++) {
		struct node *n;
		unsigned i;

		if ((rc = load(t, a, expect, &n)))
			return rc;
		p->n[d] = n;
		if (nlevel(n->buf) == 0) {
			p->idx[d] = leaf_search(n->buf, k, kl, found);
			p->depth = d + 1;
			return 0;
		}
		i = branch_search(n->buf, k, kl);
		p->idx[d] = i;
		if ((p->rightmost >> d & 1) && i == nkeys(n->buf) - 1)
			p->rightmost |= 2u << d;
		a = child(n->buf, i);
		expect = nlevel(n->buf) - 1;
	}
	return -AG_ECORRUPT;
}

/* ---- entries ---- */

static inline size_t klen(const struct ent *e)
{
	return e->k1len + e->k2len;
}

static inline unsigned kbyte(const struct ent *e, size_t i)
{
	return i < e->k1len ? e->k1[i] : e->k2[i - e->k1len];
}

static size_t lcp(const struct ent *a, const struct ent *b)
{
	size_t n = min_sz(klen(a), klen(b)), i = 0;

	while (i < n && kbyte(a, i) == kbyte(b, i))
		i++;
	return i;
}

/* Copy key bytes [from, to) of e to d. */
static void kcopy(uint8_t *d, const struct ent *e, size_t from, size_t to)
{
	if (from < e->k1len) {
		size_t n = min_sz(to, e->k1len) - from;

		cpy(d, e->k1 + from, n);
		d += n;
		from += n;
	}
	if (from < to)
		cpy(d, e->k2 + from - e->k1len, to - from);
}

static int gather(const uint8_t *b, struct ent *e)
{
	unsigned n = nkeys(b);

	for (unsigned i = 0; i < n; i++, e++) {
		const uint8_t *c = b + slot(b, i);

		if (nlevel(b) == 0) {
			e->k1 = nprefix(b);
			e->k1len = nplen(b);
			e->k2len = get_le16(c);
			e->k2 = c + LCELL;
			e->vlen = get_le16(c + 2);
			e->v = e->k2 + e->k2len;
			e->child = 0;
		} else {
			e->k1len = get_le16(c);
			e->k1 = c + BCELL;
			e->k2 = e->v = NULL;
			e->k2len = e->vlen = 0;
			e->child = get_le64(c + 2);
		}
	}
	return n;
}

static void ent_pkey(struct ent *e, const uint8_t *b, unsigned i)
{
	const uint8_t *c = b + slot(b, i);

	e->k1len = get_le16(c);
	e->k1 = c + BCELL;
	e->k2 = NULL;
	e->k2len = 0;
}

/*
 * Check that e[0..m) is in order (a corrupt tree could make it not be,
 * and every size computed below relies on it), and fill the adjacent
 * common-prefix lengths and the size prefix sums that partition() uses.
 */
static int prep(struct ag_tree *t, const struct ent *e, int m, int leaf)
{
	size_t allp = m ? klen(e) : 0;

	t->psum[0] = 0;
	for (int j = 0; j < m; j++) {
		size_t sz = 2 + klen(e + j) +
			    (leaf ? LCELL + e[j].vlen : BCELL);

		t->psum[j + 1] = t->psum[j] + sz;
		if (j == m - 1 || (!leaf && j == 0))
			continue;
		size_t l = lcp(e + j, e + j + 1);

		if (l == klen(e + j + 1) ||
		    (l < klen(e + j) && kbyte(e + j, l) > kbyte(e + j + 1, l)))
			return -AG_ECORRUPT;
		t->alcp[j] = l;
		if (l < allp)
			allp = l;
	}
	t->allp = allp;
	return 0;
}

/* Bytes a page holding e[a..z) needs; p is the leaf prefix length. */
static size_t piece_cost(const struct ag_tree *t, const struct ent *e,
			 int a, int z, int leaf, size_t p)
{
	size_t sum = t->psum[z] - t->psum[a];

	if (leaf)
		return NODE_HDR + p + sum - (z - a) * p;
	return NODE_HDR + sum - klen(e + a);
}

/*
 * Cut e[0..m) into pages: one if it fits, else the two that balance best,
 * or, for an append at the right edge of the tree, the two that leave the
 * left page fullest (sequential loads then pack pages). Two always
 * suffice for lists that come from valid pages (see the top).
 */
static int partition(struct ag_tree *t, const struct ent *e, int m, int leaf,
		     int append, int *cut)
{
	size_t cap = t->cap, best = (size_t)-1, lp;
	int bk = -1;

	cut[0] = 0;
	if (piece_cost(t, e, 0, m, leaf, t->allp) <= cap) {
		cut[1] = m;
		return 1;
	}
	if (leaf) {
		t->rmin[m - 1] = klen(e + m - 1);
		for (int k = m - 2; k >= 0; k--)
			t->rmin[k] = t->alcp[k] < t->rmin[k + 1] ? t->alcp[k]
								 : t->rmin[k + 1];
	}
	lp = klen(e);
	for (int k = 1; k < m; k++) {
		size_t l, r, v;

		if (leaf && k > 1 && t->alcp[k - 2] < lp)
			lp = t->alcp[k - 2];
		l = piece_cost(t, e, 0, k, leaf, lp);
		r = piece_cost(t, e, k, m, leaf, leaf ? t->rmin[k] : 0);
		if (l > cap || r > cap)
			continue;
		v = append ? cap - l : (l > r ? l : r);
		if (v < best || (append && v == best)) {
			best = v;
			bk = k;
		}
	}
	if (bk < 0)
		return -AG_ECORRUPT;
	cut[1] = bk;
	cut[2] = m;
	return 2;
}

/* Lay e[a..z) out as a fresh page; sizes were checked by the caller, the
 * check here only keeps a logic error from writing past the buffer. */
static int write_page(const struct ag_tree *t, uint8_t *b, int level,
		      const struct ent *e, int a, int z)
{
	size_t p = 0, need = NODE_HDR, off = t->ps, sl;

	if (level == 0 && z > a)
		p = lcp(e + a, e + z - 1);
	for (int i = a; i < z; i++)
		need += level ? 2 + BCELL + (i > a ? klen(e + i) : 0)
			      : 2 + LCELL + klen(e + i) - p + e[i].vlen;
	if (need + p > t->cap)
		return -AG_ECORRUPT;
	sl = H + NODE_HDR + p;
	b[H + T_LEVEL] = level;
	b[H + T_FLAGS] = 0;
	put_le16(b + H + T_NKEYS, z - a);
	put_le16(b + H + T_FRAG, 0);
	put_le16(b + H + T_PLEN, p);
	if (z > a)
		kcopy(b + H + NODE_HDR, e + a, 0, p);
	for (int i = a; i < z; i++, sl += 2) {
		const struct ent *x = e + i;
		size_t kl = klen(x);

		if (level == 0) {
			off -= LCELL + kl - p + x->vlen;
			put_le16(b + off, kl - p);
			put_le16(b + off + 2, x->vlen);
			kcopy(b + off + LCELL, x, p, kl);
			cpy(b + off + LCELL + kl - p, x->v, x->vlen);
		} else {
			kl = i > a ? kl : 0;
			off -= BCELL + kl;
			put_le16(b + off, kl);
			put_le64(b + off + 2, x->child);
			kcopy(b + off + BCELL, x, 0, kl);
		}
		put_le16(b + sl, off);
	}
	memset(b + sl, 0, off - sl);
	put_le16(b + H + T_CSTART, off);
	return 0;
}

/* ---- copy-on-write bookkeeping ---- */

static int reserve(struct ag_tree *t, int depth)
{
	size_t need = 3 * (size_t)depth + 4;

	while (t->nspare < need) {
		struct node *n = node_alloc(t, 1);

		if (!n)
			return -ENOMEM;
		n->hnext = t->spare;
		t->spare = n;
		t->nspare++;
	}
	return 0;
}

static struct node *spare_take(struct ag_tree *t)
{
	struct node *n = t->spare;

	t->spare = n->hnext;
	t->nspare--;
	n->dirty = 1;
	n->addr = VBIT | ++t->vnext;
	return n;
}

/* The tree no longer references n; its buffer may still be pointed at by
 * entries being moved, so it is only recycled when the operation ends. */
static void retire(struct ag_tree *t, struct node *n)
{
	hash_del(t, n);
	if (!n->dirty) {
		lru_del(n);
		t->nclean--;
		t->pg->release(t->pg->ctx, n->addr);
	}
	n->hnext = t->dead;
	t->dead = n;
}

static void bury(struct ag_tree *t)
{
	struct node *n, *next;

	for (n = t->dead, t->dead = NULL; n; n = next) {
		next = n->hnext;
		if (t->nspare >= SPARE_KEEP) {
			node_free(n);
			continue;
		}
		n->hnext = t->spare;
		t->spare = n;
		t->nspare++;
	}
}

static void make_dirty(struct ag_tree *t, struct node *n)
{
	hash_del(t, n);
	lru_del(n);
	t->nclean--;
	t->pg->release(t->pg->ctx, n->addr);
	n->addr = VBIT | ++t->vnext;
	n->dirty = 1;
	hash_add(t, n);
}

static void cow_path(struct ag_tree *t, struct path *p)
{
	for (int d = 0; d < p->depth; d++) {
		struct node *n = p->n[d];

		if (n->dirty)
			continue;
		make_dirty(t, n);
		if (d)
			set_child(p->n[d - 1]->buf, p->idx[d - 1], n->addr);
		else
			t->root = n->addr;
	}
}

static int scratch(struct ag_tree *t)
{
	size_t cap = 2 * (t->cap / (2 + LCELL) + 1) + 8;

	if (t->entcap)
		return 0;
	t->ents[0] = malloc(cap * sizeof(struct ent));
	t->ents[1] = malloc(cap * sizeof(struct ent));
	t->psum = malloc((cap + 1) * sizeof(*t->psum));
	t->alcp = malloc(cap * sizeof(*t->alcp));
	t->rmin = malloc(cap * sizeof(*t->rmin));
	if (!t->ents[0] || !t->ents[1] || !t->psum || !t->alcp || !t->rmin) {
		free(t->ents[0]);
		free(t->ents[1]);
		free(t->psum);
		free(t->alcp);
		free(t->rmin);
		t->ents[0] = t->ents[1] = NULL;
		t->psum = NULL;
		t->alcp = t->rmin = NULL;
		return -ENOMEM;
	}
	t->entcap = cap;
	return 0;
}

/* ---- rebalancing ---- */

/* Root with one child: the child becomes the root. Empty root leaf: the
 * tree becomes empty. A child that cannot be read stays below its root. */
static void fix_root(struct ag_tree *t)
{
	struct node *n, *c;

	while (t->root && !load(t, t->root, -1, &n)) {
		if (nlevel(n->buf) == 0) {
			if (nkeys(n->buf))
				return;
			retire(t, n);
			t->root = 0;
			return;
		}
		if (nkeys(n->buf) != 1 ||
		    load(t, child(n->buf, 0), nlevel(n->buf) - 1, &c))
			return;
		retire(t, n);
		t->root = c->addr;
	}
}

/* Replace n's contents with e[0..m), keeping its address. */
static int rewrite(struct ag_tree *t, struct node *n, const struct ent *e,
		   int m)
{
	struct node *s = t->spare;
	uint8_t *b = s->buf;
	int rc = write_page(t, b, nlevel(n->buf), e, 0, m);

	if (rc)
		return rc;
	s->buf = n->buf;
	n->buf = b;
	t->spare = s->hnext;
	t->nspare--;
	s->hnext = t->dead;
	t->dead = s;
	return 0;
}

/*
 * Add the entries of a sibling of p->n[d] to the list (ents[*cur]), in key
 * order, into the other scratch list. A branch sibling's first key is
 * stored empty, so the parent's separator stands in for it.
 */
static int pool(struct ag_tree *t, struct path *p, int d, int *cur, int *m,
		int *s, struct node **old)
{
	struct node *par = p->n[d - 1], *sib;
	int i = p->idx[d - 1], level = nlevel(p->n[d]->buf), si, ms;
	struct ent *e = t->ents[*cur], *f = t->ents[*cur ^ 1];

	if (nkeys(par->buf) < 2)
		return 0;
	si = i > 0 ? i - 1 : i + 1;
	if (load(t, child(par->buf, si), level, &sib))
		return 0;
	if (si < i) {
		ms = gather(sib->buf, f);
		cpy(f + ms, e, *m * sizeof(*e));
		if (level && *m)
			ent_pkey(f + ms, par->buf, i);
		old[0] = sib;
		old[1] = p->n[d];
		*s = si;
	} else {
		cpy(f, e, *m * sizeof(*e));
		ms = gather(sib->buf, f + *m);
		if (level && ms)
			ent_pkey(f + *m, par->buf, si);
		old[0] = p->n[d];
		old[1] = sib;
		*s = i;
	}
	*m += ms;
	*cur ^= 1;
	return 1;
}

/* The separator in front of the page starting at e[c]. */
static struct ent separator(const struct ag_tree *t, const struct ent *e,
			    int c, int leaf)
{
	struct ent r = e[c];

	if (leaf) {
		size_t l = t->alcp[c - 1] + 1;

		r.k1len = min_sz(r.k1len, l);
		r.k2len = l - r.k1len;
		r.v = NULL;
		r.vlen = 0;
	}
	return r;
}

/* Build the parent's new entry list in f: entries [s, s + nold) become
 * one per new page. Returns its length. */
static int parent_ents(const struct ag_tree *t, const uint8_t *pb,
		       struct ent *f, const struct ent *e, int leaf, int s,
		       int nold, struct node **q, const int *cut, int k)
{
	int m = pb ? gather(pb, f) : 1;

	if (!pb)
		memset(f, 0, sizeof(*f));
	memmove(f + s + k, f + s + nold, (m - s - nold) * sizeof(*f));
	f[s].child = q[0]->addr;
	for (int j = 1; j < k; j++) {
		f[s + j] = separator(t, e, cut[j], leaf);
		f[s + j].child = q[j]->addr;
	}
	return m + k - nold;
}

/* Lay e out as k new dirty pages q[j] holding e[cut[j]..cut[j + 1]). */
static int write_pieces(struct ag_tree *t, const struct ent *e, int level,
			const int *cut, int k, struct node **q)
{
	for (int j = 0; j < k; j++) {
		int rc;

		q[j] = spare_take(t);
		rc = write_page(t, q[j]->buf, level, e, cut[j], cut[j + 1]);
		if (rc) {
			for (; j >= 0; j--) {
				q[j]->hnext = t->dead;
				t->dead = q[j];
			}
			return rc;
		}
	}
	for (int j = 0; j < k; j++)
		hash_add(t, q[j]);
	return 0;
}

/* The root split into q[0..k): the tree grows a level. */
static int grow_root(struct ag_tree *t, struct ent *f, const struct ent *e,
		     int level, struct node **q, const int *cut, int k)
{
	struct node *r = spare_take(t);
	int m = parent_ents(t, NULL, f, e, !level, 0, 1, q, cut, k);
	int rc = write_page(t, r->buf, level + 1, f, 0, m);

	if (rc) {
		r->hnext = t->dead;
		t->dead = r;
		return rc;
	}
	hash_add(t, r);
	t->root = r->addr;
	return 0;
}

/*
 * p->n[d] should now hold ents[0][0..m): write it back, splitting it when
 * it overflows and, after a delete (shrink), merging or sharing with a
 * sibling when it is under a quarter full; then carry the change up to
 * the parent until a level absorbs it in place. Puts never merge: the
 * page an append split leaves nearly empty is about to fill up.
 */
static int rebalance(struct ag_tree *t, struct path *p, int d, int m,
		     int append, int shrink)
{
	int cur = 0;

	for (;;) {
		struct node *n = p->n[d], *old[2] = { n, NULL }, *q[2];
		int level = nlevel(n->buf), leaf = !level, nold = 1;
		int s = d ? p->idx[d - 1] : 0, cut[3], k, rc;
		struct ent *e = t->ents[cur];
		size_t c;

		if ((rc = prep(t, e, m, leaf)))
			return rc;
		c = piece_cost(t, e, 0, m, leaf, t->allp);
		if (c <= t->cap) {
			if (d == 0 || !shrink || 4 * c >= t->cap ||
			    !pool(t, p, d, &cur, &m, &s, old)) {
				rc = rewrite(t, n, e, m);
				if (!rc && d == 0)
					fix_root(t);
				return rc;
			}
			e = t->ents[cur];
			nold = 2;
			append = 0;
			if ((rc = prep(t, e, m, leaf)))
				return rc;
		}
		k = partition(t, e, m, leaf, append, cut);
		if (k < 0)
			return k;
		if ((rc = write_pieces(t, e, level, cut, k, q)))
			return rc;
		for (int j = 0; j < nold; j++)
			retire(t, old[j]);
		/* the root never pools, so it only gets here to split */
		if (d == 0)
			return grow_root(t, t->ents[cur ^ 1], e, level, q, cut,
					 k);
		m = parent_ents(t, p->n[d - 1]->buf, t->ents[cur ^ 1], e, leaf,
				s, nold, q, cut, k);
		append = append && (p->rightmost >> (d - 1) & 1) && s + k == m;
		cur ^= 1;
		d--;
	}
}

/* ---- leaf edits in place, the common case ---- */

static size_t leaf_used(const struct ag_tree *t, const uint8_t *b)
{
	return slots(b) - H + 2 * nkeys(b) + t->ps -
	       get_le16(b + H + T_CSTART) - get_le16(b + H + T_FRAG);
}

/* -ENOSPC: the page must be rebuilt (no room, or k lacks the prefix). */
static int leaf_insert(uint8_t *b, unsigned i, const uint8_t *k, size_t kl,
		       const void *v, size_t vl)
{
	unsigned n = nkeys(b), plen = nplen(b);
	size_t sl = slots(b), cs = get_le16(b + H + T_CSTART);
	size_t sz = LCELL + kl - plen + vl;

	if (kl < plen || (plen && memcmp(k, nprefix(b), plen)))
		return -ENOSPC;
	if (sl + 2 * (n + 1) + sz > cs)
		return -ENOSPC;
	cs -= sz;
	put_le16(b + cs, kl - plen);
	put_le16(b + cs + 2, vl);
	cpy(b + cs + LCELL, k + plen, kl - plen);
	cpy(b + cs + LCELL + kl - plen, v, vl);
	memmove(b + sl + 2 * (i + 1), b + sl + 2 * i, 2 * (n - i));
	put_le16(b + sl + 2 * i, cs);
	put_le16(b + H + T_NKEYS, n + 1);
	put_le16(b + H + T_CSTART, cs);
	return 0;
}

static int leaf_replace(uint8_t *b, unsigned i, const void *v, size_t vl)
{
	unsigned off = slot(b, i), sl = get_le16(b + off), ovl = get_le16(b + off + 2);
	size_t cs = get_le16(b + H + T_CSTART), sz = LCELL + sl + vl;

	if (ovl == vl) {
		cpy(b + off + LCELL + sl, v, vl);
		return 0;
	}
	if (slots(b) + 2 * nkeys(b) + sz > cs)
		return -ENOSPC;
	cs -= sz;
	put_le16(b + cs, sl);
	put_le16(b + cs + 2, vl);
	cpy(b + cs + LCELL, b + off + LCELL, sl);
	cpy(b + cs + LCELL + sl, v, vl);
	put_le16(b + slots(b) + 2 * i, cs);
	put_le16(b + H + T_CSTART, cs);
	put_le16(b + H + T_FRAG, get_le16(b + H + T_FRAG) + LCELL + sl + ovl);
	return 0;
}

static void leaf_delete(uint8_t *b, unsigned i)
{
	unsigned n = nkeys(b), off = slot(b, i);
	unsigned sz = LCELL + get_le16(b + off) + get_le16(b + off + 2);
	unsigned cs = get_le16(b + H + T_CSTART);
	size_t sl = slots(b);

	memmove(b + sl + 2 * i, b + sl + 2 * (i + 1), 2 * (n - i - 1));
	put_le16(b + H + T_NKEYS, n - 1);
	if (off == cs)
		put_le16(b + H + T_CSTART, cs + sz);
	else
		put_le16(b + H + T_FRAG, get_le16(b + H + T_FRAG) + sz);
}

/* ---- public interface ---- */

int ag_tree_open(struct ag_tree **tp, const struct ag_pager *pager,
		 uint64_t root)
{
	struct ag_tree *t;

	*tp = NULL;
	if (!pager || !pager->read || !pager->write || !pager->alloc ||
	    !pager->release || pager->page_size < PAGE_MIN ||
	    pager->page_size > PAGE_MAX || (root & VBIT))
		return -EINVAL;
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	t->hmask = 63;
	if (!(t->hash = calloc(t->hmask + 1, sizeof(*t->hash)))) {
		free(t);
		return -ENOMEM;
	}
	t->pg = pager;
	t->ps = pager->page_size;
	t->cap = t->ps - H;
	t->root = t->committed = root;
	t->max_gen = UINT64_MAX;
	t->lru.next = t->lru.prev = &t->lru;
	t->maxclean = CACHE_PAGES;
	*tp = t;
	return 0;
}

static void free_list(struct node *n)
{
	while (n) {
		struct node *next = n->hnext;

		node_free(n);
		n = next;
	}
}

void ag_tree_close(struct ag_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i <= t->hmask; i++)
		free_list(t->hash[i]);
	free_list(t->spare);
	free_list(t->dead);
	free_list(t->idle);
	free(t->hash);
	free(t->ents[0]);
	free(t->ents[1]);
	free(t->psum);
	free(t->alcp);
	free(t->rmin);
	free(t);
}

static int bad_key(const void *key, size_t klen)
{
	return !klen || klen > AG_KEY_MAX || !key;
}

int ag_tree_get(struct ag_tree *t, const void *key, size_t klen, void *val,
		size_t *vlen)
{
	struct path p;
	const uint8_t *c;
	int found, rc;
	size_t len;

	if (!t || bad_key(key, klen) || !vlen)
		return -EINVAL;
	trim(t);
	if (!t->root)
		return -ENOENT;
	if ((rc = descend(t, key, klen, &p, &found)))
		return rc;
	if (!found)
		return -ENOENT;
	c = p.n[p.depth - 1]->buf;
	c += slot(c, p.idx[p.depth - 1]);
	len = get_le16(c + 2);
	if (len > *vlen) {
		*vlen = len;
		return -ERANGE;
	}
	*vlen = len;
	cpy(val, c + LCELL + get_le16(c), len);
	return 0;
}

static int put_empty(struct ag_tree *t, const void *key, size_t klen,
		     const void *val, size_t vlen)
{
	struct ent e = { .k1 = key, .k1len = klen, .v = val, .vlen = vlen };
	struct node *n;
	int rc = reserve(t, 1);

	if (rc)
		return rc;
	n = spare_take(t);
	write_page(t, n->buf, 0, &e, 0, 1);
	hash_add(t, n);
	t->root = n->addr;
	return 0;
}

int ag_tree_put(struct ag_tree *t, const void *key, size_t klen,
		const void *val, size_t vlen)
{
	struct path p;
	struct node *leaf;
	struct ent *e;
	int found, rc, i, m;

	if (!t || bad_key(key, klen) || vlen > AG_VAL_MAX || (vlen && !val))
		return -EINVAL;
	trim(t);
	if (!t->root)
		return put_empty(t, key, klen, val, vlen);
	if ((rc = descend(t, key, klen, &p, &found)) || (rc = scratch(t)) ||
	    (rc = reserve(t, p.depth)))
		return rc;
	cow_path(t, &p);
	leaf = p.n[p.depth - 1];
	i = p.idx[p.depth - 1];
	if (found)
		rc = leaf_replace(leaf->buf, i, val, vlen);
	else
		rc = leaf_insert(leaf->buf, i, key, klen, val, vlen);
	if (rc) {
		e = t->ents[0];
		m = gather(leaf->buf, e);
		if (!found) {
			memmove(e + i + 1, e + i, (m - i) * sizeof(*e));
			m++;
		}
		e[i] = (struct ent){ .k1 = key, .k1len = klen, .v = val,
				     .vlen = vlen };
		rc = rebalance(t, &p, p.depth - 1, m,
			       !found && i == m - 1 &&
				       (p.rightmost >> (p.depth - 1) & 1), 0);
	}
	bury(t);
	return rc;
}

int ag_tree_del(struct ag_tree *t, const void *key, size_t klen)
{
	struct path p;
	struct node *leaf;
	int found, rc = 0;

	if (!t || bad_key(key, klen))
		return -EINVAL;
	trim(t);
	if (!t->root)
		return -ENOENT;
	if ((rc = descend(t, key, klen, &p, &found)))
		return rc;
	if (!found)
		return -ENOENT;
	if ((rc = scratch(t)) || (rc = reserve(t, p.depth)))
		return rc;
	cow_path(t, &p);
	leaf = p.n[p.depth - 1];
	leaf_delete(leaf->buf, p.idx[p.depth - 1]);
	if (p.depth == 1)
		fix_root(t);
	else if (4 * leaf_used(t, leaf->buf) < t->cap)
		rc = rebalance(t, &p, p.depth - 1,
			       gather(leaf->buf, t->ents[0]), 0, 1);
	bury(t);
	return rc;
}

/* Children first, so that a parent is written with their new addresses. */
static int flush_node(struct ag_tree *t, struct node *n, uint64_t gen)
{
	uint8_t *b = n->buf;
	uint64_t a;
	int rc;

	for (unsigned i = 0; nlevel(b) && i < nkeys(b); i++) {
		uint64_t ca = child(b, i);
		struct node *c;

		if (!(ca & VBIT))
			continue;
		if (!(c = hash_get(t, ca)))
			return -AG_ECORRUPT;
		if ((rc = flush_node(t, c, gen)))
			return rc;
		set_child(b, i, c->addr);
	}
	if ((rc = t->pg->alloc(t->pg->ctx, &a)))
		return rc > 0 ? -EIO : rc;
	if (!a || (a & VBIT))
		return -EIO;
	if ((rc = t->pg->write(t->pg->ctx, a, gen, b)))
		return rc > 0 ? -EIO : rc;
	hash_del(t, n);
	n->addr = a;
	n->dirty = 0;
	hash_add(t, n);
	lru_front(t, n);
	t->nclean++;
	return 0;
}

int ag_tree_flush(struct ag_tree *t, uint64_t gen, uint64_t *root)
{
	struct node *n;
	int rc;

	if (!t || !root)
		return -EINVAL;
	if (t->root & VBIT) {
		if (!(n = hash_get(t, t->root)))
			return -AG_ECORRUPT;
		if ((rc = flush_node(t, n, gen)))
			return rc;
		t->root = n->addr;
	}
	t->committed = t->root;
	*root = t->root;
	return 0;
}

void ag_tree_set_max_gen(struct ag_tree *t, uint64_t gen)
{
	t->max_gen = gen;
}

uint64_t ag_tree_max_gen(const struct ag_tree *t)
{
	return t->max_gen;
}

void ag_tree_set_cache(struct ag_tree *t, size_t pages)
{
	t->maxclean = pages;
}

uint64_t ag_tree_root(const struct ag_tree *t)
{
	return t->committed;
}

int ag_tree_dirty(const struct ag_tree *t)
{
	return t->root != t->committed;
}

/* ---- cursors ---- */

int ag_tree_seek(struct ag_tree *t, const void *key, size_t klen,
		 struct ag_cursor **cp)
{
	struct ag_cursor *c;
	struct path p;
	int found, rc;

	*cp = NULL;
	if (!t || (klen && !key))
		return -EINVAL;
	trim(t);
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	c->t = t;
	if (!t->root) {
		c->done = 1;
	} else if ((rc = descend(t, key, klen, &p, &found))) {
		free(c);
		return rc;
	} else {
		c->height = p.depth;
		for (int d = 0; d < p.depth; d++) {
			c->st[p.depth - 1 - d].addr = p.n[d]->addr;
			c->st[p.depth - 1 - d].idx = p.idx[d];
		}
	}
	*cp = c;
	return 0;
}

/* Move to the first leaf after the current one; 0 at the end. */
static int next_leaf(struct ag_cursor *c)
{
	struct node *n;
	int l, rc;

	for (l = 1; l < c->height; l++) {
		if ((rc = load(c->t, c->st[l].addr, l, &n)))
			return rc;
		if (c->st[l].idx + 1 < (int)nkeys(n->buf))
			break;
	}
	if (l == c->height)
		return 0;
	c->st[l].idx++;
	for (; l > 0; l--) {
		if ((rc = load(c->t, c->st[l].addr, l, &n)))
			return rc;
		c->st[l - 1].addr = child(n->buf, c->st[l].idx);
		c->st[l - 1].idx = 0;
	}
	return 1;
}

int ag_cursor_next(struct ag_cursor *c, const void **key, size_t *klen,
		   const void **val, size_t *vlen)
{
	struct node *n;
	int rc;

	if (!c)
		return -EINVAL;
	trim(c->t);
	while (!c->done && !c->err) {
		const uint8_t *b, *cell;
		unsigned plen, sl;

		if ((rc = load(c->t, c->st[0].addr, 0, &n))) {
			c->err = rc;
			break;
		}
		b = n->buf;
		if (c->st[0].idx >= (int)nkeys(b)) {
			rc = next_leaf(c);
			if (rc <= 0) {
				c->done = !rc;
				c->err = rc;
			}
			continue;
		}
		cell = b + slot(b, c->st[0].idx++);
		plen = nplen(b);
		sl = get_le16(cell);
		cpy(c->key, nprefix(b), plen);
		cpy(c->key + plen, cell + LCELL, sl);
		*vlen = get_le16(cell + 2);
		cpy(c->val, cell + LCELL + sl, *vlen);
		*key = c->key;
		*klen = plen + sl;
		*val = c->val;
		return 1;
	}
	return c->err;
}

void ag_cursor_free(struct ag_cursor *c)
{
	free(c);
}

/* ---- walking ---- */

struct walk {
	struct ag_tree *t;
	int (*cb)(uint64_t addr, int level, void *arg);
	void *arg;
	int err;
	uint8_t *bufs[MAX_H + 1];
};

/* A page not in the node map is read into a per-depth buffer instead, so
 * that a walk over a big tree does not churn the handle's cache. */
static int walk_node(struct walk *w, uint64_t addr, int expect, int depth)
{
	struct ag_tree *t = w->t;
	struct node *n = hash_get(t, addr);
	const uint8_t *b;
	int rc = 0;

	if (n) {
		b = n->buf;
	} else if (!addr || (addr & VBIT) || depth > MAX_H) {
		rc = -AG_ECORRUPT;
	} else if (!w->bufs[depth] && !(w->bufs[depth] = buf_alloc(t, 0))) {
		return -ENOMEM;
	} else {
		b = w->bufs[depth];
		rc = read_page(t, addr, w->bufs[depth]);
	}
	if (!rc && expect >= 0 && nlevel(b) != expect)
		rc = -AG_ECORRUPT;
	if (rc) {
		if (!w->err)
			w->err = rc;
		return w->cb(addr, -1, w->arg);
	}
	if ((rc = w->cb(n && n->dirty ? 0 : addr, nlevel(b), w->arg)))
		return rc;
	for (unsigned i = 0; nlevel(b) && i < nkeys(b); i++)
		if ((rc = walk_node(w, child(b, i), nlevel(b) - 1, depth + 1)))
			return rc;
	return 0;
}

int ag_tree_walk(struct ag_tree *t,
		 int (*cb)(uint64_t addr, int level, void *arg), void *arg)
{
	struct walk w = { .t = t, .cb = cb, .arg = arg };
	int rc = 0;

	if (!t || !cb)
		return -EINVAL;
	trim(t);
	if (t->root)
		rc = walk_node(&w, t->root, -1, 0);
	for (int i = 0; i <= MAX_H; i++)
		free(w.bufs[i]);
	return rc ? rc : w.err;
}
