/*
 * versions.c - S3 versioning in the core: a bucket's versioning state,
 * version ids, finding, listing and removing the versions of a key.
 * What metad does with them is verapply.c's (the VERSION op, txn.h); the
 * records are keys.h's.
 *
 * Contract: the current version of a key is the element its path names,
 * as for an unversioned bucket, so every reader of the namespace (the
 * mount, listings, GET without versionId) sees what it always saw. The
 * noncurrent versions and delete markers are VERSION records of the
 * bucket directory; each noncurrent version is an element named only by
 * its record, which shares its chunks with the versions around it. A
 * key's current element is always newer than its records: it is made by
 * the commit that files the one before it away.
 *
 * The state is the private xattr AG_XATTR_VERSIONING of the bucket
 * directory, set in one transaction and seen by every gateway at the
 * next commit, as ACLs and policies are.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster.h"
#include "elem.h"
#include "file_int.h"
#include "keys.h"
#include "objects_int.h"
#include "txn.h"
#include "util.h"

_Static_assert(AG_VERSION_KEY_LEN == AG_VERSION_KEY_MAX, "one key limit");
_Static_assert(AG_VER_MARKER == AG_VERSION_MARKER &&
	       AG_VER_NULL == AG_VERSION_NULL, "one set of flags");

static const char *const state_names[] = {
	[AG_VERSIONING_ENABLED] = "Enabled",
	[AG_VERSIONING_SUSPENDED] = "Suspended",
};

int ag_versioning_get(struct ag_cluster *c, uint64_t bucket, int *state)
{
	char val[16];
	ssize_t n = ag_elem_getxattr_any(c, bucket, AG_XATTR_VERSIONING, val,
					sizeof(val) - 1);
	int i;

	*state = AG_VERSIONING_OFF;
	if (n == -ENODATA)
		return 0;
	if (n < 0)
		return (int)n;
	val[n] = 0;
	for (i = AG_VERSIONING_ENABLED; i <= AG_VERSIONING_SUSPENDED; i++)
		if (!strcmp(val, state_names[i]))
			*state = i;
	return 0;
}

int ag_versioning_set(struct ag_cluster *c, uint64_t bucket, int state)
{
	if (state != AG_VERSIONING_ENABLED && state != AG_VERSIONING_SUSPENDED)
		return -EINVAL;
	return ag_setxattr(c, bucket, AG_XATTR_VERSIONING, state_names[state],
			   strlen(state_names[state]), 0);
}

static void version_id(struct ag_version *v)
{
	if (v->flags & AG_VER_NULL)
		snprintf(v->id, sizeof(v->id), "null");
	else
		snprintf(v->id, sizeof(v->id), "%016" PRIx64, v->seq);
}

int ag_version_id_parse(const char *id, uint64_t *seq, int *null)
{
	char *end;

	*null = !strcmp(id, "null");
	*seq = 0;
	if (*null)
		return 0;
	if (strlen(id) != AG_VERSION_ID_MAX - 1 ||
	    strspn(id, "0123456789abcdef") != AG_VERSION_ID_MAX - 1)
		return -EINVAL;
	*seq = strtoull(id, &end, 16);
	return *seq ? 0 : -EINVAL;
}

int ag_version_current(struct ag_cluster *c, const struct ag_attr *a,
		       struct ag_version *v)
{
	uint8_t st[AG_VERSION_STAMP_LEN + 1], flags;
	ssize_t n = ag_elem_getxattr_any(c, a->ino, AG_XATTR_VERSION, st,
					 sizeof(st));
	int rc = 0;

	memset(v, 0, sizeof(*v));
	v->ino = a->ino;
	v->mtime = a->mtime;
	v->latest = 1;
	if (n == -ENODATA) {
		v->flags = AG_VER_NULL; /* written before versioning */
	} else if (n < 0) {
		return (int)n;
	} else {
		rc = ag_version_stamp_decode(st, (size_t)n, &v->seq, &flags);
		v->flags = flags;
	}
	version_id(v);
	return rc;
}

/* ---- reading the records ---- */

struct scan {
	uint64_t bucket;
	const char *after_key;  /* NULL: from the start */
	uint64_t after_seq;
	const char *only_key;   /* NULL: every key */
	struct ag_version_ent *out;
	int max, n;
};

