/*
 * test_ec.c - unit tests for stripe erasure coding: parity matches a plain
 * GF(2^8) reference, every loss of up to m strips rebuilds byte-exact, m + 1
 * losses give -EIO, bad geometry gives -EINVAL, and throughput figures.
 */
#include <errno.h>
#include <string.h>

#include <isa-l/erasure_code.h>

#include "ec.h"
#include "tap.h"

/* Above this many loss patterns per geometry, sample instead. */
#define EXHAUSTIVE 20000
#define SAMPLES 2000

static uint64_t rng;

struct stripe {
	int k, m, n;
	size_t len;
	uint8_t *strips[AG_EC_MAX], *orig[AG_EC_MAX], *mem[AG_EC_MAX];
	uint8_t present[AG_EC_MAX];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double choose(int n, int r)
{
	double c = 1;
	int i;

	for (i = 0; i < r; i++)
		c = c * (n - i) / (i + 1);
	return c;
}

/* Strips at an odd offset when asked, to keep isa-l off aligned paths. */
static int stripe_new(struct stripe *s, int k, int m, size_t len, int skew)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->k = k;
	s->m = m;
	s->n = k + m;
	s->len = len;
	for (i = 0; i < s->n; i++) {
		s->mem[i] = malloc(len + 1);
		s->orig[i] = malloc(len);
		if (!s->mem[i] || !s->orig[i])
			return -ENOMEM;
		s->strips[i] = s->mem[i] + !!skew;
	}
	return 0;
}

static void stripe_free(struct stripe *s)
{
	int i;

	for (i = 0; i < s->n; i++) {
		free(s->mem[i]);
		free(s->orig[i]);
	}
}

/* Parity straight from the definition, one gf_mul at a time. */
static int reference_ok(const struct stripe *s)
{
	uint8_t a[AG_EC_MAX * AG_EC_MAX];
	size_t x;
	int p, j;

	gf_gen_cauchy1_matrix(a, s->n, s->k);
	for (p = 0; p < s->m; p++)
		for (x = 0; x < s->len; x++) {
			uint8_t c = 0;

			for (j = 0; j < s->k; j++)
				c ^= gf_mul(a[(s->k + p) * s->k + j],
					    s->strips[j][x]);
			if (c != s->strips[s->k + p][x])
				return 0;
		}
	return 1;
}

/* Lose the strips in idx[0..r), rebuild, compare. 1 when all is well. */
static int try_loss(const struct ag_ec *e, struct stripe *s, const int *idx,
		    int r)
{
	int i, rc;

	memset(s->present, 1, sizeof(s->present));
	for (i = 0; i < r; i++) {
		s->present[idx[i]] = 0;
		memset(s->strips[idx[i]], 0, s->len);
	}
	rc = ag_ec_reconstruct(e, s->len, s->strips, s->present);
	if (r > s->m) {
		/* Survivors must be left alone, lost ones still zero. */
		if (rc != -EIO)
			return 0;
		for (i = 0; i < s->n; i++)
			if (s->present[i] &&
			    memcmp(s->strips[i], s->orig[i], s->len))
				return 0;
		for (i = 0; i < r; i++)
			memcpy(s->strips[idx[i]], s->orig[idx[i]], s->len);
		return 1;
	}
	if (rc)
		return 0;
	for (i = 0; i < s->n; i++)
		if (memcmp(s->strips[i], s->orig[i], s->len))
			return 0;
	return 1;
}

/* First combination of r out of n in idx; next_combo() steps it. */
static void first_combo(int *idx, int r)
{
	int i;

	for (i = 0; i < r; i++)
		idx[i] = i;
}

static int next_combo(int *idx, int r, int n)
{
	int i = r - 1, j;

	while (i >= 0 && idx[i] == n - r + i)
		i--;
	if (i < 0)
		return 0;
	idx[i]++;
	for (j = i + 1; j < r; j++)
		idx[j] = idx[j - 1] + 1;
	return 1;
}

static void random_combo(int *idx, int r, int n)
{
	int pool[AG_EC_MAX], i;

	for (i = 0; i < n; i++)
		pool[i] = i;
	for (i = 0; i < r; i++) {
		int j = i + tap_rand(&rng) % (n - i), t = pool[i];

		pool[i] = pool[j];
		pool[j] = t;
		idx[i] = pool[i];
	}
}

/* Every loss of r strips (or a random sample of them); returns failures. */
static long losses(const struct ag_ec *e, struct stripe *s, int r, long *tried)
{
	int idx[AG_EC_MAX];
	long bad = 0, i;

	if (choose(s->n, r) <= EXHAUSTIVE) {
		first_combo(idx, r);
		do {
			(*tried)++;
			if (!try_loss(e, s, idx, r) && !bad++)
				diag("first failure: %d+%d len %zu, %d lost, "
				     "first %d", s->k, s->m, s->len, r,
				     r ? idx[0] : -1);
		} while (next_combo(idx, r, s->n));
		return bad;
	}
	for (i = 0; i < SAMPLES; i++) {
		random_combo(idx, r, s->n);
		(*tried)++;
		if (!try_loss(e, s, idx, r) && !bad++)
			diag("first failure: %d+%d len %zu, %d lost (sampled)",
			     s->k, s->m, s->len, r);
	}
	return bad;
}

