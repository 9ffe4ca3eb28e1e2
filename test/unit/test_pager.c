/*
 * test_pager.c - unit test of the commit record and ring (common/disk/commit.c),
 * the page header (common/disk/page.h) and the mirrored page store
 * (common/disk/pager.c), on drive files in a temporary directory.
 *
 * The codec is held to format.h's byte table by an encoder written here
 * from the table alone, so a change of the on-drive format fails the
 * test. Rings are laid out record by record (and damaged by hand) to
 * check each clause of the rule in commit.h; faults come from the drive
 * fault hook. AG_SEED=n replays a run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "commit.h"
#include "config.h"
#include "drive.h"
#include "format.h"
#include "page.h"
#include "pager.h"
#include "tap.h"
#include "drives.h"
#include "util.h"

#define NDRIVES 4

static uint64_t rng;

/* ---- the commit record codec ---- */

static void random_rec(struct ag_commit_rec *r)
{
	uint32_t i;

	memset(r, 0, sizeof(*r));
	r->gen = 100 + tap_rand(&rng) % (1ull << 40);
	r->root = tap_rand(&rng);
	r->epoch = (uint32_t)tap_rand(&rng);
	r->page_epoch = (uint32_t)tap_rand(&rng) % AG_MAX_PAGE_SLOTS + 1;
	for (i = 0; i < 16; i++)
		r->uuid[i] = (uint8_t)tap_rand(&rng);
	r->time_ns = tap_rand(&rng);
	r->lazy_since = tap_rand(&rng) % 2 ? r->gen - tap_rand(&rng) % 15 : 0;
	r->npages = (uint32_t)(tap_rand(&rng) % (AG_COMMIT_PAGES + 1));
	for (i = 0; i < r->npages; i++)
		r->pages[i] = tap_rand(&rng);
}

static int same_rec(const struct ag_commit_rec *a,
		    const struct ag_commit_rec *b)
{
	return a->gen == b->gen && a->root == b->root &&
	       a->epoch == b->epoch && a->page_epoch == b->page_epoch &&
	       !memcmp(a->uuid, b->uuid, 16) && a->time_ns == b->time_ns &&
	       a->lazy_since == b->lazy_since && a->npages == b->npages &&
	       !memcmp(a->pages, b->pages, a->npages * sizeof(a->pages[0]));
}

/* format.h's commit record table, written out by hand. */
static void table_encode(uint8_t *b, const struct ag_commit_rec *r)
{
	uint32_t i;

	memset(b, 0, AG_BLOCK);
	memcpy(b, "AGORACMT", 8);
	put_le64(b + 8, r->gen);
	put_le64(b + 16, r->root);
	put_le32(b + 24, r->epoch);
	put_le32(b + 28, r->page_epoch);
	memcpy(b + 32, r->uuid, 16);
	put_le64(b + 48, r->time_ns);
	put_le64(b + 56, r->lazy_since);
	put_le32(b + 64, r->npages);
	for (i = 0; i < r->npages; i++)
		put_le64(b + 72 + 8 * i, r->pages[i]);
	put_le32(b + 4092, ag_crc32c(b, 4092));
}

/* Set bytes [off, off + 4) to v and the crc to match: a record no
 * checksum can tell from a good one. */
static void forge32(uint8_t *b, size_t off, uint32_t v)
{
	put_le32(b + off, v);
	put_le32(b + 4092, ag_crc32c(b, 4092));
}

