/*
 * test_stripe.c - unit tests for the data plane on a 6-drive 4+2 cluster
 * of files: packed runs of random length read back by address and crc,
 * stripe crcs match the drives, reads survive missing drives, failing
 * reads, lost writes and corrupt strips (and give up past m), degraded
 * packing, concurrent readers; a commit record that names a chunk
 * stands only while the chunk reads back. Its throughput figures are
 * bench/bench_stripe's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "format.h"
#include "stripes.h"
#include "util.h"

#define MAXRUNS 1024

struct run {
	uint64_t addr;
	uint32_t len, crc;
	uint8_t *data;
};

static uint64_t rng;
static struct run runs[MAXRUNS];
static int nruns;

/* Where payload byte x of segment seg lives. */
static void locate(const struct ag_label *l, uint32_t seg, uint64_t x,
		   int *drive, uint64_t *off, int *stripe, int *strip)
{
	uint64_t t = x / SPAY, r = x % SPAY, slot = t * W + r / STRIP;

	*drive = ag_slot_drive(l, slot);
	*off = ag_slot_offset(l, seg, slot, STRIP) + r % STRIP;
	if (stripe)
		*stripe = t;
	if (strip)
		*strip = r / STRIP;
}

/* Bytes written of each mirrored stripe (0: erasure-coded), from the
 * packer's take lists. Groups of a mirrored stripe: G = W / (M + 1), group
 * g on slots g and G + g M .. G + g M + M - 1 (stripe.h). */
#define GROUPS (W / (M + 1))
#define MCAP ((uint64_t)GROUPS * STRIP)
static uint32_t mirrored[128][64];

static int mirror_slot(int g, int r)
{
	return r ? GROUPS + g * M + r - 1 : g;
}

/* 1 if run r cannot be read with the drives of mask gone. */
static int run_touches(const struct ag_label *l, const struct run *r,
		       unsigned mask)
{
	uint64_t x = AG_ADDR_IDX(r->addr), end = x + r->len;
	uint32_t seg = AG_ADDR_SEG(r->addr);

	if (mirrored[seg][x / SPAY]) {
		uint64_t t = x / SPAY;
		int g, c, lost;

		for (g = x % SPAY / STRIP; g <= (int)((end - 1) % SPAY / STRIP);
		     g++) {
			for (c = 0, lost = 1; c <= M; c++)
				if (!(mask >> ag_slot_drive(l, t * W +
							    mirror_slot(g, c)) &
				      1))
					lost = 0;
			if (lost)
				return 1;
		}
		return 0;
	}

	for (; x < end; x = (x / STRIP + 1) * STRIP) {
		int d;
		uint64_t off;

		locate(l, AG_ADDR_SEG(r->addr), x, &d, &off, NULL, NULL);
		if (mask >> d & 1)
			return 1;
	}
	return 0;
}

static int read_one(struct ag_stripes *s, const struct run *r, uint8_t *buf)
{
	int rc = ag_stripes_read(s, r->addr, buf, r->len, r->crc);

	if (!rc && memcmp(buf, r->data, r->len))
		return -1000;
	return rc;
}

/* How many runs read back right; runs touching a drive of eio_mask must
 * give -EIO instead. */
static int read_all(struct ag_stripes *s, const struct ag_label *l,
		    unsigned eio_mask, int *first_bad)
{
	uint8_t *buf = malloc(300 << 10);
	int i, good = 0;

	*first_bad = -1;
	for (i = 0; i < nruns; i++) {
		int rc = read_one(s, &runs[i], buf);
		int want = run_touches(l, &runs[i], eio_mask) ? -EIO : 0;

		if (rc == want)
			good++;
		else if (*first_bad < 0)
			*first_bad = i;
	}
	free(buf);
	return good;
}

#define READ_ALL(s, l, mask, ...)                                         \
	do {                                                              \
		int bad_, good_ = read_all(s, l, mask, &bad_);            \
		ok(good_ == nruns, __VA_ARGS__);                          \
		if (good_ != nruns)                                       \
			diag("%d of %d right, first wrong run %d", good_, \
			     nruns, bad_);                                \
	} while (0)

