/*
 * test/integ/fsx.c - random file operations on one file of a mount, checked
 * against a model file on a local file system (after fsx).
 *
 *   fsx [-N ops] [-S seed] [-l maxlen] [-s maxsize] [-M] [-v] FILE MODEL
 *
 * Every operation is done to FILE (on the file system under test) and to
 * MODEL (a file on a file system we trust) alike: write, rewrite (writing
 * back the bytes already there, which deduplicates against the chunks it
 * replaces), mapped write (mmap, memcpy, then msync MS_SYNC, MS_ASYNC or
 * nothing, which leaves the pages to writeback), read, mapped read,
 * truncate, punch hole, fallocate (with and without KEEP_SIZE),
 * copy_file_range within the file, fsync, and close and reopen (now and
 * then with O_TRUNC). Each result must be the same on both: an error on
 * one side only is a failure, and so are bytes read that differ and a
 * size that differs. Both files are compared whole at every reopen and at
 * the end.
 *
 * The seed is printed first; -S replays a run, -N sets how many
 * operations (default 100000). -M leaves out mapped writes and reads. On
 * a failure the program prints the seed, the operation's index and the
 * last operations, and exits 1; 2 means it could not run.
 *
 * The random sequence depends only on the seed and the options, never on
 * what the file system answers, so the same seed and op count replay the
 * same operations.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_KEEP 32

enum op {
	OP_READ, OP_MAPREAD, OP_WRITE, OP_REWRITE, OP_MAPWRITE, OP_TRUNCATE,
	OP_PUNCH, OP_FALLOC, OP_COPY, OP_FSYNC, OP_REOPEN, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"read", "mapread", "write", "rewrite", "mapwrite", "truncate",
	"punch", "fallocate", "copy", "fsync", "reopen"
};

/* how often each operation comes, out of the sum */
static const unsigned op_weight[OP_COUNT] = {
	[OP_READ] = 22, [OP_MAPREAD] = 5, [OP_WRITE] = 20, [OP_REWRITE] = 6,
	[OP_MAPWRITE] = 10, [OP_TRUNCATE] = 6, [OP_PUNCH] = 6,
	[OP_FALLOC] = 6, [OP_COPY] = 8, [OP_FSYNC] = 4, [OP_REOPEN] = 3
};

