/*
 * event.c - encode and decode the records of the event log and of
 * triggers (layouts in event.h). Decoders take values read from the
 * drives: every length is checked, nothing is read past len.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "agora.h"
#include "btree.h"
#include "event.h"
#include "keys.h"
#include "util.h"

static const char *const kind_names[AG_EV_KINDS] = {
	[AG_EV_ORIGIN] = "origin",   [AG_EV_CREATED] = "created",
	[AG_EV_CLOSED] = "closed",   [AG_EV_DELETED] = "deleted",
	[AG_EV_RENAMED] = "renamed", [AG_EV_METADATA] = "metadata",
};

const char *ag_event_kind_name(unsigned kind)
{
	return kind < AG_EV_KINDS ? kind_names[kind] : NULL;
}

int ag_event_kind_parse(const char *name)
{
	unsigned i;

	for (i = AG_EV_CREATED; i < AG_EV_KINDS; i++)
		if (!strcmp(name, kind_names[i]))
			return (int)i;
	return -EINVAL;
}

const char *ag_event_proto_name(unsigned proto)
{
	switch (proto) {
	case AG_PROTO_FUSE:
		return "fuse";
	case AG_PROTO_S3:
		return "s3";
	case AG_PROTO_AGORA:
		return "agora";
	}
	return "core";
}

/* ---- EVENT ---- */

size_t ag_key_event(uint8_t *buf, uint64_t seq)
{
	buf[0] = AG_K_EVENT;
	put_be64(buf + 1, seq);
	return AG_EVENT_KEY_LEN;
}

int ag_key_event_decode(const void *k, size_t kl, uint64_t *seq)
{
	const uint8_t *p = k;

	if (kl != AG_EVENT_KEY_LEN || p[0] != AG_K_EVENT)
		return -EINVAL;
	*seq = get_be64(p + 1);
	return 0;
}

/* The first two bytes of a value: kind and protocol, file type and
 * flags, four bits each. */
#define EV_NIBBLE 0xf

/* Bits of the flags nibble that say how the value is coded, not what
 * happened: the fields are relative to the event before's, and (so
 * coded) the gateway is stored, being another. */
#define EV_REL 0x4
#define EV_GATEWAY 0x8
#define EV_CODING (EV_REL | EV_GATEWAY)

size_t ag_event_encode(uint8_t *v, const struct ag_event *e,
			const struct ag_event *prev)
{
	uint16_t nlen = AG_MIN(e->nlen, AG_EVENT_TEXT_MAX);
	uint16_t olen = AG_MIN(e->olen, AG_EVENT_TEXT_MAX - nlen);
	unsigned coding = 0;
	uint16_t shared = 0;
	uint8_t *p = v;

	if (prev) {
		while (shared < nlen && shared < prev->nlen &&
		       e->name[shared] == prev->name[shared])
			shared++;
		coding = EV_REL | (e->gateway != prev->gateway ? EV_GATEWAY : 0);
	}
	/* every kind, protocol, file type (S_IFMT >> 12) and flag fits
	 * four bits */
	*p++ = (uint8_t)((e->kind & EV_NIBBLE) | (e->proto & EV_NIBBLE) << 4);
	*p++ = (uint8_t)((e->ftype & EV_NIBBLE) |
			 ((e->flags & ~EV_CODING) | coding) << 4);
	p += ag_varint_put(p, shared);
	p += ag_varint_put(p, nlen - shared);
	p += ag_varint_put(p, olen);
	/* a random id: a varint would be longer */
	if (!(coding & EV_REL) || coding & EV_GATEWAY) {
		put_le64(p, e->gateway);
		p += 8;
	}
	if (coding & EV_REL) {
		/* events come in runs of one directory, one file */
		p += ag_varint_put(p, ag_zigzag(e->parent - prev->parent));
		p += ag_varint_put(p, ag_zigzag(e->ino - e->parent));
	} else {
		p += ag_varint_put(p, e->ino);
		p += ag_varint_put(p, ag_zigzag(e->parent - e->ino));
	}
	p += ag_varint_put(p, ag_zigzag(e->oparent - e->parent));
	p += ag_varint_put(p, e->size);
	if (coding & EV_REL) {
		p += ag_varint_put(p, ag_zigzag((uint64_t)e->time -
						(uint64_t)prev->time));
		p += ag_varint_put(p, ag_zigzag(e->gen - prev->gen));
	} else {
		put_le64(p, (uint64_t)e->time);
		p += 8;
		p += ag_varint_put(p, e->gen);
	}
	if (e->flags & AG_EVENT_ETAG) {
		memcpy(p, e->etag, 16);
		p += 16;
	}
	if (nlen > shared)
		memcpy(p, e->name + shared, nlen - shared);
	p += nlen - shared;
	if (olen)
		memcpy(p, e->oname, olen);
	p += olen;
	return (size_t)(p - v);
}

