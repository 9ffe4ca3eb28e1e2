/*
 * rebuild.c - agora drive replace: a new drive in the place of one that
 * failed or went missing, and every copy that lay on the old one written
 * onto it again, beside the running daemons.
 *
 * A rebuild is a scrub with repair narrowed to the new drive (scrub.h):
 * each metadata page with a copy there, each commit ring slot, each
 * stripe with a strip or a mirrored copy there is read, and what the new
 * drive lacks is written from the redundancy on the others. One home for
 * "rebuild a copy from the others", then: the scrub's.
 *
 * The new drive is labelled first, with a blank ring and a cursor
 * (format.h: the block at AG_REBUILD_OFF) written before the label: the
 * daemons take it in by themselves (ag_drives_check: a drive formatted
 * for the slot since the one they knew), and from then on their writes
 * go to it, so the rebuild waits one check period of theirs before it
 * reads. Until its copies are back, a read from the new drive finds zeros
 * where a page or strip should be, which fails its checksum like any
 * damaged copy and is read around; nothing trusts the drive for more.
 *
 * The cursor names the next stripe, in key order, and is written back
 * every few seconds: after a kill -9, agora drive replace of the same
 * drive and path goes on from there (the pages and ring, a small part,
 * are read again). A rebuild that gets to the end writes zeros over it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "drive.h"
#include "format.h"
#include "scrub.h"
#include "util.h"

/* The cursor's fields (format.h): byte offsets in its block. */
#define CUR_MAGIC 0
#define CUR_UUID 8
#define CUR_INDEX 24
#define CUR_SEG 28
#define CUR_STRIPE 32
#define CUR_BORN 40
#define CUR_DONE 48
#define CUR_CRC (AG_BLOCK - 4)

/* Write the cursor back at most this often. */
#define SAVE_NS 2000000000ull

struct cursor {
	uint32_t seg, stripe;
	uint64_t born, done;
};

struct rebuild {
	struct ag_cluster *c;
	const struct ag_rebuild_opts *o;
	int drive;
	struct cursor cur;
	uint8_t *block;
	uint64_t saved_ns, said_ns;
};

static void cursor_encode(uint8_t *b, const struct ag_drives *ds, int drive,
			  const struct cursor *cur)
{
	memset(b, 0, AG_BLOCK);
	memcpy(b + CUR_MAGIC, AG_REBUILD_MAGIC, 8);
	memcpy(b + CUR_UUID, ds->label.uuid, 16);
	put_le32(b + CUR_INDEX, (uint32_t)drive);
	put_le32(b + CUR_SEG, cur->seg);
	put_le32(b + CUR_STRIPE, cur->stripe);
	put_le64(b + CUR_BORN, cur->born);
	put_le64(b + CUR_DONE, cur->done);
	put_le32(b + CUR_CRC, ag_crc32c(b, CUR_CRC));
}

/* 0 when b is a cursor of this cluster's drive for the drive born then,
 * -ENOENT otherwise. */
static int cursor_decode(const uint8_t *b, const struct ag_drives *ds,
			 int drive, uint64_t born, struct cursor *cur)
{
	if (memcmp(b + CUR_MAGIC, AG_REBUILD_MAGIC, 8) ||
	    get_le32(b + CUR_CRC) != ag_crc32c(b, CUR_CRC) ||
	    memcmp(b + CUR_UUID, ds->label.uuid, 16) ||
	    get_le32(b + CUR_INDEX) != (uint32_t)drive ||
	    get_le64(b + CUR_BORN) != born)
		return -ENOENT;
	cur->seg = get_le32(b + CUR_SEG);
	cur->stripe = get_le32(b + CUR_STRIPE);
	cur->born = born;
	cur->done = get_le64(b + CUR_DONE);
	return 0;
}

static int cursor_write(struct rebuild *rb)
{
	int rc;

	cursor_encode(rb->block, rb->c->ds, rb->drive, &rb->cur);
	rc = ag_drive_write(rb->c->ds, rb->drive, rb->block, AG_BLOCK,
			    AG_REBUILD_OFF);
	if (!rc && ag_drive_sync(rb->c->ds, rb->drive))
		rc = -EIO;
	return rc;
}

/* After each stripe: keep the cursor, and say how far it is on plain
 * output (the scrub draws the bar on a terminal). */
static int stripe_done(void *arg, uint32_t seg, uint32_t stripe,
		       uint64_t done, uint64_t total)
{
	struct rebuild *rb = arg;
	uint64_t now = ag_now_ns();

	rb->cur.seg = seg;
	rb->cur.stripe = stripe;
	rb->cur.done = done;
	if (rb->o->out && !rb->o->progress && now - rb->said_ns >= 5 * SAVE_NS) {
		fprintf(rb->o->out, "rebuild: %llu of %llu MiB (%.0f%%)\n",
			(unsigned long long)(done >> 20),
			(unsigned long long)(total >> 20),
			total ? 100.0 * (double)done / (double)total : 100.0);
		fflush(rb->o->out);
		rb->said_ns = now;
	}
	if (now - rb->saved_ns < SAVE_NS)
		return 0;
	rb->saved_ns = now;
	return cursor_write(rb);
}

