/*
 * read.c - the read path of element data: the extent map at one root,
 * the chunk records it names, verified stripe reads, decompression, and
 * the handle's chunk cache (chunkcache.h) in front of them.
 *
 * Contract: a read returns the bytes of one root (the newest the handle
 * knows when it starts), holes and the range past the last extent as
 * zeros, and never a byte that did not pass its chunk's crc32c (a strip
 * that fails is rebuilt, stripe.c). A delta chunk (keys.h) is decoded
 * against its reference's plain bytes, read the same way at the same
 * root (or found in the chunk cache), and checked by the delta's own
 * checksum (delta.h). A read whose root moved on under it
 * (a page or chunk reused since) runs again at the newest root
 * (AG_CL_READ, cluster.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "chunkcache.h"
#include "cluster.h"
#include "delta.h"
#include "file_int.h"
#include "format.h"
#include "keys.h"
#include "util.h"

int ag_read_chunk_rec(struct ag_tree *t, const uint8_t *sha,
		      struct ag_chunk_rec *rec)
{
	uint8_t k[AG_KEYBUF], v[AG_CHUNK_REC_MAX];
	size_t vl = sizeof(v);
	int rc = ag_tree_get(t, k, ag_key_chunk(k, sha), v, &vl);

	if (rc == -ERANGE)
		return AG_CORRUPT("chunk record");
	return rc ? rc : ag_chunk_rec_decode(v, vl, rec);
}

int ag_read_reference(struct ag_cluster *c, struct ag_tree *t,
		      const uint8_t *sha, uint8_t **out, uint32_t *len)
{
	struct ag_chunk_rec ref;
	uint8_t *plain;
	int rc = ag_read_chunk_rec(t, sha, &ref);

	if (rc == -ENOENT)
		return AG_CORRUPT("a delta names a missing reference chunk");
	if (rc)
		return rc;
	if (ref.flags & AG_CHUNK_DELTA)
		return AG_CORRUPT("a delta's reference is a delta");
	plain = malloc(ref.ulen);
	if (!plain)
		return -ENOMEM;
	if (!ag_chunk_cache_read(c->cache, sha, 0, plain, ref.ulen)) {
		free(plain);
		rc = ag_read_chunk_plain(c, t, &ref, &plain);
		if (rc)
			return rc;
		ag_chunk_cache_copy(c->cache, sha, plain, ref.ulen);
	}
	*out = plain;
	*len = ref.ulen;
	return 0;
}

int ag_read_chunk_decode(struct ag_cluster *c, struct ag_tree *t,
			     const struct ag_chunk_rec *rec,
			     const uint8_t *stored, uint8_t *plain)
{
	uint8_t *ref;
	uint32_t rlen;
	size_t n;
	int rc;

	if (rec->flags & AG_CHUNK_DELTA) {
		rc = ag_read_reference(c, t, rec->ref, &ref, &rlen);
		if (rc)
			return rc;
		rc = ag_delta_decode(NULL, ref, rlen, stored, rec->clen, plain,
				     rec->ulen);
		free(ref);
		return rc;
	}
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
static int chunk_decode(struct ag_cluster *c, struct ag_tree *t,
			const struct ag_chunk_rec *rec, const uint8_t *stored,
			uint8_t **out)
{
	uint8_t *plain = malloc(rec->ulen);
	int rc;

	if (!plain)
		return -ENOMEM;
	rc = ag_read_chunk_decode(c, t, rec, stored, plain);
	if (rc) {
		free(plain);
		return rc;
	}
	*out = plain;
	return 0;
}

int ag_read_chunk_plain(struct ag_cluster *c, struct ag_tree *t,
			const struct ag_chunk_rec *rec, uint8_t **out)
{
	uint8_t *stored = malloc(rec->clen);
	int rc;

	if (!stored)
		return -ENOMEM;
	rc = ag_stripes_read(c->stripes, rec->addr, stored, rec->clen,
			     rec->crc);
	if (!rc)
		rc = chunk_decode(c, t, rec, stored, out);
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
	ag_chunk_cache_insert(c->cache, w->e.sha, plain, w->rec.ulen);
	return 0;
}

/* Deliver w's bytes from its chunk's stored bytes, already verified.
 * An owned buffer (malloc'd) is freed or, for a raw chunk, whose stored
 * bytes are its plain ones, handed to the cache as they are. */