static int add_run(struct ag_packer *p, uint32_t len, uint64_t *expect,
		   int *addr_ok)
{
	struct run *r = &runs[nruns];
	int rc;

	r->data = malloc(len ? len : 1);
	if (!r->data)
		return -ENOMEM;
	fill_random(&rng, r->data, len);
	r->len = len;
	r->crc = ag_crc32c(r->data, len);
	rc = ag_packer_add(p, r->data, len, &r->addr);
	if (rc) {
		free(r->data);
		return rc;
	}
	if (expect) {
		/* or the next stripe, when a mirrored one has no room */
		uint64_t next = (*expect + SPAY - 1) / SPAY * SPAY;

		if (r->addr != *expect && r->addr != next)
			*addr_ok = 0;
		*expect = r->addr + len;
	}
	nruns++;
	return 0;
}

/* Mostly small runs, so that two segments hold a few hundred of them,
 * with enough big ones to cross strips and stripes. */
static uint32_t random_len(void)
{
	switch (tap_rand(&rng) % 8) {
	case 0: case 1: case 2: case 3:
		return 1 + tap_rand(&rng) % 100;
	case 4: case 5:
		return 1 + tap_rand(&rng) % 8192;
	case 6:
		return 1 + tap_rand(&rng) % (64 << 10);
	default:
		return 1 + tap_rand(&rng) % (300 << 10);
	}
}

/* Pack random runs into segments first..last, flushing now and then. */
static int pack_segments(struct ag_packer *p, uint32_t first, uint32_t last,
			 int *addr_ok, int *crossings)
{
	uint32_t seg = first;
	uint64_t expect = AG_ADDR(seg, 0);
	int rc;

	ag_packer_start(p, seg, 0);
	while (nruns < MAXRUNS) {
		uint32_t len = random_len();
		uint64_t a;

		if (len > ag_packer_room(p)) {
			rc = ag_packer_flush(p);
			if (rc || seg == last)
				return rc;
			ag_packer_start(p, ++seg, 0);
			expect = AG_ADDR(seg, 0);
		}
		rc = add_run(p, len, &expect, addr_ok);
		if (rc)
			return rc;
		a = AG_ADDR_IDX(runs[nruns - 1].addr);
		if (a / SPAY != (a + len - 1) / SPAY)
			crossings[1]++;
		else if (a / STRIP != (a + len - 1) / STRIP)
			crossings[0]++;
		if (tap_rand(&rng) % 32 == 0) {
			uint64_t f = ag_packer_fill(p);

			rc = ag_packer_flush(p);
			if (rc)
				return rc;
			if (ag_packer_fill(p) != f)
				*addr_ok = 0;
			/* a mirrored stripe goes on at the next block, a
			 * padded one at the next stripe */
			expect = (expect + AG_BLOCK - 1) &
				 ~(uint64_t)(AG_BLOCK - 1);
		}
	}
	return ag_packer_flush(p);
}

/* Check the stripes written since the last take against the drives: the
 * strip crcs of erasure-coded ones, the copies of mirrored ones (a copy on
 * a missing drive is not counted). *count: stripes, *nec: erasure-coded
 * ones. Returns the bad strips and copies. */
static int check_take(struct cluster *c, int *count, int *nec)
{
	struct ag_stripes *s = c->s;
	const struct ag_label *l = &c->f.ds->label;
	struct ag_stripe_done *list;
	uint8_t *bufs[W], ok_[W];
	int n, i, j, bad = 0;

	if (ag_packer_take(c->p, &list, &n))
		return -1;
	*count = n;
	*nec = 0;
	for (j = 0; j < W; j++)
		bufs[j] = ag_alloc_aligned(STRIP);
	for (i = 0; i < n; i++) {
		if (i && list[i].seg == list[i - 1].seg &&
		    list[i].stripe <= list[i - 1].stripe)
			bad++;
		if (list[i].mirrored) {
			uint64_t slot0 = (uint64_t)list[i].stripe * W;

			mirrored[list[i].seg][list[i].stripe] = list[i].mirrored;
			if (list[i].mirrored > MCAP ||
			    ag_stripes_check_mirror(s, list[i].seg,
						    list[i].stripe,
						    list[i].mirrored, ok_) < 0)
				bad++;
			else
				for (j = 0; j < W; j++)
					bad += ok_[j] == 2 ||
					       (ok_[j] == 1 &&
						c->f.ds->d[ag_slot_drive(l, slot0 + j)]
							.state == AG_DRIVE_OK);
			continue;
		}
		(*nec)++;
		if (ag_stripes_read_raw(s, list[i].seg, list[i].stripe, bufs,
					ok_)) {
			bad++;
			continue;
		}
		for (j = 0; j < W; j++)
			if (!ok_[j] ||
			    ag_crc32c(bufs[j], STRIP) != list[i].crc[j])
				bad++;
	}
	for (j = 0; j < W; j++)
		free(bufs[j]);
	free(list);
	return bad;
}

