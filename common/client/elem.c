/*
 * elem.c - the namespace of elements as clients see it: lookups and
 * listings read the tree at the newest known root, and again at a newer
 * one when that root moved on under them (AG_CL_READ, cluster.h); every
 * change is one transaction committed by metad (the rules live in
 * apply.c, once).
 *
 * The names the gateways keep to themselves (agora.h: the multipart
 * store, the "agora." xattrs with the S3 users' secrets) are hidden here,
 * by the handle: a handle opened without AG_OPEN_PRIVATE neither sees nor
 * makes, changes or removes them, whichever adapter holds it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster.h"
#include "elem.h"
#include "format.h"
#include "keys.h"
#include "util.h"

int ag_xattr_private(const char *name)
{
	return !strncmp(name, AG_PRIVATE_XATTR_PREFIX,
			strlen(AG_PRIVATE_XATTR_PREFIX));
}

int ag_name_private(uint64_t parent, const char *name, size_t nlen)
{
	return parent == AG_ROOT && nlen == strlen(AG_UPLOADS_DIR) &&
	       !memcmp(name, AG_UPLOADS_DIR, nlen);
}

/* Whether c must not see (parent, name) or the xattr name. */
static int hidden(struct ag_cluster *c, uint64_t parent, const char *name,
		  size_t nlen)
{
	return !(c->flags & AG_OPEN_PRIVATE) &&
	       ag_name_private(parent, name, nlen);
}

static int hidden_xattr(struct ag_cluster *c, const char *name, size_t nlen)
{
	size_t pl = strlen(AG_PRIVATE_XATTR_PREFIX);

	return !(c->flags & AG_OPEN_PRIVATE) && nlen >= pl &&
	       !memcmp(name, AG_PRIVATE_XATTR_PREFIX, pl);
}

size_t ag_path_next(const char **p, const char **name)
{
	const char *s = *p;

	while (*s == '/')
		s++;
	*name = s;
	*p = strchrnul(s, '/');
	return (size_t)(*p - s);
}

/* An element's flags are its INODE record's, stored as they are. */
_Static_assert(AG_ATTR_IMPLICIT == AG_INODE_IMPLICIT &&
	       AG_ATTR_ETAG == AG_INODE_ETAG, "element flags differ");

static int tree_getattr(struct ag_tree *t, uint64_t ino, struct ag_attr *a)
{
	uint8_t k[AG_KEYBUF], v[AG_INODE_LEN];
	size_t vl = sizeof(v);
	int rc = ag_tree_get(t, k, ag_key_inode(k, ino), v, &vl);

	if (rc == -ERANGE)
		return AG_CORRUPT("inode %llu", (unsigned long long)ino);
	return rc ? rc : ag_inode_decode(v, vl, ino, a);
}

