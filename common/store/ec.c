/*
 * ec.c - erasure coding of one stripe with isa-l: k data strips protected
 * by m parity strips, any k of the k + m enough to rebuild the rest.
 *
 * The encode matrix is Cauchy (identity on top, so data strips are stored
 * as-is). Parity bytes on the drives are defined by it: it must not change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/erasure_code.h>

#include "ec.h"

/* isa-l takes an int length; larger strips go through in slices. */
#define SLICE (1u << 30)

/* With k + m <= AG_EC_MAX, k * m and k * (missing) peak at 16 * 16. */
#define ROWS_MAX ((AG_EC_MAX / 2) * (AG_EC_MAX / 2))

struct ag_ec {
	int k, m;
	/* (k + m) x k, row i gives strip i from the data strips. */
	uint8_t matrix[AG_EC_MAX * AG_EC_MAX];
	/* ec_init_tables() expansion of the m parity rows, 32 bytes each
	 * coefficient. Aligned so the SIMD loads stay within cache lines. */
	uint8_t tables[32 * ROWS_MAX] __attribute__((aligned(64)));
};

int ag_ec_new(struct ag_ec **ep, int k, int m)
{
	struct ag_ec *e;

	if (k < 1 || m < 0 || k + m > AG_EC_MAX)
		return -EINVAL;
	if (posix_memalign((void **)&e, 64, sizeof(*e)))
		return -ENOMEM;
	e->k = k;
	e->m = m;
	gf_gen_cauchy1_matrix(e->matrix, k + m, k);
	if (m)
		ec_init_tables(k, m, e->matrix + k * k, e->tables);
	*ep = e;
	return 0;
}

void ag_ec_free(struct ag_ec *e)
{
	free(e);
}

/* dst[0..rows) = the rows expanded in tables applied to src[0..k). */
static void apply(int k, int rows, const uint8_t *tables, size_t len,
		  uint8_t *const *src, uint8_t *const *dst)
{
	uint8_t *s[AG_EC_MAX], *d[AG_EC_MAX];
	size_t off, n;
	int i;

	for (off = 0; off < len; off += n) {
		n = len - off < SLICE ? len - off : SLICE;
		for (i = 0; i < k; i++)
			s[i] = src[i] + off;
		for (i = 0; i < rows; i++)
			d[i] = dst[i] + off;
		/* isa-l's prototype lacks const, it only reads the tables. */
		ec_encode_data((int)n, k, rows, (uint8_t *)tables, s, d);
	}
}

void ag_ec_encode(const struct ag_ec *e, size_t len, uint8_t *const *data,
		  uint8_t *const *parity)
{
	if (e->m && len)
		apply(e->k, e->m, e->tables, len, data, parity);
}

/*
 * Everything lives on the stack (about 10 KiB at most) so that a rebuild,
 * which runs when things are already going wrong, cannot fail for memory.
 */
int ag_ec_reconstruct(const struct ag_ec *e, size_t len, uint8_t *const *strips,
		      const uint8_t *present)
{
	uint8_t tables[32 * ROWS_MAX] __attribute__((aligned(64)));
	uint8_t sub[AG_EC_MAX * AG_EC_MAX], inv[AG_EC_MAX * AG_EC_MAX];
	uint8_t rows[ROWS_MAX];
	uint8_t *src[AG_EC_MAX], *dst[AG_EC_MAX];
	int lost[AG_EC_MAX];
	int k = e->k, n = e->k + e->m, have = 0, nlost = 0, i, j, l;

	for (i = 0; i < n; i++) {
		if (!present[i]) {
			lost[nlost] = i;
			dst[nlost++] = strips[i];
		} else if (have < k) {
			memcpy(sub + have * k, e->matrix + i * k, k);
			src[have++] = strips[i];
		}
	}
	if (have < k)
		return -EIO;
	if (!nlost || !len)
		return 0;
	/* Any k rows of a Cauchy-extended identity are independent; a failure
	 * here would mean a corrupted matrix, not a bad stripe. */
	if (gf_invert_matrix(sub, inv, k))
		return -EIO;

	/* inv maps the k survivors back to the data strips, so a lost data
	 * strip is its row of inv and a lost parity strip is its encode row
	 * times inv: one pass over the survivors rebuilds all of them. */
	for (i = 0; i < nlost; i++) {
		uint8_t *row = rows + i * k;

		if (lost[i] < k) {
			memcpy(row, inv + lost[i] * k, k);
			continue;
		}
		for (j = 0; j < k; j++) {
			uint8_t c = 0;

			for (l = 0; l < k; l++)
				c ^= gf_mul(e->matrix[lost[i] * k + l],
					    inv[l * k + j]);
			row[j] = c;
		}
	}
	ec_init_tables(k, nlost, rows, tables);
	apply(k, nlost, tables, len, src, dst);
	return 0;
}
