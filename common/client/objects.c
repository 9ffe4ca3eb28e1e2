/*
 * objects.c - what the S3 face needs from the core beyond files and
 * directories: keys as paths below a bucket, whose implicit parent
 * directories are made in the transaction that publishes the object and
 * pruned in the one that removes the last key below them; ETags
 * computed after the fact; and the store of S3 users (access keys mapped
 * to POSIX owners).
 *
 * Users live as xattrs of the root directory in the "agora." namespace,
 * which the core hides from every handle opened without AG_OPEN_PRIVATE
 * (elem.c), so the secrets are reachable only by the S3 gateway and the
 * agora tool.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
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

#define USER_PREFIX "agora.s3.user."
/* Names in a key at most: S3 keys take up to 1024 bytes. */
#define KEY_DEPTH 512

/* ---- keys ---- */

/* The name a key ends with (before a trailing '/'), in *last and *n;
 * the MKNODE ops of every directory before it, implicit and made only
 * when missing, in dirs (begun here; the caller releases it). */
static int key_dirs(const char *key, uint64_t dir, uint32_t uid, uint32_t gid,
		    struct ag_txn *dirs, const char **last, size_t *n)
{
	const char *p = key, *next;
	size_t len;
	int rc = ag_path_names_check(key);

	ag_txn_init(dirs, 0, 0);
	if (rc)
		return rc;
	*n = ag_path_next(&p, last);
	if (!*n || *key == '/')
		return -EINVAL;
	/* the ops below make names without elem.c's private-name check:
	 * no key leads into a private name, whatever the handle */
	if (ag_name_private(dir, *last, *n))
		return -EPERM;
	while ((len = ag_path_next(&p, &next))) {
		struct ag_op_mknode o = {
			/* 0: the directory made just before */
			.parent = dirs->nops ? 0 : dir,
			.mode = S_IFDIR | 0755, .uid = uid, .gid = gid,
			.name = *last, .nlen = (uint32_t)*n,
			.flags = AG_MKNODE_IMPLICIT | AG_MKNODE_EXIST_OK,
		};

		ag_txn_mknode(dirs, &o);
		*last = next;
		*n = len;
	}
	return dirs->error;
}

static int names_dir(const char *key)
{
	return key[0] && key[strlen(key) - 1] == '/';
}

int ag_object_find(struct ag_cluster *c, uint64_t dir, const char *key,
		   struct ag_attr *a)
{
	int rc = ag_path_names_check(key);

	if (!rc && (!*key || *key == '/'))
		rc = -EINVAL;
	if (!rc)
		rc = ag_walk(c, dir, key, NULL, NULL, a);
	if (rc)
		return rc;
	/* a directory answers only to its "name/" key */
	if (S_ISDIR(a->mode) && !names_dir(key))
		return -EISDIR;
	if (!S_ISDIR(a->mode) && (names_dir(key) || !S_ISREG(a->mode)))
		return -ENOENT;
	return 0;
}

/* In a versioned bucket, the commit of w keeps what key names as a
 * noncurrent version. */
static int keep_version(struct ag_cluster *c, struct ag_writer *w,
			uint64_t bucket, const char *key)
{
	int state, rc = ag_versioning_get(c, bucket, &state);

	if (rc || state == AG_VERSIONING_OFF)
		return rc;
	if (strlen(key) > AG_VERSION_KEY_LEN)
		return -ENAMETOOLONG;
	return ag_writer_version(w, bucket, key,
				 state == AG_VERSIONING_SUSPENDED
				 ? AG_VERSION_SUSPENDED : 0);
}

int ag_object_commit(struct ag_writer *w, uint64_t dir, const char *key,
		     uint32_t uid, uint32_t gid, struct ag_attr *a)
{
	struct ag_txn dirs;
	const char *name;
	size_t n;
	int rc = key_dirs(key, dir, uid, gid, &dirs, &name, &n);

	if (!rc && names_dir(key))
		rc = -EISDIR;
	if (!rc)
		rc = keep_version(ag_writer_cluster(w), w, dir, key);
	if (!rc)
		rc = ag_writer_commit_under(w, &dirs, dir, name, a);
	ag_txn_release(&dirs);
	return rc;
}