static int check_name(const char *name, size_t *nlen)
{
	size_t n = strnlen(name, AG_NAME_MAX + 1);

	if (!n)
		return -EINVAL;
	if (n > AG_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	*nlen = n;
	return 0;
}

/* 0, with its length in *nlen, when name is one name (1 to AG_NAME_MAX
 * bytes, no '/') that c may use in parent; a private name on a handle
 * opened without AG_OPEN_PRIVATE gets if_private: -ENOENT where the
 * name is looked up or removed (it is not there), -EPERM where it would
 * be made (it is taken). */
static int usable_name(struct ag_cluster *c, uint64_t parent,
		       const char *name, size_t *nlen, int if_private)
{
	int rc = check_name(name, nlen);

	if (rc)
		return rc;
	return hidden(c, parent, name, *nlen) ? if_private : 0;
}

static int tree_lookup(struct ag_tree *t, uint64_t parent, const char *name,
		       size_t nlen, struct ag_attr *a)
{
	uint8_t k[AG_KEYBUF], v[AG_DIRENT_LEN];
	size_t vl = sizeof(v);
	unsigned type;
	uint64_t ino;
	int rc = ag_tree_get(t, k, ag_key_dirent(k, parent, name, nlen), v,
			     &vl);

	if (rc == -ENOENT) {
		/* tell "no such name" from "parent is not a directory" */
		struct ag_attr p;
		int prc = tree_getattr(t, parent, &p);

		if (prc)
			return prc;
		return S_ISDIR(p.mode) ? -ENOENT : -ENOTDIR;
	}
	if (rc == -ERANGE)
		return AG_CORRUPT("directory entry");
	if (rc || (rc = ag_dirent_decode(v, vl, parent, &ino, &type)))
		return rc;
	return tree_getattr(t, ino, a);
}

int ag_getattr(struct ag_cluster *c, uint64_t ino, struct ag_attr *a)
{
	struct ag_tree *t;

	return AG_CL_READ(c, t, tree_getattr(t, ino, a));
}

int ag_lookup(struct ag_cluster *c, uint64_t parent, const char *name,
	      struct ag_attr *a)
{
	struct ag_tree *t;
	size_t nlen;
	int rc = usable_name(c, parent, name, &nlen, -ENOENT);

	if (rc)
		return rc;
	if (!strcmp(name, "."))
		return ag_getattr(c, parent, a);
	if (!strcmp(name, "..")) {
		struct ag_attr d;

		rc = ag_getattr(c, parent, &d);
		return rc ? rc : ag_getattr(c, d.parent ? d.parent : AG_ROOT,
					    a);
	}
	return AG_CL_READ(c, t, tree_lookup(t, parent, name, nlen, a));
}

/* The one path walker: the names of path from the directory start;
 * with parent_only, stop before the last one (*last points at it). */
static int walk(struct ag_cluster *c, struct ag_tree *t, uint64_t start,
		const char *path, int parent_only, ag_walk_cb step,
		void *arg, struct ag_attr *a, const char **last)
{
	const char *p = path, *name;
	size_t n;
	int rc = step ? step(arg, start, NULL, 0, NULL) : 0; /* (re)start */

	if (!rc)
		rc = tree_getattr(t, start, a);
	while (!rc && (n = ag_path_next(&p, &name))) {
		uint64_t dir = a->ino;

		if (parent_only) {
			const char *q = p, *rest;

			if (!ag_path_next(&q, &rest)) {
				*last = name;
				return S_ISDIR(a->mode) ? 0 : -ENOTDIR;
			}
		}
		if (!S_ISDIR(a->mode))
			return -ENOTDIR;
		rc = hidden(c, dir, name, n) ? -ENOENT
					     : tree_lookup(t, dir, name, n, a);
		if (!rc && step)
			rc = step(arg, dir, name, n, a);
	}
	if (!rc && parent_only)
		return -EINVAL; /* "/" has no parent */
	return rc;
}

int ag_walk(struct ag_cluster *c, uint64_t dir, const char *path,
	    ag_walk_cb step, void *arg, struct ag_attr *a)
{
	struct ag_tree *t;

	return AG_CL_READ(c, t, walk(c, t, dir, path, 0, step, arg, a, NULL));
}

int ag_resolve(struct ag_cluster *c, const char *path, struct ag_attr *a)
{
	int rc = ag_path_check(path);

	return rc ? rc : ag_walk(c, AG_ROOT, path, NULL, NULL, a);
}

int ag_resolve_parent(struct ag_cluster *c, const char *path, uint64_t *parent,
		      const char **name)
{
	struct ag_attr a;
	struct ag_tree *t;
	int rc = ag_path_check(path);

	if (!rc)
		rc = AG_CL_READ(c, t, walk(c, t, AG_ROOT, path, 1, NULL, NULL,
					   &a, name));

	if (!rc)
		*parent = a.ino;
	return rc;
}

/* A listing under way: what its caller was handed so far, so that a run
 * at a newer root (AG_CL_READ) resumes after the last entry delivered and
 * never delivers one twice. */
struct listing {
	struct ag_cluster *c;
	uint64_t dir;
	ag_dirent_cb cb;
	void *arg;
	const char *after;           /* where the caller asked to start */
	char last[AG_NAME_MAX + 1];  /* the last name delivered */
	int delivered;
	int stop;                    /* what the caller's cb returned */
};

static const char *listing_start(const struct listing *l)
{
	return l->delivered ? l->last : l->after;
}

/* The caller's callback, for the names its handle may see, behind a note
 * of what it was given. A non-zero value it returns ends the listing as
 * it is, never read as a stale root: a callback's own failed read must
 * not make the listing start over. */
static int visible_entry(void *arg, const char *name, size_t nlen,
			 uint64_t ino, unsigned type)
{
	struct listing *l = arg;

	if (hidden(l->c, l->dir, name, nlen))
		return 0;
	memcpy(l->last, name, nlen); /* tree_readdir checked nlen */
	l->last[nlen] = 0;
	l->delivered = 1;
	l->stop = l->cb(l->arg, name, nlen, ino, type);
	return l->stop ? 1 : 0;
}

static int tree_readdir(struct ag_tree *t, uint64_t dir, const char *after,
			ag_dirent_cb cb, void *arg)
{
	uint8_t k[AG_KEYBUF];
	size_t kl = ag_key_dirent(k, dir, "", 0), alen = 0;
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc;

	if (after) {
		alen = strnlen(after, AG_NAME_MAX + 1);
		if (alen > AG_NAME_MAX)
			return -ENAMETOOLONG;
		kl = ag_key_dirent(k, dir, after, alen);
	}
	rc = ag_tree_seek(t, k, kl, &cur);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		const char *name;
		size_t nlen;
		uint64_t parent, ino;
		unsigned type;

		if (ag_key_dirent_decode(ck, ckl, &parent, &name, &nlen) ||
		    parent != dir || !nlen) {
			rc = 0; /* past the directory's entries */
			break;
		}
		if (after && nlen == alen && !memcmp(name, after, alen))
			continue;
		if (nlen > AG_NAME_MAX) {
			rc = AG_CORRUPT("directory entry");
			break;
		}
		rc = ag_dirent_decode(cv, cvl, dir, &ino, &type);
		if (!rc)
			rc = cb(arg, name, nlen, ino, type);
		if (rc)
			break;
	}
	ag_cursor_free(cur);
	return rc;
}

