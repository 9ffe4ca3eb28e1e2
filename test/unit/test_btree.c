/*
 * test_btree.c - unit test of the copy-on-write B+tree (common/disk/btree.c).
 *
 * Runs the tree over an in-memory pager that also polices the contract:
 * a page address is written once, released at most once and only after
 * it was written, and a handle opened at the newest root never reads a
 * released page. A random workload is checked against a sorted-array
 * model; after every flush the tree is reopened at the new root, scanned,
 * compared with the model, and its pages are accounted for.
 *
 * AG_SEED=n replays a run; AG_LONG=1 runs many more operations.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "tap.h"
#include "util.h"

/* ---- in-memory pager ---- */

struct mpage {
	uint8_t *data;
	uint8_t written, released;
};

struct mpager {
	size_t ps;
	struct mpage *pages; /* address a lives at pages[a - 1] */
	size_t npages, cap, nreleased;
	unsigned violations; /* contract breaches by the tree */
	unsigned bad_reads;  /* reads of addresses never written */
	/* injected failures, in percent, drawn from their own generator */
	unsigned fail_read, fail_write;
	uint64_t frng;
	unsigned injected;
};

static int inject(struct mpager *mp, unsigned pct)
{
	if (!pct || tap_rand(&mp->frng) % 100 >= pct)
		return 0;
	mp->injected++;
	return 1;
}

/* A view: strict views belong to handles at the newest root. A view
 * with reused set answers a read of that address as a pager does whose
 * slot now holds a newer page: the page, stamped with generation
 * reused_gen, and -AG_ESTALEROOT. */
struct mview {
	struct mpager *mp;
	int strict;
	uint64_t reused, reused_gen;
	struct ag_pager pg;
};

static struct mpage *mp_page(struct mpager *mp, uint64_t addr)
{
	return addr && addr <= mp->npages ? &mp->pages[addr - 1] : NULL;
}

static int m_read(void *ctx, uint64_t addr, void *buf)
{
	struct mview *v = ctx;
	struct mpage *p = mp_page(v->mp, addr);

	if (!p || !p->written) {
		v->mp->bad_reads++;
		return -EIO;
	}
	if (inject(v->mp, v->mp->fail_read))
		return -EIO;
	if (p->released && v->strict) {
		v->mp->violations++;
		diag("strict read of released page %llu",
		     (unsigned long long)addr);
	}
	memcpy(buf, p->data, v->mp->ps);
	if (addr == v->reused) {
		uint8_t *b = buf;

		for (int i = 0; i < 8; i++)
			b[16 + i] = v->reused_gen >> (8 * i);
		return -AG_ESTALEROOT;
	}
	return 0;
}

static int m_write(void *ctx, uint64_t addr, uint64_t gen, void *buf)
{
	struct mview *v = ctx;
	struct mpage *p = mp_page(v->mp, addr);
	uint8_t *b = buf;

	if (!p || p->written || p->released) {
		v->mp->violations++;
		diag("bad write of page %llu", (unsigned long long)addr);
		return -EIO;
	}
	if (inject(v->mp, v->mp->fail_write))
		return -EIO;
	/* what a real pager stamps: magic, own address, generation */
	memset(b, 0, AG_PAGE_HDR);
	memcpy(b, "AGPG", 4);
	for (int i = 0; i < 8; i++) {
		b[8 + i] = addr >> (8 * i);
		b[16 + i] = gen >> (8 * i);
	}
	if (!(p->data = malloc(v->mp->ps)))
		return -ENOMEM;
	memcpy(p->data, b, v->mp->ps);
	p->written = 1;
	return 0;
}

static int m_alloc(void *ctx, uint64_t *addr)
{
	struct mpager *mp = ((struct mview *)ctx)->mp;

	if (inject(mp, mp->fail_write))
		return -ENOSPC;
	if (mp->npages == mp->cap) {
		size_t nc = mp->cap ? 2 * mp->cap : 1024;
		struct mpage *np = realloc(mp->pages, nc * sizeof(*np));

		if (!np)
			return -ENOMEM;
		mp->pages = np;
		mp->cap = nc;
	}
	memset(&mp->pages[mp->npages], 0, sizeof(mp->pages[0]));
	*addr = ++mp->npages;
	return 0;
}

static void m_release(void *ctx, uint64_t addr)
{
	struct mpager *mp = ((struct mview *)ctx)->mp;
	struct mpage *p = mp_page(mp, addr);

	if (!p || !p->written || p->released) {
		mp->violations++;
		diag("bad release of page %llu", (unsigned long long)addr);
		return;
	}
	p->released = 1;
	mp->nreleased++;
}

static void mp_init(struct mpager *mp, size_t ps)
{
	memset(mp, 0, sizeof(*mp));
	mp->ps = ps;
}

static void mp_free(struct mpager *mp)
{
	for (size_t i = 0; i < mp->npages; i++)
		free(mp->pages[i].data);
	free(mp->pages);
}

static void view_init(struct mview *v, struct mpager *mp, int strict)
{
	v->mp = mp;
	v->strict = strict;
	v->pg = (struct ag_pager){ .page_size = mp->ps, .ctx = v,
				   .read = m_read, .write = m_write,
				   .alloc = m_alloc, .release = m_release };
}

/* ---- the model: a sorted array ---- */

struct kv {
	uint8_t *k, *v;
	size_t kl, vl;
};

struct model {
	struct kv *a;
	size_t n, cap;
};

static int kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;

	return c ? c : (al > bl) - (al < bl);
}

