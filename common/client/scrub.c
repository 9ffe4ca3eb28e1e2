/*
 * scrub.c - read every stored copy of everything live, verify it, and
 * (when asked) rewrite the bad or missing copies from the redundancy
 * that survives.
 *
 * Three kinds are read: the mirrors of every page reachable from the
 * newest root, every copy of every commit record in the rings, and every
 * strip of every recorded erasure-coded stripe (and every copy of the
 * mirrored ones). Each is checked as fsck checks it: a page by its CRC,
 * address and generation, a record by its CRC, a strip by the crc32c its
 * stripe record keeps, a mirrored block against the other copies.
 *
 * It runs beside agora-metad and the gateways, so what it read may change
 * before it writes: a repair is made only after the place is read again
 * and still holds damage of the same thing (the same page address and
 * generation, the same record generation, the same stripe record); what
 * changed meanwhile is counted as skipped, not repaired. The recheck and
 * the write are not locked against agora-metad: the guarantee is the
 * narrowing, not an exclusion (agora(8) says so).
 *
 * A blank ring slot is damage too where the newest record of that slot
 * was written (its lane): zeros over a record look like a slot never
 * used. Erasure-coded stripes are read in batches, each drive's rows of
 * a batch in one request and all drives at once, and the strips rebuilt
 * for one drive are written back in runs: a scrub reads at the drives'
 * sequential rate, and a rebuild (rebuild.c, a scrub narrowed to one
 * drive, scrub.h) writes its drive in large requests.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "commit.h"
#include "ec.h"
#include "format.h"
#include "geometry.h"
#include "keys.h"
#include "page.h"
#include "pool.h"
#include "scrub.h"
#include "util.h"

/* A stripe record as the walk found it. */
struct stripe_ref {
	uint32_t seg, stripe;
	uint32_t vlen;
	uint8_t val[4 * AG_EC_MAX];
};

struct scrub {
	struct ag_cluster *c;
	const struct ag_scrub_opts *o;
	struct ag_scrub_report *r;
	uint64_t *pages;
	size_t npages, cap_pages;
	struct stripe_ref *stripes;
	size_t nstripes, cap_stripes;
	uint64_t total, done; /* bytes to read, bytes read */
	struct timespec start, shown;
	struct ag_pace pace;  /* --rate */
	struct ag_ec *ec;
	const struct ag_scrub_focus *f; /* NULL: everything */
	uint64_t drives;      /* the drives whose copies are read */
	uint64_t refreshed_ns; /* when the newest root was last read */
};

/* How old the newest root may be when a repair checks a stripe record
 * against it: reading it costs a read of every drive's ring, which a
 * rebuild paid for each of its stripes. A stripe is reused only after
 * its segment was freed, leased and written again, which takes longer. */
#define REFRESH_NS 20000000ull

/* Whether any of the w slots from first (of a segment) lie on a drive
 * this run reads. */
