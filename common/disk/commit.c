/*
 * commit.c - the commit record's codec, the ring on the drives, and the
 * pick of the record that is the state of the cluster (commit.h states
 * the rule).
 *
 * The codec is the only code that knows where a record's fields lie (the
 * offsets below, format.h's table). Everything else here works on
 * decoded records: the scan reads every ring whole, keeps the records of
 * this cluster that lie in their own slot and notes the damaged copies;
 * the pick takes the newest, asks whether it is whole, and passes over it
 * to the one before while it is not.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "format.h"
#include "page.h"
#include "pool.h"
#include "util.h"

/* The record's fields (format.h): byte offsets in its block. */
#define REC_MAGIC 0
#define REC_GEN 8
#define REC_ROOT 16
#define REC_EPOCH 24
#define REC_PAGE_EPOCH 28
#define REC_UUID 32
#define REC_TIME 48
#define REC_LAZY_SINCE 56
#define REC_NPAGES 64
#define REC_NDATA 68
#define REC_PAGES 72 /* npages u64 addresses, then ndata data entries */
#define DATA_LEN 16  /* address u64, length u32, crc32c u32 */
#define REC_CRC (AG_BLOCK - 4) /* crc32c of the bytes before it */

_Static_assert(REC_PAGES + 8 * AG_COMMIT_PAGES <= REC_CRC,
	       "the page list fits before the crc");

void ag_commit_encode(uint8_t *b, const struct ag_commit_rec *r)
{
	uint32_t i;

	memset(b, 0, AG_BLOCK);
	memcpy(b + REC_MAGIC, AG_COMMIT_MAGIC, 8);
	put_le64(b + REC_GEN, r->gen);
	put_le64(b + REC_ROOT, r->root);
	put_le32(b + REC_EPOCH, r->epoch);
	put_le32(b + REC_PAGE_EPOCH, r->page_epoch);
	memcpy(b + REC_UUID, r->uuid, 16);
	put_le64(b + REC_TIME, r->time_ns);
	put_le64(b + REC_LAZY_SINCE, r->lazy_since);
	put_le32(b + REC_NPAGES, r->npages);
	for (i = 0; i < r->npages && i < AG_COMMIT_PAGES; i++)
		put_le64(b + REC_PAGES + 8 * i, r->pages[i]);
	if (ag_commit_fits(r->npages, r->ndata)) {
		uint8_t *d = b + REC_PAGES + 8 * r->npages;

		put_le32(b + REC_NDATA, r->ndata);
		for (i = 0; i < r->ndata; i++, d += DATA_LEN) {
			put_le64(d, r->data[i].addr);
			put_le32(d + 8, r->data[i].len);
			put_le32(d + 12, r->data[i].crc);
		}
	}
	put_le32(b + REC_CRC, ag_crc32c(b, REC_CRC));
}

/* Every field of block b into r, believed or not (the remains of a
 * damaged copy are read so too); -AG_ECORRUPT, the lists unread, when
 * npages and ndata are more than a record can list. */
static int read_fields(const uint8_t *b, struct ag_commit_rec *r)
{
	uint32_t i;

	r->gen = get_le64(b + REC_GEN);
	r->root = get_le64(b + REC_ROOT);
	r->epoch = get_le32(b + REC_EPOCH);
	r->page_epoch = get_le32(b + REC_PAGE_EPOCH);
	memcpy(r->uuid, b + REC_UUID, 16);
	r->time_ns = get_le64(b + REC_TIME);
	r->lazy_since = get_le64(b + REC_LAZY_SINCE);
	r->npages = get_le32(b + REC_NPAGES);
	r->ndata = get_le32(b + REC_NDATA);
	if (!ag_commit_fits(r->npages, r->ndata)) {
		r->npages = r->ndata = 0;
		return -AG_ECORRUPT;
	}
	for (i = 0; i < r->npages; i++)
		r->pages[i] = get_le64(b + REC_PAGES + 8 * i);
	for (i = 0; i < r->ndata; i++) {
		const uint8_t *d = b + REC_PAGES + 8 * r->npages +
				   DATA_LEN * i;

		r->data[i].addr = get_le64(d);
		r->data[i].len = get_le32(d + 8);
		r->data[i].crc = get_le32(d + 12);
	}
	return 0;
}

static int has_magic(const uint8_t *b)
{
	return !memcmp(b + REC_MAGIC, AG_COMMIT_MAGIC, 8);
}

