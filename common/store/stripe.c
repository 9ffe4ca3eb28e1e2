/*
 * stripe.c - the data plane: packing payload into erasure-coded stripes of
 * a data segment, and reading it back, rebuilding around missing,
 * unreadable or lying drives.
 *
 * The read path is one drive read per strip piece and a crc over the
 * range. Only when that fails does the slow path read the touched stripes
 * whole and search for the set of strips to leave out: known erasures
 * first, then extra strips suspected of returning bad bytes. The parity a
 * stripe has to spare tells most suspects apart by itself (a set is right
 * when the strips left are one codeword); only a stripe with no spare
 * parity left needs the caller's crc to pick among its choices.
 */
#include <errno.h>
#include <isa-l/crc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "commit.h"
#include "drive.h"
#include "ec.h"
#include "format.h"
#include "geometry.h"
#include "stripe.h"
#include "stripe_int.h"
#include "util.h"


/* Bounds of the rebuild search, so that a hopeless read gives up in a
 * fraction of a second instead of walking a combinatorial explosion.
 * 4+2, 8+3 and 10+4 stay well inside them. */
#define CAND_MAX 2048   /* erasure sets examined per stripe */
#define JOINT_MAX 4096  /* crc checks over a range's combinations */

atomic_ulong ag_stripe_rebuilds;

int ag_stripes_new(struct ag_drives *ds, struct ag_stripes **sp)
{
	const struct ag_label *l = &ds->label;
	struct ag_stripes *s;
	int rc;

	if (!l->ec_k || l->ec_k + l->ec_m > l->ndrives ||
	    l->ec_k + l->ec_m > AG_EC_MAX || !l->strip_size ||
	    l->strip_size > (1u << 30))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ds = ds;
	s->l = l;
	s->k = l->ec_k;
	s->m = l->ec_m;
	s->w = s->k + s->m;
	s->strip = l->strip_size;
	s->spay = (uint64_t)s->k * s->strip;
	s->nstripes = ag_segment_stripes(l);
	s->payload = ag_segment_payload(l);
	s->groups = s->w / (s->m + 1);
	s->mcap = ag_mirror_payload(l);
	/* runs of 1 MiB per drive: a disk takes them several times faster
	 * than 64 KiB strips one stripe at a time (2.1 against 0.9 GB/s
	 * here), and the drive threads wake once for sixteen stripes */
	s->batch = (int)AG_MAX(1, AG_MIN(AG_BATCH_MAX,
					 (1024u << 10) / s->strip));
	/* a data address keeps the payload offset in 32 bits */
	if (!s->nstripes || s->payload > (1ull << 32)) {
		AG_ERR("segment geometry gives %llu payload bytes per segment; "
		       "a data segment holds at most 4G",
		       (unsigned long long)s->payload);
		free(s);
		return -EINVAL;
	}
	rc = ag_ec_new(&s->ec, s->k, s->m);
	if (rc) {
		free(s);
		return rc;
	}
	*sp = s;
	return 0;
}

void ag_stripes_free(struct ag_stripes *s)
{
	if (!s)
		return;
	ag_ec_free(s->ec);
	free(s);
}

/* Where payload byte x of segment seg lies: returns the drive, sets its
 * offset there and how many bytes (up to end) follow it in that strip. */
static int locate(const struct ag_stripes *s, uint32_t seg, uint64_t x,
		  uint64_t end, uint64_t *doff, size_t *n)
{
	uint32_t t = x / s->spay;
	uint64_t r = x % s->spay, o = r % s->strip;
	int j = r / s->strip;

	*doff = slot_off(s, seg, t, j) + o;
	*n = AG_MIN(s->strip - o, end - x);
	return slot_drive(s, t, j);
}

int ag_stripes_read_raw(struct ag_stripes *s, uint32_t seg, uint32_t stripe,
			uint8_t *const *bufs, uint8_t *ok)
{
	int j;

	if (seg >= s->l->nsegments || stripe >= s->nstripes)
		return -EINVAL;
	for (j = 0; j < s->w; j++) {
		int d = slot_drive(s, stripe, j);

		ok[j] = 0;
		if (!bufs[j] || !drive_ok(s, d))
			continue;
		ok[j] = !ag_drive_read(s->ds, d, bufs[j], s->strip,
				       slot_off(s, seg, stripe, j));
	}
	return 0;
}

