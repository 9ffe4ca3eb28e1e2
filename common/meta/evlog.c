/*
 * evlog.c - metad's half of the event log: the events a transaction
 * makes, appended to the log (EVENT records, event.h) inside that
 * transaction, so that they are ordered by commit and durable with it
 * (or rolled back with it); the trimming of the log; the TRIGGER op.
 *
 * Events are made from the ops as apply.c applies them: a look before
 * an op (what a name held) and after it (what changed); only "closed"
 * is said by the client (an EVENT op: metad cannot tell a write that
 * ends a file from one that does not). They wait in the transaction
 * until its last op, then are given the protocol the transaction named
 * (EVENT ORIGIN), the sizes and ETags its ops left, and their sequence
 * numbers from the SUPER record "events" (the next one), read and
 * written through the undo log like any other record.
 *
 * The log keeps the last [events] keep events (agora.conf(5)) and every
 * event a trigger has not had yet: an append trims a few of the oldest
 * that are below both bounds, so the log stays near its bound.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agora.h"
#include "apply_int.h"
#include "btree.h"
#include "event.h"
#include "keys.h"
#include "meta_int.h"
#include "txn.h"
#include "util.h"

#define EVENTS_KEEP_DEFAULT 100000
/* the oldest events an append may trim, past the number it appends */
#define TRIM_EXTRA 64
/* dead letters a REMOVE drops at most (more are left to fsck) */
#define DEAD_MAX 100000

struct note {
	uint8_t kind;
	uint64_t ino, parent, oparent;
	uint32_t mode;
	uint64_t size;
	char name[AG_NAME_MAX + 1], oname[AG_NAME_MAX + 1];
	uint8_t nlen_set;
	uint16_t nlen, olen;
	/* the paths, found as the op ran (its directories may go later in
	 * the transaction); "" when unknown */
	char path[PATH_MAX], opath[PATH_MAX];
};

struct ag_tx_events {
	struct note *n;
	size_t count, cap;
};

void ag_tx_events_free(struct tx *tx)
{
	if (!tx->events)
		return;
	free(tx->events->n);
	free(tx->events);
	tx->events = NULL;
}

static struct note *note_new(struct tx *tx, uint8_t kind, uint64_t ino)
{
	struct ag_tx_events *ev = tx->events;
	struct note *n;

	if (!ev) {
		ev = calloc(1, sizeof(*ev));
		if (!ev)
			return NULL;
		tx->events = ev;
	}
	if (ev->count == ev->cap) {
		size_t cap = ev->cap ? 2 * ev->cap : 4;
		struct note *nn = realloc(ev->n, cap * sizeof(*nn));

		if (!nn)
			return NULL;
		ev->n = nn;
		ev->cap = cap;
	}
	n = &ev->n[ev->count++];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->ino = ino;
	return n;
}

static void set_name(char *dst, uint16_t *len, const char *name, size_t nlen)
{
	nlen = AG_MIN(nlen, AG_NAME_MAX);
	memcpy(dst, name, nlen);
	dst[nlen] = 0;
	*len = (uint16_t)nlen;
}

/* The inode number an op's ino field means (0, AG_TXN_MADE), or 0. */
static uint64_t real_ino(struct tx *tx, uint64_t ino)
{
	struct ag_attr a;

	return ag_tx_inode_get(tx, ino, &a) ? 0 : a.ino;
}

/* The inode name in dir holds, or 0. */
static uint64_t entry_of(struct tx *tx, uint64_t dir, const char *name,
			 size_t nlen)
{
	uint8_t k[AG_KEYBUF], v[AG_DIRENT_LEN];
	size_t vl = sizeof(v);
	uint64_t ino;
	unsigned type;

	if (!dir || !nlen || nlen > AG_NAME_MAX ||
	    ag_tx_get(tx, k, ag_key_dirent(k, dir, name, nlen), v, &vl) ||
	    ag_dirent_decode(v, vl, dir, &ino, &type))
		return 0;
	return ino;
}

