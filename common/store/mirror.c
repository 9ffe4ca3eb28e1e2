/*
 * mirror.c - mirrored stripes: how a commit makes a partly filled stripe
 * durable without padding it to a whole erasure-coded stripe, and how
 * such a stripe is read when its first copy fails (geometry: stripe.h).
 *
 * A small object committed alone would otherwise cost a whole stripe of
 * drive space (k + m strips) and a write of all of it; mirrored, it costs
 * its blocks m + 1 times, the same protection against m lost drives. The
 * stripe stays open, so the next commits append to it block by block;
 * no block is written twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drive.h"
#include "ec.h"
#include "format.h"
#include "stripe_int.h"
#include "util.h"

#define PIECES_MAX 8 /* groups one range may touch in the search */

/* Slot of copy r (0 .. m) of group g. */
static int copy_slot(const struct ag_stripes *s, int g, int r)
{
	return r ? s->groups + g * s->m + r - 1 : g;
}

/* The group a slot holds a copy of, or -1. */
static int slot_group(const struct ag_stripes *s, int j)
{
	if (j < s->groups)
		return j;
	if (s->m && j < s->groups * (s->m + 1))
		return (j - s->groups) / s->m;
	return -1;
}

struct mirror_job {
	const struct ag_stripes *s;
	const uint8_t *buf;   /* the stripe's payload */
	uint32_t seg, t;
	uint64_t from, to;    /* payload bytes to write */
	int rc[AG_MAX_DRIVES]; /* each drive's result */
};

/* Runs on drive d's thread: write d's copies of [from, to). */
static int write_copies(struct ag_drives *ds, int d, void *arg)
{
	const struct mirror_job *job = arg;
	const struct ag_stripes *s = job->s;
	int j, rc = 1; /* 1: nothing for this drive */

	for (j = 0; j < s->w; j++) {
		int g = slot_group(s, j);
		uint64_t lo, hi;

		if (g < 0 || slot_drive(s, job->t, j) != d)
			continue;
		lo = AG_MAX(job->from, (uint64_t)g * s->strip);
		hi = AG_MIN(job->to, (uint64_t)(g + 1) * s->strip);
		if (lo >= hi)
			continue;
		if (!drive_ok(s, d))
			return -EIO;
		rc = ag_drive_write(ds, d, job->buf + lo, hi - lo,
				    slot_off(s, job->seg, job->t, j) +
				    lo - (uint64_t)g * s->strip);
		if (rc)
			return rc;
	}
	return rc;
}

/* Whether every group touched by [from, to) has a copy on the drives. */
static int every_group_landed(const struct ag_stripes *s,
			      const struct mirror_job *job)
{
	int g, r;

	for (g = job->from / s->strip; (uint64_t)g * s->strip < job->to;
	     g++) {
		int landed = 0;

		for (r = 0; r <= s->m; r++)
			if (!job->rc[slot_drive(s, job->t,
						copy_slot(s, g, r))])
				landed++;
		if (!landed)
			return 0;
	}
	return 1;
}

int ag_mirror_put(struct ag_packer *p)
{
	struct ag_stripes *s = p->s;
	uint64_t to = (p->used + AG_BLOCK - 1) & ~(uint64_t)(AG_BLOCK - 1);
	struct mirror_job job = { .s = s, .buf = p->buf, .seg = p->seg,
				  .t = p->fill / s->spay, .from = p->written,
				  .to = to };
	struct ag_stripe_done *sd;

	if (to > s->mcap)
		return -EINVAL;
	if (ag_packer_grow_done(p, 1))
		return -ENOMEM;
	memset(p->buf + p->used, 0, to - p->used);
	ag_pool_run(s->ds, write_copies, &job, job.rc);
	if (!every_group_landed(s, &job)) {
		AG_ERR("segment %u stripe %u: a mirrored block reached no "
		       "drive", p->seg, job.t);
		return -EIO;
	}
	/* one record per stripe and commit: the newest length */
	sd = p->ndone ? &p->done[p->ndone - 1] : NULL;
	if (!sd || !sd->mirrored || sd->seg != p->seg || sd->stripe != job.t) {
		sd = &p->done[p->ndone++];
		memset(sd, 0, sizeof(*sd));
		sd->seg = p->seg;
		sd->stripe = job.t;
	}
	sd->mirrored = (uint32_t)to;
	p->used = p->written = to;
	p->mirrored = 1;
	return 0;
}