/* ---- the slow read path ---- */

/* One stripe the range touches, read whole. */
struct rstripe {
	uint32_t t;
	uint8_t *raw[AG_EC_MAX];
	uint32_t e0;            /* strips that could not be read */
	uint32_t touched;       /* data strips holding range bytes */
	uint64_t lo, hi;        /* the range within this stripe's payload */
	size_t at;              /* where [lo, hi) goes in the caller's buf */
	uint32_t *cand;         /* erasure sets to try, best first */
	int ncand, pick;
};

struct rctx {
	struct ag_stripes *s;
	uint8_t *scratch[AG_EC_MAX]; /* rebuilt strips land here */
	uint8_t *buf;
};

static uint32_t first_k(const struct ag_stripes *s, uint32_t erased)
{
	uint32_t src = 0;
	int j, n = 0;

	for (j = 0; j < s->w && n < s->k; j++)
		if (!(erased >> j & 1)) {
			src |= 1u << j;
			n++;
		}
	return src;
}

/*
 * Rebuild every strip outside the first k trusted ones from those k into
 * scratch. Returns 1 when the other trusted strips agree with the rebuild,
 * i.e. what is left after erasing is one codeword.
 */
static int rebuild(struct rctx *c, struct rstripe *r, uint32_t erased)
{
	struct ag_stripes *s = c->s;
	uint8_t *strips[AG_EC_MAX], present[AG_EC_MAX];
	uint32_t src = first_k(s, erased);
	int j;

	for (j = 0; j < s->w; j++) {
		present[j] = src >> j & 1;
		strips[j] = present[j] ? r->raw[j] : c->scratch[j];
	}
	if (ag_ec_reconstruct(s->ec, s->strip, strips, present))
		return -1;
	for (j = 0; j < s->w; j++)
		if (!(erased >> j & 1) && !present[j] &&
		    memcmp(c->scratch[j], r->raw[j], s->strip))
			return 0;
	return 1;
}

/* Copy the stripe's part of the range into the caller's buffer as it reads
 * with erased rebuilt, and return the crc chained on from crc. */
static uint32_t assemble(struct rctx *c, struct rstripe *r, uint32_t erased,
			 uint32_t crc)
{
	struct ag_stripes *s = c->s;
	uint64_t x = r->lo;
	uint8_t *dst = c->buf + r->at;

	if (erased & r->touched)
		rebuild(c, r, erased);
	while (x < r->hi) {
		int j = x / s->strip;
		uint64_t o = x % s->strip;
		size_t n = AG_MIN(s->strip - o, r->hi - x);
		const uint8_t *src = (erased >> j & 1) ? c->scratch[j]
						      : r->raw[j];

		memcpy(dst, src + o, n);
		crc = crc_more(crc, dst, n);
		dst += n;
		x += n;
	}
	return crc;
}

static int add_cand(struct rstripe *r, const struct ag_stripes *s,
		    uint32_t erased, uint32_t *keys)
{
	uint32_t te = erased & r->touched;
	uint32_t src = te ? first_k(s, erased) : 0;
	int i;

	/* sets that rebuild the same touched strips from the same sources
	 * give the same bytes: try them once */
	for (i = 0; i < r->ncand; i++)
		if (keys[2 * i] == te && keys[2 * i + 1] == src)
			return 0;
	keys[2 * i] = te;
	keys[2 * i + 1] = src;
	r->cand[r->ncand++] = erased;
	return 0;
}

/*
 * The erasure sets worth trying for one stripe. Suspects are ordered
 * touched data strips first (they are the ones that matter to this read),
 * then other data, then parity. While parity is to spare, the first set
 * that leaves a consistent codeword is the answer and the only candidate;
 * otherwise every set using up all the parity is, and the crc decides.
 */
