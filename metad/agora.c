/*
 * agora.c - the admin tool: format a cluster, inspect it, check it, and
 * use the element core directly (put, get, ls, stat, rm, mkdir) with no
 * FUSE or S3 in between. One table lists the commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agora.h"
#include "agora_events.h"
#include "apply.h"
#include "config.h"
#include "util.h"

struct cmd {
	const char *name;
	const char *usage;
	int min_args, max_args;
	int needs; /* 0: nothing opened, 1: read-only, 2: through metad,
		    * 3: read-only even at a damaged newest commit */
	int (*run)(struct ag_cluster *c, const char *cfg, int argc,
		   char **argv);
};

static int opt_bytes, opt_force, opt_long, opt_recursive, opt_verbose;
static int opt_repair, opt_destage_only, opt_watch;
static double opt_rate_mb;
static long opt_uid, opt_gid; /* user add --uid/--gid */
static const char *opt_key, *opt_secret; /* user add --key/--secret */

static int fail(const char *what, int rc)
{
	fprintf(stderr, "agora: %s: %s\n", what, ag_strerror(rc));
	return 1;
}

static int cmd_mkfs(struct ag_cluster *c, const char *cfgfile, int argc,
		    char **argv)
{
	struct ag_config *cfg;
	int rc;

	(void)c;
	(void)argc;
	(void)argv;
	rc = ag_config_load(cfgfile, &cfg);
	if (rc)
		return 2;
	rc = ag_meta_mkfs(cfg, opt_force);
	if (!rc)
		printf("formatted %d drives, ec %d+%d\n", cfg->ndrives,
		       cfg->ec_k, cfg->ec_m);
	ag_config_free(cfg);
	return rc ? fail("mkfs", rc) : 0;
}

static void human(char *buf, size_t len, uint64_t v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", d, units[u]);
}

static double ratio(uint64_t before, uint64_t after)
{
	return after ? (double)before / after : 1;
}

/* status -b: exact figures, one "name value" line each, for scripts; u is
 * NULL when what is stored could not be counted. */
static int status_bytes(const struct ag_status *st, const struct ag_usage *u)
{
	printf("generation %" PRIu64 "\n", st->generation);
	printf("capacity_bytes %" PRIu64 "\n", st->capacity_bytes);
	printf("free_bytes %" PRIu64 "\n", st->free_bytes);
	printf("used_bytes %" PRIu64 "\n", st->used_bytes);
	printf("segments %u\n", st->nsegments);
	printf("free_segments %u\n", st->free_segments);
	printf("meta_segments %u\n", st->meta_segments);
	printf("data_segments %u\n", st->data_segments);
	printf("logical_bytes %" PRIu64 "\n", st->logical_bytes);
	printf("unique_bytes %" PRIu64 "\n", st->unique_bytes);
	printf("stored_bytes %" PRIu64 "\n", st->stored_bytes);
	printf("chunks %" PRIu64 "\n", st->chunks);
	printf("inodes %" PRIu64 "\n", st->inodes);
	if (u) {
		printf("similar_bytes %" PRIu64 "\n", u->similar_bytes);
		printf("delta_chunks %" PRIu64 "\n", u->delta_chunks);
		printf("meta_pages %" PRIu64 "\n", u->meta_pages);
		printf("meta_bytes %" PRIu64 "\n", u->meta_bytes);
		printf("meta_copies_bytes %" PRIu64 "\n",
		       u->meta_copies_bytes);
		printf("data_ec_bytes %" PRIu64 "\n", u->data_ec_bytes);
		printf("data_mirrored_bytes %" PRIu64 "\n",
		       u->data_mirrored_bytes);
		printf("physical_bytes %" PRIu64 "\n", u->physical_bytes);
		printf("protected_bytes %" PRIu64 "\n", u->protected_bytes);
		printf("garbage_bytes %" PRIu64 "\n", u->garbage_bytes);
	}
	if (st->lost_generation)
		printf("lost_generation %" PRIu64 "\n", st->lost_generation);
	return st->lost_generation || !u ? 1 : 0;
}

/* status: what is stored and what it costs, after the cluster's shape. */
static void status_usage(const struct ag_status *st, const struct ag_usage *u)
{
	char a[32], b[32], d[32];

	printf("reduction  dedup %.2f:1, similarity %.2f:1, compression "
	       "%.2f:1, total %.2f:1\n",
	       ratio(u->logical_bytes, u->unique_bytes),
	       ratio(u->unique_bytes, u->similar_bytes),
	       ratio(u->similar_bytes, u->stored_bytes),
	       ratio(u->logical_bytes, u->stored_bytes));
	human(a, sizeof(a), u->meta_bytes);
	human(b, sizeof(b), u->meta_copies_bytes);
	printf("metadata   %" PRIu64 " page%s: %s one copy, %s in %d copies\n",
	       u->meta_pages, u->meta_pages == 1 ? "" : "s", a, b,
	       u->meta_copies);
	human(a, sizeof(a), u->physical_bytes);
	human(b, sizeof(b), u->protected_bytes);
	printf("physical   %s one copy (data and metadata), %s with parity "
	       "and copies\n", a, b);
	human(a, sizeof(a), u->data_mirrored_bytes);
	printf("buffer     %s of data (%.1f%%) in mirrored stripes, at %d "
	       "copies; the rest erasure-coded at %d+%d\n", a,
	       u->stored_bytes ? 100.0 * u->data_mirrored_bytes /
					 u->stored_bytes : 0.0,
	       st->ec_m + 1, st->ec_k, st->ec_m);
	human(d, sizeof(d), u->garbage_bytes);
	printf("garbage    %s in sealed segments, waiting for the cleaner\n",
	       d);
}

