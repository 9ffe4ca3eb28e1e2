/*
 * usage.c - what a cluster stores and what that costs on the drives: the
 * reduction figures (logical, after dedup, after similarity, after
 * compression), the metadata, the physical footprint with and without
 * redundancy, the garbage waiting for the cleaner and the share of data
 * still in the write buffer (mirrored stripes).
 *
 * Contract: every figure comes from one tree, the newest root when the
 * read began (ag_usage.generation), and counts live things only: pages
 * reachable from that root, chunks it records. It reads the tree whole
 * (every page once, the CHUNK, STRIPE and SEGMENT records), so it costs
 * about a tenth of an fsck without data reads; ag_cluster_status stays
 * the cheap call for statfs. It changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "format.h"
#include "geometry.h"
#include "keys.h"
#include "util.h"

struct usage_scan {
	struct ag_cluster *c;
	const struct ag_label *l;
	struct ag_usage *u;
	uint32_t stripes_per_seg;
	uint8_t *mirrored; /* bit per (segment, stripe): a mirrored stripe */
};

static int count_page(uint64_t addr, int level, void *arg)
{
	struct usage_scan *s = arg;

	(void)addr;
	if (level >= 0)
		s->u->meta_pages++;
	return 0;
}

static uint64_t stripe_bit(const struct usage_scan *s, uint32_t seg,
			   uint32_t stripe)
{
	return (uint64_t)seg * s->stripes_per_seg + stripe;
}

static int is_mirrored(const struct usage_scan *s, uint32_t seg,
		       uint32_t stripe)
{
	uint64_t b = stripe_bit(s, seg, stripe);

	return stripe < s->stripes_per_seg && s->mirrored[b >> 3] >> (b & 7) & 1;
}

/* Mark the mirrored stripes: their STRIPE record is the 4-byte count of
 * bytes written (stripe.h), an erasure-coded one's the k + m strip crcs. */
static int note_mirrored(struct usage_scan *s, struct ag_tree *t)
{
	uint8_t k[AG_KEYBUF];
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc;

	rc = ag_tree_seek(t, k, ag_key_stripe(k, 0, 0), &cur);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		uint32_t seg, stripe;
		uint64_t b;

		if (ag_key_stripe_decode(ck, ckl, &seg, &stripe))
			break;
		if (cvl != 4 || seg >= s->l->nsegments ||
		    stripe >= s->stripes_per_seg)
			continue; /* fsck reports malformed records */
		b = stripe_bit(s, seg, stripe);
		s->mirrored[b >> 3] |= 1u << (b & 7);
	}
	ag_cursor_free(cur);
	return rc < 0 ? rc : 0;
}

/* What a chunk weighs after similarity reduction: its plain bytes, or
 * for a delta what it stores (the delta is compressed as it is made, so
 * similarity and compression are one step for it). */
static uint64_t after_similarity(const struct ag_chunk_rec *r)
{
	return r->flags & AG_CHUNK_DELTA ? r->clen : r->ulen;
}

/* Split a chunk's stored bytes between erasure-coded and mirrored
 * stripes: chunks are packed byte by byte and may cross stripes. */
static void count_chunk(struct usage_scan *s, const struct ag_chunk_rec *r)
{
	uint64_t stripe_payload = (uint64_t)s->l->ec_k * s->l->strip_size;
	uint32_t seg = AG_ADDR_SEG(r->addr);
	uint64_t off = AG_ADDR_IDX(r->addr), end = off + r->clen;
	struct ag_usage *u = s->u;

	u->chunks++;
	u->unique_bytes += r->ulen;
	u->similar_bytes += after_similarity(r);
	u->delta_chunks += !!(r->flags & AG_CHUNK_DELTA);
	u->stored_bytes += r->clen;
	while (off < end) {
		uint64_t t = off / stripe_payload;
		uint64_t piece = AG_MIN(end, (t + 1) * stripe_payload) - off;

		if (t < UINT32_MAX && is_mirrored(s, seg, (uint32_t)t))
			u->data_mirrored_bytes += piece;
		else
			u->data_ec_bytes += piece;
		off += piece;
	}
}

