/*
 * list.c - ListObjects (v1), ListObjectsV2 and ListObjectVersions, straight
 * from the tree's ordered directory scans.
 *
 * S3 orders full keys bytewise, while a directory is read in order of
 * names: a directory "a" holds keys "a/...", which sort after a sibling
 * "a-b" ('-' < '/') although its name sorts before. So a directory met in
 * a scan waits in a small sorted pending list until the scan passes
 * "name/", and is walked then. With delimiter "/" a directory below the
 * prefix is a CommonPrefix and is not walked at all.
 *
 * ListObjectVersions walks the same way for the current versions and
 * merges in the noncurrent ones and the delete markers, which the core
 * scans in the same key order (ag_version_scan): before each key the
 * walk meets, the records of the keys before it; after it, its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "s3d.h"

#define BATCH 256
#define PENDING 64
#define DT_DIR_ 4 /* directory entry type: S_IFDIR >> 12 */

enum kind { V1, V2, VERSIONS };

struct lister {
	struct s3_req *r;
	enum kind kind;
	const char *prefix, *delim;
	char start_after[S3_KEY_MAX + 2];
	int max_keys, count, truncated, url, owner;
	int named;                        /* owner_uid's name is known */
	uint32_t owner_uid;
	char owner_name[80];
	char last[S3_KEY_MAX + 2];        /* last key or prefix emitted */
	char last_cp[S3_KEY_MAX + 2];
	struct s3_xml contents, prefixes;
	/* VERSIONS: the records scanned and not yet merged, vbuf[vi..vn),
	 * the scan's position after them, the id emitted last */
	uint64_t bucket;
	struct ag_attr battr;
	struct ag_version_ent *vbuf;
	int vi, vn, vdone;
	char vafter[AG_VERSION_KEY_LEN + 1];
	uint64_t vafter_seq;
	char last_vid[AG_VERSION_ID_MAX];
};

#define VBATCH 64

struct entry {
	char name[256];
	uint64_t ino;
	int dir;
};

struct batch {
	struct entry *e;
	int n;
};

static int collect(void *arg, const char *name, size_t nlen, uint64_t ino,
		   unsigned type)
{
	struct batch *b = arg;
	struct entry *e = &b->e[b->n++];

	memcpy(e->name, name, nlen);
	e->name[nlen] = 0;
	e->ino = ino;
	e->dir = type == DT_DIR_;
	return b->n == BATCH;
}

static void key_text(struct lister *l, struct s3_xml *x, const char *tag,
		     const char *key)
{
	if (l->url) {
		size_t n = strlen(key);
		char *enc = malloc(3 * n + 1);

		if (!enc) {
			x->error = 1;
			return;
		}
		s3_uri_encode(key, n, 1, enc);
		s3_xml_text(x, tag, enc);
		free(enc);
	} else {
		s3_xml_text(x, tag, key);
	}
}

/* Room for one more? Otherwise the listing is truncated: stop. */
static int full(struct lister *l)
{
	if (l->count < l->max_keys)
		return 0;
	l->truncated = 1;
	return 1;
}

static int emit_prefix(struct lister *l, const char *cp)
{
	if (!strcmp(cp, l->last_cp) || strcmp(cp, l->start_after) <= 0)
		return 0;
	if (full(l))
		return 1;
	snprintf(l->last_cp, sizeof(l->last_cp), "%s", cp);
	snprintf(l->last, sizeof(l->last), "%s", cp);
	l->count++;
	s3_xml_raw(&l->prefixes, "<CommonPrefixes>");
	key_text(l, &l->prefixes, "Prefix", cp);
	s3_xml_raw(&l->prefixes, "</CommonPrefixes>");
	return 0;
}

