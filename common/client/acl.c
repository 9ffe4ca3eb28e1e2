/*
 * acl.c - POSIX ACLs as the mode they stand for.
 *
 * An element's permissions are its mode and nothing else. Tools that
 * preserve permissions (cp -a, setfacl, rsync -A) set them as a POSIX ACL,
 * the xattr system.posix_acl_access, where chmod(2) would do: an ACL that
 * says no more than a mode (one owner, one group and one other entry) is
 * that mode, exactly as chmod sets it, and is not kept as an xattr, so
 * getxattr of it answers ENODATA and the kernel and libacl read the
 * permissions from the mode. An ACL that says more (named users or
 * groups, a mask) and a directory's default ACL, which would decide the
 * modes of new nodes, are refused with EOPNOTSUPP: nothing here would
 * enforce them, and an ACL kept but not enforced would be a permission
 * that silently does not hold.
 *
 * The value is the layout the kernel passes (posix_acl_xattr): u32
 * version (2), then per entry u16 tag, u16 permission bits (rwx), u32 id.
 *
 * It is also the one home of the permission rule itself (ag_may,
 * ag_may_path), for a gateway that acts for users the kernel never sees:
 * agora-s3d checks each S3 user's uid and gid against the modes the
 * mount sets, so a file made 0600 in a 0700 directory stays its owner's
 * whichever face asks.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "agora.h"
#include "elem.h"
#include "keys.h"
#include "util.h"

#define ACL_VERSION 2
#define ACL_HDR 4
#define ACL_ENTRY 8

/* entry tags */
#define ACL_USER_OBJ 0x01
#define ACL_USER 0x02
#define ACL_GROUP_OBJ 0x04
#define ACL_GROUP 0x08
#define ACL_MASK 0x10
#define ACL_OTHER 0x20

int ag_xattr_acl(const char *name)
{
	return !strcmp(name, AG_ACL_ACCESS) || !strcmp(name, AG_ACL_DEFAULT);
}

/* The permission bits (0777) an access ACL stands for; -EOPNOTSUPP when
 * it says more than a mode, -EINVAL when it is malformed. */
static int acl_mode(const uint8_t *v, size_t len)
{
	unsigned seen = 0, perm[0x21] = { 0 };
	size_t i;

	if (len < ACL_HDR || (len - ACL_HDR) % ACL_ENTRY ||
	    get_le32(v) != ACL_VERSION)
		return -EINVAL;
	for (i = ACL_HDR; i < len; i += ACL_ENTRY) {
		unsigned tag = get_le16(v + i), p = get_le16(v + i + 2);

		if (p & ~7u)
			return -EINVAL;
		switch (tag) {
		case ACL_USER_OBJ: case ACL_GROUP_OBJ: case ACL_OTHER:
			if (seen & tag)
				return -EINVAL;
			seen |= tag;
			perm[tag] = p;
			break;
		case ACL_USER: case ACL_GROUP: case ACL_MASK:
			seen |= tag;
			break;
		default:
			return -EINVAL;
		}
	}
	if (seen & (ACL_USER | ACL_GROUP | ACL_MASK))
		return -EOPNOTSUPP;
	if (seen != (ACL_USER_OBJ | ACL_GROUP_OBJ | ACL_OTHER))
		return -EINVAL;
	return perm[ACL_USER_OBJ] << 6 | perm[ACL_GROUP_OBJ] << 3 |
	       perm[ACL_OTHER];
}

int ag_acl_set(struct ag_cluster *c, uint64_t ino, const char *name,
	       const void *val, size_t len, int keep_sgid)
{
	struct ag_attr a, in = { 0 };
	int mode, rc;

	if (!strcmp(name, AG_ACL_DEFAULT))
		return -EOPNOTSUPP; /* see the top of the file */
	if (strcmp(name, AG_ACL_ACCESS))
		return -EINVAL;
	mode = acl_mode(val, len);
	if (mode < 0)
		return mode;
	rc = ag_getattr(c, ino, &a);
	if (rc)
		return rc;
	if (S_ISLNK(a.mode))
		return -EOPNOTSUPP; /* a symlink has no permissions of its own */
	/* what chmod(2) would make of it, set-group-ID rule included */
	in.mode = (a.mode & ~(uint32_t)0777) | (uint32_t)mode;
	if (!keep_sgid)
		in.mode &= ~(uint32_t)S_ISGID;
	return ag_setattr(c, ino, AG_SET_MODE, &in, NULL);
}

int ag_may(const struct ag_attr *a, uint32_t uid, uint32_t gid,
	   unsigned want)
{
	unsigned bits;

	if (!uid) /* as CAP_DAC_OVERRIDE: all but running what no one may */
		return !(want & AG_MAY_EXEC) || S_ISDIR(a->mode) ||
		       (a->mode & 0111) ? 0 : -EACCES;
	if (uid == a->uid)
		bits = a->mode >> 6;
	else if (gid == a->gid)
		bits = a->mode >> 3;
	else
		bits = a->mode;
	return (bits & want & 7) == (want & 7) ? 0 : -EACCES;
}

int ag_may_path(struct ag_cluster *c, const struct ag_attr *dir,
		const char *key, uint32_t uid, uint32_t gid,
		unsigned want_dir)
{
	struct ag_attr cur = *dir, next;
	const char *p = key, *name, *rest;
	char buf[AG_NAME_MAX + 1];
	size_t n;
	int rc;

	/* uid 0 passes every directory (ag_may): no walk, no lookups on
	 * each of its requests */
	if (!uid && S_ISDIR(dir->mode))
		return 0;
	for (;;) {
		const char *after;

		rc = ag_may(&cur, uid, gid, AG_MAY_EXEC);
		if (rc)
			return rc;
		n = ag_path_next(&p, &name);
		after = p;
		if (!n || !ag_path_next(&after, &rest))
			break; /* cur is the parent of the last name */
		if (n > AG_NAME_MAX)
			break; /* the lookup that follows refuses the key */
		memcpy(buf, name, n);
		buf[n] = 0;
		rc = ag_lookup(c, cur.ino, buf, &next);
		if (rc == -ENOENT || (!rc && !S_ISDIR(next.mode)))
			break; /* the deepest directory there is */
		if (rc)
			return rc;
		cur = next;
	}
	return want_dir ? ag_may(&cur, uid, gid, want_dir) : 0;
}