static void test_codec(void)
{
	static struct ag_commit_rec r, d;
	static uint8_t b[AG_BLOCK], t[AG_BLOCK], old[AG_BLOCK];
	int i, same = 1, round = 1, flips = 1, rc;

	for (i = 0; i < 200; i++) {
		random_rec(&r);
		ag_commit_encode(b, &r);
		table_encode(t, &r);
		same &= !memcmp(b, t, AG_BLOCK);
		memset(&d, 0xa5, sizeof(d));
		round &= !ag_commit_decode(b, AG_BLOCK, &d) && same_rec(&r, &d);
	}
	ok(same, "encode writes format.h's table byte for byte");
	ok(round, "decode(encode(r)) == r, 200 random records");

	for (i = 0; i < 200; i++) {
		size_t bit = tap_rand(&rng) % (8 * AG_BLOCK);

		random_rec(&r);
		ag_commit_encode(b, &r);
		b[bit / 8] ^= 1 << bit % 8;
		rc = ag_commit_decode(b, AG_BLOCK, &d);
		/* a flip in the magic makes it no record at all */
		flips &= bit / 8 < 8 ? rc == -ENOENT : rc == -AG_ECORRUPT;
	}
	ok(flips, "any one bit flipped: -AG_ECORRUPT (-ENOENT in the magic)");

	/* a torn block: the first half of the new record over the old */
	random_rec(&r);
	r.npages = AG_COMMIT_PAGES;
	ag_commit_encode(old, &r);
	r.gen++;
	r.pages[AG_COMMIT_PAGES - 1]++;
	ag_commit_encode(b, &r);
	memcpy(b + AG_BLOCK / 2, old + AG_BLOCK / 2, AG_BLOCK / 2);
	ok(ag_commit_decode(b, AG_BLOCK, &d) == -AG_ECORRUPT,
	   "a block half new, half old is rejected");

	memset(b, 0, AG_BLOCK);
	ok(ag_commit_decode(b, AG_BLOCK, &d) == -ENOENT,
	   "a blank slot is no record (-ENOENT)");
	random_rec(&r);
	ag_commit_encode(b, &r);
	ok(ag_commit_decode(b, AG_BLOCK - 1, &d) == -EINVAL,
	   "a buffer short of a block is -EINVAL");

	/* fields no encoder writes, behind a right crc */
	random_rec(&r);
	r.lazy_since = 0;
	ag_commit_encode(b, &r);
	forge32(b, 64, AG_COMMIT_PAGES + 1);
	ok(ag_commit_decode(b, AG_BLOCK, &d) == -AG_ECORRUPT,
	   "npages over %d is rejected", AG_COMMIT_PAGES);
	ag_commit_encode(b, &r);
	put_le64(b + 56, r.gen + 1);
	forge32(b, 64, r.npages);
	ok(ag_commit_decode(b, AG_BLOCK, &d) == -AG_ECORRUPT,
	   "lazy_since after the generation is rejected");
	put_le64(b + 56, r.gen - AG_COMMIT_SLOTS);
	forge32(b, 64, r.npages);
	ok(ag_commit_decode(b, AG_BLOCK, &d) == -AG_ECORRUPT,
	   "an unsynced run longer than the ring is rejected");
	put_le64(b + 56, r.gen - AG_COMMIT_SLOTS + 1);
	forge32(b, 64, r.npages);
	ok(!ag_commit_decode(b, AG_BLOCK, &d),
	   "the longest run the ring holds is accepted");

	ok(ag_commit_slot(17) == 1 && ag_commit_slot_off(0) == 4096 &&
	   ag_commit_slot_off(15) == 4096 + 15 * 4096,
	   "slot gen %% 16 at 4096 + slot * 4096");
	ok(ag_commit_may_be_lazy(10, 24) && !ag_commit_may_be_lazy(10, 25),
	   "a lazy run ends 15 records after the synced one");
}

/* ---- the ring and the pick ---- */

static uint64_t torn_gen; /* the check says this generation's pages are
			   * not on the drives */
static uint64_t damaged_page_gen; /* ... are damaged there */

static int fake_check(void *arg, const struct ag_commit_rec *r)
{
	(void)arg;
	if (r->gen == torn_gen)
		return 0;
	if (r->gen == damaged_page_gen)
		return -AG_ECORRUPT;
	return 1;
}

static void make_rec(struct drive_files *c, struct ag_commit_rec *r,
		     uint64_t gen, uint32_t epoch)
{
	memset(r, 0, sizeof(*r));
	r->gen = gen;
	r->epoch = epoch;
	r->root = 0x1000 + gen;
	r->page_epoch = 1;
	memcpy(r->uuid, c->ds->label.uuid, 16);
	/* after the label's creation, one second a generation */
	r->time_ns = (c->ds->label.created + gen) * 1000000000ull;
	r->npages = 1;
	r->pages[0] = AG_PAGE_ADDR(1, 1, gen);
}