struct fsx {
	const char *path[2];	/* 0: the file under test, 1: the model */
	int fd[2];
	uint64_t rng;
	uint64_t seed;
	unsigned long op, ops;
	size_t maxlen;
	off_t maxsize;
	int mapped;
	int verbose;
	long pagesize;
	unsigned char *buf[2];	/* maxsize bytes each */
	char log[LOG_KEEP][128];
	unsigned long counts[OP_COUNT];
	double seconds[OP_COUNT];
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* splitmix64: small, and the same everywhere */
static uint64_t rnd(struct fsx *x)
{
	uint64_t z = (x->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(struct fsx *x, uint64_t n)
{
	return n ? rnd(x) % n : 0;
}

static void note(struct fsx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct fsx *x, const char *fmt, ...)
{
	char *line = x->log[x->op % LOG_KEEP];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(x->log[0]), "%lu ", x->op);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(x->log[0]) - n, fmt, ap);
	va_end(ap);
	if (x->verbose)
		printf("%s\n", line);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
failed(struct fsx *x, const char *fmt, ...)
{
	unsigned long i, first;
	va_list ap;

	printf("FAIL: operation %lu of seed %" PRIu64 ": ", x->op, x->seed);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n# the last operations (index name offset length):\n");
	first = x->op >= LOG_KEEP - 1 ? x->op - (LOG_KEEP - 1) : 0;
	for (i = first; i <= x->op; i++)
		printf("#   %s\n", x->log[i % LOG_KEEP]);
	printf("# replay: fsx -S %" PRIu64 " -N %lu%s\n", x->seed, x->op + 1,
	       x->mapped ? "" : " -M");
	fflush(stdout);
	exit(1);
}

static void __attribute__((noreturn)) cannot(const char *what)
{
	fprintf(stderr, "fsx: %s: %s\n", what, strerror(errno));
	exit(2);
}

static const char *ename(int e)
{
	static char other[32];

	switch (e) {
	case 0: return "ok";
	case EIO: return "EIO";
	case ENOENT: return "ENOENT";
	case ESTALE: return "ESTALE";
	case ENOSPC: return "ENOSPC";
	case EINVAL: return "EINVAL";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EFBIG: return "EFBIG";
	case EBADF: return "EBADF";
	case ENOTCONN: return "ENOTCONN";
	case EXDEV: return "EXDEV";
	}
	snprintf(other, sizeof(other), "errno %d", e);
	return other;
}

/* both: the two results of one operation must agree */
static void both(struct fsx *x, const char *what, long r0, int e0, long r1,
		 int e1)
{
	if (r0 < 0 || r1 < 0) {
		if (r0 < 0 && r1 < 0 && e0 == e1)
			return;
		failed(x, "%s: %s on the mount, %s on the model", what,
		       r0 < 0 ? ename(e0) : "ok", r1 < 0 ? ename(e1) : "ok");
	}
	if (r0 != r1)
		failed(x, "%s: returned %ld on the mount, %ld on the model",
		       what, r0, r1);
}

static off_t size_of(struct fsx *x, int side)
{
	struct stat st;

	if (fstat(x->fd[side], &st))
		failed(x, "fstat of %s: %s", side ? "the model" : "the mount",
		       ename(errno));
	return st.st_size;
}

static void check_size(struct fsx *x)
{
	off_t s0 = size_of(x, 0), s1 = size_of(x, 1);

	if (s0 != s1)
		failed(x, "size %lld on the mount, %lld on the model",
		       (long long)s0, (long long)s1);
}

/* compare what was read at off: report the first difference and how
 * many bytes differ */
static void compare(struct fsx *x, const char *what, const unsigned char *got,
		    const unsigned char *want, off_t off, size_t len)
{
	size_t i, first = len, diff = 0;

	for (i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			if (first == len)
				first = i;
			diff++;
		}
	}
	if (diff)
		failed(x, "%s [%lld, +%zu): %zu bytes differ, the first at %lld "
		       "(mount 0x%02x, model 0x%02x)", what, (long long)off, len,
		       diff, (long long)(off + first), got[first], want[first]);
}

/* pread_full SIDE OFF LEN: read LEN bytes at OFF into buf[SIDE], as
 * many as there are; the count, or -1 with errno */
static ssize_t pread_full(struct fsx *x, int side, off_t off, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(x->fd[side], x->buf[side] + done, len - done,
				  off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static void read_compare(struct fsx *x, const char *what, off_t off,
			 size_t len)
{
	ssize_t n0 = pread_full(x, 0, off, len);
	int e0 = errno;
	ssize_t n1 = pread_full(x, 1, off, len);
	int e1 = errno;

	both(x, what, n0, e0, n1, e1);
	compare(x, what, x->buf[0], x->buf[1], off, n0);
}

static void compare_all(struct fsx *x, const char *what)
{
	check_size(x);
	read_compare(x, what, 0, size_of(x, 1));
}

static void open_both(struct fsx *x, int flags)
{
	int i;

	for (i = 0; i < 2; i++) {
		x->fd[i] = open(x->path[i], O_RDWR | O_CREAT | flags, 0644);
		if (x->fd[i] < 0)
			failed(x, "open of %s: %s", x->path[i], ename(errno));
	}
}

/* the length of an operation: often small, sometimes up to maxlen */
static size_t pick_len(struct fsx *x)
{
	switch (below(x, 4)) {
	case 0: return 1 + below(x, 512);
	case 1: return 1 + below(x, 8192);
	default: return 1 + below(x, x->maxlen);
	}
}

/* an offset: mostly inside the file, sometimes past its end, sometimes
 * page aligned */
static off_t pick_off(struct fsx *x, off_t size, size_t len)
{
	off_t top = size + (off_t)x->maxlen / 2, off;

	if (top > x->maxsize - (off_t)len)
		top = x->maxsize - (off_t)len;
	if (top <= 0)
		return 0;
	off = below(x, top);
	if (below(x, 4) == 0)
		off &= ~(off_t)(x->pagesize - 1);
	return off;
}

static void fill(struct fsx *x, unsigned char *p, size_t len)
{
	size_t i;
	uint64_t v = 0;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = rnd(x);
		p[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
}

static void do_write(struct fsx *x, off_t off, size_t len, int rewrite)
{
	ssize_t r[2];
	int e[2], i;

	if (rewrite) {
		/* the bytes the model holds there, zeros past its end */
		ssize_t n = pread_full(x, 1, off, len);

		if (n < 0)
			cannot("pread of the model");
		memset(x->buf[1] + n, 0, len - n);
	} else {
		fill(x, x->buf[1], len);
	}
	for (i = 0; i < 2; i++) {
		r[i] = pwrite(x->fd[i], x->buf[1], len, off);
		e[i] = errno;
	}
	both(x, rewrite ? "rewrite" : "write", r[0], e[0], r[1], e[1]);
}

static void do_mapwrite(struct fsx *x, off_t off, size_t len)
{
	off_t pg = off & ~(off_t)(x->pagesize - 1);
	size_t maplen = len + (off - pg);
	int i, sync;

	/* msync(MS_SYNC) is a write and an fsync through FUSE; some mapped
	 * writes are left to the kernel's writeback instead, racing with
	 * the operations that follow */
	sync = below(x, 4);
	fill(x, x->buf[1], len);
	if (off + (off_t)len > size_of(x, 1)) {
		/* a mapping covers only the file: extend it first, as fsx */
		for (i = 0; i < 2; i++) {
			if (ftruncate(x->fd[i], off + len))
				failed(x, "mapwrite: ftruncate of %s: %s",
				       i ? "the model" : "the mount",
				       ename(errno));
		}
	}
	note(x, "mapwrite %lld %zu%s", (long long)off, len,
	     sync == 0 ? " (no msync)" : sync == 1 ? " MS_ASYNC" : " MS_SYNC");
	for (i = 0; i < 2; i++) {
		unsigned char *p = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
					MAP_SHARED, x->fd[i], pg);

		if (p == MAP_FAILED)
			failed(x, "mmap of %s: %s",
			       i ? "the model" : "the mount", ename(errno));
		memcpy(p + (off - pg), x->buf[1], len);
		/* the model's page cache is its file: no need to wait for
		 * its disk */
		if (i == 0 && sync &&
		    msync(p, maplen, sync == 1 ? MS_ASYNC : MS_SYNC))
			failed(x, "msync of %s: %s",
			       i ? "the model" : "the mount", ename(errno));
		if (munmap(p, maplen))
			cannot("munmap");
	}
}

static void do_mapread(struct fsx *x, off_t off, size_t len)
{
	off_t size = size_of(x, 1), pg;
	size_t maplen;
	unsigned char *p;

	if (size == 0)
		return;
	if (off >= size)
		off = below(x, size);
	if (off + (off_t)len > size)
		len = size - off;
	pg = off & ~(off_t)(x->pagesize - 1);
	maplen = len + (off - pg);
	p = mmap(NULL, maplen, PROT_READ, MAP_SHARED, x->fd[0], pg);
	if (p == MAP_FAILED)
		failed(x, "mmap of the mount: %s", ename(errno));
	if (pread_full(x, 1, off, len) != (ssize_t)len)
		cannot("pread of the model");
	compare(x, "mapread", p + (off - pg), x->buf[1], off, len);
	munmap(p, maplen);
}

static void do_copy(struct fsx *x, off_t size, size_t len)
{
	off_t src, dst, o[2];
	size_t left[2];
	int i;

	if (size < 2)
		return;
	src = below(x, size - 1);
	if ((off_t)len > size - src)
		len = size - src;
	dst = pick_off(x, size, len);
	/* the ranges of a copy within one file may not overlap */
	if (dst < src + (off_t)len && src < dst + (off_t)len) {
		dst = src + len + below(x, x->pagesize);
		if (dst + (off_t)len > x->maxsize)
			return;
	}
	note(x, "copy %lld -> %lld %zu", (long long)src, (long long)dst, len);
	for (i = 0; i < 2; i++) {
		off_t in = src;

		o[i] = dst;
		left[i] = len;
		while (left[i]) {
			ssize_t n = copy_file_range(x->fd[i], &in, x->fd[i],
						    &o[i], left[i], 0);

			if (n < 0)
				failed(x, "copy_file_range on %s: %s",
				       i ? "the model" : "the mount",
				       ename(errno));
			if (n == 0)
				break;
			left[i] -= n;
		}
	}
	if (left[0] != left[1])
		failed(x, "copy_file_range copied %zu bytes on the mount, "
		       "%zu on the model", len - left[0], len - left[1]);
}

static void step(struct fsx *x, enum op op)
{
	off_t size = size_of(x, 1);
	size_t len = pick_len(x);
	off_t off = pick_off(x, size, len);
	long r[2];
	int e[2], i;

	x->counts[op]++;
	switch (op) {
	case OP_READ:
		note(x, "read %lld %zu", (long long)off, len);
		read_compare(x, "read", off, len);
		break;
	case OP_MAPREAD:
		note(x, "mapread %lld %zu", (long long)off, len);
		do_mapread(x, off, len);
		break;
	case OP_REWRITE:
		if (size > 0) {
			/* inside the file: bytes that are there */
			off = below(x, size);
			if ((off_t)len > size - off)
				len = size - off;
		}
		/* fall through */
	case OP_WRITE:
		note(x, "%s %lld %zu", op_names[op], (long long)off, len);
		do_write(x, off, len, op == OP_REWRITE);
		break;
	case OP_MAPWRITE:
		do_mapwrite(x, off, len);
		break;
	case OP_TRUNCATE:
		off = below(x, 3) ? (off_t)below(x, x->maxsize) :
				    (off_t)below(x, size + 1);
		note(x, "truncate %lld", (long long)off);
		for (i = 0; i < 2; i++) {
			r[i] = ftruncate(x->fd[i], off);
			e[i] = errno;
		}
		both(x, "truncate", r[0], e[0], r[1], e[1]);
		break;
	case OP_PUNCH:
	case OP_FALLOC: {
		int mode = op == OP_PUNCH ?
			FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE :
			below(x, 2) ? 0 : FALLOC_FL_KEEP_SIZE;

		note(x, "%s%s %lld %zu", op_names[op],
		     mode == FALLOC_FL_KEEP_SIZE ? " keep_size" : "",
		     (long long)off, len);
		for (i = 0; i < 2; i++) {
			r[i] = fallocate(x->fd[i], mode, off, len);
			e[i] = errno;
		}
		both(x, op_names[op], r[0], e[0], r[1], e[1]);
		break;
	}
	case OP_COPY:
		do_copy(x, size, len);
		break;
	case OP_FSYNC:
		note(x, "fsync");
		r[0] = fsync(x->fd[0]);
		e[0] = errno;
		both(x, "fsync", r[0], e[0], 0, 0);
		break;
	case OP_REOPEN: {
		int trunc = below(x, 10) == 0;

		note(x, "reopen%s", trunc ? " O_TRUNC" : "");
		for (i = 0; i < 2; i++) {
			r[i] = close(x->fd[i]);
			e[i] = errno;
		}
		both(x, "close", r[0], e[0], r[1], e[1]);
		open_both(x, trunc ? O_TRUNC : 0);
		compare_all(x, "after reopen, read");
		break;
	}
	case OP_COUNT:
		break;
	}
	check_size(x);
}

static enum op pick_op(struct fsx *x)
{
	unsigned total = 0, r;
	int i;

	for (i = 0; i < OP_COUNT; i++)
		total += op_weight[i];
	for (;;) {
		r = below(x, total);
		for (i = 0; r >= op_weight[i]; i++)
			r -= op_weight[i];
		if (x->mapped || (i != OP_MAPWRITE && i != OP_MAPREAD))
			return i;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: fsx [-N ops] [-S seed] [-l maxlen] "
		"[-s maxsize] [-M] [-v] FILE MODEL\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct fsx x = { .ops = 100000, .maxlen = 65536,
			 .maxsize = 2 << 20, .mapped = 1 };
	struct timespec t0, t1;
	int c, i, have_seed = 0;
	off_t size;

	while ((c = getopt(argc, argv, "N:S:l:s:Mv")) != -1) {
		switch (c) {
		case 'N': x.ops = strtoul(optarg, NULL, 0); break;
		case 'S': x.seed = strtoull(optarg, NULL, 0); have_seed = 1; break;
		case 'l': x.maxlen = strtoul(optarg, NULL, 0); break;
		case 's': x.maxsize = strtoll(optarg, NULL, 0); break;
		case 'M': x.mapped = 0; break;
		case 'v': x.verbose = 1; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || x.maxlen == 0 ||
	    x.maxsize < (off_t)x.maxlen * 2)
		usage();
	x.path[0] = argv[optind];
	x.path[1] = argv[optind + 1];
	if (!have_seed) {
		clock_gettime(CLOCK_REALTIME, &t0);
		x.seed = (uint64_t)t0.tv_sec * 1000003u ^ t0.tv_nsec ^ getpid();
	}
	x.rng = x.seed;
	x.pagesize = sysconf(_SC_PAGESIZE);
	for (i = 0; i < 2; i++) {
		x.buf[i] = malloc(x.maxsize);
		if (!x.buf[i])
			cannot("malloc");
	}
	printf("fsx: seed %" PRIu64 ", %lu operations, mapped writes %s "
	       "(replay: -S %" PRIu64 " -N %lu%s)\n", x.seed, x.ops,
	       x.mapped ? "on" : "off", x.seed, x.ops, x.mapped ? "" : " -M");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	open_both(&x, O_TRUNC);
	for (x.op = 0; x.op < x.ops; x.op++) {
		enum op op = pick_op(&x);
		double t = now();

		step(&x, op);
		x.seconds[op] += now() - t;
	}
	x.op = x.ops - 1;
	for (i = 0; i < 2; i++) {
		if (fsync(x.fd[i]) || close(x.fd[i]))
			failed(&x, "the last fsync and close of %s: %s",
			       x.path[i], ename(errno));
	}
	open_both(&x, 0);
	compare_all(&x, "at the end, read");
	size = size_of(&x, 1);
	close(x.fd[0]);
	close(x.fd[1]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("fsx: %lu operations in %.1f s, the file now %lld bytes:",
	       x.ops, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (long long)size);
	for (i = 0; i < OP_COUNT; i++)
		printf("%s %s %lu (%.1f s)", i ? "," : "", op_names[i],
		       x.counts[i], x.seconds[i]);
	printf("\n");
	free(x.buf[0]);
	free(x.buf[1]);
	return 0;
}