static int plan(struct rctx *c, struct rstripe *r)
{
	struct ag_stripes *s = c->s;
	int order[AG_EC_MAX], pos[AG_EC_MAX];
	int npool = 0, extra, nerr, rlen, j, seen = 0;
	uint32_t *keys;

	nerr = __builtin_popcount(r->e0);
	if (nerr > s->m)
		return -EIO;
	extra = s->m - nerr;
	for (j = 0; j < s->k; j++)
		if ((r->touched >> j & 1) && !(r->e0 >> j & 1))
			order[npool++] = j;
	for (j = 0; j < s->w; j++)
		if (!(r->touched >> j & 1) && !(r->e0 >> j & 1))
			order[npool++] = j;
	r->cand = malloc(CAND_MAX * sizeof(*r->cand));
	keys = malloc(2 * CAND_MAX * sizeof(*keys));
	if (!r->cand || !keys) {
		free(keys);
		return -ENOMEM;
	}
	for (rlen = 0; rlen <= extra; rlen++) {
		/* combinations of rlen pool positions, lexicographic */
		for (j = 0; j < rlen; j++)
			pos[j] = j;
		for (;;) {
			uint32_t erased = r->e0;

			if (seen++ >= CAND_MAX)
				goto out;
			for (j = 0; j < rlen; j++)
				erased |= 1u << order[pos[j]];
			if (rlen < extra) {
				if (rebuild(c, r, erased) == 1) {
					r->cand[0] = erased;
					r->ncand = 1;
					goto out;
				}
			} else {
				add_cand(r, s, erased, keys);
			}
			for (j = rlen - 1; j >= 0 && pos[j] == npool - rlen + j;
			     j--)
				;
			if (j < 0)
				break;
			pos[j]++;
			for (j++; j < rlen; j++)
				pos[j] = pos[j - 1] + 1;
		}
	}
out:
	if (seen > CAND_MAX)
		AG_WARN("stripe %u: rebuild search cut at %d erasure sets",
			r->t, CAND_MAX);
	if (!r->ncand) /* cut before any full set: try what was readable */
		r->cand[r->ncand++] = r->e0;
	free(keys);
	return 0;
}

static uint32_t drives_of(const struct ag_stripes *s, uint32_t t,
			  uint32_t erased)
{
	uint64_t mask = 0;
	int j;

	for (j = 0; j < s->w; j++)
		if (erased >> j & 1)
			mask |= 1ull << slot_drive(s, t, j);
	/* fold: only used to match sets between stripes, so collisions
	 * merely cost a wasted try */
	return (uint32_t)(mask ^ mask >> 32);
}

/* Assemble stripes from..ns-1 with their current picks; 1 if crc matches. */
static int check_from(struct rctx *c, struct rstripe *rs, int ns, int from,
		      uint32_t *prefix, uint32_t want)
{
	uint32_t crc = from ? prefix[from - 1] : CRC_SEED;
	int i;

	for (i = from; i < ns; i++) {
		crc = assemble(c, &rs[i], rs[i].cand[rs[i].pick], crc);
		prefix[i] = crc;
	}
	return crc == want;
}

/* Leave the same drives out of every ambiguous stripe: one bad drive
 * spoils all the stripes of a range alike. */
static int same_drives(struct rctx *c, struct rstripe *rs, int ns,
		       const int *amb, int na, uint32_t *prefix, uint32_t want)
{
	struct rstripe *r0 = &rs[amb[0]];
	int a, b, i;

	for (a = 0; a < r0->ncand; a++) {
		uint32_t d = drives_of(c->s, r0->t, r0->cand[a]);

		r0->pick = a;
		for (b = 1; b < na; b++) {
			struct rstripe *r = &rs[amb[b]];

			r->pick = 0;
			for (i = 0; i < r->ncand; i++)
				if (drives_of(c->s, r->t, r->cand[i]) == d) {
					r->pick = i;
					break;
				}
		}
		if (check_from(c, rs, ns, amb[0], prefix, want))
			return 1;
	}
	for (b = 0; b < na; b++)
		rs[amb[b]].pick = 0;
	check_from(c, rs, ns, 0, prefix, want);
	return 0;
}

/* Every combination, from all picks 0, the last stripe turning fastest so
 * that the crc of the stripes before it is reused. */
static int odometer(struct rctx *c, struct rstripe *rs, int ns,
		    const int *amb, int na, uint32_t *prefix, uint32_t want)
{
	int tries, b;

	for (tries = 0; tries < JOINT_MAX; tries++) {
		for (b = na - 1; b >= 0; b--) {
			struct rstripe *r = &rs[amb[b]];

			if (++r->pick < r->ncand)
				break;
			r->pick = 0;
		}
		if (b < 0)
			return 0;
		if (check_from(c, rs, ns, amb[b], prefix, want))
			return 1;
	}
	AG_WARN("rebuild search cut at %d combinations", JOINT_MAX);
	return 0;
}

