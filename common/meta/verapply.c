/*
 * verapply.c - the VERSION op as metad applies it (txn.h): noncurrent
 * versions and delete markers of the keys of versioned buckets, kept in
 * VERSION records (keys.h).
 *
 * A noncurrent version is an ordinary element that no DIRENT names: its
 * VERSION record is its one name and counts in its nlink, so dropping the
 * record drops the element like an unlink (its extents, and through them
 * its chunks' references, go with it), and the old and the new version
 * of a key share every chunk they have in common for free. The record is
 * written in the transaction that replaces or removes the key's current
 * element (KEEP before the LINK or UNLINK), so no reader ever sees the
 * element without a name. Sequence numbers come from the inode counter:
 * unique in the cluster and increasing, so a key's newest version sorts
 * first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agora.h" /* AG_XATTR_VERSION */
#include "apply_int.h"
#include "btree.h"
#include "keys.h"
#include "meta_int.h"
#include "util.h"

/* Versions of one key met in a scan, at most this many dropped at once
 * (a suspended bucket has one null version; this is slack). */
#define SCAN_MAX 64

/* The directory holding the last name of key below bucket, and that
 * name. -ENOENT when a directory on the way is missing or a file. */
static int key_parent(struct tx *tx, const struct ag_op_version *o,
		      uint64_t *dir, const char **name, size_t *nlen)
{
	const char *p = o->key, *end = o->key + o->klen;
	uint64_t at = o->bucket;
	struct ag_attr a;
	int rc;

	if (!o->klen || o->klen > AG_VERSION_KEY_MAX ||
	    memchr(o->key, 0, o->klen) || end[-1] == '/')
		return -EINVAL;
	for (;;) {
		const char *slash = memchr(p, '/', end - p);
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);

		if (!n || n > AG_NAME_MAX)
			return -EINVAL;
		if (!slash) {
			*dir = at;
			*name = p;
			*nlen = n;
			return 0;
		}
		rc = ag_tx_dirent_get(tx, at, p, n, &at);
		if (!rc)
			rc = ag_tx_inode_get(tx, at, &a);
		if (rc)
			return rc;
		if (!S_ISDIR(a.mode))
			return -ENOENT;
		p = slash + 1;
	}
}

struct found {
	uint8_t key[AG_KEYBUF];
	size_t kl;
	struct ag_version_rec rec;
};

/* The versions of o's key, newest first, at most max of them (with
 * only_null, only the null ones); their count or -errno. */