static int scan_chunks(struct usage_scan *s, struct ag_tree *t)
{
	static const uint8_t first[32];
	uint8_t k[AG_KEYBUF];
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc;

	rc = ag_tree_seek(t, k, ag_key_chunk(k, first), &cur);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		struct ag_chunk_rec r;
		uint8_t sha[32];

		if (ag_key_chunk_decode(ck, ckl, sha))
			break;
		if (ag_chunk_rec_decode(cv, cvl, &r) ||
		    AG_ADDR_SEG(r.addr) >= s->l->nsegments)
			continue; /* fsck reports malformed records */
		count_chunk(s, &r);
	}
	ag_cursor_free(cur);
	return rc < 0 ? rc : 0;
}

/* Garbage: what sealed data segments handed out and no live chunk holds
 * (dead chunks, and the padding of stripes flushed before they filled).
 * A leased segment's fill still moves, so it counts only once sealed. */
static int scan_segments(struct usage_scan *s, struct ag_tree *t)
{
	uint8_t k[AG_KEYBUF];
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc;

	rc = ag_tree_seek(t, k, ag_key_segment(k, 0), &cur);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		struct ag_seg_rec r;
		uint32_t seg;

		if (ag_key_segment_decode(ck, ckl, &seg))
			break;
		if (ag_seg_rec_decode(cv, cvl, &r))
			continue;
		if (r.state == AG_SEG_DATA && !r.owner && r.fill > r.live)
			s->u->garbage_bytes += r.fill - r.live;
	}
	ag_cursor_free(cur);
	return rc < 0 ? rc : 0;
}

static int logical_bytes(struct ag_tree *t, uint64_t *logical)
{
	uint8_t k[AG_KEYBUF], v[AG_STATS_REC_LEN];
	size_t vl = sizeof(v);
	struct ag_stats_rec st;
	int rc;

	rc = ag_tree_get(t, k, ag_key_stats(k), v, &vl);
	if (rc == -ENOENT)
		return 0; /* nothing stored yet */
	if (!rc)
		rc = ag_stats_rec_decode(v, vl, &st);
	if (!rc)
		*logical = st.logical;
	return rc;
}

/* One read of tree t into s->u, from zero: it may run again at a newer
 * root (AG_CL_READ). */
static int scan_tree(struct usage_scan *s, struct ag_tree *t)
{
	const struct ag_label *l = s->l;
	struct ag_usage *u = s->u;
	uint64_t mirror_copies = (uint64_t)l->ec_m + 1;
	int rc;

	memset(u, 0, sizeof(*u));
	memset(s->mirrored, 0,
	       ((uint64_t)l->nsegments * s->stripes_per_seg + 7) / 8);
	u->generation = ag_cluster_generation(s->c);
	rc = ag_tree_walk(t, count_page, s);
	if (!rc)
		rc = logical_bytes(t, &u->logical_bytes);
	if (!rc)
		rc = note_mirrored(s, t);
	if (!rc)
		rc = scan_chunks(s, t);
	if (!rc)
		rc = scan_segments(s, t);
	if (rc)
		return rc;
	u->meta_bytes = u->meta_pages * l->page_size;
	u->meta_copies = AG_PAGE_COPIES;
	u->meta_copies_bytes = u->meta_bytes * AG_PAGE_COPIES;
	u->physical_bytes = u->stored_bytes + u->meta_bytes;
	/* (k + m) / k of the EC bytes, rounded up */
	u->protected_bytes = (u->data_ec_bytes * (l->ec_k + l->ec_m) +
			      l->ec_k - 1) / l->ec_k +
			     u->data_mirrored_bytes * mirror_copies +
			     u->meta_copies_bytes;
	return 0;
}

int ag_cluster_usage(struct ag_cluster *c, struct ag_usage *u)
{
	struct usage_scan s = { .c = c, .l = &c->ds->label, .u = u };
	struct ag_tree *t;
	ssize_t rc;

	memset(u, 0, sizeof(*u));
	if (!s.l->ec_k || !s.l->strip_size)
		return -EINVAL;
	s.stripes_per_seg = ag_segment_stripes(s.l);
	s.mirrored = calloc(((uint64_t)s.l->nsegments * s.stripes_per_seg +
			     7) / 8 + 1, 1);
	if (!s.mirrored)
		return -ENOMEM;
	rc = ag_cluster_refresh(c);
	if (!rc)
		rc = AG_CL_READ(c, t, scan_tree(&s, t));
	free(s.mirrored);
	return (int)rc;
}
