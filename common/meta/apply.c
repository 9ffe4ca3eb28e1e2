/*
 * apply.c - the first half of metad's engine: apply transactions to the
 * tree atomically, with an undo log (meta.c opens, commits, cleans up);
 * the namespace ops, and the dispatcher that hands the data ops to
 * refs.c (apply_int.h).
 *
 * Invariants kept by every op (refs.c adds those of chunks and segments):
 *   - a directory entry always names an existing inode;
 *   - nlink of a file is its number of names; of a directory, 2 plus its
 *     subdirectories; an inode with nlink 0 is held by an ORPHAN record;
 *   - the STATS record is the sum of what it counts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apply.h"
#include "apply_int.h"
#include "btree.h"
#include "drive.h"
#include "format.h"
#include "keys.h"
#include "meta_int.h"
#include "pager.h"
#include "space.h"
#include "txn.h"
#include "util.h"

#define MAX_CLIENTS 4096

/* ---- undoable tree access ---- */

static int remember(struct tx *tx, const void *k, size_t kl)
{
	uint8_t val[AG_VAL_MAX];
	size_t vl = sizeof(val);
	struct undo *u;
	int rc;

	if (tx->nundo == tx->undo_cap) {
		size_t cap = tx->undo_cap ? 2 * tx->undo_cap : 64;
		struct undo *n = realloc(tx->undo, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		tx->undo = n;
		tx->undo_cap = cap;
	}
	u = &tx->undo[tx->nundo];
	memset(u, 0, sizeof(*u));
	rc = ag_tree_get(tx->m->tree, k, kl, val, &vl);
	if (rc && rc != -ENOENT)
		return rc;
	u->key = malloc(kl);
	if (!u->key)
		return -ENOMEM;
	memcpy(u->key, k, kl);
	u->klen = kl;
	if (!rc) {
		u->val = malloc(vl ? vl : 1);
		if (!u->val) {
			free(u->key);
			return -ENOMEM;
		}
		memcpy(u->val, val, vl);
		u->vlen = vl;
	}
	tx->nundo++;
	return 0;
}

int ag_tx_put(struct tx *tx, const void *k, size_t kl, const void *v,
	      size_t vl)
{
	int rc = remember(tx, k, kl);

	return rc ? rc : ag_tree_put(tx->m->tree, k, kl, v, vl);
}

int ag_tx_del(struct tx *tx, const void *k, size_t kl)
{
	int rc = remember(tx, k, kl);

	return rc ? rc : ag_tree_del(tx->m->tree, k, kl);
}

int ag_tx_get(struct tx *tx, const void *k, size_t kl, void *v, size_t *vl)
{
	return ag_tree_get(tx->m->tree, k, kl, v, vl);
}

void ag_tx_rollback(struct tx *tx)
{
	size_t i = tx->nundo;

	if (tx->events) /* it may have named directories that now go */
		ag_evlog_forget(tx->m);
	while (i--) {
		struct undo *u = &tx->undo[i];

		/* restoring can only fail on memory exhaustion, after which
		 * the batch is abandoned by the caller */
		if (u->val)
			ag_tree_put(tx->m->tree, u->key, u->klen, u->val,
				    u->vlen);
		else
			ag_tree_del(tx->m->tree, u->key, u->klen);
	}
}

void ag_tx_free(struct tx *tx)
{
	size_t i;

	for (i = 0; i < tx->nundo; i++) {
		free(tx->undo[i].key);
		free(tx->undo[i].val);
	}
	free(tx->undo);
	free(tx->made);
	ag_tx_events_free(tx);
}

/* ---- records ---- */

int ag_tx_inode_get(struct tx *tx, uint64_t ino, struct ag_attr *in)
{
	uint8_t k[AG_KEYBUF], v[AG_INODE_LEN];
	size_t vl = sizeof(v);
	int rc;

	if (!ino)
		ino = tx->last_ino;
	else if (ino & AG_TXN_MADE_BIT)
		ino = (ino & ~AG_TXN_MADE_BIT) < tx->nmade
			      ? tx->made[ino & ~AG_TXN_MADE_BIT] : 0;
	rc = ag_tx_get(tx, k, ag_key_inode(k, ino), v, &vl);
	if (rc)
		return rc == -ERANGE ? AG_CORRUPT("inode %llu",
						  (unsigned long long)ino)
				     : rc;
	return ag_inode_decode(v, vl, ino, in);
}

int ag_tx_inode_put(struct tx *tx, const struct ag_attr *in)
{
	uint8_t k[AG_KEYBUF], v[AG_INODE_LEN];

	return ag_tx_put(tx, k, ag_key_inode(k, in->ino), v,
			 ag_inode_encode(v, in));
}

int ag_tx_dirent_get(struct tx *tx, uint64_t parent, const char *name,
		      size_t nlen, uint64_t *ino)
{
	uint8_t k[AG_KEYBUF], v[AG_DIRENT_LEN];
	size_t vl = sizeof(v);
	unsigned type;
	int rc = ag_tx_get(tx, k, ag_key_dirent(k, parent, name, nlen), v, &vl);

	if (rc == -ERANGE)
		return AG_CORRUPT("dirent value length %zu", vl);
	return rc ? rc : ag_dirent_decode(v, vl, parent, ino, &type);
}

int ag_tx_dirent_put(struct tx *tx, uint64_t parent, const char *name,
		      size_t nlen, const struct ag_attr *in)
{
	uint8_t k[AG_KEYBUF], v[AG_DIRENT_LEN];

	return ag_tx_put(tx, k, ag_key_dirent(k, parent, name, nlen), v,
			 ag_dirent_encode(v, parent, in->ino,
					  (in->mode & S_IFMT) >> 12));
}

static int dirent_del(struct tx *tx, uint64_t parent, const char *name,
		      size_t nlen)
{
	uint8_t k[AG_KEYBUF];

	return ag_tx_del(tx, k, ag_key_dirent(k, parent, name, nlen));
}

/* 1 when the directory has no entries. */
static int dir_empty(struct tx *tx, uint64_t dir)
{
	uint8_t k[AG_KEYBUF];
	struct ag_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	size_t kl = ag_key_dirent(k, dir, "", 0);
	int rc;

	rc = ag_tree_seek(tx->m->tree, k, kl, &c);
	if (rc)
		return rc;
	rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl);
	if (rc == 1)
		rc = !(ckl > kl && !memcmp(ck, k, kl));
	else if (rc == 0)
		rc = 1;
	ag_cursor_free(c);
	/* a bucket's versions hold it as its keys do */
	return rc == 1 ? !ag_tx_has_versions(tx, dir) : rc;
}