static void test_geometry(int k, int m, size_t len, int skew)
{
	struct ag_ec *e;
	struct stripe s;
	long tried = 0, bad = 0, eio_tried = 0, eio_bad;
	int i, r;
	size_t x;

	if (ag_ec_new(&e, k, m) || stripe_new(&s, k, m, len, skew)) {
		ok(0, "%d+%d len %zu: setup", k, m, len);
		return;
	}
	for (i = 0; i < k; i++)
		for (x = 0; x < len; x++)
			s.strips[i][x] = (uint8_t)(tap_rand(&rng) >> 56);
	/* Parity buffers start as garbage: encode must overwrite, not add. */
	for (i = k; i < s.n; i++)
		memset(s.strips[i], 0xa5, len);
	ag_ec_encode(e, len, s.strips, s.strips + k);
	for (i = 0; i < s.n; i++)
		memcpy(s.orig[i], s.strips[i], len);
	if (len <= 4096)
		ok(reference_ok(&s), "%d+%d len %zu%s: parity matches reference",
		   k, m, len, skew ? " skewed" : "");

	for (r = 0; r <= m; r++)
		bad += losses(e, &s, r, &tried);
	ok(!bad, "%d+%d len %zu%s: %ld loss patterns of up to %d strips rebuilt "
	   "(%ld bad)", k, m, len, skew ? " skewed" : "", tried, m, bad);

	eio_bad = losses(e, &s, m + 1, &eio_tried);
	ok(!eio_bad, "%d+%d len %zu%s: %ld patterns of %d lost give -EIO",
	   k, m, len, skew ? " skewed" : "", eio_tried, m + 1);

	stripe_free(&s);
	ag_ec_free(e);
}

static void test_invalid(void)
{
	struct ag_ec *e = NULL;

	ok(ag_ec_new(&e, 0, 2) == -EINVAL, "k = 0 is -EINVAL");
	ok(ag_ec_new(&e, 4, -1) == -EINVAL, "m < 0 is -EINVAL");
	ok(ag_ec_new(&e, 20, 13) == -EINVAL, "k + m > AG_EC_MAX is -EINVAL");
	ok(ag_ec_new(&e, 20, 12) == 0 && e, "k + m == AG_EC_MAX is valid");
	ag_ec_free(e);
}

static void bench(int k, int m, int nlost)
{
	size_t len = 1 << 20, bytes;
	struct ag_ec *e;
	struct stripe s;
	double t0, t;
	int i;

	if (ag_ec_new(&e, k, m) || stripe_new(&s, k, m, len, 0))
		return;
	for (i = 0; i < k; i++)
		memset(s.strips[i], i * 37 + 1, len);

	bytes = 0;
	t0 = now();
	do {
		ag_ec_encode(e, len, s.strips, s.strips + k);
		bytes += k * len;
	} while ((t = now() - t0) < 0.3);
	diag("encode %d+%d, 1 MiB strips: %.2f GB/s of data", k, m,
	     bytes / t / 1e9);

	/* Worst case: the lost strips are data, so every one needs the
	 * inverse; the matrix work is part of each call. */
	memset(s.present, 1, sizeof(s.present));
	for (i = 0; i < nlost; i++)
		s.present[i] = 0;
	bytes = 0;
	t0 = now();
	do {
		ag_ec_reconstruct(e, len, s.strips, s.present);
		bytes += k * len;
	} while ((t = now() - t0) < 0.3);
	diag("reconstruct %d+%d, %d data strips lost, 1 MiB strips: "
	     "%.2f GB/s of stripe data", k, m, nlost, bytes / t / 1e9);

	stripe_free(&s);
	ag_ec_free(e);
}

int main(void)
{
	static const int geo[][2] = {
		{ 1, 0 }, { 1, 1 }, { 1, 3 }, { 2, 1 }, { 3, 1 }, { 2, 2 },
		{ 4, 2 }, { 6, 3 }, { 8, 2 }, { 8, 3 }, { 10, 2 }, { 10, 4 },
		{ 12, 4 }, { 31, 1 }, { 16, 16 }, { 20, 12 }, { 1, 31 },
	};
	static const size_t lens[] = { 1, 31, 1000, 4096, 65536 };
	size_t g, l;

	rng = tap_seed() | 1; /* xorshift never leaves 0 */
	test_invalid();
	for (g = 0; g < sizeof(geo) / sizeof(geo[0]); g++)
		for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			/* Keep the widest stripes to one size and a
			 * reasonable run time. */
			if (geo[g][0] + geo[g][1] > 16 && lens[l] != 1000)
				continue;
			test_geometry(geo[g][0], geo[g][1], lens[l], l == 2);
		}

	bench(8, 2, 2);
	bench(10, 2, 2);
	bench(4, 2, 1);
	return tap_done();
}