/*
 * Read-modify-write the 4K block around [off, off + len) of a drive file
 * behind the library's back: junk (save[] xor random non-zero) when
 * corrupting, save[] when healing. The file is opened O_DIRECT like the
 * library opens it, so page cache and direct reads cannot disagree.
 */
static int poke(struct ag_drives *ds, int d, uint64_t off, size_t len,
		uint8_t *save, int heal)
{
	uint64_t blk = off & ~(uint64_t)(AG_BLOCK - 1);
	uint8_t *b = ag_alloc_aligned(AG_BLOCK);
	int fd = open(ds->d[d].path, O_RDWR | O_DIRECT), rc = -1;
	size_t i;

	if (fd < 0 && errno == EINVAL)
		fd = open(ds->d[d].path, O_RDWR);
	if (fd < 0 || !b || off + len > blk + AG_BLOCK ||
	    pread(fd, b, AG_BLOCK, blk) != AG_BLOCK)
		goto out;
	if (heal) {
		memcpy(b + (off - blk), save, len);
	} else {
		memcpy(save, b + (off - blk), len);
		for (i = 0; i < len; i++)
			b[off - blk + i] ^= 1 + tap_rand(&rng) % 255;
	}
	if (pwrite(fd, b, AG_BLOCK, blk) != AG_BLOCK || fdatasync(fd))
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(b);
	return rc;
}

struct damage {
	int drive;
	uint64_t off;
	uint8_t save[512];
};

/* Corrupt 512 bytes at payload byte x of run r's segment. */
static int hurt(struct ag_drives *ds, const struct run *r, uint64_t x,
		struct damage *dm)
{
	locate(&ds->label, AG_ADDR_SEG(r->addr), x, &dm->drive, &dm->off, NULL,
	       NULL);
	dm->off &= ~511ull;
	return poke(ds, dm->drive, dm->off, 512, dm->save, 0);
}

static int heal(struct ag_drives *ds, struct damage *dm)
{
	return poke(ds, dm->drive, dm->off, 512, dm->save, 1);
}

/* A run spanning at least nstrips data strips of one stripe, or -1. */
static int find_run(int nstrips, int cross_stripe)
{
	int i;

	for (i = 0; i < nruns; i++) {
		uint64_t a = AG_ADDR_IDX(runs[i].addr), e = a + runs[i].len - 1;

		if (cross_stripe) {
			if (a / SPAY != e / SPAY && e % SPAY >= STRIP &&
			    a % SPAY < SPAY - STRIP)
				return i;
			continue;
		}
		if (a / SPAY == e / SPAY &&
		    (int)(e / STRIP - a / STRIP) + 1 >= nstrips)
			return i;
	}
	return -1;
}

static int fail_drive = -1, drop_drive = -1;

static int hook(int drive, int is_write, uint64_t off, size_t len)
{
	(void)off;
	(void)len;
	if (!is_write && drive == fail_drive)
		return -EIO;
	if (is_write && drive == drop_drive)
		return 1;
	if (is_write && fail_drive == 99 && drive < 3)
		return -EIO;
	return 0;
}