int ag_commit_decode(const void *buf, size_t len, struct ag_commit_rec *r)
{
	const uint8_t *b = buf;

	if (len < AG_BLOCK)
		return -EINVAL;
	if (!has_magic(b))
		return -ENOENT;
	if (get_le32(b + REC_CRC) != ag_crc32c(b, REC_CRC))
		return -AG_ECORRUPT;
	if (read_fields(b, r))
		return -AG_ECORRUPT;
	/* a run longer than the ring could never be whole */
	if (r->lazy_since && (r->lazy_since > r->gen ||
			      r->gen - r->lazy_since >= AG_COMMIT_SLOTS))
		return -AG_ECORRUPT;
	return 0;
}

uint64_t ag_commit_lane(const struct ag_drives *ds, uint64_t page_drives)
{
	uint64_t present = ag_drives_present(ds);
	uint64_t lane = page_drives & present;

	if (__builtin_popcountll(lane) <
	    AG_MIN(AG_PAGE_COPIES, __builtin_popcountll(present)))
		return present;
	return lane;
}

static int blank(const uint8_t *b)
{
	size_t i;

	for (i = 0; i < AG_BLOCK; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Slot s of a ring failed to decode: note it in scan. */
static void note_bad(struct ag_commit_scan *scan, int drive, uint32_t s,
		     const uint8_t *b)
{
	struct ag_commit_bad *bad;
	uint64_t g = get_le64(b + REC_GEN);

	if (scan->nbad++ >= AG_COMMIT_BAD_MAX)
		return;
	bad = &scan->bad[scan->nbad - 1];
	bad->drive = drive;
	bad->slot = s;
	/* the header is as damaged as the rest may be: believe it only
	 * when it fits the slot (and weigh it, stands_for) */
	bad->gen = has_magic(b) && g && ag_commit_slot(g) == s ? g : 0;
	bad->time_ns = get_le64(b + REC_TIME);
}

/* Every record of the rings of all drives that decodes, is of this
 * cluster and lies in its own slot, into *candp (malloc'd): returns their
 * number, or -ENOMEM. A damaged copy (neither blank nor a record) is
 * counted against its drive, and noted in scan when not NULL. *unread
 * counts the present drives whose ring could not be read (logged);
 * drives not present are skipped, as everywhere. */
static int ring_records(struct ag_drives *ds, struct ag_commit_scan *scan,
			struct ag_commit_rec **candp, int *unread)
{
	const size_t ring_len = AG_COMMIT_SLOTS * AG_BLOCK;
	uint8_t *ring = ag_alloc_aligned(ring_len);
	struct ag_commit_rec *cand, *r;
	int i, n = 0;
	uint32_t s;

	*unread = 0;
	cand = malloc(sizeof(*cand) * AG_COMMIT_SLOTS * ds->n + 1);
	if (!ring || !cand) {
		free(ring);
		free(cand);
		return -ENOMEM;
	}
	for (i = 0; i < ds->n; i++) {
		int rc;

		if (ds->d[i].state != AG_DRIVE_OK)
			continue;
		rc = ag_drive_read(ds, i, ring, ring_len,
				   ag_commit_slot_off(0));
		if (rc) {
			/* one found failed by the read is now missing */
			if (ds->d[i].state != AG_DRIVE_OK)
				continue;
			AG_WARN("drive %d (%s): cannot read its commit ring: "
				"%s", i, ds->d[i].path ? ds->d[i].path : "?",
				ag_strerror(rc));
			(*unread)++;
			continue;
		}
		for (s = 0; s < AG_COMMIT_SLOTS; s++) {
			const uint8_t *b = ring + (size_t)s * AG_BLOCK;
			int drc;

			r = &cand[n];
			drc = ag_commit_decode(b, AG_BLOCK, r);
			if (drc && !blank(b)) {
				if (scan) {
					atomic_fetch_add(&ds->d[i].csum_errors,
							 1);
					note_bad(scan, i, s, b);
				}
				continue;
			}
			if (!drc && !memcmp(r->uuid, ds->label.uuid, 16) &&
			    ag_commit_slot(r->gen) == s)
				n++;
		}
	}
	free(ring);
	*candp = cand;
	return n;
}

int ag_commit_ring_scan(struct ag_drives *ds,
			const struct ag_commit_rec *after, uint32_t *epoch,
			uint32_t *page_epoch)
{
	struct ag_commit_rec *cand, *r;
	int i, unread, n = ring_records(ds, NULL, &cand, &unread);

	*epoch = 0;
	*page_epoch = 0;
	if (n < 0)
		return n;
	/* a ring we cannot read may hold the highest epoch of all */
	if (unread) {
		free(cand);
		return -EIO;
	}
	for (i = 0; i < n; i++) {
		r = &cand[i];
		*epoch = AG_MAX(*epoch, r->epoch);
		if (r->page_epoch && (r->gen > after->gen ||
		    (r->gen == after->gen && r->epoch != after->epoch)) &&
		    (!*page_epoch ||
		     ag_page_epoch_ahead(r->page_epoch, *page_epoch)))
			*page_epoch = r->page_epoch;
	}
	free(cand);
	return 0;
}

/* The order of the rule: fencing epoch, then generation. A metad that
 * lost its lease may still write records of its epoch after its
 * successor's first one, of generations as high as it likes: they lose. */
static int newer(const struct ag_commit_rec *a, const struct ag_commit_rec *b)
{
	return a->epoch > b->epoch || (a->epoch == b->epoch && a->gen > b->gen);
}

/* 1 when r's pages and data are on the drives, 0 when one was never
 * written, -1 when a page is damaged on every mirror. */
static int landed(const struct ag_commit_rec *r,
		  int (*check)(void *arg, const struct ag_commit_rec *r),
		  void *arg)
{
	int rc;

	if (!check || (!r->npages && !r->ndata))
		return 1;
	rc = check(arg, r);
	return rc < 0 ? -1 : rc > 0;
}

/* Whether damaged copy b is a record of generation g, not one of an
 * older generation that lay in the same slot, when g would be newer
 * than a record of time t0 (0: unknown). What is left of its header
 * votes, generation against commit time (a flip or a scrawl rarely
 * hits both): a readable generation says yes when it is g and no when
 * not; a time from the cluster's creation to t0 says no (it is older),
 * anything else yes (a time a newer commit has, or garbage, which
 * errs on the side of the data). On a tie the pages it lists decide:
 * only a record of g lists pages stamped g. */
static int stands_for(struct ag_drives *ds, const struct ag_commit_bad *b,
		      uint64_t g, uint64_t t0,
		      int (*check)(void *arg, const struct ag_commit_rec *r),
		      void *arg)
{
	uint64_t created = ds->label.created * 1000000000ull;
	struct ag_commit_rec *r;
	uint8_t *blk;
	int vote, rc = 0;

	if (b->slot != ag_commit_slot(g))
		return 0;
	vote = b->gen ? (b->gen == g ? 1 : -1) : 0;
	vote += t0 && b->time_ns >= created && b->time_ns <= t0 ? -1 : 1;
	if (vote)
		return vote > 0;
	blk = ag_alloc_aligned(AG_BLOCK);
	r = malloc(sizeof(*r));
	if (!blk || !r || !check ||
	    ag_drive_read(ds, b->drive, blk, AG_BLOCK,
			  ag_commit_slot_off(b->slot)))
		goto out;
	memset(r, 0, sizeof(*r));
	if (read_fields(blk, r) || (!r->npages && !r->ndata))
		goto out;
	r->gen = g; /* the pages must say g, whatever the remains say */
	rc = check(arg, r) != 0;
out:
	free(blk);
	free(r);
	return rc;
}

/* Whether a damaged copy in the rings is a record of generation g (see
 * stands_for; t0 as there). */
static int damaged_copy_of(struct ag_drives *ds,
			   const struct ag_commit_scan *scan, uint64_t g,
			   uint64_t t0,
			   int (*check)(void *arg,
					const struct ag_commit_rec *r),
			   void *arg)
{
	int i;

	for (i = 0; i < AG_MIN(scan->nbad, AG_COMMIT_BAD_MAX); i++)
		if (stands_for(ds, &scan->bad[i], g, t0, check, arg))
			return 1;
	return 0;
}

/* Whether r stands: its own pages landed, and so did those of every
 * record of the unsynced run it ends (written by the same metad, so of
 * its epoch). 1 whole, 0 torn, -1 damaged (commit.h): then *dgen is
 * the generation whose pages (*dpages 1) or record (0) are. */
static int whole(struct ag_drives *ds, const struct ag_commit_rec *cand,
		 int n, const struct ag_commit_rec *r,
		 const struct ag_commit_scan *scan,
		 int (*check)(void *arg, const struct ag_commit_rec *r),
		 void *arg, uint64_t *dgen, int *dpages)
{
	uint64_t g, t0 = 0;
	int i, w = landed(r, check, arg);

	*dgen = r->gen;
	*dpages = 1;
	if (w <= 0)
		return w;
	for (g = r->lazy_since ? r->lazy_since : r->gen; g < r->gen; g++) {
		int best = 0;

		for (i = 0; i < n; i++) {
			if (cand[i].gen != g || cand[i].epoch != r->epoch)
				continue;
			w = landed(&cand[i], check, arg);
			if (w > 0)
				break;
			best = AG_MIN(best, w);
		}
		if (i < n) {
			t0 = cand[i].time_ns; /* g + 1 was written after it */
			continue;
		}
		*dgen = g;
		*dpages = best < 0;
		return best < 0 ||
		       damaged_copy_of(ds, scan, g, t0, check, arg) ? -1 : 0;
	}
	return 1;
}

int ag_commit_pick(struct ag_drives *ds, struct ag_commit_rec *rec,
		   struct ag_commit_scan *scan,
		   int (*check)(void *arg, const struct ag_commit_rec *r),
		   void *arg)
{
	struct ag_commit_rec *cand;
	uint64_t after = 0, t0 = 0;
	int i, n, unread, rc = -ENOENT;

	memset(scan, 0, sizeof(*scan));
	/* a ring that cannot be read is a missing copy: readers go on
	 * with the others, as with a missing drive */
	n = ring_records(ds, scan, &cand, &unread);
	if (n < 0)
		return n;
	/* newest first; a torn record was never acknowledged: the one
	 * before it is the cluster's state */
	while (n) {
		uint64_t dgen;
		int best = 0, w, dpages;

		for (i = 1; i < n; i++)
			if (newer(&cand[i], &cand[best]))
				best = i;
		w = whole(ds, cand, n, &cand[best], scan, check, arg, &dgen,
			  &dpages);
		if (w > 0) {
			*rec = cand[best];
			after = rec->gen;
			t0 = rec->time_ns;
			rc = 0;
			break;
		}
		if (w < 0 && cand[best].gen > scan->lost_gen) {
			scan->lost_gen = cand[best].gen;
			scan->damaged_gen = dgen;
			scan->lost_pages = dpages;
		}
		if (!w)
			AG_WARN("commit %llu lists pages that are not all on "
				"the drives (a torn commit); using an older "
				"one",
				(unsigned long long)cand[best].gen);
		cand[best] = cand[--n];
	}
	free(cand);
	/* a newer record damaged on every copy: the next generation, or one
	 * further on whose header still says so (the ones between would
	 * have to be damaged too, or it would not be newest) */
	for (i = 0; i < AG_MIN(scan->nbad, AG_COMMIT_BAD_MAX); i++) {
		const struct ag_commit_bad *b = &scan->bad[i];
		uint64_t g = after + 1;

		if (b->gen > after + 1 && b->gen < after + AG_COMMIT_SLOTS)
			g = b->gen;
		if (g > scan->lost_gen &&
		    stands_for(ds, b, g, t0, check, arg)) {
			scan->lost_gen = scan->damaged_gen = g;
			scan->lost_pages = 0;
		}
	}
	if (scan->lost_gen)
		AG_ERR("commit %llu is damaged on every copy (its %s); the "
		       "newest whole one is %llu", (unsigned long long)
		       scan->damaged_gen, scan->lost_pages ? "pages" : "record",
		       (unsigned long long)after);
	return rc;
}

int ag_commit_read_latest(struct ag_drives *ds, struct ag_commit_rec *rec,
			  int (*check)(void *arg, const struct ag_commit_rec *r),
			  void *arg)
{
	struct ag_commit_scan *scan = malloc(sizeof(*scan));
	int rc;

	if (!scan)
		return -ENOMEM;
	rc = ag_commit_pick(ds, rec, scan, check, arg);
	if (!rc && scan->lost_gen)
		rc = -AG_ELOST;
	free(scan);
	return rc;
}

int ag_commit_wipe(struct ag_drives *ds, int drive, uint32_t slot)
{
	uint8_t *b = ag_alloc_aligned(AG_BLOCK);
	int rc;

	if (!b)
		return -ENOMEM;
	memset(b, 0, AG_BLOCK);
	rc = ag_drive_write(ds, drive, b, AG_BLOCK, ag_commit_slot_off(slot));
	if (!rc)
		rc = ag_drive_sync(ds, drive) < 0 ? -EIO : 0;
	free(b);
	return rc;
}

struct write_job {
	const uint8_t *block;
	uint64_t off;
};

/* Drive i's part of ag_commit_write: the record, then a sync. */
static int write_one(struct ag_drives *ds, int i, void *arg)
{
	const struct write_job *j = arg;
	int rc;

	if (ds->d[i].state != AG_DRIVE_OK)
		return 1;
	rc = ag_drive_write(ds, i, j->block, AG_BLOCK, j->off);
	if (rc)
		return rc;
	return ag_drive_sync(ds, i);
}

int ag_commit_write(struct ag_drives *ds, const struct ag_commit_rec *rec)
{
	struct write_job j = {
		.off = ag_commit_slot_off(ag_commit_slot(rec->gen)),
	};
	uint8_t *b = ag_alloc_aligned(AG_BLOCK);
	int rc[AG_MAX_DRIVES];

	if (!b)
		return -ENOMEM;
	ag_commit_encode(b, rec);
	j.block = b;
	ag_pool_run_on(ds, ag_commit_lane(ds, 0), write_one, &j, rc);
	free(b);
	return ag_drives_quorum(ds, rc) ? 0 : -AG_ENOQUORUM;
}