int ag_event_decode(const uint8_t *v, size_t len, struct ag_event *e)
{
	const uint8_t *p = v, *end = v + len;
	uint64_t shared, nlen, olen, x, dparent, doparent, t;
	unsigned coding;

	if (len < 2)
		return AG_CORRUPT("event value of %zu bytes", len);
	e->kind = v[0] & EV_NIBBLE;
	e->proto = v[0] >> 4;
	e->ftype = v[1] & EV_NIBBLE;
	coding = (v[1] >> 4) & EV_CODING;
	e->flags = (v[1] >> 4) & ~EV_CODING;
	e->rel = !!(coding & EV_REL);
	p += 2;
	if (coding == EV_GATEWAY)
		return AG_CORRUPT("event value with a gateway bit alone");
	if (ag_varint_get(&p, end, &shared) || ag_varint_get(&p, end, &nlen) ||
	    ag_varint_get(&p, end, &olen) || shared > AG_EVENT_TEXT_MAX ||
	    nlen > AG_EVENT_TEXT_MAX - shared ||
	    olen > AG_EVENT_TEXT_MAX - shared - nlen)
		return AG_CORRUPT("event value of %zu bytes: bad head", len);
	e->gateway = 0;
	e->gw_set = !e->rel || coding & EV_GATEWAY;
	if (e->gw_set) {
		if (end - p < 8)
			return AG_CORRUPT("event value of %zu bytes: no "
					  "gateway", len);
		e->gateway = get_le64(p);
		p += 8;
	}
	if (ag_varint_get(&p, end, &x) || ag_varint_get(&p, end, &dparent) ||
	    ag_varint_get(&p, end, &doparent) ||
	    ag_varint_get(&p, end, &e->size))
		return AG_CORRUPT("event value of %zu bytes: bad fields", len);
	if (e->rel) {
		/* as stored: ag_event_join makes them whole */
		e->parent = x;
		e->ino = dparent;
		e->oparent = doparent;
		if (ag_varint_get(&p, end, &t) ||
		    ag_varint_get(&p, end, &e->gen))
			return AG_CORRUPT("event value of %zu bytes: bad "
					  "time", len);
		e->time = (int64_t)t;
	} else {
		e->ino = x;
		e->parent = e->ino + ag_unzigzag(dparent);
		e->oparent = e->parent + ag_unzigzag(doparent);
		if (end - p < 8)
			return AG_CORRUPT("event value of %zu bytes: no time",
					  len);
		e->time = (int64_t)get_le64(p);
		p += 8;
		if (ag_varint_get(&p, end, &e->gen))
			return AG_CORRUPT("event value of %zu bytes: bad "
					  "generation", len);
	}
	memset(e->etag, 0, 16);
	if (e->flags & AG_EVENT_ETAG) {
		if (end - p < 16)
			return AG_CORRUPT("event value of %zu bytes: no etag",
					  len);
		memcpy(e->etag, p, 16);
		p += 16;
	}
	if ((size_t)(end - p) != nlen + olen)
		return AG_CORRUPT("event value of %zu bytes, names %llu + %llu",
				  len, (unsigned long long)nlen,
				  (unsigned long long)olen);
	e->shared = (uint16_t)shared;
	e->nlen = (uint16_t)nlen;
	e->olen = (uint16_t)olen;
	e->name = (const char *)p;
	e->oname = e->name + nlen;
	return 0;
}

