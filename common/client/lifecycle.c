/*
 * lifecycle.c - the lifecycle of a bucket's objects: its rules, kept by
 * the core, and the run that applies them (agora lifecycle [--watch]).
 *
 * A bucket's rules are the private xattr AG_XATTR_LIFECYCLE of its
 * directory, one rule a line: "ID STATUS PREFIX TAGS DAYS DATE ABORT
 * NONCURRENT",
 * tab-separated, ID and PREFIX with bytes below 0x20 and '%' as %XX,
 * STATUS 1 (enabled) or 0, TAGS the parts an object's tag set
 * (AG_XATTR_TAGS) must all hold, in that set's own form, DAYS and ABORT
 * counts of days (0: none) and DATE seconds since 1970 (0: none),
 * NONCURRENT the days a version is kept once it is no longer current
 * (0: for ever; a line without it is an older one's, 0).
 *
 * A run walks every bucket that has rules: a regular file whose key
 * starts with an enabled rule's prefix and whose tags hold the rule's
 * expires once its mtime is DAYS days old, or once DATE has passed, and
 * is removed as an S3 DELETE removes it (ag_object_remove, on condition
 * that its stored ETag is still the one looked at, so an object written
 * again meanwhile stays); an upload of a key with the prefix is dropped
 * ABORT days after it was started; in a versioned bucket, a noncurrent
 * version (or delete marker) is removed for good NONCURRENT days after
 * the version that followed it was made. A day is day_seconds long (86400;
 * agora.conf's [lifecycle] day shortens it for tests). Runs are
 * idempotent: two at once, or one killed at any point, remove nothing
 * that a rule does not expire.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agora.h"

#define NS 1000000000LL
#define TYPE_DIR (S_IFDIR >> 12) /* ag_readdir's types */
#define TYPE_REG (S_IFREG >> 12)

static void escape(FILE *f, const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '%')
			fprintf(f, "%%%02X", (unsigned char)*s);
		else
			fputc(*s, f);
}

int ag_lifecycle_encode(const struct ag_lifecycle_rule *rules, int n,
			char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);
	int i;

	if (!f)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct ag_lifecycle_rule *r = &rules[i];

		escape(f, r->id);
		fprintf(f, "\t%d\t", r->enabled ? 1 : 0);
		escape(f, r->prefix);
		fprintf(f, "\t%s\t%d\t%" PRId64 "\t%d\t%d\n",
			r->tags ? r->tags : "", r->expire_days,
			r->expire_date, r->abort_days, r->noncurrent_days);
	}
	return fclose(f) ? -ENOMEM : 0;
}

/* Decode an escaped field [s, s + n) into out (size bytes). */
static int unescape(const char *s, size_t n, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned v;

		if (o + 1 >= size)
			return -EINVAL;
		if (s[i] == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]) ||
			    sscanf(s + i + 1, "%2x", &v) != 1 || !v)
				return -EINVAL;
			out[o++] = (char)v;
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
	return 0;
}

static int decode_line(const char *line, size_t len,
		       struct ag_lifecycle_rule *r)
{
	const char *f[8];
	size_t fl[8];
	char num[32];
	int i, nf;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < 8; i++) {
		const char *tab = memchr(line, '\t', len);

		f[i] = line;
		fl[i] = tab ? (size_t)(tab - line) : len;
		if (!tab && i < 6)
			return -EINVAL;
		if (!tab)
			break;
		len -= fl[i] + 1;
		line = tab + 1;
	}
	if (i == 8)
		return -EINVAL; /* more fields than a rule has */
	nf = i + 1;
	if (unescape(f[0], fl[0], r->id, sizeof(r->id)) ||
	    unescape(f[2], fl[2], r->prefix, sizeof(r->prefix)))
		return -EINVAL;
	r->enabled = fl[1] == 1 && f[1][0] == '1';
	r->tags = strndup(f[3], fl[3]);
	if (!r->tags)
		return -ENOMEM;
	for (i = 4; i < nf; i++) {
		long long v;
		char *end;

		if (!fl[i] || fl[i] >= sizeof(num))
			return -EINVAL;
		memcpy(num, f[i], fl[i]);
		num[fl[i]] = 0;
		v = strtoll(num, &end, 10);
		if (*end || v < 0)
			return -EINVAL;
		if (i == 4)
			r->expire_days = (int)v;
		else if (i == 5)
			r->expire_date = v;
		else if (i == 6)
			r->abort_days = (int)v;
		else
			r->noncurrent_days = (int)v;
	}
	return 0;
}

