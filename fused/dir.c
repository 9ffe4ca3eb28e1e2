/*
 * dir.c - agora-fused's directory listings, with offsets that stay valid
 * across opendirs (what an NFS re-export needs).
 *
 * The offset ("cookie") of an entry is a 63-bit hash of its name, never
 * 0, 1 or 2 (the start, "." and ".."). opendir takes the whole listing
 * sorted by cookie; a read at offset X goes on with the first entry whose
 * cookie is above X. So an offset handed out by one opendir means the
 * same place in any later one, whatever was added or removed meanwhile.
 *
 * An NFS server reads a large directory in many opendirs (ganesha: one
 * per chunk of names, and more for lookups): the sorted listings of the
 * last few directories are kept, shared by every opendir that finds the
 * directory's mtime and ctime as they were when it was listed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fused.h"

struct dent {
	uint64_t cookie;
	uint64_t ino;
	unsigned type;   /* S_IFMT >> 12, as DT_* */
	char *name;
};

/* The names of one directory sorted by cookie, as of (mtime, ctime);
 * read-only once listed, freed with its last reference. */
struct listing {
	uint64_t ino, parent;
	int64_t mtime, ctime;
	struct dent *e;
	size_t n, cap;
	int refs;              /* under kept_lock */
};

struct dir_handle {
	pthread_mutex_t lock;  /* protects everything below */
	uint64_t ino;
	struct listing *l;
	int read_once;         /* a read at offset 0 after this re-lists */
};

#define LISTINGS_KEPT 8

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct listing *kept[LISTINGS_KEPT];
static unsigned kept_next; /* the slot to replace next */

/* FNV-1a, folded to 63 bits and kept clear of the reserved offsets. */
static uint64_t cookie_of(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ull;
	}
	h >>= 1;
	return h < 3 ? h + 3 : h;
}

