/*
 * test_cdc.c - unit tests for content-defined chunking: size bounds,
 * streaming equals one-shot, boundaries resynchronise after an insertion,
 * average size, parameter checks. Its throughput figures are
 * bench/bench_cdc's.
 */
#include <errno.h>
#include <string.h>

#include "cdc.h"
#include "tap.h"

#define STREAM (8u << 20)

static uint64_t rng;

/*
 * Random-ish, partly compressible data: random runs, small-alphabet text-like
 * runs, repeats of earlier content and the odd short zero run, so the hash
 * sees more than uniform noise.
 */
static void fill(uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = 256 + tap_rand(&rng) % 16384, j;
		unsigned kind = tap_rand(&rng) % 8;

		if (run > n - i)
			run = n - i;
		if (kind < 4) {
			for (j = 0; j < run; j++)
				p[i + j] = (uint8_t)(tap_rand(&rng) >> 56);
		} else if (kind < 6) {
			for (j = 0; j < run; j++)
				p[i + j] = "etaoin shrdlu\n"[tap_rand(&rng) % 14];
		} else if (kind == 6 && i > run) {
			memmove(p + i, p + tap_rand(&rng) % (i - run), run);
		} else {
			run = run < 1024 ? run : 1024;
			memset(p + i, 0, run);
		}
		i += run;
	}
}

/* All chunk lengths of buf[0..n), fed at once. Returns the count. */
static size_t chunk_all(const struct ag_cdc *c, const uint8_t *buf, size_t n,
			size_t *lens)
{
	size_t off = 0, cnt = 0;

	while (off < n) {
		size_t l = ag_cdc_next(c, buf + off, n - off, 1);

		if (!l || l > n - off)
			return 0;
		lens[cnt++] = l;
		off += l;
	}
	return cnt;
}

/*
 * The same, the way a network reader does it: a buffer of a little more than
 * max, topped up by pieces of random size, cut with eof=0 until the chunker
 * asks for more, and only the last bytes cut with eof=1.
 */