static void owner_xml(struct lister *l, struct s3_xml *x, uint32_t uid)
{
	/* one name lookup per owner met in a row, not per key */
	if (!l->named || l->owner_uid != uid)
		s3_owner_name(l->r, uid, l->owner_name, sizeof(l->owner_name));
	l->named = 1;
	l->owner_uid = uid;
	s3_xml_raw(x, "<Owner>");
	s3_xml_text(x, "ID", l->owner_name);
	s3_xml_text(x, "DisplayName", l->owner_name);
	s3_xml_raw(x, "</Owner>");
}

/* The next record not merged yet, or NULL after the last (or on an
 * error, which ends the records: the listing shows what it read). */
static struct ag_version_ent *next_record(struct lister *l)
{
	int n;

	if (l->vi < l->vn)
		return &l->vbuf[l->vi];
	if (l->vdone || !l->vbuf)
		return NULL;
	n = ag_version_scan(l->r->c, l->bucket, l->vafter, l->vafter_seq,
			    l->vbuf, VBATCH);
	l->vi = 0;
	l->vn = n > 0 ? n : 0;
	l->vdone = n < VBATCH;
	if (n <= 0)
		return NULL;
	snprintf(l->vafter, sizeof(l->vafter), "%s", l->vbuf[n - 1].key);
	l->vafter_seq = l->vbuf[n - 1].v.seq;
	return l->vbuf;
}

/* Emit record e: 0, or 1 when the listing is full. latest: the key has
 * no current element and e is its newest version. */
static int emit_record(struct lister *l, const struct ag_version_ent *e,
		       int latest)
{
	size_t pl = strlen(l->prefix);
	int marker = e->v.flags & AG_VER_MARKER;
	const char *tag = marker ? "DeleteMarker" : "Version";
	struct s3_xml *x = &l->contents;
	char etag[48], date[40];
	struct ag_attr a = { .mtime = e->v.mtime };

	if (strncmp(e->key, l->prefix, pl) || strcmp(e->key, l->start_after) < 0)
		return 0;
	if (*l->delim) {
		const char *d = strstr(e->key + pl, l->delim);

		if (d) {
			char cp[S3_KEY_MAX + 2];
			size_t n = d - e->key + strlen(l->delim);

			memcpy(cp, e->key, n);
			cp[n] = 0;
			return emit_prefix(l, cp);
		}
	}
	/* what hides a key's current version hides its old ones */
	if (ag_may_path(l->r->c, &l->battr, e->key, l->r->user.uid,
			l->r->user.gid, 0))
		return 0;
	if (!marker && (ag_getattr(l->r->c, e->v.ino, &a) ||
			s3_etag(l->r, &a, etag)))
		return 0; /* removed since the scan saw it */
	if (full(l))
		return 1;
	l->count++;
	snprintf(l->last, sizeof(l->last), "%s", e->key);
	snprintf(l->last_vid, sizeof(l->last_vid), "%s", e->v.id);
	s3_iso_date(a.mtime, date, sizeof(date));
	s3_xml_raw(x, "<%s>", tag);
	key_text(l, x, "Key", e->key);
	s3_xml_text(x, "VersionId", e->v.id);
	s3_xml_text(x, "IsLatest", latest ? "true" : "false");
	s3_xml_text(x, "LastModified", date);
	if (!marker) {
		s3_xml_text(x, "ETag", etag);
		s3_xml_raw(x, "<Size>%" PRIu64 "</Size>", a.size);
	}
	owner_xml(l, x, marker ? l->r->user.uid : a.uid);
	if (!marker)
		s3_xml_raw(x, "<StorageClass>STANDARD</StorageClass>");
	s3_xml_raw(x, "</%s>", tag);
	return 0;
}

static int emit_current(struct lister *l, const char *key, uint64_t ino);

/* Merge the records of the keys before key (NULL: all that are left),
 * which have no current element; with own, then key's own records. */
