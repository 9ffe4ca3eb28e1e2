/*
 * sink.c - the write sink under every writer of element data (file_int.h):
 * content-defined chunks, SHA-256, dedup within the stream and through
 * the tree, zstd, packing into the handle's erasure-coded stripes, and
 * the WRITE ops of one transaction, committed through metad.
 *
 * A chunk is stored once cluster-wide: its SHA-256 names it in the tree,
 * and an extent is a view (offset, length) into a chunk, so overwrites
 * and truncates never rewrite a chunk. A sink sees the tree at the root
 * of its last commit or refresh (dedup, widen, fill); a commit whose
 * filled-in bytes or deduplicated chunks changed since then fails with
 * -ESTALE, and its writer starts again from a refresh.
 *
 * A sink belongs to one thread at a time (the caller serialises); the
 * packer it shares with the handle's other sinks is under pack_lock.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "chunkcache.h"
#include "cluster.h"
#include "file_int.h"
#include "format.h"
#include "keys.h"
#include "util.h"

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

int ag_sink_init(struct ag_sink *s, struct ag_cluster *c)
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

static void sink_not_packing(struct ag_sink *s)
{
	if (!s->packing)
		return;
	pthread_mutex_lock(&s->c->pack_lock);
	s->c->inflight--;
	pthread_mutex_unlock(&s->c->pack_lock);
	s->packing = 0;
}

void ag_sink_destroy(struct ag_sink *s)
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

static int local_find(struct ag_sink *s, const uint8_t *sha, int insert)
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
static void prepare_all(struct ag_sink *s, size_t n)
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
static int store_cut(struct ag_sink *s, const struct cut *c)
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
		rc = ag_read_chunk_rec(s->dedup, e.sha, &rec);
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
		ag_chunk_cache_copy(s->c->cache, e.sha, c->data, c->n);
	rc = local_find(s, e.sha, 1);
	return rc < 0 ? rc : ag_txn_write_ext(&s->txn, &e);
}

/* Room for the cuts of len bytes and their compressed forms. */
static int sink_reserve(struct ag_sink *s, size_t len)
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

int ag_sink_bytes(struct ag_sink *s, const void *data, size_t len,
		  uint64_t off, int eof, size_t *used)
{
	const uint8_t *buf = data;
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
static void sink_reset(struct ag_sink *s)
{
	sink_not_packing(s);
	ag_txn_reset(&s->txn, s->c->client_id, 0);
	s->nlocal = 0;
	if (s->local)
		memset(s->local, 0, s->local_cap * sizeof(*s->local));
	s->uncommitted = 0;
}

int ag_sink_commit(struct ag_sink *s, struct ag_rpc_reply *r)
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

int ag_sink_fill(struct ag_sink *s, uint64_t ino, uint64_t off, void *data,
		 size_t len)
{
	uint8_t *buf = data;
	ssize_t n = len ? ag_read_tree(s->c, s->dedup, ino, off, buf, len) : 0;

	if (n < 0)
		return (int)n;
	memset(buf + n, 0, len - n);
	return 0;
}

int ag_sink_begin(struct ag_sink *s, uint64_t ino, uint64_t start,
		  uint64_t end, uint64_t new_size, int filled)
{
	uint64_t base;
	int rc = ag_txn_write(&s->txn, ino, start, end, new_size, 0);

	if (rc || !filled)
		return rc;
	rc = ag_extent_digest(s->dedup, ino, start, end, &base);
	return rc ? rc : ag_txn_write_expect(&s->txn, base);
}

/* ---- a sink on the heap, for open files ---- */

int ag_sink_new(struct ag_cluster *c, struct ag_sink **sp)
{
	struct ag_sink *s;
	int rc;

	if (!c->rpc)
		return -EROFS;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = ag_sink_init(s, c);
	if (rc) {
		ag_sink_destroy(s);
		free(s);
		return rc;
	}
	*sp = s;
	return 0;
}

void ag_sink_free(struct ag_sink *s)
{
	if (!s)
		return;
	ag_sink_destroy(s);
	free(s);
}

int ag_sink_again(struct ag_cluster *c, int rc)
{
	if (rc == -ESTALE)
		return 1;
	return rc == -AG_ESTALEROOT && !ag_cluster_refresh(c);
}

int ag_sink_refresh(struct ag_sink *s)
{
	ag_tree_close(s->dedup);
	s->dedup = NULL;
	return ag_cl_tree(s->c, &s->dedup);
}

int ag_sink_widen(struct ag_sink *s, uint64_t ino, uint64_t *start,
		  uint64_t *end)
{
	return widen(s->dedup, ino, start, end);
}

int ag_sink_append(struct ag_sink *s, uint64_t ino, const void *buf,
		   size_t len, int eof, size_t *used)
{
	int rc = ag_txn_write(&s->txn, ino, 0, len, len, AG_WRITE_APPEND);

	if (!rc)
		rc = ag_sink_bytes(s, buf, len, 0, eof, used);
	if (!rc && *used < len)
		rc = ag_txn_write_size(&s->txn, *used);
	return rc;
}

int ag_sink_size(struct ag_sink *s, uint64_t new_size)
{
	return ag_txn_write_size(&s->txn, new_size);
}

void ag_sink_abort(struct ag_sink *s)
{
	if (s)
		sink_reset(s);
}