static size_t chunk_stream(const struct ag_cdc *c, const uint8_t *src, size_t n,
			   size_t *lens, int *bad)
{
	size_t cap = (size_t)c->max + 4096, have = 0, fed = 0, cnt = 0;
	uint8_t *buf = malloc(cap);

	*bad = 0;
	if (!buf)
		return 0;
	for (;;) {
		size_t off = 0, l, piece;
		int eof = fed == n;

		while (off < have &&
		       (l = ag_cdc_next(c, buf + off, have - off, eof)) > 0) {
			if (l > have - off)
				(*bad)++;
			lens[cnt++] = l;
			off += l;
		}
		/* With eof=0, a full max in the buffer must always cut. */
		if (have - off >= c->max)
			(*bad)++;
		memmove(buf, buf + off, have - off);
		have -= off;
		if (eof)
			break;
		piece = 1 + tap_rand(&rng) % (tap_rand(&rng) & 1 ? 64 : cap);
		if (piece > cap - have)
			piece = cap - have;
		if (piece > n - fed)
			piece = n - fed;
		memcpy(buf + have, src + fed, piece);
		have += piece;
		fed += piece;
	}
	if (have)
		(*bad)++;
	free(buf);
	return cnt;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static void test_params(const uint8_t *data, uint8_t *edited, size_t *lens,
			size_t *lens2, uint32_t min, uint32_t avg, uint32_t max)
{
	struct ag_cdc c;
	size_t n, n2, i, off, bounds, kept, ins, at;
	size_t *offs, *offs2;
	int inrange = 1, same, bad;

	ok(ag_cdc_init(&c, min, avg, max) == 0, "init %u/%u/%u", min, avg, max);

	n = chunk_all(&c, data, STREAM, lens);
	for (i = 0; i + 1 < n; i++)
		if (lens[i] < min || lens[i] > max)
			inrange = 0;
	ok(n > 0 && inrange && lens[n - 1] <= max,
	   "%u/%u/%u: %zu chunks, all but the last within [min,max]", min,
	   avg, max, n);
	ok(STREAM / n >= avg / 2 && STREAM / n <= (size_t)avg * 2,
	   "%u/%u/%u: average %zu within 0.5x..2x avg", min, avg, max,
	   STREAM / n);

	n2 = chunk_stream(&c, data, STREAM, lens2, &bad);
	same = n2 == n && !bad && !memcmp(lens, lens2, n * sizeof(*lens));
	ok(same, "%u/%u/%u: streaming gives the same %zu boundaries (%zu, %d bad)",
	   min, avg, max, n, n2, bad);

	/* Insert a few bytes near the start; later boundaries must only move
	 * by the insertion length. */
	ins = 1 + tap_rand(&rng) % 16;
	at = 100 + tap_rand(&rng) % 4000;
	memcpy(edited, data, at);
	for (i = 0; i < ins; i++)
		edited[at + i] = (uint8_t)tap_rand(&rng);
	memcpy(edited + at + ins, data + at, STREAM - at);
	n2 = chunk_all(&c, edited, STREAM + ins, lens2);

	/* Turn lengths into end offsets, in place. */
	offs = lens;
	offs2 = lens2;
	for (i = 0, off = 0; i < n; i++)
		offs[i] = off += lens[i];
	for (i = 0, off = 0; i < n2; i++)
		offs2[i] = off += lens2[i];
	for (i = 0, bounds = kept = 0; i < n; i++) {
		size_t want = offs[i] + ins;

		if (offs[i] <= at)
			continue;
		bounds++;
		if (bsearch(&want, offs2, n2, sizeof(*offs2), cmp_size))
			kept++;
	}
	ok(bounds && kept * 10 > bounds * 9,
	   "%u/%u/%u: %zu bytes inserted at %zu keep %zu of %zu later boundaries",
	   min, avg, max, ins, at, kept, bounds);
}

static void test_invalid(void)
{
	struct ag_cdc c;

	ok(ag_cdc_init(&c, 32, 256, 1024) == -EINVAL, "min < 64 is -EINVAL");
	ok(ag_cdc_init(&c, 64, 300, 1024) == -EINVAL,
	   "avg not a power of two is -EINVAL");
	ok(ag_cdc_init(&c, 512, 256, 1024) == -EINVAL, "min > avg is -EINVAL");
	ok(ag_cdc_init(&c, 64, 2048, 1024) == -EINVAL, "avg > max is -EINVAL");
	ok(ag_cdc_init(&c, 0, 0, 0) == -EINVAL, "all zero is -EINVAL");
	ok(ag_cdc_init(&c, 64, 64, 64) == 0, "min == avg == max is valid");
}

static void test_edges(const uint8_t *data)
{
	static uint8_t zero[20000];
	struct ag_cdc c;
	size_t l, first;
	int good = 1;

	ag_cdc_init(&c, 256, 1024, 4096);
	ok(ag_cdc_next(&c, data, 0, 1) == 0 && ag_cdc_next(&c, data, 0, 0) == 0,
	   "empty input gives 0");
	ok(ag_cdc_next(&c, data, 100, 1) == 100 &&
		   ag_cdc_next(&c, data, 256, 1) == 256,
	   "at eof a tail up to min is one chunk");
	ok(ag_cdc_next(&c, data, 256, 0) == 0, "up to min without eof waits");
	/* The first cut is fixed by content; a shorter buffer either holds it
	 * or, short of eof, yields 0. */
	first = ag_cdc_next(&c, data, 8192, 0);
	for (l = 257; l <= 4096; l++) {
		size_t a = ag_cdc_next(&c, data, l, 0);
		size_t b = ag_cdc_next(&c, data, l, 1);

		if (l >= first ? a != first || b != first : a || b != l)
			good = 0;
	}
	ok(good, "eof only decides whether the tail is cut, not where");

	/* After 64 equal bytes the hash is a constant; for zeros it misses
	 * both masks, so a zero run is cut only by max. */
	ok(ag_cdc_next(&c, zero, sizeof(zero), 0) == 4096,
	   "a zero run cuts at max");
	ag_cdc_init(&c, 64, 64, 64);
	ok(ag_cdc_next(&c, data, 1000, 0) == 64, "min == max cuts at max");
}

/*
 * Fixed data, fixed boundaries: a change here means every chunk written so
 * far stops deduplicating against new writes, which is a format change.
 */
static void test_golden(void)
{
	static const size_t want[] = { 1337, 270, 1171, 1075, 1053, 957, 993,
				       461 };
	uint8_t *buf = malloc(1 << 16);
	uint64_t s = 0x0123456789abcdefULL;
	size_t i, off = 0, n = 0, got[8] = { 0 };
	struct ag_cdc c;

	if (!buf)
		return;
	for (i = 0; i < 1 << 16; i++)
		buf[i] = (uint8_t)(tap_rand(&s) >> 56);
	ag_cdc_init(&c, 256, 1024, 8192);
	while (off < 1 << 16) {
		size_t l = ag_cdc_next(&c, buf + off, (1 << 16) - off, 1);

		if (n < 8)
			got[n] = l;
		n++;
		off += l;
	}
	ok(!memcmp(got, want, sizeof(want)) && n == 59,
	   "golden boundaries: %zu %zu %zu %zu ..., %zu chunks", got[0], got[1],
	   got[2], got[3], n);
	free(buf);
}

int main(void)
{
	uint8_t *data = malloc(STREAM), *edited = malloc(STREAM + 64);
	size_t *lens = malloc((STREAM / 64 + 1) * sizeof(*lens));
	size_t *lens2 = malloc((STREAM / 64 + 2) * sizeof(*lens2));

	rng = tap_seed() | 1; /* xorshift never leaves 0 */
	if (!data || !edited || !lens || !lens2)
		return 99;
	fill(data, STREAM);

	test_invalid();
	test_edges(data);
	test_golden();
	test_params(data, edited, lens, lens2, 64, 256, 1024);
	test_params(data, edited, lens, lens2, 2048, 8192, 65536);
	test_params(data, edited, lens, lens2, 16384, 65536, 262144);
	test_params(data, edited, lens, lens2, 4096, 4096, 16384);

	free(data);
	free(edited);
	free(lens);
	free(lens2);
	return tap_done();
}