static int merge_records(struct lister *l, const char *key, int own)
{
	struct ag_version_ent *e;
	char prev[AG_VERSION_KEY_LEN + 1] = "";
	int rc = 0;

	if (l->kind != VERSIONS)
		return 0;
	while (!rc && (e = next_record(l))) {
		int c = key ? strcmp(e->key, key) : -1;
		int first = strcmp(e->key, prev) != 0;

		if (c > 0 || (c == 0 && !own))
			break;
		if (!key && strncmp(e->key, l->prefix, strlen(l->prefix)) > 0)
			break; /* past every key the prefix takes */
		snprintf(prev, sizeof(prev), "%s", e->key);
		rc = emit_record(l, e, c < 0 && first &&
					   strcmp(e->key, l->start_after));
		if (!rc)
			l->vi++;
	}
	return rc;
}

/* One key (a file, or "dir/" of an explicit directory). */
static int emit_key(struct lister *l, const char *key, uint64_t ino)
{
	int rc = merge_records(l, key, 0);

	if (!rc)
		rc = emit_current(l, key, ino);
	return rc ? rc : merge_records(l, key, 1);
}

/* The current version of key. */
static int emit_current(struct lister *l, const char *key, uint64_t ino)
{
	size_t pl = strlen(l->prefix);
	struct ag_attr a;
	char etag[48], date[40];
	const char *tag = l->kind == VERSIONS ? "Version" : "Contents";
	struct s3_xml *x = &l->contents;

	if (strncmp(key, l->prefix, pl) || strcmp(key, l->start_after) <= 0)
		return 0;
	if (*l->delim) {
		const char *d = strstr(key + pl, l->delim);

		if (d) {
			char cp[S3_KEY_MAX + 2];
			size_t n = d - key + strlen(l->delim);

			memcpy(cp, key, n);
			cp[n] = 0;
			return emit_prefix(l, cp);
		}
	}
	if (ag_getattr(l->r->c, ino, &a))
		return 0; /* removed since the scan saw it */
	if (S_ISDIR(a.mode))
		a.size = 0;
	else if (!S_ISREG(a.mode))
		return 0;
	if (s3_etag(l->r, &a, etag))
		return 0;
	if (full(l))
		return 1;
	l->count++;
	snprintf(l->last, sizeof(l->last), "%s", key);
	s3_iso_date(a.mtime, date, sizeof(date));
	s3_xml_raw(x, "<%s>", tag);
	key_text(l, x, "Key", key);
	if (l->kind == VERSIONS) {
		struct ag_version v;

		if (ag_version_current(l->r->c, &a, &v))
			snprintf(v.id, sizeof(v.id), "null");
		snprintf(l->last_vid, sizeof(l->last_vid), "%s", v.id);
		s3_xml_text(x, "VersionId", v.id);
		s3_xml_raw(x, "<IsLatest>true</IsLatest>");
	}
	s3_xml_text(x, "LastModified", date);
	s3_xml_text(x, "ETag", etag);
	s3_xml_raw(x, "<Size>%" PRIu64 "</Size>", a.size);
	if (l->owner)
		owner_xml(l, x, a.uid);
	s3_xml_raw(x, "<StorageClass>STANDARD</StorageClass></%s>", tag);
	return 0;
}

static int walk(struct lister *l, uint64_t dir, const char *path);

/* A directory, in its place in key order. */
static int visit_dir(struct lister *l, const char *path, const struct entry *e)
{
	char key[S3_KEY_MAX + 2];
	size_t pl = strlen(l->prefix);
	struct ag_attr a;
	int n = snprintf(key, sizeof(key), "%s%s/", path, e->name);

	if (n >= (int)sizeof(key))
		return 0;
	/* nothing below can match the prefix or come after start_after */
	if (strncmp(key, l->prefix, (size_t)n < pl ? (size_t)n : pl))
		return 0;
	if (strncmp(key, l->start_after, n) && strcmp(key, l->start_after) < 0)
		return 0;
	if (!strcmp(l->delim, "/") && (size_t)n > pl)
		return emit_prefix(l, key);
	if (ag_getattr(l->r->c, e->ino, &a))
		return 0; /* removed since the scan saw it */
	if (!(a.flags & AG_ATTR_IMPLICIT)) {
		int rc = emit_key(l, key, e->ino);

		if (rc)
			return rc;
	}
	/* what the user may not read and search is listed as the
	 * directory it is, never what it holds (access.c) */
	if (!s3_may(l->r, &a, AG_MAY_READ | AG_MAY_EXEC))
		return 0;
	return walk(l, e->ino, key);
}

