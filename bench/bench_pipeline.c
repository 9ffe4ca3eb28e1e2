/*
 * bench_pipeline.c - the single-thread ceiling of the data path: what one
 * core can do with the same stages as the write path of sink.c and
 * stripe.c (content-defined chunking, SHA-256, zstd, packing into 4+2
 * stripes of 64 KiB strips with isa-l, crc32c) and as the read path
 * (crc32c of the stored bytes, zstd decompress), with no drives, tree or
 * metad in the way. bench/run.sh sets `agora put` and `agora get` beside
 * these figures.
 *
 * The data is generated deterministically from a seed (a mix of random
 * bytes, text from a small vocabulary and log-like records; zstd-1 takes
 * it to about 2-3:1), kept in memory, and optionally written to a file so
 * that the cluster can be fed the very same bytes. Generation is not
 * timed. Every figure is the median of several runs.
 *
 *   bench_pipeline [-s SIZE] [-S SEED] [-r RUNS] [-o FILE]
 *
 * -r 0 only generates (and writes) the data.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "cdc.h"
#include "ec.h"
#include "util.h"

/* The cluster's defaults (README, Configuration). */
#define CHUNK_MIN (16u << 10)
#define CHUNK_AVG (64u << 10)
#define CHUNK_MAX (256u << 10)
#define STRIP (64u << 10)
#define EC_K 4
#define EC_M 2
#define ZSTD_LEVEL 1
#define RUNS_MAX 99

/* ---- deterministic data ---- */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
	"with", "was", "on", "be", "at", "by", "this", "had", "not", "are",
	"but", "from", "or", "have", "an", "they", "which", "one", "you",
	"were", "all", "we", "her", "she", "there", "would", "their", "will",
	"when", "who", "him", "been", "has", "more", "if", "no", "out", "so",
	"storage", "cluster", "stripe", "chunk", "parity", "drive", "commit",
	"segment", "element", "bucket", "object", "page", "tree", "lease",
	"generation", "fingerprint",
};

static const char *const verbs[] = { "GET", "PUT", "HEAD", "DELETE", "POST" };