static int tree_scan(struct ag_tree *t, struct scan *s)
{
	uint8_t k[AG_KEYBUF];
	size_t bl = ag_key_version_prefix(k, s->bucket, "", 0), kl = bl;
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc;

	s->n = 0;
	if (s->after_key && *s->after_key) {
		int n = ag_key_version(k, s->bucket, s->after_key,
				       strlen(s->after_key), s->after_seq);

		if (n < 0)
			return n;
		kl = (size_t)n;
	}
	rc = ag_tree_seek(t, k, kl, &cur);
	if (rc)
		return rc;
	while (s->n < s->max &&
	       (rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		struct ag_version_ent *e = &s->out[s->n];
		struct ag_version_rec r;
		uint64_t bucket, seq;
		const char *key;
		size_t klen;

		if (ckl < bl || memcmp(ck, k, bl)) {
			rc = 0; /* past the bucket's records */
			break;
		}
		if (kl > bl && ckl == kl && !memcmp(ck, k, kl))
			continue; /* the position itself */
		rc = ag_key_version_decode(ck, ckl, &bucket, &key, &klen, &seq);
		if (!rc)
			rc = ag_version_rec_decode(cv, cvl, &r);
		if (rc) {
			rc = AG_CORRUPT("version record");
			break;
		}
		if (s->only_key && (strlen(s->only_key) != klen ||
				    memcmp(s->only_key, key, klen))) {
			rc = 0;
			break;
		}
		memcpy(e->key, key, klen);
		e->key[klen] = 0;
		memset(&e->v, 0, sizeof(e->v));
		e->v.seq = seq;
		e->v.ino = r.ino;
		e->v.mtime = r.mtime;
		e->v.flags = r.flags;
		version_id(&e->v);
		s->n++;
	}
	ag_cursor_free(cur);
	return rc < 0 ? rc : s->n;
}

static int scan(struct ag_cluster *c, struct scan *s)
{
	struct ag_tree *t;

	return (int)AG_CL_READ(c, t, tree_scan(t, s));
}

int ag_version_scan(struct ag_cluster *c, uint64_t bucket,
		    const char *after_key, uint64_t after_seq,
		    struct ag_version_ent *out, int max)
{
	struct scan s = { .bucket = bucket, .after_key = after_key,
			  .after_seq = after_seq, .out = out, .max = max };

	return scan(c, &s);
}

/* The noncurrent versions of key, newest first: up to max, their count. */
static int key_versions(struct ag_cluster *c, uint64_t bucket,
			const char *key, struct ag_version_ent *out, int max)
{
	/* the position before all of key's versions: "key" at the
	 * highest seq there is (stored inverted: ~0 is the smallest) */
	struct scan s = { .bucket = bucket, .after_key = key,
			  .after_seq = UINT64_MAX, .only_key = key,
			  .out = out, .max = max };

	if (!*key || strlen(key) > AG_VERSION_KEY_LEN)
		return -ENOENT;
	return scan(c, &s);
}

int ag_version_newest(struct ag_cluster *c, uint64_t bucket, const char *key,
		      struct ag_version *v)
{
	struct ag_version_ent *e = malloc(sizeof(*e));
	int rc;

	if (!e)
		return -ENOMEM;
	rc = key_versions(c, bucket, key, e, 1);
	if (rc > 0)
		*v = e->v;
	free(e);
	return rc < 0 ? rc : rc ? 0 : -ENOENT;
}

/* Versions of one key looked through at most to find an id: the null
 * version can be anywhere among them. */
#define FIND_MAX 1024

int ag_version_find(struct ag_cluster *c, uint64_t bucket, const char *key,
		    const char *id, struct ag_version *v, struct ag_attr *a)
{
	struct ag_version_ent *e;
	uint64_t seq;
	int null, rc = ag_version_id_parse(id, &seq, &null), n, i, current;

	if (rc)
		return rc;
	rc = ag_object_find(c, bucket, key, a);
	current = !rc && S_ISREG(a->mode);
	if (current) {
		rc = ag_version_current(c, a, v);
		if (rc)
			return rc;
		if (null ? (v->flags & AG_VER_NULL) != 0
			 : !(v->flags & AG_VER_NULL) && v->seq == seq)
			return 0;
	} else if (rc && rc != -ENOENT && rc != -ENOTDIR && rc != -EISDIR) {
		return rc;
	}
	e = malloc(FIND_MAX * sizeof(*e));
	if (!e)
		return -ENOMEM;
	rc = n = key_versions(c, bucket, key, e, FIND_MAX);
	for (i = 0; i < n; i++)
		if (null ? (e[i].v.flags & AG_VER_NULL) != 0
			 : !(e[i].v.flags & AG_VER_NULL) && e[i].v.seq == seq)
			break;
	if (n >= 0 && i == n)
		rc = -ENOENT;
	if (n > 0 && i < n) {
		*v = e[i].v;
		v->latest = !current && i == 0;
		rc = v->ino ? ag_getattr(c, v->ino, a) : 0;
	}
	free(e);
	return rc < 0 ? rc : 0;
}

/* ---- removing a version ---- */

int ag_version_remove(struct ag_cluster *c, uint64_t bucket, const char *key,
		      const char *id, uint32_t uid, uint32_t gid,
		      struct ag_version *v)
{
	struct ag_op_version o = { .bucket = bucket, .key = key,
				   .klen = (uint32_t)strlen(key) };
	struct ag_attr a;
	struct ag_txn t;
	int rc = ag_version_find(c, bucket, key, id, v, &a);

	if (rc)
		return rc;
	if (v->latest && v->ino) {
		/* the current element: removed as an unversioned DELETE
		 * does, and the newest one left takes its place */
		return ag_object_remove_current(c, bucket, key, uid, gid);
	}
	ag_cl_txn(c, &t);
	o.action = AG_VERSION_DROP;
	o.seq = v->seq;
	ag_txn_version(&t, &o);
	rc = t.error;
	if (!rc)
		rc = ag_object_restore_ops(&t, bucket, key, uid, gid);
	if (!rc)
		rc = ag_cl_commit(c, &t, NULL);
	ag_txn_release(&t);
	return rc;
}

/* ---- the mount's writes, unlinks and renames ---- */

/* The bucket directory that dir is or is below (its ancestors' parents
 * lead there): 0 and *bucket, or -ENOENT for the root itself. */
static int bucket_of(struct ag_cluster *c, uint64_t dir, uint64_t *bucket)
{
	struct ag_attr a;
	int depth, rc;

	for (depth = 0; depth < 4096; depth++) {
		if (dir == AG_ROOT)
			return -ENOENT;
		rc = ag_getattr(c, dir, &a);
		if (rc)
			return rc;
		if (a.parent == AG_ROOT) {
			*bucket = dir;
			return 0;
		}
		dir = a.parent;
	}
	return -ELOOP;
}

struct name_find {
	uint64_t ino;
	char *out;
};

static int match_ino(void *arg, const char *name, size_t nlen, uint64_t ino,
		     unsigned type)
{
	struct name_find *nf = arg;

	(void)type;
	if (ino != nf->ino)
		return 0;
	memcpy(nf->out, name, nlen);
	nf->out[nlen] = 0;
	return 1;
}

/* The name of ino in dir, into out (AG_NAME_MAX + 1): a scan of dir,
 * which only a versioned bucket's mount writes pay. */
static int name_in(struct ag_cluster *c, uint64_t dir, uint64_t ino,
		   char *out)
{
	struct name_find nf = { .ino = ino, .out = out };
	int rc = ag_readdir(c, dir, NULL, match_ino, &nf);

	return rc == 1 ? 0 : rc < 0 ? rc : -ENOENT;
}

/* The key (parent, name) is in a versioned bucket, and that bucket's
 * state: 0 with *state OFF when it is in none or an unversioned one. */
static int versioned_key(struct ag_cluster *c, uint64_t parent,
			 const char *name, uint64_t *bucket, char *key,
			 int *state)
{
	char part[AG_NAME_MAX + 1];
	size_t len = strlen(name), pl;
	uint64_t dir = parent;
	int rc = bucket_of(c, parent, bucket);

	*state = AG_VERSIONING_OFF;
	if (rc == -ENOENT)
		return 0; /* a bucket itself, not a key */
	if (!rc)
		rc = ag_versioning_get(c, *bucket, state);
	if (rc || *state == AG_VERSIONING_OFF)
		return rc;
	if (len > AG_VERSION_KEY_LEN)
		return -ENAMETOOLONG;
	memmove(key, name, len + 1);
	while (dir != *bucket) {
		struct ag_attr a;

		rc = ag_getattr(c, dir, &a);
		if (!rc)
			rc = name_in(c, a.parent, dir, part);
		if (rc)
			return rc;
		pl = strlen(part);
		if (pl + 1 + len > AG_VERSION_KEY_LEN)
			return -ENAMETOOLONG;
		memmove(key + pl + 1, key, len + 1);
		memcpy(key, part, pl);
		key[pl] = '/';
		len += pl + 1;
		dir = a.parent;
	}
	return 0;
}

int ag_version_unlink(struct ag_cluster *c, uint64_t parent, const char *name)
{
	char *key = malloc(AG_VERSION_KEY_LEN + 1);
	struct ag_attr a;
	uint64_t bucket;
	int state, rc;

	if (!key)
		return -ENOMEM;
	rc = versioned_key(c, parent, name, &bucket, key, &state);
	if (!rc && state != AG_VERSIONING_OFF &&
	    !ag_lookup(c, parent, name, &a) && S_ISREG(a.mode))
		rc = ag_object_remove_marked(c, bucket, key, state);
	else if (!rc)
		rc = ag_unlink(c, parent, name);
	free(key);
	return rc;
}

int ag_version_rename(struct ag_cluster *c, uint64_t sparent,
		      const char *sname, uint64_t dparent, const char *dname,
		      unsigned flags)
{
	char *key = malloc(AG_VERSION_KEY_LEN + 1);
	struct ag_op_version o = { .action = AG_VERSION_KEEP };
	struct ag_txn before, after;
	struct ag_attr src;
	int state, rc;

	if (!key)
		return -ENOMEM;
	ag_txn_init(&before, 0, 0);
	ag_txn_init(&after, 0, 0);
	rc = versioned_key(c, dparent, dname, &o.bucket, key, &state);
	if (!rc && state != AG_VERSIONING_OFF &&
	    !(flags & AG_RENAME_EXCHANGE) &&
	    !ag_lookup(c, sparent, sname, &src) && S_ISREG(src.mode)) {
		/* what the target named is kept; what comes in is the
		 * key's newest version */
		o.key = key;
		o.klen = (uint32_t)strlen(key);
		o.flags = state == AG_VERSIONING_SUSPENDED
				  ? AG_VERSION_SUSPENDED : 0;
		ag_txn_version(&before, &o);
		o.action = AG_VERSION_STAMP;
		o.ino = src.ino;
		o.flags = state == AG_VERSIONING_SUSPENDED ? AG_VERSION_NULL
							   : 0;
		ag_txn_version(&after, &o);
	}
	if (!rc)
		rc = ag_rename_with(c, sparent, sname, dparent, dname, flags,
				    &before, &after);
	ag_txn_release(&before);
	ag_txn_release(&after);
	free(key);
	return rc;
}

int ag_version_before_write(struct ag_cluster *c, uint64_t ino)
{
	char *key = malloc(AG_VERSION_KEY_LEN + 1);
	char name[AG_NAME_MAX + 1];
	struct ag_op_version o = { .action = AG_VERSION_SNAPSHOT };
	struct ag_attr a;
	struct ag_txn t;
	int state, rc;

	if (!key)
		return -ENOMEM;
	rc = ag_getattr(c, ino, &a);
	if (rc || !S_ISREG(a.mode) || !a.nlink || a.parent == AG_ROOT)
		goto out;
	/* a is named in the directory it was made in (a.parent), unless
	 * it was linked elsewhere since: then it is no key's element */
	rc = name_in(c, a.parent, ino, name);
	if (!rc)
		rc = versioned_key(c, a.parent, name, &o.bucket, key, &state);
	if (rc || state == AG_VERSIONING_OFF)
		goto out;
	o.key = key;
	o.klen = (uint32_t)strlen(key);
	o.flags = state == AG_VERSIONING_SUSPENDED ? AG_VERSION_SUSPENDED : 0;
	ag_cl_txn(c, &t);
	ag_txn_version(&t, &o);
	rc = t.error ? t.error : ag_cl_commit(c, &t, NULL);
	ag_txn_release(&t);
out:
	free(key);
	return rc == -ENOENT ? 0 : rc;
}

int ag_version_prepare(struct ag_writer *w, uint64_t parent, const char *name)
{
	char *key = malloc(AG_VERSION_KEY_LEN + 1);
	uint64_t bucket;
	int state, rc;

	if (!key)
		return -ENOMEM;
	rc = versioned_key(ag_writer_cluster(w), parent, name, &bucket, key,
			   &state);
	if (!rc && state != AG_VERSIONING_OFF)
		rc = ag_writer_version(w, bucket, key,
				       state == AG_VERSIONING_SUSPENDED
				       ? AG_VERSION_SUSPENDED : 0);
	free(key);
	return rc;
}
