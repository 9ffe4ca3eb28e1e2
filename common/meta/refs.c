/*
 * refs.c - the second half of metad's engine (apply_int.h): the data of
 * elements and what it costs. Writes and clones of extents, the chunk
 * records they reference, the live bytes and fill of data segments, their
 * leases, releases and stripe records.
 *
 * Invariants kept by every op (with apply.c's):
 *   - a chunk record's refs is the number of extents that name it and
 *     of deltas made against it (keys.h), and a chunk goes with its last
 *     reference; a delta that goes drops its reference's;
 *   - a data segment's live bytes are the sum of its chunks' stored
 *     lengths, and its fill lies past every chunk in it, so a later
 *     lease never writes over committed data;
 *   - a new chunk is recorded only in a segment its writer leases, and
 *     a chunk moves (MOVE) only into a segment its mover leases.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apply_int.h"
#include "btree.h"
#include "drive.h"
#include "format.h"
#include "geometry.h"
#include "keys.h"
#include "meta_int.h"
#include "space.h"
#include "txn.h"
#include "util.h"

/* ---- data segments ---- */

static int seg_get(struct tx *tx, uint32_t seg, struct ag_seg_rec *r)
{
	uint8_t k[AG_KEYBUF], v[AG_SEG_REC_LEN];
	size_t vl = sizeof(v);
	int rc = ag_tx_get(tx, k, ag_key_segment(k, seg), v, &vl);

	if (rc == -ENOENT) {
		memset(r, 0, sizeof(*r));
		return 0;
	}
	return rc ? rc : ag_seg_rec_decode(v, vl, r);
}

/* Forget the strip checksums of a segment whose data is all gone: the
 * next lessee writes other stripes there. */
static int drop_stripes(struct tx *tx, uint32_t seg)
{
	uint8_t k[AG_KEYBUF];
	uint32_t *stripes = NULL, s, stripe;
	struct ag_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl, n = 0, cap = 0, i;
	int rc;

	rc = ag_tree_seek(tx->m->tree, k, ag_key_stripe(k, seg, 0), &c);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		if (ag_key_stripe_decode(ck, ckl, &s, &stripe) || s != seg)
			break;
		if (n == cap) {
			void *ns;

			cap = cap ? 2 * cap : 64;
			ns = realloc(stripes, cap * sizeof(*stripes));
			if (!ns) {
				rc = -ENOMEM;
				break;
			}
			stripes = ns;
		}
		stripes[n++] = stripe;
	}
	ag_cursor_free(c);
	for (i = 0; rc >= 0 && i < n; i++)
		rc = ag_tx_del(tx, k, ag_key_stripe(k, seg, stripes[i]));
	free(stripes);
	return rc < 0 ? rc : 0;
}

int ag_tx_seg_put(struct tx *tx, uint32_t seg, const struct ag_seg_rec *r)
{
	struct ag_space *sp = &tx->m->space;
	uint8_t k[AG_KEYBUF], v[AG_SEG_REC_LEN];
	int rc;

	if (r->state == AG_SEG_FREE && sp->state[seg] == AG_SEG_DATA) {
		rc = drop_stripes(tx, seg);
		if (rc)
			return rc;
	}
	ag_seg_rec_encode(v, r);
	rc = ag_tx_put(tx, k, ag_key_segment(k, seg), v, sizeof(v));
	if (rc)
		return rc;
	/* the in-memory mirror follows the tree; a rolled back transaction
	 * can leave it ahead, which only makes a segment look busier */
	sp->state[seg] = r->state;
	sp->recorded[seg] = 1;
	sp->owner[seg] = r->owner;
	sp->fill[seg] = r->fill;
	sp->reusable[seg] = 0; /* freed space waits for a reuse round */
	if (r->state == AG_SEG_FREE)
		sp->free_gen[seg] = r->free_gen;
	return 0;
}

/* ---- chunks and extents ---- */