/*
 * Find picks for all stripes that give the right crc. Stripes with one
 * candidate are fixed; for the others try everyone's best, then the same
 * drives left out everywhere, then every combination up to JOINT_MAX.
 */
static int search(struct rctx *c, struct rstripe *rs, int ns, uint32_t want)
{
	uint32_t *prefix = malloc(ns * (sizeof(*prefix) + sizeof(int)));
	int *amb = (int *)(prefix + ns);
	int na = 0, i, found;

	if (!prefix)
		return -ENOMEM;
	for (i = 0; i < ns; i++) {
		rs[i].pick = 0;
		if (rs[i].ncand > 1)
			amb[na++] = i;
	}
	found = check_from(c, rs, ns, 0, prefix, want) ||
		(na > 1 && same_drives(c, rs, ns, amb, na, prefix, want)) ||
		(na && odometer(c, rs, ns, amb, na, prefix, want));
	free(prefix);
	return found ? 0 : -AG_ECORRUPT;
}

/* Count the repair, and charge the drives whose bytes were wrong (not
 * merely unreadable) with a checksum error. */
static void account(struct rctx *c, struct rstripe *rs, int ns, uint32_t seg)
{
	struct ag_stripes *s = c->s;
	int i, j;

	for (i = 0; i < ns; i++) {
		struct rstripe *r = &rs[i];
		uint32_t erased = r->cand[r->pick];
		uint32_t suspects = erased & ~r->e0;

		if (erased & r->touched)
			atomic_fetch_add(&ag_stripe_rebuilds, 1);
		if (!suspects)
			continue;
		rebuild(c, r, erased);
		for (j = 0; j < s->w; j++) {
			int d = slot_drive(s, r->t, j);

			if (!(suspects >> j & 1) ||
			    !memcmp(c->scratch[j], r->raw[j], s->strip))
				continue;
			atomic_fetch_add(&s->ds->d[d].csum_errors, 1);
			AG_WARN("drive %d returned bad bytes for segment %u "
				"stripe %u strip %d; rebuilt", d, seg, r->t, j);
		}
	}
}

static int read_slow(struct ag_stripes *s, uint32_t seg, uint64_t off,
		     uint8_t *buf, size_t len, uint32_t crc)
{
	uint32_t t0 = off / s->spay, t1 = (off + len - 1) / s->spay;
	int ns = t1 - t0 + 1, i, j, rc;
	struct rstripe *rs;
	struct rctx c = { .s = s, .buf = buf };
	uint8_t *mem;

	/* a mirrored stripe has whole copies: try them before any rebuild
	 * (for an erasure-coded stripe this fails at the crc) */
	if (ag_mirror_read(s, seg, off, buf, len, crc) == 0)
		return 0;
	rs = calloc(ns, sizeof(*rs));
	mem = ag_alloc_aligned(((size_t)ns + 1) * s->w * s->strip);
	if (!rs || !mem) {
		rc = -ENOMEM;
		goto out;
	}
	for (j = 0; j < s->w; j++)
		c.scratch[j] = mem + ((size_t)ns * s->w + j) * s->strip;
	for (i = 0; i < ns; i++) {
		struct rstripe *r = &rs[i];
		uint64_t base = (uint64_t)(t0 + i) * s->spay;
		uint8_t ok[AG_EC_MAX];

		r->t = t0 + i;
		r->lo = AG_MAX(off, base) - base;
		r->hi = AG_MIN(off + len, base + s->spay) - base;
		r->at = base + r->lo - off;
		for (j = r->lo / s->strip; j <= (int)((r->hi - 1) / s->strip);
		     j++)
			r->touched |= 1u << j;
		for (j = 0; j < s->w; j++)
			r->raw[j] = mem + ((size_t)i * s->w + j) * s->strip;
		rc = ag_stripes_read_raw(s, seg, r->t, r->raw, ok);
		if (rc)
			goto out;
		for (j = 0; j < s->w; j++)
			if (!ok[j])
				r->e0 |= 1u << j;
		if (__builtin_popcount(r->e0) > s->m) {
			AG_ERR("segment %u stripe %u: only %d of %d strips "
			       "readable, %d needed", seg, r->t,
			       s->w - __builtin_popcount(r->e0), s->w, s->k);
			rc = -EIO;
			goto out;
		}
	}
	for (i = 0; i < ns; i++) {
		rc = plan(&c, &rs[i]);
		if (rc)
			goto out;
	}
	rc = search(&c, rs, ns, crc);
	if (!rc)
		account(&c, rs, ns, seg);
	else if (rc == -AG_ECORRUPT)
		AG_ERR("corruption: no rebuild of data %u:%llu+%zu matches "
		       "its crc", seg, (unsigned long long)off, len);
out:
	if (rs)
		for (i = 0; i < ns; i++)
			free(rs[i].cand);
	free(rs);
	free(mem);
	return rc;
}