int ag_readdir(struct ag_cluster *c, uint64_t dir, const char *after,
	       ag_dirent_cb cb, void *arg)
{
	struct listing l = { .c = c, .dir = dir, .cb = cb, .arg = arg,
			     .after = after };
	struct ag_tree *t;
	struct ag_attr a;
	int rc = ag_getattr(c, dir, &a);

	if (rc)
		return rc;
	if (!S_ISDIR(a.mode))
		return -ENOTDIR;
	rc = AG_CL_READ(c, t, tree_readdir(t, dir, listing_start(&l),
					   visible_entry, &l));
	return l.stop ? l.stop : rc;
}

/* Commit t, then read the attributes of the inode it made or named. */
static int commit_get(struct ag_cluster *c, struct ag_txn *t, uint64_t ino,
		      struct ag_attr *a)
{
	struct ag_rpc_reply r;
	int rc = ag_cl_commit(c, t, &r);

	ag_txn_release(t);
	if (rc || !a)
		return rc;
	return ag_getattr(c, ino ? ino : r.ino, a);
}

static int make_node(struct ag_cluster *c, uint64_t parent, const char *name,
		     uint32_t mode, uint32_t uid, uint32_t gid, uint64_t rdev,
		     const char *target, uint32_t flags, struct ag_attr *a)
{
	struct ag_op_mknode o = {
		.parent = parent, .mode = mode, .uid = uid, .gid = gid,
		.rdev = rdev, .name = name, .flags = flags,
	};
	struct ag_txn t;
	size_t nlen;
	int rc = usable_name(c, parent, name, &nlen, -EPERM);

	if (rc)
		return rc;
	o.nlen = nlen;
	if (target) {
		size_t tl = strlen(target);

		if (!tl)
			return -ENOENT;
		if (tl > AG_SYMLINK_MAX)
			return -ENAMETOOLONG;
		o.target = target;
		o.tlen = tl;
	}
	ag_cl_txn(c, &t);
	ag_txn_mknode(&t, &o);
	return commit_get(c, &t, 0, a);
}

int ag_mknod(struct ag_cluster *c, uint64_t parent, const char *name,
	     uint32_t mode, uint32_t uid, uint32_t gid, uint64_t rdev,
	     struct ag_attr *a)
{
	if (S_ISDIR(mode) || S_ISLNK(mode))
		return -EINVAL;
	if (!(mode & S_IFMT))
		mode |= S_IFREG;
	return make_node(c, parent, name, mode, uid, gid, rdev, NULL, 0, a);
}

int ag_mkdir(struct ag_cluster *c, uint64_t parent, const char *name,
	     uint32_t mode, uint32_t uid, uint32_t gid, struct ag_attr *a)
{
	return make_node(c, parent, name, S_IFDIR | (mode & 07777), uid, gid,
			 0, NULL, 0, a);
}

int ag_path_check(const char *path)
{
	return *path == '/' ? ag_path_names_check(path) : -EINVAL;
}