static int chunk_get(struct tx *tx, const uint8_t *sha, struct ag_chunk_rec *c)
{
	uint8_t k[AG_KEYBUF], v[AG_CHUNK_REC_MAX];
	size_t vl = sizeof(v);
	int rc = ag_tx_get(tx, k, ag_key_chunk(k, sha), v, &vl);

	return rc ? rc : ag_chunk_rec_decode(v, vl, c);
}

static int chunk_put(struct tx *tx, const uint8_t *sha,
		     const struct ag_chunk_rec *c)
{
	uint8_t k[AG_KEYBUF], v[AG_CHUNK_REC_MAX];
	size_t vl = ag_chunk_rec_encode(v, c);

	return ag_tx_put(tx, k, ag_key_chunk(k, sha), v, vl);
}

/* Account delta live bytes to a data segment; a new chunk ending at
 * payload offset end also moves the segment's fill past its stripe, so
 * a later lease of the segment never writes over committed data. */
static int seg_add_live(struct tx *tx, uint32_t seg, int64_t delta,
			uint64_t end)
{
	const struct ag_label *l = &tx->m->ds->label;
	uint64_t spay = (uint64_t)l->ec_k * l->strip_size;
	struct ag_seg_rec r;
	int rc = seg_get(tx, seg, &r);

	if (rc)
		return rc;
	if (r.state != AG_SEG_DATA)
		return AG_CORRUPT("chunk in segment %u which holds no data",
				  seg);
	r.live += delta;
	end = (end + spay - 1) / spay * spay;
	if (end > r.fill)
		r.fill = end;
	if (!r.live && !r.owner) {
		r.state = AG_SEG_FREE;
		r.fill = 0;
		r.free_gen = tx->m->rec.gen + 1;
	}
	return ag_tx_seg_put(tx, seg, &r);
}

static int chunk_ref(struct tx *tx, const uint8_t *sha, int delta)
{
	struct ag_chunk_rec c;
	uint8_t k[AG_KEYBUF];
	int rc = chunk_get(tx, sha, &c);

	if (rc == -ENOENT)
		return delta > 0 ? -ESTALE : AG_CORRUPT("extent names a "
							"missing chunk");
	if (rc)
		return rc;
	if (delta < 0 && !c.refs)
		return AG_CORRUPT("chunk reference count below zero");
	c.refs += delta;
	if (c.refs)
		return chunk_put(tx, sha, &c);
	rc = ag_tx_del(tx, k, ag_key_chunk(k, sha));
	if (rc)
		return rc;
	tx->stats.chunks--;
	tx->stats.unique -= c.ulen;
	tx->stats.stored -= c.clen;
	rc = seg_add_live(tx, AG_ADDR_SEG(c.addr), -(int64_t)c.clen, 0);
	/* the delta held one reference on its reference chunk; that one is
	 * no delta (depth 1), so this goes no deeper */
	if (!rc && c.flags & AG_CHUNK_DELTA)
		rc = chunk_ref(tx, c.ref, -1);
	return rc;
}

static int extent_put(struct tx *tx, uint64_t ino, const struct ag_extent *e)
{
	uint8_t k[AG_KEYBUF], v[AG_EXTENT_LEN];

	return ag_tx_put(tx, k, ag_key_extent(k, ino, e->off), v,
			 ag_extent_encode(v, e));
}

/* The extents of ino that overlap [start, end), in order. */
static int extents_overlapping(struct tx *tx, uint64_t ino, uint64_t start,
			       uint64_t end, struct ag_extent **out, size_t *n)
{
	struct ag_extent *arr = NULL, e;
	size_t cnt = 0, cap = 0;
	struct ag_extent_walk w;
	int rc = ag_extent_walk_start(tx->m->tree, ino, start, &w);

	if (rc)
		return rc;
	while ((rc = ag_extent_walk_next(&w, &e)) == 1 && e.off < end) {
		if (cnt == cap) {
			struct ag_extent *na;

			cap = cap ? 2 * cap : 16;
			na = realloc(arr, cap * sizeof(*na));
			if (!na) {
				rc = -ENOMEM;
				break;
			}
			arr = na;
		}
		arr[cnt++] = e;
	}
	ag_extent_walk_end(&w);
	if (rc < 0) {
		free(arr);
		return rc;
	}
	*out = arr;
	*n = cnt;
	return 0;
}