int ag_stripes_read(struct ag_stripes *s, uint64_t addr, void *buf,
		    size_t len, uint32_t crc)
{
	uint32_t seg = AG_ADDR_SEG(addr), got = CRC_SEED;
	uint64_t off = AG_ADDR_IDX(addr), x, end = off + len;
	uint8_t *p = buf;

	if (seg >= s->l->nsegments || len > s->payload ||
	    off > s->payload - len)
		return -EINVAL;
	for (x = off; x < end;) {
		uint64_t doff;
		size_t n;
		int d = locate(s, seg, x, end, &doff, &n);

		if (!drive_ok(s, d) || ag_drive_read(s->ds, d, p, n, doff))
			return read_slow(s, seg, off, buf, len, crc);
		got = crc_more(got, p, n);
		p += n;
		x += n;
	}
	if (got == crc)
		return 0;
	if (!len)
		return -AG_ECORRUPT;
	return read_slow(s, seg, off, buf, len, crc);
}

struct piece {
	int drive;
	uint64_t off;  /* on the drive */
	uint8_t *dst;
	size_t len;
};

struct range_job {
	struct piece *pc;
	int n;
};

/* Runs on drive d's thread: one aligned read spanning all of d's pieces,
 * copied out to their places in the caller's buffer. */
static int read_pieces(struct ag_drives *ds, int d, void *arg)
{
	const struct range_job *job = arg;
	uint64_t lo = UINT64_MAX, hi = 0;
	uint8_t *tmp;
	int i, rc;

	for (i = 0; i < job->n; i++) {
		if (job->pc[i].drive != d)
			continue;
		lo = AG_MIN(lo, job->pc[i].off);
		hi = AG_MAX(hi, job->pc[i].off + job->pc[i].len);
	}
	if (lo == UINT64_MAX)
		return 0;
	lo &= ~(uint64_t)(AG_BLOCK - 1);
	hi = (hi + AG_BLOCK - 1) & ~(uint64_t)(AG_BLOCK - 1);
	tmp = ag_pool_scratch(ds, d, hi - lo);
	if (!tmp)
		return -ENOMEM;
	rc = ag_drive_read(ds, d, tmp, hi - lo, lo);
	for (i = 0; !rc && i < job->n; i++)
		if (job->pc[i].drive == d)
			memcpy(job->pc[i].dst, tmp + (job->pc[i].off - lo),
			       job->pc[i].len);
	return rc;
}

int ag_stripes_read_range(struct ag_stripes *s, uint64_t addr, void *buf,
			  size_t len)
{
	uint32_t seg = AG_ADDR_SEG(addr);
	uint64_t off = AG_ADDR_IDX(addr), x, end = off + len;
	struct range_job job = { 0 };
	uint8_t *p = buf;
	int i, cap, rc = 0;

	if (seg >= s->l->nsegments || len > s->payload ||
	    off > s->payload - len)
		return -EINVAL;
	cap = (int)(len / s->strip) + 2;
	job.pc = malloc(cap * sizeof(*job.pc));
	if (!job.pc)
		return -ENOMEM;
	for (x = off; x < end;) {
		uint64_t doff;
		size_t n;
		int d = locate(s, seg, x, end, &doff, &n);

		if (!drive_ok(s, d) || job.n == cap) {
			rc = -EIO;
			break;
		}
		job.pc[job.n].drive = d;
		job.pc[job.n].off = doff;
		job.pc[job.n].dst = p;
		job.pc[job.n++].len = n;
		p += n;
		x += n;
	}
	if (!rc) {
		int rcs[AG_MAX_DRIVES];

		ag_pool_run(s->ds, read_pieces, &job, rcs);
		for (i = 0; i < s->ds->n; i++)
			if (rcs[i] < 0)
				rc = -EIO;
	}
	free(job.pc);
	return rc;
}