int ag_path_names_check(const char *path)
{
	const char *p = path, *name;
	size_t n;

	while ((n = ag_path_next(&p, &name))) {
		if (n > AG_NAME_MAX)
			return -ENAMETOOLONG;
		if ((n == 1 && name[0] == '.') ||
		    (n == 2 && name[0] == '.' && name[1] == '.'))
			return -EINVAL;
	}
	return 0;
}

int ag_mkdir_path(struct ag_cluster *c, const char *path, uint32_t mode,
		  uint32_t uid, uint32_t gid, struct ag_attr *a)
{
	char name[AG_NAME_MAX + 1];
	const char *p = path, *seg;
	size_t n;
	int rc;

	/* refuse a bad path whole, before any directory of it is made */
	rc = ag_path_check(path);
	if (rc)
		return rc;
	rc = ag_getattr(c, AG_ROOT, a);
	while (!rc && (n = ag_path_next(&p, &seg))) {
		memcpy(name, seg, n); /* n <= AG_NAME_MAX: checked above */
		name[n] = 0;
		rc = ag_lookup(c, a->ino, name, a);
		if (rc == -ENOENT)
			rc = make_node(c, a->ino, name, S_IFDIR | (mode & 07777),
				       uid, gid, 0, NULL, AG_MKNODE_EXIST_OK,
				       a);
		if (!rc && !S_ISDIR(a->mode))
			rc = -ENOTDIR;
	}
	return rc;
}

int ag_symlink(struct ag_cluster *c, uint64_t parent, const char *name,
	       const char *target, uint32_t uid, uint32_t gid,
	       struct ag_attr *a)
{
	return make_node(c, parent, name, S_IFLNK | 0777, uid, gid, 0, target,
			 0, a);
}

/* Copy the value whose first record is v[0..vl) to buf (size 0: only
 * measure it), reading the records a long value goes on in (keys.h). */
static ssize_t xattr_rest(struct ag_tree *t, uint64_t ino, const char *name,
			  size_t nlen, uint8_t *v, size_t vl, void *buf,
			  size_t size)
{
	uint8_t k[AG_KEYBUF];
	size_t total = 0;
	unsigned p = 1;
	int rc;

	for (;;) {
		if (size) {
			if (total + vl > size)
				return -ERANGE;
			memcpy((uint8_t *)buf + total, v, vl);
		}
		total += vl;
		if (vl < AG_VAL_MAX || p == AG_XATTR_PIECES)
			return total;
		vl = AG_VAL_MAX;
		rc = ag_tree_get(t, k, ag_key_xattr_piece(k, ino, name, nlen,
							 p++), v, &vl);
		if (rc == -ENOENT)
			return total;
		if (rc)
			return rc;
	}
}

static ssize_t tree_getxattr(struct ag_tree *t, uint64_t ino, const char *name,
			     size_t nlen, void *buf, size_t size)
{
	uint8_t k[AG_KEYBUF], v[AG_VAL_MAX];
	size_t vl = sizeof(v);
	int rc = ag_tree_get(t, k, ag_key_xattr(k, ino, name, nlen), v, &vl);

	if (rc == -ENOENT) {
		struct ag_attr a;

		rc = tree_getattr(t, ino, &a);
		return rc ? rc : -ENODATA;
	}
	if (rc)
		return rc;
	return xattr_rest(t, ino, name, nlen, v, vl, buf, size);
}

ssize_t ag_readlink(struct ag_cluster *c, uint64_t ino, char *buf, size_t size)
{
	struct ag_tree *t;
	ssize_t n;

	n = AG_CL_READ(c, t, tree_getxattr(t, ino, AG_XATTR_SYMLINK,
					    strlen(AG_XATTR_SYMLINK), buf,
					    size));
	return n == -ENODATA ? -EINVAL : n;
}

/* Whether (parent, name) names a non-directory open on this handle: when
 * its last name goes, it must stay as an orphan until its last close. */
int ag_elem_open_here(struct ag_cluster *c, uint64_t parent,
		      const char *name)
{
	struct ag_attr a;

	if (ag_cl_open_none(c))
		return 0;
	return !ag_lookup(c, parent, name, &a) && !S_ISDIR(a.mode) &&
	       ag_cl_open_has(c, a.ino);
}