static int cmd_status(struct ag_cluster *c, const char *cfg, int argc,
		      char **argv)
{
	static const char *const states[] = { "ok", "MISSING", "FOREIGN",
					      "FAILED" };
	struct ag_status st;
	struct ag_usage u;
	char a[32], b[32], d[32];
	int i, rc, counted, down = 0, rb;
	uint32_t rb_seg, rb_stripe;
	uint64_t rb_done;

	(void)cfg;
	(void)argc;
	(void)argv;
	rc = ag_cluster_status(c, &st);
	if (rc)
		return fail("status", rc);
	rc = ag_cluster_usage(c, &u);
	if (rc)
		fail("status: counting what is stored", rc);
	counted = !rc;
	if (opt_bytes)
		return status_bytes(&st, counted ? &u : NULL);
	printf("cluster    ");
	for (i = 0; i < 16; i++)
		printf("%02x%s", st.uuid[i],
		       i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
	printf("\ngeneration %" PRIu64 "\n", st.generation);
	if (st.lost_generation)
		printf("DAMAGED    generation %" PRIu64 " is damaged on every "
		       "copy of its %s: the one above is the newest whole "
		       "commit, and agora-metad serves it only with "
		       "--accept-rollback, losing generations up to %" PRIu64
		       " (run agora fsck)\n", st.damaged_generation,
		       st.lost_pages ? "pages" : "record", st.lost_generation);
	printf("erasure    %d+%d over %d drives, strips of %u KiB\n", st.ec_k,
	       st.ec_m, st.ndrives, st.strip_size >> 10);
	printf("chunks     min %u KiB, avg %u KiB, max %u KiB\n",
	       st.chunk_min >> 10, st.chunk_avg >> 10, st.chunk_max >> 10);
	printf("drives:\n");
	for (i = 0; i < st.ndrives; i++) {
		printf("  %2d %-8s %s (errors: read %lu, write %lu, "
		       "checksum %lu)", i, states[st.drives[i].state & 3],
		       st.drives[i].path, st.drives[i].read_errors,
		       st.drives[i].write_errors, st.drives[i].csum_errors);
		if (st.drives[i].bad_records)
			printf(", %u damaged commit record%s",
			       st.drives[i].bad_records,
			       st.drives[i].bad_records > 1 ? "s" : "");
		rb = ag_drive_rebuilding(c, i, &rb_seg, &rb_stripe, &rb_done);
		if (rb == 1)
			printf(", rebuilding: at segment %u stripe %u, %llu MiB "
			       "read (agora drive replace %d %s goes on)", rb_seg,
			       rb_stripe, (unsigned long long)(rb_done >> 20), i,
			       st.drives[i].path);
		printf("\n");
		down += st.drives[i].state != 0 || rb == 1;
	}
	if (down)
		printf("degraded   %d of %d drives missing, failed or being "
		       "rebuilt: serving on with the others (up to %d may be "
		       "missing)\n", down, st.ndrives, st.ec_m);
	human(a, sizeof(a), st.capacity_bytes);
	human(b, sizeof(b), st.free_bytes);
	human(d, sizeof(d), st.used_bytes);
	printf("capacity   %s, %s free for data; %s raw in use\n", a, b, d);
	printf("segments   %u: %u free, %u metadata, %u data\n", st.nsegments,
	       st.free_segments, st.meta_segments, st.data_segments);
	human(a, sizeof(a), st.logical_bytes);
	human(b, sizeof(b), st.unique_bytes);
	human(d, sizeof(d), st.stored_bytes);
	printf("data       logical %s, after dedup %s, stored %s\n", a, b, d);
	if (counted)
		status_usage(&st, &u);
	printf("elements   %" PRIu64 " inodes, %" PRIu64 " chunks\n", st.inodes,
	       st.chunks);
	return st.lost_generation || !counted ? 1 : 0;
}

static int split_parent(struct ag_cluster *c, const char *path,
			uint64_t *parent, const char **name)
{
	char dir[4096];
	struct ag_attr a;
	size_t len = strlen(path), cut;
	int rc;

	rc = ag_path_check(path);
	if (rc)
		return rc;
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	while (len > 1 && path[len - 1] == '/')
		len--;
	cut = len;
	while (cut && path[cut - 1] != '/')
		cut--;
	if (cut == len)
		return -EINVAL; /* "/" has no name */
	*name = path + cut;
	memcpy(dir, path, cut);
	dir[cut > 1 ? cut - 1 : 1] = 0;
	rc = ag_mkdir_path(c, dir, 0755, getuid(), getgid(), &a);
	if (!rc)
		*parent = a.ino;
	return rc;
}

static int cmd_put(struct ag_cluster *c, const char *cfg, int argc,
		   char **argv)
{
	const char *local = argv[0], *path = argv[1], *name;
	static uint8_t buf[4 << 20];
	struct ag_writer *w = NULL;
	uint64_t parent;
	char namebuf[256];
	int fd, rc;

	(void)cfg;
	(void)argc;
	fd = strcmp(local, "-") ? open(local, O_RDONLY | O_CLOEXEC)
				: STDIN_FILENO;
	if (fd < 0)
		return fail(local, -errno);
	rc = split_parent(c, path, &parent, &name);
	if (rc)
		goto out;
	/* the name ends at a trailing slash, if any */
	snprintf(namebuf, sizeof(namebuf), "%.*s",
		 (int)strcspn(name, "/"), name);
	if (strlen(name) > 255) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	rc = ag_writer_new(c, 0644, getuid(), getgid(), &w);
	while (!rc) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		if (n <= 0)
			break;
		rc = ag_writer_write(w, buf, n);
	}
	/* in a versioned bucket, as an S3 PUT: the file replaced stays */
	if (!rc)
		rc = ag_version_prepare(w, parent, namebuf);
	if (!rc)
		rc = ag_writer_commit(w, parent, namebuf, NULL);
out:
	ag_writer_free(w);
	if (fd != STDIN_FILENO)
		close(fd);
	return rc ? fail(path, rc) : 0;
}

