/*
 * bench_delta.c - similarity reduction (delta.c): how fast super-features
 * are taken and deltas made, and what they save on real files.
 *
 *   bench_delta                       speeds, in memory, one thread
 *   bench_delta [-b] [-k PCT] [-l LEVEL] [-c MIN:AVG:MAX] FILE...
 *                                     (or - : names on stdin, one a line)
 *
 * With files: each is chunked on its own as agora put chunks it (by
 * default the cluster's 16K/64K/256K and zstd level 1), chunks are
 * deduplicated by SHA-256, and the unique ones are stored in the order
 * met, twice: plain zstd each, and through the similarity stage (the
 * super-features of a chunk looked up among those of the chunks stored
 * whole so far; on a hit the delta against that reference is kept when
 * it fits ag_delta_keep_room of the chunk's zstd frame, or PCT % of it
 * with -k; else the chunk is stored whole and its super-features
 * recorded). Prints both totals and "result KEY VALUE"
 * lines. -b finds each chunk's reference by brute force instead (the
 * smallest delta against every chunk stored whole before it): what a
 * perfect index would find, to judge the super-features by; quadratic,
 * for a few hundred chunks.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "cdc.h"
#include "delta.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- speeds ---- */

#define STREAM (8u << 20)

static void speeds(void)
{
	uint8_t *data = malloc(STREAM), *d = malloc(ag_delta_bound(65536));
	uint8_t *edit = malloc(65536);
	struct ag_delta_ctx *ctx = NULL;
	struct ag_delta_sf sf;
	uint64_t x = 0x0123456789abcdefull;
	size_t i, bytes = 0, dlen = 0, n = 0;
	double t0, t;

	if (!data || !d || !edit || ag_delta_ctx_new(&ctx))
		exit(1);
	for (i = 0; i < STREAM; i++) { /* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (uint8_t)(x >> 32);
	}
	t0 = now();
	do {
		for (i = 0; i < STREAM; i += 65536)
			ag_delta_features(data + i, 65536, &sf);
		bytes += STREAM;
	} while ((t = now() - t0) < 0.5);
	printf("super-features of 64 KiB chunks: %.2f GB/s\n",
	       bytes / t / 1e9);
	printf("result features_GBps %.2f\n", bytes / t / 1e9);

	memcpy(edit, data, 65536);
	edit[1000] ^= 1;
	bytes = 0;
	t0 = now();
	do {
		ag_delta_encode(ctx, data, 65536, edit, 65536, 1, d,
				ag_delta_bound(65536), &dlen);
		bytes += 65536;
		n++;
	} while ((t = now() - t0) < 0.5);
	printf("delta of a one-byte edit of 64 KiB, level 1: %.2f GB/s "
	       "(%zu bytes)\n", bytes / t / 1e9, dlen);
	printf("result delta_encode_MBps %.0f\n", bytes / t / 1e6);
	bytes = 0;
	t0 = now();
	do {
		ag_delta_decode(ctx, data, 65536, d, dlen, edit, 65536);
		bytes += 65536;
	} while ((t = now() - t0) < 0.5);
	printf("decoding it: %.2f GB/s\n", bytes / t / 1e9);
	printf("result delta_decode_MBps %.0f\n", bytes / t / 1e6);
	ag_delta_ctx_free(ctx);
	free(data);
	free(d);
	free(edit);
}

/* ---- files ---- */

struct chunk {
	uint8_t sha[32];
	uint8_t *data;
	uint32_t len;
	int whole; /* -b: stored whole, a possible reference */
};

/* Open addressing, by SHA-256 (dedup) or by super-feature (the index). */
struct table {
	uint64_t *keys;
	uint32_t *vals; /* 0: empty, else index + 1 */
	size_t cap, n;
};

static uint32_t *table_slot(struct table *t, uint64_t key, int create)
{
	size_t i;

	if (create && (t->n + 1) * 2 > t->cap) {
		struct table nt = { .cap = t->cap ? 2 * t->cap : 4096 };
		size_t j;

		nt.keys = calloc(nt.cap, sizeof(*nt.keys));
		nt.vals = calloc(nt.cap, sizeof(*nt.vals));
		if (!nt.keys || !nt.vals)
			exit(1);
		for (j = 0; j < t->cap; j++)
			if (t->vals[j])
				*table_slot(&nt, t->keys[j], 1) = t->vals[j];
		nt.n = t->n;
		free(t->keys);
		free(t->vals);
		*t = nt;
	}
	if (!t->cap)
		return NULL;
	for (i = (key * 0x9e3779b97f4a7c15ull) % t->cap; t->vals[i];
	     i = (i + 1) % t->cap)
		if (t->keys[i] == key)
			return &t->vals[i];
	if (!create)
		return NULL;
	t->keys[i] = key;
	t->n++;
	return &t->vals[i];
}

struct run {
	struct ag_cdc cdc;
	int level, brute, keep_pct;
	struct chunk *chunks; /* unique, in the order met */
	size_t n, cap;
	struct table by_sha;
	uint64_t logical, unique, nchunks;
	EVP_MD_CTX *md;
};

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf = malloc(st.st_size + 1);
	while (buf && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, st.st_size - got);

		if (r <= 0)
			break;
		got += r;
	}
	close(fd);
	*out = buf;
	*len = got;
	return buf ? 0 : -1;
}