/* Where the scan of a directory may start: names before the bound can
 * hold no key we want (see the file comment for the '/' subtlety). */
static void scan_start(const char *path, const char *want, char *after,
		       size_t size)
{
	size_t pl = strlen(path), n;

	if (strncmp(want, path, pl) || !want[pl])
		return;
	want += pl;
	for (n = 0; want[n] && (unsigned char)want[n] >= '/'; n++)
		if (want[n] == '/')
			break;
	/* a name equal to want[0..n) or longer is still needed: start
	 * after the name one byte shorter */
	if (n > 1 && n - 1 < size && (n - 1 > strlen(after) ||
				      strncmp(want, after, n - 1) > 0)) {
		memcpy(after, want, n - 1);
		after[n - 1] = 0;
	}
}

static int walk(struct lister *l, uint64_t dir, const char *path)
{
	/* civetweb's worker stacks are small: the batch and the pending
	 * directories of each level live on the heap */
	struct entry *ents = malloc((BATCH + PENDING) * sizeof(*ents));
	struct entry *pending = ents + BATCH;
	int np = 0, i, rc = 0, more = 1;
	char after[256] = "", key[S3_KEY_MAX + 2];

	if (!ents)
		return -ENOMEM;
	scan_start(path, l->prefix, after, sizeof(after));
	scan_start(path, l->start_after, after, sizeof(after));
	while (!rc && more) {
		struct batch b = { ents, 0 };

		rc = ag_readdir(l->r->c, dir, *after ? after : NULL, collect, &b);
		if (rc < 0)
			break;
		more = b.n == BATCH;
		rc = 0;
		for (i = 0; !rc && i < b.n; i++) {
			struct entry *e = &ents[i];
			char dn[258];
			int j;

			/* walk the pending directories that sort before */
			while (!rc && np) {
				snprintf(dn, sizeof(dn), "%s/", pending[0].name);
				if (strcmp(dn, e->name) > 0)
					break;
				rc = visit_dir(l, path, &pending[0]);
				memmove(pending, pending + 1,
					--np * sizeof(*pending));
			}
			if (rc)
				break;
			if (e->dir) {
				char en[258];

				if (np == PENDING) {
					rc = visit_dir(l, path, &pending[0]);
					memmove(pending, pending + 1,
						--np * sizeof(*pending));
				}
				snprintf(en, sizeof(en), "%s/", e->name);
				for (j = np; j > 0; j--) {
					snprintf(dn, sizeof(dn), "%s/",
						 pending[j - 1].name);
					if (strcmp(dn, en) < 0)
						break;
					pending[j] = pending[j - 1];
				}
				pending[j] = *e;
				np++;
				continue;
			}
			if (snprintf(key, sizeof(key), "%s%s", path, e->name) <
			    (int)sizeof(key))
				rc = emit_key(l, key, e->ino);
		}
		if (b.n)
			snprintf(after, sizeof(after), "%s", ents[b.n - 1].name);
	}
	for (i = 0; !rc && i < np; i++)
		rc = visit_dir(l, path, &pending[i]);
	free(ents);
	return rc;
}