/* Remove file bytes [start, end) of ino from its extent map: extents
 * inside go (dropping their chunk reference), extents across an edge are
 * trimmed or split (a split adds a reference). */
int ag_tx_punch(struct tx *tx, uint64_t ino, uint64_t start, uint64_t end)
{
	uint8_t k[AG_KEYBUF];
	struct ag_extent *arr;
	size_t n, i;
	int rc;

	if (start >= end)
		return 0;
	rc = extents_overlapping(tx, ino, start, end, &arr, &n);
	if (rc)
		return rc;
	for (i = 0; i < n && !rc; i++) {
		struct ag_extent e = arr[i];
		uint64_t e_end = e.off + e.len;

		if (e.off < start) {
			struct ag_extent head = e;

			head.len = start - e.off;
			rc = extent_put(tx, ino, &head);
			tx->stats.logical -= AG_MIN(e_end, end) - start;
			if (!rc && e_end > end) {
				struct ag_extent tail = e;

				tail.off = end;
				tail.coff = e.coff + (end - e.off);
				tail.len = e_end - end;
				rc = extent_put(tx, ino, &tail);
				if (!rc)
					rc = chunk_ref(tx, e.sha, 1);
			}
			continue;
		}
		rc = ag_tx_del(tx, k, ag_key_extent(k, ino, e.off));
		if (rc)
			break;
		if (e_end > end) {
			struct ag_extent tail = e;

			tail.off = end;
			tail.coff = e.coff + (end - e.off);
			tail.len = e_end - end;
			rc = extent_put(tx, ino, &tail);
			tx->stats.logical -= end - e.off;
		} else {
			rc = chunk_ref(tx, e.sha, -1);
			tx->stats.logical -= e.len;
		}
	}
	free(arr);
	return rc;
}

/* ---- ops ---- */

/* Take one reference on the chunk a new extent names, recording the
 * chunk first when the client stored it. Done for every new extent
 * before the old ones are punched: a rewrite that deduplicates against
 * the very chunk it replaces must not see that chunk freed (its count
 * reaching 0) in between. */
static int take_chunk(struct tx *tx, const struct ag_write_ext *w)
{
	struct ag_space *sp = &tx->m->space;
	struct ag_chunk_rec c;
	int rc = chunk_get(tx, w->sha, &c);

	if (rc && rc != -ENOENT)
		return rc;
	if (rc == -ENOENT) {
		uint32_t seg = AG_ADDR_SEG(w->addr);

		if (!w->has_loc)
			return -ESTALE; /* deleted since the client looked */
		if (seg >= sp->nseg || sp->state[seg] != AG_SEG_DATA ||
		    sp->owner[seg] != tx->client || !w->clen ||
		    w->ulen > AG_CHUNK_LIMIT || !w->ulen)
			return -ESTALE;
		/* a write names no reference: a delta is made only where
		 * its reference is recorded with it */
		if (w->cflags & AG_CHUNK_DELTA)
			return -EINVAL;
		c.addr = w->addr;
		c.clen = w->clen;
		c.ulen = w->ulen;
		c.crc = w->crc;
		c.flags = w->cflags;
		c.refs = 0;
		rc = seg_add_live(tx, seg, c.clen,
				  (uint64_t)AG_ADDR_IDX(c.addr) + c.clen);
		if (rc)
			return rc;
		tx->stats.chunks++;
		tx->stats.unique += c.ulen;
		tx->stats.stored += c.clen;
	}
	if (!w->len || w->len > c.ulen)
		return -EINVAL;
	c.refs++;
	return chunk_put(tx, w->sha, &c);
}