static void test_corruption(struct cluster *c)
{
	struct ag_drives *ds = c->f.ds;
	struct damage dm[6];
	uint8_t *buf = malloc(300 << 10);
	unsigned long before, csum0;
	int i, r, rc;
	uint64_t a;

	/* (b) one corrupt data strip */
	r = find_run(1, 0);
	a = AG_ADDR_IDX(runs[r].addr);
	ok(!hurt(ds, &runs[r], a + runs[r].len / 2, &dm[0]),
	   "corrupted a data strip under run %d", r);
	before = atomic_load(&ag_stripe_rebuilds);
	csum0 = atomic_load(&ds->d[dm[0].drive].csum_errors);
	rc = read_one(c->s, &runs[r], buf);
	ok(rc == 0, "read over one corrupt strip is rebuilt (%d)", rc);
	ok(atomic_load(&ag_stripe_rebuilds) > before,
	   "ag_stripe_rebuilds counted it");
	ok(atomic_load(&ds->d[dm[0].drive].csum_errors) > csum0,
	   "the lying drive got a checksum error");
	READ_ALL(c->s, &ds->label, 0, "all runs right with one corrupt strip");

	/* the same corruption with a drive missing: no spare parity left,
	 * only the crc tells which strip lies */
	ds->d[(dm[0].drive + 1) % NDRIVES].state = AG_DRIVE_MISSING;
	READ_ALL(c->s, &ds->label, 0,
		 "all runs right with one corrupt strip and a drive missing");
	ds->d[(dm[0].drive + 1) % NDRIVES].state = AG_DRIVE_OK;
	ok(!heal(ds, &dm[0]), "healed");

	/* two corrupt strips of one stripe */
	r = find_run(2, 0);
	if (r < 0) {
		ok(0, "no run spans two strips");
	} else {
		a = AG_ADDR_IDX(runs[r].addr);
		hurt(ds, &runs[r], a, &dm[0]);
		hurt(ds, &runs[r], a + runs[r].len - 1, &dm[1]);
		before = atomic_load(&ag_stripe_rebuilds);
		rc = read_one(c->s, &runs[r], buf);
		ok(rc == 0 && atomic_load(&ag_stripe_rebuilds) > before,
		   "read over two corrupt strips of a stripe is rebuilt (%d)",
		   rc);
		READ_ALL(c->s, &ds->label, 0,
			 "all runs right with two corrupt strips in a stripe");
		heal(ds, &dm[1]);
		heal(ds, &dm[0]);
	}

	/* two corrupt strips in each of two stripes under one run */
	r = find_run(0, 1);
	if (r < 0) {
		ok(0, "no run crosses a stripe boundary over two strips");
	} else {
		uint64_t e;

		a = AG_ADDR_IDX(runs[r].addr);
		e = a + runs[r].len - 1;
		hurt(ds, &runs[r], a, &dm[0]);
		hurt(ds, &runs[r], AG_MIN(e, (a / STRIP + 1) * STRIP), &dm[1]);
		hurt(ds, &runs[r], e, &dm[2]);
		hurt(ds, &runs[r], (e / STRIP - 1) * STRIP, &dm[3]);
		rc = read_one(c->s, &runs[r], buf);
		ok(rc == 0, "read over 2 + 2 corrupt strips in two stripes "
			    "is rebuilt (%d)", rc);
		for (i = 3; i >= 0; i--)
			heal(ds, &dm[i]);
	}

	/* three corrupt strips of one stripe: beyond m */
	r = find_run(3, 0);
	if (r < 0) {
		ok(0, "no run spans three strips");
	} else {
		a = AG_ADDR_IDX(runs[r].addr);
		for (i = 0; i < 3; i++)
			hurt(ds, &runs[r], (a / STRIP + i) * STRIP +
				   (i ? 0 : a % STRIP), &dm[i]);
		rc = read_one(c->s, &runs[r], buf);
		ok(rc == -AG_ECORRUPT,
		   "three corrupt strips give -AG_ECORRUPT (%d)", rc);
		for (i = 2; i >= 0; i--)
			heal(ds, &dm[i]);
		ok(read_one(c->s, &runs[r], buf) == 0, "healed, reads again");
	}
	free(buf);
}

struct reader_arg {
	struct ag_stripes *s;
	int start, bad;
};

static void *reader(void *v)
{
	struct reader_arg *ra = v;
	uint8_t *buf = malloc(300 << 10);
	int i, pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < nruns; i++) {
			const struct run *r = &runs[(i + ra->start) % nruns];

			if (read_one(ra->s, r, buf))
				ra->bad++;
		}
	free(buf);
	return NULL;
}