static int name_valid(const char *name, size_t nlen)
{
	if (!nlen)
		return -EINVAL;
	if (nlen > AG_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', nlen) || memchr(name, 0, nlen))
		return -EINVAL;
	if ((nlen == 1 && name[0] == '.') ||
	    (nlen == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	return 0;
}

static int is_dir(const struct ag_attr *in)
{
	return S_ISDIR(in->mode);
}

/* Delete every record of an inode with its data. */
static int destroy_inode(struct tx *tx, const struct ag_attr *in)
{
	uint8_t k[AG_KEYBUF], (*keys)[AG_KEYBUF] = NULL;
	size_t *lens = NULL, n = 0, cap = 0, i, pl;
	struct ag_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc;

	rc = ag_tx_punch(tx, in->ino, 0, UINT64_MAX);
	if (rc)
		return rc;
	pl = ag_key_xattr(k, in->ino, "", 0);
	rc = ag_tree_seek(tx->m->tree, k, pl, &c);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		if (ckl < pl || memcmp(ck, k, pl))
			break;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			keys = realloc(keys, cap * AG_KEYBUF);
			lens = realloc(lens, cap * sizeof(*lens));
			if (!keys || !lens) {
				rc = -ENOMEM;
				break;
			}
		}
		memcpy(keys[n], ck, ckl);
		lens[n++] = ckl;
	}
	ag_cursor_free(c);
	for (i = 0; rc >= 0 && i < n; i++)
		rc = ag_tx_del(tx, keys[i], lens[i]);
	free(keys);
	free(lens);
	if (rc < 0)
		return rc;
	rc = ag_tx_del(tx, k, ag_key_orphan(k, in->ino));
	if (rc && rc != -ENOENT)
		return rc;
	tx->stats.inodes--;
	return ag_tx_del(tx, k, ag_key_inode(k, in->ino));
}

/* One name of in went away. */
int ag_tx_drop_link(struct tx *tx, struct ag_attr *in, uint32_t flags)
{
	uint8_t k[AG_KEYBUF], v[8];
	uint64_t holder;
	int rc;

	in->ctime = tx->now;
	if (is_dir(in))
		return destroy_inode(tx, in);
	if (in->nlink)
		in->nlink--;
	if (in->nlink)
		return ag_tx_inode_put(tx, in);
	/* still open here (KEEP) or on another gateway (holds.c): an
	 * orphan of the holder until its last close */
	holder = flags & AG_UNLINK_KEEP ? tx->client
					 : ag_holds_other(&tx->m->holds,
							  in->ino, 0);
	if (!holder)
		return destroy_inode(tx, in);
	put_le64(v, holder);
	rc = ag_tx_put(tx, k, ag_key_orphan(k, in->ino), v, 8);
	return rc ? rc : ag_tx_inode_put(tx, in);
}

int ag_tx_touch_dir(struct tx *tx, struct ag_attr *dir, int nlink_delta)
{
	dir->nlink += nlink_delta;
	dir->mtime = dir->ctime = tx->now;
	return ag_tx_inode_put(tx, dir);
}

static int get_dir(struct tx *tx, uint64_t ino, struct ag_attr *dir)
{
	int rc = ag_tx_inode_get(tx, ino, dir);

	if (rc)
		return rc;
	return is_dir(dir) ? 0 : -ENOTDIR;
}

/* ---- ops ---- */

static int xattr_pieces(struct tx *tx, const struct ag_op_xattr *o,
			uint64_t ino, uint32_t vlen);

/* A symlink's target, in the records of a long xattr value (keys.h). */
static int put_target(struct tx *tx, uint64_t ino, const char *target,
		      uint32_t tlen)
{
	const struct ag_op_xattr x = {
		.ino = ino, .name = AG_XATTR_SYMLINK,
		.nlen = strlen(AG_XATTR_SYMLINK), .value = target,
		.vlen = tlen,
	};
	uint8_t k[AG_KEYBUF];
	int rc;

	_Static_assert(AG_SYMLINK_MAX <= AG_XATTR_MAX, "a target fits");
	if (!tlen)
		return -EINVAL;
	if (tlen > AG_SYMLINK_MAX)
		return -ENAMETOOLONG;
	rc = ag_tx_put(tx, k, ag_key_xattr(k, ino, x.name, x.nlen), target,
		  AG_MIN(tlen, AG_VAL_MAX));
	return rc ? rc : xattr_pieces(tx, &x, ino, tlen);
}

/* The inode an MKNODE made or found becomes the transaction's current
 * one (ino 0) and AG_TXN_MADE(i) of the i-th MKNODE. */
static int made(struct tx *tx, uint64_t ino)
{
	if (tx->nmade == tx->made_cap) {
		uint32_t cap = tx->made_cap ? 2 * tx->made_cap : 8;
		uint64_t *n = realloc(tx->made, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		tx->made = n;
		tx->made_cap = cap;
	}
	tx->made[tx->nmade++] = ino;
	tx->last_ino = ino;
	return 0;
}

static int op_mknode(struct tx *tx, const struct ag_op_mknode *o)
{
	struct ag_attr in, dir;
	uint8_t k[AG_KEYBUF], v[8];
	uint64_t existing;
	int rc, orphan = o->flags & AG_MKNODE_ORPHAN;

	switch (o->mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFIFO:
	case S_IFCHR: case S_IFBLK: case S_IFSOCK:
		break;
	default:
		return -EINVAL;
	}
	if (orphan && S_ISDIR(o->mode))
		return -EINVAL;
	if (!orphan) {
		rc = name_valid(o->name, o->nlen);
		if (rc)
			return rc;
		rc = get_dir(tx, o->parent, &dir);
		if (rc)
			return rc;
		rc = ag_tx_dirent_get(tx, dir.ino, o->name, o->nlen, &existing);
		if (!rc) {
			struct ag_attr ex;

			if (!(o->flags & AG_MKNODE_EXIST_OK) ||
			    !S_ISDIR(o->mode))
				return -EEXIST;
			rc = ag_tx_inode_get(tx, existing, &ex);
			if (rc)
				return rc;
			if (!is_dir(&ex))
				return -EEXIST;
			rc = made(tx, ex.ino);
			if (rc)
				return rc;
			if ((ex.flags & AG_INODE_IMPLICIT) &&
			    !(o->flags & AG_MKNODE_IMPLICIT)) {
				ex.flags &= ~AG_INODE_IMPLICIT;
				return ag_tx_inode_put(tx, &ex);
			}
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
	}
	memset(&in, 0, sizeof(in));
	if (tx->want_ino) {
		/* the inode a lost commit made, which its client was told of
		 * (txn.h): a restarted count never gave it to another */
		struct ag_attr taken;

		rc = ag_tx_inode_get(tx, tx->want_ino, &taken);
		if (rc != -ENOENT)
			return rc ? rc : -EEXIST;
		in.ino = tx->want_ino;
		tx->want_ino = 0;
		if (in.ino >= tx->m->next_ino)
			tx->m->next_ino = in.ino + 1;
	} else {
		in.ino = tx->m->next_ino++;
	}
	in.mode = o->mode;
	in.uid = o->uid;
	in.gid = o->gid;
	in.rdev = o->rdev;
	in.nlink = orphan ? 0 : S_ISDIR(o->mode) ? 2 : 1;
	in.atime = in.mtime = in.ctime = in.btime = tx->now;
	in.parent = orphan ? 0 : o->parent;
	if (S_ISDIR(o->mode) && (o->flags & AG_MKNODE_IMPLICIT))
		in.flags |= AG_INODE_IMPLICIT;
	if (S_ISLNK(o->mode)) {
		in.size = o->tlen;
		rc = put_target(tx, in.ino, o->target, o->tlen);
		if (rc)
			return rc;
	}
	rc = ag_tx_inode_put(tx, &in);
	if (rc)
		return rc;
	tx->stats.inodes++;
	rc = made(tx, in.ino);
	if (rc)
		return rc;
	if (orphan) {
		put_le64(v, tx->client);
		return ag_tx_put(tx, k, ag_key_orphan(k, in.ino), v, 8);
	}
	rc = ag_tx_dirent_put(tx, dir.ino, o->name, o->nlen, &in);
	if (rc)
		return rc;
	return ag_tx_touch_dir(tx, &dir, S_ISDIR(o->mode) ? 1 : 0);
}

static int op_unlink(struct tx *tx, const struct ag_op_unlink *o);

/* AG_UNLINK_PRUNE: the name goes only if it is an empty implicit
 * directory; anything else (gone already, explicit, not empty, not a
 * directory) is left as it is, and is success. */
static int prune(struct tx *tx, const struct ag_op_unlink *o)
{
	struct ag_op_unlink rm = *o;
	struct ag_attr dir, in;
	uint64_t ino;
	int rc;

	rc = name_valid(o->name, o->nlen);
	if (!rc)
		rc = get_dir(tx, o->parent, &dir);
	if (!rc)
		rc = ag_tx_dirent_get(tx, dir.ino, o->name, o->nlen, &ino);
	if (!rc)
		rc = ag_tx_inode_get(tx, ino, &in);
	if (rc == -ENOENT || rc == -ENOTDIR || rc == -EINVAL)
		return 0;
	if (rc)
		return rc;
	if (!is_dir(&in) || !(in.flags & AG_INODE_IMPLICIT))
		return 0;
	rc = dir_empty(tx, ino);
	if (rc <= 0)
		return rc;
	rm.flags = AG_UNLINK_DIR;
	return op_unlink(tx, &rm);
}

static int op_unlink(struct tx *tx, const struct ag_op_unlink *o)
{
	struct ag_attr dir, in;
	uint64_t ino;
	int rc;

	if (o->flags & AG_UNLINK_PRUNE)
		return prune(tx, o);
	rc = name_valid(o->name, o->nlen);
	if (rc)
		return rc == -EINVAL ? -ENOENT : rc;
	rc = get_dir(tx, o->parent, &dir);
	if (rc)
		return rc;
	rc = ag_tx_dirent_get(tx, dir.ino, o->name, o->nlen, &ino);
	if (rc)
		return rc;
	rc = ag_tx_inode_get(tx, ino, &in);
	if (rc)
		return rc;
	if (is_dir(&in)) {
		if (!(o->flags & (AG_UNLINK_DIR | AG_UNLINK_ANY)))
			return -EISDIR;
		rc = dir_empty(tx, ino);
		if (rc < 0)
			return rc;
		if (!rc)
			return -ENOTEMPTY;
	} else if (o->flags & AG_UNLINK_DIR) {
		return -ENOTDIR;
	}
	rc = dirent_del(tx, dir.ino, o->name, o->nlen);
	if (rc)
		return rc;
	rc = ag_tx_touch_dir(tx, &dir, is_dir(&in) ? -1 : 0);
	if (rc)
		return rc;
	return ag_tx_drop_link(tx, &in, o->flags);
}

/* -EINVAL when dir is ancestor or the directory itself of ino's new
 * parent: moving a directory into its own subtree. */
static int check_not_ancestor(struct tx *tx, uint64_t moving, uint64_t parent)
{
	int depth = 0;

	while (parent != AG_ROOT_INO) {
		struct ag_attr p;
		int rc;

		if (parent == moving)
			return -EINVAL;
		rc = ag_tx_inode_get(tx, parent, &p);
		if (rc)
			return rc;
		if (++depth > 4096 || !p.parent)
			return AG_CORRUPT("directory %llu: broken parent chain",
					  (unsigned long long)parent);
		parent = p.parent;
	}
	return moving == AG_ROOT_INO ? -EINVAL : 0;
}

static int op_rename(struct tx *tx, const struct ag_op_rename *o)
{
	struct ag_attr sdir, ddir, src, dst;
	uint64_t sino, dino;
	int rc, have_dst, same_dir = o->src == o->dst;

	if ((o->flags & AG_RENAME_NOREPLACE) && (o->flags & AG_RENAME_EXCHANGE))
		return -EINVAL;
	rc = name_valid(o->sname, o->slen);
	if (!rc)
		rc = name_valid(o->dname, o->dlen);
	if (rc)
		return rc;
	rc = get_dir(tx, o->src, &sdir);
	if (!rc)
		rc = get_dir(tx, o->dst, &ddir);
	if (!rc)
		rc = ag_tx_dirent_get(tx, o->src, o->sname, o->slen, &sino);
	if (!rc)
		rc = ag_tx_inode_get(tx, sino, &src);
	if (rc)
		return rc;
	rc = ag_tx_dirent_get(tx, o->dst, o->dname, o->dlen, &dino);
	if (rc && rc != -ENOENT)
		return rc;
	have_dst = !rc;
	if (have_dst && dino == sino)
		return 0; /* same inode: POSIX says do nothing */
	if (have_dst) {
		rc = ag_tx_inode_get(tx, dino, &dst);
		if (rc)
			return rc;
	}
	if (is_dir(&src) && o->src != o->dst) {
		rc = check_not_ancestor(tx, sino, o->dst);
		if (rc)
			return rc;
	}
	if (o->flags & AG_RENAME_EXCHANGE) {
		if (!have_dst)
			return -ENOENT;
		if (is_dir(&dst) && o->src != o->dst) {
			rc = check_not_ancestor(tx, dino, o->src);
			if (rc)
				return rc;
		}
		rc = ag_tx_dirent_put(tx, o->src, o->sname, o->slen, &dst);
		if (!rc)
			rc = ag_tx_dirent_put(tx, o->dst, o->dname, o->dlen, &src);
		if (rc)
			return rc;
		src.ctime = dst.ctime = tx->now;
		if (!same_dir) {
			int delta = is_dir(&src) - is_dir(&dst);

			src.parent = o->dst;
			dst.parent = o->src;
			sdir.nlink -= delta;
			ddir.nlink += delta;
		}
		rc = ag_tx_inode_put(tx, &src);
		if (!rc)
			rc = ag_tx_inode_put(tx, &dst);
		if (!rc && !same_dir)
			rc = ag_tx_touch_dir(tx, &ddir, 0);
		return rc ? rc : ag_tx_touch_dir(tx, &sdir, 0);
	}
	if (have_dst) {
		if (o->flags & AG_RENAME_NOREPLACE)
			return -EEXIST;
		if (is_dir(&dst) && !is_dir(&src))
			return -EISDIR;
		if (!is_dir(&dst) && is_dir(&src))
			return -ENOTDIR;
		if (is_dir(&dst)) {
			rc = dir_empty(tx, dino);
			if (rc < 0)
				return rc;
			if (!rc)
				return -ENOTEMPTY;
			ddir.nlink--;
		}
		rc = ag_tx_drop_link(tx, &dst, (o->flags & AG_RENAME_KEEP) ?
				   AG_UNLINK_KEEP : 0);
		if (rc)
			return rc;
	}
	rc = dirent_del(tx, o->src, o->sname, o->slen);
	if (!rc)
		rc = ag_tx_dirent_put(tx, o->dst, o->dname, o->dlen, &src);
	if (rc)
		return rc;
	src.ctime = tx->now;
	if (!same_dir)
		src.parent = o->dst;
	rc = ag_tx_inode_put(tx, &src);
	if (rc)
		return rc;
	if (same_dir)
		return ag_tx_touch_dir(tx, &sdir, have_dst && is_dir(&dst) ? -1 : 0);
	rc = ag_tx_touch_dir(tx, &sdir, is_dir(&src) ? -1 : 0);
	if (!rc)
		rc = ag_tx_touch_dir(tx, &ddir, is_dir(&src) ? 1 : 0);
	return rc;
}

static int op_link(struct tx *tx, const struct ag_op_link *o)
{
	struct ag_attr in, dir, old;
	uint8_t k[AG_KEYBUF];
	uint64_t existing;
	int rc;

	rc = name_valid(o->name, o->nlen);
	if (rc)
		return rc;
	rc = ag_tx_inode_get(tx, o->ino, &in);
	if (rc)
		return rc;
	if (is_dir(&in))
		return -EPERM;
	rc = get_dir(tx, o->parent, &dir);
	if (rc)
		return rc;
	rc = ag_tx_dirent_get(tx, dir.ino, o->name, o->nlen, &existing);
	if (!rc) {
		if (!(o->flags & AG_LINK_REPLACE))
			return -EEXIST;
		if (existing == in.ino) {
			tx->last_ino = in.ino;
			return 0;
		}
		rc = ag_tx_inode_get(tx, existing, &old);
		if (rc)
			return rc;
		if (is_dir(&old))
			return -EISDIR;
		rc = ag_tx_drop_link(tx, &old, 0);
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	if (rc)
		return rc;
	if (!in.nlink) {
		rc = ag_tx_del(tx, k, ag_key_orphan(k, in.ino));
		if (rc && rc != -ENOENT)
			return rc;
		in.parent = dir.ino;
	}
	in.nlink++;
	in.ctime = tx->now;
	rc = ag_tx_inode_put(tx, &in);
	if (!rc)
		rc = ag_tx_dirent_put(tx, dir.ino, o->name, o->nlen, &in);
	if (!rc)
		rc = ag_tx_touch_dir(tx, &dir, 0);
	if (!rc)
		tx->last_ino = in.ino; /* what the ops after it mean by 0 */
	return rc;
}

static int op_setattr(struct tx *tx, const struct ag_op_setattr *o)
{
	struct ag_attr in;
	int rc = ag_tx_inode_get(tx, o->ino, &in);

	if (rc)
		return rc;
	if ((o->mask & AG_SET_IF_SAME) &&
	    (in.size != o->size || in.mtime != o->mtime))
		return -EAGAIN;
	if (o->mask & AG_SET_MODE)
		in.mode = (in.mode & S_IFMT) | (o->mode & 07777);
	if (o->mask & AG_SET_UID)
		in.uid = o->uid;
	if (o->mask & AG_SET_GID)
		in.gid = o->gid;
	if (o->mask & AG_SET_SIZE) {
		if (is_dir(&in))
			return -EISDIR;
		if (!S_ISREG(in.mode))
			return -EINVAL;
		if (o->size < in.size) {
			rc = ag_tx_punch(tx, in.ino, o->size, UINT64_MAX);
			if (rc)
				return rc;
		}
		if (o->size != in.size) {
			in.size = o->size;
			in.flags &= ~AG_INODE_ETAG;
			in.mtime = tx->now;
		}
	}
	if (o->mask & AG_SET_ATIME)
		in.atime = o->atime;
	if (o->mask & AG_SET_MTIME)
		in.mtime = o->mtime;
	in.ctime = (o->mask & AG_SET_CTIME) ? o->ctime : tx->now;
	if (o->mask & AG_SET_ETAG) {
		memcpy(in.etag, o->etag, 16);
		in.flags |= AG_INODE_ETAG;
	}
	return ag_tx_inode_put(tx, &in);
}

/* The records after the first of a long xattr value (keys.h): write
 * those of value[0..vlen), drop what an older, longer value left. */
static int xattr_pieces(struct tx *tx, const struct ag_op_xattr *o,
			uint64_t ino, uint32_t vlen)
{
	uint8_t k[AG_KEYBUF];
	const uint8_t *val = o->value;
	unsigned p;
	int rc = 0;

	for (p = 1; !rc && p < AG_XATTR_PIECES; p++) {
		size_t off = (size_t)p * AG_VAL_MAX;
		size_t kl = ag_key_xattr_piece(k, ino, o->name, o->nlen, p);

		if (off < vlen) {
			rc = ag_tx_put(tx, k, kl, val + off,
				  AG_MIN(AG_VAL_MAX, vlen - off));
		} else {
			rc = ag_tx_del(tx, k, kl);
			if (rc == -ENOENT)
				return 0;
		}
	}
	return rc;
}

static int op_xattr(struct tx *tx, enum ag_op_type type,
		    const struct ag_op_xattr *o)
{
	uint8_t k[AG_KEYBUF], v[AG_VAL_MAX];
	size_t kl, vl = sizeof(v);
	struct ag_attr in;
	int rc;

	if (!o->nlen || o->nlen > AG_NAME_MAX || o->name[0] == '\001' ||
	    memchr(o->name, 0, o->nlen))
		return -EINVAL;
	rc = ag_tx_inode_get(tx, o->ino, &in);
	if (rc)
		return rc;
	kl = ag_key_xattr(k, in.ino, o->name, o->nlen);
	rc = ag_tx_get(tx, k, kl, v, &vl);
	if (rc && rc != -ENOENT)
		return rc;
	if (type == AG_OP_RMXATTR) {
		if (rc)
			return -ENODATA;
		rc = ag_tx_del(tx, k, kl);
		if (!rc)
			rc = xattr_pieces(tx, o, in.ino, 0);
	} else {
		if (!rc && (o->flags & AG_XATTR_CREATE))
			return -EEXIST;
		if (rc && (o->flags & AG_XATTR_REPLACE))
			return -ENODATA;
		if (o->vlen > AG_XATTR_MAX)
			return -E2BIG;
		rc = ag_tx_put(tx, k, kl, o->value,
			       AG_MIN(o->vlen, AG_VAL_MAX));
		if (!rc)
			rc = xattr_pieces(tx, o, in.ino, o->vlen);
	}
	if (rc)
		return rc;
	in.ctime = tx->now;
	return ag_tx_inode_put(tx, &in);
}

int ag_tx_drop_orphan(struct tx *tx, uint64_t ino)
{
	uint8_t k[AG_KEYBUF], v[8];
	size_t vl = sizeof(v);
	uint64_t holder;
	struct ag_attr in;
	int rc = ag_tx_inode_get(tx, ino, &in);

	if (rc)
		return rc;
	if (in.nlink)
		return 0; /* linked again meanwhile: nothing to drop */
	rc = ag_tx_get(tx, k, ag_key_orphan(k, in.ino), v, &vl);
	if (rc)
		return rc;
	/* another gateway still has it open: the orphan is its now */
	holder = ag_holds_other(&tx->m->holds, in.ino, tx->client);
	if (holder) {
		put_le64(v, holder);
		return ag_tx_put(tx, k, ag_key_orphan(k, in.ino), v, 8);
	}
	return destroy_inode(tx, &in);
}

/* Checked against the tree as the ops before it in the transaction left
 * it, so a condition and the change it guards are one step for every
 * other writer. */
static int op_expect(struct tx *tx, const struct ag_op_expect *o)
{
	struct ag_attr dir, in;
	uint64_t ino;
	int rc;

	if (o->cond < AG_EXPECT_ABSENT || o->cond > AG_EXPECT_ETAG)
		return -EINVAL;
	rc = name_valid(o->name, o->nlen);
	if (!rc)
		rc = get_dir(tx, o->parent, &dir);
	if (!rc)
		rc = ag_tx_dirent_get(tx, dir.ino, o->name, o->nlen, &ino);
	if (rc == -ENOENT)
		return o->cond == AG_EXPECT_ABSENT ? 0 : -ENOENT;
	if (rc)
		return rc;
	if (o->cond == AG_EXPECT_ABSENT)
		return -AG_ECONDITION;
	rc = ag_tx_inode_get(tx, ino, &in);
	if (rc)
		return rc;
	if (!S_ISREG(in.mode))
		return -AG_ECONDITION;
	if (o->cond == AG_EXPECT_ETAG && (!(in.flags & AG_INODE_ETAG) ||
					  memcmp(in.etag, o->etag, 16)))
		return -AG_ECONDITION;
	return 0;
}

static int apply_one(struct tx *tx, const struct ag_op *op)
{
	switch (op->type) {
	case AG_OP_MKNODE:
		return op_mknode(tx, &op->u.mknode);
	case AG_OP_UNLINK:
		return op_unlink(tx, &op->u.unlink);
	case AG_OP_RENAME:
		return op_rename(tx, &op->u.rename);
	case AG_OP_LINK:
		return op_link(tx, &op->u.link);
	case AG_OP_SETATTR:
		return op_setattr(tx, &op->u.setattr);
	case AG_OP_SETXATTR:
	case AG_OP_RMXATTR:
		return op_xattr(tx, op->type, &op->u.xattr);
	case AG_OP_WRITE:
		return ag_tx_write(tx, &op->u.write);
	case AG_OP_STRIPE:
		return ag_tx_stripe(tx, &op->u.stripe);
	case AG_OP_SEG_LEASE:
		return ag_tx_seg_lease(tx);
	case AG_OP_SEG_RELEASE:
		return ag_tx_seg_release(tx, &op->u.seg);
	case AG_OP_DROP_ORPHAN:
		return ag_tx_drop_orphan(tx, op->u.ino);
	case AG_OP_CLONE:
		return ag_tx_clone(tx, &op->u.clone);
	case AG_OP_EXPECT:
		return op_expect(tx, &op->u.expect);
	case AG_OP_MOVE:
		return ag_tx_move(tx, &op->u.move);
	case AG_OP_CLEAN_LEASE:
		return ag_tx_clean_lease(tx);
	case AG_OP_EVENT:
		return ag_tx_event_op(tx, &op->u.event);
	case AG_OP_TRIGGER:
		return ag_tx_trigger(tx, &op->u.trigger);
	case AG_OP_INO:
		if (op->u.ino <= AG_ROOT_INO || (op->u.ino & AG_TXN_MADE_BIT))
			return -EINVAL;
		tx->want_ino = op->u.ino;
		return 0;
	case AG_OP_VERSION:
		return ag_tx_version(tx, &op->u.version);
	}
	return -EINVAL;
}

/* An op, and the event it makes (evlog.c). */
static int apply_op(struct tx *tx, const struct ag_op *op)
{
	struct ag_event_look look;
	int rc;

	ag_tx_event_before(tx, op, &look);
	rc = apply_one(tx, op);
	return rc ? rc : ag_tx_event_after(tx, op, &look);
}

int ag_meta_apply(struct ag_meta *m, const uint8_t *buf, size_t len,
		  struct ag_meta_result *res)
{
	uint8_t k[AG_KEYBUF], v[AG_CLIENT_REC_MAX];
	size_t kl, vl = sizeof(v);
	const struct ag_client_entry *done;
	struct ag_client_rec cr = { 0 };
	struct ag_txn_iter it;
	struct ag_op op;
	struct tx tx;
	uint64_t txid;
	int rc, reclaimed = 0;

again:
	memset(res, 0, sizeof(*res));
	if (ag_meta_broken(m)) {
		res->status = -EIO;
		return 0;
	}
	memset(&tx, 0, sizeof(tx));
	tx.m = m;
	tx.now = (int64_t)ag_now_ns();
	tx.stats = m->stats;
	rc = ag_txn_parse(buf, len, &tx.client, &txid, &it);
	if (rc)
		return rc;
	ag_meta_client_alive(m, tx.client);
	kl = ag_key_client(k, tx.client);
	if (txid && !ag_tree_get(m->tree, k, kl, v, &vl))
		ag_client_rec_decode(v, vl, &cr);
	done = txid ? ag_client_rec_find(&cr, txid) : NULL;
	if (done) {
		/* a retry of a transaction that is already applied */
		res->replay = 1;
		res->ino = done->ino;
		res->seg = done->seg;
		res->fill = done->fill;
		return 0;
	}
	while ((rc = ag_txn_next(&it, &op)) == 1) {
		rc = apply_op(&tx, &op);
		if (rc)
			break;
	}
	if (rc == -ENOSPC && !reclaimed &&
	    ag_space_segments_waiting(&m->space)) {
		/* refused for space that is free but waits for its reuse
		 * round: make the round now and try once more */
		ag_tx_rollback(&tx);
		ag_tx_free(&tx);
		reclaimed = 1;
		rc = ag_meta_reclaim(m);
		if (rc)
			return rc;
		goto again;
	}
	if (rc == -AG_EPROTO) {
		ag_tx_rollback(&tx);
		ag_tx_free(&tx);
		return rc;
	}
	if (!rc)
		rc = ag_tx_events_append(&tx);
	if (!rc && txid) {
		struct ag_client_entry e = { .txid = txid, .ino = tx.last_ino,
					  .seg = tx.seg, .fill = tx.fill };

		ag_client_rec_add(&cr, &e);
		vl = ag_client_rec_encode(v, &cr, m->rec.gen + 1);
		rc = ag_tx_put(&tx, k, kl, v, vl);
	}
	if (rc) {
		ag_tx_rollback(&tx);
	} else {
		m->stats = tx.stats;
		res->ino = tx.last_ino;
		res->seg = tx.seg;
		res->fill = tx.fill;
	}
	res->status = rc;
	m->pending++;
	ag_tx_free(&tx);
	return 0;
}