/* Index of the first entry >= k. */
static size_t model_find(const struct model *m, const uint8_t *k, size_t kl,
			 int *found)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (kcmp(m->a[mid].k, m->a[mid].kl, k, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < m->n && !kcmp(m->a[lo].k, m->a[lo].kl, k, kl);
	return lo;
}

static uint8_t *memdup(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	if (!d)
		abort();
	memcpy(d, p, n);
	return d;
}

static void model_put(struct model *m, const uint8_t *k, size_t kl,
		      const uint8_t *v, size_t vl)
{
	int found;
	size_t i = model_find(m, k, kl, &found);

	if (found) {
		free(m->a[i].v);
	} else {
		if (m->n == m->cap) {
			m->cap = m->cap ? 2 * m->cap : 256;
			m->a = realloc(m->a, m->cap * sizeof(*m->a));
			if (!m->a)
				abort();
		}
		memmove(m->a + i + 1, m->a + i, (m->n - i) * sizeof(*m->a));
		m->n++;
		m->a[i].k = memdup(k, kl);
		m->a[i].kl = kl;
	}
	m->a[i].v = memdup(v, vl);
	m->a[i].vl = vl;
}

static void model_del(struct model *m, size_t i)
{
	free(m->a[i].k);
	free(m->a[i].v);
	memmove(m->a + i, m->a + i + 1, (m->n - i - 1) * sizeof(*m->a));
	m->n--;
}

static void model_free(struct model *m)
{
	while (m->n)
		model_del(m, m->n - 1);
	free(m->a);
}

/* ---- helpers over a tree ---- */

/* Compare a scan from key k (NULL: the start) with the model for at most
 * lim entries (0: to the end). Returns 0 when equal. */
static int check_scan(struct ag_tree *t, const struct model *m,
		      const uint8_t *k, size_t kl, size_t lim)
{
	struct ag_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl, n = 0;
	int found, rc;
	size_t i = k ? model_find(m, k, kl, &found) : 0;

	if ((rc = ag_tree_seek(t, k, kl, &c)))
		return rc;
	while ((rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		const struct kv *e = i < m->n ? &m->a[i] : NULL;

		if (!e || ckl != e->kl || cvl != e->vl ||
		    memcmp(ck, e->k, ckl) || (cvl && memcmp(cv, e->v, cvl))) {
			rc = -1000;
			break;
		}
		i++;
		if (lim && ++n == lim)
			break;
	}
	ag_cursor_free(c);
	if (rc < 0)
		return rc;
	if (rc == 0 && i != m->n)
		return -1001;
	return 0;
}

/* The whole tree as one byte string, for comparing snapshots. */
static int serialize(struct ag_tree *t, uint8_t **out, size_t *len)
{
	struct ag_cursor *c;
	const void *k, *v;
	size_t kl, vl, cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	int rc;

	if (!b || (rc = ag_tree_seek(t, NULL, 0, &c))) {
		free(b);
		return -ENOMEM;
	}
	while ((rc = ag_cursor_next(c, &k, &kl, &v, &vl)) == 1) {
		if (n + kl + vl + 4 > cap) {
			cap = 2 * (n + kl + vl + 4);
			b = realloc(b, cap);
			if (!b)
				abort();
		}
		b[n++] = kl;
		b[n++] = kl >> 8;
		memcpy(b + n, k, kl);
		n += kl;
		b[n++] = vl;
		b[n++] = vl >> 8;
		if (vl)
			memcpy(b + n, v, vl);
		n += vl;
	}
	ag_cursor_free(c);
	if (rc < 0) {
		free(b);
		return rc;
	}
	*out = b;
	*len = n;
	return 0;
}

struct walkacc {
	struct mpager *mp;
	uint8_t *seen; /* by address */
	size_t pages, leaves, dups, bad, unreadable;
	int maxlevel;
};

static int walk_cb(uint64_t addr, int level, void *arg)
{
	struct walkacc *w = arg;
	struct mpage *p = mp_page(w->mp, addr);

	if (level < 0) {
		w->unreadable++;
		return 0;
	}
	w->pages++;
	w->leaves += level == 0;
	if (level > w->maxlevel)
		w->maxlevel = level;
	if (!p || !p->written || p->released) {
		w->bad++;
		return 0;
	}
	if (w->seen[addr - 1]++)
		w->dups++;
	return 0;
}

static int walk_count(struct ag_tree *t, struct mpager *mp,
		      struct walkacc *w)
{
	int rc;

	memset(w, 0, sizeof(*w));
	w->mp = mp;
	w->seen = calloc(mp->npages + 1, 1);
	if (!w->seen)
		abort();
	rc = ag_tree_walk(t, walk_cb, w);
	free(w->seen);
	return rc;
}

/* ---- random keys and values ---- */

static uint64_t rng;

static size_t rnd(size_t n)
{
	return n ? tap_rand(&rng) % n : 0;
}

/* Keys of several shapes: random bytes, and keys over a small alphabet
 * under shared prefixes, so that prefix compression and suffix-truncated
 * separators both get exercised, with lengths from 1 to AG_KEY_MAX. */
static size_t gen_key(uint8_t *k)
{
	static const char *pre[] = { "i/", "d/0000/", "d/0001/x", "" };
	size_t kl, i = 0;

	switch (rnd(4)) {
	case 0:
		kl = 1 + rnd(AG_KEY_MAX);
		for (; i < kl; i++)
			k[i] = rnd(256);
		return kl;
	case 1: /* short */
		kl = 1 + rnd(6);
		for (; i < kl; i++)
			k[i] = 'a' + rnd(3);
		return kl;
	case 2: /* long shared prefix, then a few varying bytes */
		kl = AG_KEY_MAX - rnd(40);
		for (; i < kl - 6; i++)
			k[i] = 'p';
		for (; i < kl; i++)
			k[i] = '0' + rnd(4);
		return kl;
	default: {
		const char *p = pre[rnd(4)];

		kl = strlen(p) + 1 + rnd(30);
		memcpy(k, p, strlen(p));
		for (i = strlen(p); i < kl; i++)
			k[i] = 'a' + rnd(4);
		return kl;
	}
	}
}

static size_t gen_val(uint8_t *v)
{
	size_t vl;

	switch (rnd(4)) {
	case 0:
		vl = rnd(AG_VAL_MAX + 1);
		break;
	case 1:
		vl = AG_VAL_MAX - rnd(4);
		break;
	default:
		vl = rnd(40);
	}
	for (size_t i = 0; i < vl; i++)
		v[i] = rnd(256);
	return vl;
}

/* ---- test 1 and its companions 2 and 3 ---- */

struct run {
	struct mpager mp;
	struct mview strict, loose;
	struct model m;
	struct ag_tree *t;
	uint64_t root, gen;
	uint8_t *snap; /* serialized contents at prev_root */
	size_t snaplen;
	uint64_t prev_root;
	unsigned fails, flushes, oldroot_ok, account_ok, scans_ok;
	unsigned seeks_ok;
	size_t maxkeys;
	int maxheight;
};

#define FAIL(r, ...)                                           \
	do {                                                   \
		if ((r)->fails++ < 10)                         \
			diag(__VA_ARGS__);                     \
	} while (0)

static void check_seeks(struct run *r, int n)
{
	uint8_t k[AG_KEY_MAX];

	for (int i = 0; i < n; i++) {
		size_t kl;
		int rc;

		if (r->m.n && rnd(2)) {
			const struct kv *e = &r->m.a[rnd(r->m.n)];

			kl = e->kl;
			memcpy(k, e->k, kl);
			if (rnd(2) && kl > 1)
				kl--; /* just before an existing key */
		} else {
			kl = gen_key(k);
		}
		if ((rc = check_scan(r->t, &r->m, k, kl, 1 + rnd(8))))
			FAIL(r, "seek mismatch %d", rc);
		else
			r->seeks_ok++;
	}
}

/* Flush, check the page accounting, reopen at the new root, compare. */
static void flush_check(struct run *r)
{
	struct walkacc w;
	uint8_t *s;
	size_t len;
	int rc;

	if ((rc = ag_tree_flush(r->t, ++r->gen, &r->root))) {
		FAIL(r, "flush: %d", rc);
		return;
	}
	r->flushes++;
	if (ag_tree_dirty(r->t) || ag_tree_root(r->t) != r->root)
		FAIL(r, "handle still dirty after flush");
	ag_tree_close(r->t);
	if ((rc = ag_tree_open(&r->t, &r->strict.pg, r->root))) {
		FAIL(r, "reopen: %d", rc);
		return;
	}
	/* 3: reachable + released == allocated, nothing twice */
	rc = walk_count(r->t, &r->mp, &w);
	if (rc || w.dups || w.bad || w.unreadable ||
	    w.pages + r->mp.nreleased != r->mp.npages)
		FAIL(r, "accounting: rc %d pages %zu released %zu alloc %zu "
			"dups %zu bad %zu", rc, w.pages, r->mp.nreleased,
		     r->mp.npages, w.dups, w.bad);
	else
		r->account_ok++;
	if (r->root && w.maxlevel + 1 > r->maxheight)
		r->maxheight = w.maxlevel + 1;
	if ((r->root == 0) != (r->m.n == 0))
		FAIL(r, "root %llu with %zu keys",
		     (unsigned long long)r->root, r->m.n);
	if ((rc = check_scan(r->t, &r->m, NULL, 0, 0)))
		FAIL(r, "full scan after reopen: %d", rc);
	else
		r->scans_ok++;
	check_seeks(r, 5);

	/* 2: the previous root still reads exactly as it did */
	if (r->snap) {
		struct ag_tree *old;

		if ((rc = ag_tree_open(&old, &r->loose.pg, r->prev_root)) ||
		    (rc = serialize(old, &s, &len))) {
			FAIL(r, "old root: %d", rc);
		} else {
			if (len != r->snaplen || memcmp(s, r->snap, len))
				FAIL(r, "old root %llu changed",
				     (unsigned long long)r->prev_root);
			else
				r->oldroot_ok++;
			free(s);
		}
		ag_tree_close(old);
		free(r->snap);
		r->snap = NULL;
	}
	if (!serialize(r->t, &s, &len)) {
		r->snap = s;
		r->snaplen = len;
		r->prev_root = r->root;
	}
}

static void one_op(struct run *r, int grow)
{
	uint8_t k[AG_KEY_MAX], v[AG_VAL_MAX], g[AG_VAL_MAX];
	size_t kl, vl, gl, i;
	int op = rnd(100), rc, found;

	if (r->m.n > r->maxkeys)
		r->maxkeys = r->m.n;
	if (r->m.n && op < (grow ? 10 : 55)) { /* delete existing */
		i = rnd(r->m.n);
		if ((rc = ag_tree_del(r->t, r->m.a[i].k, r->m.a[i].kl)))
			FAIL(r, "del: %d", rc);
		model_del(&r->m, i);
	} else if (r->m.n && op < (grow ? 22 : 65)) { /* overwrite */
		i = rnd(r->m.n);
		vl = gen_val(v);
		kl = r->m.a[i].kl;
		memcpy(k, r->m.a[i].k, kl);
		if ((rc = ag_tree_put(r->t, k, kl, v, vl)))
			FAIL(r, "overwrite: %d", rc);
		model_put(&r->m, k, kl, v, vl);
	} else if (op < (grow ? 85 : 80)) { /* put, usually new */
		kl = gen_key(k);
		vl = gen_val(v);
		if ((rc = ag_tree_put(r->t, k, kl, v, vl)))
			FAIL(r, "put: %d", rc);
		model_put(&r->m, k, kl, v, vl);
	} else if (r->m.n && op < 92) { /* get existing */
		const struct kv *e = &r->m.a[rnd(r->m.n)];

		gl = sizeof(g);
		rc = ag_tree_get(r->t, e->k, e->kl, g, &gl);
		if (rc || gl != e->vl || (gl && memcmp(g, e->v, gl)))
			FAIL(r, "get: %d", rc);
		if (e->vl) {
			gl = e->vl - 1;
			rc = ag_tree_get(r->t, e->k, e->kl, g, &gl);
			if (rc != -ERANGE || gl != e->vl)
				FAIL(r, "short get: %d", rc);
		}
	} else { /* get, usually missing; delete of missing */
		kl = gen_key(k);
		model_find(&r->m, k, kl, &found);
		gl = sizeof(g);
		rc = ag_tree_get(r->t, k, kl, g, &gl);
		if (found ? rc : rc != -ENOENT)
			FAIL(r, "get random: %d found %d", rc, found);
		if (!found && ag_tree_del(r->t, k, kl) != -ENOENT)
			FAIL(r, "del of missing");
	}
}

static void drain(struct run *r)
{
	while (r->m.n) {
		size_t i = rnd(r->m.n);
		int rc = ag_tree_del(r->t, r->m.a[i].k, r->m.a[i].kl);

		if (rc)
			FAIL(r, "drain del: %d", rc);
		model_del(&r->m, i);
		if (!rnd(500))
			flush_check(r);
	}
}

static void random_run(size_t ps, long nops)
{
	struct run r;
	long until_flush = 0, phase = 0;
	int grow = 1, drained = 0;

	memset(&r, 0, sizeof(r));
	mp_init(&r.mp, ps);
	view_init(&r.strict, &r.mp, 1);
	view_init(&r.loose, &r.mp, 0);
	if (ag_tree_open(&r.t, &r.strict.pg, 0))
		abort();
	for (long op = 0; op < nops; op++) {
		if (--phase <= 0) {
			grow = !grow || r.m.n < 200;
			phase = grow ? 3000 + rnd(5000) : 1000 + rnd(3000);
		}
		one_op(&r, grow);
		if (!rnd(700)) { /* the cursor must read dirty pages too */
			if (check_scan(r.t, &r.m, NULL, 0, 0))
				FAIL(&r, "dirty scan at op %ld", op);
			check_seeks(&r, 3);
		}
		if (--until_flush <= 0) {
			flush_check(&r);
			until_flush = 100 + rnd(500);
		}
		if (!drained && op > nops / 2) {
			drain(&r);
			drained = 1;
			flush_check(&r);
			ok(r.root == 0, "ps %zu: tree emptied by deletes "
			   "flushes to root 0", ps);
		}
	}
	flush_check(&r);
	ok(!r.fails, "ps %zu: %ld random ops match the model (up to %zu keys, "
	   "height %d; %u scans, %u seeks)", ps, nops, r.maxkeys,
	   r.maxheight, r.scans_ok, r.seeks_ok);
	ok(r.oldroot_ok + 1 >= r.flushes && r.oldroot_ok > 0,
	   "ps %zu: previous roots read unchanged (%u of %u flushes)", ps,
	   r.oldroot_ok, r.flushes);
	ok(r.account_ok == r.flushes,
	   "ps %zu: reachable + released == allocated after each flush", ps);
	ok(!r.mp.violations && !r.mp.bad_reads,
	   "ps %zu: pager contract kept (%u violations, %u bad reads, %zu "
	   "pages written)", ps, r.mp.violations, r.mp.bad_reads,
	   r.mp.npages);
	ag_tree_close(r.t);
	free(r.snap);
	model_free(&r.m);
	mp_free(&r.mp);
}

/* ---- 4: corrupt pages ---- */

struct corrupt_env {
	struct mpager mp;
	struct mview v;
	struct model m;
	uint64_t root;
	uint64_t *addrs;
	int *levels;
	size_t naddr;
};

static int collect_cb(uint64_t addr, int level, void *arg)
{
	struct corrupt_env *c = arg;

	c->addrs[c->naddr] = addr;
	c->levels[c->naddr++] = level;
	return 0;
}

static void build(struct corrupt_env *c, size_t ps, int nkeys)
{
	struct ag_tree *t;
	uint8_t k[AG_KEY_MAX], v[AG_VAL_MAX];

	memset(c, 0, sizeof(*c));
	mp_init(&c->mp, ps);
	view_init(&c->v, &c->mp, 0);
	if (ag_tree_open(&t, &c->v.pg, 0))
		abort();
	for (int i = 0; i < nkeys; i++) {
		size_t kl = gen_key(k), vl = rnd(100);

		memset(v, i, vl);
		if (ag_tree_put(t, k, kl, v, vl))
			abort();
		model_put(&c->m, k, kl, v, vl);
	}
	if (ag_tree_flush(t, 1, &c->root))
		abort();
	c->addrs = calloc(c->mp.npages, sizeof(*c->addrs));
	c->levels = calloc(c->mp.npages, sizeof(*c->levels));
	if (!c->addrs || !c->levels || ag_tree_walk(t, collect_cb, c))
		abort();
	ag_tree_close(t);
}

struct probe {
	int walk_rc, scan_rc, get_errs, get_wrong, bad_errno, fuzz_errno;
	size_t unreadable;
};

static int count_cb(uint64_t addr, int level, void *arg)
{
	(void)addr;
	if (level < 0)
		++*(size_t *)arg;
	return 0;
}

static int allowed(int rc)
{
	return rc == -AG_ECORRUPT || rc == -EIO;
}

/* A flipped key byte can leave a valid page holding another key. */
static int allowed_fuzz(int rc)
{
	return allowed(rc) || rc == -ENOENT;
}

/* Read everything through a fresh handle; nothing may crash. */
static void probe(struct corrupt_env *c, struct probe *p, int writes)
{
	struct ag_tree *t;
	struct ag_cursor *cur;
	const void *k, *v;
	size_t kl, vl;
	uint8_t g[AG_VAL_MAX];
	int rc;

	memset(g, 'g', sizeof(g));
	memset(p, 0, sizeof(*p));
	if (ag_tree_open(&t, &c->v.pg, c->root))
		abort();
	p->walk_rc = ag_tree_walk(t, count_cb, &p->unreadable);
	if (!(rc = ag_tree_seek(t, NULL, 0, &cur))) {
		while ((rc = ag_cursor_next(cur, &k, &kl, &v, &vl)) == 1)
			;
		ag_cursor_free(cur);
	}
	p->scan_rc = rc;
	for (size_t i = 0; i < c->m.n; i++) {
		const struct kv *e = &c->m.a[i];

		vl = sizeof(g);
		rc = ag_tree_get(t, e->k, e->kl, g, &vl);
		if (rc) {
			p->get_errs++;
			p->bad_errno += !allowed(rc);
			p->fuzz_errno += !allowed_fuzz(rc);
		} else if (vl != e->vl || memcmp(g, e->v, vl)) {
			p->get_wrong++;
		}
	}
	for (int i = 0; writes && i < 200; i++) {
		const struct kv *e = &c->m.a[rnd(c->m.n)];
		uint64_t root;

		if (rnd(2))
			ag_tree_del(t, e->k, e->kl);
		else
			ag_tree_put(t, e->k, e->kl, g, rnd(AG_VAL_MAX));
		if (!rnd(50))
			ag_tree_flush(t, 2, &root);
	}
	ag_tree_close(t);
}

/* Targeted damage to the tree's header or cells of one page. */
static void damage(uint8_t *b, size_t ps, int how)
{
	uint8_t *h = b + AG_PAGE_HDR;
	unsigned n = h[2] | h[3] << 8, plen = h[8] | h[9] << 8;
	uint8_t *slots = h + 10 + plen;
	unsigned off = n ? (slots[0] | slots[1] << 8) : 0;

	switch (how) {
	case 0: /* nkeys far too large */
		h[2] = h[3] = 0xff;
		break;
	case 1: /* a slot pointing past the page */
		slots[0] = slots[1] = 0xff;
		break;
	case 2: /* cell_start beyond the page */
		h[4] = h[5] = 0xff;
		break;
	case 3: /* a cell length running off the page */
		b[off] = 0xf0;
		b[off + 1] = 0xff;
		break;
	case 4: /* unknown flags */
		h[1] = 0x80;
		break;
	case 5: /* keys out of order */
		if (n >= 3) {
			uint8_t s[2] = { slots[2], slots[3] };

			slots[2] = slots[4];
			slots[3] = slots[5];
			slots[4] = s[0];
			slots[5] = s[1];
		} else {
			h[2] = h[3] = 0xff;
		}
		break;
	case 6: /* prefix length beyond the key limit */
		h[8] = 0xff;
		h[9] = 0x7f;
		break;
	default: /* wrong level */
		h[0] ^= 1;
		break;
	}
	(void)ps;
}

static void corrupt_tests(size_t ps)
{
	struct corrupt_env c;
	struct probe p;
	int targeted_ok = 0, targeted = 0, fuzz = 0, odd = 0;
	unsigned anyerr = 0, pass_ok = 0;
	uint8_t *save = malloc(ps);

	if (!save)
		abort();
	build(&c, ps, 3000);
	probe(&c, &p, 0);
	ok(!p.walk_rc && !p.scan_rc && !p.get_errs && !p.get_wrong &&
	   !p.unreadable, "ps %zu: intact tree of %zu pages reads cleanly",
	   ps, c.naddr);

	/* every damage kind, on the root, a branch and some leaves */
	for (int how = 0; how < 8; how++) {
		for (size_t j = 0; j < 6; j++) {
			size_t pi = j == 0 ? 0 : rnd(c.naddr);
			struct mpage *pg = mp_page(&c.mp, c.addrs[pi]);

			memcpy(save, pg->data, ps);
			damage(pg->data, ps, how);
			probe(&c, &p, 0);
			memcpy(pg->data, save, ps);
			targeted++;
			if (p.walk_rc && p.unreadable && p.scan_rc < 0 &&
			    p.get_errs && !p.bad_errno && !p.get_wrong &&
			    allowed(p.walk_rc) && allowed(p.scan_rc))
				targeted_ok++;
			else
				diag("damage %d on page %zu (level %d): walk %d "
				     "unreadable %zu scan %d get_errs %d "
				     "wrong %d", how, pi, c.levels[pi],
				     p.walk_rc, p.unreadable, p.scan_rc,
				     p.get_errs, p.get_wrong);
		}
	}
	ok(targeted_ok == targeted,
	   "ps %zu: damaged pages give errors from get, scan and walk (%d/%d)",
	   ps, targeted_ok, targeted);

	/* a child pointer to a page the pager does not have: -EIO passes */
	for (size_t pi = 0; pi < c.naddr; pi++) {
		struct mpage *pg = mp_page(&c.mp, c.addrs[pi]);
		uint8_t *h = pg->data + AG_PAGE_HDR, *cell;
		unsigned plen = h[8] | h[9] << 8, off;

		if (c.levels[pi] == 0)
			continue;
		off = h[10 + plen] | h[11 + plen] << 8;
		cell = pg->data + off;
		memcpy(save, pg->data, ps);
		memset(cell + 2, 0, 8);
		cell[2] = 0x77;
		cell[5] = 0x01; /* far beyond anything allocated */
		probe(&c, &p, 0);
		memcpy(pg->data, save, ps);
		pass_ok = p.walk_rc == -EIO && p.scan_rc == -EIO &&
			  p.get_errs && !p.get_wrong;
		break;
	}
	ok(pass_ok, "ps %zu: pager read errors pass through as -EIO", ps);

	/* random byte flips, reads and writes: only "no crash" and sane
	 * errors are required; the pager's policing is off for this */
	for (int i = 0; i < 300; i++) {
		size_t pi = rnd(c.naddr), nflip = 1 + rnd(8);
		struct mpage *pg = mp_page(&c.mp, c.addrs[pi]);
		size_t npages = c.mp.npages;

		memcpy(save, pg->data, ps);
		for (size_t f = 0; f < nflip; f++) {
			size_t at = AG_PAGE_HDR +
				    (rnd(2) ? rnd(64) : rnd(ps - AG_PAGE_HDR));

			pg->data[at] ^= 1 << rnd(8);
		}
		probe(&c, &p, i % 3 == 0);
		memcpy(pg->data, save, ps);
		fuzz++;
		anyerr += p.get_errs || p.scan_rc || p.walk_rc;
		if (p.fuzz_errno || (p.walk_rc && !allowed(p.walk_rc)) ||
		    (p.scan_rc < 0 && !allowed(p.scan_rc)))
			odd++;
		/* forget what the writes did to the pager */
		for (size_t a = 0; a < c.mp.npages; a++)
			c.mp.pages[a].released = 0;
		for (size_t a = npages; a < c.mp.npages; a++)
			free(c.mp.pages[a].data);
		c.mp.npages = npages;
		c.mp.nreleased = 0;
	}
	ok(!odd, "ps %zu: %d fuzzed pages survived (%u gave errors, %d odd "
	   "errnos)", ps, fuzz, anyerr, odd);
	probe(&c, &p, 0);
	ok(!p.walk_rc && !p.scan_rc && !p.get_errs && !p.get_wrong,
	   "ps %zu: tree reads cleanly again once repaired", ps);
	free(save);
	free(c.addrs);
	free(c.levels);
	model_free(&c.m);
	mp_free(&c.mp);
}

/* ---- pager failures ---- */

static size_t unwritten(const struct mpager *mp)
{
	size_t n = 0;

	for (size_t i = 0; i < mp->npages; i++)
		n += !mp->pages[i].written;
	return n;
}

/* A put or del that fails on a read must leave the tree as it was; a
 * flush that fails on alloc or write must work when retried. */
static void failure_tests(void)
{
	struct corrupt_env c;
	struct mview v;
	struct ag_tree *t;
	struct walkacc w;
	uint8_t k[AG_KEY_MAX], val[AG_VAL_MAX];
	unsigned fails = 0, eio = 0, flush_fails = 0;
	uint64_t root;
	int rc;

	build(&c, 4096, 3000);
	c.mp.frng = tap_rand(&rng) | 1;
	view_init(&v, &c.mp, 1);
	ag_tree_open(&t, &v.pg, c.root);
	c.mp.fail_read = 3;
	for (int op = 0; op < 6000; op++) {
		size_t i = rnd(c.m.n), kl, vl;

		if (rnd(2) && c.m.n) {
			rc = ag_tree_del(t, c.m.a[i].k, c.m.a[i].kl);
			if (!rc)
				model_del(&c.m, i);
		} else {
			kl = gen_key(k);
			vl = gen_val(val);
			if (!(rc = ag_tree_put(t, k, kl, val, vl)))
				model_put(&c.m, k, kl, val, vl);
		}
		eio += rc == -EIO;
		fails += rc && rc != -EIO;
		if (op % 200 == 199) { /* reopen so that pages are read again */
			fails += !!ag_tree_flush(t, op, &root);
			ag_tree_close(t);
			ag_tree_open(&t, &v.pg, root);
		}
	}
	c.mp.fail_read = 0;
	fails += !!ag_tree_flush(t, 7000, &root);
	ag_tree_close(t);
	ag_tree_open(&t, &v.pg, root);
	ok(!fails && eio && !check_scan(t, &c.m, NULL, 0, 0),
	   "puts and dels failing on reads change nothing (%u -EIO)", eio);

	c.mp.fail_write = 10;
	for (int op = 0; op < 3000; op++) {
		size_t kl = gen_key(k), vl = gen_val(val);

		if (!ag_tree_put(t, k, kl, val, vl))
			model_put(&c.m, k, kl, val, vl);
		if (op % 500 == 499)
			for (int i = 0; i < 100; i++) {
				if (!ag_tree_flush(t, 8000 + op, &root))
					break;
				flush_fails++;
			}
	}
	c.mp.fail_write = 0;
	fails += !!ag_tree_flush(t, 20000, &root);
	ag_tree_close(t);
	ag_tree_open(&t, &v.pg, root);
	rc = walk_count(t, &c.mp, &w);
	ok(!fails && flush_fails && !check_scan(t, &c.m, NULL, 0, 0) && !rc &&
	   !w.dups && !w.bad &&
	   w.pages + c.mp.nreleased + unwritten(&c.mp) == c.mp.npages,
	   "flushes failing on alloc or write succeed when retried (%u "
	   "failed)", flush_fails);
	ok(!c.mp.violations, "pager contract kept under failures");
	ag_tree_close(t);
	free(c.addrs);
	free(c.levels);
	model_free(&c.m);
	mp_free(&c.mp);
}

/* ---- 5: empty trees ---- */

static int no_cb(uint64_t addr, int level, void *arg)
{
	(void)addr;
	(void)level;
	++*(int *)arg;
	return 0;
}

static int zero_cb(uint64_t addr, int level, void *arg)
{
	int *n = arg;

	(void)level;
	if (addr)
		n[1]++;
	n[0]++;
	return 0;
}

static void empty_tests(void)
{
	struct mpager mp;
	struct mview v;
	struct ag_tree *t;
	struct ag_cursor *c;
	const void *k, *val;
	size_t kl, vl = 8;
	uint8_t buf[8];
	uint64_t root = 99;
	int calls = 0, n;

	mp_init(&mp, 4096);
	view_init(&v, &mp, 1);
	ok(!ag_tree_open(&t, &v.pg, 0), "open empty");
	ok(ag_tree_get(t, "a", 1, buf, &vl) == -ENOENT, "empty: get -ENOENT");
	ok(ag_tree_del(t, "a", 1) == -ENOENT, "empty: del -ENOENT");
	ok(!ag_tree_seek(t, NULL, 0, &c) &&
	   ag_cursor_next(c, &k, &kl, &val, &vl) == 0, "empty: scan gives 0");
	ag_cursor_free(c);
	ok(!ag_tree_walk(t, no_cb, &calls) && calls == 0,
	   "empty: walk visits nothing");
	ok(!ag_tree_dirty(t), "empty: not dirty");
	ok(!ag_tree_flush(t, 1, &root) && root == 0 && mp.npages == 0,
	   "empty: flush gives root 0 and writes nothing");

	ok(!ag_tree_put(t, "a", 1, "1", 1) && ag_tree_dirty(t),
	   "put makes the handle dirty");
	ok(!ag_tree_del(t, "a", 1) && !ag_tree_flush(t, 2, &root) && !root &&
	   mp.npages == 0, "put then del in one batch: root 0, no pages");

	ok(!ag_tree_put(t, "a", 1, "1", 1) && !ag_tree_flush(t, 3, &root) &&
	   root && ag_tree_root(t) == root, "one key flushes to a root");
	ok(!ag_tree_del(t, "a", 1) && ag_tree_dirty(t) &&
	   !ag_tree_flush(t, 4, &root) && root == 0 &&
	   mp.nreleased == mp.npages, "deleting it flushes to 0, page released");
	for (n = 0; n < 2000; n++) {
		char key[16];

		snprintf(key, sizeof(key), "k%06d", n);
		if (ag_tree_put(t, key, strlen(key), key, 7))
			break;
	}
	{
		int cnt[2] = { 0, 0 }, rc = ag_tree_walk(t, zero_cb, cnt);

		ok(!rc && cnt[0] > 1 && !cnt[1],
		   "walk of unflushed pages reports addr 0 (%d pages)", cnt[0]);
	}
	ok(!ag_tree_flush(t, 5, &root) && root, "2000 keys flushed");
	for (n = 0; n < 2000; n++) {
		char key[16];

		snprintf(key, sizeof(key), "k%06d", n);
		if (ag_tree_del(t, key, strlen(key)))
			break;
		if (n % 300 == 0 && ag_tree_flush(t, 6 + n, &root))
			break;
	}
	if (n == 2000 && ag_tree_flush(t, 9999, &root))
		n = -1;
	ok(n == 2000 && root == 0 && mp.nreleased == mp.npages &&
	   !mp.violations,
	   "deleting all keys flushes to root 0 and releases every page "
	   "(%zu of %zu)", mp.nreleased, mp.npages);
	ok(!ag_tree_seek(t, NULL, 0, &c) &&
	   ag_cursor_next(c, &k, &kl, &val, &vl) == 0,
	   "emptied: scan gives 0");
	ag_cursor_free(c);
	ag_tree_close(t);
	mp_free(&mp);
}

/* ---- 6: limits and arguments ---- */

static void limit_tests(void)
{
	struct mpager mp;
	struct mview v;
	struct ag_tree *t;
	static uint8_t k[AG_KEY_MAX + 1], val[AG_VAL_MAX + 1];
	uint8_t g[AG_VAL_MAX];
	size_t gl = sizeof(g);
	uint64_t root;

	memset(k, 'k', sizeof(k));
	memset(val, 'v', sizeof(val));
	mp_init(&mp, 1024);
	view_init(&v, &mp, 1);
	ok(ag_tree_open(&t, &v.pg, 0) == -EINVAL && !t,
	   "page size 1024 cannot hold two maximum entries: -EINVAL");
	mp.ps = v.pg.page_size = 65536;
	ok(ag_tree_open(&t, &v.pg, 0) == -EINVAL, "page size 65536: -EINVAL");
	mp.ps = v.pg.page_size = 4096;
	ok(!ag_tree_open(&t, &v.pg, 0), "page size 4096");
	ok(ag_tree_put(t, k, 0, val, 1) == -EINVAL, "put klen 0: -EINVAL");
	ok(ag_tree_put(t, k, AG_KEY_MAX + 1, val, 1) == -EINVAL,
	   "put klen AG_KEY_MAX + 1: -EINVAL");
	ok(ag_tree_put(t, k, 1, val, AG_VAL_MAX + 1) == -EINVAL,
	   "put vlen AG_VAL_MAX + 1: -EINVAL");
	ok(ag_tree_get(t, k, 0, g, &gl) == -EINVAL &&
	   ag_tree_get(t, k, AG_KEY_MAX + 1, g, &gl) == -EINVAL,
	   "get with klen 0 or too long: -EINVAL");
	ok(ag_tree_del(t, k, 0) == -EINVAL &&
	   ag_tree_del(t, k, AG_KEY_MAX + 1) == -EINVAL,
	   "del with klen 0 or too long: -EINVAL");
	ok(!ag_tree_dirty(t) && mp.npages == 0, "refused calls change nothing");
	ok(!ag_tree_put(t, k, AG_KEY_MAX, val, AG_VAL_MAX) &&
	   !ag_tree_put(t, k, 1, val, 0) &&
	   !ag_tree_flush(t, 1, &root) &&
	   !ag_tree_get(t, k, AG_KEY_MAX, g, &gl) && gl == AG_VAL_MAX &&
	   !memcmp(g, val, gl) && (gl = 5, !ag_tree_get(t, k, 1, g, &gl)) &&
	   gl == 0, "maximum and empty values round-trip");
	ag_tree_close(t);
	mp_free(&mp);
}

/* ---- page packing: prefix compression and appends ---- */

static void packing_tests(void)
{
	struct mpager mp;
	struct mview v;
	struct ag_tree *t;
	struct walkacc w;
	uint8_t k[AG_KEY_MAX];
	uint64_t root;
	int n = 2000, rc = 0;

	mp_init(&mp, 4096);
	view_init(&v, &mp, 1);
	ag_tree_open(&t, &v.pg, 0);
	memset(k, 'p', 250);
	for (int i = 0; i < n && !rc; i++) {
		snprintf((char *)k + 250, 9, "%08d", (i * 7919) % n);
		rc = ag_tree_put(t, k, 258, "12345678", 8);
	}
	ag_tree_flush(t, 1, &root);
	walk_count(t, &mp, &w);
	/* uncompressed, a cell is 272 bytes: 14 a page, over 140 leaves */
	ok(!rc && w.leaves < 40, "2000 keys with a 250-byte shared prefix "
	   "fit in %zu leaves", w.leaves);
	ag_tree_close(t);
	mp_free(&mp);

	mp_init(&mp, 4096);
	view_init(&v, &mp, 1);
	ag_tree_open(&t, &v.pg, 0);
	n = 20000;
	for (int i = 0; i < n && !rc; i++) {
		snprintf((char *)k, 17, "ino/%012d", i);
		rc = ag_tree_put(t, k, 16, k, 16);
		if (i % 1000 == 999)
			rc = rc ? rc : ag_tree_flush(t, i, &root);
	}
	ag_tree_flush(t, n, &root);
	walk_count(t, &mp, &w);
	/* A leaf cell takes 25 to 38 bytes here, so half-full leaves would
	 * need over 240 pages; full ones (the append split) about 130. */
	ok(!rc && w.leaves * 4054 < (size_t)n * 38,
	   "sequential appends fill leaves (%zu leaves, height %d)", w.leaves,
	   w.maxlevel + 1);
	ag_tree_close(t);
	mp_free(&mp);
}

/* ---- the split policy: runs of inserts fill pages, random ones still
 * balance ---- */

/* Leaf fill of t, and that of its branches but the root, in percent. */
static void fill_of(struct ag_tree *t, struct mpager *mp, double *leaf,
		    double *branch)
{
	struct ag_tree_usage u = { 0 };
	uint8_t *b = malloc(mp->ps);
	size_t root_used = 0;
	struct mpage *rp = mp_page(mp, ag_tree_root(t));

	ag_tree_usage(t, &u);
	/* a root branch: slots and cells past the headers, as usage counts */
	if (b && rp && u.branches) {
		memcpy(b, rp->data, mp->ps);
		root_used = mp->ps - get_le16(b + 32 + 4) + 32 + 10 +
			    2 * get_le16(b + 32 + 2);
		u.branches--;
		u.branch_used -= root_used;
	}
	free(b);
	*leaf = u.leaves ? 100.0 * u.leaf_used / (u.leaves * u.page_size) : 0;
	*branch = u.branches ? 100.0 * u.branch_used /
				       (u.branches * u.page_size)
			     : 100;
	diag("%llu leaves, %llu branches below the root",
	     (unsigned long long)u.leaves, (unsigned long long)u.branches);
}

static void split_tests(void)
{
	struct mpager mp;
	struct mview v;
	struct ag_tree *t;
	uint8_t k[64], val[64];
	uint64_t root;
	double leaf, branch;
	int n = 20000, rc = 0, same = 1;
	struct model m = { 0 };

	/* Three kinds of keys, each growing at the end of its own range in
	 * the middle of the tree, as inodes, directory entries and extents
	 * of new files do: a run continues at the end of a leaf that is
	 * not the tree's last, or before keys of the next kind. */
	mp_init(&mp, 4096);
	view_init(&v, &mp, 1);
	ag_tree_open(&t, &v.pg, 0);
	for (int i = 0; i < 5 * n && !rc; i++) {
		for (int kind = 0; kind < 3 && !rc; kind++) {
			size_t kl = 9;

			k[0] = (uint8_t)(3 + kind);
			put_be64(k + 1, 1000 + i);
			if (kind == 1)
				kl += snprintf((char *)k + 9, 20, "file%d.c",
					       i % 97);
			if (kind == 2) {
				put_be64(k + 9, 0);
				kl = 17;
			}
			rc = ag_tree_put(t, k, kl, val, 12 + kind * 10);
		}
		if (i % 2000 == 1999)
			rc = rc ? rc : ag_tree_flush(t, i, &root);
	}
	rc = rc ? rc : ag_tree_flush(t, n, &root);
	fill_of(t, &mp, &leaf, &branch);
	ok(!rc && leaf >= 90, "runs in the middle of the tree fill leaves "
	   "%.1f %% (>= 90)", leaf);
	/* the root's fill is whatever is left over: measure below it; the
	 * open end of each of the three runs is partly full, some 16 % of
	 * the 16 branches here */
	ok(branch >= 75, "and branches below the root %.1f %% (>= 75)",
	   branch);
	ag_tree_close(t);
	mp_free(&mp);

	/* records made small and completed in the order they were made, as
	 * inodes are: created empty, then given their size and times */
	mp_init(&mp, 4096);
	view_init(&v, &mp, 1);
	ag_tree_open(&t, &v.pg, 0);
	for (int i = 0; i < n && !rc; i += 50) {
		for (int pass = 0; pass < 2 && !rc; pass++)
			for (int j = i; j < i + 50 && !rc; j++) {
				k[0] = 3;
				put_be64(k + 1, 1000 + j);
				rc = ag_tree_put(t, k, 9, val, pass ? 40 : 10);
			}
		if (i % 2000 == 1950)
			rc = rc ? rc : ag_tree_flush(t, i, &root);
	}
	rc = rc ? rc : ag_tree_flush(t, n, &root);
	fill_of(t, &mp, &leaf, &branch);
	ok(!rc && leaf >= 75, "records that grow in the order they were made "
	   "fill leaves %.1f %% (>= 75; 59 when they split in the middle)", leaf);
	ag_tree_close(t);
	mp_free(&mp);

	/* random keys: every one reads back, pages stay reasonably full */
	mp_init(&mp, 4096);
	view_init(&v, &mp, 1);
	ag_tree_open(&t, &v.pg, 0);
	for (int i = 0; i < n && !rc; i++) {
		k[0] = 7;
		for (int j = 1; j < 33; j++)
			k[j] = (uint8_t)rnd(256);
		model_put(&m, k, 33, k + 1, 32);
		rc = ag_tree_put(t, k, 33, k + 1, 32);
		if (i % 500 == 499)
			rc = rc ? rc : ag_tree_flush(t, i, &root);
	}
	rc = rc ? rc : ag_tree_flush(t, n, &root);
	for (size_t i = 0; i < m.n && same; i++) {
		size_t vl = sizeof(val);

		same = !ag_tree_get(t, m.a[i].k, m.a[i].kl, val, &vl) &&
		       vl == m.a[i].vl && !memcmp(val, m.a[i].v, vl);
	}
	fill_of(t, &mp, &leaf, &branch);
	ok(!rc && same, "20000 random keys all read back");
	ok(leaf >= 60, "random keys fill leaves %.1f %% (>= 60)", leaf);
	model_free(&m);
	ag_tree_close(t);
	mp_free(&mp);
}

/* ---- rewriting pages where they lie (compaction) ---- */

/* Picks the pages whose address is a multiple of 3, counting them. */
static int pick_third(uint64_t addr, void *arg)
{
	size_t *n = arg;

	if (addr % 3)
		return 0;
	(*n)++;
	return 1;
}

static int pick_none(uint64_t addr, void *arg)
{
	(void)addr;
	(void)arg;
	return 0;
}

static int old_third_cb(uint64_t addr, int level, void *arg)
{
	uint64_t *limit = arg;

	if (level >= 0 && addr <= limit[0] && addr % 3 == 0)
		limit[1]++;
	return 0;
}

static void rewrite_tests(void)
{
	struct mpager mp;
	struct mview v;
	struct ag_tree *t;
	struct model m = { 0 };
	struct walkacc before, after;
	uint8_t k[40];
	uint64_t root, picked = 0, limit[2];
	size_t seen = 0;
	int rc = 0;

	mp_init(&mp, 4096);
	view_init(&v, &mp, 1);
	ag_tree_open(&t, &v.pg, 0);
	for (int i = 0; i < 20000 && !rc; i++) {
		k[0] = 7;
		for (int j = 1; j < 33; j++)
			k[j] = (uint8_t)rnd(256);
		model_put(&m, k, 33, k + 1, 24);
		rc = ag_tree_put(t, k, 33, k + 1, 24);
	}
	rc = rc ? rc : ag_tree_flush(t, 1, &root);
	rc = rc ? rc : walk_count(t, &mp, &before);
	ok(!rc && ag_tree_rewrite(t, pick_none, NULL, &picked) == 0 &&
	   !picked && !ag_tree_dirty(t),
	   "rewriting no page leaves the tree clean");
	rc = rc ? rc : ag_tree_rewrite(t, pick_third, &seen, &picked);
	ok(!rc && picked == seen && picked > 10 && ag_tree_dirty(t),
	   "rewrite picks %llu of %zu pages (height %d)",
	   (unsigned long long)picked, before.pages, before.maxlevel + 1);
	limit[0] = mp.npages;
	limit[1] = 0;
	rc = rc ? rc : ag_tree_flush(t, 2, &root);
	rc = rc ? rc : ag_tree_walk(t, old_third_cb, limit);
	ok(!rc && !limit[1], "after the flush no picked page is in the tree");
	rc = rc ? rc : walk_count(t, &mp, &after);
	ok(!rc && after.pages == before.pages && !after.bad && !after.dups,
	   "the tree has the same %zu pages, none released or twice",
	   after.pages);
	ok(!rc && !check_scan(t, &m, NULL, 0, 0), "and the same records");
	ok(!mp.violations && !mp.bad_reads, "pager contract kept");
	model_free(&m);
	ag_tree_close(t);
	mp_free(&mp);
}

/* ---- readers at an old root ---- */

/* What a get at root (max_gen, 0: none set) through v answers. */
static int get_at(struct mview *v, uint64_t root, uint64_t max_gen)
{
	uint8_t g[16];
	size_t gl = sizeof(g);
	struct ag_tree *t;
	int rc = ag_tree_open(&t, &v->pg, root);

	if (rc)
		return rc;
	if (max_gen)
		ag_tree_set_max_gen(t, max_gen);
	rc = ag_tree_get(t, "key00500", 8, g, &gl);
	ag_tree_close(t);
	return rc;
}

static void stale_tests(void)
{
	struct mpager mp;
	struct mview v;
	struct ag_tree *t;
	uint64_t root = 0;
	char k[16];
	int rc = 0;

	mp_init(&mp, 4096);
	view_init(&v, &mp, 0);
	ag_tree_open(&t, &v.pg, 0);
	for (int i = 0; i < 1000 && !rc; i++) {
		snprintf(k, sizeof(k), "key%05d", i);
		rc = ag_tree_put(t, k, 8, k, 8);
	}
	rc = rc ? rc : ag_tree_flush(t, 5, &root);
	ag_tree_close(t);
	ok(!rc && !get_at(&v, root, 5), "a tree of generation 5 reads at 5");
	ok(get_at(&v, root, 4) == -AG_ESTALEROOT,
	   "a reader at generation 4 meeting its pages: -AG_ESTALEROOT");
	v.reused = root;
	v.reused_gen = 6;
	ok(get_at(&v, root, 5) == -AG_ESTALEROOT,
	   "a slot the pager finds holding a page of generation 6: "
	   "-AG_ESTALEROOT at 5");
	v.reused_gen = 5;
	ok(get_at(&v, root, 5) == -AG_ECORRUPT &&
	   get_at(&v, root, 0) == -AG_ECORRUPT,
	   "one holding a page the root can see is damage: -AG_ECORRUPT");
	mp_free(&mp);
}

int main(void)
{
	const char *lng = getenv("AG_LONG");
	long nops = lng && *lng && *lng != '0' ? 400000 : 24000;

	rng = tap_seed();
	if (!rng)
		rng = 1;
	limit_tests();
	empty_tests();
	packing_tests();
	split_tests();
	rewrite_tests();
	random_run(4096, nops);
	random_run(2678, nops / 2); /* smallest page: two maximum cells */
	random_run(32768, nops / 4);
	corrupt_tests(4096);
	failure_tests();
	stale_tests();
	return tap_done();
}