/* Put rec into slot on drive i as is (0) or with one byte of its
 * page list flipped (1). */
static int put_slot(struct drive_files *c, int i, uint32_t slot,
		    const struct ag_commit_rec *r, int damage)
{
	uint8_t *b = ag_alloc_aligned(AG_BLOCK);
	int rc;

	if (!b)
		return -ENOMEM;
	ag_commit_encode(b, r);
	if (damage)
		b[1000] ^= 0x10;
	rc = ag_drive_write(c->ds, i, b, AG_BLOCK, ag_commit_slot_off(slot));
	free(b);
	return rc;
}

static int put_all(struct drive_files *c, const struct ag_commit_rec *r,
		   int damage)
{
	int i, rc = 0;

	for (i = 0; i < NDRIVES && !rc; i++)
		rc = put_slot(c, i, ag_commit_slot(r->gen), r, damage);
	return rc;
}

static int fail_ring_reads_of; /* drive whose ring reads fail, or -1 */

static int ring_hook(int drive, int is_write, uint64_t off, size_t len)
{
	(void)len;
	return !is_write && drive == fail_ring_reads_of &&
			       off == ag_commit_slot_off(0) ? -EIO : 0;
}

static void test_ring(void)
{
	static struct ag_commit_rec r, got, other;
	static struct ag_commit_scan scan;
	struct drive_files c;
	uint32_t epoch, page_epoch;
	uint64_t g;
	int rc;

	rc = drive_files_open(&c, NULL, "pager", NDRIVES, "2+1", "16M");
	if (!ok(!rc, "%d drive files formatted and opened (%s)", NDRIVES,
		ag_strerror(rc))) {
		drive_files_close(&c);
		return;
	}
	torn_gen = damaged_page_gen = 0;
	ok(ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) == -ENOENT &&
	   !scan.nbad && !scan.lost_gen, "a fresh ring: no record, no damage");

	for (g = 1; g <= 5; g++) {
		make_rec(&c, &r, g, 1);
		rc = ag_commit_write(c.ds, &r);
	}
	ok(!rc && !ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 5 && got.root == 0x1000 + 5,
	   "records 1-5 written: 5 is the state");

	/* the same generation by a later metad on one drive only */
	make_rec(&c, &r, 5, 3);
	r.root = 0xbeef;
	put_slot(&c, 2, ag_commit_slot(5), &r, 0);
	ok(!ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 5 && got.epoch == 3 && got.root == 0xbeef,
	   "of one generation, the higher epoch wins (one copy is enough)");
	/* a metad of epoch 2 that lost its lease to the one of epoch 3
	 * writes on: fenced, whatever its generations */
	make_rec(&c, &r, 6, 2);
	ag_commit_write(c.ds, &r);
	ok(!ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 5 && got.epoch == 3,
	   "a higher epoch wins over a higher generation (fencing)");
	rc = ag_commit_wipe(c.ds, 2, ag_commit_slot(5));
	ok(!rc && !ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 6 && got.epoch == 2,
	   "without the record of epoch 3, 6 of epoch 2 is the state");

	/* records that are not of this ring's state */
	other = r;
	other.gen = 7;
	other.uuid[0] ^= 1;
	put_all(&c, &other, 0);
	other = r;
	other.gen = 9;
	put_slot(&c, 0, ag_commit_slot(8), &other, 0);
	ok(!ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 6 && !scan.nbad,
	   "another cluster's record, and one out of its slot, are ignored");

	/* a torn newest commit: its pages never landed */
	make_rec(&c, &r, 7, 2);
	ag_commit_write(c.ds, &r);
	torn_gen = 7;
	ok(!ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 6 && !scan.lost_gen,
	   "a torn commit loses to the one before, with no loss reported");
	torn_gen = 0;

	/* a run: 8 lazy, 9 lazy, 10 ends it; 9 never landed */
	make_rec(&c, &r, 8, 2);
	r.lazy_since = 8;
	ag_commit_write(c.ds, &r);
	make_rec(&c, &r, 10, 2);
	r.lazy_since = 8;
	ag_commit_write(c.ds, &r);
	ok(!ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 8 && !scan.lost_gen,
	   "a record whose run lacks a record is torn: 8 is the state");
	make_rec(&c, &r, 9, 2);
	r.lazy_since = 8;
	ag_commit_write(c.ds, &r);
	ok(!ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 10, "with 9 there, 10 is the state");

	/* damaged on every copy: a loss, which readers refuse */
	make_rec(&c, &r, 11, 2);
	put_all(&c, &r, 1);
	rc = ag_commit_pick(c.ds, &got, &scan, fake_check, NULL);
	ok(!rc && got.gen == 10 && scan.lost_gen == 11 && !scan.lost_pages &&
	   scan.nbad == NDRIVES,
	   "record 11 damaged on every copy: 10 is picked, 11 is lost "
	   "(%d damaged copies)", scan.nbad);
	ok(ag_commit_read_latest(c.ds, &got, fake_check, NULL) == -AG_ELOST &&
	   got.gen == 10, "readers refuse it (-AG_ELOST)");
	put_slot(&c, 3, ag_commit_slot(11), &r, 0);
	ok(!ag_commit_read_latest(c.ds, &got, fake_check, NULL) &&
	   got.gen == 11, "one good copy of 11 is enough");
	make_rec(&c, &r, 12, 2);
	ag_commit_write(c.ds, &r);
	damaged_page_gen = 12;
	ok(!ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 11 && scan.lost_gen == 12 && scan.lost_pages,
	   "a page of 12 damaged on every mirror: 12 is lost, by its pages");
	damaged_page_gen = 0;
	rc = ag_commit_wipe(c.ds, 0, ag_commit_slot(11));
	if (!rc)
		rc = ag_commit_pick(c.ds, &got, &scan, fake_check, NULL);
	ok(!rc && scan.nbad == NDRIVES - 2, /* 3 holds a good one */
	   "a wiped copy is blank, not damaged (%d damaged copies, %s)",
	   scan.nbad, ag_strerror(rc));

	/* the fencing scan */
	rc = ag_commit_ring_scan(c.ds, &got, &epoch, &page_epoch);
	ok(!rc && epoch == 2, "the ring scan finds the highest epoch, %u",
	   epoch);
	make_rec(&c, &r, 13, 2);
	r.page_epoch = 40;
	put_slot(&c, 1, ag_commit_slot(13), &r, 0);
	rc = ag_commit_ring_scan(c.ds, &got, &epoch, &page_epoch);
	ok(!rc && page_epoch == 40,
	   "and the page epoch of a record past the state, %u", page_epoch);
	fail_ring_reads_of = 1;
	ag_drive_fault_hook = ring_hook;
	rc = ag_commit_ring_scan(c.ds, &got, &epoch, &page_epoch);
	ok(rc == -EIO && !epoch && !page_epoch,
	   "a present drive whose ring cannot be read fails the scan (%s)",
	   ag_strerror(rc));
	ok(!ag_commit_pick(c.ds, &got, &scan, fake_check, NULL) &&
	   got.gen == 12, "the pick goes on with the other drives");
	ag_drive_fault_hook = NULL;
	c.ds->d[1].state = AG_DRIVE_MISSING;
	rc = ag_commit_ring_scan(c.ds, &got, &epoch, &page_epoch);
	ok(!rc && epoch == 2 && !page_epoch,
	   "a missing drive is skipped by the scan (%s)", ag_strerror(rc));
	c.ds->d[1].state = AG_DRIVE_OK;
	drive_files_close(&c);
}

