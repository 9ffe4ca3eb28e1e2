/*
 * bench_stripe.c - the data plane's throughput on a 6-drive 4+2 cluster
 * of drive files (test/unit/stripes.h): 192 runs of 1 MiB packed into
 * stripes and written, read back by address and crc, read back with one
 * drive missing (every stripe rebuilt), and packed again with every write
 * dropped (the packer's own cost: encoding and crcs). The drive files go
 * to /dev/shm when it is writable, else to $TMPDIR or /tmp.
 *
 *   bench_stripe [DIR]
 *
 * Prints one line of figures and "result KEY VALUE" lines (bench/run.sh).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test/unit/stripes.h"
#include "util.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Every write reaches no drive: what packing costs without the I/O. */
static int drop_writes(int drive, int is_write, uint64_t off, size_t len)
{
	(void)drive;
	(void)off;
	(void)len;
	return is_write;
}

static int bench(const char *base)
{
	struct cluster c;
	const size_t piece = 1 << 20;
	const int npieces = 192;
	uint8_t *src = malloc(4 << 20), *buf = malloc(piece);
	uint64_t *addr = calloc(npieces, sizeof(*addr));
	uint32_t *crc = calloc(npieces, sizeof(*crc));
	struct ag_stripe_done *list;
	double t0, tw, tr, td, tc, mb;
	uint32_t seg = 0;
	int i, n, rc;

	rc = cluster_open(&c, base, "256M");
	if (rc || !src || !buf || !addr || !crc) {
		fprintf(stderr, "bench_stripe: no cluster on %s: %s\n", base,
			rc ? ag_strerror(rc) : "no memory");
		rc = rc ? rc : -ENOMEM;
		goto out;
	}
	fill_random(&rng, src, 4 << 20);
	for (i = 0; i < npieces; i++)
		crc[i] = ag_crc32c(piece_src(src, piece, i), piece);
	t0 = now();
	rc = pack_pieces(&c, src, piece, npieces, addr, &seg);
	tw = now() - t0;
	ag_packer_take(c.p, &list, &n);
	free(list);
	t0 = now();
	if (!rc)
		rc = read_pieces(&c, piece, npieces, addr, crc, buf);
	tr = now() - t0;
	c.f.ds->d[1].state = AG_DRIVE_MISSING;
	t0 = now();
	if (!rc)
		rc = read_pieces(&c, piece, npieces, addr, crc, buf);
	td = now() - t0;
	c.f.ds->d[1].state = AG_DRIVE_OK;
	if (rc) {
		fprintf(stderr, "bench_stripe: round trip: %s\n",
			ag_strerror(rc));
		goto out;
	}
	/* the packer's own cost: the same again with every write dropped */
	ag_drive_fault_hook = drop_writes;
	t0 = now();
	seg++;
	rc = pack_pieces(&c, src, piece, npieces, addr, &seg);
	tc = now() - t0;
	ag_drive_fault_hook = NULL;
	ag_packer_take(c.p, &list, &n);
	free(list);
	mb = npieces * piece / 1e6;
	printf("stripes on %s (%d x 1 MiB, 4+2, 64 KiB strips): pack %.0f MB/s "
	       "(%.0f MB/s without the writes), read %.0f MB/s, one drive "
	       "missing %.0f MB/s\n", base, npieces, mb / tw, mb / tc,
	       mb / tr, mb / td);
	printf("result pack_MBps %.0f\nresult pack_nowrite_MBps %.0f\n"
	       "result read_MBps %.0f\nresult degraded_MBps %.0f\n", mb / tw,
	       mb / tc, mb / tr, mb / td);
out:
	cluster_close(&c);
	free(src);
	free(buf);
	free(addr);
	free(crc);
	return rc;
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	const char *base = argc > 1 ? argv[1]
			   : !access("/dev/shm", W_OK) ? "/dev/shm"
			   : tmp && *tmp ? tmp : "/tmp";

	ag_log_set_level(3);
	return bench(base) ? 1 : 0;
}