static int remove_name(struct ag_cluster *c, uint64_t parent,
		       const char *name, uint32_t flags)
{
	struct ag_op_unlink o = { .parent = parent, .name = name,
				  .flags = flags };
	struct ag_txn t;
	size_t nlen;
	int rc = usable_name(c, parent, name, &nlen, -ENOENT);

	if (rc)
		return rc;
	o.nlen = nlen;
	if (!(flags & AG_UNLINK_DIR) && ag_elem_open_here(c, parent, name))
		o.flags |= AG_UNLINK_KEEP;
	ag_cl_txn(c, &t);
	ag_txn_unlink(&t, &o);
	return commit_get(c, &t, 0, NULL);
}

int ag_unlink(struct ag_cluster *c, uint64_t parent, const char *name)
{
	return remove_name(c, parent, name, 0);
}

int ag_rmdir(struct ag_cluster *c, uint64_t parent, const char *name)
{
	return remove_name(c, parent, name, AG_UNLINK_DIR);
}

int ag_unlink_if(struct ag_cluster *c, uint64_t parent, const char *name,
		 int cond, const uint8_t md5[16])
{
	struct ag_op_unlink o = { .parent = parent, .name = name };
	struct ag_op_expect e = { .parent = parent, .cond = (uint32_t)cond,
				  .name = name };
	struct ag_txn t;
	size_t nlen;
	int rc = usable_name(c, parent, name, &nlen, -ENOENT);

	if (rc)
		return rc;
	if (cond != AG_EXPECT_FILE && cond != AG_EXPECT_ETAG)
		return -EINVAL;
	o.nlen = e.nlen = nlen;
	if (cond == AG_EXPECT_ETAG)
		memcpy(e.etag, md5, 16);
	if (ag_elem_open_here(c, parent, name))
		o.flags |= AG_UNLINK_KEEP;
	ag_cl_txn(c, &t);
	ag_txn_expect(&t, &e);
	ag_txn_unlink(&t, &o);
	return commit_get(c, &t, 0, NULL);
}

int ag_rename(struct ag_cluster *c, uint64_t sparent, const char *sname,
	      uint64_t dparent, const char *dname, unsigned flags)
{
	return ag_rename_with(c, sparent, sname, dparent, dname, flags, NULL,
			      NULL);
}

int ag_rename_with(struct ag_cluster *c, uint64_t sparent, const char *sname,
		   uint64_t dparent, const char *dname, unsigned flags,
		   const struct ag_txn *before, const struct ag_txn *after)
{
	struct ag_op_rename o = { .src = sparent, .dst = dparent,
				  .sname = sname, .dname = dname,
				  .flags = flags };
	struct ag_txn t;
	size_t sl, dl;
	int rc = usable_name(c, sparent, sname, &sl, -ENOENT);

	if (!rc)
		rc = usable_name(c, dparent, dname, &dl, -EPERM);
	if (rc)
		return rc;
	if (flags & ~(AG_RENAME_NOREPLACE | AG_RENAME_EXCHANGE))
		return -EINVAL;
	if (!(flags & AG_RENAME_EXCHANGE) && ag_elem_open_here(c, dparent, dname))
		o.flags |= AG_RENAME_KEEP;
	o.slen = sl;
	o.dlen = dl;
	ag_cl_txn(c, &t);
	ag_txn_append(&t, before);
	ag_txn_rename(&t, &o);
	ag_txn_append(&t, after);
	return commit_get(c, &t, 0, NULL);
}

int ag_link(struct ag_cluster *c, uint64_t ino, uint64_t parent,
	    const char *name, struct ag_attr *a)
{
	struct ag_op_link o = { .ino = ino, .parent = parent, .name = name };
	struct ag_txn t;
	size_t nlen;
	int rc = usable_name(c, parent, name, &nlen, -EPERM);

	if (rc)
		return rc;
	o.nlen = nlen;
	ag_cl_txn(c, &t);
	ag_txn_link(&t, &o);
	return commit_get(c, &t, ino, a);
}

int ag_setattr(struct ag_cluster *c, uint64_t ino, unsigned mask,
	       const struct ag_attr *in, struct ag_attr *out)
{
	/* the transaction takes the public bits as they are (base.h) and
	 * none of the ones only the core sets */
	struct ag_op_setattr o = {
		.ino = ino, .mode = in->mode, .uid = in->uid, .gid = in->gid,
		.size = in->size, .atime = in->atime, .mtime = in->mtime,
		.mask = mask & (AG_SET_MODE | AG_SET_UID | AG_SET_GID |
				AG_SET_SIZE | AG_SET_ATIME | AG_SET_MTIME),
	};
	struct ag_txn t;

	ag_cl_txn(c, &t);
	ag_txn_setattr(&t, &o);
	return commit_get(c, &t, ino, out);
}