/* Read copy r of payload [lo, hi) of stripe t (within one group). */
static int read_copy(struct ag_stripes *s, uint32_t seg, uint32_t t, int r,
		     uint64_t lo, uint64_t hi, uint8_t *dst)
{
	int g = lo / s->strip, j = copy_slot(s, g, r);
	int d = slot_drive(s, t, j);

	if (!drive_ok(s, d))
		return -EIO;
	return ag_drive_read(s->ds, d, dst, hi - lo,
			     slot_off(s, seg, t, j) + lo - (uint64_t)g * s->strip);
}

/* Charge the drives whose readable copy of a piece differs from the
 * bytes that matched the crc. */
static void account(struct ag_stripes *s, uint32_t t, uint64_t lo,
		    uint64_t hi, const uint8_t *buf, const uint8_t *copies,
		    uint8_t readok[][PIECES_MAX])
{
	size_t len = hi - lo, at;
	int i, r;

	for (i = 0, at = 0; at < len; i++) {
		uint64_t a = lo + at;
		uint64_t b = AG_MIN(hi, (a / s->strip + 1) * s->strip);
		int g = a / s->strip;

		for (r = 0; r <= s->m; r++)
			if (readok[r][i] &&
			    memcmp(copies + r * len + at, buf + at, b - a))
				atomic_fetch_add(&s->ds->d[slot_drive(s, t,
						 copy_slot(s, g, r))]
							  .csum_errors, 1);
		at += b - a;
	}
}

/* The first copy from r on that piece i could be read from; m + 1: none. */
static int readable(const struct ag_stripes *s, uint8_t readok[][PIECES_MAX],
		    int i, int r)
{
	while (r <= s->m && !readok[r][i])
		r++;
	return r;
}

int ag_mirror_read(struct ag_stripes *s, uint32_t seg, uint64_t off,
		   uint8_t *buf, size_t len, uint32_t crc)
{
	uint32_t t = off / s->spay;
	uint64_t lo = off % s->spay, hi = lo + len;
	int npieces, choice[PIECES_MAX] = { 0 }, i, r, rc = -AG_ECORRUPT;
	uint8_t readok[AG_EC_MAX][PIECES_MAX] = { { 0 } };
	uint8_t *copies;
	size_t at;

	/* mirrored data lies in the first mcap bytes of one stripe */
	if (!len || hi > s->mcap || !s->m)
		return -AG_ECORRUPT;
	npieces = (hi - 1) / s->strip - lo / s->strip + 1;
	if (npieces > PIECES_MAX)
		return -AG_ECORRUPT;
	/* every copy of the range, copy r of byte x at r * len + x - lo */
	copies = malloc((size_t)(s->m + 1) * len);
	if (!copies)
		return -ENOMEM;
	for (r = 0; r <= s->m; r++)
		for (at = 0, i = 0; at < len; i++) {
			uint64_t a = lo + at;
			uint64_t b = AG_MIN(hi, (a / s->strip + 1) * s->strip);

			readok[r][i] = !read_copy(s, seg, t, r, a, b,
						  copies + r * len + at);
			at += b - a;
		}
	/* each piece (the part of the range in one group) from any of its
	 * readable copies: an odometer over the choices, checked against
	 * the crc */
	for (i = 0; i < npieces; i++) {
		choice[i] = readable(s, readok, i, 0);
		if (choice[i] > s->m)
			goto out; /* no copy of this piece */
	}
	for (;;) {
		uint32_t got = CRC_SEED;

		for (i = 0, at = 0; i < npieces; i++) {
			uint64_t a = lo + at;
			uint64_t b = AG_MIN(hi, (a / s->strip + 1) * s->strip);

			memcpy(buf + at, copies + choice[i] * len + at, b - a);
			got = crc_more(got, buf + at, b - a);
			at += b - a;
		}
		if (got == crc) {
			rc = 0;
			atomic_fetch_add(&ag_stripe_rebuilds, 1);
			account(s, t, lo, hi, buf, copies, readok);
			break;
		}
		for (i = npieces - 1; i >= 0; i--) {
			choice[i] = readable(s, readok, i, choice[i] + 1);
			if (choice[i] <= s->m)
				break;
			choice[i] = readable(s, readok, i, 0);
		}
		if (i < 0)
			break;
	}
out:
	free(copies);
	return rc;
}