static void test_threads(struct cluster *c)
{
	struct reader_arg ra[4];
	pthread_t th[4];
	struct damage dm;
	int i, bad = 0, r = find_run(1, 0);

	/* every reader hits the slow path: a drive is gone and a strip lies */
	c->f.ds->d[5].state = AG_DRIVE_MISSING;
	hurt(c->f.ds, &runs[r], AG_ADDR_IDX(runs[r].addr), &dm);
	if (dm.drive == 5) {
		heal(c->f.ds, &dm);
		hurt(c->f.ds, &runs[r], AG_ADDR_IDX(runs[r].addr) + STRIP, &dm);
	}
	for (i = 0; i < 4; i++) {
		ra[i].s = c->s;
		ra[i].start = i * nruns / 4;
		ra[i].bad = 0;
		pthread_create(&th[i], NULL, reader, &ra[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += ra[i].bad;
	}
	ok(!bad, "4 concurrent readers, degraded and corrupt: %d bad", bad);
	heal(c->f.ds, &dm);
	c->f.ds->d[5].state = AG_DRIVE_OK;
}

static void test_degraded_packing(struct cluster *c)
{
	struct ag_label *l = &c->f.ds->label;
	struct ag_stripe_done *list;
	int first = nruns, addr_ok = 1, cross[2] = { 0, 0 }, rc, i, n, nec, bad;
	uint64_t a;

	/* (d) pack with drive 2 missing; when it comes back it holds none
	 * of those strips (zeros), which the crc catches */
	c->f.ds->d[2].state = AG_DRIVE_MISSING;
	rc = pack_segments(c->p, 2, 3, &addr_ok, cross);
	ok(!rc && addr_ok, "packed segments 2-3 with a drive missing "
			  "(%d runs)", nruns - first);
	bad = check_take(c, &n, &nec);
	ok(bad == nec, "take: %d stripes (%d erasure-coded), only the "
		       "missing strips unreadable (%d)", n, nec, bad);
	READ_ALL(c->s, l, 0, "all runs right, drive still missing");
	c->f.ds->d[2].state = AG_DRIVE_OK;
	READ_ALL(c->s, l, 0, "all runs right, drive back without its strips");

	/* lost writes: the drive says yes and keeps nothing */
	first = nruns;
	drop_drive = 4;
	ag_packer_start(c->p, 4, 0);
	for (i = 0; i < 20; i++)
		rc |= add_run(c->p, random_len(), NULL, NULL);
	rc |= ag_packer_flush(c->p);
	drop_drive = -1;
	ok(!rc, "packed segment 4 with a drive dropping writes");
	READ_ALL(c->s, l, 0, "all runs right after lost writes");

	/* too few drives take the stripe: its write, started when it was
	 * full, is checked (and tried again) by the next flush and take */
	fail_drive = 99;
	a = ag_packer_fill(c->p);
	rc = add_run(c->p, SPAY, NULL, NULL);
	ok(!rc && ag_packer_fill(c->p) == a + SPAY,
	   "a full stripe goes to the drives while the next one fills");
	rc = ag_packer_flush(c->p);
	ok(rc == -EIO, "a stripe only 3 drives take: the flush fails with "
	   "-EIO (%d)", rc);
	rc = ag_packer_take(c->p, &list, &n);
	ok(rc == -EIO, "and so does a take (%d)", rc);
	fail_drive = -1;
	ok(!ag_packer_flush(c->p), "the next flush writes it");
	ok(!ag_packer_take(c->p, &list, &n) && n > 0 &&
	   list[n - 1].stripe == a / SPAY, "and the take lists it");
	free(list);
	READ_ALL(c->s, l, 0, "all runs right after the failed stripe");
}

/* Small commits into a fresh segment: each flush writes blocks, mirrored,
 * and the next run follows at the next block of the same stripe. */
static void test_mirrored(struct cluster *c)
{
	struct ag_drives *ds = c->f.ds;
	struct ag_stripe_done *list;
	uint8_t *buf = malloc(MCAP), bad[W];
	uint64_t expect = AG_ADDR(11, 0), fill;
	int first = nruns, i, n, addr_ok = 1, rc = 0, d0;
	unsigned long csum;
	struct damage dm;

	ag_packer_start(c->p, 11, 0);
	for (i = 0; i < 3; i++) {
		rc |= add_run(c->p, 5000, &expect, &addr_ok);
		rc |= ag_packer_flush(c->p);
		expect = (expect + AG_BLOCK - 1) & ~(uint64_t)(AG_BLOCK - 1);
	}
	ok(!rc && addr_ok && runs[first + 1].addr == AG_ADDR(11, 8192) &&
	   runs[first + 2].addr == AG_ADDR(11, 16384),
	   "three flushed 5000-byte runs sit one 8K apart in stripe 0");
	fill = ag_packer_fill(c->p);
	ag_packer_take(c->p, &list, &n);
	ok(n == 1 && list[0].stripe == 0 && list[0].mirrored == 24576 &&
	   fill == SPAY, "taken as one mirrored stripe of 24K (%d, %u)", n,
	   n ? list[0].mirrored : 0);
	if (n)
		mirrored[11][0] = list[0].mirrored;
	free(list);
	ok(ag_stripes_check_mirror(c->s, 11, 0, 24576, bad) == 0,
	   "every copy of it is on the drives and equal");

	d0 = ag_slot_drive(&ds->label, 0);
	ds->d[d0].state = AG_DRIVE_MISSING;
	ok(read_one(c->s, &runs[first], buf) == 0,
	   "read right with the first copy's drive missing");
	ds->d[d0].state = AG_DRIVE_OK;

	hurt(ds, &runs[first + 1], AG_ADDR_IDX(runs[first + 1].addr) + 100,
	     &dm);
	csum = atomic_load(&ds->d[dm.drive].csum_errors);
	ok(read_one(c->s, &runs[first + 1], buf) == 0 &&
	   atomic_load(&ds->d[dm.drive].csum_errors) > csum,
	   "read right over a corrupt first copy, which is charged");
	ok(ag_stripes_check_mirror(c->s, 11, 0, 24576, bad) == 1 &&
	   bad[0] == 2, "the check finds the copy that differs");
	heal(ds, &dm);
	{
		/* two drives new, their copies of group 0 zeros (slots 2
		 * and 3 of the stripe, on drives 2 and 3): zeros are a
		 * majority, unless those drives do not vote */
		uint8_t *zero = ag_alloc_aligned(STRIP);
		uint64_t fresh = 0;
		int j, n2, repaired = -1;

		memset(zero, 0, STRIP);
		for (j = 2; j <= 3; j++) {
			d0 = ag_slot_drive(&ds->label, (uint64_t)j);
			fresh |= 1ull << d0;
			ag_drive_write(ds, d0, zero, STRIP,
				       ag_slot_offset(&ds->label, 11, j, STRIP));
		}
		n2 = ag_stripes_rebuild_mirror(c->s, 11, 0, 24576, fresh, 1,
					       bad, &repaired);
		ok(n2 == 2 && repaired == 2 && bad[2] == 2 && bad[3] == 2,
		   "a rebuild writes the one old copy over the two new ones "
		   "(%d repaired)", repaired);
		ok(ag_stripes_check_mirror(c->s, 11, 0, 24576, bad) == 0 &&
		   read_one(c->s, &runs[first + 2], buf) == 0,
		   "after which every copy is equal and reads right");
		free(zero);
	}

	rc = add_run(c->p, (uint32_t)MCAP, &expect, &addr_ok);
	ok(!rc && runs[nruns - 1].addr == AG_ADDR(11, SPAY),
	   "a run the mirrored stripe has no room for starts the next");
	rc = ag_packer_flush(c->p);
	ag_packer_take(c->p, &list, &n);
	ok(!rc && n == 1 && list[0].stripe == 1 && list[0].mirrored == MCAP,
	   "which is mirrored in turn");
	free(list);
	ag_packer_stop(c->p);
	free(buf);
}

/* ag_commit_pick's check of records that list no pages: their data. */
static int data_check(void *arg, const struct ag_commit_rec *r)
{
	return ag_stripes_check_data(arg, r);
}

/* Write zeros over segment seg of drive d. */
static int zero_segment(struct ag_drives *ds, int d, uint32_t seg)
{
	const struct ag_label *l = &ds->label;
	uint8_t *z = ag_alloc_aligned(l->segment_size);
	int rc;

	if (!z)
		return -ENOMEM;
	memset(z, 0, l->segment_size);
	rc = ag_drive_write(ds, d, z, l->segment_size,
			    ag_slot_offset(l, seg, 0, 0));
	free(z);
	return rc;
}

/* A lazy commit record names a chunk written without a sync: it stands
 * while the chunk reads back (from any copy), and once the drives lost
 * the chunk (a power cut before the sync), the record before it is the
 * state. */
static void test_commit_data(struct cluster *c)
{
	static struct ag_commit_rec r, got, back;
	struct ag_drives *ds = c->f.ds;
	struct ag_stripe_done *list;
	uint8_t enc[AG_BLOCK], data[5000];
	uint64_t addr;
	int rc, i, n;

	fill_random(&rng, data, sizeof(data));
	ag_packer_start(c->p, 20, 0);
	rc = ag_packer_add(c->p, data, sizeof(data), &addr);
	if (!rc)
		rc = ag_packer_flush(c->p);
	ag_packer_take(c->p, &list, &n);
	free(list);
	ag_packer_stop(c->p);
	ok(!rc && n == 1, "a chunk of 5000 bytes written mirrored, unsynced");

	memset(&r, 0, sizeof(r));
	memcpy(r.uuid, ds->label.uuid, 16);
	r.epoch = 1;
	r.gen = 1;
	r.time_ns = ag_now_ns();
	rc = ag_commit_write(ds, &r);
	r.gen = 2;
	r.lazy_since = 2;
	r.ndata = 1;
	r.data[0].addr = addr;
	r.data[0].len = sizeof(data);
	r.data[0].crc = ag_crc32c(data, sizeof(data));
	if (!rc)
		rc = ag_commit_write(ds, &r);
	ag_commit_encode(enc, &r);
	ok(!rc && !ag_commit_decode(enc, sizeof(enc), &back) &&
	   back.ndata == 1 && back.data[0].addr == addr &&
	   back.data[0].len == sizeof(data) && back.data[0].crc == r.data[0].crc,
	   "records 1 and 2 written, 2 lazy and naming the chunk (%s)",
	   ag_strerror(rc));
	ok(ag_commit_fits(0, AG_COMMIT_DATA_MAX) &&
	   !ag_commit_fits(0, AG_COMMIT_DATA_MAX + 1) &&
	   ag_commit_fits(500, 1) && !ag_commit_fits(501, 1) &&
	   ag_commit_fits(AG_COMMIT_PAGES, 0),
	   "a record lists data in the room its pages leave");
	rc = ag_commit_read_latest(ds, &got, data_check, ds);
	ok(!rc && got.gen == 2, "with the chunk on the drives, 2 is the state");

	rc = zero_segment(ds, ag_slot_drive(&ds->label, 0), 20);
	if (!rc)
		rc = ag_commit_read_latest(ds, &got, data_check, ds);
	ok(!rc && got.gen == 2, "with its first copy lost, 2 still stands "
	   "(the chunk reads back from another)");

	for (i = 0; i < NDRIVES && !rc; i++)
		rc = zero_segment(ds, i, 20);
	ag_log_set_level(0);
	if (!rc)
		rc = ag_commit_read_latest(ds, &got, data_check, ds);
	ag_log_set_level(3);
	ok(!rc && got.gen == 1, "with every copy of the chunk lost, 2 is "
	   "torn: 1 is the state (%llu)", (unsigned long long)got.gen);
}

/* Large pieces (1 MiB, 4 stripes each) across segments on a cluster of
 * their own: every one reads back, and with a drive missing, rebuilt. */
static void test_big_pieces(const char *base)
{
	const size_t piece = 1 << 20;
	const int npieces = 24;
	uint8_t *src = malloc(4 << 20), *buf = malloc(piece);
	uint64_t addr[24];
	uint32_t crc[24], seg = 0;
	struct ag_stripe_done *list;
	struct cluster c;
	int i, n, rc;

	rc = cluster_open(&c, base, "64M");
	if (!rc && (!src || !buf))
		rc = -ENOMEM;
	if (!rc) {
		fill_random(&rng, src, 4 << 20);
		for (i = 0; i < npieces; i++)
			crc[i] = ag_crc32c(piece_src(src, piece, i), piece);
		rc = pack_pieces(&c, src, piece, npieces, addr, &seg);
	}
	if (!rc)
		rc = ag_packer_take(c.p, &list, &n);
	if (!rc) {
		free(list);
		rc = read_pieces(&c, piece, npieces, addr, crc, buf);
	}
	if (!rc) {
		c.f.ds->d[1].state = AG_DRIVE_MISSING;
		rc = read_pieces(&c, piece, npieces, addr, crc, buf);
		c.f.ds->d[1].state = AG_DRIVE_OK;
	}
	ok(!rc, "%d pieces of 1 MiB over %u segments read back, and with "
	   "drive 1 missing (%s)", npieces, seg + 1, ag_strerror(rc));
	cluster_close(&c);
	free(src);
	free(buf);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct cluster c;
	struct ag_label *l;
	struct ag_stripe_done *list;
	uint8_t *buf;
	int addr_ok = 1, cross[2] = { 0, 0 }, rc, n, nec, bad, i;
	uint64_t a;

	rng = tap_seed() | 1;
	ag_log_set_level(3);
	rc = cluster_open(&c, tmp && *tmp ? tmp : "/tmp", "64M");
	ok(!rc, "6 drives, 4+2, 64K strips, 1M segments (%s)",
	   ag_strerror(rc));
	if (rc)
		return tap_done();
	l = &c.f.ds->label;
	ok(ag_segment_payload(l) == 16 * SPAY, "segment payload %llu",
	   (unsigned long long)ag_segment_payload(l));
	ok(!ag_packer_active(c.p) && !ag_packer_room(c.p),
	   "a new packer has no segment");

	rc = pack_segments(c.p, 0, 1, &addr_ok, cross);
	ok(!rc, "packed segments 0 and 1: %d runs (%s)", nruns,
	   ag_strerror(rc));
	ok(addr_ok, "addresses follow each other, flushes skip to a stripe");
	ok(cross[0] > 0 && cross[1] > 0,
	   "%d runs cross strips, %d cross stripes", cross[0], cross[1]);
	bad = check_take(&c, &n, &nec);
	ok(n >= 16 && !bad, "take: %d stripes (%d erasure-coded), crcs and "
	   "copies match the drives (%d bad)", n, nec, bad);
	rc = ag_packer_take(c.p, &list, &n);
	ok(!rc && !n && !list, "take again: nothing new");

	READ_ALL(c.s, l, 0, "every run reads back by address and crc");

	buf = malloc(300 << 10);
	a = ag_segment_payload(l);
	ok(ag_stripes_read(c.s, AG_ADDR(0, a - 10), buf, 11, 0) == -EINVAL,
	   "a range leaving the segment is -EINVAL");
	ok(ag_stripes_read(c.s, AG_ADDR(l->nsegments, 0), buf, 1, 0) ==
		   -EINVAL, "a segment past the end is -EINVAL");
	rc = ag_stripes_read(c.s, runs[0].addr, buf, runs[0].len,
			     runs[0].crc ^ 1);
	ok(rc == -AG_ECORRUPT, "a wrong crc gives -AG_ECORRUPT (%d)", rc);
	free(buf);

	/* packer edge cases on a segment nobody else uses */
	ag_packer_start(c.p, 9, 3);
	ok(!ag_packer_active(c.p), "start at a fill off the stripe grid "
				   "is refused");
	ag_packer_start(c.p, 9, ag_segment_payload(l) - SPAY);
	ok(ag_packer_active(c.p) && ag_packer_room(c.p) == SPAY,
	   "start at the last stripe: room %llu",
	   (unsigned long long)ag_packer_room(c.p));
	rc = add_run(c.p, SPAY + 1, NULL, NULL);
	ok(rc == -ENOSPC, "adding past the room is -ENOSPC");
	rc = add_run(c.p, SPAY, NULL, NULL);
	ok(!rc && ag_packer_active(c.p) && !ag_packer_room(c.p) &&
	   ag_packer_fill(c.p) == ag_segment_payload(l),
	   "filling the last stripe leaves the segment open with no room");
	ok(add_run(c.p, 1, NULL, NULL) == -ENOSPC && !ag_packer_flush(c.p),
	   "a full segment takes nothing more, flush has nothing to do");
	ag_packer_stop(c.p);
	ok(!ag_packer_active(c.p) && !ag_packer_room(c.p),
	   "ag_packer_stop closes it");
	ag_packer_take(c.p, &list, &n);
	ok(n == 1 && list[0].seg == 9 && list[0].stripe == 15,
	   "it was written as stripe 15");
	free(list);

	/* (a) missing drives */
	c.f.ds->d[3].state = AG_DRIVE_MISSING;
	READ_ALL(c.s, l, 0, "all runs right with drive 3 missing");
	c.f.ds->d[0].state = AG_DRIVE_MISSING;
	READ_ALL(c.s, l, 0, "all runs right with drives 0, 3 missing");
	c.f.ds->d[4].state = AG_DRIVE_MISSING;
	ag_log_set_level(2); /* one error line per failed read */
	READ_ALL(c.s, l, 1u << 0 | 1u << 3 | 1u << 4,
		 "drives 0, 3, 4 missing: runs on them -EIO, others right");
	ag_log_set_level(3);
	for (i = 0; i < NDRIVES; i++)
		c.f.ds->d[i].state = AG_DRIVE_OK;

	/* (c) a drive failing every read */
	ag_drive_fault_hook = hook;
	fail_drive = 1;
	READ_ALL(c.s, l, 0, "all runs right with drive 1 failing reads");
	fail_drive = -1;

	/* (b) corrupt strips */
	test_corruption(&c);
	test_mirrored(&c);
	test_threads(&c);
	test_degraded_packing(&c);
	ag_drive_fault_hook = NULL;
	test_commit_data(&c);
	READ_ALL(c.s, l, 0, "everything still reads back at the end");
	for (i = 0; i < nruns; i++)
		free(runs[i].data);
	cluster_close(&c);
	test_big_pieces(tmp && *tmp ? tmp : "/tmp");
	return tap_done();
}
