/*
 * test_openfile.c - unit tests for open files (openfile.c) on a real
 * cluster: two handles stand for two gateways. Buffered random writes
 * read back before and after their commit against a model; the size a
 * getattr reports while bytes are buffered; openers of one inode share
 * one buffer; other handles see the bytes after the flush; disjoint
 * writes and appends from both handles all survive; punch and
 * SEEK_DATA/SEEK_HOLE; a file removed by the other handle while open
 * stays readable until its last close and then goes; fsck is clean.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agora.h"
#include "tap.h"
#include "fixture.h"

#define SPAN (1u << 20)

static uint64_t seed;

static int make_file(struct ag_cluster *c, const char *name, uint64_t *ino)
{
	struct ag_attr a;
	int rc = ag_mknod(c, AG_ROOT, name, S_IFREG | 0644, 0, 0, 0, &a);

	*ino = a.ino;
	return rc;
}

/* Read all of [0, len) of ino through a fresh open on c. */
static int read_fresh(struct ag_cluster *c, uint64_t ino, uint8_t *buf,
		      size_t len)
{
	struct ag_file *f = NULL;
	ssize_t n;
	int rc;

	rc = ag_cluster_refresh(c);
	if (!rc)
		rc = ag_file_open(c, ino, &f);
	if (rc)
		return rc;
	n = ag_file_read(f, 0, buf, len);
	rc = ag_file_close(f);
	return n < 0 ? (int)n : n != (ssize_t)len ? -EIO : rc;
}

static void test_model(struct ag_cluster *c1, struct ag_cluster *c2)
{
	uint8_t *model = calloc(1, SPAN), *got = malloc(SPAN);
	struct ag_file *f = NULL, *g = NULL;
	struct ag_attr a;
	uint64_t ino, size = 0;
	int i, bad = 0, rc;

	ok(!make_file(c1, "model", &ino), "file made");
	ok(!ag_file_open(c1, ino, &f) && !ag_file_open(c1, ino, &g),
	   "opened twice on one handle");
	for (i = 0; i < 200; i++) {
		uint64_t off = tap_rand(&seed) % (SPAN - 65536);
		size_t len = 1 + tap_rand(&seed) % 65536, j;
		uint8_t buf[65536];

		for (j = 0; j < len; j++)
			buf[j] = (uint8_t)tap_rand(&seed);
		if (ag_file_write(i & 1 ? f : g, off, buf, len) != (ssize_t)len)
			bad++;
		memcpy(model + off, buf, len);
		if (off + len > size)
			size = off + len;
		if (i % 50 == 49 && ag_file_flush(f))
			bad++;
	}
	ok(!bad, "200 random writes through two openers (%d failed)", bad);
	ok(ag_file_read(f, 0, got, size) == (ssize_t)size &&
		   !memcmp(got, model, size),
	   "buffered bytes read back through the other opener");
	ok(!ag_file_getattr(c1, ino, &a) && a.size == size,
	   "getattr reports the buffered size (%llu)",
	   (unsigned long long)size);
	rc = ag_file_close(g);
	ok(!rc, "first close");
	ok(!ag_file_close(f), "last close commits");
	memset(got, 0, SPAN);
	ok(!read_fresh(c2, ino, got, size) && !memcmp(got, model, size),
	   "the other handle reads the committed bytes");
	ok(!ag_cluster_refresh(c2) && !ag_getattr(c2, ino, &a) &&
		   a.size == size,
	   "and their size");
	free(model);
	free(got);
}

/* Two handles write the two halves of one file, each widened to whole
 * chunks over the other's: both halves stay. */
static void test_disjoint(struct ag_cluster *c1, struct ag_cluster *c2)
{
	uint8_t *half = malloc(SPAN / 2), *got = malloc(SPAN);
	struct ag_file *f = NULL, *g = NULL;
	uint64_t ino;
	int rc1, rc2, right;

	ok(!make_file(c1, "halves", &ino), "file made");
	ok(!ag_cluster_refresh(c2) && !ag_file_open(c1, ino, &f) &&
		   !ag_file_open(c2, ino, &g),
	   "opened on both handles");
	memset(half, 'a', SPAN / 2);
	rc1 = ag_file_write(f, 0, half, SPAN / 2) == SPAN / 2;
	memset(half, 'b', SPAN / 2);
	rc2 = ag_file_write(g, SPAN / 2, half, SPAN / 2) == SPAN / 2;
	ok(rc1 && rc2, "each handle wrote its half");
	ok(!ag_file_close(f) && !ag_file_close(g), "both closed");
	rc1 = read_fresh(c1, ino, got, SPAN);
	right = !rc1 && got[0] == 'a' && got[SPAN / 2 - 1] == 'a' &&
		got[SPAN / 2] == 'b' && got[SPAN - 1] == 'b' &&
		!memchr(got, 0, SPAN);
	ok(right, "both halves are there (read: %d)", rc1);
	free(half);
	free(got);
}