int ag_object_mkdir(struct ag_cluster *c, uint64_t dir, const char *key,
		    uint32_t uid, uint32_t gid, struct ag_attr *a)
{
	struct ag_op_mknode o = { .mode = S_IFDIR | 0755, .uid = uid,
				  .gid = gid, .flags = AG_MKNODE_EXIST_OK };
	struct ag_rpc_reply r;
	struct ag_txn t;
	size_t n;
	int rc = key_dirs(key, dir, uid, gid, &t, &o.name, &n);

	if (!rc && !names_dir(key))
		rc = -EINVAL;
	if (rc)
		goto out;
	/* an implicit directory of that name becomes explicit: it is
	 * now a key of its own, which outlives the keys below it */
	o.parent = t.nops ? 0 : dir;
	o.nlen = (uint32_t)n;
	ag_txn_mknode(&t, &o);
	rc = t.error;
	if (!rc)
		rc = ag_cl_commit(c, &t, &r);
	if (!rc)
		rc = ag_getattr(c, r.ino, a);
out:
	ag_txn_release(&t);
	return rc;
}

/* The directories a key's walk went through: (dir, name) of each. */
struct key_path {
	struct { uint64_t dir; const char *name; size_t nlen; } step[KEY_DEPTH];
	int n;
};

static int note_step(void *arg, uint64_t dir, const char *name, size_t nlen,
		     const struct ag_attr *found)
{
	struct key_path *kp = arg;

	(void)found;
	if (!name) {
		kp->n = 0; /* the walk starts (over) */
		return 0;
	}
	if (kp->n == KEY_DEPTH)
		return -ENAMETOOLONG;
	kp->step[kp->n].dir = dir;
	kp->step[kp->n].name = name;
	kp->step[kp->n++].nlen = nlen;
	return 0;
}

/* How remove_key removes a file: as it is, as the newest noncurrent
 * version of its key under a new delete marker (a versioned bucket),
 * or for good with the key's newest noncurrent version restored. */
enum removal { REMOVE_PLAIN, REMOVE_MARK, REMOVE_SUSPENDED, REMOVE_FOR_GOOD };
#define REMOVE_NO_PRUNE 0x100 /* or'ed in: the directories stay */

static int remove_key(struct ag_cluster *c, uint64_t dir, const char *key,
		      int cond, const uint8_t md5[16], unsigned how,
		      uint32_t uid, uint32_t gid)
{
	struct ag_op_version vo = {
		.bucket = dir, .key = key, .klen = (uint32_t)strlen(key),
		.flags = (how & ~REMOVE_NO_PRUNE) == REMOVE_SUSPENDED
				 ? AG_VERSION_SUSPENDED : 0,
	};
	int prune = !(how & REMOVE_NO_PRUNE);
	int versioned;
	struct key_path *kp = calloc(1, sizeof(*kp));
	struct ag_attr a;
	struct ag_txn t;
	char name[AG_NAME_MAX + 1];
	int rc, i;

	how &= ~REMOVE_NO_PRUNE;
	versioned = how == REMOVE_MARK || how == REMOVE_SUSPENDED;
	if (!kp)
		return -ENOMEM;
	ag_cl_txn(c, &t);
	rc = ag_object_find(c, dir, key, &a);
	if (versioned && !names_dir(key)) {
		if (vo.klen > AG_VERSION_KEY_LEN) {
			rc = -ENAMETOOLONG;
			goto out;
		}
		/* a key with no object gets its delete marker all the
		 * same, as S3 does; a condition then names nothing */
		if ((rc == -ENOENT || rc == -ENOTDIR) && !cond) {
			vo.action = AG_VERSION_MARK;
			ag_txn_version(&t, &vo);
			rc = t.error ? t.error : ag_cl_commit(c, &t, NULL);
			goto out;
		}
		vo.action = AG_VERSION_KEEP;
		if (!rc && S_ISREG(a.mode))
			ag_txn_version(&t, &vo);
	}
	if (!rc && cond && (S_ISDIR(a.mode) || (cond != AG_EXPECT_FILE &&
						cond != AG_EXPECT_ETAG)))
		rc = -EINVAL;
	/* the same walk again, noting the way: ag_object_find said what
	 * the key names, this says where */
	if (!rc)
		rc = ag_walk(c, dir, key, note_step, kp, &a);
	if (rc)
		goto out;
	i = kp->n - 1;
	memcpy(name, kp->step[i].name, kp->step[i].nlen);
	name[kp->step[i].nlen] = 0;
	if (cond) {
		struct ag_op_expect e = { .parent = kp->step[i].dir,
					  .cond = (uint32_t)cond, .name = name,
					  .nlen = (uint32_t)kp->step[i].nlen };

		if (cond == AG_EXPECT_ETAG)
			memcpy(e.etag, md5, 16);
		ag_txn_expect(&t, &e);
	}
	{
		struct ag_op_unlink o = {
			.parent = kp->step[i].dir, .name = name,
			.nlen = (uint32_t)kp->step[i].nlen,
			.flags = S_ISDIR(a.mode) ? AG_UNLINK_DIR : 0,
		};

		if (!S_ISDIR(a.mode) &&
		    ag_elem_open_here(c, kp->step[i].dir, name))
			o.flags |= AG_UNLINK_KEEP;
		ag_txn_unlink(&t, &o);
	}
	if (how == REMOVE_FOR_GOOD) {
		rc = ag_object_restore_ops(&t, dir, key, uid, gid);
		goto commit;
	}
	/* deepest first, in the same transaction: each goes only if the
	 * removal left it an empty implicit directory (AG_UNLINK_PRUNE) */
	while (prune && i-- > 0) {
		struct ag_op_unlink o = {
			.parent = kp->step[i].dir, .name = kp->step[i].name,
			.nlen = (uint32_t)kp->step[i].nlen,
			.flags = AG_UNLINK_PRUNE,
		};

		ag_txn_unlink(&t, &o);
	}
	if (versioned && !S_ISDIR(a.mode)) {
		vo.action = AG_VERSION_MARK;
		ag_txn_version(&t, &vo);
	}
	rc = t.error;
commit:
	if (!rc)
		rc = ag_cl_commit(c, &t, NULL);
out:
	ag_txn_release(&t);
	free(kp);
	return rc;
}

