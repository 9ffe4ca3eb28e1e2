/*
 * file.c - element data: the write path (content-defined chunks, SHA-256,
 * global dedup through the tree, zstd, packing into erasure-coded
 * stripes, one WRITE op per commit) and the read path (extent map, chunk
 * records, verified stripe reads, decompression, a chunk cache).
 *
 * A chunk is stored once cluster-wide: its SHA-256 names it in the tree,
 * and an extent is a view (offset, length) into a chunk, so overwrites
 * and truncates never rewrite a chunk.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "cluster.h"
#include "format.h"
#include "keys.h"
#include "file_int.h"
#include "util.h"

#define COMMIT_EVERY AG_COMMIT_EVERY

/* ---- chunk cache: plain chunk bytes by SHA-256 ---- */

struct cached {
	uint8_t sha[32];
	uint8_t *data;
	uint32_t len;
	uint64_t tick;
};

struct ag_chunk_cache {
	pthread_mutex_t lock;
	struct cached *slots;
	uint32_t nslots;
	uint64_t tick;
	uint64_t bytes, budget; /* cached, and at most */
	uint32_t hand;          /* where eviction for room goes on */
};

int ag_chunk_cache_new(uint64_t bytes, struct ag_chunk_cache **ccp);
void ag_chunk_cache_free(struct ag_chunk_cache *cc);

int ag_chunk_cache_new(uint64_t bytes, struct ag_chunk_cache **ccp)
{
	struct ag_chunk_cache *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return -ENOMEM;
	/* a set-associative table with 8 ways, with slots enough for small
	 * chunks (small objects) too; bytes bound what they hold */
	cc->budget = bytes;
	cc->nslots = (uint32_t)AG_MAX(bytes / (8 << 10), 64);
	cc->nslots = (cc->nslots + 7) & ~7u;
	cc->slots = calloc(cc->nslots, sizeof(*cc->slots));
	if (!cc->slots) {
		free(cc);
		return -ENOMEM;
	}
	pthread_mutex_init(&cc->lock, NULL);
	*ccp = cc;
	return 0;
}

void ag_chunk_cache_free(struct ag_chunk_cache *cc)
{
	uint32_t i;

	if (!cc)
		return;
	for (i = 0; i < cc->nslots; i++)
		free(cc->slots[i].data);
	pthread_mutex_destroy(&cc->lock);
	free(cc->slots);
	free(cc);
}

static struct cached *cache_set(struct ag_chunk_cache *cc, const uint8_t *sha)
{
	uint32_t set;

	memcpy(&set, sha, 4);
	return &cc->slots[(set % (cc->nslots / 8)) * 8];
}

/* Copy [off, off + len) of the cached chunk; 1 on a hit. */
static int cache_read(struct ag_chunk_cache *cc, const uint8_t *sha,
		      uint32_t off, void *buf, uint32_t len)
{
	struct cached *s = cache_set(cc, sha);
	int i, hit = 0;

	pthread_mutex_lock(&cc->lock);
	for (i = 0; i < 8; i++) {
		if (s[i].data && !memcmp(s[i].sha, sha, 32) &&
		    off + len <= s[i].len) {
			memcpy(buf, s[i].data + off, len);
			s[i].tick = ++cc->tick;
			hit = 1;
			break;
		}
	}
	pthread_mutex_unlock(&cc->lock);
	return hit;
}

/* Keep data (malloc'd, ownership passes to the cache). */
static void cache_insert(struct ag_chunk_cache *cc, const uint8_t *sha,
			 uint8_t *data, uint32_t len)
{
	struct cached *s = cache_set(cc, sha), *victim = s;
	int i;

	pthread_mutex_lock(&cc->lock);
	for (i = 0; i < 8; i++) {
		if (s[i].data && !memcmp(s[i].sha, sha, 32)) {
			victim = &s[i];
			break;
		}
		if (!s[i].data || s[i].tick < victim->tick)
			victim = &s[i];
	}
	if (victim->data)
		cc->bytes -= victim->len;
	free(victim->data);
	victim->data = NULL;
	/* over budget: drop entries round the table, as a clock would */
	while (cc->bytes + len > cc->budget && cc->bytes) {
		struct cached *e = &cc->slots[cc->hand++ % cc->nslots];

		if (e->data) {
			cc->bytes -= e->len;
			free(e->data);
			e->data = NULL;
		}
	}
	memcpy(victim->sha, sha, 32);
	victim->data = data;
	victim->len = len;
	victim->tick = ++cc->tick;
	cc->bytes += len;
	pthread_mutex_unlock(&cc->lock);
}

/* ---- read path ---- */

/* Keep a copy of data (when memory allows: the cache is a help only). */
static void cache_copy(struct ag_chunk_cache *cc, const uint8_t *sha,
		       const uint8_t *data, uint32_t len)
{
	uint8_t *copy = malloc(len);

	if (copy) {
		memcpy(copy, data, len);
		cache_insert(cc, sha, copy, len);
	}
}

static int chunk_lookup(struct ag_tree *t, const uint8_t *sha,
			struct ag_chunk_rec *rec)
{
	uint8_t k[AG_KEYBUF], v[AG_CHUNK_REC_LEN];
	size_t vl = sizeof(v);
	int rc = ag_tree_get(t, k, ag_key_chunk(k, sha), v, &vl);

	if (rc == -ERANGE)
		return AG_CORRUPT("chunk record");
	return rc ? rc : ag_chunk_rec_decode(v, vl, rec);
}

