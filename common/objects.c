/*
 * objects.c - what the S3 face needs from the core beyond files and
 * directories: implicit directories, ETags computed after the fact, and
 * the store of S3 users (access keys mapped to POSIX owners).
 *
 * Users live as xattrs of the root directory in the "agora." namespace,
 * which the POSIX faces hide (ag_xattr_private), so secrets are reachable
 * only through libagora.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster.h"
#include "keys.h"
#include "txn.h"
#include "util.h"

#define USER_PREFIX "agora.s3.user."

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

int ag_mkdir_implicit(struct ag_cluster *c, uint64_t parent, const char *name,
		      uint32_t uid, uint32_t gid, struct ag_attr *a)
{
	struct ag_op_mknode o = {
		.parent = parent, .mode = S_IFDIR | 0755, .uid = uid,
		.gid = gid, .name = name,
		.flags = AG_MKNODE_IMPLICIT | AG_MKNODE_EXIST_OK,
	};
	struct ag_rpc_reply r;
	struct ag_txn t;
	size_t n = strnlen(name, AG_NAME_MAX + 1);
	int rc;

	if (!n || memchr(name, '/', n))
		return -EINVAL;
	if (n > AG_NAME_MAX)
		return -ENAMETOOLONG;
	o.nlen = n;
	ag_cl_txn(c, &t);
	ag_txn_mknode(&t, &o);
	rc = ag_cl_commit(c, &t, &r);
	ag_txn_release(&t);
	if (rc)
		return rc;
	return ag_getattr(c, r.ino, a);
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
	ag_txn_setattr(&t, &o);
	/* a reader never waits for metad: with none there the hash
	 * answers this once and is not kept */
	rc = ag_cl_commit_try(c, &t, NULL);
	ag_txn_release(&t);
	/* changed since a was read: the hash answers for a, not kept */
	return rc == -EAGAIN || rc == -ENOTCONN ? 0 : rc;
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