int ag_drive_rebuilding(struct ag_cluster *c, int drive, uint32_t *seg,
			uint32_t *stripe, uint64_t *done)
{
	struct ag_drives *ds = c->ds;
	uint8_t *b;
	struct cursor cur;
	int rc;

	if (drive < 0 || drive >= ds->n)
		return -EINVAL;
	if (ds->d[drive].state != AG_DRIVE_OK)
		return 0;
	b = ag_alloc_aligned(AG_BLOCK);
	if (!b)
		return -ENOMEM;
	rc = ag_drive_read(ds, drive, b, AG_BLOCK, AG_REBUILD_OFF);
	if (!rc)
		rc = !cursor_decode(b, ds, drive, ds->d[drive].born, &cur);
	free(b);
	if (rc == 1) {
		*seg = cur.seg;
		*stripe = cur.stripe;
		*done = cur.done;
	}
	return rc;
}

/* Whether path names drive i's place in the configuration. */
static int same_place(const struct ag_drive *d, const char *path)
{
	char *a, *b;
	int same;

	if (!d->path)
		return 0;
	if (!strcmp(d->path, path))
		return 1;
	a = realpath(d->path, NULL);
	b = realpath(path, NULL);
	same = a && b && !strcmp(a, b);
	free(a);
	free(b);
	return same;
}

/* Where to start: go on from the cursor of a rebuild of drive i under
 * way (1), or format a new drive at its place and take it in (0). */
static int begin(struct rebuild *rb, const char *path)
{
	struct ag_drives *ds = rb->c->ds;
	struct ag_drive *d = &ds->d[rb->drive];
	int rc;

	if (d->state == AG_DRIVE_OK) {
		rc = ag_drive_read(ds, rb->drive, rb->block, AG_BLOCK,
				   AG_REBUILD_OFF);
		if (!rc && !cursor_decode(rb->block, ds, rb->drive, d->born,
					  &rb->cur))
			return 1;
		AG_ERR("drive %d (%s) is in use and no rebuild of it is under "
		       "way: nothing to replace", rb->drive, d->path);
		return -EBUSY;
	}
	rb->cur = (struct cursor){ .born = ag_drive_new_birth(ds, rb->drive) };
	cursor_encode(rb->block, ds, rb->drive, &rb->cur);
	rc = ag_drive_format_one(ds, rb->drive, path, rb->o->force,
				 rb->cur.born, rb->block, AG_REBUILD_OFF);
	if (!rc)
		rc = ag_drive_adopt(ds, rb->drive);
	return rc;
}

int ag_drive_replace(struct ag_cluster *c, int drive, const char *path,
		     const struct ag_rebuild_opts *o,
		     struct ag_rebuild_report *r)
{
	struct ag_drives *ds = c->ds;
	struct rebuild rb = { .c = c, .o = o, .drive = drive };
	struct ag_scrub_opts so = {
		.repair = 1,
		.verbose = o->verbose,
		.progress = o->progress,
		.rate_mb = o->rate_mb,
		.out = o->out,
	};
	struct ag_scrub_focus f = {
		.stripe_done = stripe_done,
		.arg = &rb,
		.what = "rebuild",
	};
	double settle = o->settle_s;
	int rc;

	memset(r, 0, sizeof(*r));
	if (drive < 0 || drive >= ds->n)
		return -EINVAL;
	if (!same_place(&ds->d[drive], path)) {
		/* the daemons look for drive N where the config says */
		AG_ERR("%s names %s for drive %d, not %s: name the new drive "
		       "there first", c->cfg->path,
		       ds->d[drive].path ? ds->d[drive].path : "no path",
		       drive, path);
		return -EINVAL;
	}
	rb.block = ag_alloc_aligned(AG_BLOCK);
	if (!rb.block)
		return -ENOMEM;
	rc = begin(&rb, path);
	if (rc < 0)
		goto out;
	r->resumed = rc;
	r->from_seg = rb.cur.seg;
	r->from_stripe = rb.cur.stripe;
	if (o->out && r->resumed) {
		fprintf(o->out, "rebuild: drive %d goes on from segment %u "
			"stripe %u\n", drive, rb.cur.seg, rb.cur.stripe);
		fflush(o->out);
	}
	/* the daemons' writes must reach the new drive before it is read:
	 * metad looks each second, gateways each third of a lease */
	if (settle < 0)
		settle = (c->cfg->lease_timeout > 3 ? c->cfg->lease_timeout / 3
						    : 1) + 2;
	if (settle > 0)
		nanosleep(&(struct timespec){ .tv_sec = (time_t)settle,
			.tv_nsec = (long)((settle - (double)(time_t)settle) *
					  1e9) }, NULL);
	f.drives = 1ull << drive;
	f.from_seg = rb.cur.seg;
	f.from_stripe = rb.cur.stripe;
	rb.saved_ns = rb.said_ns = ag_now_ns();
	rc = ag_scrub_focused(c, &so, &f, &r->scrub);
	if (rc >= 0) {
		/* done to the end: a later replace of this drive is refused */
		memset(rb.block, 0, AG_BLOCK);
		if (ag_drive_write(ds, drive, rb.block, AG_BLOCK,
				   AG_REBUILD_OFF) || ag_drive_sync(ds, drive))
			rc = -EIO;
	}
out:
	free(rb.block);
	return rc;
}
