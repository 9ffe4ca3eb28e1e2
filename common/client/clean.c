/*
 * clean.c - the cleaner: copy the live chunks of data segments into
 * fresh erasure-coded stripes, so that the segments empty, are freed by
 * metad (refs.c: a segment whose live bytes reach 0 and that nobody
 * leases) and come back for reuse after a reuse round (space.h).
 *
 * What it removes: space of deleted chunks stays taken until a whole
 * segment empties, and small commits leave mirrored stripes (each flush
 * rounds to a block, m + 1 copies, stripe.h) for ever. The cleaner takes
 * the sealed segments holding mirrored stripes (destaging: their chunks
 * go, byte for byte, into full-width EC stripes) and, unless told to
 * destage only, the segments worth cleaning by LFS cost-benefit,
 * (1 - u) age / (1 + u) with u = live / payload. A segment's age is the
 * number of generations since it was last freed, the one age the
 * SEGMENT record gives.
 *
 * How: one survey of the SEGMENT and STRIPE records picks the victims;
 * they are cleaned in batches whose live bytes fit one segment (with
 * room for a tail and a padded stripe), each with one scan of the CHUNK records that keeps only the
 * batch's chunks (memory bounded by the batch). Each chunk is read and
 * checked against its crc (ag_stripes_read), stored again by
 * store_elsewhere in a segment the cleaner leases (CLEAN_LEASE, which
 * may take the cleaner's reserve on a full cluster) through a packer of
 * its own, and a MOVE op gives it its new address. A MOVE goes out only
 * for chunks whose stripes are whole on the drives and synced, in the
 * transaction that records those stripes: the open stripe is flushed,
 * and so perhaps mirrored, only when the lease ends or the run does.
 *
 * Similarity (delta.h): a chunk never through the similarity stage is
 * put through it as it moves: a delta against a chunk the SIMILAR index
 * names for one of its super-features, when that saves enough
 * (ag_delta_keep_room), or else stored as it was and indexed, so that
 * later versions find it. A chunk kept whole is compressed again from
 * its plain bytes at AG_DELTA_COLD_LEVEL, and that frame stored when it
 * is smaller (the write path's level is for speed; a chunk leaving the
 * write buffer is cold), and deltas are made at that level too. The
 * MOVE entry says which (txn.h), and metad takes the delta only while
 * its reference is still stored whole. With
 * reduce set (agora reduce), the chunks never through the stage are the
 * only ones moved, from every sealed segment.
 *
 * Contract: safe beside writers, readers and other cleaners. A MOVE
 * entry applies only while the chunk is still where it was read (txn.h),
 * so a delete or a competing cleaner simply wins and the copy is
 * garbage in the cleaner's segment. A reader that looked up the old
 * address and reads after the old segment was reused gets a crc failure
 * and runs again at a newer root (read.c, AG_CL_READ). A cleaner killed
 * at any moment loses nothing committed: its lease lapses and the
 * segment's uncommitted copies go with it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "delta.h"
#include "file_int.h"
#include "format.h"
#include "geometry.h"
#include "keys.h"
#include "util.h"

#define BATCH_MAX_VICTIMS 64
/* MOVE entries of one transaction at most. */
#define MOVE_MAX 4096
/* A lease refused for want of space is asked again this often, while
 * the segments the cleaner emptied wait for their reuse round. */
#define LEASE_TRIES 30
#define LEASE_WAIT_US 500000
#define DEFAULT_MAX_UTIL 0.8

/* One data segment as the survey found it. */
struct seg_info {
	uint32_t seg;
	uint8_t data, sealed;
	uint64_t live, mirrored, free_gen;
	double score;
	int destage;
};

struct survey {
	struct seg_info *segs; /* indexed by segment */
	uint64_t free, mirrored, stored, raw;
};

struct live_chunk {
	uint8_t sha[32];
	struct ag_chunk_rec rec;
};