/* get reads ahead with two threads, each fetching every other block, so
 * that the drives and both cores work while blocks go out in order. */
#define GET_BLOCK (8u << 20)
#define GET_SLOTS 6
#define GET_THREADS 3

struct get_job {
	struct ag_cluster *c;
	uint64_t ino, size, nblocks;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	uint8_t *buf[GET_SLOTS];
	ssize_t got[GET_SLOTS];
	int full[GET_SLOTS];
	int stop;
};

struct get_worker {
	struct get_job *job;
	int first;
};

static void *get_worker(void *arg)
{
	struct get_worker *w = arg;
	struct get_job *j = w->job;
	uint64_t b;

	for (b = w->first; b < j->nblocks; b += GET_THREADS) {
		int slot = b % GET_SLOTS;
		ssize_t n;

		pthread_mutex_lock(&j->lock);
		while (j->full[slot] && !j->stop)
			pthread_cond_wait(&j->cv, &j->lock);
		pthread_mutex_unlock(&j->lock);
		if (j->stop)
			break;
		n = ag_read(j->c, j->ino, b * GET_BLOCK, j->buf[slot],
			    GET_BLOCK);
		pthread_mutex_lock(&j->lock);
		j->got[slot] = n;
		j->full[slot] = 1;
		pthread_cond_broadcast(&j->cv);
		pthread_mutex_unlock(&j->lock);
	}
	return NULL;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= w;
	}
	return 0;
}

static int stream_out(struct ag_cluster *c, const struct ag_attr *a, int fd)
{
	struct get_job j = { .c = c, .ino = a->ino, .size = a->size };
	struct get_worker w[GET_THREADS];
	pthread_t thr[GET_THREADS];
	int i, started = 0, rc = 0;
	uint64_t b;

	j.nblocks = (a->size + GET_BLOCK - 1) / GET_BLOCK;
	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.cv, NULL);
	for (i = 0; i < GET_SLOTS; i++)
		if (!(j.buf[i] = malloc(GET_BLOCK)))
			rc = -ENOMEM;
	for (i = 0; !rc && i < GET_THREADS; i++) {
		w[i].job = &j;
		w[i].first = i;
		if (pthread_create(&thr[i], NULL, get_worker, &w[i]))
			break;
		started++;
	}
	if (!rc && started < GET_THREADS)
		rc = -EAGAIN;
	for (b = 0; !rc && b < j.nblocks; b++) {
		int slot = b % GET_SLOTS;
		uint64_t want = AG_MIN(GET_BLOCK, a->size - b * GET_BLOCK);

		pthread_mutex_lock(&j.lock);
		while (!j.full[slot])
			pthread_cond_wait(&j.cv, &j.lock);
		pthread_mutex_unlock(&j.lock);
		if (j.got[slot] < 0)
			rc = (int)j.got[slot];
		else if ((uint64_t)j.got[slot] != want)
			rc = -EIO; /* the element shrank under us */
		else
			rc = write_all(fd, j.buf[slot], want);
		pthread_mutex_lock(&j.lock);
		j.full[slot] = 0;
		pthread_cond_broadcast(&j.cv);
		pthread_mutex_unlock(&j.lock);
	}
	pthread_mutex_lock(&j.lock);
	j.stop = 1;
	pthread_cond_broadcast(&j.cv);
	pthread_mutex_unlock(&j.lock);
	for (i = 0; i < started; i++)
		pthread_join(thr[i], NULL);
	for (i = 0; i < GET_SLOTS; i++)
		free(j.buf[i]);
	pthread_cond_destroy(&j.cv);
	pthread_mutex_destroy(&j.lock);
	return rc;
}