/* Turn a chunk's stored bytes into its rec->ulen plain bytes at plain. */
static int chunk_decode_into(const struct ag_chunk_rec *rec,
			     const uint8_t *stored, uint8_t *plain)
{
	size_t n;

	if (!(rec->flags & AG_CHUNK_ZSTD)) {
		if (rec->clen != rec->ulen)
			return AG_CORRUPT("raw chunk of wrong length");
		memcpy(plain, stored, rec->ulen);
		return 0;
	}
	n = ZSTD_decompress(plain, rec->ulen, stored, rec->clen);
	if (ZSTD_isError(n) || n != rec->ulen)
		return AG_CORRUPT("chunk does not decompress to its length");
	return 0;
}

/* The same into a malloc'd buffer. */
static int chunk_decode(const struct ag_chunk_rec *rec, const uint8_t *stored,
			uint8_t **out)
{
	uint8_t *plain = malloc(rec->ulen);
	int rc;

	if (!plain)
		return -ENOMEM;
	rc = chunk_decode_into(rec, stored, plain);
	if (rc) {
		free(plain);
		return rc;
	}
	*out = plain;
	return 0;
}

/* The plain bytes of a chunk read on its own (verified, rebuilt if need
 * be), in a malloc'd buffer of rec->ulen. */
static int chunk_fetch(struct ag_cluster *c, const struct ag_chunk_rec *rec,
		       uint8_t **out)
{
	uint8_t *stored = malloc(rec->clen);
	int rc;

	if (!stored)
		return -ENOMEM;
	rc = ag_stripes_read(c->stripes, rec->addr, stored, rec->clen,
			     rec->crc);
	if (!rc)
		rc = chunk_decode(rec, stored, out);
	free(stored);
	return rc;
}

/* One extent of a read: where its bytes go and the chunk they come from. */
struct want {
	struct ag_extent e;
	uint32_t from, len;  /* bytes [from, from + len) of the extent */
	uint8_t *dst;
	struct ag_chunk_rec rec;
};

static int by_addr(const void *a, const void *b)
{
	const struct want *x = a, *y = b;

	return x->rec.addr < y->rec.addr ? -1 : x->rec.addr > y->rec.addr;
}

static int deliver(struct ag_cluster *c, const struct want *w, uint8_t *plain)
{
	if ((uint64_t)w->e.coff + w->e.len > w->rec.ulen) {
		free(plain);
		return AG_CORRUPT("extent past the end of its chunk");
	}
	memcpy(w->dst, plain + w->e.coff + w->from, w->len);
	cache_insert(c->cache, w->e.sha, plain, w->rec.ulen);
	return 0;
}

/* Largest payload range read in one go, and the largest hole between two
 * chunks worth reading through rather than seeking past. */
#define RUN_MAX (8u << 20)
#define GAP_MAX (256u << 10)

/* Fetch the chunks of ws[0..n) (sorted by address): neighbours on the
 * drives are read as one range, each chunk then checked on its own. */
static int fetch_runs(struct ag_cluster *c, struct want *ws, size_t n)
{
	uint8_t *run = NULL;
	size_t i = 0, j, run_cap = 0;
	int rc = 0;

	while (i < n && !rc) {
		uint64_t start = ws[i].rec.addr, end = start + ws[i].rec.clen;

		for (j = i + 1; j < n; j++) {
			uint64_t a = ws[j].rec.addr;

			if (AG_ADDR_SEG(a) != AG_ADDR_SEG(start) ||
			    a > end + GAP_MAX ||
			    AG_MAX(end, a + ws[j].rec.clen) - start > RUN_MAX)
				break;
			end = AG_MAX(end, a + ws[j].rec.clen);
		}
		if (end - start > run_cap) {
			free(run);
			run_cap = end - start;
			run = malloc(run_cap);
			if (!run)
				return -ENOMEM;
		}
		if (j - i == 1 ||
		    ag_stripes_read_range(c->stripes, start, run, end - start))
			memset(run, 0, end - start); /* per-chunk path below */
		for (; i < j && !rc; i++) {
			const uint8_t *stored = run + (ws[i].rec.addr - start);
			uint8_t *plain = NULL;

			int good = ag_crc32c(stored, ws[i].rec.clen) ==
				   ws[i].rec.crc;

			/* a whole chunk read whole (a sequential read) goes
			 * straight to the caller, and to the cache only when
			 * it is shorter than chunk_min: a whole small file or
			 * a file's tail, likely read again (small S3 GETs) */
			if (good && !ws[i].e.coff && !ws[i].from &&
			    ws[i].len == ws[i].rec.ulen) {
				rc = chunk_decode_into(&ws[i].rec, stored,
						       ws[i].dst);
				if (!rc && ws[i].rec.ulen <
					   c->ds->label.chunk_min)
					cache_copy(c->cache, ws[i].e.sha,
						   ws[i].dst, ws[i].rec.ulen);
				continue;
			}
			if (good)
				rc = chunk_decode(&ws[i].rec, stored, &plain);
			else
				rc = chunk_fetch(c, &ws[i].rec, &plain);
			if (!rc)
				rc = deliver(c, &ws[i], plain);
		}
	}
	free(run);
	return rc;
}