/* The super-features this run indexed (AG_MOVE_INDEX entries), which the
 * tree shows only once their MOVE commits: without them the versions of
 * a file reduced in one run would all be indexed and none made a delta.
 * A delta against one of them is committed with or after it (pend is
 * committed in order), and metad refuses the delta if it was not. */
struct run_index {
	uint64_t *sf;      /* 0: an empty slot */
	uint8_t (*sha)[32];
	size_t n, cap;
};

struct cleaner {
	struct ag_cluster *c;
	const struct ag_clean_opts *o;
	struct ag_clean_report *r;
	const struct ag_label *l;
	uint64_t payload, spay;
	struct ag_packer *p;
	int leased;
	uint32_t seg;                /* the leased segment */
	uint64_t end;                /* past the last chunk packed in it */
	struct ag_move_ent *pend;    /* copies not yet committed, in order */
	size_t npend;
	uint8_t *in_batch;           /* per segment: a victim of the batch */
	uint8_t *ours;               /* per segment: leased by this run */
	struct live_chunk *chunks;   /* the batch's live chunks */
	size_t nchunks, cap_chunks;
	uint8_t *buf;
	size_t buf_cap;
	struct ag_delta_ctx *dctx;   /* the similarity stage's */
	uint8_t *plain, *dbuf;       /* a chunk's plain bytes, its delta */
	uint8_t *zbuf;               /* its cold frame */
	size_t plain_cap, dbuf_cap, zbuf_cap;
	struct run_index idx;        /* what this run indexed so far */
	struct ag_pace pace;
	uint64_t total, start_ns, shown_ns;
};

static void say(struct cleaner *cl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct cleaner *cl, const char *fmt, ...)
{
	va_list ap;

	if (!cl->o->out || !cl->o->verbose)
		return;
	if (cl->o->progress)
		fprintf(stderr, "\r%*s\r", 60, "");
	va_start(ap, fmt);
	vfprintf(cl->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', cl->o->out);
}

static void progress(struct cleaner *cl)
{
	uint64_t now = ag_mono_ns();

	if (!cl->o->progress || now - cl->shown_ns < 100000000ull)
		return;
	fprintf(stderr, "\rclean: %llu of %llu MiB (%.0f%%), %llu chunks  ",
		(unsigned long long)(cl->r->bytes >> 20),
		(unsigned long long)(cl->total >> 20),
		cl->total ? 100.0 * (double)cl->r->bytes / (double)cl->total :
			    100.0,
		(unsigned long long)cl->r->chunks);
	cl->shown_ns = now;
}

/* ---- the survey ---- */

static int survey_tree(struct cleaner *cl, struct ag_tree *t,
		       struct survey *sv)
{
	uint8_t k[AG_KEYBUF], v[AG_STATS_REC_LEN];
	uint32_t nseg = cl->l->nsegments, seg, stripe, busy = 0;
	struct ag_stats_rec st;
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl, vl = sizeof(v);
	int rc;

	memset(sv->segs, 0, nseg * sizeof(*sv->segs));
	sv->mirrored = sv->stored = sv->raw = 0;
	if (!ag_tree_get(t, k, ag_key_stats(k), v, &vl) &&
	    !ag_stats_rec_decode(v, vl, &st))
		sv->stored = st.stored;
	rc = ag_tree_seek(t, k, ag_key_segment(k, 0), &cur);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		struct ag_seg_rec r;

		if (ag_key_segment_decode(ck, ckl, &seg))
			break;
		if (seg >= nseg || ag_seg_rec_decode(cv, cvl, &r))
			continue; /* fsck reports it */
		busy += r.state != AG_SEG_FREE;
		if (r.state != AG_SEG_DATA)
			continue;
		sv->segs[seg].data = 1;
		sv->segs[seg].sealed = !r.owner;
		sv->segs[seg].live = r.live;
		sv->segs[seg].free_gen = r.free_gen;
	}
	ag_cursor_free(cur);
	if (rc < 0)
		return rc;
	sv->free = nseg - busy;
	rc = ag_tree_seek(t, k, ag_key_stripe(k, 0, 0), &cur);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		if (ag_key_type(ck, ckl) != AG_K_STRIPE)
			break;
		if (ag_key_stripe_decode(ck, ckl, &seg, &stripe) ||
		    seg >= nseg)
			continue; /* fsck reports it */
		if (cvl != 4) {
			sv->raw += (uint64_t)(cl->l->ec_k + cl->l->ec_m) *
				   cl->l->strip_size;
			continue;
		}
		sv->segs[seg].mirrored += get_le32(cv);
		sv->mirrored += get_le32(cv);
		sv->raw += (uint64_t)get_le32(cv) * (cl->l->ec_m + 1);
	}
	ag_cursor_free(cur);
	return rc < 0 ? rc : 0;
}