int ag_object_remove(struct ag_cluster *c, uint64_t dir, const char *key,
		     int cond, const uint8_t md5[16])
{
	int state, rc = ag_versioning_get(c, dir, &state);

	if (rc)
		return rc;
	return remove_key(c, dir, key, cond, md5,
			  state == AG_VERSIONING_ENABLED ? REMOVE_MARK
			  : state == AG_VERSIONING_SUSPENDED ? REMOVE_SUSPENDED
			  : REMOVE_PLAIN, 0, 0);
}

int ag_object_remove_marked(struct ag_cluster *c, uint64_t bucket,
			    const char *key, int state)
{
	return remove_key(c, bucket, key, 0, NULL,
			  (state == AG_VERSIONING_SUSPENDED ? REMOVE_SUSPENDED
							    : REMOVE_MARK) |
			  REMOVE_NO_PRUNE, 0, 0);
}

int ag_object_remove_current(struct ag_cluster *c, uint64_t bucket,
			     const char *key, uint32_t uid, uint32_t gid)
{
	return remove_key(c, bucket, key, 0, NULL, REMOVE_FOR_GOOD, uid, gid);
}

int ag_object_restore_ops(struct ag_txn *t, uint64_t bucket, const char *key,
			  uint32_t uid, uint32_t gid)
{
	struct ag_op_version vo = { .bucket = bucket, .key = key,
				    .klen = (uint32_t)strlen(key),
				    .action = AG_VERSION_RESTORE };
	const char **names = malloc(KEY_DEPTH * sizeof(*names)), *last;
	size_t *lens = malloc(KEY_DEPTH * sizeof(*lens));
	struct ag_txn dirs;
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	size_t n;
	int rc = key_dirs(key, bucket, uid, gid, &dirs, &last, &n), i, nd = 0;

	if (!names || !lens)
		rc = -ENOMEM;
	if (!rc)
		rc = ag_txn_parse(dirs.buf, dirs.len, &client, &txid, &it);
	while (!rc && nd < KEY_DEPTH && (rc = ag_txn_next(&it, &op)) == 1) {
		names[nd] = op.u.mknode.name;
		lens[nd++] = op.u.mknode.nlen;
		rc = ag_txn_mknode(t, &op.u.mknode);
	}
	if (!rc)
		rc = ag_txn_version(t, &vo);
	/* the directories made are MKNODE 0.. of t (it holds none before
	 * them): each goes again, deepest first, if nothing came into it */
	for (i = nd - 1; !rc && i >= 0; i--) {
		struct ag_op_unlink o = {
			.parent = i ? AG_TXN_MADE(i - 1) : bucket,
			.name = names[i], .nlen = (uint32_t)lens[i],
			.flags = AG_UNLINK_PRUNE,
		};

		rc = ag_txn_unlink(t, &o);
	}
	ag_txn_release(&dirs);
	free(names);
	free(lens);
	return rc;
}