static ssize_t tree_read(struct ag_cluster *c, struct ag_tree *t, uint64_t ino,
			 uint64_t off, uint8_t *buf, size_t len)
{
	uint8_t k[AG_KEYBUF], v[AG_INODE_LEN];
	uint64_t end, hole; /* bytes before hole are covered or zeroed */
	struct want *ws = NULL;
	size_t nw = 0, cap = 0, i, vl = sizeof(v);
	struct ag_extent_walk walk;
	struct ag_attr a;
	int rc;

	rc = ag_tree_get(t, k, ag_key_inode(k, ino), v, &vl);
	if (!rc)
		rc = ag_inode_decode(v, vl, ino, &a);
	if (rc)
		return rc;
	if (S_ISDIR(a.mode))
		return -EISDIR;
	if (off >= a.size)
		return 0;
	len = AG_MIN(len, a.size - off);
	end = off + len;
	hole = off;
	rc = ag_extent_walk_start(t, ino, off, &walk);
	if (rc)
		return rc;
	for (;;) {
		struct want w;
		uint64_t s, f;

		rc = ag_extent_walk_next(&walk, &w.e);
		if (rc <= 0 || w.e.off >= end)
			break;
		s = AG_MAX(off, w.e.off);
		f = AG_MIN(end, w.e.off + w.e.len);
		if (s > hole) /* holes read as zeros */
			memset(buf + (hole - off), 0, s - hole);
		hole = f;
		w.from = s - w.e.off;
		w.len = f - s;
		w.dst = buf + (s - off);
		if (cache_read(c->cache, w.e.sha, w.e.coff + w.from, w.dst,
			       w.len))
			continue;
		if (nw == cap) {
			struct want *n;

			cap = cap ? 2 * cap : 64;
			n = realloc(ws, cap * sizeof(*n));
			if (!n) {
				rc = -ENOMEM;
				break;
			}
			ws = n;
		}
		ws[nw++] = w;
	}
	ag_extent_walk_end(&walk);
	if (rc >= 0 && hole < end)
		memset(buf + (hole - off), 0, end - hole);
	for (i = 0; rc >= 0 && i < nw; i++) {
		rc = chunk_lookup(t, ws[i].e.sha, &ws[i].rec);
		if (rc == -ENOENT)
			rc = AG_CORRUPT("extent names a missing chunk");
	}
	if (rc >= 0 && nw) {
		qsort(ws, nw, sizeof(*ws), by_addr);
		rc = fetch_runs(c, ws, nw);
	}
	free(ws);
	return rc < 0 ? rc : (ssize_t)len;
}

ssize_t ag_read(struct ag_cluster *c, uint64_t ino, uint64_t off, void *buf,
		size_t len)
{
	struct ag_tree *t;

	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	/* a page or chunk reused since our root was current: again at the
	 * newest root */
	return AG_CL_READ(c, t, tree_read(c, t, ino, off, buf, len));
}

/* ---- write path ---- */

/* Chunks stored by this sink but not yet committed: dedup within one
 * stream before the tree knows them. Open addressing, keyed by SHA. */
struct local_chunk {
	uint8_t sha[32];
	uint8_t used;
};

/* A chunk between cutting and storing. Hashing and compressing are the
 * dear stages of ingest, and independent per chunk: the two halves of a
 * batch run on two threads. */
struct cut {
	const uint8_t *data;
	uint32_t n;
	uint64_t off;
	uint8_t sha[32];
	uint8_t *zbuf;          /* in the sink's arena */
	const uint8_t *stored;  /* data or zbuf */
	size_t clen;
	uint32_t cflags;
	int error;
};

/* What one preparing thread owns. */
struct preparer {
	ZSTD_CCtx *zc;
	EVP_MD_CTX *md;
	struct cut *cuts;
	size_t ncuts;
	atomic_size_t *next;  /* the next cut nobody took, shared */
};

#define PREPARERS 2

struct sink {
	struct ag_cluster *c;
	struct ag_txn txn;
	uint64_t ino;         /* 0: the orphan made by this txn's MKNODE */
	struct ag_tree *dedup; /* tree at the root of the last commit */
	struct preparer prep[PREPARERS];
	struct cut *cuts;
	size_t cuts_cap;
	uint8_t *arena;       /* compressed chunks of the batch */
	size_t arena_cap;
	struct local_chunk *local;
	uint32_t nlocal, local_cap;
	uint64_t uncommitted;  /* bytes chunked since the last commit */
	int packing;           /* counted in c->inflight */
};

static int sink_init(struct sink *s, struct ag_cluster *c)
{
	const struct ag_label *l = &c->ds->label;
	int i;

	memset(s, 0, sizeof(*s));
	s->c = c;
	for (i = 0; i < PREPARERS; i++) {
		struct preparer *p = &s->prep[i];

		p->zc = ZSTD_createCCtx();
		p->md = EVP_MD_CTX_new();
		if (!p->zc || !p->md)
			return -ENOMEM;
		ZSTD_CCtx_setParameter(p->zc, ZSTD_c_compressionLevel,
				       l->zstd_level);
		ZSTD_CCtx_setParameter(p->zc, ZSTD_c_checksumFlag, 0);
		ZSTD_CCtx_setParameter(p->zc, ZSTD_c_contentSizeFlag, 1);
	}
	ag_cl_txn(c, &s->txn);
	return ag_cl_tree(c, &s->dedup);
}

static void sink_not_packing(struct sink *s)
{
	if (!s->packing)
		return;
	pthread_mutex_lock(&s->c->pack_lock);
	s->c->inflight--;
	pthread_mutex_unlock(&s->c->pack_lock);
	s->packing = 0;
}

static void sink_destroy(struct sink *s)
{
	int i;

	sink_not_packing(s);
	ag_tree_close(s->dedup);
	ag_txn_release(&s->txn);
	for (i = 0; i < PREPARERS; i++) {
		ZSTD_freeCCtx(s->prep[i].zc);
		EVP_MD_CTX_free(s->prep[i].md);
	}
	free(s->cuts);
	free(s->arena);
	free(s->local);
}