/* ---- events from ops ---- */

void ag_tx_event_before(struct tx *tx, const struct ag_op *op,
			struct ag_event_look *l)
{
	struct ag_attr a;

	memset(l, 0, sizeof(*l));
	switch (op->type) {
	case AG_OP_MKNODE:
		if (op->u.mknode.flags & AG_MKNODE_ORPHAN)
			return;
		l->dir = real_ino(tx, op->u.mknode.parent);
		l->ino = entry_of(tx, l->dir, op->u.mknode.name,
				  op->u.mknode.nlen);
		break;
	case AG_OP_UNLINK:
		l->dir = real_ino(tx, op->u.unlink.parent);
		l->ino = entry_of(tx, l->dir, op->u.unlink.name,
				  op->u.unlink.nlen);
		break;
	case AG_OP_RENAME:
		l->dir = real_ino(tx, op->u.rename.src);
		l->dir2 = real_ino(tx, op->u.rename.dst);
		l->ino = entry_of(tx, l->dir, op->u.rename.sname,
				  op->u.rename.slen);
		break;
	case AG_OP_LINK:
		l->dir = real_ino(tx, op->u.link.parent);
		l->ino = entry_of(tx, l->dir, op->u.link.name,
				  op->u.link.nlen);
		if (!ag_tx_inode_get(tx, op->u.link.ino, &a))
			l->orphan = !a.nlink;
		return;
	default:
		return;
	}
	if (l->ino && !ag_tx_inode_get(tx, l->ino, &a)) {
		l->mode = a.mode;
		l->size = a.size;
	}
}

/* The path of name in dir into out (PATH_MAX bytes), "" when unknown. */
static void path_of(struct tx *tx, uint64_t dir, const char *name,
		    char *out)
{
	struct ag_meta *m = tx->m;
	size_t len;

	out[0] = 0;
	if (!dir || (!m->evpaths && ag_event_paths_new(&m->evpaths)))
		return;
	if (ag_event_dir_path(m->tree, m->evpaths, dir, out)) {
		out[0] = 0;
		return;
	}
	len = strlen(out);
	if ((size_t)snprintf(out + len, PATH_MAX - len, "/%s", name) >=
	    PATH_MAX - len)
		out[0] = 0;
}

/* The event appended last, whole, with the bytes of its record: the
 * next append codes against it without reading back to its anchor when
 * the record at its seq is still those bytes (the transaction that
 * appended it committed; the records before it never change). */
struct ag_evlast {
	uint64_t seq; /* 0: none */
	size_t vlen;
	uint8_t v[AG_EVENT_LEN_MAX];
	struct ag_event e;
	char name[AG_EVENT_TEXT_MAX];
};

void ag_evlog_forget(struct ag_meta *m)
{
	ag_event_paths_forget(m->evpaths);
	if (m->evlast)
		m->evlast->seq = 0;
}

void ag_evlog_close(struct ag_meta *m)
{
	ag_event_paths_free(m->evpaths);
	m->evpaths = NULL;
	free(m->evlast);
	m->evlast = NULL;
}

/* A note of kind with the name name[0..nlen) in dir. */
static int note_named(struct tx *tx, uint8_t kind, uint64_t ino, uint64_t dir,
		      const char *name, size_t nlen)
{
	struct note *n = note_new(tx, kind, ino);

	if (!n)
		return -ENOMEM;
	n->parent = dir;
	set_name(n->name, &n->nlen, name, nlen);
	n->nlen_set = 1;
	path_of(tx, dir, n->name, n->path);
	return 0;
}

int ag_tx_event_created(struct tx *tx, uint64_t ino, uint64_t dir,
			const char *name, size_t nlen)
{
	return note_named(tx, AG_EV_CREATED, ino, dir, name, nlen);
}