/* The extent itself; its chunk reference was taken by take_chunk. */
static int add_extent(struct tx *tx, uint64_t ino, const struct ag_write_ext *w)
{
	struct ag_extent e;

	e.off = w->off;
	e.len = w->len;
	e.coff = 0;
	memcpy(e.sha, w->sha, 32);
	tx->stats.logical += w->len;
	return extent_put(tx, ino, &e);
}

/* An append's offsets count from the file's size now: move them there
 * (AG_WRITE_APPEND), so that the op reads as a plain write. */
static int place_append(const struct ag_attr *in, struct ag_op_write *o,
			uint64_t *shift)
{
	*shift = 0;
	if (!(o->flags & AG_WRITE_APPEND))
		return 0;
	if (o->flags & (AG_WRITE_EXPECT | AG_WRITE_TRUNCATE) || o->start)
		return -EINVAL;
	*shift = in->size;
	if (in->size + o->end < in->size || in->size + o->new_size < in->size)
		return -EFBIG;
	o->end += in->size;
	o->start = in->size;
	o->new_size += in->size;
	return 0;
}

int ag_tx_write(struct tx *tx, const struct ag_op_write *op)
{
	struct ag_op_write o_placed = *op, *o = &o_placed;
	struct ag_write_ext w;
	struct ag_attr in;
	uint64_t prev_end, shift;
	uint32_t i;
	int rc = ag_tx_inode_get(tx, o->ino, &in);

	if (rc)
		return rc;
	if (S_ISDIR(in.mode))
		return -EISDIR;
	if (!S_ISREG(in.mode))
		return -EINVAL;
	rc = place_append(&in, o, &shift);
	if (rc)
		return rc;
	if (o->start > o->end)
		return -EINVAL;
	prev_end = o->start;
	for (i = 0; i < o->next; i++) {
		ag_write_ext_get(o, i, &w);
		w.off += shift;
		if (w.off < prev_end || w.off + w.len > o->end ||
		    w.off + w.len < w.off)
			return -EINVAL;
		prev_end = w.off + w.len;
	}
	if (o->flags & AG_WRITE_EXPECT) {
		uint64_t now;

		rc = ag_extent_digest(tx->m->tree, in.ino, o->start, o->end,
				      &now);
		if (!rc && now != o->base)
			rc = -ESTALE; /* bytes it filled in have changed */
	}
	for (i = 0; !rc && i < o->next; i++) {
		ag_write_ext_get(o, i, &w);
		rc = take_chunk(tx, &w);
	}
	if (!rc)
		rc = ag_tx_punch(tx, in.ino, o->start, o->end);
	for (i = 0; !rc && i < o->next; i++) {
		ag_write_ext_get(o, i, &w);
		w.off += shift;
		rc = add_extent(tx, in.ino, &w);
	}
	if (rc)
		return rc;
	if (o->flags & AG_WRITE_TRUNCATE) {
		if (o->new_size < in.size)
			rc = ag_tx_punch(tx, in.ino, o->new_size, UINT64_MAX);
		in.size = o->new_size;
	} else if (o->new_size > in.size) {
		in.size = o->new_size;
	}
	in.mtime = in.ctime = tx->now;
	in.flags &= ~AG_INODE_ETAG;
	return rc ? rc : ag_tx_inode_put(tx, &in);
}

/* The source's extents are read before the destination is punched, so
 * a file may clone a range of itself to a range that does not overlap. */