void ag_lifecycle_free(struct ag_lifecycle_rule *rules, int n)
{
	int i;

	for (i = 0; rules && i < n; i++)
		free(rules[i].tags);
	free(rules);
}

int ag_lifecycle_decode(const char *buf, size_t len,
			struct ag_lifecycle_rule **rules, int *n)
{
	const char *p = buf, *end = buf + len;
	int cap = 0, rc = 0;

	*rules = NULL;
	*n = 0;
	while (!rc && p < end) {
		const char *nl = memchr(p, '\n', end - p);

		if (!nl)
			nl = end;
		if (*n == cap) {
			struct ag_lifecycle_rule *nr;

			cap = cap ? 2 * cap : 8;
			nr = realloc(*rules, cap * sizeof(*nr));
			if (!nr) {
				rc = -ENOMEM;
				break;
			}
			*rules = nr;
		}
		rc = decode_line(p, (size_t)(nl - p), &(*rules)[*n]);
		if (!rc || (*rules)[*n].tags)
			(*n)++; /* freed with the others */
		p = nl + 1;
	}
	if (rc) {
		ag_lifecycle_free(*rules, *n);
		*rules = NULL;
		*n = 0;
	}
	return rc;
}

int ag_lifecycle_get(struct ag_cluster *c, uint64_t bucket,
		     struct ag_lifecycle_rule **rules, int *n)
{
	ssize_t len = ag_getxattr(c, bucket, AG_XATTR_LIFECYCLE, NULL, 0);
	char *buf;
	int rc;

	*rules = NULL;
	*n = 0;
	if (len < 0)
		return (int)len; /* -ENODATA: none */
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	len = ag_getxattr(c, bucket, AG_XATTR_LIFECYCLE, buf, len);
	rc = len < 0 ? (int)len : ag_lifecycle_decode(buf, len, rules, n);
	free(buf);
	return rc;
}

int ag_lifecycle_set(struct ag_cluster *c, uint64_t bucket,
		     const struct ag_lifecycle_rule *rules, int n)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (!n) {
		rc = ag_removexattr(c, bucket, AG_XATTR_LIFECYCLE);
		return rc == -ENODATA ? 0 : rc;
	}
	rc = ag_lifecycle_encode(rules, n, &buf, &len);
	if (!rc)
		rc = ag_setxattr(c, bucket, AG_XATTR_LIFECYCLE, buf, len, 0);
	free(buf);
	return rc;
}

/* ---- the run ---- */

struct run {
	struct ag_cluster *c;
	uint64_t bucket;
	struct ag_lifecycle_rule *rules;
	int n, noncurrent; /* some rule expires noncurrent versions */
	int64_t now, day; /* ns */
	struct ag_lifecycle_report *report;
};

/* Whether every '&'-separated part of want is a part of have. */
static int tags_hold(const char *want, const char *have)
{
	size_t hl = strlen(have);

	while (*want) {
		size_t n = strcspn(want, "&");
		const char *p = have;
		int found = 0;

		while (!found && p < have + hl) {
			size_t m = strcspn(p, "&");

			found = m == n && !memcmp(p, want, n);
			p += m + 1;
		}
		if (!found)
			return 0;
		want += n;
		want += *want == '&';
	}
	return 1;
}

/* The object's tag set, NUL-terminated (malloc'd, "" for none). */
static char *object_tags(struct ag_cluster *c, uint64_t ino)
{
	ssize_t n = ag_getxattr(c, ino, AG_XATTR_TAGS, NULL, 0);
	char *s;

	if (n < 0)
		return strdup("");
	s = malloc(n + 1);
	if (!s)
		return NULL;
	n = ag_getxattr(c, ino, AG_XATTR_TAGS, s, n);
	s[n < 0 ? 0 : n] = 0;
	return s;
}