static int local_find(struct sink *s, const uint8_t *sha, int insert)
{
	uint32_t h, i;

	if (insert && (s->nlocal + 1) * 2 > s->local_cap) {
		uint32_t cap = s->local_cap ? 2 * s->local_cap : 1024, j;
		struct local_chunk *n = calloc(cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (j = 0; j < s->local_cap; j++) {
			if (!s->local[j].used)
				continue;
			memcpy(&h, s->local[j].sha, 4);
			for (i = h % cap; n[i].used; i = (i + 1) % cap)
				;
			n[i] = s->local[j];
		}
		free(s->local);
		s->local = n;
		s->local_cap = cap;
	}
	if (!s->local_cap)
		return 0;
	memcpy(&h, sha, 4);
	for (i = h % s->local_cap; s->local[i].used; i = (i + 1) % s->local_cap)
		if (!memcmp(s->local[i].sha, sha, 32))
			return 1;
	if (insert) {
		memcpy(s->local[i].sha, sha, 32);
		s->local[i].used = 1;
		s->nlocal++;
	}
	return 0;
}

/* Fingerprint and compress one chunk (stored raw when zstd does not
 * shrink it). */
static void prepare_cut(struct preparer *p, struct cut *c)
{
	unsigned int mdlen;
	size_t clen;

	if (!EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(p->md, c->data, c->n) ||
	    !EVP_DigestFinal_ex(p->md, c->sha, &mdlen)) {
		c->error = -EIO;
		return;
	}
	clen = ZSTD_compress2(p->zc, c->zbuf, ZSTD_compressBound(c->n),
			      c->data, c->n);
	if (!ZSTD_isError(clen) && clen < c->n) {
		c->stored = c->zbuf;
		c->clen = clen;
		c->cflags = AG_CHUNK_ZSTD;
	} else {
		c->stored = c->data;
		c->clen = c->n;
		c->cflags = 0;
	}
}

static void *prepare_main(void *arg)
{
	struct preparer *p = arg;
	size_t i;

	/* cuts are taken one by one, not dealt out: a thread the scheduler
	 * holds back (the MD5 thread shares the cores) leaves its share to
	 * the others instead of holding up the join */
	while ((i = atomic_fetch_add(p->next, 1)) < p->ncuts)
		prepare_cut(p, &p->cuts[i]);
	return NULL;
}

/* Prepare n cuts, on as many threads as help. */
static void prepare_all(struct sink *s, size_t n)
{
	pthread_t thr[PREPARERS];
	atomic_size_t next = 0;
	int i, started = 1;

	for (i = 0; i < PREPARERS; i++) {
		s->prep[i].cuts = s->cuts;
		s->prep[i].ncuts = n;
		s->prep[i].next = &next;
	}
	for (i = 1; n > 1 && i < PREPARERS; i++, started++)
		if (pthread_create(&thr[i], NULL, prepare_main, &s->prep[i]))
			break;
	/* the calling thread works too, and takes whatever is left */
	prepare_main(&s->prep[0]);
	for (i = 1; i < started; i++)
		pthread_join(thr[i], NULL);
}

/* Store one prepared chunk (or find it) and add its extent. */
static int store_cut(struct sink *s, const struct cut *c)
{
	struct ag_write_ext e = { .off = c->off, .len = c->n };
	struct ag_chunk_rec rec;
	int rc;

	if (c->error)
		return c->error;
	memcpy(e.sha, c->sha, 32);
	s->uncommitted += c->n;
	rc = local_find(s, e.sha, 0);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		rc = chunk_lookup(s->dedup, e.sha, &rec);
		if (rc && rc != -ENOENT)
			return rc;
		rc = !rc; /* 1: the tree has it */
	}
	if (rc == 1)
		return ag_txn_write_ext(&s->txn, &e);
	e.has_loc = 1;
	e.clen = c->clen;
	e.ulen = c->n;
	e.cflags = c->cflags;
	e.crc = ag_crc32c(c->stored, c->clen);
	pthread_mutex_lock(&s->c->pack_lock);
	if (!s->packing) {
		s->packing = 1;
		s->c->inflight++;
	}
	rc = ag_cl_pack(s->c, c->stored, c->clen, &e.addr);
	pthread_mutex_unlock(&s->c->pack_lock);
	if (rc)
		return rc;
	/* a small object is often read right after it is written (S3):
	 * keep it as the read path would (the bytes of a digest never
	 * change) */
	if (c->n < s->c->ds->label.chunk_min)
		cache_copy(s->c->cache, e.sha, c->data, c->n);
	rc = local_find(s, e.sha, 1);
	return rc < 0 ? rc : ag_txn_write_ext(&s->txn, &e);
}