int ag_tx_clone(struct tx *tx, const struct ag_op_clone *o)
{
	struct ag_attr src, dst;
	struct ag_extent *arr = NULL;
	uint64_t len = o->len, send;
	size_t n = 0, i;
	int rc = ag_tx_inode_get(tx, o->src, &src);

	if (!rc)
		rc = ag_tx_inode_get(tx, o->dst, &dst);
	if (rc)
		return rc;
	if (S_ISDIR(src.mode) || S_ISDIR(dst.mode))
		return -EISDIR;
	if (!S_ISREG(src.mode) || !S_ISREG(dst.mode))
		return -EINVAL;
	if (o->soff >= src.size)
		return 0;
	len = AG_MIN(len, src.size - o->soff);
	send = o->soff + len;
	if (o->doff + len < o->doff)
		return -EFBIG;
	if (src.ino == dst.ino && o->soff < o->doff + len &&
	    o->doff < send)
		return -EINVAL;
	rc = extents_overlapping(tx, src.ino, o->soff, send, &arr, &n);
	if (!rc)
		rc = ag_tx_punch(tx, dst.ino, o->doff, o->doff + len);
	for (i = 0; i < n && !rc; i++) {
		struct ag_extent e = arr[i];
		uint64_t from = AG_MAX(e.off, o->soff);
		uint64_t to = AG_MIN(e.off + e.len, send);

		e.coff += (uint32_t)(from - e.off);
		e.len = (uint32_t)(to - from);
		e.off = o->doff + (from - o->soff);
		rc = chunk_ref(tx, e.sha, 1);
		if (!rc)
			rc = extent_put(tx, dst.ino, &e);
		tx->stats.logical += e.len;
	}
	free(arr);
	if (rc)
		return rc;
	dst.size = AG_MAX(dst.size, o->doff + len);
	dst.mtime = dst.ctime = tx->now;
	dst.flags &= ~AG_INODE_ETAG;
	return ag_tx_inode_put(tx, &dst);
}

/* A mirrored stripe records its length: whole blocks, within the
 * payload its groups hold (stripe.h). */
static int mirrored_len_ok(const struct ag_label *l, uint32_t len)
{
	return len && !(len % AG_BLOCK) && len <= ag_mirror_payload(l);
}

int ag_tx_stripe(struct tx *tx, const struct ag_op_stripe *o)
{
	struct ag_space *sp = &tx->m->space;
	uint8_t k[AG_KEYBUF];

	const struct ag_label *l = &tx->m->ds->label;
	uint64_t end = ((uint64_t)o->stripe + 1) * l->ec_k * l->strip_size;
	struct ag_seg_rec r;
	int rc;

	if (o->seg >= sp->nseg || sp->owner[o->seg] != tx->client ||
	    end > ag_segment_payload(l))
		return -ESTALE;
	if (o->n == 1 ? !mirrored_len_ok(l, get_le32(o->crcs))
		      : o->n != l->ec_k + l->ec_m)
		return -EINVAL;
	rc = ag_tx_put(tx, k, ag_key_stripe(k, o->seg, o->stripe), o->crcs,
		  4 * o->n);
	if (rc)
		return rc;
	/* a recorded stripe is never written over by a later lessee */
	rc = seg_get(tx, o->seg, &r);
	if (rc || r.fill >= end)
		return rc;
	r.fill = end;
	return ag_tx_seg_put(tx, o->seg, &r);
}

/* A chunk's new address must lie in a data segment the client leases,
 * as a new chunk's must (take_chunk): a segment it does not hold may be
 * another writer's, or freed and handed out again. */
static int leased_by_client(struct tx *tx, uint64_t addr)
{
	struct ag_space *sp = &tx->m->space;
	uint32_t seg = AG_ADDR_SEG(addr);

	return seg < sp->nseg && sp->state[seg] == AG_SEG_DATA &&
	       sp->owner[seg] == tx->client;
}

/* Whether a MOVE entry's delta may be applied: the chunk was never
 * through the similarity stage, so no delta names it (depth 1), and its
 * reference is recorded, is not the chunk, is stored whole and went
 * through the stage (so it never becomes a delta; its own MOVE may come
 * earlier in the same transaction). The reference then holds one more
 * count, the delta's. */