static int expires(const struct run *run, const struct ag_lifecycle_rule *r,
		   const char *key, const struct ag_attr *a, const char *tags)
{
	if (!r->enabled || strncmp(key, r->prefix, strlen(r->prefix)) ||
	    !tags_hold(r->tags, tags))
		return 0;
	if (r->expire_days &&
	    a->mtime + (int64_t)r->expire_days * run->day <= run->now)
		return 1;
	return r->expire_date && r->expire_date * NS <= run->now;
}

static void object_visit(struct run *run, const char *key, uint64_t ino)
{
	struct ag_attr a;
	char *tags;
	int i, hit = 0;

	if (ag_getattr(run->c, ino, &a) || !S_ISREG(a.mode))
		return;
	run->report->objects++;
	tags = object_tags(run->c, ino);
	if (!tags)
		return;
	for (i = 0; !hit && i < run->n; i++)
		hit = expires(run, &run->rules[i], key, &a, tags);
	free(tags);
	if (!hit)
		return;
	/* the object looked at, not one written since */
	if (!ag_object_remove(run->c, run->bucket, key,
			      a.flags & AG_ATTR_ETAG ? AG_EXPECT_ETAG
						     : AG_EXPECT_FILE,
			      a.etag))
		run->report->expired++;
}

struct entry {
	char *name;
	uint64_t ino;
	unsigned type;
};

struct listing {
	struct entry *e;
	size_t n, cap;
	int error;
};

static int collect(void *arg, const char *name, size_t nlen, uint64_t ino,
		   unsigned type)
{
	struct listing *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct entry *e = realloc(l->e, cap * sizeof(*e));

		if (!e)
			return l->error = -ENOMEM;
		l->e = e;
		l->cap = cap;
	}
	l->e[l->n].name = strndup(name, nlen);
	if (!l->e[l->n].name)
		return l->error = -ENOMEM;
	l->e[l->n].ino = ino;
	l->e[l->n++].type = type;
	return 0;
}

/* Visit every file below dir, whose keys start with prefix ("" or
 * "a/b/"). A directory is listed whole before anything in it is
 * removed. */
static int walk(struct run *run, uint64_t dir, const char *prefix)
{
	struct listing l = { 0 };
	size_t i;
	int rc = ag_readdir(run->c, dir, NULL, collect, &l);

	if (!rc)
		rc = l.error;
	for (i = 0; !rc && i < l.n; i++) {
		char *key;

		if (asprintf(&key, "%s%s%s", prefix, l.e[i].name,
			     l.e[i].type == TYPE_DIR ? "/" : "") < 0) {
			rc = -ENOMEM;
			break;
		}
		if (l.e[i].type == TYPE_DIR)
			rc = walk(run, l.e[i].ino, key);
		else if (l.e[i].type == TYPE_REG)
			object_visit(run, key, l.e[i].ino);
		free(key);
	}
	for (i = 0; i < l.n; i++)
		free(l.e[i].name);
	free(l.e);
	return rc;
}

static int upload_visit(void *arg, const char *id, const char *key,
			const struct ag_attr *up)
{
	struct run *run = arg;
	int i;

	for (i = 0; i < run->n; i++) {
		const struct ag_lifecycle_rule *r = &run->rules[i];

		if (r->enabled && r->abort_days &&
		    !strncmp(key, r->prefix, strlen(r->prefix)) &&
		    up->btime + (int64_t)r->abort_days * run->day <=
			    run->now) {
			if (!ag_upload_drop(run->c, up, id))
				run->report->aborted++;
			break;
		}
	}
	return 0;
}

/* Whether a version of key, noncurrent since (ns), has outlived a rule. */
static int noncurrent_expires(const struct run *run, const char *key,
			      int64_t since, uint64_t ino)
{
	char *tags = ino ? object_tags(run->c, ino) : strdup("");
	int i, hit = 0;

	for (i = 0; tags && !hit && i < run->n; i++) {
		const struct ag_lifecycle_rule *r = &run->rules[i];

		hit = r->enabled && r->noncurrent_days &&
		      !strncmp(key, r->prefix, strlen(r->prefix)) &&
		      tags_hold(r->tags, tags) &&
		      since + (int64_t)r->noncurrent_days * run->day <=
			      run->now;
	}
	free(tags);
	return hit;
}