/* MD5 of a's bytes, read as they are now. */
static int md5_of(struct ag_cluster *c, const struct ag_attr *a,
		  uint8_t md5[16])
{
	const size_t bs = 4 << 20;
	uint8_t *buf = malloc(AG_MIN(bs, AG_MAX(a->size, 1)));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int ml = 16;
	uint64_t off = 0;
	int rc = 0;

	if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	while (off < a->size) {
		ssize_t n = ag_read(c, a->ino, off, buf,
				    AG_MIN(bs, a->size - off));

		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (!n)
			break;
		if (!EVP_DigestUpdate(ctx, buf, n)) {
			rc = -EIO;
			goto out;
		}
		off += n;
	}
	if (!EVP_DigestFinal_ex(ctx, md5, &ml))
		rc = -EIO;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* What an S3 write said of its bytes (the part count of the multipart
 * form, the checksums) stands while its ETag does: once the data changed
 * over POSIX (the ETag flag is gone) it describes them no more. Drop it in
 * the transaction t that stores the new ETag, so that no reader ever
 * pairs the two. */
static int drop_stale_claims(struct ag_cluster *c, uint64_t ino,
			     struct ag_txn *t)
{
	static const char checksum[] = AG_XATTR_CHECKSUM_PREFIX;
	char *names, *p;
	ssize_t len = ag_listxattr(c, ino, NULL, 0);

	if (len <= 0)
		return (int)len;
	names = malloc(len);
	if (!names)
		return -ENOMEM;
	len = ag_listxattr(c, ino, names, len);
	for (p = names; len > 0 && p < names + len; p += strlen(p) + 1)
		if (!strcmp(p, AG_XATTR_PARTS) ||
		    !strncmp(p, checksum, sizeof(checksum) - 1))
			ag_txn_rmxattr(t, ino, p, strlen(p));
	free(names);
	return len < 0 ? (int)len : t->error;
}

/*
 * The one write a read may make, decided here: the MD5 of a file written
 * over POSIX is stored once hashed. A listing or a GET would otherwise
 * hash the whole file each time, and a conditional write or delete
 * (If-Match), which metad decides against the stored ETag, could never
 * match it. The store is best effort: never waited for (no metad: the
 * hash answers this once), and refused by metad when the data changed
 * since a was read (AG_SET_IF_SAME).
 */
int ag_etag(struct ag_cluster *c, const struct ag_attr *a, uint8_t md5[16])
{
	/* metad stores it only while size and mtime are what we hashed;
	 * ctime stays: tagging content is not a change of the element */
	struct ag_op_setattr o = {
		.ino = a->ino, .size = a->size, .mtime = a->mtime,
		.ctime = a->ctime,
		.mask = AG_SET_ETAG | AG_SET_IF_SAME | AG_SET_CTIME,
	};
	struct ag_txn t;
	int rc;

	if (!S_ISREG(a->mode))
		return S_ISDIR(a->mode) ? -EISDIR : -EINVAL;
	if (a->flags & AG_ATTR_ETAG) {
		memcpy(md5, a->etag, 16);
		return 0;
	}
	rc = md5_of(c, a, md5);
	if (rc || !c->rpc)
		return rc;
	memcpy(o.etag, md5, 16);
	ag_cl_txn(c, &t);
	rc = drop_stale_claims(c, a->ino, &t);
	ag_txn_setattr(&t, &o); /* last: it sets ctime back */
	/* a reader never waits for metad: with none there the hash
	 * answers this once and is not kept */
	if (!rc)
		rc = ag_cl_commit_try(c, &t, NULL);
	ag_txn_release(&t);
	/* changed since a was read (the data, or the claims listed): the
	 * hash answers for a, not kept */
	return rc == -EAGAIN || rc == -ENOTCONN || rc == -ENODATA ? 0 : rc;
}

void ag_etag_format(const uint8_t md5[16], unsigned nparts,
		    char out[AG_ETAG_MAX])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	out[0] = '"';
	for (i = 0; i < 16; i++) {
		out[1 + 2 * i] = hex[md5[i] >> 4];
		out[2 + 2 * i] = hex[md5[i] & 15];
	}
	if (nparts)
		snprintf(out + 33, AG_ETAG_MAX - 33, "-%u\"", nparts);
	else
		snprintf(out + 33, AG_ETAG_MAX - 33, "\"");
}