static int touches(const struct scrub *s, uint64_t first, uint32_t w)
{
	uint32_t i;

	for (i = 0; i < w; i++)
		if (s->drives >> ag_slot_drive(&s->c->ds->label, first + i) & 1)
			return 1;
	return 0;
}

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	       (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Count bytes read, show the progress line at most ten times a second,
 * and hold the pace to --rate. */
static void advance(struct scrub *s, uint64_t bytes)
{
	double t;

	s->done += bytes;
	s->r->bytes += bytes;
	ag_pace_wait(&s->pace, bytes);
	t = since(&s->start);
	if (s->o->progress && since(&s->shown) >= 0.1) {
		double pct = s->total ? 100.0 * (double)s->done /
						(double)s->total : 100.0;
		double eta = s->done && t > 0 ?
			     t * (double)(s->total - AG_MIN(s->done, s->total)) /
				     (double)s->done : 0;

		fprintf(stderr, "\r%s: %llu of %llu MiB (%.0f%%), ETA %.0f s  ",
			s->f && s->f->what ? s->f->what : "scrub",
			(unsigned long long)(s->done >> 20),
			(unsigned long long)(s->total >> 20), pct, eta);
		clock_gettime(CLOCK_MONOTONIC, &s->shown);
	}
}

static void say(struct scrub *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct scrub *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->o->out || !s->o->verbose)
		return;
	if (s->o->progress)
		fprintf(stderr, "\r%*s\r", 60, "");
	va_start(ap, fmt);
	vfprintf(s->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', s->o->out);
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *np;

	if (n < *cap)
		return 0;
	np = realloc(*p, (*cap ? 2 * *cap : 1024) * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = *cap ? 2 * *cap : 1024;
	return 0;
}

/* ---- what there is to read ---- */

static int note_page(uint64_t addr, int level, void *arg)
{
	struct scrub *s = arg;

	if (!addr)
		return 0; /* not flushed yet: nothing on the drives */
	/* the page slot is the index's low 16 bits (format.h) */
	if (!touches(s, (addr & 0xffff) * AG_PAGE_COPIES, AG_PAGE_COPIES))
		return 0;
	if (level < 0) {
		/* no mirror could be read: nothing to repair it from */
		s->r->pages.checked += AG_PAGE_COPIES;
		s->r->pages.bad += AG_PAGE_COPIES;
		s->r->pages.unrepairable += AG_PAGE_COPIES;
		say(s, "page %#llx: no mirror can be read",
		    (unsigned long long)addr);
		return 0;
	}
	if (grow((void **)&s->pages, &s->cap_pages, s->npages,
		 sizeof(*s->pages)))
		return -ENOMEM;
	s->pages[s->npages++] = addr;
	return 0;
}

static int note_stripes(struct scrub *s, struct ag_tree *t)
{
	uint8_t k[AG_KEYBUF];
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc;

	rc = ag_tree_seek(t, k, ag_key_stripe(k, s->f ? s->f->from_seg : 0,
					     s->f ? s->f->from_stripe : 0),
			  &cur);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		struct stripe_ref *sr;
		uint32_t seg, stripe;

		if (ag_key_type(ck, ckl) != AG_K_STRIPE)
			break;
		if (ag_key_stripe_decode(ck, ckl, &seg, &stripe) ||
		    cvl > sizeof(sr->val))
			continue; /* fsck reports malformed records */
		if (!touches(s, (uint64_t)stripe * (s->c->ds->label.ec_k +
						    s->c->ds->label.ec_m),
			     s->c->ds->label.ec_k + s->c->ds->label.ec_m))
			continue;
		rc = grow((void **)&s->stripes, &s->cap_stripes, s->nstripes,
			  sizeof(*s->stripes));
		if (rc)
			break;
		sr = &s->stripes[s->nstripes++];
		sr->seg = seg;
		sr->stripe = stripe;
		sr->vlen = (uint32_t)cvl;
		memcpy(sr->val, cv, cvl);
	}
	ag_cursor_free(cur);
	return rc < 0 ? rc : 0;
}

/* ---- pages ---- */

static void scrub_page(struct scrub *s, uint64_t addr, uint8_t *buf)
{
	struct ag_scrub_kind *k = &s->r->pages;
	int bad = 0, missing = 0, good, n;

	good = ag_page_check(s->c->ps, addr, &bad, &missing);
	advance(s, (uint64_t)AG_PAGE_COPIES * s->c->ds->label.page_size);
	if (good < 0)
		return;
	k->checked += (uint64_t)(good + bad + missing);
	k->bad += (uint64_t)bad;
	k->missing += (uint64_t)missing;
	if (!bad && !missing)
		return;
	say(s, "page %#llx: %d copies bad, %d missing, %d good",
	    (unsigned long long)addr, bad, missing, good);
	if (!s->o->repair)
		return;
	/* the generation to repair is the one a good mirror holds now: a
	 * slot reused since the walk names another address and is left */
	n = good ? ag_page_read(s->c->ps, addr, buf) : -AG_ECORRUPT;
	if (n == -AG_ESTALEROOT) {
		s->r->skipped++;
		return;
	}
	if (n) {
		k->unrepairable += (uint64_t)(bad + missing);
		return;
	}
	n = ag_page_repair(s->c->ps, addr, ag_page_hdr_gen(buf));
	if (n == -AG_ECORRUPT &&
	    ag_page_read(s->c->ps, addr, buf) == -AG_ESTALEROOT) {
		s->r->skipped++;
		return;
	}
	n = n < 0 ? 0 : AG_MIN(n, bad + missing);
	k->repaired += (uint64_t)n;
	k->unrepairable += (uint64_t)(bad + missing - n);
}

/* ---- commit records ---- */

/* Copy ring slot slot of drive d into block and decode it: 0 when it is
 * a whole record (its generation in *gen). */
static int read_record(struct scrub *s, int d, uint32_t slot, uint8_t *block,
		       struct ag_commit_rec *rec)
{
	int rc = ag_drive_read(s->c->ds, d, block, AG_BLOCK,
			       ag_commit_slot_off(slot));

	return rc ? rc : ag_commit_decode(block, AG_BLOCK, rec);
}

/* Find in block a whole copy, in ring slot slot of another drive than
 * skip, of generation gen; gen 0: of the one generation every whole copy
 * of the slot elsewhere holds (none when they disagree). 1 found, 0 not. */
static int find_copy(struct scrub *s, int skip, uint32_t slot, uint64_t gen,
		     uint8_t *block, struct ag_commit_rec *rec)
{
	uint8_t *cand = ag_alloc_aligned(AG_BLOCK);
	int d, found = 0, any = !gen;

	if (!cand)
		return 0;
	for (d = 0; d < s->c->ds->n; d++) {
		if (d == skip || s->c->ds->d[d].state != AG_DRIVE_OK ||
		    read_record(s, d, slot, cand, rec) ||
		    ag_commit_slot(rec->gen) != slot)
			continue;
		if (!gen)
			gen = rec->gen;
		if (rec->gen != gen) {
			if (any) {
				found = 0;
				break;
			}
			continue;
		}
		if (!found)
			memcpy(block, cand, AG_BLOCK);
		found = 1;
		if (!any)
			break;
	}
	free(cand);
	return found;
}

/* The newest whole record of this cluster in ring slot slot of another
 * drive than skip, into block and rec: 1 found, 0 not. */
static int newest_copy(struct scrub *s, int skip, uint32_t slot,
		       uint8_t *block, struct ag_commit_rec *rec)
{
	uint8_t *cand = ag_alloc_aligned(AG_BLOCK);
	struct ag_commit_rec *r = malloc(sizeof(*r));
	int d, found = 0;

	for (d = 0; cand && r && d < s->c->ds->n; d++) {
		if (d == skip || s->c->ds->d[d].state != AG_DRIVE_OK ||
		    read_record(s, d, slot, cand, r) ||
		    ag_commit_slot(r->gen) != slot ||
		    memcmp(r->uuid, s->c->ds->label.uuid, 16))
			continue;
		if (found && (r->gen < rec->gen ||
			      (r->gen == rec->gen && r->epoch <= rec->epoch)))
			continue;
		memcpy(block, cand, AG_BLOCK);
		memcpy(rec, r, sizeof(*r));
		found = 1;
	}
	free(cand);
	free(r);
	return found;
}

/* Drives rec was written to for sure: those holding copies of the pages
 * it lists, its lane (commit.h). Not the drives a lane short of a quorum
 * added, nor those of a record that lists no pages (every drive present
 * then): which were present when it was written, nothing says. */
static uint64_t record_lane(struct scrub *s, const struct ag_commit_rec *rec)
{
	const struct ag_label *l = &s->c->ds->label;
	uint64_t pages = 0;
	uint32_t i;
	int c;

	for (i = 0; i < rec->npages && i < AG_COMMIT_PAGES; i++)
		for (c = 0; c < AG_PAGE_COPIES; c++)
			pages |= 1ull << ag_slot_drive(l, (rec->pages[i] &
							   0xffff) *
							  AG_PAGE_COPIES + c);
	return pages;
}

/* A whole copy of the record damaged copy b held: of the generation its
 * header still names when a copy of it is elsewhere, else (the field is
 * damaged too) of the one generation all the slot's whole copies on the
 * other drives hold: a newer record written to this drive went to at
 * least two others too, whose copies would then disagree. When they do
 * disagree (lanes differ, or the magic is gone: a copy overwritten from
 * its first byte) and no commit past the state is lost, the damaged copy
 * is older than the state or a copy of a record whole elsewhere, and the
 * newest whole record of the slot may take its place. */
static int find_record(struct scrub *s, const struct ag_commit_bad *b,
		       int nothing_lost, uint8_t *block,
		       struct ag_commit_rec *rec)
{
	if (b->gen && ag_commit_slot(b->gen) == b->slot &&
	    find_copy(s, b->drive, b->slot, b->gen, block, rec))
		return 1;
	if (find_copy(s, b->drive, b->slot, 0, block, rec))
		return 1;
	return nothing_lost && newest_copy(s, b->drive, b->slot, block, rec);
}

/* Write the record in block into ring slot slot of drive d, and sync:
 * 1, or -errno. */
static int write_record(struct scrub *s, int d, uint32_t slot,
			const uint8_t *block)
{
	int rc = ag_drive_write(s->c->ds, d, block, AG_BLOCK,
				ag_commit_slot_off(slot));

	if (!rc)
		rc = ag_drive_sync(s->c->ds, d) < 0 ? -EIO : 0;
	return rc ? rc : 1;
}

/* Rewrite damaged copy b from a whole copy of the same record on another
 * drive, if its slot is still damaged. 1 repaired, 0 nothing to repair
 * it from, -EAGAIN when the slot was rewritten meanwhile, -errno. */
static int repair_record(struct scrub *s, const struct ag_commit_bad *b,
			 int nothing_lost, uint8_t *block,
			 struct ag_commit_rec *rec)
{
	int rc;

	if (!find_record(s, b, nothing_lost, block, rec))
		return 0;
	{
		uint8_t *now = ag_alloc_aligned(AG_BLOCK);
		struct ag_commit_rec *r2 = malloc(sizeof(*r2));

		rc = !now || !r2 ? -ENOMEM : 0;
		/* agora-metad may have written a newer record there since */
		if (!rc && !read_record(s, b->drive, b->slot, now, r2))
			rc = -EAGAIN;
		free(now);
		free(r2);
		if (rc)
			return rc;
	}
	return write_record(s, b->drive, b->slot, block);
}

static int blank_block(const uint8_t *b)
{
	return !b[0] && !memcmp(b, b + 1, AG_BLOCK - 1);
}

/* 1 when ring slot slot of drive d is blank (no record was ever written
 * there, or zeros over one), 0 when not, -errno when it cannot be read. */
static int slot_blank(struct scrub *s, int d, uint32_t slot, uint8_t *tmp)
{
	int rc = ag_drive_read(s->c->ds, d, tmp, AG_BLOCK,
			       ag_commit_slot_off(slot));

	return rc ? rc : blank_block(tmp);
}

/* Blank ring slots that should hold the newest record of their slot: on
 * a drive of the lane of its pages, or on a drive this run rebuilds (a
 * new drive's ring is blank). Zeros over a whole record look like a slot
 * never written, which the ring scan passes over. */
static void scrub_blank_slots(struct scrub *s, uint8_t *block,
			      struct ag_commit_rec *rec)
{
	struct ag_scrub_kind *k = &s->r->records;
	uint8_t *tmp = ag_alloc_aligned(AG_BLOCK);
	uint32_t slot;
	int d;

	for (d = 0; tmp && d < s->c->ds->n; d++) {
		if (!(s->drives >> d & 1) ||
		    s->c->ds->d[d].state != AG_DRIVE_OK)
			continue;
		for (slot = 0; slot < AG_COMMIT_SLOTS; slot++) {
			if (slot_blank(s, d, slot, tmp) != 1 ||
			    !newest_copy(s, d, slot, block, rec) ||
			    (!s->f && !(record_lane(s, rec) >> d & 1)))
				continue;
			k->missing++;
			say(s, "drive %d ring slot %u: blank, commit %llu "
			    "missing", d, slot, (unsigned long long)rec->gen);
			if (!s->o->repair)
				continue;
			/* agora-metad may have written the slot since */
			if (slot_blank(s, d, slot, tmp) != 1)
				s->r->skipped++;
			else if (write_record(s, d, slot, block) == 1)
				k->repaired++;
			else
				k->unrepairable++;
		}
	}
	free(tmp);
}

static int scrub_rings(struct scrub *s)
{
	struct ag_scrub_kind *k = &s->r->records;
	struct ag_commit_scan *scan = malloc(sizeof(*scan));
	struct ag_commit_rec *rec = malloc(sizeof(*rec));
	uint8_t *block = ag_alloc_aligned(AG_BLOCK);
	int i, rc = -ENOMEM;

	if (!scan || !rec || !block)
		goto out;
	rc = ag_commit_pick(s->c->ds, rec, scan, ag_cl_check_commit,
			    s->c);
	if (rc && rc != -ENOENT)
		goto out;
	rc = 0;
	for (i = 0; i < s->c->ds->n; i++)
		if (s->c->ds->d[i].state == AG_DRIVE_OK && s->drives >> i & 1)
			k->checked += AG_COMMIT_SLOTS;
	advance(s, k->checked * AG_BLOCK);
	for (i = 0; i < scan->nbad; i++) {
		const struct ag_commit_bad *b;
		int n;

		if (i >= AG_COMMIT_BAD_MAX) {
			k->bad++;
			if (s->o->repair)
				k->unrepairable++; /* not listed: scrub again */
			continue;
		}
		b = &scan->bad[i];
		if (!(s->drives >> b->drive & 1))
			continue;
		k->bad++;
		say(s, "drive %d ring slot %u: damaged copy of commit %llu",
		    b->drive, b->slot, (unsigned long long)b->gen);
		if (!s->o->repair)
			continue;
		n = repair_record(s, b, !scan->lost_gen, block, rec);
		if (n == -EAGAIN)
			s->r->skipped++;
		else if (n == 1)
			k->repaired++;
		else
			k->unrepairable++;
	}
	scrub_blank_slots(s, block, rec);
out:
	free(scan);
	free(rec);
	free(block);
	return rc;
}

/* ---- data stripes ---- */

/* Whether the stripe record is still what the walk found (a stripe freed
 * or rewritten meanwhile is not repaired); a mirrored stripe may have
 * grown, as its blocks are only appended. */
static int stripe_unchanged(struct scrub *s, const struct stripe_ref *sr)
{
	uint8_t k[AG_KEYBUF], v[4 * AG_EC_MAX];
	size_t vl = sizeof(v);
	struct ag_tree *t;
	int rc;

	if (ag_now_ns() - s->refreshed_ns >= REFRESH_NS) {
		if (ag_cluster_refresh(s->c))
			return 0;
		s->refreshed_ns = ag_now_ns();
	}
	if (ag_cl_tree(s->c, &t))
		return 0;
	rc = ag_tree_get(t, k, ag_key_stripe(k, sr->seg, sr->stripe), v, &vl);
	ag_tree_close(t);
	if (!rc && vl == 4 && sr->vlen == 4)
		return get_le32(v) >= get_le32(sr->val);
	return !rc && vl == sr->vlen && !memcmp(v, sr->val, vl);
}

/* Erasure-coded stripes read a batch at a time: each drive reads its
 * rows of slots under the batch's stripes in one request, all drives at
 * once (pool.h), as a sequential reader would; a strip at a time, drive
 * after drive, is latency, not bandwidth. */
#define BATCH_STRIPES 16

/* Rebuilt strips of one drive that lie one after the other, on the
 * drive and in the batch's buffer, written in one request (a rebuild
 * rebuilds every strip of its drive: a request per batch, not per
 * strip). */
struct strip_run {
	uint8_t *buf;
	uint64_t off, len;
	uint32_t n;		/* strips in it */
};

struct batch {
	uint32_t seg, t0, t1;	/* stripes [t0, t1) of segment seg */
	uint64_t row0, rows;	/* the rows of slots under them */
	uint32_t strip;
	uint8_t *buf[AG_MAX_DRIVES]; /* rows strips of drive d */
	int rc[AG_MAX_DRIVES];	     /* its read's result */
	struct strip_run run[AG_MAX_DRIVES]; /* to write to drive d */
};

/* Write drive d's run of rebuilt strips, and count them. */
static void flush_run(struct scrub *s, struct batch *b, int d)
{
	struct strip_run *r = &b->run[d];

	if (!r->n)
		return;
	if (ag_drive_write(s->c->ds, d, r->buf, r->len, r->off))
		s->r->strips.unrepairable += r->n;
	else
		s->r->strips.repaired += r->n;
	r->n = 0;
}

static void flush_runs(struct scrub *s, struct batch *b)
{
	int d;

	for (d = 0; d < s->c->ds->n; d++)
		flush_run(s, b, d);
}

/* Write the rebuilt strip at buf to drive d at off, with the strips
 * before it when they are its neighbours. */
static void queue_strip(struct scrub *s, struct batch *b, int d,
			uint8_t *buf, uint64_t off)
{
	struct strip_run *r = &b->run[d];

	if (r->n && (r->off + r->len != off || r->buf + r->len != buf))
		flush_run(s, b, d);
	if (!r->n) {
		r->buf = buf;
		r->off = off;
		r->len = 0;
	}
	r->len += b->strip;
	r->n++;
}

static int read_rows(struct ag_drives *ds, int d, void *arg)
{
	struct batch *b = arg;

	return ag_drive_read(ds, d, b->buf[d], b->rows * b->strip,
			     ag_slot_offset(&ds->label, b->seg,
					    b->row0 * ds->label.ndrives,
					    b->strip));
}

/* Read the rows under stripes [t0, t1) of seg from every present drive
 * (what the last batch rebuilt written first). */
static void batch_read(struct scrub *s, struct batch *b, uint32_t seg,
		       uint32_t t0, uint32_t t1)
{
	const struct ag_label *l = &s->c->ds->label;
	uint32_t w = l->ec_k + l->ec_m;

	flush_runs(s, b);
	b->seg = seg;
	b->t0 = t0;
	b->t1 = t1;
	b->row0 = (uint64_t)t0 * w / l->ndrives;
	b->rows = ((uint64_t)t1 * w - 1) / l->ndrives + 1 - b->row0;
	ag_pool_run_on(s->c->ds, ag_drives_present(s->c->ds), read_rows, b,
		       b->rc);
}

/* Strip j of stripe t of the batch, and whether it was read: read alone
 * when the read of its drive's rows failed (one bad block must not make
 * every strip of the batch on that drive missing). */
static uint8_t *batch_strip(struct scrub *s, const struct batch *b,
			    uint32_t t, uint32_t j, uint8_t *ok)
{
	const struct ag_label *l = &s->c->ds->label;
	uint64_t slot = (uint64_t)t * (l->ec_k + l->ec_m) + j;
	int d = ag_slot_drive(l, slot);
	uint8_t *p = b->buf[d] + (slot / l->ndrives - b->row0) * b->strip;

	*ok = !b->rc[d];
	if (b->rc[d] < 0 && s->c->ds->d[d].state == AG_DRIVE_OK)
		*ok = !ag_drive_read(s->c->ds, d, p, b->strip,
				     ag_slot_offset(l, b->seg, slot, b->strip));
	return p;
}

static void scrub_ec(struct scrub *s, const struct stripe_ref *sr,
		     struct batch *b)
{
	const struct ag_label *l = &s->c->ds->label;
	struct ag_scrub_kind *k = &s->r->strips;
	uint32_t i, n = l->ec_k + l->ec_m, nbad = 0;
	uint8_t ok[AG_MAX_DRIVES], good[AG_EC_MAX];
	uint8_t *bufs[AG_EC_MAX];

	for (i = 0; i < n; i++)
		bufs[i] = batch_strip(s, b, sr->stripe, i, &ok[i]);
	advance(s, (uint64_t)n * l->strip_size);
	for (i = 0; i < n; i++) {
		int d = ag_slot_drive(l, (uint64_t)sr->stripe * n + i);

		good[i] = 0;
		if (s->c->ds->d[d].state != AG_DRIVE_OK)
			continue; /* a missing drive: not rebuilt here */
		k->checked++;
		if (!ok[i]) {
			k->missing++;
		} else if (ag_crc32c(bufs[i], l->strip_size) !=
			   get_le32(sr->val + 4 * i)) {
			k->bad++;
		} else {
			good[i] = 1;
			continue;
		}
		nbad++;
		say(s, "segment %u stripe %u strip %u (drive %d): %s", sr->seg,
		    sr->stripe, i, d, ok[i] ? "fails its checksum" :
		    "unreadable");
	}
	if (!nbad || !s->o->repair)
		return;
	if (ag_ec_reconstruct(s->ec, l->strip_size, bufs, good)) {
		k->unrepairable += nbad;
		return;
	}
	if (!stripe_unchanged(s, sr)) {
		s->r->skipped++;
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t slot = (uint64_t)sr->stripe * n + i;
		int d = ag_slot_drive(l, slot);

		if (good[i] || s->c->ds->d[d].state != AG_DRIVE_OK)
			continue;
		if (ag_crc32c(bufs[i], l->strip_size) !=
		    get_le32(sr->val + 4 * i)) {
			k->unrepairable++;
			continue;
		}
		queue_strip(s, b, d, bufs[i],
			    ag_slot_offset(l, sr->seg, slot, l->strip_size));
	}
}

static void scrub_mirrored(struct scrub *s, const struct stripe_ref *sr)
{
	const struct ag_label *l = &s->c->ds->label;
	struct ag_scrub_kind *k = &s->r->mirrored;
	uint32_t bytes = get_le32(sr->val), i, n = l->ec_k + l->ec_m;
	uint8_t bad[AG_EC_MAX];
	int nbad, repaired = 0;

	/* a rebuild's drives hold no copy to believe yet: they do not vote
	 * (with m = 1, the other copy is the right one) */
	nbad = ag_stripes_rebuild_mirror(s->c->stripes, sr->seg, sr->stripe,
					 bytes, s->f ? s->drives : 0, 0, bad,
					 NULL);
	advance(s, (uint64_t)bytes * (l->ec_m + 1));
	if (nbad < 0) {
		k->unrepairable++;
		return;
	}
	k->checked += (uint64_t)(l->ec_m + 1) *
		      ((bytes + l->strip_size - 1) / l->strip_size);
	for (i = 0; nbad && i < n; i++) {
		if (!bad[i])
			continue;
		if (s->c->ds->d[ag_slot_drive(l, (uint64_t)sr->stripe * n +
						 i)].state != AG_DRIVE_OK) {
			/* a missing drive: not rebuilt here, as for strips */
			nbad--;
			continue;
		}
		if (bad[i] == 1)
			k->missing++;
		else
			k->bad++;
		say(s, "segment %u mirrored stripe %u slot %u %s", sr->seg,
		    sr->stripe, i, bad[i] == 1 ? "unreadable" : "differs");
	}
	if (!nbad || !s->o->repair)
		return;
	if (!stripe_unchanged(s, sr)) {
		s->r->skipped++;
		return;
	}
	/* no checksum says which copy is right: the majority's is */
	if (ag_stripes_rebuild_mirror(s->c->stripes, sr->seg, sr->stripe,
				      bytes, s->f ? s->drives : 0, 1, bad,
				      &repaired) < 0)
		repaired = 0;
	repaired = AG_MIN(repaired, nbad);
	k->repaired += (uint64_t)repaired;
	k->unrepairable += (uint64_t)(nbad - repaired);
}

static int scrub_stripes(struct scrub *s)
{
	const struct ag_label *l = &s->c->ds->label;
	struct batch b = { .strip = l->strip_size, .t1 = 0 };
	uint32_t n = l->ec_k + l->ec_m;
	size_t j, rows = (size_t)BATCH_STRIPES * n / l->ndrives + 2;
	/* held to a rate, a batch takes half a second at most: its reads
	 * come at once, and its end is where a rebuild's cursor moves */
	uint32_t per_batch = s->o->rate_mb > 0 ?
		(uint32_t)AG_MAX(1.0, AG_MIN((double)BATCH_STRIPES,
			s->o->rate_mb * 5e5 / ((double)n * l->strip_size))) :
		BATCH_STRIPES;
	int i, rc = -ENOMEM;

	for (i = 0; i < (int)l->ndrives; i++) {
		b.buf[i] = ag_alloc_aligned(rows * l->strip_size);
		if (!b.buf[i])
			goto out;
	}
	b.seg = UINT32_MAX;
	for (j = 0; j < s->nstripes; j++) {
		const struct stripe_ref *sr = &s->stripes[j];

		if (sr->vlen == 4) {
			scrub_mirrored(s, sr);
		} else if (sr->vlen == 4 * n) {
			if (sr->seg != b.seg || sr->stripe < b.t0 ||
			    sr->stripe >= b.t1)
				batch_read(s, &b, sr->seg, sr->stripe,
					   AG_MIN(sr->stripe + per_batch,
						  ag_segment_stripes(l)));
			scrub_ec(s, sr, &b);
		}
		/* where a later run goes on from, once a batch is written */
		if (s->f && s->f->stripe_done &&
		    (j + 1 == s->nstripes || sr[1].seg != b.seg ||
		     sr[1].stripe >= b.t1)) {
			flush_runs(s, &b);
			rc = j + 1 < s->nstripes ?
			     s->f->stripe_done(s->f->arg, sr[1].seg,
					       sr[1].stripe, s->done, s->total) :
			     s->f->stripe_done(s->f->arg, sr->seg,
					       sr->stripe + 1, s->done,
					       s->total);
			if (rc)
				goto out;
		}
	}
	rc = 0;
out:
	flush_runs(s, &b);
	for (i = 0; i < (int)l->ndrives; i++)
		free(b.buf[i]);
	return rc;
}

/* ---- the whole run ---- */

static uint64_t left(const struct ag_scrub_kind *k, int repair)
{
	return repair ? k->unrepairable : k->bad + k->missing;
}

int ag_scrub(struct ag_cluster *c, const struct ag_scrub_opts *o,
	     struct ag_scrub_report *r)
{
	return ag_scrub_focused(c, o, NULL, r);
}

int ag_scrub_focused(struct ag_cluster *c, const struct ag_scrub_opts *o,
		     const struct ag_scrub_focus *f, struct ag_scrub_report *r)
{
	const struct ag_label *l = &c->ds->label;
	struct scrub s = { .c = c, .o = o, .r = r, .f = f,
			   .drives = f ? f->drives : ~0ull };
	struct ag_tree *t = NULL;
	size_t j;
	int rc;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &s.start);
	s.shown = s.start;
	ag_pace_start(&s.pace, o->rate_mb);
	rc = ag_ec_new(&s.ec, (int)l->ec_k, (int)l->ec_m);
	if (!rc)
		rc = ag_cluster_refresh(c);
	if (!rc)
		rc = ag_cl_tree(c, &t);
	if (rc)
		goto out;
	r->generation = ag_cluster_generation(c);
	rc = ag_tree_walk(t, note_page, &s);
	if (rc && rc != -AG_ECORRUPT && rc != -AG_ESTALEROOT && rc != -EIO)
		goto out;
	rc = note_stripes(&s, t);
	if (rc)
		goto out;
	s.total = (uint64_t)s.npages * AG_PAGE_COPIES * l->page_size +
		  (uint64_t)__builtin_popcountll(s.drives &
						 ag_drives_present(c->ds)) *
			  AG_COMMIT_SLOTS * AG_BLOCK;
	for (j = 0; j < s.nstripes; j++)
		s.total += s.stripes[j].vlen == 4 ?
			   (uint64_t)get_le32(s.stripes[j].val) *
				   (l->ec_m + 1) :
			   (uint64_t)(l->ec_k + l->ec_m) * l->strip_size;
	rc = scrub_rings(&s);
	if (rc)
		goto out;
	{
		uint8_t *buf = ag_alloc_aligned(l->page_size);

		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
		for (j = 0; j < s.npages; j++)
			scrub_page(&s, s.pages[j], buf);
		free(buf);
	}
	rc = scrub_stripes(&s);
	if (rc)
		goto out;
	if (o->progress)
		fprintf(stderr, "\r%*s\r", 60, "");
	r->seconds = since(&s.start);
	rc = left(&r->pages, o->repair) || left(&r->records, o->repair) ||
	     left(&r->strips, o->repair) || left(&r->mirrored, o->repair);
out:
	ag_tree_close(t);
	ag_ec_free(s.ec);
	free(s.pages);
	free(s.stripes);
	return rc;
}