int ag_tx_event_after(struct tx *tx, const struct ag_op *op,
		      const struct ag_event_look *l)
{
	const struct ag_op_rename *r = &op->u.rename;
	const struct ag_op_setattr *sa = &op->u.setattr;
	struct note *n;
	uint64_t ino;
	int rc;

	switch (op->type) {
	case AG_OP_MKNODE:
		if ((op->u.mknode.flags & AG_MKNODE_ORPHAN) || l->ino)
			return 0; /* no name, or one that was there */
		return note_named(tx, AG_EV_CREATED, tx->last_ino, l->dir,
				  op->u.mknode.name, op->u.mknode.nlen);
	case AG_OP_UNLINK:
		if (!l->ino || entry_of(tx, l->dir, op->u.unlink.name,
					op->u.unlink.nlen))
			return 0; /* a prune that left the name */
		rc = note_named(tx, AG_EV_DELETED, l->ino, l->dir,
				op->u.unlink.name, op->u.unlink.nlen);
		if (!rc) {
			n = &tx->events->n[tx->events->count - 1];
			n->mode = l->mode;
			n->size = l->size;
		}
		return rc;
	case AG_OP_RENAME:
		rc = note_named(tx, AG_EV_RENAMED, l->ino, l->dir2, r->dname,
				r->dlen);
		if (!rc) {
			n = &tx->events->n[tx->events->count - 1];
			n->oparent = l->dir;
			set_name(n->oname, &n->olen, r->sname, r->slen);
			path_of(tx, l->dir, n->oname, n->opath);
		}
		return rc;
	case AG_OP_LINK:
		ino = real_ino(tx, op->u.link.ino);
		rc = 0;
		if (!l->ino)
			rc = note_named(tx, AG_EV_CREATED, ino, l->dir,
					op->u.link.name, op->u.link.nlen);
		/* an orphan given its name: a whole PUT, published */
		if (!rc && l->orphan)
			rc = note_named(tx, AG_EV_CLOSED, ino, l->dir,
					op->u.link.name, op->u.link.nlen);
		return rc;
	case AG_OP_SETATTR:
		/* an ETag a reader hashed, or times alone: no change */
		if (!(sa->mask & (AG_SET_MODE | AG_SET_UID | AG_SET_GID |
				  AG_SET_SIZE | AG_SET_MTIME)))
			return 0;
		ino = real_ino(tx, sa->ino);
		break;
	case AG_OP_SETXATTR:
	case AG_OP_RMXATTR:
		ino = real_ino(tx, op->u.xattr.ino);
		break;
	default:
		return 0;
	}
	return note_new(tx, AG_EV_METADATA, ino) ? 0 : -ENOMEM;
}

int ag_tx_event_op(struct tx *tx, const struct ag_op_event *o)
{
	switch (o->kind) {
	case AG_EV_ORIGIN:
		tx->proto = o->proto;
		return 0;
	case AG_EV_CLOSED:
		return note_new(tx, AG_EV_CLOSED, real_ino(tx, o->ino))
			       ? 0 : -ENOMEM;
	}
	return -EINVAL;
}

/* ---- appending ---- */

static int seq_get(struct tx *tx, uint64_t *next)
{
	uint8_t k[AG_KEYBUF], v[8];
	size_t vl = sizeof(v);
	int rc = ag_tx_get(tx, k, ag_key_super(k, "events"), v, &vl);

	if (rc == -ENOENT) {
		*next = 1;
		return 0;
	}
	if (rc)
		return rc;
	if (vl != 8)
		return AG_CORRUPT("events counter of %zu bytes", vl);
	*next = get_le64(v);
	return 0;
}

static int seq_put(struct tx *tx, uint64_t next)
{
	uint8_t k[AG_KEYBUF], v[8];

	put_le64(v, next);
	return ag_tx_put(tx, k, ag_key_super(k, "events"), v, 8);
}

/* Whether note i says nothing the others do not: metadata changes of an
 * element the transaction also made, closed or deleted, and repeats. */