static int survey(struct cleaner *cl, struct survey *sv)
{
	struct ag_tree *t;
	int rc = ag_cluster_refresh(cl->c);

	if (rc)
		return rc;
	return (int)AG_CL_READ(cl->c, t, survey_tree(cl, t, sv));
}

/* Destaging first (by mirrored bytes), then by cost-benefit. */
static int by_worth(const void *a, const void *b)
{
	const struct seg_info *x = a, *y = b;

	if (x->destage != y->destage)
		return y->destage - x->destage;
	return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

/* The victims, best first, in *out (malloc'd) and *n. */
static int pick_victims(struct cleaner *cl, const struct survey *sv,
			struct seg_info **out, size_t *n)
{
	double max_util = cl->o->max_util > 0 ? cl->o->max_util :
						DEFAULT_MAX_UTIL;
	uint64_t gen = ag_cluster_generation(cl->c);
	struct seg_info *v = malloc(cl->l->nsegments * sizeof(*v));
	uint32_t s;

	if (!v)
		return -ENOMEM;
	*n = 0;
	for (s = 0; s < cl->l->nsegments; s++) {
		struct seg_info x = sv->segs[s];
		double u = (double)x.live / (double)cl->payload;

		if (!x.data || !x.sealed || !x.live)
			continue;
		x.seg = s;
		x.destage = !cl->o->reduce && x.mirrored > 0;
		if (cl->o->reduce)
			x.score = (double)x.live;
		else if (x.destage)
			x.score = (double)x.mirrored;
		else if (cl->o->destage_only || u > max_util)
			continue;
		else
			x.score = (1 - u) * (double)(gen - AG_MIN(gen, x.free_gen)
						     + 1) / (1 + u);
		v[(*n)++] = x;
	}
	qsort(v, *n, sizeof(*v), by_worth);
	*out = v;
	return 0;
}

/* Whether the --watch thresholds call for a cleaning now. */
static int needed(struct cleaner *cl, const struct survey *sv)
{
	const struct ag_clean_opts *o = cl->o;

	if (!o->free_pct && !o->mirrored_pct)
		return 1;
	if (o->free_pct && sv->free * 100 < (uint64_t)o->free_pct *
						    cl->l->nsegments)
		return 1;
	return o->mirrored_pct && sv->mirrored * 100 >
					  (uint64_t)o->mirrored_pct *
						  AG_MAX(sv->stored, 1);
}

/* ---- the copies and their MOVE ---- */

static int lease(struct cleaner *cl)
{
	struct ag_rpc_reply rep;
	struct ag_txn t;
	int tries, rc;

	for (tries = 0;; tries++) {
		ag_cl_txn(cl->c, &t);
		ag_txn_clean_lease(&t);
		rc = ag_cl_commit(cl->c, &t, &rep);
		ag_txn_release(&t);
		/* each try is a commit, which carries the reuse round that
		 * gives back the segments emptied so far */
		if (rc != -ENOSPC || tries == LEASE_TRIES)
			break;
		if (!tries)
			say(cl, "waiting for emptied segments to come back");
		usleep(LEASE_WAIT_US);
	}
	if (rc)
		return rc;
	ag_packer_start(cl->p, rep.seg, rep.fill);
	cl->ours[rep.seg] = 1;
	cl->leased = 1;
	cl->seg = rep.seg;
	cl->end = rep.fill;
	return 0;
}

/* The copies of pend[0..n) now point where they were copied, or a
 * delete or another cleaner came first: count those. */
static void count_lost(struct cleaner *cl, size_t n)
{
	struct ag_chunk_rec rec;
	struct ag_tree *t;
	size_t i;

	if (ag_cl_tree(cl->c, &t))
		return;
	for (i = 0; i < n; i++)
		if (ag_read_chunk_rec(t, cl->pend[i].sha, &rec) ||
		    rec.addr != cl->pend[i].new_addr)
			cl->r->lost++;
	ag_tree_close(t);
}

/* The bytes the copy of a MOVE entry takes. */
static uint64_t copy_len(const struct ag_move_ent *e)
{
	return e->flags & (AG_MOVE_DELTA | AG_MOVE_ZSTD) ? e->new_clen :
							    e->clen;
}

static int grow(uint8_t **buf, size_t *cap, size_t len)
{
	uint8_t *nb;

	if (len <= *cap)
		return 0;
	nb = realloc(*buf, len);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = len;
	return 0;
}

/* Commit the copies whose stripes are whole on the drives, with the
 * records of those stripes; with finish, flush the open stripe first
 * (every copy goes) and hand the lease back in the same transaction. */
static int commit_copies(struct cleaner *cl, int finish)
{
	struct ag_stripe_done *done = NULL;
	uint64_t upto;
	struct ag_txn t;
	size_t n = 0;
	int nd = 0, rc = 0;

	if (!cl->leased)
		return 0;
	if (finish)
		rc = ag_packer_flush(cl->p);
	if (!rc)
		rc = ag_packer_take(cl->p, &done, &nd);
	if (rc)
		goto out;
	/* a chunk ending on a stripe boundary filled that stripe, which
	 * take has written */
	upto = finish ? UINT64_MAX : cl->end / cl->spay * cl->spay;
	while (n < cl->npend &&
	       AG_ADDR_IDX(cl->pend[n].new_addr) + copy_len(&cl->pend[n]) <=
		       upto)
		n++;
	if (!nd && !n && !finish)
		goto out;
	/* data before the metadata that points at it */
	rc = ag_drives_sync(cl->c->ds, NULL);
	if (rc)
		goto out;
	ag_cl_txn(cl->c, &t);
	ag_cl_txn_stripes(cl->c, &t, done, nd);
	if (n)
		ag_txn_move(&t, cl->pend, (uint32_t)n);
	if (finish)
		ag_txn_seg_release(&t, cl->seg, ag_packer_fill(cl->p));
	rc = t.error ? t.error : ag_cl_commit(cl->c, &t, NULL);
	ag_txn_release(&t);
	if (rc)
		goto out;
	count_lost(cl, n);
	memmove(cl->pend, cl->pend + n, (cl->npend - n) * sizeof(*cl->pend));
	cl->npend -= n;
	if (finish) {
		ag_packer_stop(cl->p);
		cl->leased = 0;
	}
out:
	free(done);
	return rc;
}

static int run_index_put(struct run_index *x, uint64_t sf,
			 const uint8_t *sha);

/* The slot of sf in x: its own, or the empty one it would take. */
static size_t run_index_slot(const struct run_index *x, uint64_t sf)
{
	size_t i = (size_t)((sf * 0x9e3779b97f4a7c15ull) % x->cap);

	while (x->sf[i] && x->sf[i] != sf)
		i = (i + 1) % x->cap;
	return i;
}

/* The chunk this run indexed under sf, or NULL. */
static const uint8_t *run_index_get(const struct run_index *x, uint64_t sf)
{
	size_t i;

	if (!x->cap || !sf)
		return NULL;
	i = run_index_slot(x, sf);
	return x->sf[i] ? x->sha[i] : NULL;
}

static int run_index_grow(struct run_index *x)
{
	struct run_index nx = { .cap = x->cap ? 2 * x->cap : 4096 };
	size_t i;

	nx.sf = calloc(nx.cap, sizeof(*nx.sf));
	nx.sha = malloc(nx.cap * sizeof(*nx.sha));
	if (!nx.sf || !nx.sha) {
		free(nx.sf);
		free(nx.sha);
		return -ENOMEM;
	}
	for (i = 0; i < x->cap; i++)
		if (x->sf[i])
			run_index_put(&nx, x->sf[i], x->sha[i]);
	free(x->sf);
	free(x->sha);
	*x = nx;
	return 0;
}

static int run_index_put(struct run_index *x, uint64_t sf,
			 const uint8_t *sha)
{
	size_t i;
	int rc;

	if (!sf)
		return 0;
	if ((x->n + 1) * 2 > x->cap) {
		rc = run_index_grow(x);
		if (rc)
			return rc;
	}
	i = run_index_slot(x, sf);
	x->n += !x->sf[i];
	x->sf[i] = sf;
	memcpy(x->sha[i], sha, 32);
	return 0;
}

/* Try the chunk this run (cl->idx) or else the SIMILAR index names for
 * super-feature sf as the reference of lc's plain bytes (cl->plain),
 * which take whole bytes stored whole: 1 with the delta in
 * cl->dbuf and e, 0 when there is none worth keeping (an index entry
 * gone stale, a reference tried already, one that changed or cannot be
 * read all leave the chunk whole), or -errno. */
static int try_reference(struct cleaner *cl, struct ag_tree *t,
			 const struct live_chunk *lc, uint64_t sf,
			 size_t whole, uint8_t tried[][32], int *ntried,
			 struct ag_move_ent *e)
{
	uint8_t k[AG_KEYBUF], v[AG_SIMILAR_LEN], ref[32], *rp;
	size_t vl = sizeof(v), dlen;
	const uint8_t *mine = run_index_get(&cl->idx, sf);
	struct ag_chunk_rec rr;
	uint32_t rlen;
	int i, rc;

	/* this run's index first: it is the newer */
	if (mine)
		memcpy(ref, mine, 32);
	else if (ag_tree_get(t, k, ag_key_similar(k, sf), v, &vl) ||
		 ag_similar_decode(v, vl, ref))
		return 0;
	if (!memcmp(ref, lc->sha, 32))
		return 0;
	for (i = 0; i < *ntried; i++)
		if (!memcmp(tried[i], ref, 32))
			return 0;
	memcpy(tried[(*ntried)++], ref, 32);
	/* one of this run's is marked only when its MOVE commits */
	if (ag_read_chunk_rec(t, ref, &rr) || rr.flags & AG_CHUNK_DELTA ||
	    (!mine && !(rr.flags & AG_CHUNK_REDUCED)) ||
	    ag_read_reference(cl->c, t, ref, &rp, &rlen))
		return 0;
	rc = ag_delta_encode(cl->dctx, rp, rlen, cl->plain, lc->rec.ulen,
			     AG_DELTA_COLD_LEVEL, cl->dbuf,
			     ag_delta_keep_room(whole), &dlen);
	free(rp);
	if (rc == -ENOSPC)
		return 0;
	if (rc)
		return rc;
	e->flags = AG_MOVE_DELTA;
	e->new_clen = (uint32_t)dlen;
	e->new_crc = ag_crc32c(cl->dbuf, dlen);
	memcpy(e->ref, ref, 32);
	memset(e->sf, 0, sizeof(e->sf));
	return 1;
}

/* The similarity stage for lc, whose stored bytes are at stored: fills
 * e's flags and what goes with them (txn.h, MOVE). */
static int similarity(struct cleaner *cl, const struct live_chunk *lc,
		      const uint8_t *stored, struct ag_move_ent *e)
{
	uint8_t tried[AG_DELTA_SF][32];
	struct ag_delta_sf sf;
	struct ag_tree *t;
	size_t zlen = 0;
	int i, ntried = 0, rc;

	_Static_assert(AG_DELTA_SF == AG_MOVE_SF, "a MOVE indexes them all");
	rc = grow(&cl->plain, &cl->plain_cap, lc->rec.ulen);
	if (!rc)
		rc = grow(&cl->dbuf, &cl->dbuf_cap, lc->rec.clen);
	if (!rc)
		rc = grow(&cl->zbuf, &cl->zbuf_cap, lc->rec.clen);
	if (!rc && !cl->dctx)
		rc = ag_delta_ctx_new(&cl->dctx);
	if (!rc)
		rc = ag_cl_tree_read(cl->c, &t);
	if (rc)
		return rc;
	/* bytes that passed their crc but do not decode: fsck says so;
	 * the chunk moves as it is */
	if (ag_read_chunk_decode(cl->c, t, &lc->rec, stored, cl->plain))
		goto out;
	e->flags = AG_MOVE_INDEX;
	/* the cold frame, kept only when smaller than the present bytes */
	rc = lc->rec.clen > 1 ?
		     ag_delta_compress(cl->dctx, cl->plain, lc->rec.ulen,
				       AG_DELTA_COLD_LEVEL, cl->zbuf,
				       lc->rec.clen - 1, &zlen) :
		     -ENOSPC;
	if (rc && rc != -ENOSPC)
		goto out;
	rc = 0;
	/* too short to have features: through the stage, nothing to index */
	if (ag_delta_features(cl->plain, lc->rec.ulen, &sf))
		goto whole;
	memcpy(e->sf, sf.sf, sizeof(e->sf));
	for (i = 0; !rc && i < AG_DELTA_SF; i++)
		rc = try_reference(cl, t, lc, sf.sf[i],
				   zlen ? zlen : lc->rec.clen, tried, &ntried,
				   e);
	for (i = 0; !rc && i < AG_DELTA_SF; i++) /* stored whole: indexed */
		rc = run_index_put(&cl->idx, sf.sf[i], lc->sha);
	rc = rc < 0 ? rc : 0;
whole:
	if (!rc && zlen && !(e->flags & AG_MOVE_DELTA)) {
		e->flags |= AG_MOVE_ZSTD;
		e->new_clen = (uint32_t)zlen;
		e->new_crc = ag_crc32c(cl->zbuf, zlen);
	}
out:
	ag_cl_tree_done(t);
	return rc;
}

/* Store one live chunk somewhere new: put it through the similarity
 * stage if it never was, append what comes of it to the cleaner's
 * packer, in its leased segment (a new lease when the chunk does not
 * fit), and note the MOVE it needs. The one place that decides how a
 * relocated chunk is stored. */
static int store_elsewhere(struct cleaner *cl, const struct live_chunk *lc,
			   const uint8_t *stored)
{
	struct ag_move_ent e = { .old_addr = lc->rec.addr,
				 .clen = lc->rec.clen, .crc = lc->rec.crc };
	uint64_t addr, len;
	int rc;

	memcpy(e.sha, lc->sha, 32);
	if (!(lc->rec.flags & (AG_CHUNK_DELTA | AG_CHUNK_REDUCED))) {
		rc = similarity(cl, lc, stored, &e);
		if (rc)
			return rc;
	}
	len = copy_len(&e);
	if (e.flags & AG_MOVE_DELTA) {
		stored = cl->dbuf;
		cl->r->deltas++;
		cl->r->saved += e.clen - len;
	} else if (e.flags & AG_MOVE_ZSTD) {
		stored = cl->zbuf;
		cl->r->recompressed++;
		cl->r->recompress_saved += e.clen - len;
	}
	if (cl->leased && ag_packer_room(cl->p) < len) {
		rc = commit_copies(cl, 1);
		if (rc)
			return rc;
	}
	if (!cl->leased) {
		rc = lease(cl);
		if (rc)
			return rc;
	}
	rc = ag_packer_add(cl->p, stored, (uint32_t)len, &addr);
	if (rc)
		return rc;
	e.new_addr = addr;
	cl->pend[cl->npend++] = e;
	cl->end = AG_ADDR_IDX(addr) + len;
	cl->r->chunks++;
	cl->r->bytes += len;
	rc = ag_packer_kick(cl->p);
	if (!rc && cl->npend == MOVE_MAX)
		rc = commit_copies(cl, 0);
	/* the pending list never outgrows MOVE_MAX: what is left is in the
	 * open stripe, far fewer */
	if (!rc && cl->npend == MOVE_MAX)
		rc = commit_copies(cl, 1);
	return rc;
}

/* Read one chunk where the survey's root has it, checked, and store it
 * anew. A chunk whose bytes are no longer there (moved by another
 * cleaner and its segment reused) is left to whoever moved it. */
static int relocate(struct cleaner *cl, const struct live_chunk *lc)
{
	int rc;

	rc = grow(&cl->buf, &cl->buf_cap, lc->rec.clen);
	if (rc)
		return rc;
	rc = ag_stripes_read(cl->c->stripes, lc->rec.addr, cl->buf,
			     lc->rec.clen, lc->rec.crc);
	if (rc == -AG_ECORRUPT) {
		cl->r->lost++;
		return 0;
	}
	if (rc) {
		AG_WARN("clean: chunk at %llx cannot be read: %s; it stays",
			(unsigned long long)lc->rec.addr, ag_strerror(rc));
		cl->r->unreadable++;
		return 0;
	}
	ag_pace_wait(&cl->pace, lc->rec.clen);
	rc = store_elsewhere(cl, lc, cl->buf);
	progress(cl);
	return rc;
}

/* ---- batches ---- */

static int collect_tree(struct cleaner *cl, struct ag_tree *t)
{
	uint8_t k[AG_KEYBUF], zero[32] = { 0 };
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc;

	cl->nchunks = 0;
	rc = ag_tree_seek(t, k, ag_key_chunk(k, zero), &cur);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		struct live_chunk lc;
		uint32_t seg;

		if (ag_key_chunk_decode(ck, ckl, lc.sha))
			break;
		if (ag_chunk_rec_decode(cv, cvl, &lc.rec))
			continue; /* fsck reports it */
		seg = AG_ADDR_SEG(lc.rec.addr);
		if (seg >= cl->l->nsegments || !cl->in_batch[seg] ||
		    !lc.rec.clen)
			continue;
		if (cl->o->reduce &&
		    lc.rec.flags & (AG_CHUNK_DELTA | AG_CHUNK_REDUCED))
			continue;
		if (cl->nchunks == cl->cap_chunks) {
			size_t cap = cl->cap_chunks ? 2 * cl->cap_chunks : 1024;
			struct live_chunk *nc = realloc(cl->chunks,
							cap * sizeof(*nc));

			if (!nc) {
				rc = -ENOMEM;
				break;
			}
			cl->chunks = nc;
			cl->cap_chunks = cap;
		}
		cl->chunks[cl->nchunks++] = lc;
	}
	ag_cursor_free(cur);
	return rc < 0 ? rc : 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct live_chunk *x = a, *y = b;

	return x->rec.addr < y->rec.addr ? -1 : x->rec.addr > y->rec.addr;
}