static void test_append(struct ag_cluster *c1, struct ag_cluster *c2)
{
	struct ag_file *f = NULL, *g = NULL;
	char rec[32], *got;
	uint64_t ino;
	int i, bad = 0, na = 0, nb = 0;
	struct ag_attr a;

	ok(!make_file(c1, "log", &ino), "file made");
	ok(!ag_cluster_refresh(c2) && !ag_file_open(c1, ino, &f) &&
		   !ag_file_open(c2, ino, &g),
	   "opened on both handles");
	for (i = 0; i < 40; i++) {
		snprintf(rec, sizeof(rec), "%c%06d\n", i & 1 ? 'b' : 'a', i);
		if (ag_file_append(i & 1 ? g : f, rec, 8) != 8)
			bad++;
		if (i % 8 == 7 && (ag_file_flush(f) || ag_file_flush(g)))
			bad++;
	}
	ok(!bad, "40 appends from two handles (%d failed)", bad);
	ok(!ag_file_close(f) && !ag_file_close(g), "both closed");
	a.size = 0;
	bad = ag_cluster_refresh(c1) || ag_getattr(c1, ino, &a);
	ok(!bad && a.size == 40 * 8,
	   "the file holds all 40 records by size (%llu)",
	   (unsigned long long)a.size);
	got = malloc(40 * 8);
	if (!read_fresh(c1, ino, (uint8_t *)got, 40 * 8))
		for (i = 0; i < 40; i++) {
			na += got[i * 8] == 'a' && got[i * 8 + 7] == '\n';
			nb += got[i * 8] == 'b' && got[i * 8 + 7] == '\n';
		}
	ok(na == 20 && nb == 20, "each record whole: %d of a, %d of b", na,
	   nb);
	free(got);
}

static void test_holes(struct ag_cluster *c)
{
	uint8_t buf[65536], got[65536];
	struct ag_file *f = NULL;
	uint64_t ino, pos = 0;
	int zeros, rc;

	memset(buf, 'x', sizeof(buf));
	ok(!make_file(c, "holes", &ino) && !ag_file_open(c, ino, &f) &&
		   ag_file_write(f, 0, buf, sizeof(buf)) == sizeof(buf) &&
		   ag_file_write(f, 4 * SPAN, buf, sizeof(buf)) == sizeof(buf) &&
		   !ag_file_flush(f),
	   "two extents with a hole between");
	rc = ag_file_seek(c, ino, sizeof(buf), SEEK_DATA, &pos);
	ok(!rc && pos == 4 * SPAN,
	   "SEEK_DATA past the first extent finds the second (%llu)",
	   (unsigned long long)pos);
	rc = ag_file_seek(c, ino, 0, SEEK_HOLE, &pos);
	ok(!rc && pos == sizeof(buf),
	   "SEEK_HOLE finds the hole (%llu)", (unsigned long long)pos);
	ok(!ag_file_punch(c, ino, 4096, 8192), "punch 8 KiB");
	zeros = ag_file_read(f, 0, got, sizeof(got)) == sizeof(got) &&
		!memcmp(got, buf, 4096) && !got[4096] && !got[12287] &&
		got[12288] == 'x';
	ok(zeros, "the punched range reads as zeros, the rest as written");
	ok(!ag_file_close(f), "closed");
}

static void test_removed_open(struct ag_cluster *c1, struct ag_cluster *c2)
{
	uint8_t buf[8192], got[8192];
	struct ag_file *f = NULL;
	struct ag_attr a;
	uint64_t ino;
	int i, gone = 0;

	memset(buf, 'r', sizeof(buf));
	ok(!make_file(c1, "doomed", &ino) && !ag_file_open(c1, ino, &f) &&
		   ag_file_write(f, 0, buf, sizeof(buf)) == sizeof(buf) &&
		   !ag_file_flush(f),
	   "file written and open");
	ok(!ag_cluster_refresh(c2) && !ag_unlink(c2, AG_ROOT, "doomed"),
	   "the other handle removes it");
	ok(ag_file_write(f, 4096, "still", 5) == 5 && !ag_file_flush(f),
	   "it is still writable through the open file");
	memcpy(buf + 4096, "still", 5);
	ok(ag_file_read(f, 0, got, sizeof(got)) == sizeof(got) &&
		   !memcmp(got, buf, sizeof(got)),
	   "and readable");
	ok(!ag_file_close(f), "last close");
	/* metad drops the hold at the last close; the orphan goes with it */
	for (i = 0; i < 100 && !gone; i++) {
		gone = !ag_cluster_refresh(c1) &&
		       ag_getattr(c1, ino, &a) == -ENOENT;
		if (!gone)
			usleep(100000);
	}
	ok(gone, "after the last close the inode is gone");
}

int main(void)
{
	struct ag_cluster *c1 = NULL, *c2 = NULL;

	seed = tap_seed() | 1;
	if (fixture_init("openfile"))
		return 99;
	ok(!fixture_mkfs(), "mkfs");
	if (!ok(!fixture_start_metad(), "metad starts"))
		return tap_done();
	if (ok(!ag_cluster_open(conf, 0, &c1) &&
		       !ag_cluster_open(conf, 0, &c2),
	       "two handles open")) {
		test_model(c1, c2);
		test_disjoint(c1, c2);
		test_append(c1, c2);
		test_holes(c1);
		test_removed_open(c1, c2);
		ok(!ag_fsck(c1, stderr, 0), "fsck is clean");
	}
	ag_cluster_close(c1);
	ag_cluster_close(c2);
	fixture_stop_metad();
	fixture_done(tap_failed);
	return tap_done();
}