static int scan_key(struct tx *tx, const struct ag_op_version *o,
		    int only_null, struct found *out, int max)
{
	uint8_t k[AG_KEYBUF];
	size_t pl = ag_key_version_prefix(k, o->bucket, o->key, o->klen);
	struct ag_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc, n = 0;

	k[pl++] = 0; /* the key's own versions, not those of "key..." */
	rc = ag_tree_seek(tx->m->tree, k, pl, &c);
	if (rc)
		return rc;
	while (n < max && (rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		uint64_t bucket, seq;
		const char *key;
		size_t klen;

		if (ckl < pl || memcmp(ck, k, pl))
			break;
		rc = ag_key_version_decode(ck, ckl, &bucket, &key, &klen, &seq);
		if (!rc)
			rc = ag_version_rec_decode(cv, cvl, &out[n].rec);
		if (rc) {
			rc = AG_CORRUPT("version record");
			break;
		}
		if (only_null && !(out[n].rec.flags & AG_VERSION_NULL))
			continue;
		out[n].rec.seq = seq;
		memcpy(out[n].key, ck, ckl);
		out[n++].kl = ckl;
	}
	ag_cursor_free(c);
	return rc < 0 ? rc : n;
}

/* The version f goes, and its element with it unless named elsewhere. */
static int drop_found(struct tx *tx, const struct found *f)
{
	struct ag_attr in;
	int rc = ag_tx_del(tx, f->key, f->kl);

	if (rc || !f->rec.ino)
		return rc;
	rc = ag_tx_inode_get(tx, f->rec.ino, &in);
	return rc ? rc : ag_tx_drop_link(tx, &in, 0);
}

/* A suspended bucket's key has one null version: the others go. */
static int drop_null(struct tx *tx, const struct ag_op_version *o)
{
	struct found *f = malloc(SCAN_MAX * sizeof(*f));
	int rc, n, i;

	if (!f)
		return -ENOMEM;
	rc = n = scan_key(tx, o, 1, f, SCAN_MAX);
	for (i = 0; rc >= 0 && i < n; i++)
		rc = drop_found(tx, &f[i]);
	free(f);
	return rc < 0 ? rc : 0;
}

/* A key has one null version: before the current element r becomes a
 * noncurrent version, the null one it would join goes when r is null
 * too, or when the bucket is suspended (what follows is null then).
 * 1 when r itself is not to be kept (suspended, and r is null: what
 * follows replaces it), 0, or -errno. */
static int one_null(struct tx *tx, const struct ag_op_version *o,
		    const struct ag_version_rec *r)
{
	int suspended = (o->flags & AG_VERSION_SUSPENDED) != 0;
	int rc = 0;

	if (suspended || (r->flags & AG_VERSION_NULL))
		rc = drop_null(tx, o);
	return rc ? rc : suspended && (r->flags & AG_VERSION_NULL);
}

static int put_record(struct tx *tx, const struct ag_op_version *o,
		      const struct ag_version_rec *r)
{
	uint8_t k[AG_KEYBUF], v[AG_VERSION_LEN];
	int kl = ag_key_version(k, o->bucket, o->key, o->klen, r->seq);

	if (kl < 0)
		return kl;
	return ag_tx_put(tx, k, (size_t)kl, v, ag_version_rec_encode(v, r));
}

static int stamp_get(struct tx *tx, uint64_t ino, uint64_t *seq,
		     uint8_t *flags)
{
	uint8_t k[AG_KEYBUF], v[AG_VERSION_STAMP_LEN + 1];
	size_t vl = sizeof(v);
	int rc = ag_tx_get(tx, k, ag_key_xattr(k, ino, AG_XATTR_VERSION,
					       strlen(AG_XATTR_VERSION)),
			   v, &vl);

	return rc ? rc : ag_version_stamp_decode(v, vl, seq, flags);
}

static int keep(struct tx *tx, const struct ag_op_version *o)
{
	struct ag_version_rec r = { 0 };
	struct ag_attr in;
	const char *name;
	size_t nlen;
	uint64_t dir, ino;
	int rc = key_parent(tx, o, &dir, &name, &nlen);

	if (!rc)
		rc = ag_tx_dirent_get(tx, dir, name, nlen, &ino);
	if (!rc)
		rc = ag_tx_inode_get(tx, ino, &in);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	if (!S_ISREG(in.mode))
		return 0;
	rc = stamp_get(tx, in.ino, &r.seq, &r.flags);
	if (rc == -ENOENT) {
		/* written before versioning: the null version, as new as
		 * this moment in the key's order */
		r.seq = tx->m->next_ino++;
		r.flags = AG_VERSION_NULL;
	} else if (rc) {
		return rc;
	}
	rc = one_null(tx, o, &r);
	if (rc)
		return rc < 0 ? rc : 0; /* the null current one is replaced */
	r.ino = in.ino;
	r.mtime = in.mtime;
	rc = put_record(tx, o, &r);
	if (rc)
		return rc;
	in.nlink++; /* the record is a name: the unlink after leaves it */
	return ag_tx_inode_put(tx, &in);
}

static int stamp_put(struct tx *tx, uint64_t ino, uint8_t flags)
{
	uint8_t k[AG_KEYBUF], v[AG_VERSION_STAMP_LEN];

	ag_version_stamp_encode(v, tx->m->next_ino++, flags);
	return ag_tx_put(tx, k, ag_key_xattr(k, ino, AG_XATTR_VERSION,
					     strlen(AG_XATTR_VERSION)),
			 v, sizeof(v));
}

static int stamp(struct tx *tx, const struct ag_op_version *o)
{
	struct ag_attr in;
	int rc = ag_tx_inode_get(tx, o->ino, &in);

	if (rc)
		return rc;
	if (!S_ISREG(in.mode))
		return -EINVAL;
	return stamp_put(tx, in.ino, (uint8_t)(o->flags & AG_VERSION_NULL));
}

/* Every xattr record of from (pieces of long values too) for to as
 * well, but the version stamp. */
static int copy_xattrs(struct tx *tx, uint64_t from, uint64_t to)
{
	uint8_t k[AG_KEYBUF], stamp_key[AG_KEYBUF];
	size_t pl = ag_key_xattr(k, from, "", 0);
	size_t sl = ag_key_xattr(stamp_key, from, AG_XATTR_VERSION,
				 strlen(AG_XATTR_VERSION));
	struct xrec { uint8_t k[AG_KEYBUF], v[AG_VAL_MAX]; size_t kl, vl; } *x = NULL;
	size_t n = 0, cap = 0, i;
	struct ag_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc = ag_tree_seek(tx->m->tree, k, pl, &c);

	if (rc)
		return rc;
	while ((rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		if (ckl < pl || memcmp(ck, k, pl))
			break;
		if (ckl == sl && !memcmp(ck, stamp_key, sl))
			continue;
		if (n == cap) {
			struct xrec *nx;

			cap = cap ? 2 * cap : 8;
			nx = realloc(x, cap * sizeof(*x));
			if (!nx) {
				rc = -ENOMEM;
				break;
			}
			x = nx;
		}
		memcpy(x[n].k, ck, ckl);
		memcpy(x[n].v, cv, cvl);
		put_be64(x[n].k + 1, to); /* XATTR | ino | name...: keys.h */
		x[n].kl = ckl;
		x[n++].vl = cvl;
	}
	ag_cursor_free(c);
	for (i = 0; rc >= 0 && i < n; i++)
		rc = ag_tx_put(tx, x[i].k, x[i].kl, x[i].v, x[i].vl);
	free(x);
	return rc < 0 ? rc : 0;
}

/* The element key names is about to be written in place (through the
 * mount): a copy of it, sharing its extents, becomes the noncurrent
 * version it was, and the element the key's newest version. */
static int snapshot(struct tx *tx, const struct ag_op_version *o)
{
	struct ag_version_rec r = { 0 };
	struct ag_attr cur, copy;
	struct ag_op_clone cl = { 0 };
	const char *name;
	size_t nlen;
	uint64_t dir, ino;
	int rc = key_parent(tx, o, &dir, &name, &nlen);

	if (!rc)
		rc = ag_tx_dirent_get(tx, dir, name, nlen, &ino);
	if (!rc)
		rc = ag_tx_inode_get(tx, ino, &cur);
	if (rc)
		return rc;
	if (!S_ISREG(cur.mode))
		return -EINVAL;
	rc = stamp_get(tx, cur.ino, &r.seq, &r.flags);
	if (rc == -ENOENT && !cur.size) /* just made: nothing to keep */
		return stamp_put(tx, cur.ino, o->flags & AG_VERSION_SUSPENDED
						? AG_VERSION_NULL : 0);
	if (rc == -ENOENT) {
		r.seq = tx->m->next_ino++;
		r.flags = AG_VERSION_NULL;
	} else if (rc) {
		return rc;
	}
	rc = one_null(tx, o, &r);
	if (rc)
		return rc < 0 ? rc : 0; /* the write replaces the null version */
	copy = cur;
	copy.ino = tx->m->next_ino++;
	copy.nlink = 1; /* its VERSION record */
	copy.size = 0;
	rc = ag_tx_inode_put(tx, &copy);
	if (rc)
		return rc;
	tx->stats.inodes++;
	cl.src = cur.ino;
	cl.dst = copy.ino;
	cl.len = cur.size;
	rc = cur.size ? ag_tx_clone(tx, &cl) : 0;
	if (!rc) {
		copy.size = cur.size; /* the clone's times and ETag: the
				       * original's */
		rc = ag_tx_inode_put(tx, &copy);
	}
	if (!rc)
		rc = copy_xattrs(tx, cur.ino, copy.ino);
	r.ino = copy.ino;
	r.mtime = cur.mtime;
	if (!rc)
		rc = put_record(tx, o, &r);
	return rc ? rc : stamp_put(tx, cur.ino, o->flags & AG_VERSION_SUSPENDED
						? AG_VERSION_NULL : 0);
}

static int marker(struct tx *tx, const struct ag_op_version *o)
{
	struct ag_version_rec r = { .flags = AG_VERSION_MARKER,
				    .mtime = tx->now };
	int rc = 0;

	if (o->flags & AG_VERSION_SUSPENDED) {
		r.flags |= AG_VERSION_NULL;
		rc = drop_null(tx, o);
	}
	r.seq = tx->m->next_ino++;
	return rc ? rc : put_record(tx, o, &r);
}

static int drop(struct tx *tx, const struct ag_op_version *o)
{
	uint8_t v[AG_VERSION_LEN];
	size_t vl = sizeof(v);
	struct found f;
	int rc = ag_key_version(f.key, o->bucket, o->key, o->klen, o->seq);

	if (rc < 0)
		return rc;
	f.kl = (size_t)rc;
	rc = ag_tx_get(tx, f.key, f.kl, v, &vl);
	if (!rc)
		rc = ag_version_rec_decode(v, vl, &f.rec);
	return rc ? rc : drop_found(tx, &f);
}

static int restore(struct tx *tx, const struct ag_op_version *o)
{
	struct ag_attr dir, in;
	const char *name;
	size_t nlen;
	uint64_t dino, ino;
	struct found f;
	int rc = key_parent(tx, o, &dino, &name, &nlen);

	if (!rc)
		rc = ag_tx_inode_get(tx, dino, &dir);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = ag_tx_dirent_get(tx, dino, name, nlen, &ino);
	if (rc != -ENOENT)
		return rc; /* the key names something: nothing to restore */
	rc = scan_key(tx, o, 0, &f, 1);
	if (rc <= 0 || (f.rec.flags & AG_VERSION_MARKER))
		return rc < 0 ? rc : 0; /* no version, or a marker on top */
	rc = ag_tx_inode_get(tx, f.rec.ino, &in);
	if (!rc)
		rc = ag_tx_del(tx, f.key, f.kl);
	if (!rc)
		rc = ag_tx_dirent_put(tx, dino, name, nlen, &in);
	if (rc)
		return rc;
	/* the record's name becomes the entry's: nlink stays */
	in.parent = dino;
	in.ctime = tx->now;
	rc = ag_tx_inode_put(tx, &in);
	if (!rc)
		rc = ag_tx_touch_dir(tx, &dir, 0);
	if (!rc)
		tx->last_ino = in.ino;
	/* the key names an element again: the event log says so, as for
	 * any new name (the other actions change no name, or leave that
	 * to the UNLINK or LINK beside them) */
	return rc ? rc : ag_tx_event_created(tx, in.ino, dino, name, nlen);
}

int ag_tx_version(struct tx *tx, const struct ag_op_version *o)
{
	switch (o->action) {
	case AG_VERSION_KEEP:
		return keep(tx, o);
	case AG_VERSION_STAMP:
		return stamp(tx, o);
	case AG_VERSION_MARK:
		return marker(tx, o);
	case AG_VERSION_DROP:
		return drop(tx, o);
	case AG_VERSION_RESTORE:
		return restore(tx, o);
	case AG_VERSION_SNAPSHOT:
		return snapshot(tx, o);
	}
	return -EINVAL;
}

int ag_tx_has_versions(struct tx *tx, uint64_t bucket)
{
	uint8_t k[AG_KEYBUF];
	size_t pl = ag_key_version_prefix(k, bucket, "", 0);
	struct ag_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc = ag_tree_seek(tx->m->tree, k, pl, &c);

	if (rc)
		return rc;
	rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl);
	if (rc == 1)
		rc = ckl > pl && !memcmp(ck, k, pl);
	ag_cursor_free(c);
	return rc;
}
