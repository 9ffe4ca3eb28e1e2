/*
 * node.c - the page codec of the B+tree (see btree_int.h for the page
 * layout): checking a page read from a disk, searching a page, taking
 * its entries apart and laying entries out as a page, with the common
 * prefix of a leaf's keys stored once, and editing a leaf in place.
 *
 * Contract: a page that ag_node_read() accepted is safe to use without
 * further checks (every offset and length in it lies inside the page);
 * ag_node_write() is given entries whose sizes ag_node_partition() has
 * checked. Functions return 0 or a negative errno.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "btree_int.h"

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
int ag_node_read(const struct ag_tree *t, uint64_t addr, uint8_t *buf)
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

/* ---- searching ---- */

/* Index of the first key >= k; *found when equal. */
unsigned ag_node_leaf_search(const uint8_t *b, const uint8_t *k, size_t kl,
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
unsigned ag_node_branch_search(const uint8_t *b, const uint8_t *k, size_t kl)
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

int ag_node_gather(const uint8_t *b, struct ent *e)
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

void ag_node_ent_pkey(struct ent *e, const uint8_t *b, unsigned i)
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
 * common-prefix lengths and the size prefix sums that ag_node_partition() uses.
 */
int ag_node_prep(struct ag_tree *t, const struct ent *e, int m, int leaf)
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
size_t ag_node_piece_cost(const struct ag_tree *t, const struct ent *e,
			  int a, int z, int leaf, size_t p)
{
	size_t sum = t->psum[z] - t->psum[a];

	if (leaf)
		return NODE_HDR + p + sum - (z - a) * p;
	return NODE_HDR + sum - klen(e + a);
}

/* Length of the common prefix of e's key and k[0..kl). */
static size_t lcp_key(const struct ent *e, const uint8_t *k, size_t kl)
{
	size_t n = min_sz(klen(e), kl), i = 0;

	while (i < n && kbyte(e, i) == k[i])
		i++;
	return i;
}

/*
 * Where a leaf that must split after the insert of e[i] is best cut, for
 * ag_node_partition(): i + 1 (the new entry ends the left page) when the
 * insert looks like one of a run that goes on to the right, 0 (balance)
 * otherwise. A run is an entry that shares clearly more of its key with
 * the entry before it than with the key after it (the next entry, or
 * the leaf's upper bound upper[0..ulen) when it is the last; none at the
 * right edge of the tree): a new inode, the next extent of a file being
 * appended, the entries of a new directory all go after their
 * predecessor and before keys of another kind or object. Random keys
 * (chunk digests) rarely share two bytes more with one neighbour than
 * with the other, and keep the balanced split.
 */
int ag_node_run_cut(const struct ent *e, int m, int i, const uint8_t *upper,
		    size_t ulen, int rightmost)
{
	size_t before, after;

	if (i <= 0 || i >= m)
		return 0;
	before = lcp(e + i - 1, e + i);
	if (i < m - 1)
		after = lcp(e + i, e + i + 1);
	else if (upper)
		after = lcp_key(e + i, upper, ulen);
	else
		return rightmost ? i + 1 : 0;
	return before >= after + 2 ? i + 1 : 0;
}

/*
 * Where a leaf that overflowed when e[i] grew in place is best cut, for
 * ag_node_partition(): i + 1 when the entries up to e[i] fill half a
 * page, 0 (balance) otherwise. Records made small and completed later
 * (an inode created empty, then given its size, times and etag) grow in
 * the order they were made: the records before the one that grew are
 * done growing, those after it will grow next, so the left page stays
 * full and the right one has room for them. A balanced split there left
 * two pages half full behind every run of new files.
 */
int ag_node_grow_cut(const struct ag_tree *t, const struct ent *e, int m,
		     int i)
{
	size_t before = NODE_HDR;

	if (i < 0 || i >= m)
		return 0;
	for (int j = 0; j <= i; j++)
		before += 2 + LCELL + klen(e + j) + e[j].vlen;
	return 2 * before >= t->cap ? i + 1 : 0;
}

/*
 * Cut e[0..m) into pages: one if it fits, else the two that balance best,
 * or, given a target cut (a run of inserts, ag_node_run_cut(), at a leaf
 * or at the parents of pages it split), the two whose cut is nearest to
 * it, the left page fuller on a tie: sequential inserts then leave full
 * pages behind them. Two always suffice for lists that come from valid
 * pages (see the top).
 */
int ag_node_partition(struct ag_tree *t, const struct ent *e, int m, int leaf,
		      int target, int *cut)
{
	size_t cap = t->cap, best = (size_t)-1, lp;
	int bk = -1;

	cut[0] = 0;
	if (ag_node_piece_cost(t, e, 0, m, leaf, t->allp) <= cap) {
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
		l = ag_node_piece_cost(t, e, 0, k, leaf, lp);
		r = ag_node_piece_cost(t, e, k, m, leaf, leaf ? t->rmin[k] : 0);
		if (l > cap || r > cap)
			continue;
		v = target ? (size_t)(k < target ? target - k : k - target)
			   : (l > r ? l : r);
		if (v < best || (target && v == best)) {
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
int ag_node_write(const struct ag_tree *t, uint8_t *b, int level,
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
/* ---- leaf edits in place, the common case ---- */

size_t ag_node_leaf_used(const struct ag_tree *t, const uint8_t *b)
{
	return slots(b) - H + 2 * nkeys(b) + t->ps -
	       get_le16(b + H + T_CSTART) - get_le16(b + H + T_FRAG);
}

/* -ENOSPC: the page must be rebuilt (no room, or k lacks the prefix). */
int ag_node_leaf_insert(uint8_t *b, unsigned i, const uint8_t *k, size_t kl,
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

int ag_node_leaf_replace(uint8_t *b, unsigned i, const void *v, size_t vl)
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

void ag_node_leaf_delete(uint8_t *b, unsigned i)
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