/* Start at the deepest existing directory the prefix names. */
static int list_all(struct lister *l, uint64_t bucket)
{
	char path[S3_KEY_MAX + 2] = "";
	const char *p = l->prefix, *slash;
	uint64_t dir = bucket;

	while ((slash = strchr(p, '/'))) {
		struct ag_attr a;
		char seg[256];
		size_t n = slash - p;
		int rc;

		if (n == 0 || n > 255)
			return 0;
		memcpy(seg, p, n);
		seg[n] = 0;
		rc = ag_lookup(l->r->c, dir, seg, &a);
		if (rc == -ENOENT || (!rc && !S_ISDIR(a.mode)))
			return 0;
		if (rc)
			return rc;
		if (!s3_may(l->r, &a, AG_MAY_READ | AG_MAY_EXEC))
			return 0;
		dir = a.ino;
		memcpy(path + (p - l->prefix), p, n + 1);
		path[slash - l->prefix + 1] = 0;
		p = slash + 1;
	}
	return walk(l, dir, path);
}

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ?
	       ch - 'a' + 10 : -1;
}

/* Continuation tokens are the hex of the last key. */
static int token_decode(const char *t, char *out, size_t size)
{
	size_t n = strlen(t), i;

	if (n % 2 || n / 2 >= size)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int h = hexval(t[2 * i]), lo = hexval(t[2 * i + 1]);

		if (h < 0 || lo < 0)
			return -1;
		out[i] = (char)(h << 4 | lo);
	}
	out[n / 2] = 0;
	return 0;
}

/* Where the merged records start: after the version version-id-marker
 * names of key-marker (without it, after all of key-marker), or at the
 * first key the prefix takes. */
static enum s3_err versions_start(struct lister *l, const struct ag_attr *b)
{
	const char *vm = s3_param(l->r, "version-id-marker");
	struct ag_version v;
	struct ag_attr a;

	l->bucket = b->ino;
	l->battr = *b;
	l->vbuf = malloc(VBATCH * sizeof(*l->vbuf));
	if (!l->vbuf)
		return S3_INTERNAL;
	if (vm && *vm && !*l->start_after)
		return S3_INVALID_ARGUMENT; /* a version of no key */
	if (!*l->start_after) {
		snprintf(l->vafter, sizeof(l->vafter), "%.*s",
			 AG_VERSION_KEY_LEN, l->prefix);
		l->vafter_seq = UINT64_MAX; /* all of a key named prefix */
		return S3_OK;
	}
	/* a longer marker is no key of a versioned bucket: from its
	 * first bytes on, and emit_record passes the keys before it */
	snprintf(l->vafter, sizeof(l->vafter), "%.*s", AG_VERSION_KEY_LEN,
		 l->start_after);
	l->vafter_seq = 0;
	if (!vm || !*vm)
		return S3_OK;
	if (ag_version_find(l->r->c, b->ino, l->start_after, vm, &v, &a))
		return S3_INVALID_ARGUMENT;
	/* after the current element: all of the key's records; after a
	 * record: those older than it */
	l->vafter_seq = v.latest && v.ino ? UINT64_MAX : v.seq;
	return S3_OK;
}

