/*
 * test_config.c - unit test of the configuration file parser
 * (common/base/config.c) and of the sizes it reads (ag_parse_size).
 *
 * Good files load with every value where it belongs and the defaults
 * elsewhere; each kind of bad line is refused with -EINVAL (or the errno
 * that says why) and a message on stderr naming file:line, which the test
 * reads back by pointing stderr at a file while the parser runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agora.h"
#include "config.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/agora-test-config-XXXXXX";
static char conf[sizeof(dir) + 16], errlog[sizeof(dir) + 16];

static int write_file(const char *text)
{
	FILE *f = fopen(conf, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

/* Load text as a config file; what the parser logged goes to msg. */
static int load(const char *text, struct ag_config **c, char *msg,
		size_t cap)
{
	int saved, fd, rc;
	ssize_t n;

	*c = NULL;
	msg[0] = 0;
	rc = write_file(text);
	if (rc)
		return rc;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(errlog, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (saved < 0 || fd < 0)
		return -errno;
	dup2(fd, STDERR_FILENO);
	rc = ag_config_load(conf, c);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, msg, cap - 1, 0);
	msg[n > 0 ? n : 0] = 0;
	close(fd);
	return rc;
}

#define BASE "[cluster]\ndrives = /d/0,/d/1\nmetad = unix:/run/m.sock\n"

static void test_good(void)
{
	struct ag_config *c;
	char msg[1024];
	int rc;

	rc = load(BASE, &c, msg, sizeof(msg));
	ok(rc == 0 && c, "minimal file loads");
	if (!c)
		return;
	ok(c->ndrives == 2 && !strcmp(c->drives[0], "/d/0") &&
	   !strcmp(c->drives[1], "/d/1") && !strcmp(c->metad, "unix:/run/m.sock"),
	   "drives and metad");
	ok(c->ec_k == 4 && c->ec_m == 2 && c->drive_size == 1ull << 30 &&
	   c->chunk_min == 16 << 10 && c->chunk_avg == 64 << 10 &&
	   c->chunk_max == 256 << 10 && c->strip_size == 64 << 10 &&
	   c->segment_size == 4 << 20 && c->zstd_level == 1 &&
	   c->page_cache == 64 << 20 && c->chunk_cache == 256 << 20 &&
	   c->metad_timeout == 60 && c->batch_max == 256 &&
	   c->lease_timeout == 30 && c->active_lease_ms == 2000 &&
	   !c->pidfile && !c->log,
	   "defaults as agora.conf(5) gives them");
	ok(!msg[0], "nothing logged");
	ag_config_free(c);

	rc = load("# a comment\n; another\n\n"
		  "[cluster]\n"
		  "  drives = /a , /b,,/c  # comment after a value\n"
		  "ec = 8+3\n"
		  "drive_size = 2G\n"
		  "metad = 127.0.0.1:7000\n"
		  "chunk_min = 8K\n"
		  "chunk_avg = 32KiB\n"
		  "chunk_max = 1MB\n"
		  "strip_size = 4096\n"
		  "segment_size = 16m\n"
		  "zstd_level = -3\n"
		  "page_cache = 1T\n"
		  "chunk_cache = 0\n"
		  "metad_timeout = 5\n"
		  "[metad]\n"
		  "pidfile = /run/p#id\n"
		  "log = /var/log/m.log ; why\n"
		  "batch_max = 16\n"
		  "lease_timeout = 7\n"
		  "active_lease_ms = 750\n"
		  "[s3]\n"
		  "listen = 127.0.0.1:9000\n"
		  "anything = goes here\n",
		  &c, msg, sizeof(msg));
	ok(rc == 0 && c, "full file loads");
	if (!c)
		return;
	ok(c->ndrives == 3 && !strcmp(c->drives[0], "/a") &&
	   !strcmp(c->drives[1], "/b") && !strcmp(c->drives[2], "/c"),
	   "drives trimmed, empty items skipped, comment cut");
	ok(c->ec_k == 8 && c->ec_m == 3, "ec 8+3");
	ok(c->drive_size == 2ull << 30 && c->chunk_min == 8 << 10 &&
	   c->chunk_avg == 32 << 10 && c->chunk_max == 1 << 20 &&
	   c->strip_size == 4096 && c->segment_size == 16 << 20 &&
	   c->page_cache == 1ull << 40 && c->chunk_cache == 0,
	   "sizes: 2G 8K 32KiB 1MB 4096 16m 1T 0");
	ok(c->zstd_level == -3 && c->metad_timeout == 5 &&
	   c->batch_max == 16 && c->lease_timeout == 7 &&
	   c->active_lease_ms == 750, "integers");
	ok(!strcmp(c->pidfile, "/run/p#id") && !strcmp(c->log, "/var/log/m.log"),
	   "a # inside a value stays; one after white space starts a comment");
	ok(!strcmp(c->path, conf), "path kept");
	ag_config_free(c);
	ag_config_free(NULL);
	ok(1, "ag_config_free(NULL)");
}

/* Each bad file is refused with want and a message holding every one of
 * the words (NULL-terminated). */
struct bad {
	const char *text;
	int want;
	const char *words[3];
};