int ag_event_join(struct ag_event *e, const struct ag_event *prev,
		  char *buf)
{
	size_t plen = prev ? prev->nlen : 0;

	if (e->shared > plen || (e->rel && !prev))
		return AG_CORRUPT("event coded against %s event before",
				  prev ? "a shorter name of the" : "no");
	if (e->rel) {
		e->parent = prev->parent + ag_unzigzag(e->parent);
		e->ino = e->parent + ag_unzigzag(e->ino);
		e->oparent = e->parent + ag_unzigzag(e->oparent);
		e->time = (int64_t)((uint64_t)prev->time +
				    ag_unzigzag((uint64_t)e->time));
		e->gen = prev->gen + ag_unzigzag(e->gen);
		if (!e->gw_set)
			e->gateway = prev->gateway;
		e->rel = 0;
		e->gw_set = 1;
	}
	/* both fit: the decoder checked shared + nlen. prev's name may be
	 * buf itself (a reader's name of the event before): its first
	 * shared bytes are then in place, and only those are kept */
	memmove(buf + e->shared, e->name, e->nlen);
	if (e->shared && prev->name != buf)
		memmove(buf, prev->name, e->shared);
	e->name = buf;
	e->nlen = (uint16_t)(e->nlen + e->shared);
	e->shared = 0;
	return 0;
}

/* ---- TRIGGER ---- */

int ag_trigger_name_check(const char *name, size_t nlen)
{
	size_t i;

	if (!nlen || nlen > AG_TRIGGER_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < nlen; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return -EINVAL;
	}
	return 0;
}

/* TRIGGER and CURSOR keys: the type byte, then a name. */
static size_t named_key(uint8_t *buf, uint8_t type, const char *name,
			size_t nlen)
{
	buf[0] = type;
	if (nlen)
		memcpy(buf + 1, name, nlen);
	return 1 + nlen;
}

size_t ag_key_trigger(uint8_t *buf, const char *name, size_t nlen)
{
	return named_key(buf, AG_K_TRIGGER, name, nlen);
}

int ag_key_trigger_decode(const void *k, size_t kl, const char **name,
			  size_t *nlen)
{
	const uint8_t *p = k;

	if (!kl || kl > 1 + AG_TRIGGER_NAME_MAX || p[0] != AG_K_TRIGGER)
		return -EINVAL;
	*name = (const char *)p + 1;
	*nlen = kl - 1;
	return 0;
}

enum {
	TR_ON = 0, TR_ACTION = 4, TR_FORM = 5, TR_PLEN = 8, TR_SLEN = 10, TR_TLEN = 12,
};

size_t ag_trigger_encode(uint8_t *v, const struct ag_trigger_def *d)
{
	size_t text = (size_t)d->plen + d->slen + d->tlen;
	uint8_t *p = v + AG_TRIGGER_FIXED;

	if (text > AG_TRIGGER_TEXT_MAX)
		return 0;
	memset(v, 0, AG_TRIGGER_FIXED);
	put_le32(v + TR_ON, d->on);
	v[TR_ACTION] = d->action;
	v[TR_FORM] = d->form;
	put_le16(v + TR_PLEN, d->plen);
	put_le16(v + TR_SLEN, d->slen);
	put_le16(v + TR_TLEN, d->tlen);
	memcpy(p, d->prefix, d->plen);
	memcpy(p + d->plen, d->suffix, d->slen);
	memcpy(p + d->plen + d->slen, d->target, d->tlen);
	return AG_TRIGGER_FIXED + text;
}

int ag_trigger_decode(const uint8_t *v, size_t len, struct ag_trigger_def *d)
{
	if (len < AG_TRIGGER_FIXED)
		return AG_CORRUPT("trigger value of %zu bytes", len);
	d->on = get_le32(v + TR_ON);
	d->action = v[TR_ACTION];
	d->form = v[TR_FORM];
	d->plen = get_le16(v + TR_PLEN);
	d->slen = get_le16(v + TR_SLEN);
	d->tlen = get_le16(v + TR_TLEN);
	if (len != (size_t)AG_TRIGGER_FIXED + d->plen + d->slen + d->tlen ||
	    (d->action != AG_TRIGGER_EXEC && d->action != AG_TRIGGER_WEBHOOK))
		return AG_CORRUPT("trigger value of %zu bytes", len);
	if (d->form > AG_TRIGGER_FORM_MAX ||
	    (d->form && d->action != AG_TRIGGER_WEBHOOK))
		return AG_CORRUPT("trigger of form %u", d->form);
	d->prefix = (const char *)v + AG_TRIGGER_FIXED;
	d->suffix = d->prefix + d->plen;
	d->target = d->suffix + d->slen;
	return 0;
}

