/*
 * event.h - the records of the event log and of triggers (keys 0x0d to
 * 0x0f, keys.h): their keys and the layouts of their values, one codec
 * each, used by agora-metad (which appends events as it applies the
 * transactions that made them, evlog.c) and by the clients that read
 * them (events.c, trigger.c).
 *
 * Keys (integers big-endian, so that events sort by sequence):
 *   EVENT   0x0d | seq u64                 (9 bytes)
 *   TRIGGER 0x0e | name[1..64]             a trigger's definition
 *   TRIGGER 0x0e                           (the empty name) the lease of
 *                                          the one deliverer
 *   CURSOR  0x0f | name                    struct ag_trigger_cursor
 *   CURSOR  0x0f | name | 0x00 | seq u64   a dead letter of the trigger
 * A trigger name is 1 to AG_TRIGGER_NAME_MAX bytes of [A-Za-z0-9._-], so
 * a dead letter sorts right after its trigger's cursor and is never
 * taken for another trigger's.
 *
 * Values (little-endian):
 *   EVENT    (format 4; varints and zigzag varints as in keys.h)
 *            u8 kind | protocol << 4
 *            u8 file type (mode >> 12) | flags << 4 (AG_EVENT_ETAG,
 *               AG_EVENT_PATH)
 *            varint shared   varint nlen   varint olen
 *            u64 gateway (the client id that committed it)
 *            varint ino   zigzag parent - ino
 *            zigzag old parent (renamed) - parent   varint size
 *            i64 time ns   varint generation of the commit
 *            or, with flag bit 0x4 (coded against the event before,
 *            its fields here written p.field):
 *            u64 gateway (only with flag bit 0x8; else p.gateway)
 *            zigzag parent - p.parent   zigzag ino - parent
 *            zigzag old parent - parent   varint size
 *            zigzag time - p.time   zigzag generation - p.generation
 *            etag[16] (only with AG_EVENT_ETAG; else all zero)
 *            name[nlen] old name[olen]
 *            (with AG_EVENT_PATH, the names are the paths from the root
 *            at the commit, "/a/b"; else the names in parent and old
 *            parent, for paths longer than the record holds). The name
 *            is front-coded: it is the first shared bytes of the name
 *            of event seq - 1, then the nlen bytes stored. An event whose
 *            seq is a multiple of AG_EVENT_ANCHOR, or whose predecessor
 *            is not recorded, shares none and is not coded against it
 *            (bit 0x4 clear; 0x8 alone is corrupt), so a reader that starts at
 *            such an anchor has every name, and the log is trimmed
 *            only to anchors. A value whose fields run past its end or
 *            whose names do not end it exactly is corrupt.
 *   TRIGGER  0 u32 on (bits 1 << kind)   4 u8 action (AG_TRIGGER_EXEC,
 *            _WEBHOOK)   5 u8 form (AG_TRIGGER_FORM_*: what a webhook
 *            POSTs)   6 u8 reserved[2]   8 u16 plen   10 u16 slen
 *            12 u16 tlen   14 u16 reserved   16 prefix suffix target
 *   lease    0 u64 client   8 i64 expiry ns (metad's clock)   16 u64 token
 *   CURSOR   0 u64 next seq to deliver   8 u32 failures of that event
 *            12 u32 dead letters so far
 *   dead     0 u32 attempts   4 u32 reserved   8 i64 time ns   16 error
 *            text (the rest)
 */
#ifndef AG_EVENT_H
#define AG_EVENT_H

#include <stddef.h>
#include <stdint.h>

struct ag_tree;

/* What happened. ORIGIN is no event: the op of a transaction that says
 * which protocol its events came through (txn.h). */
enum ag_event_kind {
	AG_EV_ORIGIN = 0,
	AG_EV_CREATED = 1,  /* a name for a new element */
	AG_EV_CLOSED = 2,   /* written and closed: a close after writes, a
			     * PUT, an agora put */
	AG_EV_DELETED = 3,
	AG_EV_RENAMED = 4,
	AG_EV_METADATA = 5, /* attributes or extended attributes */
	AG_EV_KINDS = 6,
};
#define AG_EV_ALL 0x3e /* every kind but ORIGIN, as an on mask */

#define AG_EVENT_ETAG 0x1 /* etag holds the MD5 of the content */
#define AG_EVENT_PATH 0x2 /* name and old name are whole paths */
/* The longest encoding of an event's fields before its names: the two
 * bytes, the shared and name lengths (two bytes each at most), the
 * gateway, six more varints (relative: the time is one) and the etag. */
#define AG_EVENT_HEAD_MAX (2 + 3 * 2 + 8 + 6 * 10 + 16)
/* Events whose seq is a multiple of this share no bytes of their name
 * with the event before: the log is read and trimmed from them. */
#define AG_EVENT_ANCHOR 16
#define AG_EVENT_NAME_MAX 255
/* name and old name together, so that a value stays within AG_VAL_MAX */
#define AG_EVENT_TEXT_MAX (1024 - AG_EVENT_HEAD_MAX)

struct ag_event {
	uint64_t seq;       /* from the key */
	uint8_t kind, proto, ftype, flags;
	uint64_t gateway, ino, parent, oparent, size, gen;
	int64_t time;
	uint8_t etag[16];
	const char *name, *oname; /* not NUL-terminated; point into the
				   * value decoded (or the encoder's
				   * input) */
	uint16_t nlen, olen;
	/* decoded: the first bytes of the name that are those of the event
	 * before's, not in name; whether ino, parent, old parent, time and
	 * generation are still as stored, relative to the event before's,
	 * and whether the gateway was stored (else it is the event
	 * before's); ag_event_join makes the event whole */
	uint16_t shared;
	uint8_t rel, gw_set;
};
#define AG_EVENT_LEN_MAX (AG_EVENT_HEAD_MAX + AG_EVENT_TEXT_MAX)