static int deliver_stored(struct ag_cluster *c, struct ag_tree *t,
			  const struct want *w, uint8_t *stored, int owned)
{
	uint8_t *plain;
	int rc;

	/* a whole chunk read whole (a sequential read) goes straight to
	 * the caller, and to the cache only when it is shorter than
	 * chunk_min: a whole small file or a file's tail, likely read
	 * again (small S3 GETs) */
	if (!w->e.coff && !w->from && w->len == w->rec.ulen) {
		rc = ag_read_chunk_decode(c, t, &w->rec, stored, w->dst);
		if (!rc && w->rec.ulen < c->ds->label.chunk_min)
			ag_chunk_cache_copy(c->cache, w->e.sha, w->dst,
					    w->rec.ulen);
		goto out;
	}
	if (owned && !(w->rec.flags & (AG_CHUNK_ZSTD | AG_CHUNK_DELTA)) &&
	    w->rec.clen == w->rec.ulen)
		return deliver(c, w, stored);
	rc = chunk_decode(c, t, &w->rec, stored, &plain);
	if (!rc)
		rc = deliver(c, w, plain);
out:
	if (owned)
		free(stored);
	return rc;
}

/* One chunk on its own: read (rebuilt if need be) and checked by
 * ag_stripes_read, then delivered. */
static int fetch_one(struct ag_cluster *c, struct ag_tree *t,
		     const struct want *w)
{
	uint8_t *stored = malloc(AG_MAX(w->rec.clen, 1));
	int rc;

	if (!stored)
		return -ENOMEM;
	rc = ag_stripes_read(c->stripes, w->rec.addr, stored, w->rec.clen,
			     w->rec.crc);
	if (rc) {
		free(stored);
		return rc;
	}
	return deliver_stored(c, t, w, stored, 1);
}

/* Largest payload range read in one go, and the largest hole between two
 * chunks worth reading through rather than seeking past. */
#define RUN_MAX (8u << 20)
#define GAP_MAX (256u << 10)

/* Fetch the chunks of ws[0..n) (sorted by address): neighbours on the
 * drives are read as one range, each chunk then checked on its own; a
 * chunk alone, or one that fails its check in the range, is read on its
 * own (ag_stripes_read rebuilds what does not verify). */
static int fetch_runs(struct ag_cluster *c, struct ag_tree *t, struct want *ws,
		      size_t n)
{
	uint8_t *run = NULL;
	size_t i = 0, j, run_cap = 0;
	int rc = 0;

	while (i < n && !rc) {
		uint64_t start = ws[i].rec.addr, end = start + ws[i].rec.clen;
		int whole;

		for (j = i + 1; j < n; j++) {
			uint64_t a = ws[j].rec.addr;

			if (AG_ADDR_SEG(a) != AG_ADDR_SEG(start) ||
			    a > end + GAP_MAX ||
			    AG_MAX(end, a + ws[j].rec.clen) - start > RUN_MAX)
				break;
			end = AG_MAX(end, a + ws[j].rec.clen);
		}
		if (j - i == 1) {
			rc = fetch_one(c, t, &ws[i++]);
			continue;
		}
		if (end - start > run_cap) {
			free(run);
			run_cap = end - start;
			run = malloc(run_cap);
			if (!run)
				return -ENOMEM;
		}
		whole = !ag_stripes_read_range(c->stripes, start, run,
					       end - start);
		for (; i < j && !rc; i++) {
			uint8_t *stored = run + (ws[i].rec.addr - start);

			if (whole && ag_crc32c(stored, ws[i].rec.clen) ==
					     ws[i].rec.crc)
				rc = deliver_stored(c, t, &ws[i], stored, 0);
			else
				rc = fetch_one(c, t, &ws[i]);
		}
	}
	free(run);
	return rc;
}

ssize_t ag_read_tree(struct ag_cluster *c, struct ag_tree *t, uint64_t ino,
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
		if (ag_chunk_cache_read(c->cache, w.e.sha, w.e.coff + w.from,
					w.dst, w.len))
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
		rc = ag_read_chunk_rec(t, ws[i].e.sha, &ws[i].rec);
		if (rc == -ENOENT)
			rc = AG_CORRUPT("extent names a missing chunk");
	}
	if (rc >= 0 && nw) {
		qsort(ws, nw, sizeof(*ws), by_addr);
		rc = fetch_runs(c, t, ws, nw);
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
	return AG_CL_READ(c, t, ag_read_tree(c, t, ino, off, buf, len));
}