static const struct bad bads[] = {
	{ BASE "[cluster\n", -EINVAL, { ":4:", "bad section header" } },
	{ BASE "[cluster] x\n", -EINVAL, { ":4:", "bad section header" } },
	{ BASE "just words\n", -EINVAL, { ":4:", "expected key = value" } },
	{ BASE "colour = blue\n", -EINVAL,
	  { ":4:", "unknown key 'colour' in [cluster]" } },
	{ "[metad]\nverbose = 1\n" BASE, -EINVAL,
	  { ":2:", "unknown key 'verbose' in [metad]" } },
	{ BASE "ec = 4\n", -EINVAL, { ":4:", "bad value for ec" } },
	{ BASE "ec = 0+2\n", -EINVAL, { ":4:", "bad value for ec" } },
	{ BASE "ec = 30+3\n", -EINVAL, { ":4:", "bad value for ec" } },
	{ BASE "ec = 4+-1\n", -EINVAL, { ":4:", "bad value for ec" } },
	{ BASE "drive_size = 12Q\n", -EINVAL,
	  { ":4:", "bad value for drive_size: '12Q'" } },
	{ BASE "drive_size = big\n", -EINVAL, { ":4:", "drive_size" } },
	{ BASE "drive_size = 99999999999T\n", -ERANGE, { ":4:", "drive_size" } },
	{ BASE "chunk_min = 4G\n", -EINVAL,
	  { ":4:", "bad value for chunk_min" } },
	{ BASE "zstd_level = 3x\n", -EINVAL, { ":4:", "zstd_level" } },
	{ BASE "batch_max =\n", -EINVAL, { ":4:", "batch_max" } },
	{ BASE "lease_timeout = 99999999999999999999\n", -EINVAL,
	  { ":4:", "lease_timeout" } },
	{ "[cluster]\ndrives = , ,\n", -EINVAL,
	  { ":2:", "bad value for drives" } },
	{ "[cluster]\nmetad = unix:/m\n", -EINVAL,
	  { "[cluster] drives is missing" } },
	{ "[cluster]\ndrives = /d\n", -EINVAL, { "[cluster] metad is missing" } },
	{ BASE "metad_timeout = 0\n", -EINVAL,
	  { "metad_timeout must be 1 second or more" } },
	{ BASE "[metad]\nactive_lease_ms = 199\n", -EINVAL,
	  { "active_lease_ms must be 200 or more" } },
};

static void test_bad(void)
{
	struct ag_config *c;
	char msg[2048];
	size_t i;

	for (i = 0; i < AG_ARRAY_LEN(bads); i++) {
		const struct bad *b = &bads[i];
		int rc = load(b->text, &c, msg, sizeof(msg)), words = 1, w;

		for (w = 0; w < 3 && b->words[w]; w++)
			if (!strstr(msg, b->words[w]))
				words = 0;
		if (!strstr(msg, conf))
			words = 0;
		ok(rc == b->want && !c && words, "refused: file%s %s",
		   b->words[1] ? b->words[0] : ":",
		   b->words[1] ? b->words[1] : b->words[0]);
		if (!words || rc != b->want)
			diag("rc %d, message: %s", rc, msg);
		ag_config_free(c);
	}
}

static void test_missing_file(void)
{
	struct ag_config *c = NULL;
	char path[sizeof(dir) + 16];

	snprintf(path, sizeof(path), "%s/none.conf", dir);
	ok(ag_config_load(path, &c) == -ENOENT && !c, "missing file: -ENOENT");
}

static void test_sizes(void)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 }, { "4096", 0, 4096 }, { "64K", 0, 64 << 10 },
		{ "64k", 0, 64 << 10 }, { "64KiB", 0, 64 << 10 },
		{ "64KB", 0, 64 << 10 }, { "1G", 0, 1ull << 30 },
		{ "3M", 0, 3 << 20 }, { "2T", 0, 2ull << 40 },
		{ "16777215T", 0, 16777215ull << 40 },
		{ "16777216T", -ERANGE, 0 }, { "", -EINVAL, 0 },
		{ "K", -EINVAL, 0 }, { "1X", -EINVAL, 0 },
		{ "1B", -EINVAL, 0 }, { "1Ki B", -EINVAL, 0 },
		{ "1 K", -EINVAL, 0 }, { "1KiBs", -EINVAL, 0 },
		{ "99999999999999999999", -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < AG_ARRAY_LEN(cases); i++) {
		uint64_t v = 12345;
		int rc = ag_parse_size(cases[i].s, &v);

		ok(rc == cases[i].rc && (rc || v == cases[i].v),
		   "size '%s': %d %llu", cases[i].s, rc, (unsigned long long)v);
	}
}

/* The metad key as a list of several agora-metad. */
static void test_metad_list(void)
{
	struct ag_config *c = NULL;
	char msg[1024];
	int rc = load("[cluster]\ndrives = /d\n"
		      "metad = unix:/a,127.0.0.1:7000,unix:/b\n",
		      &c, msg, sizeof(msg));

	ok(!rc && c && ag_config_metad_has(c, "unix:/a") &&
	   ag_config_metad_has(c, "127.0.0.1:7000") &&
	   ag_config_metad_has(c, "unix:/b"),
	   "each address of a metad list is one of it");
	ok(c && !ag_config_metad_has(c, "unix:/") &&
	   !ag_config_metad_has(c, "127.0.0.1:700") &&
	   !ag_config_metad_has(c, "unix:/a,127.0.0.1:7000") &&
	   !ag_config_metad_has(c, ""),
	   "parts, runs of them and nothing are not");
	ag_config_free(c);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("1..0 # SKIP no temporary directory\n");
		return 0;
	}
	snprintf(conf, sizeof(conf), "%s/agora.conf", dir);
	snprintf(errlog, sizeof(errlog), "%s/stderr", dir);
	test_good();
	test_bad();
	test_missing_file();
	test_sizes();
	test_metad_list();
	unlink(conf);
	unlink(errlog);
	rmdir(dir);
	return tap_done();
}