/* ---- the packer ---- */

static int finish_write(struct ag_packer *p);
static int write_batch(struct ag_packer *p);

static uint8_t *batch_stripe(const struct ag_packer *p, uint8_t *b, int i)
{
	return b + (size_t)i * p->s->w * p->s->strip;
}

int ag_packer_new(struct ag_stripes *s, struct ag_packer **pp)
{
	struct ag_packer *p = calloc(1, sizeof(*p));
	size_t bytes = (size_t)s->batch * s->w * s->strip;

	if (!p)
		return -ENOMEM;
	p->s = s;
	p->bbuf = ag_alloc_aligned(bytes);
	p->wbuf = ag_alloc_aligned(bytes);
	p->bdone = calloc(s->batch, sizeof(*p->bdone));
	if (!p->bbuf || !p->wbuf || !p->bdone) {
		free(p->bbuf);
		free(p->wbuf);
		free(p->bdone);
		free(p);
		return -ENOMEM;
	}
	p->buf = p->bbuf;
	*pp = p;
	return 0;
}

void ag_packer_free(struct ag_packer *p)
{
	if (!p)
		return;
	finish_write(p);
	free(p->bbuf);
	free(p->wbuf);
	free(p->bdone);
	free(p->done);
	free(p);
}

/* Leave the segment: write what is whole, drop what is not. */
static void leave(struct ag_packer *p, const char *how)
{
	/* a batch that cannot be written stays pending behind the one
	 * before it, whose failure the next flush or take reports */
	write_batch(p);
	finish_write(p);
	if (p->active && (p->used > p->written || p->nbatch))
		AG_WARN("packer: segment %u %s with %llu bytes not flushed; "
			"they are dropped", p->seg, how,
			(unsigned long long)(p->used - p->written +
					     p->nbatch * p->s->spay));
	p->active = 0;
	p->used = 0;
	p->written = 0;
	p->mirrored = 0;
	p->crossed = 0;
	p->nbatch = 0;
	p->buf = p->bbuf;
}

void ag_packer_start(struct ag_packer *p, uint32_t seg, uint64_t fill)
{
	struct ag_stripes *s = p->s;

	leave(p, "restarted");
	if (seg >= s->l->nsegments || fill % s->spay || fill > s->payload) {
		AG_ERR("packer: cannot start segment %u at %llu", seg,
		       (unsigned long long)fill);
		return;
	}
	p->seg = seg;
	p->fill = fill;
	/* even when full: the segment stays open (room 0) until the owner
	 * stops it and hands the lease back */
	p->active = 1;
}

int ag_packer_active(const struct ag_packer *p)
{
	return p->active;
}

uint64_t ag_packer_room(const struct ag_packer *p)
{
	/* what does not fit a mirrored stripe goes to the next one */
	if (p->active && p->mirrored)
		return AG_MAX(p->s->mcap - p->used,
			      p->s->payload - p->fill - p->s->spay);
	return p->active ? p->s->payload - p->fill - p->used : 0;
}

uint64_t ag_packer_fill(const struct ag_packer *p)
{
	return p->fill + (p->used ? p->s->spay : 0);
}

/* Runs on drive d's thread: write the strips of the batch being written
 * (p->wbuf) that lie on d. A stripe has at most one strip on a drive and
 * a drive's slots follow one another on it, so they go as one run. */
static int write_strips(struct ag_drives *ds, int d, void *arg)
{
	const struct ag_packer *p = arg;
	const struct ag_stripes *s = p->s;
	struct iovec iov[AG_BATCH_MAX];
	uint64_t off = 0;
	int i, j, n = 0;

	if (!drive_ok(s, d))
		return 1;
	for (i = 0; i < p->wn; i++) {
		for (j = 0; j < s->w; j++) {
			if (slot_drive(s, p->wt + i, j) != d)
				continue;
			if (!n)
				off = slot_off(s, p->wseg, p->wt + i, j);
			iov[n].iov_base = batch_stripe(p, p->wbuf, i) +
					  (size_t)j * s->strip;
			iov[n++].iov_len = s->strip;
		}
	}
	return n ? ag_drive_writev(ds, d, iov, n, off) : 1;
}