/* Every write fails, and the ring reads of fail_ring_reads_of. */
static int fail_all_writes(int drive, int is_write, uint64_t off, size_t len)
{
	return is_write ? -EIO : ring_hook(drive, is_write, off, len);
}

/* The fencing epoch of the cluster's state, read from its drives. */
static uint32_t newest_epoch(struct drive_files *c)
{
	static struct ag_commit_rec rec;
	struct ag_drives *ds;
	uint32_t epoch = 0;

	if (ag_drives_open(c->cfg, &ds))
		return 0;
	if (!ag_commit_read_latest(ds, &rec, NULL, NULL))
		epoch = rec.epoch;
	ag_drives_close(ds);
	return epoch;
}

/* metad takes its fencing epoch from every ring: with one it cannot
 * read, it must not start */
static void test_metad_fencing(void)
{
	struct ag_meta *m = NULL;
	uint32_t epoch_before;
	uint64_t gen, root;
	struct drive_files c;
	int rc;

	rc = drive_files_open(&c, NULL, "pager", NDRIVES, "2+1", "16M");
	ag_drives_close(c.ds);
	c.ds = NULL;
	if (!rc)
		rc = ag_meta_mkfs(c.cfg, 1);
	if (!rc)
		rc = ag_meta_open(c.cfg, &m);
	ok(!rc, "metad formats the drives and starts (%s)", ag_strerror(rc));
	ag_meta_close(m);
	m = NULL;
	fail_ring_reads_of = 2;
	ag_drive_fault_hook = ring_hook;
	rc = ag_meta_open(c.cfg, &m);
	ag_drive_fault_hook = NULL;
	fail_ring_reads_of = -1;
	ok(rc == -EIO && !m, "it refuses to start when a present drive's "
			      "ring cannot be read (%s)", ag_strerror(rc));
	ag_meta_close(m);
	m = NULL;
	rc = ag_meta_open(c.cfg, &m);
	ok(!rc, "and starts once it can (%s)", ag_strerror(rc));

	/* a commit that fails while a ring cannot be read: the reload goes
	 * on past the epoch this metad held, and so do its next commits */
	epoch_before = newest_epoch(&c);
	fail_ring_reads_of = 2;
	ag_drive_fault_hook = fail_all_writes;
	rc = m ? ag_meta_commit(m, 0, &gen, &root) : -EINVAL;
	ag_drive_fault_hook = NULL;
	fail_ring_reads_of = -1;
	ok(rc && rc != -EINVAL, "a commit with every write failing fails (%s)",
	   ag_strerror(rc));
	rc = m ? ag_meta_commit(m, 0, &gen, &root) : -EINVAL;
	ok(!rc && newest_epoch(&c) > epoch_before,
	   "the next commit lands, with a newer fencing epoch (%u, was %u)",
	   newest_epoch(&c), epoch_before);
	ag_meta_close(m);
	drive_files_close(&c);
}