/* When a key's version was made: its element's mtime, a marker's own. */
static int64_t made(struct run *run, const struct ag_version *v)
{
	struct ag_attr a;

	if (!v->ino)
		return v->mtime;
	return ag_getattr(run->c, v->ino, &a) ? 0 : a.mtime;
}

/* Remove the noncurrent versions a rule says have been so long enough:
 * a version became noncurrent when the one after it (newer, or the
 * current element) was made. */
static int noncurrent_visit(struct run *run)
{
	enum { BATCH = 64 };
	struct ag_version_ent *e = malloc(BATCH * sizeof(*e));
	char key[AG_VERSION_KEY_LEN + 1] = "";
	char after[AG_VERSION_KEY_LEN + 1] = "";
	uint64_t after_seq = 0;
	int64_t since = 0; /* when the next newer version of key was made */
	int n, i, rc = 0;

	if (!e)
		return -ENOMEM;
	while ((n = ag_version_scan(run->c, run->bucket, after, after_seq, e,
				    BATCH)) > 0) {
		for (i = 0; i < n; i++) {
			struct ag_version_ent *x = &e[i];
			struct ag_version v;
			struct ag_attr cur;
			int64_t t = made(run, &x->v);

			if (strcmp(x->key, key)) { /* a new key */
				snprintf(key, sizeof(key), "%s", x->key);
				since = ag_object_find(run->c, run->bucket,
						       key, &cur)
						? 0
						: cur.mtime;
			}
			if (!x->v.latest && since &&
			    noncurrent_expires(run, key, since, x->v.ino) &&
			    !ag_version_remove(run->c, run->bucket, key,
					       x->v.id, 0, 0, &v))
				run->report->noncurrent++;
			since = t;
		}
		snprintf(after, sizeof(after), "%s", e[n - 1].key);
		after_seq = e[n - 1].v.seq;
	}
	if (n < 0)
		rc = n;
	free(e);
	return rc;
}

static int bucket_visit(struct run *run, const char *bname, uint64_t ino)
{
	int rc = ag_lifecycle_get(run->c, ino, &run->rules, &run->n), i;

	if (rc == -ENODATA)
		return 0;
	if (rc)
		return rc;
	run->bucket = ino;
	run->report->buckets++;
	run->noncurrent = 0;
	for (i = 0; i < run->n; i++)
		run->noncurrent |= run->rules[i].enabled &&
				   run->rules[i].noncurrent_days;
	rc = walk(run, ino, "");
	if (!rc && run->noncurrent)
		rc = noncurrent_visit(run);
	if (!rc)
		rc = ag_upload_list(run->c, bname, upload_visit, run);
	ag_lifecycle_free(run->rules, run->n);
	run->rules = NULL;
	run->n = 0;
	return rc;
}

int ag_lifecycle_run(struct ag_cluster *c, int64_t day_seconds,
		     struct ag_lifecycle_report *report)
{
	struct run run = { .c = c, .report = report };
	struct listing buckets = { 0 };
	struct timespec ts;
	size_t i;
	int rc;

	memset(report, 0, sizeof(*report));
	clock_gettime(CLOCK_REALTIME, &ts);
	run.now = (int64_t)ts.tv_sec * NS + ts.tv_nsec;
	run.day = (day_seconds > 0 ? day_seconds : 86400) * NS;
	rc = ag_readdir(c, AG_ROOT, NULL, collect, &buckets);
	if (!rc)
		rc = buckets.error;
	for (i = 0; !rc && i < buckets.n; i++)
		if (buckets.e[i].type == TYPE_DIR)
			rc = bucket_visit(&run, buckets.e[i].name,
					  buckets.e[i].ino);
	for (i = 0; i < buckets.n; i++)
		free(buckets.e[i].name);
	free(buckets.e);
	return rc;
}
