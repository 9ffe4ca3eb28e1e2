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
 * The page layout and the codec are in btree_int.h and node.c; cursors
 * in cursor.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "btree_int.h"

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
void ag_tree_trim(struct ag_tree *t)
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
int ag_tree_load(struct ag_tree *t, uint64_t addr, int expect,
		 struct node **np)
{
	struct node *n = hash_get(t, addr);
	int rc;

	if (!n) {
		if (!addr || (addr & VBIT))
			return -AG_ECORRUPT;
		if (!(n = idle_take(t)))
			return -ENOMEM;
		rc = ag_node_read(t, addr, n->buf);
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

static int descend(struct ag_tree *t, const uint8_t *k, size_t kl,
		   struct path *p, int *found)
{
	uint64_t a = t->root;
	int expect = -1, rc;

	p->rightmost = 1;
	for (int d = 0; d < MAX_H; d++) {
		struct node *n;
		unsigned i;

		if ((rc = ag_tree_load(t, a, expect, &n)))
			return rc;
		p->n[d] = n;
		if (nlevel(n->buf) == 0) {
			p->idx[d] = ag_node_leaf_search(n->buf, k, kl, found);
			p->depth = d + 1;
			return 0;
		}
		i = ag_node_branch_search(n->buf, k, kl);
		p->idx[d] = i;
		if ((p->rightmost >> d & 1) && i == nkeys(n->buf) - 1)
			p->rightmost |= 2u << d;
		a = child(n->buf, i);
		expect = nlevel(n->buf) - 1;
	}
	return -AG_ECORRUPT;
}


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

	while (t->root && !ag_tree_load(t, t->root, -1, &n)) {
		if (nlevel(n->buf) == 0) {
			if (nkeys(n->buf))
				return;
			retire(t, n);
			t->root = 0;
			return;
		}
		if (nkeys(n->buf) != 1 ||
		    ag_tree_load(t, child(n->buf, 0), nlevel(n->buf) - 1, &c))
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
	int rc = ag_node_write(t, b, nlevel(n->buf), e, 0, m);

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
	if (ag_tree_load(t, child(par->buf, si), level, &sib))
		return 0;
	if (si < i) {
		ms = ag_node_gather(sib->buf, f);
		cpy(f + ms, e, *m * sizeof(*e));
		if (level && *m)
			ag_node_ent_pkey(f + ms, par->buf, i);
		old[0] = sib;
		old[1] = p->n[d];
		*s = si;
	} else {
		cpy(f, e, *m * sizeof(*e));
		ms = ag_node_gather(sib->buf, f + *m);
		if (level && ms)
			ag_node_ent_pkey(f + *m, par->buf, si);
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
	int m = pb ? ag_node_gather(pb, f) : 1;

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
		rc = ag_node_write(t, q[j]->buf, level, e, cut[j], cut[j + 1]);
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
	int rc = ag_node_write(t, r->buf, level + 1, f, 0, m);

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
 * it overflows (at target, when not 0: ag_node_partition()) and, after a
 * delete (shrink), merging or sharing with a sibling when it is under a
 * quarter full; then carry the change up to the parent until a level
 * absorbs it in place. A split at a target asks the parent to split
 * right after the new pages too. Puts never merge: the page a run of
 * inserts split off nearly empty is about to fill up.
 */
static int rebalance(struct ag_tree *t, struct path *p, int d, int m,
		     int target, int shrink)
{
	int cur = 0;

	for (;;) {
		struct node *n = p->n[d], *old[2] = { n, NULL }, *q[2];
		int level = nlevel(n->buf), leaf = !level, nold = 1;
		int s = d ? p->idx[d - 1] : 0, cut[3], k, rc;
		struct ent *e = t->ents[cur];
		size_t c;

		if ((rc = ag_node_prep(t, e, m, leaf)))
			return rc;
		c = ag_node_piece_cost(t, e, 0, m, leaf, t->allp);
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
			target = 0;
			if ((rc = ag_node_prep(t, e, m, leaf)))
				return rc;
		}
		k = ag_node_partition(t, e, m, leaf, target, cut);
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
		target = target ? s + k : 0;
		cur ^= 1;
		d--;
	}
}


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
	ag_tree_trim(t);
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
	ag_node_write(t, n->buf, 0, &e, 0, 1);
	hash_add(t, n);
	t->root = n->addr;
	return 0;
}

/* The cut for a leaf split after inserting e[i] (ag_node_run_cut), with
 * the leaf's upper bound from the path: the separator after the child
 * taken at the deepest branch that did not take its last child. */
static int run_cut(const struct path *p, const struct ent *e, int m, int i)
{
	int leaf = p->depth - 1;

	for (int d = leaf - 1; d >= 0; d--) {
		const uint8_t *b = p->n[d]->buf;

		if ((unsigned)p->idx[d] + 1 < nkeys(b)) {
			const uint8_t *c = b + slot(b, p->idx[d] + 1);

			return ag_node_run_cut(e, m, i, c + BCELL,
					       get_le16(c), 0);
		}
	}
	return ag_node_run_cut(e, m, i, NULL, 0, p->rightmost >> leaf & 1);
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
	ag_tree_trim(t);
	if (!t->root)
		return put_empty(t, key, klen, val, vlen);
	if ((rc = descend(t, key, klen, &p, &found)) || (rc = scratch(t)) ||
	    (rc = reserve(t, p.depth)))
		return rc;
	cow_path(t, &p);
	leaf = p.n[p.depth - 1];
	i = p.idx[p.depth - 1];
	if (found)
		rc = ag_node_leaf_replace(leaf->buf, i, val, vlen);
	else
		rc = ag_node_leaf_insert(leaf->buf, i, key, klen, val, vlen);
	if (rc) {
		e = t->ents[0];
		m = ag_node_gather(leaf->buf, e);
		if (!found) {
			memmove(e + i + 1, e + i, (m - i) * sizeof(*e));
			m++;
		}
		e[i] = (struct ent){ .k1 = key, .k1len = klen, .v = val,
				     .vlen = vlen };
		rc = rebalance(t, &p, p.depth - 1, m,
			       found ? ag_node_grow_cut(t, e, m, i)
				     : run_cut(&p, e, m, i), 0);
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
	ag_tree_trim(t);
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
	ag_node_leaf_delete(leaf->buf, p.idx[p.depth - 1]);
	if (p.depth == 1)
		fix_root(t);
	else if (4 * ag_node_leaf_used(t, leaf->buf) < t->cap)
		rc = rebalance(t, &p, p.depth - 1,
			       ag_node_gather(leaf->buf, t->ents[0]), 0, 1);
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
	ag_tree_trim(t);
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

/* ---- rewriting ---- */

struct rewrite_walk {
	struct ag_tree *t;
	int (*pick)(uint64_t addr, void *arg);
	void *arg;
	uint64_t picked;
};

/* Dirty the node at depth d of the path to key low (the lowest key of its
 * range, so the path leads to that node), and the path above it. */
static int dirty_at(struct ag_tree *t, const uint8_t *low, size_t lowlen,
		    int d)
{
	struct path p;
	int found, rc = descend(t, low, lowlen, &p, &found);

	if (rc)
		return rc;
	if (d >= p.depth)
		return -AG_ECORRUPT;
	p.depth = d + 1;
	cow_path(t, &p);
	return 0;
}

/* The children of branch n at depth d, whose range starts at low: pick
 * and dirty them, and go down into those that are branches. */
static int rewrite_children(struct rewrite_walk *w, struct node *n, int d,
			    const uint8_t *low, size_t lowlen)
{
	struct ag_tree *t = w->t;
	uint8_t key[AG_KEY_MAX];
	int level = nlevel(n->buf), rc;

	for (unsigned i = 0; i < nkeys(n->buf); i++) {
		uint64_t a = child(n->buf, i);
		size_t kl = lowlen;
		struct node *c;

		if (i == 0) {
			cpy(key, low, lowlen);
		} else {
			const uint8_t *cell = n->buf + slot(n->buf, i);

			kl = get_le16(cell);
			cpy(key, cell + BCELL, kl);
		}
		if (!(a & VBIT) && w->pick(a, w->arg)) {
			w->picked++;
			if ((rc = dirty_at(t, key, kl, d + 1)))
				return rc;
			a = child(n->buf, i);
		}
		if (level == 1)
			continue;
		/* n's buffer stays put: loads here evict nothing (trimming
		 * happens at public entry points only) */
		if ((rc = ag_tree_load(t, a, level - 1, &c)) ||
		    (rc = rewrite_children(w, c, d + 1, key, kl)))
			return rc;
	}
	return 0;
}

int ag_tree_rewrite(struct ag_tree *t, int (*pick)(uint64_t addr, void *arg),
		    void *arg, uint64_t *picked)
{
	struct rewrite_walk w = { .t = t, .pick = pick, .arg = arg };
	struct node *r;
	int rc = 0;

	if (!t || !pick)
		return -EINVAL;
	ag_tree_trim(t);
	if (picked)
		*picked = 0;
	if (!t->root)
		return 0;
	if (!(t->root & VBIT) && pick(t->root, arg)) {
		w.picked++;
		if ((rc = dirty_at(t, NULL, 0, 0)))
			goto out;
	}
	if ((rc = ag_tree_load(t, t->root, -1, &r)))
		goto out;
	if (nlevel(r->buf))
		rc = rewrite_children(&w, r, 0, NULL, 0);
out:
	if (picked)
		*picked = w.picked;
	return rc;
}

/* ---- walking ---- */

struct walk {
	struct ag_tree *t;
	int (*cb)(uint64_t addr, int level, void *arg);
	void *arg;
	struct ag_tree_usage *usage; /* or NULL */
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
		rc = ag_node_read(t, addr, w->bufs[depth]);
	}
	if (!rc && expect >= 0 && nlevel(b) != expect)
		rc = -AG_ECORRUPT;
	if (rc) {
		if (!w->err)
			w->err = rc;
		return w->cb(addr, -1, w->arg);
	}
	if (w->usage) {
		size_t used = ag_node_leaf_used(t, b) + H;

		if (nlevel(b)) {
			w->usage->branches++;
			w->usage->branch_used += used;
		} else {
			w->usage->leaves++;
			w->usage->leaf_used += used;
		}
	} else if ((rc = w->cb(n && n->dirty ? 0 : addr, nlevel(b), w->arg))) {
		return rc;
	}
	for (unsigned i = 0; nlevel(b) && i < nkeys(b); i++)
		if ((rc = walk_node(w, child(b, i), nlevel(b) - 1, depth + 1)))
			return rc;
	return 0;
}

static int walk_all(struct walk *w)
{
	int rc = 0;

	ag_tree_trim(w->t);
	if (w->t->root)
		rc = walk_node(w, w->t->root, -1, 0);
	for (int i = 0; i <= MAX_H; i++)
		free(w->bufs[i]);
	return rc ? rc : w->err;
}

int ag_tree_walk(struct ag_tree *t,
		 int (*cb)(uint64_t addr, int level, void *arg), void *arg)
{
	struct walk w = { .t = t, .cb = cb, .arg = arg };

	if (!t || !cb)
		return -EINVAL;
	return walk_all(&w);
}

/* Unreadable pages are reported to a callback that does nothing. */
static int ignore_page(uint64_t addr, int level, void *arg)
{
	(void)addr;
	(void)level;
	(void)arg;
	return 0;
}

int ag_tree_usage(struct ag_tree *t, struct ag_tree_usage *u)
{
	struct walk w = { .t = t, .cb = ignore_page, .usage = u };

	if (!t || !u)
		return -EINVAL;
	u->page_size = t->ps;
	return walk_all(&w);
}