static int move_delta_ok(struct tx *tx, const struct ag_move_ent *e,
			 const struct ag_chunk_rec *c)
{
	struct ag_chunk_rec r;
	int rc;

	if (c->flags & (AG_CHUNK_DELTA | AG_CHUNK_REDUCED) ||
	    !memcmp(e->ref, e->sha, 32))
		return 0;
	rc = chunk_get(tx, e->ref, &r);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	/* only an indexed chunk is a reference: the mark is what keeps it
	 * from becoming a delta itself later */
	if (r.flags & AG_CHUNK_DELTA || !(r.flags & AG_CHUNK_REDUCED))
		return 0;
	rc = chunk_ref(tx, e->ref, 1);
	return rc ? rc : 1;
}

/* Index chunk sha under its non-zero super-features (keys.h, SIMILAR). */
static int similar_put(struct tx *tx, const uint8_t *sha, const uint64_t *sf)
{
	uint8_t k[AG_KEYBUF], v[AG_SIMILAR_LEN];
	int i, rc = 0;

	for (i = 0; !rc && i < AG_MOVE_SF; i++)
		if (sf[i])
			rc = ag_tx_put(tx, k, ag_key_similar(k, sf[i]), v,
				       ag_similar_encode(v, sha));
	return rc;
}

/* Apply one MOVE entry. A chunk gone, or no longer where the mover read
 * it (a concurrent delete, another cleaner), is left alone: the copy is
 * garbage that goes with its segment, as is a delta that may not be
 * made (move_delta_ok). Otherwise the record points at the copy and the
 * live bytes follow it, so that the old segment is freed by
 * seg_add_live's rule once its last chunk leaves. */
static int move_chunk(struct tx *tx, const struct ag_move_ent *e)
{
	const struct ag_label *l = &tx->m->ds->label;
	int delta = !!(e->flags & AG_MOVE_DELTA);
	int rebytes = !!(e->flags & (AG_MOVE_DELTA | AG_MOVE_ZSTD));
	uint32_t new_clen = rebytes ? e->new_clen : e->clen;
	struct ag_chunk_rec c;
	uint64_t old_addr;
	int rc;

	if (!leased_by_client(tx, e->new_addr) || !e->clen || !new_clen ||
	    AG_ADDR_IDX(e->new_addr) + (uint64_t)new_clen >
		    ag_segment_payload(l))
		return -ESTALE;
	if (e->flags & ~(AG_MOVE_DELTA | AG_MOVE_INDEX | AG_MOVE_ZSTD) ||
	    (delta && e->flags & (AG_MOVE_INDEX | AG_MOVE_ZSTD)))
		return -EINVAL;
	rc = chunk_get(tx, e->sha, &c);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (c.addr != e->old_addr || c.clen != e->clen || c.crc != e->crc ||
	    e->new_addr == e->old_addr)
		return 0;
	if (delta) {
		rc = move_delta_ok(tx, e, &c);
		if (rc <= 0)
			return rc;
		c.flags = (c.flags & ~AG_CHUNK_ZSTD) | AG_CHUNK_DELTA;
		memcpy(c.ref, e->ref, 32);
	} else if (e->flags & AG_MOVE_INDEX) {
		rc = similar_put(tx, e->sha, e->sf);
		if (rc)
			return rc;
	}
	if (e->flags & AG_MOVE_ZSTD)
		c.flags |= AG_CHUNK_ZSTD;
	if (rebytes) {
		c.crc = e->new_crc;
		tx->stats.stored -= c.clen;
		tx->stats.stored += new_clen;
		c.clen = new_clen;
	}
	if (e->flags)
		c.flags |= AG_CHUNK_REDUCED;
	old_addr = c.addr;
	c.addr = e->new_addr;
	rc = chunk_put(tx, e->sha, &c);
	/* the new segment first: it is leased, so never freed here */
	if (!rc)
		rc = seg_add_live(tx, AG_ADDR_SEG(e->new_addr), new_clen,
				  (uint64_t)AG_ADDR_IDX(e->new_addr) + new_clen);
	if (!rc)
		rc = seg_add_live(tx, AG_ADDR_SEG(old_addr), -(int64_t)e->clen,
				  0);
	return rc;
}