int ag_object_etag(struct ag_cluster *c, const struct ag_attr *a,
		   char out[AG_ETAG_MAX])
{
	static const uint8_t empty_md5[16] = {
		0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
		0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e,
	};
	uint8_t md5[16];
	unsigned nparts = 0;
	int rc;

	if (S_ISDIR(a->mode)) {
		ag_etag_format(empty_md5, 0, out);
		return 0;
	}
	rc = ag_etag(c, a, md5);
	if (rc)
		return rc;
	/* the multipart form only while the data is what was completed */
	rc = ag_object_parts(c, a, &nparts, NULL);
	if (rc)
		return rc;
	ag_etag_format(md5, nparts, out);
	return 0;
}

/* ---- users ---- */

static int user_parse(const char *access, const char *val, size_t len,
		      struct ag_user *u)
{
	char buf[256];

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, val, len);
	buf[len] = 0;
	memset(u, 0, sizeof(*u));
	snprintf(u->access, sizeof(u->access), "%s", access);
	if (sscanf(buf, "%64s %" SCNu32 " %" SCNu32 " %64s", u->secret,
		   &u->uid, &u->gid, u->name) != 4)
		return -EINVAL;
	return 0;
}

int ag_user_get(struct ag_cluster *c, const char *access, struct ag_user *u)
{
	char name[AG_NAME_MAX + 1], val[256];
	ssize_t n;

	if (!*access || strlen(access) >= sizeof(u->access) ||
	    strpbrk(access, " \t\n"))
		return -ENOENT;
	snprintf(name, sizeof(name), USER_PREFIX "%s", access);
	n = ag_getxattr(c, AG_ROOT, name, val, sizeof(val));
	if (n == -ENODATA)
		return -ENOENT;
	if (n < 0)
		return (int)n;
	return user_parse(access, val, n, u);
}

int ag_user_list(struct ag_cluster *c,
		 int (*cb)(void *arg, const struct ag_user *u), void *arg)
{
	char *names = NULL, *p;
	ssize_t len;
	int rc = 0;

	len = ag_listxattr(c, AG_ROOT, NULL, 0);
	if (len < 0)
		return (int)len;
	names = malloc(len + 1);
	if (!names)
		return -ENOMEM;
	len = ag_listxattr(c, AG_ROOT, names, len + 1);
	if (len < 0) {
		rc = (int)len;
		goto out;
	}
	for (p = names; !rc && p < names + len; p += strlen(p) + 1) {
		struct ag_user u;

		if (strncmp(p, USER_PREFIX, strlen(USER_PREFIX)))
			continue;
		if (ag_user_get(c, p + strlen(USER_PREFIX), &u))
			continue; /* removed meanwhile, or not ours */
		rc = cb(arg, &u);
	}
out:
	free(names);
	return rc;
}

static int same_name(void *arg, const struct ag_user *u)
{
	const char *name = arg;

	return !strcmp(u->name, name) || !strcmp(u->access, name);
}

int ag_user_add(struct ag_cluster *c, const struct ag_user *u)
{
	char name[AG_NAME_MAX + 1], val[256];
	int rc;

	if (!*u->name || !*u->access || !*u->secret ||
	    strpbrk(u->name, " \t\n") || strpbrk(u->access, " \t\n/") ||
	    strpbrk(u->secret, " \t\n"))
		return -EINVAL;
	rc = ag_user_list(c, same_name, (void *)u->name);
	if (rc)
		return rc < 0 ? rc : -EEXIST;
	snprintf(name, sizeof(name), USER_PREFIX "%s", u->access);
	snprintf(val, sizeof(val), "%s %" PRIu32 " %" PRIu32 " %s", u->secret,
		 u->uid, u->gid, u->name);
	return ag_setxattr(c, AG_ROOT, name, val, strlen(val),
			   AG_XATTR_CREATE);
}

struct find_user {
	const char *name;
	char access[sizeof(((struct ag_user *)0)->access)];
};

static int find_user(void *arg, const struct ag_user *u)
{
	struct find_user *f = arg;

	if (strcmp(u->name, f->name) && strcmp(u->access, f->name))
		return 0;
	snprintf(f->access, sizeof(f->access), "%s", u->access);
	return 1;
}

int ag_user_remove(struct ag_cluster *c, const char *name)
{
	struct find_user f = { .name = name };
	char xname[AG_NAME_MAX + 1];
	int rc = ag_user_list(c, find_user, &f);

	if (rc < 0)
		return rc;
	if (!rc)
		return -ENOENT;
	snprintf(xname, sizeof(xname), USER_PREFIX "%s", f.access);
	return ag_removexattr(c, AG_ROOT, xname);
}