static int cmd_get(struct ag_cluster *c, const char *cfg, int argc,
		   char **argv)
{
	const char *path = argv[0], *local = argv[1];
	struct ag_attr a;
	int fd, rc;

	(void)cfg;
	(void)argc;
	rc = ag_resolve(c, path, &a);
	if (rc)
		return fail(path, rc);
	if (S_ISDIR(a.mode))
		return fail(path, -EISDIR);
	if (!ag_sse_get(c, a.ino, NULL)) /* only S3 has its key */
		return fail(path, -EACCES);
	fd = strcmp(local, "-") ? open(local, O_WRONLY | O_CREAT | O_TRUNC |
					      O_CLOEXEC, 0644)
				: STDOUT_FILENO;
	if (fd < 0)
		return fail(local, -errno);
	rc = stream_out(c, &a, fd);
	if (fd != STDOUT_FILENO && close(fd) && !rc)
		rc = -errno;
	return rc ? fail(path, rc) : 0;
}

static char type_char(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFIFO: return 'p';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	case S_IFSOCK: return 's';
	}
	return '-';
}

static void print_long(const struct ag_attr *a, const char *name, size_t nlen)
{
	char when[32];
	time_t t = a->mtime / 1000000000;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	printf("%c%04o %3u %5u %5u %12" PRIu64 " %s %.*s\n", type_char(a->mode),
	       a->mode & 07777, a->nlink, a->uid, a->gid, a->size, when,
	       (int)nlen, name);
}

struct ls_ctx {
	struct ag_cluster *c;
	int rc;
};

static int ls_one(void *arg, const char *name, size_t nlen, uint64_t ino,
		  unsigned type)
{
	struct ls_ctx *ctx = arg;
	struct ag_attr a;

	(void)type;
	if (!opt_long) {
		printf("%.*s\n", (int)nlen, name);
		return 0;
	}
	ctx->rc = ag_getattr(ctx->c, ino, &a);
	if (ctx->rc)
		return ctx->rc;
	print_long(&a, name, nlen);
	return 0;
}

static int cmd_ls(struct ag_cluster *c, const char *cfg, int argc,
		  char **argv)
{
	const char *path = argc ? argv[0] : "/";
	struct ls_ctx ctx = { .c = c };
	struct ag_attr a;
	int rc;

	(void)cfg;
	rc = ag_resolve(c, path, &a);
	if (rc)
		return fail(path, rc);
	if (!S_ISDIR(a.mode)) {
		const char *base = strrchr(path, '/');

		base = base ? base + 1 : path;
		if (opt_long)
			print_long(&a, base, strlen(base));
		else
			printf("%s\n", base);
		return 0;
	}
	rc = ag_readdir(c, a.ino, NULL, ls_one, &ctx);
	return rc ? fail(path, rc) : 0;
}

static int cmd_stat(struct ag_cluster *c, const char *cfg, int argc,
		    char **argv)
{
	struct ag_attr a;
	char target[PATH_MAX]; /* a target is at most PATH_MAX - 1 bytes */
	int i, rc;

	(void)cfg;
	(void)argc;
	rc = ag_resolve(c, argv[0], &a);
	if (rc)
		return fail(argv[0], rc);
	printf("path   %s\ninode  %" PRIu64 "\ntype   %c\nmode   %04o\n"
	       "links  %u\nuid    %u\ngid    %u\nsize   %" PRIu64 "\n",
	       argv[0], a.ino, type_char(a.mode), a.mode & 07777, a.nlink,
	       a.uid, a.gid, a.size);
	printf("mtime  %lld.%09lld\nctime  %lld.%09lld\n",
	       (long long)(a.mtime / 1000000000),
	       (long long)(a.mtime % 1000000000),
	       (long long)(a.ctime / 1000000000),
	       (long long)(a.ctime % 1000000000));
	if (S_ISLNK(a.mode)) {
		ssize_t n = ag_readlink(c, a.ino, target, sizeof(target) - 1);

		if (n >= 0)
			printf("target %.*s\n", (int)n, target);
	}
	if (a.flags & 0x2) {
		printf("etag   ");
		for (i = 0; i < 16; i++)
			printf("%02x", a.etag[i]);
		printf("\n");
	}
	return 0;
}

static int remove_path(struct ag_cluster *c, uint64_t parent,
		       const char *name);

struct rm_ctx {
	char names[64][256];
	int n;
};

static int collect(void *arg, const char *name, size_t nlen, uint64_t ino,
		   unsigned type)
{
	struct rm_ctx *ctx = arg;

	(void)ino;
	(void)type;
	snprintf(ctx->names[ctx->n++], 256, "%.*s", (int)nlen, name);
	return ctx->n == 64;
}

