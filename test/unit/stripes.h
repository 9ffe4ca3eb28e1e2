/*
 * stripes.h - a 6-drive 4+2 cluster of drive files for the data plane,
 * with no metad and no tree: drives, a stripe reader and a packer, made
 * in a temporary directory under base (drives.h) and removed by
 * cluster_close. Shared by test_stripe.c and bench/bench_stripe.c;
 * header-only, as tap.h is.
 */
#ifndef AG_TEST_STRIPES_H
#define AG_TEST_STRIPES_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drives.h"
#include "stripe.h"
#include "tap.h"
#include "util.h"

#define NDRIVES 6
#define K 4
#define M 2
#define W (K + M)
#define STRIP (64u << 10)
#define SPAY ((uint64_t)K * STRIP)

struct cluster {
	struct drive_files f;
	struct ag_stripes *s;
	struct ag_packer *p;
};

static void fill_random(uint64_t *rng, uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = tap_rand(rng);

		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = tap_rand(rng);
}

static int cluster_open(struct cluster *c, const char *base,
			const char *drive_size)
{
	char ec[16];
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(ec, sizeof(ec), "%d+%d", K, M);
	rc = drive_files_open(&c->f, base, "stripe", NDRIVES, ec, drive_size);
	if (!rc)
		rc = ag_stripes_new(c->f.ds, &c->s);
	if (!rc)
		rc = ag_packer_new(c->s, &c->p);
	return rc;
}

static void cluster_close(struct cluster *c)
{
	ag_packer_free(c->p);
	ag_stripes_free(c->s);
	drive_files_close(&c->f);
}

/* Source bytes of piece i of pack_pieces: pieces overlap and start at
 * odd offsets, so that no two are alike and none is strip-aligned. src
 * holds 3 pieces and 4 KiB. */
static const uint8_t *piece_src(const uint8_t *src, size_t piece, int i)
{
	return src + (i % 3) * piece + i % 4096;
}

/* Pack npieces pieces of piece bytes from segment *seg on, moving to the
 * next segment when one is full, and flush: addr[i] gets the address of
 * piece i, *seg the last segment used. */
static int pack_pieces(struct cluster *c, const uint8_t *src, size_t piece,
		       int npieces, uint64_t *addr, uint32_t *seg)
{
	int i, rc = 0;

	ag_packer_start(c->p, *seg, 0);
	for (i = 0; i < npieces && !rc; i++) {
		if (ag_packer_room(c->p) < piece) {
			rc = ag_packer_flush(c->p);
			ag_packer_start(c->p, ++*seg, 0);
		}
		rc |= ag_packer_add(c->p, piece_src(src, piece, i), piece,
				    &addr[i]);
	}
	return rc | ag_packer_flush(c->p);
}

/* Read every piece back by address and crc. */
static int read_pieces(struct cluster *c, size_t piece, int npieces,
		       const uint64_t *addr, const uint32_t *crc, uint8_t *buf)
{
	int i, rc = 0;

	for (i = 0; i < npieces && !rc; i++)
		rc = ag_stripes_read(c->s, addr[i], buf, piece, crc[i]);
	return rc;
}

#endif