static int redundant(const struct ag_tx_events *ev, size_t i)
{
	const struct note *n = &ev->n[i];
	size_t j;

	if (!n->ino)
		return 1;
	for (j = 0; j < ev->count; j++) {
		const struct note *o = &ev->n[j];

		if (j == i || o->ino != n->ino)
			continue;
		if (n->kind == AG_EV_METADATA &&
		    (o->kind != AG_EV_METADATA || j < i) &&
		    o->kind != AG_EV_RENAMED)
			return 1;
		if (n->kind == AG_EV_CLOSED && o->kind == AG_EV_CLOSED && j < i)
			return 1;
	}
	return 0;
}

/* Fill e from note n and the inode as the transaction left it. */
static void event_of(struct tx *tx, struct note *n, struct ag_event *e)
{
	struct ag_attr a;
	int have = n->kind != AG_EV_DELETED &&
		   !ag_tx_inode_get(tx, n->ino, &a);

	memset(e, 0, sizeof(*e));
	e->kind = n->kind;
	e->proto = (uint8_t)tx->proto;
	e->gateway = tx->client;
	e->ino = n->ino;
	e->time = tx->now;
	e->gen = tx->m->rec.gen + 1;
	if (have) {
		e->ftype = (uint8_t)((a.mode & S_IFMT) >> 12);
		e->size = a.size;
		if (a.flags & AG_INODE_ETAG) {
			memcpy(e->etag, a.etag, 16);
			e->flags |= AG_EVENT_ETAG;
		}
		if (!n->nlen_set && a.parent &&
		    !ag_event_name_in_dir(tx->m->tree, a.parent, n->ino,
					  n->name, sizeof(n->name))) {
			n->parent = a.parent;
			n->nlen = (uint16_t)strlen(n->name);
			path_of(tx, n->parent, n->name, n->path);
		}
	} else {
		e->ftype = (uint8_t)((n->mode & S_IFMT) >> 12);
		e->size = n->size;
	}
	e->parent = n->parent;
	e->oparent = n->oparent;
	e->name = n->name;
	e->nlen = n->nlen;
	e->oname = n->oname;
	e->olen = n->olen;
	/* whole paths when they fit, and are known */
	if (n->path[0] && (n->kind != AG_EV_RENAMED || n->opath[0]) &&
	    strlen(n->path) + strlen(n->opath) <= AG_EVENT_TEXT_MAX) {
		e->flags |= AG_EVENT_PATH;
		e->name = n->path;
		e->nlen = (uint16_t)strlen(n->path);
		e->oname = n->opath;
		e->olen = (uint16_t)strlen(n->opath);
	}
}

/* The lowest cursor of all triggers (UINT64_MAX with none). */
static int lowest_cursor(struct tx *tx, uint64_t *low)
{
	uint8_t k[AG_KEYBUF];
	size_t kl = ag_key_cursor(k, "", 0), ckl, cvl;
	const void *ck, *cv;
	struct ag_cursor *c;
	int rc = ag_tree_seek(tx->m->tree, k, kl, &c);

	*low = UINT64_MAX;
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		struct ag_trigger_cursor cur;
		const char *name;
		size_t nlen;
		uint64_t seq;

		if (ag_key_cursor_decode(ck, ckl, &name, &nlen, &seq)) {
			rc = 0;
			break;
		}
		if (seq)
			continue; /* a dead letter */
		rc = ag_cursor_decode(cv, cvl, &cur);
		if (rc)
			break;
		*low = AG_MIN(*low, cur.next);
	}
	ag_cursor_free(c);
	return rc;
}

/* Drop up to max of the oldest events below bound, whole runs from one
 * anchor to the next only (event.h): an event's name may need those
 * before it back to its anchor. */