/* ---- the page header ---- */

static void test_header(void)
{
	uint8_t *p = malloc(AG_PAGE_SIZE);
	uint64_t addr = AG_PAGE_ADDR(3, 7, 42), gen = 123456789;
	size_t i;

	if (!p)
		return;
	for (i = 0; i < AG_PAGE_SIZE; i++)
		p[i] = (uint8_t)tap_rand(&rng);
	ag_page_hdr_stamp(p, AG_PAGE_SIZE, addr, gen);
	ok(ag_page_hdr_addr(p) == addr && ag_page_hdr_gen(p) == gen &&
	   ag_page_hdr_names(p, addr) && !ag_page_hdr_verify(p, AG_PAGE_SIZE,
							     addr),
	   "a stamped page reads back its address and generation, verifies");
	ok(!memcmp(p + 4, "AGPG", 4) && get_le64(p + 8) == addr &&
	   get_le64(p + 16) == gen && get_le64(p + 24) == 0 &&
	   get_le32(p) == ag_crc32c(p + 4, AG_PAGE_SIZE - 4) &&
	   ag_page_hdr_crc(p) == get_le32(p),
	   "the header is format.h's: crc, magic, address, generation, 0");
	ok(ag_page_hdr_verify(p, AG_PAGE_SIZE, addr + 1) == -AG_ECORRUPT &&
	   !ag_page_hdr_names(p, addr + 1), "another address does not verify");
	p[AG_PAGE_SIZE - 1] ^= 1;
	ok(ag_page_hdr_verify(p, AG_PAGE_SIZE, addr) == -AG_ECORRUPT &&
	   ag_page_hdr_names(p, addr), "a flipped body bit: named, corrupt");
	ok(ag_page_epoch_ahead(2, 1) && !ag_page_epoch_ahead(1, 2) &&
	   ag_page_epoch_ahead(1, AG_MAX_PAGE_SLOTS - 1) &&
	   !ag_page_epoch_ahead(5, 5), "page epochs are ahead across the wrap");
	free(p);
}