static int remove_tree(struct ag_cluster *c, uint64_t dir)
{
	struct rm_ctx *ctx = malloc(sizeof(*ctx));
	int rc = 0, i;

	if (!ctx)
		return -ENOMEM;
	/* remove in batches: the listing restarts after each batch */
	do {
		ctx->n = 0;
		rc = ag_readdir(c, dir, NULL, collect, ctx);
		if (rc < 0)
			break;
		for (i = 0, rc = 0; i < ctx->n && !rc; i++)
			rc = remove_path(c, dir, ctx->names[i]);
	} while (!rc && ctx->n);
	free(ctx);
	return rc;
}

static int remove_path(struct ag_cluster *c, uint64_t parent, const char *name)
{
	struct ag_attr a;
	int rc = ag_lookup(c, parent, name, &a);

	if (rc)
		return rc;
	/* in a versioned bucket, as an S3 DELETE: a delete marker */
	if (!S_ISDIR(a.mode))
		return ag_version_unlink(c, parent, name);
	if (opt_recursive) {
		rc = remove_tree(c, a.ino);
		if (rc)
			return rc;
	}
	return ag_rmdir(c, parent, name);
}

static int cmd_rm(struct ag_cluster *c, const char *cfg, int argc,
		  char **argv)
{
	uint64_t parent;
	const char *name;
	char buf[4096];
	int rc;

	(void)cfg;
	(void)argc;
	snprintf(buf, sizeof(buf), "%s", argv[0]);
	while (strlen(buf) > 1 && buf[strlen(buf) - 1] == '/')
		buf[strlen(buf) - 1] = 0;
	rc = ag_resolve_parent(c, buf, &parent, &name);
	if (!rc)
		rc = remove_path(c, parent, name);
	return rc ? fail(argv[0], rc) : 0;
}

static int cmd_mkdir(struct ag_cluster *c, const char *cfg, int argc,
		     char **argv)
{
	struct ag_attr a;
	int rc;

	(void)cfg;
	(void)argc;
	rc = ag_mkdir_path(c, argv[0], 0755, getuid(), getgid(), &a);
	return rc ? fail(argv[0], rc) : 0;
}

static int cmd_fsck(struct ag_cluster *c, const char *cfg, int argc,
		    char **argv)
{
	int rc;

	(void)cfg;
	(void)argc;
	(void)argv;
	rc = ag_fsck(c, stdout, opt_verbose);
	if (rc < 0) {
		fail("fsck", rc);
		return 2;
	}
	return rc;
}

static void scrub_line(const char *what, const struct ag_scrub_kind *k,
		       int repair)
{
	printf("%-9s %llu checked, %llu bad, %llu missing", what,
	       (unsigned long long)k->checked, (unsigned long long)k->bad,
	       (unsigned long long)k->missing);
	if (repair)
		printf(", %llu repaired, %llu unrepairable",
		       (unsigned long long)k->repaired,
		       (unsigned long long)k->unrepairable);
	printf("\n");
}

/* What a scrub (or the scrub a rebuild is) read and did; rc is its
 * result. */
static void scrub_report(const struct ag_scrub_report *r, int repair, int rc)
{
	printf("generation %llu\n", (unsigned long long)r->generation);
	scrub_line("pages", &r->pages, repair);
	scrub_line("records", &r->records, repair);
	scrub_line("strips", &r->strips, repair);
	scrub_line("mirrored", &r->mirrored, repair);
	if (r->skipped)
		printf("skipped   %llu changed while scrubbed\n",
		       (unsigned long long)r->skipped);
	printf("read      %.1f MB in %.2f s (%.1f MB/s)\n", r->bytes / 1e6,
	       r->seconds, r->seconds > 0 ? r->bytes / 1e6 / r->seconds : 0.0);
	printf("%s\n", rc ? (repair ? "damage left" : "damage found") :
	       "clean");
	fflush(stdout);
}

/* --watch: a background scrub, with repair, every [scrub] interval
 * seconds at the [scrub] rate (unless --rate); runs until killed (a
 * scrub killed at any moment loses nothing). A run that finds nothing
 * says so in one line. */
static int scrub_watch(struct ag_cluster *c, const char *cfg,
		       struct ag_scrub_opts *o)
{
	struct ag_scrub_report r;
	struct ag_config *conf;
	int rc = ag_config_load(cfg, &conf);

	if (rc)
		return fail("scrub", rc);
	if (!o->rate_mb)
		o->rate_mb = conf->scrub_rate;
	o->repair = 1;
	o->progress = 0;
	for (;;) {
		rc = ag_scrub(c, o, &r);
		if (rc < 0)
			fprintf(stderr, "agora: scrub: %s\n", ag_strerror(rc));
		else if (rc || r.pages.bad + r.pages.missing + r.records.bad +
			       r.records.missing + r.strips.bad +
			       r.strips.missing + r.mirrored.bad +
			       r.mirrored.missing)
			scrub_report(&r, 1, rc);
		else
			printf("scrub: generation %llu clean, %.1f MB in "
			       "%.2f s\n", (unsigned long long)r.generation,
			       r.bytes / 1e6, r.seconds);
		fflush(stdout);
		sleep((unsigned)AG_MAX(conf->scrub_interval, 1));
	}
}

