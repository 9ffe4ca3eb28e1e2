/*
 * test_drive.c - drives that fail and come back (drive.c): a run of I/O
 * errors fails a drive and fewer do not; a label changed under a running
 * program fails it; a drive not OK is taken in again only when its path
 * holds a drive formatted for its slot since (not the one that failed, nor
 * a copy of it); a replacement is refused over another cluster's label
 * and over a drive in use; a replacement's note block lands before its
 * label.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"
#include "drive.h"
#include "drives.h"
#include "format.h"
#include "tap.h"
#include "util.h"

static int fail_drive = -1, fail_left;

/* Fail the next fail_left reads of fail_drive. */
static int hook(int drive, int is_write, uint64_t off, size_t len)
{
	(void)off;
	(void)len;
	if (drive != fail_drive || is_write || !fail_left)
		return 0;
	fail_left--;
	return -EIO;
}

static int read_block(struct ag_drives *ds, int i, uint8_t *b)
{
	return ag_drive_read(ds, i, b, AG_BLOCK, AG_DATA_START);
}

/* Write over the label of drive file path with that of another cluster
 * (a fresh uuid), or with zeros. */
static int relabel(const char *path, const struct ag_label *l, int zero)
{
	uint8_t b[AG_BLOCK];
	struct ag_label other = *l;
	int fd = open(path, O_WRONLY), rc = 0;

	if (fd < 0)
		return -errno;
	if (zero) {
		memset(b, 0, sizeof(b));
	} else {
		ag_random(other.uuid, sizeof(other.uuid));
		ag_label_encode(b, &other);
	}
	if (pwrite(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		rc = -EIO;
	close(fd);
	return rc;
}

int main(void)
{
	struct drive_files df;
	struct ag_drives *ds;
	char path[600], copy[600], cmd[1300];
	uint8_t *b = ag_alloc_aligned(AG_BLOCK), *note = ag_alloc_aligned(AG_BLOCK);
	int i, rc, bad;
	uint64_t born;
	struct ag_label l;

	if (!ok(b && note, "buffers"))
		return tap_done();
	rc = drive_files_open(&df, NULL, "drive", 4, "2+1", "16M");
	if (!ok(!rc, "4 drive files formatted and opened (%s)", strerror(-rc)))
		return tap_done();
	ds = df.ds;
	ag_drive_fault_hook = hook;

	/* a run of errors one short of the limit, then a success */
	fail_drive = 1;
	fail_left = AG_DRIVE_ERROR_RUN - 1;
	for (i = 0, bad = 0; i < AG_DRIVE_ERROR_RUN - 1; i++)
		bad += read_block(ds, 1, b) == -EIO;
	ok(bad == AG_DRIVE_ERROR_RUN - 1 && ds->d[1].state == AG_DRIVE_OK,
	   "%d I/O errors in a row: -EIO each, the drive stays OK",
	   AG_DRIVE_ERROR_RUN - 1);
	ok(!read_block(ds, 1, b), "a read that works ends the run");
	fail_left = AG_DRIVE_ERROR_RUN - 1;
	for (i = 0; i < AG_DRIVE_ERROR_RUN - 1; i++)
		read_block(ds, 1, b);
	ok(ds->d[1].state == AG_DRIVE_OK,
	   "errors of two runs apart do not add up");
	fail_left = AG_DRIVE_ERROR_RUN;
	for (i = 0; i < AG_DRIVE_ERROR_RUN; i++)
		read_block(ds, 1, b);
	ok(ds->d[1].state == AG_DRIVE_FAILED,
	   "%d I/O errors in a row fail the drive", AG_DRIVE_ERROR_RUN);
	ok(read_block(ds, 1, b) == -EIO, "a failed drive gives -EIO at once");
	fail_left = 0;
	ok(ag_drive_adopt(ds, 1) == -ESTALE,
	   "the drive that failed, as it was, is not taken in again (-ESTALE)");
	ok(ag_drives_check(ds) == 0 && ds->d[1].state == AG_DRIVE_FAILED,
	   "nor by ag_drives_check");

	/* a replacement at its path */
	ok(ag_drive_adopt(ds, 0) == -EALREADY, "an OK drive: -EALREADY");
	snprintf(path, sizeof(path), "%s/d1", df.dir);
	born = ag_drive_new_birth(ds, 1);
	ok(born > ds->d[1].born, "a new birth is later than the old drive's");
	memset(note, 0x5a, AG_BLOCK);
	rc = ag_drive_format_one(ds, 1, path, 0, born, note, AG_REBUILD_OFF);
	ok(!rc, "a replacement formatted over the failed drive (%s)",
	   strerror(-rc));
	rc = ag_drive_adopt(ds, 1);
	ok(!rc && ds->d[1].state == AG_DRIVE_OK && ds->d[1].born == born,
	   "and taken in (%s)", strerror(-rc));
	ok(!ag_drive_read(ds, 1, b, AG_BLOCK, AG_REBUILD_OFF) &&
	   !memcmp(b, note, AG_BLOCK), "its note block is there");
	ok(!ag_drive_read(ds, 1, b, AG_BLOCK, 0) && !ag_label_decode(b, &l) &&
	   l.index == 1 && !memcmp(l.uuid, ds->label.uuid, 16) &&
	   l.created == born, "its label: this cluster, slot 1, the new birth");
	ok(!ag_drive_read(ds, 1, b, AG_BLOCK, ag_commit_slot_off(3)) &&
	   !b[0] && !memcmp(b, b + 1, AG_BLOCK - 1), "its ring is blank");
	ok(ag_drive_format_one(ds, 2, path, 0, born, NULL, 0) == -EBUSY,
	   "a drive in use is no replacement (-EBUSY)");

	/* a label changed under a running program fails the drive */
	snprintf(path, sizeof(path), "%s/d2", df.dir);
	ok(!relabel(path, &ds->label, 0), "drive 2 relabelled for another cluster");
	ok(ag_drives_check(ds) == 1 && ds->d[2].state == AG_DRIVE_FAILED,
	   "ag_drives_check fails it");
	ok(ag_drive_adopt(ds, 2) == -ENOENT,
	   "another cluster's drive is not taken in (-ENOENT)");
	ok(ag_drive_format_one(ds, 2, path, 0, ag_drive_new_birth(ds, 2), NULL,
			       0) == -EEXIST,
	   "nor formatted over without force (-EEXIST)");
	ok(!ag_drive_format_one(ds, 2, path, 1, ag_drive_new_birth(ds, 2), NULL,
				0) && ag_drives_check(ds) == 0 &&
	   ds->d[2].state == AG_DRIVE_OK,
	   "with force it is, and ag_drives_check takes it in");

	/* removed, then a copy of the old file put back: stays out */
	snprintf(path, sizeof(path), "%s/d3", df.dir);
	snprintf(copy, sizeof(copy), "%s/d3.copy", df.dir);
	snprintf(cmd, sizeof(cmd), "cp --sparse=always %s %s", path, copy);
	ok(!system(cmd) && !unlink(path), "drive 3 copied and removed");
	ok(ag_drives_check(ds) == 1 && ds->d[3].state == AG_DRIVE_FAILED,
	   "its removal fails it");
	ok(!rename(copy, path) && ag_drives_check(ds) == 0 &&
	   ds->d[3].state == AG_DRIVE_FAILED,
	   "a copy of the old drive put back is not taken in");
	ok(!relabel(path, &ds->label, 1) && ag_drive_adopt(ds, 3) == -ENOENT,
	   "nor one with no label");

	ag_drive_fault_hook = NULL;
	drive_files_close(&df);
	free(b);
	free(note);
	return tap_done();
}