static int clean_batch(struct cleaner *cl, const struct seg_info *v,
		       size_t n)
{
	struct ag_tree *t;
	size_t i;
	int rc;

	memset(cl->in_batch, 0, cl->l->nsegments);
	/* a victim emptied by an earlier batch may hold our copies now */
	for (i = 0; i < n; i++)
		cl->in_batch[v[i].seg] = !cl->ours[v[i].seg];
	rc = (int)AG_CL_READ(cl->c, t, collect_tree(cl, t));
	if (rc)
		return rc;
	/* read in drive order (a victim may hold no chunk of its own) */
	if (cl->nchunks)
		qsort(cl->chunks, cl->nchunks, sizeof(*cl->chunks), by_addr);
	say(cl, "batch of %zu segment%s (first %u): %zu live chunks", n,
	    n > 1 ? "s" : "", v[0].seg, cl->nchunks);
	for (i = 0; !rc && i < cl->nchunks; i++)
		rc = relocate(cl, &cl->chunks[i]);
	return rc ? rc : commit_copies(cl, 0);
}

static int clean_victims(struct cleaner *cl, const struct seg_info *v,
			 size_t n)
{
	size_t i = 0, j;
	int rc = 0;

	/* a batch's copies fit in one segment of the cleaner's, even with
	 * the tail a chunk that does not fit leaves and a padded stripe:
	 * on a full cluster one segment of the cleaner's reserve (space.h)
	 * is all there is until the batch's victims come back */
	uint64_t most = cl->payload > 2ull * (cl->l->chunk_max + cl->spay)
				? cl->payload - cl->l->chunk_max - cl->spay
				: cl->payload / 2;

	while (!rc && i < n) {
		uint64_t live = v[i].live;

		for (j = i + 1; j < n && j - i < BATCH_MAX_VICTIMS &&
				live + v[j].live <= most;
		     j++)
			live += v[j].live;
		rc = clean_batch(cl, v + i, j - i);
		i = j;
	}
	if (!rc)
		rc = commit_copies(cl, 1);
	return rc;
}