static int cmd_scrub(struct ag_cluster *c, const char *cfg, int argc,
		     char **argv)
{
	struct ag_scrub_opts o = {
		.repair = opt_repair,
		.verbose = opt_verbose,
		.progress = isatty(STDERR_FILENO),
		.rate_mb = opt_rate_mb,
		.out = stdout,
	};
	struct ag_scrub_report r;
	int rc;

	(void)argc;
	(void)argv;
	if (opt_watch)
		return scrub_watch(c, cfg, &o);
	rc = ag_scrub(c, &o, &r);
	if (rc < 0) {
		fail("scrub", rc);
		return 2;
	}
	scrub_report(&r, o.repair, rc);
	return rc;
}

/* drive replace N PATH: a new drive for slot N, rebuilt (rebuild.c). */
static int cmd_drive(struct ag_cluster *c, const char *cfg, int argc,
		     char **argv)
{
	struct ag_rebuild_opts o = {
		.force = opt_force,
		.verbose = opt_verbose,
		.progress = isatty(STDERR_FILENO),
		.rate_mb = opt_rate_mb,
		.settle_s = -1,
		.out = stdout,
	};
	struct ag_rebuild_report r;
	char *end;
	long n;
	int rc;

	(void)cfg;
	n = argc == 3 ? strtol(argv[1], &end, 10) : -1;
	if (strcmp(argv[0], "replace") || argc != 3 || *end || n < 0) {
		fprintf(stderr, "usage: agora -c CONFIG drive replace N PATH\n");
		return 2;
	}
	rc = ag_drive_replace(c, (int)n, argv[2], &o, &r);
	if (rc < 0) {
		fail("drive replace", rc);
		return 2;
	}
	printf("drive %ld rebuilt%s\n", n, r.resumed ? " (resumed)" : "");
	scrub_report(&r.scrub, 1, rc);
	return rc;
}

static void clean_report(const struct ag_clean_report *r)
{
	printf("segments  %llu cleaned, %llu freed; free %llu -> %llu\n",
	       (unsigned long long)r->victims, (unsigned long long)r->freed,
	       (unsigned long long)r->free_before,
	       (unsigned long long)r->free_after);
	printf("copied    %llu chunks, %.1f MB in %.2f s (%.1f MB/s)\n",
	       (unsigned long long)r->chunks, r->bytes / 1e6, r->seconds,
	       r->seconds > 0 ? r->bytes / 1e6 / r->seconds : 0.0);
	printf("mirrored  %llu -> %llu bytes (of %llu stored)\n",
	       (unsigned long long)r->mirrored_before,
	       (unsigned long long)r->mirrored_after,
	       (unsigned long long)r->stored);
	printf("raw       %llu -> %llu bytes of data stripes on the drives\n",
	       (unsigned long long)r->raw_before,
	       (unsigned long long)r->raw_after);
	if (r->lost)
		printf("lost      %llu copies to a delete or another cleaner\n",
		       (unsigned long long)r->lost);
	if (r->unreadable)
		printf("left      %llu chunks that could not be read (run "
		       "agora scrub)\n", (unsigned long long)r->unreadable);
	if (r->deltas)
		printf("deltas    %llu chunks stored as deltas, %.1f MB "
		       "saved\n", (unsigned long long)r->deltas,
		       r->saved / 1e6);
	if (r->recompressed)
		printf("cold      %llu chunks compressed again, %.1f MB "
		       "saved\n", (unsigned long long)r->recompressed,
		       r->recompress_saved / 1e6);
	fflush(stdout);
}

static int clean_once(struct ag_cluster *c, const struct ag_clean_opts *o,
		      const char *what)
{
	struct ag_clean_report r;
	int rc = ag_clean(c, o, &r);

	if (rc < 0) {
		fail(what, rc);
		return 2;
	}
	clean_report(&r);
	return 0;
}

/* --watch: look every interval seconds, clean when the thresholds of
 * agora.conf [clean] say so; runs until killed (a cleaner killed at any
 * moment loses nothing). */
static int clean_watch(struct ag_cluster *c, const char *cfg,
		       struct ag_clean_opts *o)
{
	struct ag_clean_report r;
	struct ag_config *conf;
	int rc = ag_config_load(cfg, &conf);

	if (rc)
		return fail("clean", rc);
	o->free_pct = conf->clean_free_pct;
	o->mirrored_pct = conf->clean_mirrored_pct;
	if (!o->rate_mb)
		o->rate_mb = conf->clean_rate;
	o->progress = 0;
	for (;;) {
		rc = ag_clean(c, o, &r);
		if (rc < 0)
			fprintf(stderr, "agora: clean: %s\n", ag_strerror(rc));
		else if (!r.skipped)
			clean_report(&r);
		sleep((unsigned)AG_MAX(conf->clean_interval, 1));
	}
}

static int cmd_clean(struct ag_cluster *c, const char *cfg, int argc,
		     char **argv)
{
	struct ag_clean_opts o = {
		.destage_only = opt_destage_only,
		.verbose = opt_verbose,
		.progress = isatty(STDERR_FILENO),
		.rate_mb = opt_rate_mb,
		.out = stdout,
	};

	(void)argc;
	(void)argv;
	if (opt_watch)
		return clean_watch(c, cfg, &o);
	return clean_once(c, &o, "clean");
}