void ag_lease_encode(uint8_t *v, const struct ag_trigger_lease *l)
{
	put_le64(v, l->client);
	put_le64(v + 8, (uint64_t)l->expiry);
	put_le64(v + 16, l->token);
}

int ag_lease_decode(const uint8_t *v, size_t len, struct ag_trigger_lease *l)
{
	if (len != AG_LEASE_LEN)
		return AG_CORRUPT("trigger lease of %zu bytes", len);
	l->client = get_le64(v);
	l->expiry = (int64_t)get_le64(v + 8);
	l->token = get_le64(v + 16);
	return 0;
}

/* ---- CURSOR ---- */

size_t ag_key_cursor(uint8_t *buf, const char *name, size_t nlen)
{
	return named_key(buf, AG_K_CURSOR, name, nlen);
}

size_t ag_key_dead(uint8_t *buf, const char *name, size_t nlen, uint64_t seq)
{
	size_t n = named_key(buf, AG_K_CURSOR, name, nlen);

	buf[n] = 0;
	put_be64(buf + n + 1, seq);
	return n + 9;
}

int ag_key_cursor_decode(const void *k, size_t kl, const char **name,
			 size_t *nlen, uint64_t *seq)
{
	const uint8_t *p = k;
	const uint8_t *nul;

	if (kl < 2 || p[0] != AG_K_CURSOR)
		return -EINVAL;
	nul = memchr(p + 1, 0, kl - 1);
	if (!nul) {
		if (kl > 1 + AG_TRIGGER_NAME_MAX)
			return -EINVAL;
		*seq = 0;
		*nlen = kl - 1;
	} else {
		if ((size_t)(p + kl - nul) != 9 || nul == p + 1 ||
		    nul - p - 1 > AG_TRIGGER_NAME_MAX || !get_be64(nul + 1))
			return -EINVAL;
		*seq = get_be64(nul + 1);
		*nlen = (size_t)(nul - p - 1);
	}
	*name = (const char *)p + 1;
	return 0;
}

void ag_cursor_encode(uint8_t *v, const struct ag_trigger_cursor *c)
{
	put_le64(v, c->next);
	put_le32(v + 8, c->failures);
	put_le32(v + 12, c->dead);
}

int ag_cursor_decode(const uint8_t *v, size_t len,
		     struct ag_trigger_cursor *c)
{
	if (len != AG_CURSOR_LEN)
		return AG_CORRUPT("trigger cursor of %zu bytes", len);
	c->next = get_le64(v);
	c->failures = get_le32(v + 8);
	c->dead = get_le32(v + 12);
	return 0;
}

int ag_event_record_check(const void *k, size_t kl, const void *v, size_t vl)
{
	struct ag_trigger_cursor cur;
	struct ag_trigger_lease l;
	struct ag_trigger_def d;
	struct ag_event e;
	const char *name;
	size_t nlen;
	uint64_t seq;

	switch (ag_key_type(k, kl)) {
	case AG_K_EVENT:
		if (ag_key_event_decode(k, kl, &seq))
			break;
		return ag_event_decode(v, vl, &e);
	case AG_K_TRIGGER:
		if (ag_key_trigger_decode(k, kl, &name, &nlen))
			break;
		if (!nlen)
			return ag_lease_decode(v, vl, &l);
		if (ag_trigger_name_check(name, nlen))
			break;
		return ag_trigger_decode(v, vl, &d);
	case AG_K_CURSOR:
		if (ag_key_cursor_decode(k, kl, &name, &nlen, &seq) ||
		    ag_trigger_name_check(name, nlen))
			break;
		if (seq)
			return vl >= AG_DEAD_FIXED ? 0 : -AG_ECORRUPT;
		return ag_cursor_decode(v, vl, &cur);
	}
	return -AG_ECORRUPT;
}