/* Check the copies of [0, bytes) of mirrored stripe t, as
 * ag_stripes_check_mirror says; with repair, write each group's copy that
 * a strict majority of its copies agree with over the bad ones of that
 * group (*repaired counts the slots rewritten; with no majority, as
 * between two copies that differ, which is right cannot be told). The
 * copies on the drives of fresh have no vote, and the majority is of the
 * readable others. */
static int scan_mirror(struct ag_stripes *s, uint32_t seg, uint32_t t,
		       uint32_t bytes, uint64_t fresh, uint8_t *bad,
		       int repair, int *repaired)
{
	uint8_t *copy[AG_EC_MAX] = { 0 }, *mem;
	int g, r, nbad = 0;

	memset(bad, 0, s->w);
	if (bytes > s->mcap || bytes % AG_BLOCK)
		return -EINVAL;
	mem = ag_alloc_aligned((size_t)(s->m + 1) * s->strip);
	if (!mem)
		return -ENOMEM;
	for (r = 0; r <= s->m; r++)
		copy[r] = mem + (size_t)r * s->strip;
	for (g = 0; (uint64_t)g * s->strip < bytes; g++) {
		uint64_t lo = (uint64_t)g * s->strip;
		uint64_t hi = AG_MIN(bytes, lo + s->strip);
		int ok[AG_EC_MAX], vote[AG_EC_MAX], agree[AG_EC_MAX] = { 0 };
		int best = -1, q, voters = 0;

		for (r = 0; r <= s->m; r++) {
			ok[r] = !read_copy(s, seg, t, r, lo, hi, copy[r]);
			vote[r] = ok[r] &&
				  !(fresh >> slot_drive(s, t, copy_slot(s, g, r)) &
				    1);
			voters += vote[r];
		}
		for (r = 0; r <= s->m; r++)
			for (q = 0; ok[r] && q <= s->m; q++)
				agree[r] += vote[q] &&
					    !memcmp(copy[r], copy[q], hi - lo);
		/* the copy most others agree with; the first on a tie */
		for (r = 0; r <= s->m; r++)
			if (vote[r] && (best < 0 || agree[r] > agree[best]))
				best = r;
		for (r = 0; r <= s->m; r++) {
			int j = copy_slot(s, g, r), d = slot_drive(s, t, j);

			if (!ok[r])
				bad[j] = 1;
			else if (best < 0 ||
				 memcmp(copy[r], copy[best], hi - lo))
				bad[j] = 2;
			nbad += bad[j] != 0;
			if (!bad[j] || !repair || best < 0 ||
			    2 * agree[best] <= (fresh ? voters : s->m + 1) ||
			    !drive_ok(s, d))
				continue;
			if (!ag_drive_write(s->ds, d, copy[best], hi - lo,
					    slot_off(s, seg, t, j)))
				(*repaired)++;
		}
	}
	free(mem);
	return nbad;
}

int ag_stripes_check_mirror(struct ag_stripes *s, uint32_t seg, uint32_t t,
			    uint32_t bytes, uint8_t *bad)
{
	return scan_mirror(s, seg, t, bytes, 0, bad, 0, NULL);
}

int ag_stripes_repair_mirror(struct ag_stripes *s, uint32_t seg, uint32_t t,
			     uint32_t bytes, uint8_t *bad, int *repaired)
{
	*repaired = 0;
	return scan_mirror(s, seg, t, bytes, 0, bad, 1, repaired);
}

int ag_stripes_rebuild_mirror(struct ag_stripes *s, uint32_t seg, uint32_t t,
			      uint32_t bytes, uint64_t fresh, int repair,
			      uint8_t *bad, int *repaired)
{
	int none;

	if (!repaired)
		repaired = &none;
	*repaired = 0;
	return scan_mirror(s, seg, t, bytes, fresh, bad, repair, repaired);
}