int ag_tx_move(struct tx *tx, const struct ag_op_move *o)
{
	struct ag_move_ent e;
	uint32_t i;
	int rc = 0;

	for (i = 0; !rc && i < o->n; i++) {
		ag_move_ent_get(o, i, &e);
		rc = move_chunk(tx, &e);
	}
	return rc;
}

/* Lease seg to the client: tx->seg and tx->fill tell it where to pack. */
static int lease_to_client(struct tx *tx, uint32_t seg,
			   struct ag_seg_rec *r)
{
	int rc;

	r->owner = tx->client;
	rc = ag_tx_seg_put(tx, seg, r);
	if (!rc) {
		tx->seg = seg;
		tx->fill = r->fill;
	}
	return rc;
}

int ag_tx_clean_lease(struct tx *tx)
{
	struct ag_seg_rec r = { .state = AG_SEG_DATA };
	uint32_t seg;
	/* a fresh segment, never a sealed one with room: that may be the
	 * very segment being cleaned; the cleaner's reserve may go, and
	 * all but AG_CLEAN_META_KEEP of the metadata's (space.h), or all of
	 * it while the metadata segments have room of their own */
	struct ag_space *sp = &tx->m->space;
	uint32_t keep = ag_space_roomy_meta(sp) != AG_SEG_NONE
				? 0 : AG_CLEAN_META_KEEP;
	int rc = ag_space_find_free_beyond(sp, keep, &seg);

	return rc ? rc : lease_to_client(tx, seg, &r);
}

int ag_tx_seg_lease(struct tx *tx)
{
	const struct ag_label *l = &tx->m->ds->label;
	struct ag_seg_rec r = { .state = AG_SEG_DATA };
	uint32_t seg;
	int rc;

	/* fill what others sealed before taking a fresh segment */
	rc = ag_space_find_sealed(&tx->m->space, ag_segment_payload(l),
				  (uint64_t)l->ec_k * l->strip_size, &seg);
	if (!rc) {
		rc = seg_get(tx, seg, &r);
		if (rc)
			return rc;
	} else {
		/* the last free segments are kept for metadata (without them
		 * not even a delete could commit on a full cluster) and, above
		 * those, for the cleaner (which gives a full cluster room) */
		rc = ag_space_find_free_beyond(&tx->m->space, AG_META_RESERVE +
					       ag_space_clean_reserve(
						       &tx->m->space), &seg);
		if (rc)
			return rc;
	}
	return lease_to_client(tx, seg, &r);
}

int ag_tx_seal_segment(struct tx *tx, uint32_t seg, uint64_t fill)
{
	struct ag_seg_rec r;
	int rc = seg_get(tx, seg, &r);

	if (rc)
		return rc;
	r.owner = 0;
	if (fill > r.fill)
		r.fill = fill;
	if (!r.live) {
		r.state = AG_SEG_FREE;
		r.fill = 0;
		r.free_gen = tx->m->rec.gen + 1;
	}
	return ag_tx_seg_put(tx, seg, &r);
}

int ag_tx_seg_release(struct tx *tx, const struct ag_op_seg *o)
{
	struct ag_space *sp = &tx->m->space;

	if (o->seg >= sp->nseg || sp->state[o->seg] != AG_SEG_DATA ||
	    sp->owner[o->seg] != tx->client)
		return -ESTALE;
	return ag_tx_seal_segment(tx, o->seg, o->fill);
}