static int by_cookie(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;

	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void listing_put(struct listing *l)
{
	size_t i;
	int last;

	if (!l)
		return;
	pthread_mutex_lock(&kept_lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&kept_lock);
	if (!last)
		return;
	for (i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	free(l);
}

static int add_dent(void *arg, const char *name, size_t nlen, uint64_t ino,
		    unsigned type)
{
	struct listing *l = arg;
	struct dent *e;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;

		e = realloc(l->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->e = e;
		l->cap = cap;
	}
	e = &l->e[l->n];
	e->name = strndup(name, nlen);
	if (!e->name)
		return -ENOMEM;
	e->cookie = cookie_of(name, nlen);
	e->ino = ino;
	e->type = type;
	l->n++;
	return 0;
}

/* A kept listing of a as it is now, with a reference; or NULL. */
static struct listing *kept_find(const struct ag_attr *a)
{
	struct listing *l = NULL;
	unsigned i;

	pthread_mutex_lock(&kept_lock);
	for (i = 0; i < LISTINGS_KEPT && !l; i++)
		if (kept[i] && kept[i]->ino == a->ino &&
		    kept[i]->mtime == a->mtime && kept[i]->ctime == a->ctime)
			l = kept[i];
	if (l)
		l->refs++;
	pthread_mutex_unlock(&kept_lock);
	return l;
}

/* Keep l (a new listing), in place of an older one of its directory or
 * of the slot used longest ago. */
static void kept_add(struct listing *l)
{
	struct listing *old;
	unsigned i, slot = LISTINGS_KEPT;

	pthread_mutex_lock(&kept_lock);
	for (i = 0; i < LISTINGS_KEPT && slot == LISTINGS_KEPT; i++)
		if (kept[i] && kept[i]->ino == l->ino)
			slot = i;
	if (slot == LISTINGS_KEPT)
		slot = kept_next++ % LISTINGS_KEPT;
	old = kept[slot];
	kept[slot] = l;
	l->refs++;
	pthread_mutex_unlock(&kept_lock);
	listing_put(old);
}

/* The listing of directory ino as it is now: kept, or listed. */
static int listing_get(struct ag_cluster *c, uint64_t ino,
		       struct listing **lp)
{
	struct listing *l;
	struct ag_attr a;
	int rc = ag_getattr(c, ino, &a);

	if (rc)
		return rc;
	l = kept_find(&a);
	if (l) {
		*lp = l;
		return 0;
	}
	/* stamped with the attributes read before the names: a change in
	 * between makes a listing newer than its stamp, never older */
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->refs = 1;
	l->ino = ino;
	l->parent = a.parent ? a.parent : ino;
	l->mtime = a.mtime;
	l->ctime = a.ctime;
	rc = ag_readdir(c, ino, NULL, add_dent, l);
	if (rc) {
		listing_put(l);
		return rc;
	}
	if (l->n) /* l->e may be NULL */
		qsort(l->e, l->n, sizeof(*l->e), by_cookie);
	kept_add(l);
	*lp = l;
	return 0;
}

static int dir_load(struct ag_cluster *c, struct dir_handle *d)
{
	struct listing *l;
	int rc = listing_get(c, d->ino, &l);

	if (rc)
		return rc;
	listing_put(d->l);
	d->l = l;
	return 0;
}

static void dir_free(struct dir_handle *d)
{
	if (!d)
		return;
	listing_put(d->l);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* A listing of ino, as opendir takes it. */
static int dir_open(struct ag_cluster *c, fuse_ino_t ino,
		    struct dir_handle **dp)
{
	struct dir_handle *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	d->ino = ino;
	/* a listing shows what other gateways committed before it */
	rc = ag_cluster_refresh(c);
	if (!rc)
		rc = dir_load(c, d);
	if (rc) {
		dir_free(d);
		return rc;
	}
	*dp = d;
	return 0;
}

void gw_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d;
	int rc = dir_open(gw_of(req)->c, ino, &d);

	if (!rc) {
		fi->fh = gw_fh_new(d, ino);
		if (!fi->fh) {
			dir_free(d);
			rc = -ENOMEM;
		}
	}
	if (rc) {
		gw_reply_err(req, rc);
		return;
	}
	if (fuse_reply_open(req, fi) == -ENOENT)
		dir_free(gw_fh_drop(fi->fh));
}

/* The listing of fi; one opened before a restart of the gateway is
 * listed again under its number (fh.c). Offsets are hashes of names, so
 * a listing read halfway goes on where it was. */
static int dir_of(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		  struct dir_handle **dp)
{
	struct dir_handle *d = gw_fh_get(fi->fh), *held;
	int rc;

	if (d) {
		*dp = d;
		return 0;
	}
	rc = dir_open(gw_of(req)->c, ino, &d);
	if (rc)
		return rc;
	held = gw_fh_adopt(fi->fh, d, ino);
	if (held != d)
		dir_free(d);
	*dp = held;
	return held ? 0 : -ENOMEM;
}

/* First entry with a cookie above off. */
static size_t first_after(const struct listing *d, uint64_t off)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d->e[mid].cookie <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Add one entry to buf; 0 when it does not fit. plus: with attributes,
 * which need a getattr (an entry gone since the listing is skipped: -1). */
static long add_entry(fuse_req_t req, char *buf, size_t room, int plus,
		      const char *name, uint64_t ino, unsigned type,
		      uint64_t next, int dot)
{
	struct fuse_entry_param e;
	struct ag_attr a;
	size_t n;

	if (!plus) {
		struct stat st = { .st_ino = ino, .st_mode = type << 12 };

		n = fuse_add_direntry(req, buf, room, name, &st, next);
		return n > room ? 0 : (long)n;
	}
	if (dot) {
		/* the kernel takes no entry for "." and "..": node id 0 */
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = ino;
		e.attr.st_mode = S_IFDIR;
	} else {
		if (ag_file_getattr(gw_of(req)->c, ino, &a))
			return -1;
		gw_entry(req, &a, &e);
	}
	n = fuse_add_direntry_plus(req, buf, room, name, &e, next);
	return n > room ? 0 : (long)n;
}

static void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi, int plus)
{
	struct dir_handle *d;
	char *buf = malloc(size);
	size_t pos = 0, i;
	long n;
	int rc = dir_of(req, ino, fi, &d);

	if (rc || !buf) {
		gw_reply_err(req, rc ? rc : -ENOMEM);
		free(buf);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (off == 0 && d->read_once)
		rc = dir_load(gw_of(req)->c, d); /* rewinddir */
	d->read_once = 1;
	if (!rc && off < 1) {
		n = add_entry(req, buf + pos, size - pos, plus, ".", d->ino,
			      S_IFDIR >> 12, 1, 1);
		if (n > 0) {
			pos += n;
			off = 1;
		}
	}
	if (!rc && off == 1) {
		n = add_entry(req, buf + pos, size - pos, plus, "..",
			      d->l->parent, S_IFDIR >> 12, 2, 1);
		if (n > 0) {
			pos += n;
			off = 2;
		}
	}
	for (i = off < 2 ? d->l->n : first_after(d->l, off);
	     !rc && i < d->l->n; i++) {
		const struct dent *e = &d->l->e[i];

		n = add_entry(req, buf + pos, size - pos, plus, e->name,
			      e->ino, e->type, e->cookie, 0);
		if (!n)
			break;
		if (n > 0)
			pos += n;
	}
	pthread_mutex_unlock(&d->lock);
	if (rc)
		gw_reply_err(req, rc);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

void gw_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	list(req, ino, size, off, fi, 0);
}

void gw_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	list(req, ino, size, off, fi, 1);
}

void gw_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dir_free(gw_fh_drop(fi->fh));
	fuse_reply_err(req, 0);
}

void gw_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	gw_reply_err(req, ag_cluster_sync(gw_of(req)->c));
}