/* Random bytes: incompressible. */
static void gen_random(uint8_t *p, size_t n, uint64_t *s)
{
	uint64_t v;

	while (n >= 8) {
		v = rnd(s);
		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	v = rnd(s);
	memcpy(p, &v, n);
}

/* Prose from a small vocabulary, with some numbers. */
static void gen_text(uint8_t *p, size_t n, uint64_t *s)
{
	char tmp[32];
	size_t i = 0, len, prev = 0;
	int col = 0;

	while (i < n) {
		uint64_t r = rnd(s);
		const char *w;

		/* a word mostly follows from the one before (one of two),
		 * as phrases recur in real text */
		prev = (r >> 4) % 8 ? (prev * 7 + r % 2) % AG_ARRAY_LEN(words)
				    : r % AG_ARRAY_LEN(words);
		w = words[prev];

		if ((r >> 8) % 32 == 0) {
			len = (size_t)snprintf(tmp, sizeof(tmp), "%u",
					       (unsigned)(r >> 32) % 100000);
			w = tmp;
		} else {
			len = strlen(w);
		}
		len = AG_MIN(len, n - i);
		memcpy(p + i, w, len);
		i += len;
		col += (int)len + 1;
		if (i < n)
			p[i++] = col > 64 + (int)((r >> 16) % 16) ? '\n' : ' ';
		if (col > 64 + (int)((r >> 16) % 16))
			col = 0;
	}
}

/* Log-like records: same shape every line, a few varying fields. */
static void gen_records(uint8_t *p, size_t n, uint64_t *s, uint64_t *clock)
{
	char line[160];
	size_t i = 0, len;

	while (i < n) {
		uint64_t r = rnd(s), r2 = rnd(s);

		*clock += r % 1000;
		len = (size_t)snprintf(line, sizeof(line),
			"2026-11-25T%02u:%02u:%02u.%06u host%02u %s "
			"/bucket%u/objects/%08x status=%u bytes=%u "
			"latency_us=%u\n",
			(unsigned)(*clock / 3600000000ull % 24),
			(unsigned)(*clock / 60000000 % 60),
			(unsigned)(*clock / 1000000 % 60),
			(unsigned)(*clock % 1000000), (unsigned)(r >> 8) % 4,
			verbs[(r >> 16) % AG_ARRAY_LEN(verbs)],
			(unsigned)(r >> 24) % 8, (unsigned)(r2 & 0xff) * 4099,
			(r >> 32) % 50 ? 200 : 404,
			(unsigned)(r2 >> 20) % 16 * 4096,
			(unsigned)(r2 >> 40) % 20 * 10 + 50);
		len = AG_MIN(len, n - i);
		memcpy(p + i, line, len);
		i += len;
	}
}

/* Pieces of 4-32 KiB of each kind, in random order, so that every chunk
 * holds a mix. */
static void gen_data(uint8_t *buf, size_t size, uint64_t seed)
{
	uint64_t s = seed * 0x2545f4914f6cdd1dull + 1, clock = 0;
	size_t pos = 0;

	while (pos < size) {
		uint64_t r = rnd(&s);
		size_t n = AG_MIN((size_t)(4096 + (r >> 8) % (28 << 10)),
				  size - pos);

		switch (r % 3) {
		case 0: gen_random(buf + pos, n, &s); break;
		case 1: gen_text(buf + pos, n, &s); break;
		default: gen_records(buf + pos, n, &s, &clock); break;
		}
		pos += n;
	}
}

static int write_file(const char *path, const uint8_t *buf, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = 0;

	if (fd < 0)
		return -errno;
	while (size) {
		ssize_t n = write(fd, buf, AG_MIN(size, (size_t)1 << 30));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		buf += n;
		size -= n;
	}
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

/* ---- the pipeline ---- */

enum {
	W_CDC, W_SHA, W_ZSTD, W_PACK, W_EC, W_CRC, W_ALL,
	R_CRC, R_ZSTD, R_ALL,
	NSTAGES
};

static const char *const stage_names[NSTAGES] = {
	[W_CDC] = "cdc (gear hash)",
	[W_SHA] = "sha256 (EVP)",
	[W_ZSTD] = "zstd-1 compress",
	[W_PACK] = "pack into stripes",
	[W_EC] = "ec 4+2 encode",
	[W_CRC] = "crc32c chunk+strips",
	[W_ALL] = "WRITE pipeline",
	[R_CRC] = "crc32c stored",
	[R_ZSTD] = "zstd decompress",
	[R_ALL] = "READ pipeline",
};

struct chunk {
	uint64_t off, coff;
	uint32_t len, clen, crc;
	int raw;
};

struct bench {
	const uint8_t *data;
	size_t size;
	struct ag_cdc cdc;
	struct ag_ec *ec;
	ZSTD_CCtx *zc;
	ZSTD_DCtx *dc;
	EVP_MD_CTX *md;
	uint8_t *comp;         /* stored chunk bytes, back to back */
	size_t comp_cap, comp_len;
	uint8_t *stripe;       /* k + m strips */
	uint8_t *out;          /* one decompressed chunk */
	struct chunk *chunks;
	size_t nchunks, chunks_cap;
	uint64_t stripes, strip_crc; /* keeps the crcs live */
};

/* Encode the open stripe (zero padded) and crc its k + m strips. */
static void seal_stripe(struct bench *b, size_t fill, uint64_t *t)
{
	uint8_t *strips[EC_K + EC_M];
	uint64_t t0, t1;
	int i;

	if (!fill)
		return;
	for (i = 0; i < EC_K + EC_M; i++)
		strips[i] = b->stripe + (size_t)i * STRIP;
	t0 = ag_mono_ns();
	if (fill < (size_t)EC_K * STRIP)
		memset(b->stripe + fill, 0, (size_t)EC_K * STRIP - fill);
	ag_ec_encode(b->ec, STRIP, strips, strips + EC_K);
	t1 = ag_mono_ns();
	t[W_EC] += t1 - t0;
	for (i = 0; i < EC_K + EC_M; i++)
		b->strip_crc += ag_crc32c(strips[i], STRIP);
	t[W_CRC] += ag_mono_ns() - t1;
	b->stripes++;
}

static int run_write(struct bench *b, uint64_t *t)
{
	const size_t payload = (size_t)EC_K * STRIP;
	uint8_t sha[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	size_t pos = 0, fill = 0;
	uint64_t start = ag_mono_ns(), t0, t1;

	b->nchunks = 0;
	b->comp_len = 0;
	b->stripes = 0;
	while (pos < b->size) {
		struct chunk *ch;
		const uint8_t *p = b->data + pos, *src;
		size_t n, bound, clen, left;

		if (b->nchunks == b->chunks_cap)
			return -ENOMEM; /* sized for min-length chunks */
		ch = &b->chunks[b->nchunks++];
		t0 = ag_mono_ns();
		n = ag_cdc_next(&b->cdc, p, b->size - pos, 1);
		t1 = ag_mono_ns();
		t[W_CDC] += t1 - t0;

		t0 = t1;
		if (!EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) ||
		    !EVP_DigestUpdate(b->md, p, n) ||
		    !EVP_DigestFinal_ex(b->md, sha, &mdlen))
			return -EIO;
		t1 = ag_mono_ns();
		t[W_SHA] += t1 - t0;

		t0 = t1;
		bound = ZSTD_compressBound(n);
		if (b->comp_len + bound > b->comp_cap)
			return -ENOSPC;
		clen = ZSTD_compressCCtx(b->zc, b->comp + b->comp_len, bound,
					 p, n, ZSTD_LEVEL);
		ch->raw = ZSTD_isError(clen) || clen >= n;
		if (ch->raw) {
			/* does not shrink: stored raw, as sink.c does */
			memcpy(b->comp + b->comp_len, p, n);
			clen = n;
		}
		t1 = ag_mono_ns();
		t[W_ZSTD] += t1 - t0;

		t0 = t1;
		ch->off = pos;
		ch->len = (uint32_t)n;
		ch->coff = b->comp_len;
		ch->clen = (uint32_t)clen;
		ch->crc = ag_crc32c(b->comp + ch->coff, clen);
		t1 = ag_mono_ns();
		t[W_CRC] += t1 - t0;

		/* pack back to back, across strips and stripes */
		src = b->comp + ch->coff;
		left = clen;
		while (left) {
			size_t m = AG_MIN(left, payload - fill);

			t0 = ag_mono_ns();
			memcpy(b->stripe + fill, src, m);
			t[W_PACK] += ag_mono_ns() - t0;
			fill += m;
			src += m;
			left -= m;
			if (fill == payload) {
				seal_stripe(b, fill, t);
				fill = 0;
			}
		}
		b->comp_len += clen;
		pos += n;
	}
	seal_stripe(b, fill, t);
	t[W_ALL] += ag_mono_ns() - start;
	return 0;
}

static int run_read(struct bench *b, uint64_t *t)
{
	uint64_t start = ag_mono_ns(), t0, t1;
	size_t i;

	for (i = 0; i < b->nchunks; i++) {
		const struct chunk *ch = &b->chunks[i];
		const uint8_t *stored = b->comp + ch->coff;
		size_t n;

		t0 = ag_mono_ns();
		if (ag_crc32c(stored, ch->clen) != ch->crc)
			return -AG_ECORRUPT;
		t1 = ag_mono_ns();
		t[R_CRC] += t1 - t0;

		t0 = t1;
		if (ch->raw) {
			memcpy(b->out, stored, ch->len);
			n = ch->len;
		} else {
			n = ZSTD_decompressDCtx(b->dc, b->out, CHUNK_MAX, stored,
						ch->clen);
		}
		t[R_ZSTD] += ag_mono_ns() - t0;
		if (ZSTD_isError(n) || n != ch->len)
			return -AG_ECORRUPT;
	}
	t[R_ALL] += ag_mono_ns() - start;
	return 0;
}

/* Untimed: every chunk decompresses to the bytes it came from. */
static int verify(struct bench *b)
{
	size_t i, n;

	for (i = 0; i < b->nchunks; i++) {
		const struct chunk *ch = &b->chunks[i];
		const uint8_t *stored = b->comp + ch->coff;

		if (ch->raw) {
			if (memcmp(stored, b->data + ch->off, ch->len))
				return -AG_ECORRUPT;
			continue;
		}
		n = ZSTD_decompressDCtx(b->dc, b->out, CHUNK_MAX, stored,
					ch->clen);
		if (ZSTD_isError(n) || n != ch->len ||
		    memcmp(b->out, b->data + ch->off, n))
			return -AG_ECORRUPT;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int bench_init(struct bench *b, const uint8_t *data, size_t size)
{
	int rc;

	memset(b, 0, sizeof(*b));
	b->data = data;
	b->size = size;
	rc = ag_cdc_init(&b->cdc, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX);
	if (!rc)
		rc = ag_ec_new(&b->ec, EC_K, EC_M);
	if (rc)
		return rc;
	b->zc = ZSTD_createCCtx();
	b->dc = ZSTD_createDCtx();
	b->md = EVP_MD_CTX_new();
	b->chunks_cap = size / CHUNK_MIN + 2;
	b->chunks = calloc(b->chunks_cap, sizeof(*b->chunks));
	/* every chunk may grow to its zstd bound; at least CHUNK_MIN each
	 * but the last */
	b->comp_cap = size + size / 128 + 128 * b->chunks_cap + (1 << 20);
	b->comp = malloc(b->comp_cap);
	b->stripe = ag_alloc_aligned((size_t)(EC_K + EC_M) * STRIP);
	b->out = malloc(CHUNK_MAX);
	if (!b->zc || !b->dc || !b->md || !b->chunks || !b->comp ||
	    !b->stripe || !b->out)
		return -ENOMEM;
	memset(b->comp, 0, b->comp_cap); /* fault the pages in, untimed */
	memset(b->stripe, 0, (size_t)(EC_K + EC_M) * STRIP);
	return 0;
}

static void bench_free(struct bench *b)
{
	ag_ec_free(b->ec);
	ZSTD_freeCCtx(b->zc);
	ZSTD_freeDCtx(b->dc);
	EVP_MD_CTX_free(b->md);
	free(b->chunks);
	free(b->comp);
	free(b->stripe);
	free(b->out);
}

static void print_row(const char *name, uint64_t ns, size_t bytes)
{
	double s = ns / 1e9;

	printf("  %-22s %8.3f s %10.1f MB/s %8.3f ns/B\n", name, s,
	       s > 0 ? bytes / s / 1e6 : 0.0, bytes ? (double)ns / bytes : 0.0);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_pipeline [-s SIZE] [-S SEED] [-r RUNS] "
		"[-o FILE]\n"
		"  -s SIZE  bytes of data (default 1G)\n"
		"  -S SEED  data seed (default 1)\n"
		"  -r RUNS  timed runs, the median is printed (default 3; "
		"0: only generate)\n"
		"  -o FILE  also write the data to FILE\n");
}

int main(int argc, char **argv)
{
	static uint64_t t[RUNS_MAX][NSTAGES];
	uint64_t size = 1ull << 30, seed = 1, col[RUNS_MAX], med[NSTAGES];
	const char *out = NULL;
	struct bench b;
	uint8_t *data;
	int opt, runs = 3, i, j, rc;
	size_t raw = 0;

	while ((opt = getopt(argc, argv, "s:S:r:o:h")) != -1) {
		switch (opt) {
		case 's':
			if (ag_parse_size(optarg, &size) || !size) {
				fprintf(stderr, "bench_pipeline: bad size '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'r':
			runs = atoi(optarg);
			if (runs < 0 || runs > RUNS_MAX) {
				fprintf(stderr, "bench_pipeline: runs 0..%d\n",
					RUNS_MAX);
				return 2;
			}
			break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	data = malloc(size);
	if (!data) {
		fprintf(stderr, "bench_pipeline: cannot allocate %" PRIu64
			" bytes\n", size);
		return 1;
	}
	gen_data(data, size, seed);
	if (out) {
		rc = write_file(out, data, size);
		if (rc) {
			fprintf(stderr, "bench_pipeline: %s: %s\n", out,
				ag_strerror(rc));
			return 1;
		}
	}
	if (!runs) {
		free(data);
		return 0;
	}
	rc = bench_init(&b, data, size);
	for (i = 0; !rc && i < runs; i++) {
		rc = run_write(&b, t[i]);
		if (!rc)
			rc = run_read(&b, t[i]);
	}
	if (!rc)
		rc = verify(&b);
	if (rc) {
		fprintf(stderr, "bench_pipeline: %s\n", ag_strerror(rc));
		return 1;
	}
	for (j = 0; j < NSTAGES; j++) {
		for (i = 0; i < runs; i++)
			col[i] = t[i][j];
		med[j] = median(col, runs);
	}
	for (i = 0; i < (int)b.nchunks; i++)
		raw += b.chunks[i].raw;

	printf("bench_pipeline: %.1f MiB, seed %" PRIu64 ", one thread, "
	       "median of %d runs\n", size / 1048576.0, seed, runs);
	printf("  %zu chunks (min %u K, avg %u K, max %u K): mean %.1f KiB, "
	       "%zu stored raw\n", b.nchunks, CHUNK_MIN >> 10, CHUNK_AVG >> 10,
	       CHUNK_MAX >> 10, size / 1024.0 / b.nchunks, raw);
	printf("  zstd-%d ratio %.2f:1 (%.1f MiB stored), %" PRIu64
	       " stripes %d+%d of %u KiB strips\n", ZSTD_LEVEL,
	       (double)size / b.comp_len, b.comp_len / 1048576.0, b.stripes,
	       EC_K, EC_M, STRIP >> 10);
	printf("  stage (per input byte)      time         speed     cost\n");
	for (j = W_CDC; j <= W_ALL; j++)
		print_row(stage_names[j], med[j], size);
	for (j = R_CRC; j <= R_ALL; j++)
		print_row(stage_names[j], med[j], size);
	printf("result write_MBps %.1f\n", size / (med[W_ALL] / 1e9) / 1e6);
	printf("result read_MBps %.1f\n", size / (med[R_ALL] / 1e9) / 1e6);
	printf("result zstd_ratio %.2f\n", (double)size / b.comp_len);
	bench_free(&b);
	free(data);
	return 0;
}