/* ---- pages on the drives ---- */

static uint64_t drop_from; /* offsets at or past it: writes dropped */

static int drop_hook(int drive, int is_write, uint64_t off, size_t len)
{
	(void)drive;
	(void)len;
	return is_write && off >= drop_from ? 1 : 0;
}

static int same_body(const uint8_t *a, const uint8_t *b)
{
	return !memcmp(a + AG_PAGE_HDR, b + AG_PAGE_HDR,
		       AG_PAGE_SIZE - AG_PAGE_HDR);
}

static void test_pages(void)
{
	static struct ag_commit_rec rec, got;
	static struct ag_commit_scan scan;
	struct ag_pagestore *ps = NULL, *cold = NULL;
	uint8_t *pg[8], *buf = ag_alloc_aligned(AG_PAGE_SIZE);
	uint64_t addr[8], off;
	struct drive_files c;
	int i, rc, good, bad = 0, unwritten = 0, drive, readback = 1;
	size_t j;

	rc = drive_files_open(&c, NULL, "pager", NDRIVES, "2+1", "16M");
	if (!rc)
		rc = ag_pagestore_new(c.ds, 1 << 20, &ps);
	if (!rc)
		rc = ag_pagestore_new(c.ds, 1 << 20, &cold);
	if (!ok(!rc && buf, "a page store over the drive files (%s)",
		ag_strerror(rc)))
		goto out;
	for (i = 0; i < 8; i++) {
		pg[i] = ag_alloc_aligned(AG_PAGE_SIZE);
		for (j = 0; j < AG_PAGE_SIZE; j++)
			pg[i][j] = (uint8_t)tap_rand(&rng);
		addr[i] = AG_PAGE_ADDR(1, 1, i * 5);
	}
	for (i = 0, rc = 0; i < 4 && !rc; i++)
		rc = ag_page_write(ps, addr[i], 1, pg[i]);
	ok(!rc, "4 pages written, 3 mirrors each");
	for (i = 0; i < 4; i++)
		readback &= !ag_page_read(cold, addr[i], buf) &&
			    same_body(buf, pg[i]) && ag_page_hdr_gen(buf) == 1;
	ok(readback, "read back from the drives by another store");
	ok(ag_page_read(ps, AG_PAGE_ADDR(c.ds->label.nsegments, 1, 0), buf) ==
		   -AG_ECORRUPT, "an address past the last segment is refused");

	/* damage one mirror of page 0 on its drive */
	off = ag_slot_offset(&c.ds->label, 1,
			     (uint64_t)AG_PAGE_SLOT(addr[0]) * AG_PAGE_COPIES,
			     AG_PAGE_SIZE);
	drive = ag_slot_drive(&c.ds->label,
			      (uint64_t)AG_PAGE_SLOT(addr[0]) * AG_PAGE_COPIES);
	ag_drive_read(c.ds, drive, buf, AG_PAGE_SIZE, off);
	buf[2000] ^= 4;
	ag_drive_write(c.ds, drive, buf, AG_PAGE_SIZE, off);
	good = ag_page_check(ps, addr[0], &bad, &unwritten);
	ok(good == 2 && bad == 1 && !unwritten,
	   "a flipped mirror: 2 good copies, 1 bad (%d, %d, %d)", good, bad,
	   unwritten);
	ag_pagestore_free(cold);
	rc = ag_pagestore_new(c.ds, 1 << 20, &cold);
	ok(!rc && !ag_page_read(cold, addr[0], buf) && same_body(buf, pg[0]),
	   "a read falls back to another mirror");
	rc = ag_page_repair(ps, addr[0], 1);
	bad = unwritten = 0;
	good = ag_page_check(ps, addr[0], &bad, &unwritten);
	ok(rc == 1 && good == 3 && !bad, "repair writes the one bad copy back");

	/* a reuse round caught halfway: mirror 1 of page 0's place already
	 * holds a newer page of that place, mirror 2 is damaged */
	{
		uint64_t newer = AG_PAGE_ADDR(1, 2, AG_PAGE_SLOT(addr[0]));
		uint64_t slot = (uint64_t)AG_PAGE_SLOT(addr[0]) * AG_PAGE_COPIES;
		int d1 = ag_slot_drive(&c.ds->label, slot + 1);
		int d2 = ag_slot_drive(&c.ds->label, slot + 2);
		uint64_t o1 = ag_slot_offset(&c.ds->label, 1, slot + 1,
					     AG_PAGE_SIZE);
		uint64_t o2 = ag_slot_offset(&c.ds->label, 1, slot + 2,
					     AG_PAGE_SIZE);

		memcpy(buf, pg[1], AG_PAGE_SIZE);
		ag_page_hdr_stamp(buf, AG_PAGE_SIZE, newer, 9);
		ag_drive_write(c.ds, d1, buf, AG_PAGE_SIZE, o1);
		ag_drive_read(c.ds, d2, buf, AG_PAGE_SIZE, o2);
		buf[3000] ^= 1;
		ag_drive_write(c.ds, d2, buf, AG_PAGE_SIZE, o2);
		rc = ag_page_repair(ps, addr[0], 1);
		ag_drive_read(c.ds, d1, buf, AG_PAGE_SIZE, o1);
		ok(rc == 1 && ag_page_hdr_addr(buf) == newer,
		   "repair rewrites the damaged mirror and leaves the newer "
		   "page of the same place (%d)", rc);
		ag_drive_read(c.ds, d2, buf, AG_PAGE_SIZE, o2);
		ok(ag_page_hdr_addr(buf) == addr[0] && same_body(buf, pg[0]),
		   "the damaged mirror holds page 0 again");
		/* put mirror 1 back for what follows */
		ag_drive_read(c.ds, d2, buf, AG_PAGE_SIZE, o2);
		ag_drive_write(c.ds, d1, buf, AG_PAGE_SIZE, o1);
	}
	bad = unwritten = 0;
	good = ag_page_check(ps, addr[7], &bad, &unwritten);
	ok(!good && !bad && unwritten == 3,
	   "a page never written: 3 copies that hold something else");

	/* a commit: pages and record in one flush */
	ag_pagestore_defer(ps, 1);
	for (i = 4; i < 6; i++)
		ag_page_write(ps, addr[i], 2, pg[i]);
	memset(&rec, 0, sizeof(rec));
	rec.gen = 2;
	rec.epoch = 1;
	rec.root = addr[5];
	memcpy(rec.uuid, c.ds->label.uuid, 16);
	rec.time_ns = ag_now_ns();
	rc = ag_pagestore_commit(ps, &rec, 0);
	ok(!rc && rec.npages == 2 && rec.pages[0] == addr[4],
	   "a durable commit of 2 pages lists them (%s)", ag_strerror(rc));
	ok(!ag_commit_pick(c.ds, &got, &scan, ag_pagestore_check_commit, ps) &&
	   got.gen == 2 && got.root == addr[5], "and is the state");

	/* the next one loses its pages (written to the data area: dropped)
	 * but its record lands: torn */
	ag_page_write(ps, addr[6], 3, pg[6]);
	rec.gen = 3;
	rec.root = addr[6];
	drop_from = AG_DATA_START;
	ag_drive_fault_hook = drop_hook;
	rc = ag_pagestore_commit(ps, &rec, 0);
	ag_drive_fault_hook = NULL;
	ag_pagestore_free(cold);
	rc = ag_pagestore_new(c.ds, 1 << 20, &cold);
	ok(!rc && !ag_commit_pick(c.ds, &got, &scan,
				  ag_pagestore_check_commit, cold) &&
	   got.gen == 2 && !scan.lost_gen,
	   "a commit whose pages never landed is torn: 2 stays the state");
	for (i = 0; i < 8; i++)
		free(pg[i]);
out:
	ag_pagestore_free(cold);
	ag_pagestore_free(ps);
	free(buf);
	drive_files_close(&c);
}

int main(void)
{
	rng = tap_seed() | 1;
	/* the damage laid out here is logged as errors: keep them quiet */
	ag_log_set_level(2);
	fail_ring_reads_of = -1;
	test_codec();
	test_header();
	test_ring();
	test_metad_fencing();
	test_pages();
	return tap_done();
}