/* Apply the buckets' lifecycle rules (lifecycle.c): once, or with
 * --watch every [lifecycle] interval seconds until killed (a run killed
 * at any moment removes only what a rule expires). A day is [lifecycle]
 * day seconds long. */
static int cmd_lifecycle(struct ag_cluster *c, const char *cfg, int argc,
			 char **argv)
{
	struct ag_lifecycle_report r;
	struct ag_config *conf;
	int rc = ag_config_load(cfg, &conf);

	(void)argc;
	(void)argv;
	if (rc)
		return fail("lifecycle", rc);
	do {
		rc = ag_lifecycle_run(c, conf->lifecycle_day, &r);
		if (rc < 0)
			fprintf(stderr, "agora: lifecycle: %s\n",
				ag_strerror(rc));
		else if (!opt_watch || opt_verbose || r.expired ||
			 r.aborted || r.noncurrent)
			printf("lifecycle: %llu buckets with rules, %llu "
			       "objects looked at, %llu expired, %llu uploads "
			       "aborted, %llu noncurrent versions removed\n",
			       (unsigned long long)r.buckets,
			       (unsigned long long)r.objects,
			       (unsigned long long)r.expired,
			       (unsigned long long)r.aborted,
			       (unsigned long long)r.noncurrent);
		fflush(stdout);
		if (opt_watch)
			sleep((unsigned)AG_MAX(conf->lifecycle_interval, 1));
	} while (opt_watch);
	ag_config_free(conf);
	return rc < 0 ? 2 : 0;
}

/* Similarity reduction of what is stored already: the cleaner moves the
 * chunks never through its similarity stage, which makes deltas of them
 * or indexes them for later ones (clean.c). */
static int cmd_reduce(struct ag_cluster *c, const char *cfg, int argc,
		      char **argv)
{
	struct ag_clean_opts o = {
		.reduce = 1,
		.verbose = opt_verbose,
		.progress = isatty(STDERR_FILENO),
		.rate_mb = opt_rate_mb,
		.out = stdout,
	};

	(void)cfg;
	(void)argc;
	(void)argv;
	return clean_once(c, &o, "reduce");
}

/* ---- S3 users ---- */

/* Fill out with n random characters of alphabet. */
static int random_string(char *out, size_t n, const char *alphabet)
{
	size_t alen = strlen(alphabet), i;
	uint8_t r[64];

	if (n > sizeof(r) || getrandom(r, n, 0) != (ssize_t)n)
		return -EIO;
	for (i = 0; i < n; i++)
		out[i] = alphabet[r[i] % alen];
	out[n] = 0;
	return 0;
}

static int print_user(void *arg, const struct ag_user *u)
{
	(void)arg;
	printf("%s %s uid=%" PRIu32 " gid=%" PRIu32 "\n", u->name, u->access,
	       u->uid, u->gid);
	return 0;
}