/* The name of a kind ("created" ...), or NULL; and back: the kind of a
 * name, or -EINVAL. */
const char *ag_event_kind_name(unsigned kind);
int ag_event_kind_parse(const char *name);
/* The name of a protocol (AG_PROTO_*, agora.h): "fuse", "s3", "agora",
 * "core" for none. */
const char *ag_event_proto_name(unsigned proto);

#define AG_EVENT_KEY_LEN 9
size_t ag_key_event(uint8_t *buf, uint64_t seq);
int ag_key_event_decode(const void *k, size_t kl, uint64_t *seq);
/* Encode e (whole) into v (AG_EVENT_LEN_MAX bytes), coded against prev,
 * the whole event before (NULL: none, for an anchor or an event with no
 * recorded predecessor); returns the length. The names must fit in
 * AG_EVENT_TEXT_MAX together (the old one is cut). */
size_t ag_event_encode(uint8_t *v, const struct ag_event *e,
			const struct ag_event *prev);
/* Decode a value into *e as it is stored (names point into v; see
 * shared and rel); seq is left as it was. -AG_ECORRUPT when the lengths
 * do not add up. */
int ag_event_decode(const uint8_t *v, size_t len, struct ag_event *e);
/* Make e whole from prev, the whole event before (NULL: none): buf
 * (AG_EVENT_TEXT_MAX bytes) receives the name and e->name points at it;
 * prev->name may be buf. -AG_ECORRUPT when e is coded against an event
 * before and there is none, or shares more of its name than it has. */
int ag_event_join(struct ag_event *e, const struct ag_event *prev,
		  char *buf);

#define AG_TRIGGER_NAME_MAX 64
#define AG_TRIGGER_EXEC 1
#define AG_TRIGGER_WEBHOOK 2
struct ag_trigger_def {
	uint32_t on;       /* 1 << AG_EV_* */
	uint8_t action;    /* AG_TRIGGER_EXEC or _WEBHOOK */
	uint8_t form;      /* AG_TRIGGER_FORM_* (agora.h); an exec's 0 */
	const char *prefix, *suffix, *target; /* not NUL-terminated */
	uint16_t plen, slen, tlen;
};
#define AG_TRIGGER_FIXED 16
/* prefix, suffix and target together */
#define AG_TRIGGER_TEXT_MAX (1024 - AG_TRIGGER_FIXED)

/* 0 when name is a valid trigger name, else -EINVAL. */
int ag_trigger_name_check(const char *name, size_t nlen);
/* The TRIGGER key of name (nlen 0: the lease's key). */
size_t ag_key_trigger(uint8_t *buf, const char *name, size_t nlen);
int ag_key_trigger_decode(const void *k, size_t kl, const char **name,
			  size_t *nlen);
/* Encode d into v (AG_TRIGGER_FIXED + AG_TRIGGER_TEXT_MAX bytes);
 * returns the length, or 0 when its text is too long. */
size_t ag_trigger_encode(uint8_t *v, const struct ag_trigger_def *d);
int ag_trigger_decode(const uint8_t *v, size_t len, struct ag_trigger_def *d);

#define AG_LEASE_LEN 24
struct ag_trigger_lease {
	uint64_t client;
	int64_t expiry;
	uint64_t token;
};
void ag_lease_encode(uint8_t *v, const struct ag_trigger_lease *l);
int ag_lease_decode(const uint8_t *v, size_t len, struct ag_trigger_lease *l);

#define AG_CURSOR_LEN 16
struct ag_trigger_cursor {
	uint64_t next;     /* the first event seq not yet delivered */
	uint32_t failures; /* of event next so far */
	uint32_t dead;     /* dead letters so far */
};
/* CURSOR | name; with dead != 0 the dead letter of event seq:
 * CURSOR | name | 0x00 | seq. */
size_t ag_key_cursor(uint8_t *buf, const char *name, size_t nlen);
size_t ag_key_dead(uint8_t *buf, const char *name, size_t nlen, uint64_t seq);
/* *seq is 0 for a cursor, else the seq of a dead letter. */
int ag_key_cursor_decode(const void *k, size_t kl, const char **name,
			 size_t *nlen, uint64_t *seq);
void ag_cursor_encode(uint8_t *v, const struct ag_trigger_cursor *c);
int ag_cursor_decode(const uint8_t *v, size_t len,
		     struct ag_trigger_cursor *c);
#define AG_DEAD_FIXED 16

/* The name of inode ino in directory dir of t: copied into buf (cap
 * bytes, NUL-terminated), 0; -ENOENT when no entry of the first
 * AG_EVENT_SCAN_MAX names ino. Hard links: the first name found. */
#define AG_EVENT_SCAN_MAX 65536
int ag_event_name_in_dir(struct ag_tree *t, uint64_t dir, uint64_t ino,
			 char *buf, size_t cap);

/* 0 when k, v is a well-formed EVENT, TRIGGER or CURSOR record (for
 * fsck), else -AG_ECORRUPT. */
int ag_event_record_check(const void *k, size_t kl, const void *v, size_t vl);

/* The paths of directories a reader resolved (freed with
 * ag_event_paths_free, which accepts NULL); forget drops them all, when
 * a directory moved or went. */
struct ag_event_paths;
int ag_event_paths_new(struct ag_event_paths **pp);
void ag_event_paths_forget(struct ag_event_paths *p);
void ag_event_paths_free(struct ag_event_paths *p);
/* The path of directory dir in t ("" for the root, else "/a/b") into
 * buf (PATH_MAX bytes), through p. */
int ag_event_dir_path(struct ag_tree *t, struct ag_event_paths *p,
		      uint64_t dir, char *buf);

#endif