static int trim(struct tx *tx, uint64_t bound, size_t max)
{
	uint64_t seqs[128];
	uint8_t k[AG_KEYBUF];
	size_t kl = ag_key_event(k, 0), ckl, cvl, n = 0, i;
	const void *ck, *cv;
	struct ag_cursor *c;
	int rc;

	_Static_assert(AG_ARRAY_LEN(seqs) > AG_EVENT_ANCHOR,
		       "a trim takes a whole run at least");
	max = AG_MIN(max, AG_ARRAY_LEN(seqs));
	bound -= bound % AG_EVENT_ANCHOR;
	rc = ag_tree_seek(tx->m->tree, k, kl, &c);
	if (rc)
		return rc;
	while (n < max && (rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		if (ag_key_event_decode(ck, ckl, &seqs[n]) || seqs[n] >= bound)
			break;
		n++;
	}
	ag_cursor_free(c);
	if (rc < 0)
		return rc;
	/* stopped by max, perhaps within a run: only the runs it took
	 * whole go */
	if (n == max && n) {
		uint64_t upto = seqs[n - 1] + 1;

		upto -= upto % AG_EVENT_ANCHOR;
		while (n && seqs[n - 1] >= upto)
			n--;
	}
	/* the tree is changed only with no cursor open on it */
	for (i = 0, rc = 0; !rc && i < n; i++)
		rc = ag_tx_del(tx, k, ag_key_event(k, seqs[i]));
	return rc;
}

/* Event seq made whole into *e (its name in buf, AG_EVENT_TEXT_MAX
 * bytes): the one appended last when its record is unchanged, else read
 * from its anchor on; *have 0 when seq is not recorded (or cannot be
 * made whole: the next event is then not coded against it, and stands
 * alone). */
static int event_at(struct tx *tx, uint64_t seq, struct ag_event *e,
		    char *buf, int *have)
{
	uint8_t k[AG_KEYBUF], v[AG_EVENT_LEN_MAX];
	const struct ag_evlast *last = tx->m->evlast;
	size_t vl = sizeof(v);
	uint64_t s;
	int rc;

	*have = 0;
	if (!seq)
		return 0;
	if (last && last->seq == seq &&
	    !ag_tx_get(tx, k, ag_key_event(k, seq), v, &vl) &&
	    vl == last->vlen && !memcmp(v, last->v, vl)) {
		*e = last->e;
		memcpy(buf, last->name, last->e.nlen);
		e->name = buf;
		*have = 1;
		return 0;
	}
	for (s = seq - seq % AG_EVENT_ANCHOR; s <= seq; s++) {
		struct ag_event x;

		vl = sizeof(v);
		rc = ag_tx_get(tx, k, ag_key_event(k, s), v, &vl);
		if (rc == -ENOENT || (!rc && ag_event_decode(v, vl, &x))) {
			*have = 0;
			continue;
		}
		if (rc)
			return rc;
		*have = !ag_event_join(&x, *have ? e : NULL, buf);
		*e = x;
	}
	return 0;
}

/* Keep event seq (whole, its record v[0..vl)) as the one appended last;
 * without memory, nothing is kept and the next append reads back. */
static void remember(struct ag_meta *m, uint64_t seq, const uint8_t *v,
		     size_t vl, const struct ag_event *e)
{
	struct ag_evlast *last = m->evlast;

	if (!last)
		last = m->evlast = malloc(sizeof(*last));
	if (!last)
		return;
	last->seq = seq;
	last->vlen = vl;
	memcpy(last->v, v, vl);
	last->e = *e;
	memcpy(last->name, e->name, e->nlen);
	last->e.name = last->name;
	last->e.oname = NULL; /* not coded against */
	last->e.olen = 0;
}

int ag_tx_events_append(struct tx *tx)
{
	struct ag_tx_events *ev = tx->events;
	uint8_t k[AG_KEYBUF], v[AG_EVENT_LEN_MAX];
	char name[AG_EVENT_TEXT_MAX];
	struct ag_event prev = { .name = name };
	uint64_t next, keep, low;
	size_t i, appended = 0;
	int rc, have = 0;

	if (!ev || !ev->count)
		return 0;
	rc = seq_get(tx, &next);
	/* each event is coded against the one before (event.h) */
	if (!rc)
		rc = event_at(tx, next - 1, &prev, name, &have);
	for (i = 0; !rc && i < ev->count; i++) {
		struct ag_event e;
		size_t vl;

		if (redundant(ev, i))
			continue;
		event_of(tx, &ev->n[i], &e);
		if (next % AG_EVENT_ANCHOR == 0)
			have = 0;
		vl = ag_event_encode(v, &e, have ? &prev : NULL);
		rc = ag_tx_put(tx, k, ag_key_event(k, next), v, vl);
		/* the name as the record holds it: cut to the room */
		prev = e;
		prev.nlen = AG_MIN(e.nlen, AG_EVENT_TEXT_MAX);
		memcpy(name, e.name, prev.nlen);
		prev.name = name;
		have = 1;
		remember(tx->m, next, v, vl, &prev);
		next++;
		appended++;
		/* the paths below a directory that moved or went changed */
		if ((e.kind == AG_EV_RENAMED || e.kind == AG_EV_DELETED) &&
		    e.ftype == (S_IFDIR >> 12))
			ag_evlog_forget(tx->m);
	}
	if (!rc && appended)
		rc = seq_put(tx, next);
	if (rc || !appended)
		return rc;
	keep = tx->m->cfg->events_keep > 0 ? (uint64_t)tx->m->cfg->events_keep
					   : EVENTS_KEEP_DEFAULT;
	if (next <= keep)
		return 0;
	rc = lowest_cursor(tx, &low);
	if (!rc)
		rc = trim(tx, AG_MIN(low, next - keep), appended + TRIM_EXTRA);
	return rc;
}

/* ---- triggers ---- */

static int lease_get(struct tx *tx, struct ag_trigger_lease *l)
{
	uint8_t k[AG_KEYBUF], v[AG_LEASE_LEN];
	size_t vl = sizeof(v);
	int rc = ag_tx_get(tx, k, ag_key_trigger(k, "", 0), v, &vl);

	return rc ? rc : ag_lease_decode(v, vl, l);
}

static int lease_held(struct tx *tx, uint64_t token)
{
	struct ag_trigger_lease l;
	int rc = lease_get(tx, &l);

	if (rc == -ENOENT)
		return -EBUSY;
	if (rc)
		return rc;
	return l.token == token && l.expiry >= tx->now ? 0 : -EBUSY;
}

static int op_lease(struct tx *tx, const struct ag_op_trigger *o)
{
	uint8_t k[AG_KEYBUF], v[AG_LEASE_LEN];
	size_t kl = ag_key_trigger(k, "", 0);
	struct ag_trigger_lease l;
	int rc = lease_get(tx, &l);

	if (rc && rc != -ENOENT)
		return rc;
	if (!rc && l.token != o->token && l.expiry >= tx->now)
		return -EBUSY;
	if (!o->ttl)
		return rc || l.token != o->token ? 0 : ag_tx_del(tx, k, kl);
	l.client = tx->client;
	l.token = o->token;
	l.expiry = tx->now + (int64_t)AG_MIN(o->ttl, (uint64_t)INT64_MAX / 2);
	ag_lease_encode(v, &l);
	return ag_tx_put(tx, k, kl, v, AG_LEASE_LEN);
}

static int trigger_exists(struct tx *tx, const struct ag_op_trigger *o)
{
	uint8_t k[AG_KEYBUF], v[AG_VAL_MAX];
	size_t vl = sizeof(v);

	return ag_tx_get(tx, k, ag_key_trigger(k, o->name, o->nlen), v, &vl);
}

static int op_add(struct tx *tx, const struct ag_op_trigger *o)
{
	uint8_t k[AG_KEYBUF], v[AG_CURSOR_LEN];
	struct ag_trigger_cursor cur = { 0 };
	struct ag_trigger_def d;
	int rc = trigger_exists(tx, o);

	if (!rc)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	if (ag_trigger_decode(o->value, o->vlen, &d))
		return -EINVAL;
	rc = ag_tx_put(tx, k, ag_key_trigger(k, o->name, o->nlen), o->value,
		       o->vlen);
	if (!rc)
		rc = seq_get(tx, &cur.next);
	if (rc)
		return rc;
	ag_cursor_encode(v, &cur);
	return ag_tx_put(tx, k, ag_key_cursor(k, o->name, o->nlen), v,
			 AG_CURSOR_LEN);
}

static int op_remove(struct tx *tx, const struct ag_op_trigger *o)
{
	uint8_t k[AG_KEYBUF];
	size_t kl, ckl, cvl;
	const void *ck, *cv;
	struct ag_cursor *c;
	int rc = trigger_exists(tx, o);

	if (!rc)
		rc = ag_tx_del(tx, k, ag_key_trigger(k, o->name, o->nlen));
	if (!rc)
		rc = ag_tx_del(tx, k, ag_key_cursor(k, o->name, o->nlen));
	/* its dead letters, one seek at a time: no cursor stays open
	 * while the tree changes */
	for (unsigned n = 0; !rc && n < DEAD_MAX; n++) {
		const char *name;
		size_t nlen;
		uint64_t seq;

		kl = ag_key_dead(k, o->name, o->nlen, 1);
		rc = ag_tree_seek(tx->m->tree, k, kl, &c);
		if (rc)
			break;
		rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl);
		if (rc == 1 && (ag_key_cursor_decode(ck, ckl, &name, &nlen,
						     &seq) ||
				!seq || nlen != o->nlen ||
				memcmp(name, o->name, nlen)))
			rc = 0;
		if (rc == 1)
			kl = ag_key_dead(k, o->name, o->nlen, seq);
		ag_cursor_free(c);
		if (rc != 1)
			break;
		rc = ag_tx_del(tx, k, kl);
	}
	return rc;
}