static void add_file(struct run *r, const char *path)
{
	uint8_t *buf;
	size_t len, off = 0;

	if (read_file(path, &buf, &len)) {
		fprintf(stderr, "bench_delta: %s: skipped\n", path);
		return;
	}
	r->logical += len;
	while (off < len) {
		size_t n = ag_cdc_next(&r->cdc, buf + off, len - off, 1);
		uint8_t sha[32];
		uint64_t key;
		uint32_t *slot;
		unsigned mdlen;
		int found = 0;

		EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
		EVP_DigestUpdate(r->md, buf + off, n);
		EVP_DigestFinal_ex(r->md, sha, &mdlen);
		memcpy(&key, sha, 8);
		r->nchunks++;
		/* the first 8 bytes key the table; the rest must match */
		slot = table_slot(&r->by_sha, key, 1);
		if (*slot)
			found = !memcmp(r->chunks[*slot - 1].sha, sha, 32);
		if (!found) {
			struct chunk *c;

			if (r->n == r->cap) {
				r->cap = r->cap ? 2 * r->cap : 1024;
				r->chunks = realloc(r->chunks,
						    r->cap * sizeof(*c));
				if (!r->chunks)
					exit(1);
			}
			c = &r->chunks[r->n++];
			memcpy(c->sha, sha, 32);
			c->len = n;
			c->data = malloc(n);
			if (!c->data)
				exit(1);
			memcpy(c->data, buf + off, n);
			if (!*slot)
				*slot = r->n;
			r->unique += n;
		}
		off += n;
	}
	free(buf);
}

/* -b: the smallest delta of chunk i against any earlier chunk stored
 * whole, or zlen when none is smaller than its zstd frame. */
/* The room a delta must fit to be kept (ag_delta_keep_room, or -k). */
static size_t keep_room(const struct run *r, size_t zlen)
{
	return r->keep_pct ? zlen * r->keep_pct / 100 : ag_delta_keep_room(zlen);
}

static size_t brute_best(struct run *r, struct ag_delta_ctx *ctx, size_t i,
			 size_t zlen, uint8_t *z, uint64_t *hits)
{
	const struct chunk *c = &r->chunks[i];
	size_t room = keep_room(r, zlen), best = room, dlen, j;

	for (j = 0; j < i; j++) {
		const struct chunk *ref = &r->chunks[j];

		if (ref->whole &&
		    !ag_delta_encode(ctx, ref->data, ref->len, c->data,
				     c->len, r->level, z, best - 1, &dlen))
			best = dlen;
	}
	*hits += best < room;
	return best < room ? best : zlen;
}