/* Room for the cuts of len bytes and their compressed forms. */
static int sink_reserve(struct sink *s, size_t len)
{
	const struct ag_label *l = &s->c->ds->label;
	size_t ncuts = len / l->chunk_min + 2;
	size_t arena = ZSTD_compressBound(len) + ncuts * 64;

	if (ncuts > s->cuts_cap) {
		struct cut *n = realloc(s->cuts, ncuts * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->cuts = n;
		s->cuts_cap = ncuts;
	}
	if (arena > s->arena_cap) {
		uint8_t *n = realloc(s->arena, arena);

		if (!n)
			return -ENOMEM;
		s->arena = n;
		s->arena_cap = arena;
	}
	return 0;
}

/* Chunk buf (file offset off); with eof the whole buffer is consumed,
 * otherwise the tail that does not end at a cut point is left: *used
 * says how much was chunked. */
static int sink_bytes(struct sink *s, const uint8_t *buf, size_t len,
		      uint64_t off, int eof, size_t *used)
{
	size_t pos = 0, n = 0, zpos = 0, i;
	int rc = sink_reserve(s, len);

	*used = 0;
	if (rc)
		return rc;
	while (pos < len) {
		size_t cl = ag_cdc_next(&s->c->cdc, buf + pos, len - pos, eof);
		struct cut *c = &s->cuts[n++];

		if (!cl) {
			n--;
			break;
		}
		memset(c, 0, sizeof(*c));
		c->data = buf + pos;
		c->n = (uint32_t)cl;
		c->off = off + pos;
		c->zbuf = s->arena + zpos;
		zpos += ZSTD_compressBound(cl);
		pos += cl;
	}
	prepare_all(s, n);
	for (i = 0; i < n && !rc; i++) {
		rc = store_cut(s, &s->cuts[i]);
		if (!rc)
			*used += s->cuts[i].n;
	}
	/* the batch's stripes go to the drives while the next is prepared */
	if (!rc && s->packing) {
		pthread_mutex_lock(&s->c->pack_lock);
		rc = ag_cl_pack_kick(s->c);
		pthread_mutex_unlock(&s->c->pack_lock);
	}
	return rc;
}

/* Start the next transaction from nothing: no ops, no chunks of its
 * own, not counted among the writers with uncommitted chunks. */
static void sink_reset(struct sink *s)
{
	sink_not_packing(s);
	ag_txn_reset(&s->txn, s->c->client_id, 0);
	s->nlocal = 0;
	if (s->local)
		memset(s->local, 0, s->local_cap * sizeof(*s->local));
	s->uncommitted = 0;
}

/* Seal the data, commit the transaction, start the next one. */
static int sink_commit(struct sink *s, struct ag_rpc_reply *r)
{
	int rc = 0;

	/* a writer that stored no chunk has nothing to wait for */
	if (s->packing) {
		pthread_mutex_lock(&s->c->pack_lock);
		rc = ag_cl_pack_seal(s->c, &s->txn);
		pthread_mutex_unlock(&s->c->pack_lock);
	}
	if (!rc)
		rc = ag_cl_commit(s->c, &s->txn, r);
	sink_reset(s);
	ag_tree_close(s->dedup);
	s->dedup = NULL;
	if (!rc)
		rc = ag_cl_tree(s->c, &s->dedup);
	return rc;
}

/* ---- streaming writer (put) ---- */

/* The ETag a writer will store. */
enum etag_state { ETAG_MD5, ETAG_SET, ETAG_NONE };

struct ag_writer {
	struct sink s;
	uint8_t *buf;        /* bytes not yet chunked */
	size_t len, cap;
	uint64_t off;        /* file offset of buf[0] */
	uint64_t piece;      /* start of the open WRITE op */
	EVP_MD_CTX *md5;     /* of every byte written, in order */
	size_t hashed;       /* bytes of buf already in md5 */
	enum etag_state etag_state;
	uint8_t etag[16];
	uint32_t mode, uid, gid; /* of the MKNODE */
	struct ag_txn xattrs; /* SETXATTR ops held for the publishing txn */
	int expect;          /* AG_EXPECT_* of the publishing txn, or 0 */
	uint8_t expect_etag[16];
	int error;
};

static int writer_begin_piece(struct ag_writer *w)
{
	w->piece = w->off;
	return ag_txn_write(&w->s.txn, w->s.ino, w->off, UINT64_MAX, w->off,
			    0);
}

int ag_writer_new(struct ag_cluster *c, uint32_t mode, uint32_t uid,
		  uint32_t gid, struct ag_writer **wp)
{
	struct ag_op_mknode o = { .mode = S_IFREG | (mode & 07777),
				  .uid = uid, .gid = gid,
				  .flags = AG_MKNODE_ORPHAN };
	struct ag_writer *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	if (!c->rpc) {
		free(w);
		return -EROFS;
	}
	w->mode = o.mode;
	w->uid = uid;
	w->gid = gid;
	rc = sink_init(&w->s, c);
	ag_txn_init(&w->xattrs, 0, 0);
	w->md5 = EVP_MD_CTX_new();
	if (!rc && (!w->md5 || !EVP_DigestInit_ex(w->md5, EVP_md5(), NULL)))
		rc = -ENOMEM;
	/* batches of a few MiB keep both preparing threads busy */
	w->cap = 2 * (size_t)c->ds->label.chunk_max + (8 << 20);
	w->buf = malloc(w->cap);
	if (!rc && !w->buf)
		rc = -ENOMEM;
	if (!rc)
		rc = ag_txn_mknode(&w->s.txn, &o);
	if (!rc)
		rc = writer_begin_piece(w);
	if (rc) {
		ag_writer_free(w);
		return rc;
	}
	*wp = w;
	return 0;
}

/* Commit the extents so far; the orphan keeps them until publish. */
static int writer_checkpoint(struct ag_writer *w)
{
	struct ag_rpc_reply r;
	int rc;

	rc = ag_txn_write_size(&w->s.txn, w->off);
	if (!rc)
		rc = sink_commit(&w->s, &r);
	if (rc)
		return rc;
	if (!w->s.ino)
		w->s.ino = r.ino;
	return writer_begin_piece(w);
}

struct md5_job {
	EVP_MD_CTX *md;
	const uint8_t *p;
	size_t n;
	int ok;
};

static void *md5_main(void *arg)
{
	struct md5_job *j = arg;

	j->ok = EVP_DigestUpdate(j->md, j->p, j->n);
	return NULL;
}

/* Chunk and store the buffer (all of it with eof, else up to its last
 * cut point). MD5 is sequential and as dear as the rest of ingest on
 * one core, so the new bytes are hashed on a thread of their own while
 * they are chunked. */
static int writer_chunk(struct ag_writer *w, int eof)
{
	struct md5_job j = { .md = w->md5, .p = w->buf + w->hashed,
			     .n = w->len - w->hashed, .ok = 1 };
	int hashing = w->etag_state == ETAG_MD5 && j.n, threaded = 0;
	pthread_t thr;
	size_t used;
	int rc;

	if (hashing)
		threaded = !pthread_create(&thr, NULL, md5_main, &j);
	rc = sink_bytes(&w->s, w->buf, w->len, w->off, eof, &used);
	if (hashing && !threaded)
		md5_main(&j);
	if (threaded)
		pthread_join(thr, NULL);
	if (!rc && !j.ok)
		rc = -EIO;
	if (rc)
		return rc;
	memmove(w->buf, w->buf + used, w->len - used);
	w->len -= used;
	w->off += used;
	w->hashed = w->len;
	return 0;
}

int ag_writer_write(struct ag_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (w->error)
		return w->error;
	while (len) {
		size_t n = AG_MIN(len, w->cap - w->len);
		int rc;

		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
		if (w->len < w->cap)
			continue;
		rc = writer_chunk(w, 0);
		if (!rc && w->s.uncommitted >= COMMIT_EVERY)
			rc = writer_checkpoint(w);
		if (rc)
			return w->error = rc;
	}
	return 0;
}

/* Chunk and store every buffered byte, so that what comes next starts
 * at w->off. */
static int writer_drain(struct ag_writer *w)
{
	return writer_chunk(w, 1);
}

int ag_writer_clone(struct ag_writer *w, uint64_t src, uint64_t soff,
		    uint64_t len)
{
	struct ag_op_clone o = { .src = src, .soff = soff, .len = len };
	struct ag_attr a;
	int rc = w->error;

	if (rc)
		return rc;
	rc = ag_getattr(w->s.c, src, &a);
	if (rc)
		return rc;
	if (!S_ISREG(a.mode))
		return S_ISDIR(a.mode) ? -EISDIR : -EINVAL;
	if (soff > a.size || len > a.size - soff)
		return -EINVAL;
	rc = writer_drain(w);
	if (!rc)
		rc = ag_txn_write_size(&w->s.txn, w->off);
	o.dst = w->s.ino; /* 0 before the first checkpoint: the MKNODE */
	o.doff = w->off;
	if (!rc && len)
		rc = ag_txn_clone(&w->s.txn, &o);
	if (rc)
		return w->error = rc;
	w->off += len;
	if (len && w->etag_state == ETAG_MD5)
		w->etag_state = ETAG_NONE;
	rc = writer_begin_piece(w);
	return rc ? (w->error = rc) : 0;
}

int ag_writer_setxattr(struct ag_writer *w, const char *name,
		       const void *val, size_t len)
{
	struct ag_op_xattr o = { .name = name, .value = val, .vlen = len };
	size_t nlen = strnlen(name, AG_NAME_MAX + 1);

	if (!nlen || nlen > AG_NAME_MAX || name[0] == '\001')
		return -ERANGE;
	if (len > AG_VAL_MAX)
		return -E2BIG;
	o.nlen = nlen;
	return ag_txn_setxattr(&w->xattrs, &o);
}

void ag_writer_set_etag(struct ag_writer *w, const uint8_t md5[16])
{
	memcpy(w->etag, md5, 16);
	w->etag_state = ETAG_SET;
}

int ag_writer_expect(struct ag_writer *w, int cond, const uint8_t md5[16])
{
	if (cond < AG_EXPECT_ABSENT || cond > AG_EXPECT_ETAG)
		return -EINVAL;
	w->expect = cond;
	if (cond == AG_EXPECT_ETAG)
		memcpy(w->expect_etag, md5, 16);
	return 0;
}

/* The condition, ahead of the LINK it guards. */
static int writer_expect(struct ag_writer *w, uint64_t parent,
			 const char *name, uint32_t nlen)
{
	struct ag_op_expect o = { .parent = parent, .cond = w->expect,
				  .name = name, .nlen = nlen };

	memcpy(o.etag, w->expect_etag, 16);
	return ag_txn_expect(&w->s.txn, &o);
}

/* Append the held xattrs (for ino) and the ETag to the final txn. */
static int writer_attrs(struct ag_writer *w, uint64_t ino)
{
	struct ag_op_setattr sa = { .ino = ino, .mask = AG_SET_ETAG };
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	unsigned int mdlen;
	int rc;

	rc = ag_txn_parse(w->xattrs.buf, w->xattrs.len, &client, &txid, &it);
	while (!rc && (rc = ag_txn_next(&it, &op)) == 1) {
		op.u.xattr.ino = ino;
		rc = ag_txn_setxattr(&w->s.txn, &op.u.xattr);
	}
	if (rc)
		return rc;
	if (w->etag_state == ETAG_MD5 &&
	    !EVP_DigestFinal_ex(w->md5, w->etag, &mdlen))
		return -EIO;
	if (w->etag_state == ETAG_NONE)
		return 0;
	memcpy(sa.etag, w->etag, 16);
	return ag_txn_setattr(&w->s.txn, &sa);
}

/* The attributes of the element our commit published, for the reply to
 * its writer. Another writer may replace the name, and so destroy the
 * element, as soon as our commit is applied, even within the same group
 * commit (racing PUTs of one key), so that no tree after it holds the
 * element. Our commit still succeeded: the attributes are then the ones
 * the writer gave it, its times this host's clock at the answer. */
static int committed_attr(struct ag_writer *w, uint64_t parent,
			  struct ag_attr *a)
{
	int rc = ag_getattr(w->s.c, w->s.ino, a);

	if (rc != -ENOENT)
		return rc;
	memset(a, 0, sizeof(*a));
	a->ino = w->s.ino;
	a->mode = w->mode;
	a->uid = w->uid;
	a->gid = w->gid;
	a->nlink = 1;
	a->size = w->off;
	a->parent = parent;
	a->atime = a->mtime = a->ctime = a->btime = (int64_t)ag_now_ns();
	if (w->etag_state != ETAG_NONE) {
		memcpy(a->etag, w->etag, 16);
		a->flags = AG_ATTR_ETAG;
	}
	return 0;
}

/* The MKNODE ops of dirs, ahead of the condition and the LINK. */
static int writer_dirs(struct ag_writer *w, const struct ag_txn *dirs)
{
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	int rc = ag_txn_parse(dirs->buf, dirs->len, &client, &txid, &it);

	while (!rc && (rc = ag_txn_next(&it, &op)) == 1)
		rc = op.type == AG_OP_MKNODE ? ag_txn_mknode(&w->s.txn,
							     &op.u.mknode)
					     : -EINVAL;
	return rc;
}

int ag_writer_commit(struct ag_writer *w, uint64_t parent, const char *name,
		     struct ag_attr *a)
{
	return ag_writer_commit_under(w, NULL, parent, name, a);
}

int ag_writer_commit_under(struct ag_writer *w, const struct ag_txn *dirs,
			   uint64_t parent, const char *name,
			   struct ag_attr *a)
{
	struct ag_op_link o = { .parent = parent, .name = name,
				.flags = AG_LINK_REPLACE };
	struct ag_rpc_reply r;
	int rc = w->error;

	if (!rc)
		rc = w->xattrs.error;
	if (!rc)
		rc = writer_drain(w);
	/* a commit that fails fails whole, and the stripe records and
	 * segment releases of this handle's writers ride with whichever
	 * commit seals them: under a condition, which may well fail, the
	 * data is committed first (to the orphan) and the publishing
	 * commit carries none */
	if (!rc && w->expect)
		rc = writer_checkpoint(w);
	if (rc)
		return w->error = rc;
	o.ino = w->s.ino;
	o.nlen = strnlen(name, AG_NAME_MAX + 1);
	rc = ag_txn_write_size(&w->s.txn, w->off);
	if (!rc && dirs && dirs->nops) {
		/* the element, MKNODE 0 of this transaction until a
		 * checkpoint named it, goes in the directory made last */
		rc = writer_dirs(w, dirs);
		if (!o.ino)
			o.ino = AG_TXN_MADE(0);
		o.parent = parent = 0;
	}
	if (!rc && w->expect)
		rc = writer_expect(w, parent, name, o.nlen);
	if (!rc)
		rc = ag_txn_link(&w->s.txn, &o);
	if (!rc)
		rc = writer_attrs(w, o.ino);
	if (!rc)
		rc = sink_commit(&w->s, &r);
	if (rc)
		return w->error = rc;
	if (!w->s.ino)
		w->s.ino = r.ino;
	w->error = -EALREADY; /* committed: nothing more to write */
	return a ? committed_attr(w, parent, a) : 0;
}

void ag_writer_free(struct ag_writer *w)
{
	if (!w)
		return;
	if (w->s.ino && w->error != -EALREADY && w->s.c->rpc) {
		struct ag_txn t;

		/* drop the half-written orphan now rather than at fsck */
		ag_cl_txn(w->s.c, &t);
		ag_txn_drop_orphan(&t, w->s.ino);
		ag_cl_commit(w->s.c, &t, NULL);
		ag_txn_release(&t);
	}
	sink_destroy(&w->s);
	ag_txn_release(&w->xattrs);
	EVP_MD_CTX_free(w->md5);
	free(w->buf);
	free(w);
}

/* ---- random writes ---- */

/* Extend [*start, *end) to the edges of the extents it cuts, so that the
 * rewritten range is re-chunked whole and nothing else is touched. */
static int widen(struct ag_tree *t, uint64_t ino, uint64_t *start,
		 uint64_t *end)
{
	uint64_t s = *start, e = *end;
	struct ag_extent_walk w;
	struct ag_extent x;
	int rc = ag_extent_walk_start(t, ino, *start, &w);

	if (rc)
		return rc;
	while ((rc = ag_extent_walk_next(&w, &x)) == 1 && x.off < *end) {
		s = AG_MIN(s, x.off);
		e = AG_MAX(e, x.off + x.len);
	}
	ag_extent_walk_end(&w);
	if (rc < 0)
		return rc;
	*start = s;
	*end = e;
	return 0;
}

/* Committed bytes [off, off + len) of ino as s's root has them, zeros
 * past the committed end: what a widened write fills in. */
static int sink_fill(struct sink *s, uint64_t ino, uint64_t off,
		     uint8_t *buf, size_t len)
{
	ssize_t n = len ? tree_read(s->c, s->dedup, ino, off, buf, len) : 0;

	if (n < 0)
		return (int)n;
	memset(buf + n, 0, len - n);
	return 0;
}

/* Open the WRITE of [start, end) in s's transaction; with filled (bytes
 * of the range were read in from the file as s's root has it), only if
 * that range is still as s saw it when metad applies it. */
static int sink_write_begin(struct sink *s, uint64_t ino, uint64_t start,
			    uint64_t end, uint64_t new_size, int filled)
{
	uint64_t base;
	int rc = ag_txn_write(&s->txn, ino, start, end, new_size, 0);

	if (rc || !filled)
		return rc;
	rc = ag_extent_digest(s->dedup, ino, start, end, &base);
	return rc ? rc : ag_txn_write_expect(&s->txn, base);
}

static ssize_t write_piece(struct ag_cluster *c, struct sink *s,
			   uint64_t ino, uint64_t off, const uint8_t *data,
			   size_t len)
{
	uint64_t start = off, end = off + len;
	struct ag_attr a;
	uint8_t *region;
	size_t used;
	int rc;

	rc = ag_getattr(c, ino, &a);
	if (rc)
		return rc;
	if (S_ISDIR(a.mode))
		return -EISDIR;
	if (!S_ISREG(a.mode))
		return -EINVAL;
	rc = widen(s->dedup, ino, &start, &end);
	if (rc)
		return rc;
	region = malloc(end - start);
	if (!region)
		return -ENOMEM;
	rc = sink_fill(s, ino, start, region, off - start);
	memcpy(region + (off - start), data, len);
	if (!rc)
		rc = sink_fill(s, ino, off + len, region + (off - start) + len,
			       end - off - len);
	if (!rc)
		rc = sink_write_begin(s, ino, start, end,
				      AG_MAX(a.size, off + len),
				      start < off || end > off + len);
	if (!rc)
		rc = sink_bytes(s, region, end - start, start, 1, &used);
	if (!rc)
		rc = sink_commit(s, NULL);
	free(region);
	return rc ? rc : (ssize_t)len;
}

ssize_t ag_clone_range(struct ag_cluster *c, uint64_t src, uint64_t soff,
		       uint64_t dst, uint64_t doff, uint64_t len)
{
	struct ag_op_clone o = { .src = src, .soff = soff, .dst = dst,
				 .doff = doff };
	struct ag_attr a;
	struct ag_txn t;
	int rc;

	if (!c->rpc)
		return -EROFS;
	rc = ag_getattr(c, src, &a);
	if (rc)
		return rc;
	if (!S_ISREG(a.mode))
		return S_ISDIR(a.mode) ? -EISDIR : -EINVAL;
	if (soff >= a.size || !len)
		return 0;
	o.len = AG_MIN(len, a.size - soff);
	if (doff + o.len < doff)
		return -EFBIG;
	ag_cl_txn(c, &t);
	ag_txn_clone(&t, &o);
	rc = ag_cl_commit(c, &t, NULL);
	ag_txn_release(&t);
	return rc ? rc : (ssize_t)o.len;
}

ssize_t ag_write(struct ag_cluster *c, uint64_t ino, uint64_t off,
		 const void *buf, size_t len)
{
	const uint8_t *p = buf;
	struct sink s;
	size_t done = 0;
	int rc, tries = 0;

	if (!c->rpc)
		return -EROFS;
	if (off + len < off)
		return -EFBIG;
	rc = sink_init(&s, c);
	while (!rc && done < len) {
		size_t n = AG_MIN(len - done, COMMIT_EVERY);
		ssize_t w = write_piece(c, &s, ino, off + done, p + done, n);

		/* another commit changed the bytes filled in around ours,
		 * or dropped a chunk we found: again, from the newest root */
		if (w == -ESTALE && ++tries < AG_STALE_TRIES) {
			ag_tree_close(s.dedup);
			s.dedup = NULL;
			rc = ag_cl_tree(c, &s.dedup);
			continue;
		}
		if (w < 0) {
			rc = (int)w;
		} else {
			done += w;
			tries = 0;
		}
	}
	sink_destroy(&s);
	return done ? (ssize_t)done : rc;
}

/* ---- sinks for open files (file_int.h) ---- */

struct ag_sink {
	struct sink s;
};

int ag_sink_new(struct ag_cluster *c, struct ag_sink **sp)
{
	struct ag_sink *as;
	int rc;

	if (!c->rpc)
		return -EROFS;
	as = malloc(sizeof(*as));
	if (!as)
		return -ENOMEM;
	rc = sink_init(&as->s, c);
	if (rc) {
		sink_destroy(&as->s);
		free(as);
		return rc;
	}
	*sp = as;
	return 0;
}

void ag_sink_free(struct ag_sink *as)
{
	if (!as)
		return;
	sink_destroy(&as->s);
	free(as);
}

int ag_sink_refresh(struct ag_sink *as)
{
	ag_tree_close(as->s.dedup);
	as->s.dedup = NULL;
	return ag_cl_tree(as->s.c, &as->s.dedup);
}

int ag_sink_widen(struct ag_sink *as, uint64_t ino, uint64_t *start,
		  uint64_t *end)
{
	return widen(as->s.dedup, ino, start, end);
}

int ag_sink_fill(struct ag_sink *as, uint64_t ino, uint64_t off, void *buf,
		 size_t len)
{
	return sink_fill(&as->s, ino, off, buf, len);
}

int ag_sink_begin(struct ag_sink *as, uint64_t ino, uint64_t start,
		  uint64_t end, uint64_t new_size, int filled)
{
	return sink_write_begin(&as->s, ino, start, end, new_size, filled);
}

int ag_sink_append(struct ag_sink *as, uint64_t ino, const void *buf,
		   size_t len, int eof, size_t *used)
{
	struct sink *s = &as->s;
	int rc = ag_txn_write(&s->txn, ino, 0, len, len, AG_WRITE_APPEND);

	if (!rc)
		rc = sink_bytes(s, buf, len, 0, eof, used);
	if (!rc && *used < len)
		rc = ag_txn_write_size(&s->txn, *used);
	return rc;
}

int ag_sink_size(struct ag_sink *as, uint64_t new_size)
{
	return ag_txn_write_size(&as->s.txn, new_size);
}

int ag_sink_bytes(struct ag_sink *as, const void *buf, size_t len,
		  uint64_t off, int eof, size_t *used)
{
	return sink_bytes(&as->s, buf, len, off, eof, used);
}

int ag_sink_commit(struct ag_sink *as)
{
	return sink_commit(&as->s, NULL);
}

void ag_sink_abort(struct ag_sink *as)
{
	if (as)
		sink_reset(&as->s);
}