int ag_truncate(struct ag_cluster *c, uint64_t ino, uint64_t size)
{
	struct ag_attr a = { .size = size };

	return ag_setattr(c, ino, AG_SET_SIZE, &a, NULL);
}

ssize_t ag_getxattr(struct ag_cluster *c, uint64_t ino, const char *name,
		    void *buf, size_t size)
{
	struct ag_tree *t;
	size_t nlen = strnlen(name, AG_NAME_MAX + 1);

	if (!nlen || nlen > AG_NAME_MAX || name[0] == '\001')
		return -ERANGE;
	if (hidden_xattr(c, name, nlen))
		return -ENODATA;
	return AG_CL_READ(c, t, tree_getxattr(t, ino, name, nlen, buf, size));
}

ssize_t ag_elem_getxattr_any(struct ag_cluster *c, uint64_t ino,
			     const char *name, void *buf, size_t size)
{
	struct ag_tree *t;
	size_t nlen = strnlen(name, AG_NAME_MAX + 1);

	if (!nlen || nlen > AG_NAME_MAX)
		return -ERANGE;
	return AG_CL_READ(c, t, tree_getxattr(t, ino, name, nlen, buf, size));
}

int ag_setxattr(struct ag_cluster *c, uint64_t ino, const char *name,
		const void *val, size_t len, int flags)
{
	struct ag_op_xattr o = { .ino = ino, .name = name, .value = val,
				 .vlen = len, .flags = flags };
	struct ag_txn t;
	size_t nlen = strnlen(name, AG_NAME_MAX + 1);

	if (!nlen || nlen > AG_NAME_MAX || name[0] == '\001')
		return -ERANGE;
	if (hidden_xattr(c, name, nlen))
		return -EOPNOTSUPP;
	if (ag_xattr_acl(name))
		/* a mode, never an opaque value (acl.c) */
		return ag_acl_set(c, ino, name, val, len, 1);
	if (len > AG_XATTR_MAX)
		return -E2BIG;
	o.nlen = nlen;
	ag_cl_txn(c, &t);
	ag_txn_setxattr(&t, &o);
	return commit_get(c, &t, 0, NULL);
}

int ag_removexattr(struct ag_cluster *c, uint64_t ino, const char *name)
{
	struct ag_txn t;
	size_t nlen = strnlen(name, AG_NAME_MAX + 1);
	int rc;

	if (!nlen || nlen > AG_NAME_MAX || name[0] == '\001')
		return -ERANGE;
	if (hidden_xattr(c, name, nlen))
		return -EOPNOTSUPP;
	ag_cl_txn(c, &t);
	ag_txn_rmxattr(&t, ino, name, nlen);
	rc = commit_get(c, &t, 0, NULL);
	/* removing an ACL leaves the mode, which is all an ACL here ever
	 * was (acl.c): nothing to remove is success, as on a local file
	 * system */
	return rc == -ENODATA && ag_xattr_acl(name) ? 0 : rc;
}

static ssize_t tree_listxattr(struct ag_cluster *c, struct ag_tree *t,
			      uint64_t ino, char *buf, size_t size)
{
	uint8_t k[AG_KEYBUF];
	size_t pl = ag_key_xattr(k, ino, "", 0), total = 0;
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl;
	struct ag_attr a;
	int rc = tree_getattr(t, ino, &a);

	if (rc)
		return rc;
	rc = ag_tree_seek(t, k, pl, &cur);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		const char *name;
		size_t n;
		uint64_t kino;
		unsigned piece;

		if (ag_key_xattr_decode(ck, ckl, &kino, &name, &n, &piece) ||
		    kino != ino || (!n && !piece))
			break;
		if (piece || name[0] == '\001')
			continue; /* pieces of long values, internal records */
		if (hidden_xattr(c, name, n))
			continue;
		if (size) {
			if (total + n + 1 > size) {
				rc = -ERANGE;
				break;
			}
			memcpy(buf + total, name, n);
			buf[total + n] = 0;
		}
		total += n + 1;
	}
	ag_cursor_free(cur);
	return rc < 0 ? rc : (ssize_t)total;
}

ssize_t ag_listxattr(struct ag_cluster *c, uint64_t ino, char *buf,
		     size_t size)
{
	struct ag_tree *t;

	return AG_CL_READ(c, t, tree_listxattr(c, t, ino, buf, size));
}