static int op_cursor(struct tx *tx, const struct ag_op_trigger *o)
{
	uint8_t k[AG_KEYBUF], v[AG_CURSOR_LEN];
	size_t kl = ag_key_cursor(k, o->name, o->nlen), vl = sizeof(v);
	struct ag_trigger_cursor now, old;
	int rc = ag_cursor_decode(o->value, o->vlen, &now);

	if (rc)
		return -EINVAL;
	rc = ag_tx_get(tx, k, kl, v, &vl);
	if (!rc)
		rc = ag_cursor_decode(v, vl, &old);
	if (rc)
		return rc;
	if (now.next < old.next)
		return -AG_ECONDITION;
	return ag_tx_put(tx, k, kl, o->value, AG_CURSOR_LEN);
}

int ag_tx_trigger(struct tx *tx, const struct ag_op_trigger *o)
{
	uint8_t k[AG_KEYBUF];
	int rc;

	if (o->action == AG_TRIG_LEASE)
		return op_lease(tx, o);
	if (ag_trigger_name_check(o->name, o->nlen))
		return -EINVAL;
	switch (o->action) {
	case AG_TRIG_ADD:
		return op_add(tx, o);
	case AG_TRIG_REMOVE:
		return op_remove(tx, o);
	case AG_TRIG_CURSOR:
	case AG_TRIG_DEAD:
		rc = lease_held(tx, o->token);
		if (!rc)
			rc = trigger_exists(tx, o);
		if (rc)
			return rc;
		if (o->action == AG_TRIG_CURSOR)
			return op_cursor(tx, o);
		if (!o->seq || o->vlen < AG_DEAD_FIXED)
			return -EINVAL;
		return ag_tx_put(tx, k, ag_key_dead(k, o->name, o->nlen,
						    o->seq),
				 o->value, o->vlen);
	}
	return -EINVAL;
}