/* The drives the batch being written has strips on. */
static uint64_t batch_drives(const struct ag_packer *p)
{
	uint64_t mask = 0;
	int i, j;

	for (i = 0; i < p->wn; i++)
		for (j = 0; j < p->s->w; j++)
			mask |= 1ull << slot_drive(p->s, p->wt + i, j);
	return mask;
}

/* The fewest strips that landed of any stripe being written. */
static int landed(const struct ag_packer *p)
{
	const struct ag_stripes *s = p->s;
	int i, j, least = s->w;

	for (i = 0; i < p->wn; i++) {
		int n = 0;

		for (j = 0; j < s->w; j++)
			n += !p->wjob.rc[slot_drive(s, p->wt + i, j)];
		least = AG_MIN(least, n);
	}
	return least;
}

/* Wait for the batch being written and check that k strips at least of
 * each of its stripes landed (a degraded write is fine: the missing
 * strips are rebuilt on read like any erasure). One that did not is
 * written again, and on a second failure stays pending for the next
 * call: -EIO. */
static int finish_write(struct ag_packer *p)
{
	struct ag_stripes *s = p->s;

	if (!p->writing)
		return 0;
	ag_pool_wait(s->ds, &p->wjob);
	if (landed(p) < s->k) {
		ag_pool_start(s->ds, &p->wjob);
		ag_pool_wait(s->ds, &p->wjob);
	}
	if (landed(p) < s->k) {
		AG_ERR("segment %u stripes %u-%u: only %d of %d strips of one "
		       "written, %d needed", p->wseg, p->wt, p->wt + p->wn - 1,
		       landed(p), s->w, s->k);
		return -EIO;
	}
	p->writing = 0;
	return 0;
}

/* Start writing the batch once the one before it is on the drives; when
 * that one cannot be written, nothing moves and a later add, flush or
 * take tries again. The stripes are reported in the done list now: it is
 * taken only after the write is checked. */
static int write_batch(struct ag_packer *p)
{
	struct ag_stripes *s = p->s;
	uint8_t *open = p->buf, *wbuf = p->wbuf;
	int rc = finish_write(p);

	if (rc || !p->nbatch)
		return rc;
	rc = ag_packer_grow_done(p, p->nbatch);
	if (rc)
		return rc;
	memcpy(p->done + p->ndone, p->bdone, p->nbatch * sizeof(*p->done));
	p->ndone += p->nbatch;
	p->wn = p->nbatch;
	p->wseg = p->seg;
	p->wt = (uint32_t)(p->fill / s->spay) - p->nbatch;
	p->wbuf = p->bbuf;
	p->bbuf = p->buf = wbuf;
	/* the open stripe moves along (a mirrored one, flushed, goes on) */
	if (p->used)
		memcpy(p->buf, open, p->used);
	p->nbatch = 0;
	p->wjob.fn = write_strips;
	p->wjob.arg = p;
	p->wjob.mask = batch_drives(p);
	ag_pool_start(s->ds, &p->wjob);
	p->writing = 1;
	return 0;
}

/* Encode the full open stripe into the batch and open the next; a full
 * batch goes to the drives. */
static int put_stripe(struct ag_packer *p)
{
	struct ag_stripes *s = p->s;
	struct ag_stripe_done *sd = &p->bdone[p->nbatch];
	uint8_t *strips[AG_EC_MAX];
	int j;

	for (j = 0; j < s->w; j++)
		strips[j] = p->buf + (size_t)j * s->strip;
	ag_ec_encode(s->ec, s->strip, strips, strips + s->k);
	memset(sd, 0, sizeof(*sd));
	for (j = 0; j < s->w; j++)
		sd->crc[j] = ag_crc32c(strips[j], s->strip);
	sd->seg = p->seg;
	sd->stripe = p->fill / s->spay;
	p->nbatch++;
	/* one past the batch when it is full: write_batch moves it */
	p->buf = batch_stripe(p, p->bbuf, p->nbatch);
	p->fill += s->spay;
	p->used = 0;
	p->crossed = 0;
	return p->nbatch == s->batch ? write_batch(p) : 0;
}

int ag_packer_grow_done(struct ag_packer *p, int more)
{
	struct ag_stripe_done *nd;
	int cap = p->cap ? p->cap : 16;

	while (cap - p->ndone < more)
		cap *= 2;
	if (cap == p->cap)
		return 0;
	nd = realloc(p->done, cap * sizeof(*nd));
	if (!nd)
		return -ENOMEM;
	p->done = nd;
	p->cap = cap;
	return 0;
}