int ag_clean(struct ag_cluster *c, const struct ag_clean_opts *o,
	     struct ag_clean_report *r)
{
	struct cleaner cl = { .c = c, .o = o, .r = r, .l = &c->ds->label };
	struct survey sv = { 0 };
	struct seg_info *v = NULL;
	size_t n = 0, i;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!c->rpc)
		return -EROFS;
	cl.start_ns = ag_mono_ns();
	cl.payload = ag_segment_payload(cl.l);
	cl.spay = (uint64_t)cl.l->ec_k * cl.l->strip_size;
	ag_pace_start(&cl.pace, o->rate_mb);
	sv.segs = calloc(cl.l->nsegments, sizeof(*sv.segs));
	cl.in_batch = calloc(cl.l->nsegments, 1);
	cl.ours = calloc(cl.l->nsegments, 1);
	cl.pend = malloc(MOVE_MAX * sizeof(*cl.pend));
	rc = sv.segs && cl.in_batch && cl.ours && cl.pend ? 0 : -ENOMEM;
	if (!rc)
		rc = ag_packer_new(c->stripes, &cl.p);
	if (!rc)
		rc = survey(&cl, &sv);
	if (rc)
		goto out;
	r->free_before = r->free_after = sv.free;
	r->mirrored_before = r->mirrored_after = sv.mirrored;
	r->raw_before = r->raw_after = sv.raw;
	r->stored = sv.stored;
	if (!needed(&cl, &sv)) {
		r->skipped = 1;
		goto out;
	}
	rc = pick_victims(&cl, &sv, &v, &n);
	if (rc)
		goto out;
	r->victims = n;
	for (i = 0; i < n; i++)
		cl.total += v[i].live;
	rc = clean_victims(&cl, v, n);
	if (o->progress)
		fprintf(stderr, "\r%*s\r", 60, "");
	/* what came of it, also after a failure part way */
	if (!survey(&cl, &sv)) {
		r->free_after = sv.free;
		r->mirrored_after = sv.mirrored;
		r->raw_after = sv.raw;
		r->stored = sv.stored;
		/* one of ours was emptied before we took it */
		for (i = 0; i < n; i++)
			r->freed += !sv.segs[v[i].seg].data ||
				    !sv.segs[v[i].seg].live ||
				    cl.ours[v[i].seg];
	}
out:
	if (cl.p && cl.leased)
		ag_packer_stop(cl.p); /* a failure: the lease lapses */
	r->seconds = (double)(ag_mono_ns() - cl.start_ns) / 1e9;
	ag_packer_free(cl.p);
	free(v);
	free(sv.segs);
	free(cl.in_batch);
	free(cl.ours);
	free(cl.pend);
	free(cl.chunks);
	free(cl.buf);
	free(cl.plain);
	free(cl.dbuf);
	free(cl.zbuf);
	ag_delta_ctx_free(cl.dctx);
	free(cl.idx.sf);
	free(cl.idx.sha);
	return rc;
}