static void store(struct run *r)
{
	ZSTD_CCtx *zc = ZSTD_createCCtx();
	struct ag_delta_ctx *ctx = NULL;
	struct table index = { 0 };
	size_t zcap = ZSTD_compressBound(AG_DELTA_MAX), i;
	uint8_t *z = malloc(zcap);
	uint64_t plain = 0, reduced = 0, deltas = 0, delta_from = 0;
	uint64_t hits = 0;
	double t_feat = 0, t_delta = 0, t_zstd = 0, t0;

	if (!zc || !z || ag_delta_ctx_new(&ctx))
		exit(1);
	ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, r->level);
	for (i = 0; i < r->n; i++) {
		const struct chunk *c = &r->chunks[i];
		struct ag_delta_sf sf;
		size_t zlen, dlen, keep;
		uint32_t *slot = NULL;
		int j, have;

		t0 = now();
		zlen = ZSTD_compress2(zc, z, zcap, c->data, c->len);
		if (ZSTD_isError(zlen) || zlen >= c->len)
			zlen = c->len; /* stored raw, as the sink does */
		t_zstd += now() - t0;
		plain += zlen;
		keep = zlen;

		t0 = now();
		have = !ag_delta_features(c->data, c->len, &sf);
		t_feat += now() - t0;
		for (j = 0; have && j < AG_DELTA_SF && !slot; j++)
			slot = table_slot(&index, sf.sf[j], 0);
		if (r->brute) {
			slot = NULL;
			keep = brute_best(r, ctx, i, zlen, z, &hits);
			if (keep < zlen) {
				deltas++;
				delta_from += zlen;
			}
		}
		if (slot) {
			const struct chunk *ref = &r->chunks[*slot - 1];

			hits++;
			t0 = now();
			if (!ag_delta_encode(ctx, ref->data, ref->len, c->data,
					     c->len, r->level, z,
					     keep_room(r, zlen) - 1,
					     &dlen)) {
				keep = dlen;
				deltas++;
				delta_from += zlen;
			}
			t_delta += now() - t0;
		}
		reduced += keep;
		if (r->brute && keep == zlen)
			r->chunks[i].whole = 1;
		if (keep == zlen && have) /* stored whole: a reference */
			for (j = 0; j < AG_DELTA_SF; j++) {
				uint32_t *s = table_slot(&index, sf.sf[j], 1);

				*s = i + 1;
			}
	}
	printf("files: %llu bytes, %llu chunks, %zu unique (%llu bytes)\n",
	       (unsigned long long)r->logical,
	       (unsigned long long)r->nchunks, r->n,
	       (unsigned long long)r->unique);
	printf("dedup + zstd-%d:              %llu bytes (%.2f%% of the "
	       "files)\n", r->level, (unsigned long long)plain,
	       100.0 * plain / (r->logical ? r->logical : 1));
	printf("dedup + similarity + zstd-%d: %llu bytes (%.2f%%), %.2f%% "
	       "less than dedup + zstd\n", r->level,
	       (unsigned long long)reduced,
	       100.0 * reduced / (r->logical ? r->logical : 1),
	       plain ? 100.0 - 100.0 * reduced / plain : 0.0);
	printf("deltas: %llu chunks (%llu index hits) of %llu zstd bytes "
	       "made %llu\n", (unsigned long long)deltas,
	       (unsigned long long)hits, (unsigned long long)delta_from,
	       (unsigned long long)(delta_from - (plain - reduced)));
	printf("time: zstd %.3f s, super-features %.3f s (%.2f GB/s), "
	       "deltas %.3f s\n", t_zstd, t_feat,
	       r->unique / (t_feat ? t_feat : 1) / 1e9, t_delta);
	printf("result dedup_zstd_bytes %llu\n", (unsigned long long)plain);
	printf("result dedup_similar_zstd_bytes %llu\n",
	       (unsigned long long)reduced);
	ZSTD_freeCCtx(zc);
	ag_delta_ctx_free(ctx);
	free(index.keys);
	free(index.vals);
	free(z);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_delta [-b] [-k PCT] [-l LEVEL] "
		"[-c MIN:AVG:MAX] [FILE... | -]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct run r = { .level = 1 };
	unsigned min = 16 << 10, avg = 64 << 10, max = 256 << 10;
	size_t i;
	int opt;

	while ((opt = getopt(argc, argv, "bk:l:c:")) != -1) {
		if (opt == 'b')
			r.brute = 1;
		else if (opt == 'k' && atoi(optarg) > 0 && atoi(optarg) <= 100)
			r.keep_pct = atoi(optarg);
		else if (opt == 'l')
			r.level = atoi(optarg);
		else if (opt == 'c' &&
			 sscanf(optarg, "%u:%u:%u", &min, &avg, &max) == 3)
			;
		else
			usage();
	}
	if (optind == argc) {
		speeds();
		return 0;
	}
	if (ag_cdc_init(&r.cdc, min, avg, max))
		usage();
	r.md = EVP_MD_CTX_new();
	if (!r.md)
		return 1;
	for (; optind < argc; optind++) {
		char line[4096];

		if (strcmp(argv[optind], "-")) {
			add_file(&r, argv[optind]);
			continue;
		}
		while (fgets(line, sizeof(line), stdin)) {
			line[strcspn(line, "\n")] = 0;
			if (*line)
				add_file(&r, line);
		}
	}
	store(&r);
	for (i = 0; i < r.n; i++)
		free(r.chunks[i].data);
	free(r.chunks);
	free(r.by_sha.keys);
	free(r.by_sha.vals);
	EVP_MD_CTX_free(r.md);
	return 0;
}