/* Leave the open mirrored stripe as it is: what follows starts the next
 * stripe. */
static void close_mirrored(struct ag_packer *p)
{
	p->fill += p->s->spay;
	p->used = 0;
	p->written = 0;
	p->mirrored = 0;
	p->crossed = 0;
}

int ag_packer_add(struct ag_packer *p, const void *buf, size_t len,
		  uint64_t *addr)
{
	struct ag_stripes *s = p->s;
	const uint8_t *src = buf;
	uint64_t at;
	int rc;

	if (len > ag_packer_room(p) || (!p->active && !len))
		return -ENOSPC;
	if (p->mirrored && p->used + len > s->mcap) {
		/* what was added since the last flush goes out first */
		rc = p->used > p->written ? ag_mirror_put(p) : 0;
		if (rc)
			return rc;
		close_mirrored(p);
	}
	/* a full batch whose write could not start yet */
	if (p->nbatch == s->batch) {
		rc = write_batch(p);
		if (rc)
			return rc;
	}
	at = p->fill + p->used;
	while (len) {
		size_t n = AG_MIN(len, s->spay - p->used);

		memcpy(p->buf + p->used, src, n);
		p->used += n;
		src += n;
		len -= n;
		if (p->used == s->spay) {
			rc = put_stripe(p);
			if (rc)
				return rc;
			p->crossed = len > 0;
		}
	}
	*addr = AG_ADDR(p->seg, at);
	return 0;
}

int ag_packer_kick(struct ag_packer *p)
{
	/* not behind a write still going: the stripes wait for the next
	 * kick or for a full batch instead */
	if (!p->nbatch || (p->writing && !ag_pool_done(p->s->ds, &p->wjob)))
		return 0;
	return write_batch(p);
}

int ag_packer_flush(struct ag_packer *p)
{
	struct ag_stripes *s = p->s;
	int mirror = 0, rc = 0;

	if (p->active && p->used > p->written) {
		/* a mirrored stripe holds whole chunks only, so that a
		 * rebuild of one never spans an erasure-coded stripe too */
		mirror = p->used <= s->mcap && !p->crossed;
		if (!mirror) {
			memset(p->buf + p->used, 0, s->spay - p->used);
			p->used = s->spay;
			rc = put_stripe(p);
		}
	}
	/* the batch before the mirrored stripe, whose done record must be
	 * the last (ag_mirror_put updates it in place) */
	if (!rc)
		rc = write_batch(p);
	if (!rc && mirror)
		rc = ag_mirror_put(p);
	return rc ? rc : finish_write(p);
}

int ag_packer_take(struct ag_packer *p, struct ag_stripe_done **list, int *n)
{
	/* every stripe listed is on the drives */
	int rc = write_batch(p);

	if (!rc)
		rc = finish_write(p);
	if (rc)
		return rc;
	*list = p->done;
	*n = p->ndone;
	p->done = NULL;
	p->ndone = 0;
	p->cap = 0;
	return 0;
}

void ag_packer_stop(struct ag_packer *p)
{
	leave(p, "stopped");
}

int ag_stripes_check_data(struct ag_drives *ds, const struct ag_commit_rec *r)
{
	struct ag_stripes *s;
	uint8_t *buf = NULL;
	uint32_t i, max = 0;
	int rc;

	if (!r->ndata)
		return 1;
	for (i = 0; i < r->ndata; i++)
		max = AG_MAX(max, r->data[i].len);
	rc = ag_stripes_new(ds, &s);
	if (rc)
		return rc == -ENOMEM ? rc : 0;
	buf = malloc(max ? max : 1);
	rc = buf ? 1 : -ENOMEM;
	/* a chunk that no way of reading gives back was lost with the
	 * cache of a drive: the record that names it is torn */
	for (i = 0; rc > 0 && i < r->ndata; i++)
		if (ag_stripes_read(s, r->data[i].addr, buf, r->data[i].len,
				    r->data[i].crc))
			rc = 0;
	if (!rc)
		AG_WARN("commit %llu names data that is not on the drives "
			"(chunk at %#llx)", (unsigned long long)r->gen,
			(unsigned long long)r->data[i - 1].addr);
	free(buf);
	ag_stripes_free(s);
	return rc;
}