int s3_list_objects(struct s3_req *r)
{
	struct lister l = { .r = r, .max_keys = 1000 };
	struct ag_attr bucket;
	enum s3_err e = s3_bucket_get(r, &bucket);
	const char *lt = s3_param(r, "list-type"), *v, *tok, *root;
	struct s3_xml x;
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	l.kind = s3_param(r, "versions") ? VERSIONS : lt && !strcmp(lt, "2")
		 ? V2 : V1;
	l.prefix = (v = s3_param(r, "prefix")) ? v : "";
	l.delim = (v = s3_param(r, "delimiter")) ? v : "";
	v = s3_param(r, "encoding-type");
	if (v && strcmp(v, "url"))
		return s3_error(r, S3_INVALID_ARGUMENT, "Invalid Encoding Method");
	l.url = v != NULL;
	v = s3_param(r, "max-keys");
	if (v) {
		char *end;
		long m = strtol(v, &end, 10);

		if (*end || end == v || m < 0)
			return s3_error(r, S3_INVALID_ARGUMENT, NULL);
		l.max_keys = m > 1000 ? 1000 : (int)m;
	}
	if (strlen(l.prefix) > S3_KEY_MAX)
		return s3_error(r, S3_KEY_TOO_LONG, NULL);
	v = l.kind == V2 ? s3_param(r, "start-after")
			 : s3_param(r, l.kind == V1 ? "marker" : "key-marker");
	if (v)
		snprintf(l.start_after, sizeof(l.start_after), "%s", v);
	tok = l.kind == V2 ? s3_param(r, "continuation-token") : NULL;
	if (tok && token_decode(tok, l.start_after, sizeof(l.start_after)))
		return s3_error(r, S3_INVALID_ARGUMENT,
				"The continuation token provided is incorrect");
	l.owner = l.kind != V2 || s3_param(r, "fetch-owner");
	memset(&l.contents, 0, sizeof(l.contents));
	memset(&l.prefixes, 0, sizeof(l.prefixes));
	s3_xml_raw(&l.contents, "%s", "");
	s3_xml_raw(&l.prefixes, "%s", "");
	if (l.kind == VERSIONS) {
		e = versions_start(&l, &bucket);
		if (e)
			return s3_error(r, e, NULL);
	}
	rc = l.max_keys ? list_all(&l, bucket.ino) : 0;
	/* the records after the last key the walk met */
	if (!rc && l.max_keys && !l.truncated)
		rc = merge_records(&l, NULL, 0);
	free(l.vbuf);
	if (rc < 0) {
		s3_xml_free(&l.contents);
		s3_xml_free(&l.prefixes);
		return s3_error(r, s3_errno(rc, 0), NULL);
	}
	root = l.kind == V2 ? "ListBucketResult" : l.kind == V1 ?
	       "ListBucketResult" : "ListVersionsResult";
	s3_xml_init(&x);
	s3_xml_raw(&x, "<%s xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
		   root);
	s3_xml_text(&x, "Name", r->bucket);
	key_text(&l, &x, "Prefix", l.prefix);
	if (*l.delim)
		key_text(&l, &x, "Delimiter", l.delim);
	s3_xml_raw(&x, "<MaxKeys>%d</MaxKeys>", l.max_keys);
	if (l.url)
		s3_xml_text(&x, "EncodingType", "url");
	s3_xml_text(&x, "IsTruncated", l.truncated ? "true" : "false");
	if (l.kind == V1) {
		key_text(&l, &x, "Marker", (v = s3_param(r, "marker")) ? v : "");
		if (l.truncated)
			key_text(&l, &x, "NextMarker", l.last);
	} else if (l.kind == V2) {
		s3_xml_raw(&x, "<KeyCount>%d</KeyCount>", l.count);
		if (tok)
			s3_xml_text(&x, "ContinuationToken", tok);
		if ((v = s3_param(r, "start-after")))
			key_text(&l, &x, "StartAfter", v);
		if (l.truncated) {
			size_t n = strlen(l.last);
			char *hex = malloc(2 * n + 1);

			if (hex) {
				s3_hex((const uint8_t *)l.last, n, hex);
				s3_xml_text(&x, "NextContinuationToken", hex);
				free(hex);
			}
		}
	} else {
		key_text(&l, &x, "KeyMarker", l.start_after);
		s3_xml_text(&x, "VersionIdMarker",
			    (v = s3_param(r, "version-id-marker")) ? v : "");
		if (l.truncated) {
			key_text(&l, &x, "NextKeyMarker", l.last);
			s3_xml_text(&x, "NextVersionIdMarker", l.last_vid);
		}
	}
	s3_xml_raw(&x, "%s%s</%s>", l.contents.buf ? l.contents.buf : "",
		   l.prefixes.buf ? l.prefixes.buf : "", root);
	if (l.contents.error || l.prefixes.error)
		x.error = 1;
	s3_xml_free(&l.contents);
	s3_xml_free(&l.prefixes);
	return s3_xml_reply(r, 200, &x);
}