static int cmd_user(struct ag_cluster *c, const char *cfg, int argc,
		    char **argv)
{
	struct ag_user u = { .uid = (uint32_t)opt_uid, .gid = (uint32_t)opt_gid };
	int rc;

	(void)cfg;
	if (!strcmp(argv[0], "list") && argc == 1)
		return ag_user_list(c, print_user, NULL) ? fail("user list", -EIO)
							 : 0;
	if (!strcmp(argv[0], "remove") && argc == 2) {
		rc = ag_user_remove(c, argv[1]);
		return rc ? fail(argv[1], rc) : 0;
	}
	if (strcmp(argv[0], "add") || argc != 2) {
		fprintf(stderr, "usage: agora -c CONFIG user add NAME "
			"[--uid N --gid N] [--key ACCESS --secret SECRET] | "
			"list | remove NAME\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(u.name)) {
		fprintf(stderr, "agora: user name too long\n");
		return 2;
	}
	if (!opt_key != !opt_secret ||
	    (opt_key && (strlen(opt_key) >= sizeof(u.access) ||
			 strlen(opt_secret) >= sizeof(u.secret)))) {
		fprintf(stderr, "agora: --key (up to %zu characters) and "
			"--secret (up to %zu) go together\n",
			sizeof(u.access) - 1, sizeof(u.secret) - 1);
		return 2;
	}
	snprintf(u.name, sizeof(u.name), "%s", argv[1]);
	if (opt_key) {
		snprintf(u.access, sizeof(u.access), "%s", opt_key);
		snprintf(u.secret, sizeof(u.secret), "%s", opt_secret);
		rc = 0;
	} else {
		rc = random_string(u.access, 20,
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	}
	if (!rc && !opt_key)
		rc = random_string(u.secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "abcdefghijklmnopqrstuvwxyz0123456789+/");
	if (!rc)
		rc = ag_user_add(c, &u);
	if (rc)
		return fail(argv[1], rc);
	printf("%s %s\n", u.access, u.secret);
	return 0;
}

static int cmd_trigger(struct ag_cluster *c, const char *cfg, int argc,
		       char **argv)
{
	(void)cfg;
	return agora_cmd_trigger(c, opt_watch, opt_verbose, argc, argv);
}

static const struct cmd cmds[] = {
	{ "mkfs", "mkfs [--force]", 0, 0, 0, cmd_mkfs },
	{ "status", "status [-b]", 0, 0, 3, cmd_status },
	{ "put", "put LOCAL|- /PATH", 2, 2, 2, cmd_put },
	{ "get", "get /PATH LOCAL|-", 2, 2, 1, cmd_get },
	{ "ls", "ls [-l] [/PATH]", 0, 1, 1, cmd_ls },
	{ "stat", "stat /PATH", 1, 1, 1, cmd_stat },
	{ "rm", "rm [-r] /PATH", 1, 1, 2, cmd_rm },
	{ "mkdir", "mkdir /PATH", 1, 1, 2, cmd_mkdir },
	{ "fsck", "fsck [-v]", 0, 0, 3, cmd_fsck },
	{ "scrub", "scrub [--repair] [--rate MB/s] [--watch] [-v]", 0, 0, 3,
	  cmd_scrub },
	{ "drive", "drive replace N PATH [--rate MB/s] [--force] [-v]", 3, 3,
	  3, cmd_drive },
	{ "clean", "clean [--rate MB/s] [--destage-only] [--watch] [-v]", 0, 0,
	  2, cmd_clean },
	{ "reduce", "reduce [--rate MB/s] [-v]", 0, 0, 2, cmd_reduce },
	{ "lifecycle", "lifecycle [--watch] [-v]", 0, 0, 2, cmd_lifecycle },
	{ "user", "user add NAME [--uid N --gid N] [--key ACCESS --secret "
	  "SECRET] | list | remove NAME", 1, 2, 2, cmd_user },
	{ "events", AGORA_EVENTS_USAGE, 0, 0, 2, agora_cmd_events },
	{ "catalog", AGORA_CATALOG_USAGE, 0, 0, 2, agora_cmd_catalog },
	{ "trigger", AGORA_TRIGGER_USAGE, 1, 2, 2, cmd_trigger },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: agora -c CONFIG COMMAND [ARGS]\n");
	for (i = 0; i < AG_ARRAY_LEN(cmds); i++)
		fprintf(f, "       agora -c CONFIG %s\n", cmds[i].usage);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "uid", required_argument, NULL, 'U' },
		{ "gid", required_argument, NULL, 'G' },
		{ "key", required_argument, NULL, 'K' },
		{ "secret", required_argument, NULL, 'S' },
		{ "repair", no_argument, NULL, 'R' },
		{ "rate", required_argument, NULL, 'M' },
		{ "destage-only", no_argument, NULL, 'D' },
		{ "watch", no_argument, NULL, 'W' },
		AGORA_EVENTS_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg = NULL;
	const struct cmd *cmd = NULL;
	struct ag_cluster *c = NULL;
	int opt, rc, nargs;
	size_t i;

	/* options may come before or after the command */
	while ((opt = getopt_long(argc, argv, "bc:flrvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b': opt_bytes = 1; break;
		case 'c': cfg = optarg; break;
		case 'f': opt_force = 1; break;
		case 'l': opt_long = 1; break;
		case 'r': opt_recursive = 1; break;
		case 'v': opt_verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case 'U': opt_uid = strtol(optarg, NULL, 10); break;
		case 'G': opt_gid = strtol(optarg, NULL, 10); break;
		case 'K': opt_key = optarg; break;
		case 'S': opt_secret = optarg; break;
		case 'R': opt_repair = 1; break;
		case 'M': opt_rate_mb = strtod(optarg, NULL); break;
		case 'D': opt_destage_only = 1; break;
		case 'W': opt_watch = 1; break;
		default:
			if (!agora_events_opt(opt, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (!cfg || optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < AG_ARRAY_LEN(cmds); i++)
		if (!strcmp(cmds[i].name, argv[optind]))
			cmd = &cmds[i];
	if (!cmd) {
		fprintf(stderr, "agora: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	nargs = argc - optind - 1;
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		fprintf(stderr, "usage: agora -c CONFIG %s\n", cmd->usage);
		return 2;
	}
	if (cmd->needs) {
		static const int open_flags[] = {
			0, AG_OPEN_RDONLY, 0, AG_OPEN_RDONLY | AG_OPEN_DAMAGED
		};

		/* the administrator sees everything, S3 users included */
		rc = ag_cluster_open(cfg, open_flags[cmd->needs] |
					  AG_OPEN_PRIVATE, &c);
		if (rc) {
			fprintf(stderr, "agora: cannot open the cluster of %s: "
				"%s\n", cfg, ag_strerror(rc));
			return 2;
		}
	}
	if (c)
		ag_cluster_set_origin(c, AG_PROTO_AGORA);
	rc = cmd->run(c, cfg, nargs, argv + optind + 1);
	ag_cluster_close(c);
	return rc;
}