/* ---- names ---- */

int ag_event_name_in_dir(struct ag_tree *t, uint64_t dir, uint64_t ino,
			 char *buf, size_t cap)
{
	uint8_t k[AG_KEYBUF];
	size_t kl = ag_key_dirent(k, dir, "", 0), ckl, cvl;
	const void *ck, *cv;
	struct ag_cursor *c;
	unsigned scanned = 0;
	int rc = ag_tree_seek(t, k, kl, &c);

	if (rc)
		return rc;
	while ((rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		uint64_t parent, child;
		const char *name;
		unsigned type;
		size_t nlen;

		if (ag_key_dirent_decode(ck, ckl, &parent, &name, &nlen) ||
		    parent != dir || ++scanned > AG_EVENT_SCAN_MAX) {
			rc = 0;
			break;
		}
		if (!ag_dirent_decode(cv, cvl, dir, &child, &type) &&
		    child == ino && nlen < cap) {
			memcpy(buf, name, nlen);
			buf[nlen] = 0;
			break;
		}
	}
	ag_cursor_free(c);
	return rc == 1 ? 0 : rc ? rc : -ENOENT;
}

/* ---- paths ---- */

#define PATH_SLOTS 1024 /* directories whose path is kept */
#define DEPTH_MAX 256   /* directories above an element, at most */

struct path_slot {
	uint64_t dir; /* 0: empty */
	char *path;
};

struct ag_event_paths {
	struct path_slot s[PATH_SLOTS];
};

int ag_event_paths_new(struct ag_event_paths **pp)
{
	*pp = calloc(1, sizeof(**pp));
	return *pp ? 0 : -ENOMEM;
}

void ag_event_paths_forget(struct ag_event_paths *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < PATH_SLOTS; i++) {
		free(p->s[i].path);
		p->s[i].path = NULL;
		p->s[i].dir = 0;
	}
}

void ag_event_paths_free(struct ag_event_paths *p)
{
	if (!p)
		return;
	ag_event_paths_forget(p);
	free(p);
}

static struct path_slot *slot_of(struct ag_event_paths *p, uint64_t dir)
{
	return &p->s[(dir * 0x9e3779b97f4a7c15ull) >> 54];
}

/* Up the parents the directories' inodes name, each name found in its
 * parent's entries. */
int ag_event_dir_path(struct ag_tree *t, struct ag_event_paths *p,
		      uint64_t dir, char *buf)
{
	uint64_t chain[DEPTH_MAX];
	char name[AG_NAME_MAX + 1];
	struct path_slot *sl;
	size_t depth = 0, len = 0, nl;
	int rc;

	buf[0] = 0;
	/* climb to the root, or to a directory whose path is known */
	while (dir != AG_ROOT) {
		uint8_t k[AG_KEYBUF], v[AG_INODE_LEN];
		size_t vl = sizeof(v);
		struct ag_attr a;

		sl = slot_of(p, dir);
		if (sl->dir == dir) {
			len = strlen(sl->path);
			memcpy(buf, sl->path, len + 1);
			break;
		}
		if (depth == DEPTH_MAX)
			return -ELOOP;
		rc = ag_tree_get(t, k, ag_key_inode(k, dir), v, &vl);
		if (!rc)
			rc = ag_inode_decode(v, vl, dir, &a);
		if (rc)
			return rc;
		chain[depth++] = dir;
		dir = a.parent;
		if (!dir)
			return -ENOENT;
	}
	/* and down again from there, naming each */
	while (depth--) {
		rc = ag_event_name_in_dir(t, dir, chain[depth], name,
					  sizeof(name));
		if (rc)
			return rc;
		nl = strlen(name);
		if (len + 1 + nl >= PATH_MAX)
			return -ENAMETOOLONG;
		buf[len++] = '/';
		memcpy(buf + len, name, nl + 1);
		len += nl;
		dir = chain[depth];
		sl = slot_of(p, dir);
		free(sl->path);
		sl->path = strdup(buf);
		sl->dir = sl->path ? dir : 0;
	}
	return 0;
}
