/*
 * trigger.c - triggers, kept in the tree as cluster configuration
 * (TRIGGER and CURSOR records, event.h), and their deliverer.
 *
 * The deliverer runs wherever agora trigger run is started; a lease in
 * the tree (the TRIGGER record of the empty name, taken by a
 * transaction, with an expiry on metad's clock) lets one run at a time.
 * For each trigger in turn it reads the log from the trigger's cursor,
 * and delivers each event that matches (exec: sh -c CMD with the
 * CloudEvents JSON on stdin and CE_* and AGORA_EVENT_* variables;
 * webhook: a POST of the same JSON with libcurl). The cursor moves past
 * an event only in a transaction committed after the delivery
 * succeeded, so a deliverer killed at any point loses nothing: the next
 * one delivers the last event again (at least once, in order per
 * trigger). A failure is counted in the cursor, durable, and retried
 * after a back-off that doubles; after max_failures the event becomes a
 * dead letter and the trigger goes on. Every cursor transaction renews
 * the lease and needs it held: a deliverer that lost it stops there.
 *
 * A webhook POSTs the event as a CloudEvent, or, for a trigger that an
 * S3 bucket's notification configuration made (agora-s3d), as the S3
 * event notification: {"Records": [one record]}, of regular files
 * only, a closed event as ObjectCreated:Put and a deleted one as
 * ObjectRemoved:Delete.
 *
 * The deliverer ignores SIGPIPE (a command that does not read its input
 * must not kill it).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agora.h"
#include "btree.h"
#include "cluster.h"
#include "event.h"
#include "events.h"
#include "keys.h"
#include "txn.h"
#include "util.h"

#define TRIGGERS_MAX 256
#define BATCH 32
#define BACKOFF_MAX_MS 30000
#define WEBHOOK_TIMEOUT_S 10
#define CE_MAX (4 * PATH_MAX + 1024)
#define ERR_MAX 200
#define CURSOR_EVERY_NS (200 * 1000000ull) /* a cursor commit at most */

extern char **environ;

struct trig {
	char name[AG_TRIGGER_NAME_MAX + 1];
	uint8_t def_buf[AG_TRIGGER_FIXED + AG_TRIGGER_TEXT_MAX];
	struct ag_trigger_def d;
	struct ag_trigger_cursor cur; /* where delivery got to */
	uint64_t stored;              /* the cursor's next in the tree */
	char target[AG_TRIGGER_TEXT_MAX + 1];
};

/* ---- configuration ---- */

static int on_parse(const char *list, uint32_t *on)
{
	char buf[128], *save = NULL, *w;

	*on = 0;
	if (!list)
		list = "closed";
	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, list);
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int k = ag_event_kind_parse(w);

		if (k < 0)
			return k;
		*on |= 1u << k;
	}
	return *on ? 0 : -EINVAL;
}

static int commit_trigger(struct ag_cluster *c, const struct ag_op_trigger *o)
{
	struct ag_txn t;
	int rc;

	ag_cl_txn(c, &t);
	ag_txn_trigger(&t, o);
	rc = ag_cl_commit(c, &t, NULL);
	ag_txn_release(&t);
	return rc;
}

/* The ADD op of s into *o, its value in v (AG_TRIGGER_FIXED +
 * AG_TRIGGER_TEXT_MAX bytes). */
static int add_op(const struct ag_trigger_spec *s, uint8_t *v,
		  struct ag_op_trigger *o)
{
	struct ag_trigger_def d = { 0 };
	const char *target = s->exec ? s->exec : s->webhook;
	const char *prefix = s->prefix ? s->prefix : "";
	const char *suffix = s->suffix ? s->suffix : "";
	int rc = ag_trigger_name_check(s->name, strlen(s->name));

	if (rc || !target || (s->exec && s->webhook) || !*target ||
	    s->form < 0 || s->form > AG_TRIGGER_FORM_MAX ||
	    (s->form && !s->webhook))
		return -EINVAL;
	rc = on_parse(s->on, &d.on);
	if (rc)
		return rc;
	if (strlen(prefix) + strlen(suffix) + strlen(target) >
	    AG_TRIGGER_TEXT_MAX)
		return -ENAMETOOLONG;
	d.action = s->exec ? AG_TRIGGER_EXEC : AG_TRIGGER_WEBHOOK;
	d.form = (uint8_t)s->form;
	d.prefix = prefix;
	d.plen = (uint16_t)strlen(prefix);
	d.suffix = suffix;
	d.slen = (uint16_t)strlen(suffix);
	d.target = target;
	d.tlen = (uint16_t)strlen(target);
	memset(o, 0, sizeof(*o));
	o->action = AG_TRIG_ADD;
	o->name = s->name;
	o->nlen = (uint32_t)strlen(s->name);
	o->value = v;
	o->vlen = (uint32_t)ag_trigger_encode(v, &d);
	return 0;
}

int ag_trigger_add(struct ag_cluster *c, const struct ag_trigger_spec *s)
{
	uint8_t v[AG_TRIGGER_FIXED + AG_TRIGGER_TEXT_MAX];
	struct ag_op_trigger o;
	int rc = add_op(s, v, &o);

	return rc ? rc : commit_trigger(c, &o);
}

int ag_trigger_remove(struct ag_cluster *c, const char *name)
{
	struct ag_op_trigger o = { .action = AG_TRIG_REMOVE, .name = name,
				   .nlen = (uint32_t)strlen(name) };

	if (ag_trigger_name_check(name, o.nlen))
		return -EINVAL;
	return commit_trigger(c, &o);
}

/* Every trigger with its cursor, at tree t, into ts[0..*n). */
static int load(struct ag_tree *t, struct trig *ts, size_t *n)
{
	uint8_t k[AG_KEYBUF], v[AG_CURSOR_LEN];
	size_t kl = ag_key_trigger(k, "", 0), ckl, cvl, i;
	const void *ck, *cv;
	struct ag_cursor *c;
	int rc = ag_tree_seek(t, k, kl, &c);

	*n = 0;
	if (rc)
		return rc;
	while (*n < TRIGGERS_MAX &&
	       (rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		struct trig *tr = &ts[*n];
		const char *name;
		size_t nlen;

		if (ag_key_trigger_decode(ck, ckl, &name, &nlen)) {
			rc = 0;
			break;
		}
		if (!nlen)
			continue; /* the lease */
		if (cvl > sizeof(tr->def_buf)) {
			rc = AG_CORRUPT("trigger of %zu bytes", cvl);
			break;
		}
		memcpy(tr->name, name, nlen);
		tr->name[nlen] = 0;
		memcpy(tr->def_buf, cv, cvl);
		rc = ag_trigger_decode(tr->def_buf, cvl, &tr->d);
		if (rc)
			break;
		memcpy(tr->target, tr->d.target, tr->d.tlen);
		tr->target[tr->d.tlen] = 0;
		(*n)++;
	}
	ag_cursor_free(c);
	if (rc < 0)
		return rc;
	for (i = 0; i < *n; i++) {
		size_t vl = sizeof(v);

		rc = ag_tree_get(t, k, ag_key_cursor(k, ts[i].name,
						    strlen(ts[i].name)),
				 v, &vl);
		if (!rc)
			rc = ag_cursor_decode(v, vl, &ts[i].cur);
		if (rc)
			return rc;
		ts[i].stored = ts[i].cur.next;
	}
	return 0;
}

static int load_all(struct ag_cluster *c, struct trig *ts, size_t *n)
{
	struct ag_tree *t;
	int rc = ag_cluster_refresh(c);

	return rc ? rc : (int)AG_CL_READ(c, t, load(t, ts, n));
}

/* The kinds of on, "created,closed", into buf (KINDS_TEXT bytes). */
#define KINDS_TEXT 64
static void kinds_text(uint32_t on, char *buf)
{
	size_t len = 0;
	unsigned k;

	buf[0] = 0;
	for (k = AG_EV_CREATED; k < AG_EV_KINDS; k++)
		if (on & (1u << k))
			len += (size_t)snprintf(buf + len, KINDS_TEXT - len,
						"%s%s", len ? "," : "",
						ag_event_kind_name(k));
}

/* The dead letters, one line each. */
static int dead_print(struct ag_tree *t, FILE *out)
{
	uint8_t k[AG_KEYBUF];
	size_t kl = ag_key_cursor(k, "", 0), ckl, cvl;
	const void *ck, *cv;
	struct ag_cursor *c;
	int rc = ag_tree_seek(t, k, kl, &c);

	if (rc)
		return rc;
	while ((rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		const char *name;
		size_t nlen;
		uint64_t seq;

		if (ag_key_cursor_decode(ck, ckl, &name, &nlen, &seq)) {
			rc = 0;
			break;
		}
		if (!seq || cvl < AG_DEAD_FIXED)
			continue;
		fprintf(out, "dead %.*s seq=%" PRIu64 " attempts=%" PRIu32
			" error=%.*s\n", (int)nlen, name, seq,
			get_le32(cv), (int)(cvl - AG_DEAD_FIXED),
			(const char *)cv + AG_DEAD_FIXED);
	}
	ag_cursor_free(c);
	return rc;
}

int ag_trigger_print(struct ag_cluster *c, FILE *out)
{
	struct ag_tree *t;
	struct trig *ts = malloc(TRIGGERS_MAX * sizeof(*ts));
	size_t n = 0, i;
	int rc = ts ? load_all(c, ts, &n) : -ENOMEM;

	for (i = 0; !rc && i < n; i++) {
		const struct trig *tr = &ts[i];

		char kinds[KINDS_TEXT];
		static const char *const forms[] = {
			[AG_TRIGGER_FORM_S3_TOPIC] = " form=s3-topic",
			[AG_TRIGGER_FORM_S3_QUEUE] = " form=s3-queue",
			[AG_TRIGGER_FORM_S3_FUNCTION] = " form=s3-function",
		};

		kinds_text(tr->d.on, kinds);
		fprintf(out, "%s on=%s prefix=%.*s suffix=%.*s %s=%s%s next=%"
			PRIu64 " failures=%" PRIu32 " dead=%" PRIu32 "\n",
			tr->name, kinds, (int)tr->d.plen, tr->d.prefix,
			(int)tr->d.slen, tr->d.suffix,
			tr->d.action == AG_TRIGGER_EXEC ? "exec" : "webhook",
			tr->target, tr->d.form ? forms[tr->d.form] : "",
			tr->cur.next, tr->cur.failures, tr->cur.dead);
	}
	if (!rc)
		rc = (int)AG_CL_READ(c, t, dead_print(t, out));
	free(ts);
	return rc;
}

int ag_trigger_replace(struct ag_cluster *c, const char *group,
		       const struct ag_trigger_spec *specs, size_t n)
{
	uint8_t v[AG_TRIGGER_FIXED + AG_TRIGGER_TEXT_MAX];
	struct trig *ts = malloc(TRIGGERS_MAX * sizeof(*ts));
	size_t gl = strlen(group), nt = 0, ops = 0, i;
	struct ag_op_trigger o;
	struct ag_txn t;
	int rc = ts ? 0 : -ENOMEM;

	for (i = 0; !rc && i < n; i++)
		if (strncmp(specs[i].name, group, gl))
			rc = -EINVAL;
	if (!rc)
		rc = load_all(c, ts, &nt);
	if (rc)
		goto out;
	ag_cl_txn(c, &t);
	for (i = 0; i < nt; i++)
		if (!strncmp(ts[i].name, group, gl)) {
			memset(&o, 0, sizeof(o));
			o.action = AG_TRIG_REMOVE;
			o.name = ts[i].name;
			o.nlen = (uint32_t)strlen(ts[i].name);
			ag_txn_trigger(&t, &o);
			ops++;
		}
	/* the txn copies each op's value as it takes it: one buffer */
	for (i = 0; !rc && i < n; i++) {
		rc = add_op(&specs[i], v, &o);
		if (!rc)
			rc = ag_txn_trigger(&t, &o);
		ops++;
	}
	if (!rc && ops)
		rc = ag_cl_commit(c, &t, NULL);
	ag_txn_release(&t);
out:
	free(ts);
	return rc;
}

int ag_trigger_list(struct ag_cluster *c, const char *group,
		    int (*fn)(void *arg, const struct ag_trigger_spec *s),
		    void *arg)
{
	char prefix[AG_TRIGGER_TEXT_MAX + 1], suffix[AG_TRIGGER_TEXT_MAX + 1];
	char kinds[KINDS_TEXT];
	struct trig *ts = malloc(TRIGGERS_MAX * sizeof(*ts));
	size_t gl = strlen(group), n = 0, i;
	int rc = ts ? load_all(c, ts, &n) : -ENOMEM;

	for (i = 0; !rc && i < n; i++) {
		const struct trig *tr = &ts[i];
		struct ag_trigger_spec s = { .name = tr->name, .on = kinds,
					     .prefix = prefix,
					     .suffix = suffix,
					     .form = tr->d.form };

		if (strncmp(tr->name, group, gl))
			continue;
		memcpy(prefix, tr->d.prefix, tr->d.plen);
		prefix[tr->d.plen] = 0;
		memcpy(suffix, tr->d.suffix, tr->d.slen);
		suffix[tr->d.slen] = 0;
		kinds_text(tr->d.on, kinds);
		if (tr->d.action == AG_TRIGGER_EXEC)
			s.exec = tr->target;
		else
			s.webhook = tr->target;
		rc = fn(arg, &s);
	}
	free(ts);
	return rc;
}

/* ---- delivery ---- */

struct deliverer {
	struct ag_cluster *c;
	const struct ag_deliver_opts *o;
	uint64_t token;
	uint64_t lease_ns;
	uint64_t renewed; /* monotonic ns of the last renewal */
	CURL *curl;       /* the webhooks' handle: its connections stay
			   * open from one POST to the next */
	char ce[CE_MAX];  /* the CloudEvent being delivered */
	char err[ERR_MAX];
};

/* Commit the ops of t after a renewal of our lease. */
static int commit_leased(struct deliverer *dl, struct ag_txn *t)
{
	int rc = ag_cl_commit(dl->c, t, NULL);

	if (!rc)
		dl->renewed = ag_mono_ns();
	return rc;
}

static void lease_op(struct deliverer *dl, struct ag_txn *t, uint64_t ttl)
{
	struct ag_op_trigger o = { .action = AG_TRIG_LEASE, .name = "",
				   .token = dl->token, .ttl = ttl };

	ag_txn_trigger(t, &o);
}

static int lease(struct deliverer *dl, uint64_t ttl)
{
	struct ag_txn t;
	int rc;

	ag_cl_txn(dl->c, &t);
	lease_op(dl, &t, ttl);
	rc = commit_leased(dl, &t);
	ag_txn_release(&t);
	return rc;
}

/* Move tr's cursor to cur (and record the dead letter of seq when
 * dead_seq), renewing the lease. */
static int cursor_put(struct deliverer *dl, struct trig *tr,
		      const struct ag_trigger_cursor *cur, uint64_t dead_seq,
		      uint32_t attempts)
{
	uint8_t v[AG_CURSOR_LEN], dv[AG_DEAD_FIXED + ERR_MAX];
	struct ag_op_trigger o = { .name = tr->name,
				   .nlen = (uint32_t)strlen(tr->name),
				   .token = dl->token };
	struct ag_txn t;
	size_t el = strlen(dl->err);
	int rc;

	ag_cl_txn(dl->c, &t);
	lease_op(dl, &t, dl->lease_ns);
	if (dead_seq) {
		memset(dv, 0, AG_DEAD_FIXED);
		put_le32(dv, attempts);
		put_le64(dv + 8, ag_now_ns());
		memcpy(dv + AG_DEAD_FIXED, dl->err, el);
		o.action = AG_TRIG_DEAD;
		o.seq = dead_seq;
		o.value = dv;
		o.vlen = (uint32_t)(AG_DEAD_FIXED + el);
		ag_txn_trigger(&t, &o);
	}
	ag_cursor_encode(v, cur);
	o.action = AG_TRIG_CURSOR;
	o.seq = 0;
	o.value = v;
	o.vlen = AG_CURSOR_LEN;
	ag_txn_trigger(&t, &o);
	rc = commit_leased(dl, &t);
	ag_txn_release(&t);
	if (!rc) {
		tr->cur = *cur;
		tr->stored = cur->next;
	}
	return rc;
}

/* The length of "/bucket/" at the start of path, or 0 when path names
 * no object (the root, a bucket). */
static size_t bucket_part(const char *path)
{
	const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;

	return slash && slash > path + 1 && slash[1] ? (size_t)(slash + 1 - path)
						   : 0;
}

static int matches(const struct trig *tr, const struct ag_event_view *v)
{
	size_t pl = strlen(v->path), least = 0;

	if (v->e.kind >= 32 || !(tr->d.on & (1u << v->e.kind)) || !pl)
		return 0;
	if (tr->d.form) {
		/* S3 notifies of objects: regular files, their suffix
		 * within the key */
		least = bucket_part(v->path);
		if (!least || v->e.ftype != (S_IFREG >> 12))
			return 0;
	}
	if (tr->d.plen > pl || memcmp(v->path, tr->d.prefix, tr->d.plen))
		return 0;
	return tr->d.slen <= pl - least &&
	       !memcmp(v->path + pl - tr->d.slen, tr->d.suffix, tr->d.slen);
}

/* The CloudEvents 1.0 JSON of v into dl->ce. */
static int cloudevent(struct deliverer *dl, const struct ag_event_view *v)
{
	char when[48], data[3 * PATH_MAX];
	size_t len = 0;
	int dl_len = ag_event_json(v, data, sizeof(data)), n;

	if (dl_len < 0)
		return dl_len;
	ag_event_time(v, when, sizeof(when));
	n = snprintf(dl->ce, sizeof(dl->ce),
		     "{\"specversion\":\"1.0\",\"id\":\"%" PRIu64 "\","
		     "\"source\":\"/agora/events\",\"type\":\"org.agora.%s\","
		     "\"time\":\"%s\",\"datacontenttype\":\"application/json\","
		     "\"subject\":", v->e.seq, ag_event_kind_name(v->e.kind),
		     when);
	if (n < 0 || (size_t)n >= sizeof(dl->ce))
		return -ENOSPC;
	len = (size_t)n;
	if (ag_json_str(dl->ce, sizeof(dl->ce), &len, v->path))
		return -ENOSPC;
	n = snprintf(dl->ce + len, sizeof(dl->ce) - len, ",\"data\":%s}",
		     data);
	return n < 0 || (size_t)n >= sizeof(dl->ce) - len ? -ENOSPC : 0;
}

/* Append s to dl->ce at *len as S3 writes a key in an event: percent-
 * encoded but for unreserved characters and '/', a space as '+'. */
static int s3_key_add(struct deliverer *dl, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (*len + 4 > sizeof(dl->ce))
			return -ENOSPC;
		if (isalnum(ch) || strchr("-_.~/", ch)) {
			dl->ce[(*len)++] = (char)ch;
		} else if (ch == ' ') {
			dl->ce[(*len)++] = '+';
		} else {
			dl->ce[(*len)++] = '%';
			dl->ce[(*len)++] = hex[ch >> 4];
			dl->ce[(*len)++] = hex[ch & 15];
		}
	}
	dl->ce[*len] = 0;
	return 0;
}

/* Append to dl->ce at *len, as snprintf does. */
static int ce_add(struct deliverer *dl, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ce_add(struct deliverer *dl, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dl->ce + *len, sizeof(dl->ce) - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(dl->ce) - *len)
		return -ENOSPC;
	*len += (size_t)n;
	return 0;
}

/* The S3 event notification of v for tr into dl->ce: one record, of
 * the shape AWS sends (event version 2.1). Its configurationId is the
 * trigger's name past its second dot (agora-s3d names the triggers of
 * a bucket s3.HASH.ID), its sequencer the event's seq in hex, which
 * orders the events of a key as S3's does. */
static int s3_record(struct deliverer *dl, const struct trig *tr,
		     const struct ag_event_view *v)
{
	const char *id = strchr(tr->name, '.'), *key;
	size_t bl = bucket_part(v->path), len = 0;
	time_t secs = (time_t)(v->e.time / 1000000000);
	char when[40], etag[33] = "", bucket[NAME_MAX + 1];
	char arn[NAME_MAX + 16];
	struct tm tm;
	int rc, j;

	id = id && strchr(id + 1, '.') ? strchr(id + 1, '.') + 1 : tr->name;
	key = v->path + bl;
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03dZ",
		 (int)(v->e.time % 1000000000 / 1000000));
	for (j = 0; j < 16 && (v->e.flags & AG_EVENT_ETAG); j++)
		snprintf(etag + 2 * j, 3, "%02x", v->e.etag[j]);
	rc = ce_add(dl, &len,
		    "{\"Records\":[{\"eventVersion\":\"2.1\","
		    "\"eventSource\":\"agora:s3\",\"awsRegion\":\"\","
		    "\"eventTime\":\"%s\",\"eventName\":\"%s\","
		    "\"userIdentity\":{\"principalId\":\"%s\"},"
		    "\"requestParameters\":{\"sourceIPAddress\":\"\"},"
		    "\"responseElements\":{\"x-amz-request-id\":\"%016" PRIX64
		    "\"},\"s3\":{\"s3SchemaVersion\":\"1.0\","
		    "\"configurationId\":", when,
		    v->e.kind == AG_EV_DELETED ? "ObjectRemoved:Delete"
					       : "ObjectCreated:Put",
		    ag_event_proto_name(v->e.proto), v->e.seq);
	if (!rc)
		rc = ag_json_str(dl->ce, sizeof(dl->ce), &len, id);
	snprintf(bucket, sizeof(bucket), "%.*s", (int)(bl - 2), v->path + 1);
	snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", bucket);
	if (!rc)
		rc = ce_add(dl, &len, ",\"bucket\":{\"name\":");
	if (!rc)
		rc = ag_json_str(dl->ce, sizeof(dl->ce), &len, bucket);
	if (!rc)
		rc = ce_add(dl, &len, ",\"ownerIdentity\":{\"principalId\":"
			    "\"\"},\"arn\":");
	if (!rc)
		rc = ag_json_str(dl->ce, sizeof(dl->ce), &len, arn);
	if (!rc)
		rc = ce_add(dl, &len, "},\"object\":{\"key\":\"");
	if (!rc)
		rc = s3_key_add(dl, &len, key);
	if (!rc && v->e.kind != AG_EV_DELETED)
		rc = ce_add(dl, &len, "\",\"size\":%" PRIu64, v->e.size);
	else if (!rc)
		rc = ce_add(dl, &len, "\"");
	if (!rc && etag[0])
		rc = ce_add(dl, &len, ",\"eTag\":\"%s\"", etag);
	if (!rc)
		rc = ce_add(dl, &len, ",\"sequencer\":\"%016" PRIX64
			    "\"}}}]}", v->e.seq);
	return rc;
}

/* The environment of an exec: ours, then the event's. Built before the
 * fork: the child of a threaded process may not allocate. */
static char **exec_env(const struct trig *tr, const struct ag_event_view *v,
		       char vars[][PATH_MAX + 64], size_t nvars)
{
	size_t n = 0, i = 0, j;
	char when[48], etag[33] = "";
	char **env;

	for (j = 0; j < 16 && (v->e.flags & AG_EVENT_ETAG); j++)
		snprintf(etag + 2 * j, 3, "%02x", v->e.etag[j]);
	ag_event_time(v, when, sizeof(when));
	snprintf(vars[i++], sizeof(vars[0]), "CE_SPECVERSION=1.0");
	snprintf(vars[i++], sizeof(vars[0]), "CE_ID=%" PRIu64, v->e.seq);
	snprintf(vars[i++], sizeof(vars[0]), "CE_SOURCE=/agora/events");
	snprintf(vars[i++], sizeof(vars[0]), "CE_TYPE=org.agora.%s",
		 ag_event_kind_name(v->e.kind));
	snprintf(vars[i++], sizeof(vars[0]), "CE_SUBJECT=%s", v->path);
	snprintf(vars[i++], sizeof(vars[0]), "CE_TIME=%s", when);
	snprintf(vars[i++], sizeof(vars[0]), "AGORA_TRIGGER=%s", tr->name);
	snprintf(vars[i++], sizeof(vars[0]), "AGORA_EVENT_SEQ=%" PRIu64,
		 v->e.seq);
	snprintf(vars[i++], sizeof(vars[0]), "AGORA_EVENT_TYPE=%s",
		 ag_event_kind_name(v->e.kind));
	snprintf(vars[i++], sizeof(vars[0]), "AGORA_EVENT_PATH=%s", v->path);
	snprintf(vars[i++], sizeof(vars[0]), "AGORA_EVENT_OLD_PATH=%s",
		 v->opath);
	snprintf(vars[i++], sizeof(vars[0]), "AGORA_EVENT_SIZE=%" PRIu64,
		 v->e.size);
	snprintf(vars[i++], sizeof(vars[0]), "AGORA_EVENT_ETAG=%s", etag);
	snprintf(vars[i++], sizeof(vars[0]), "AGORA_EVENT_PROTOCOL=%s",
		 ag_event_proto_name(v->e.proto));
	snprintf(vars[i++], sizeof(vars[0]), "AGORA_EVENT_TIME_NS=%" PRId64,
		 v->e.time);
	while (environ[n])
		n++;
	env = calloc(n + i + 1, sizeof(*env));
	if (!env || i > nvars)
		return env;
	memcpy(env, environ, n * sizeof(*env));
	for (j = 0; j < i; j++)
		env[n + j] = vars[j];
	return env;
}

#define EXEC_VARS 15

static int deliver_exec(struct deliverer *dl, const struct trig *tr,
			const struct ag_event_view *v)
{
	static char vars[EXEC_VARS][PATH_MAX + 64];
	char **env = exec_env(tr, v, vars, EXEC_VARS);
	size_t len = strlen(dl->ce), off = 0;
	int fds[2], status, rc = 0;
	pid_t pid;

	if (!env)
		return -ENOMEM;
	if (pipe(fds)) {
		free(env);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(fds[0]);
		close(fds[1]);
		free(env);
		return rc;
	}
	if (!pid) {
		char *argv[] = { "sh", "-c", (char *)tr->target, NULL };

		dup2(fds[0], STDIN_FILENO);
		close(fds[0]);
		close(fds[1]);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	free(env);
	close(fds[0]);
	while (off < len) {
		ssize_t w = write(fds[1], dl->ce + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* it does not read its input: its choice */
		off += (size_t)w;
	}
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	if (WIFEXITED(status))
		snprintf(dl->err, sizeof(dl->err), "exit %d",
			 WEXITSTATUS(status));
	else
		snprintf(dl->err, sizeof(dl->err), "signal %d",
			 WTERMSIG(status));
	return -EIO;
}

static int deliver_webhook(struct deliverer *dl, const struct trig *tr)
{
	struct curl_slist *hdrs = NULL;
	long code = 0;
	CURL *curl;
	CURLcode cc;

	if (dl->curl)
		curl_easy_reset(dl->curl); /* keeps the live connections */
	else
		dl->curl = curl_easy_init();
	curl = dl->curl;
	if (!curl)
		return -ENOMEM;
	hdrs = curl_slist_append(hdrs, tr->d.form
			? "Content-Type: application/json"
			: "Content-Type: application/cloudevents+json");
	curl_easy_setopt(curl, CURLOPT_URL, tr->target);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, dl->ce);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		snprintf(dl->err, sizeof(dl->err), "%s",
			 curl_easy_strerror(cc));
		return -EIO;
	}
	if (code < 200 || code > 299) {
		snprintf(dl->err, sizeof(dl->err), "HTTP %ld", code);
		return -EIO;
	}
	return 0;
}

static void nap_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Deliver v to tr until it succeeds or becomes a dead letter; then move
 * the cursor past it. */
static int deliver(struct deliverer *dl, struct trig *tr,
		   const struct ag_event_view *v)
{
	int max = dl->o->max_failures > 0 ? dl->o->max_failures : 5;
	uint64_t first = dl->o->retry_ms > 0 ? (uint64_t)dl->o->retry_ms : 200;
	struct ag_trigger_cursor cur = tr->cur;
	int rc = tr->d.form ? s3_record(dl, tr, v) : cloudevent(dl, v);

	if (rc)
		return rc;
	for (;;) {
		uint64_t wait = first, f;

		dl->err[0] = 0;
		rc = tr->d.action == AG_TRIGGER_EXEC ? deliver_exec(dl, tr, v)
						     : deliver_webhook(dl, tr);
		if (!rc) {
			/* the cursor moves in the tree with a later commit
			 * (catch_up): until then, a deliverer after us
			 * delivers this event again */
			tr->cur.next = v->e.seq + 1;
			tr->cur.failures = 0;
			if (dl->o->out)
				fprintf(dl->o->out, "delivered %s seq=%" PRIu64
					" %s\n", tr->name, v->e.seq, v->path);
			return 0;
		}
		if (rc != -EIO)
			return rc;
		cur.failures++;
		if (cur.failures >= (uint32_t)max) {
			uint32_t attempts = cur.failures;

			cur.next = v->e.seq + 1;
			cur.failures = 0;
			cur.dead++;
			rc = cursor_put(dl, tr, &cur, v->e.seq, attempts);
			if (!rc && dl->o->out)
				fprintf(dl->o->out, "dead %s seq=%" PRIu64
					" %s: %s\n", tr->name, v->e.seq,
					v->path, dl->err);
			return rc;
		}
		/* the count survives us: a deliverer after us goes on
		 * from it */
		rc = cursor_put(dl, tr, &cur, 0, 0);
		if (rc)
			return rc;
		if (dl->o->verbose)
			fprintf(stderr, "agora: trigger %s, event %" PRIu64
				": %s (failure %" PRIu32 ")\n", tr->name,
				v->e.seq, dl->err, cur.failures);
		for (f = 1; f < cur.failures && wait < BACKOFF_MAX_MS; f++)
			wait *= 2;
		wait = AG_MIN(wait, AG_MIN((uint64_t)BACKOFF_MAX_MS,
					   dl->lease_ns / 2000000));
		nap_ms(wait);
		if (dl->o->stop && *dl->o->stop)
			return 0;
	}
}

/* Commit tr's cursor where delivery got to, when it moved. */
static int cursor_sync(struct deliverer *dl, struct trig *tr)
{
	struct ag_trigger_cursor cur = tr->cur;

	return cur.next == tr->stored ? 0 : cursor_put(dl, tr, &cur, 0, 0);
}

/* Deliver what tr has not had, up to the end of the log. The cursor is
 * committed after each batch and every CURSOR_EVERY_NS: never past an
 * event not delivered, so a crash costs duplicates, never an event. */
static int catch_up(struct deliverer *dl, struct ag_event_paths *p,
		    struct trig *tr, struct ag_event_view *vs, int *fd)
{
	uint64_t synced = ag_mono_ns(), from, after;
	size_t n, i;
	int rc;

	do {
		from = tr->cur.next;
		rc = ag_events_read(dl->c, p, from, vs, BATCH, &n, &after);
		for (i = 0; !rc && i < n; i++) {
			if (dl->o->stop && *dl->o->stop)
				break;
			if (matches(tr, &vs[i]))
				rc = deliver(dl, tr, &vs[i]);
			else
				tr->cur.next = vs[i].e.seq + 1;
			if (!rc && ag_mono_ns() - synced > CURSOR_EVERY_NS) {
				rc = cursor_sync(dl, tr);
				synced = ag_mono_ns();
			}
		}
		/* and past what the read passed by */
		if (!rc && i == n && after > tr->cur.next)
			tr->cur.next = after;
		/* the notices of the commits read meanwhile: metad drops a
		 * watcher that does not read them */
		while (!rc && *fd >= 0 && ag_watch_wait(dl->c, fd, 0) == 1)
			;
	} while (!rc && after > from && !(dl->o->stop && *dl->o->stop));
	/* past events delivered or that did not match: the log may go */
	return rc ? rc : cursor_sync(dl, tr);
}

/* Renew the lease when a third of it went by. */
static int keep_lease(struct deliverer *dl)
{
	if (ag_mono_ns() - dl->renewed < dl->lease_ns / 3)
		return 0;
	return lease(dl, dl->lease_ns);
}

static int run_rounds(struct deliverer *dl, struct trig *ts,
		      struct ag_event_view *vs, struct ag_event_paths *p)
{
	int fd = -1, rc = 0, w;
	size_t n, i;

	if (dl->o->watch)
		rc = ag_watch_wait(dl->c, &fd, 0) < 0 ? -ENOTCONN : 0;
	while (!rc && !(dl->o->stop && *dl->o->stop)) {
		rc = load_all(dl->c, ts, &n);
		for (i = 0; !rc && i < n; i++)
			rc = catch_up(dl, p, &ts[i], vs, &fd);
		if (rc || !dl->o->watch)
			break;
		/* caught up: wait for a commit, renewing the lease */
		do {
			rc = keep_lease(dl);
			w = rc ? 0 : ag_watch_wait(dl->c, &fd,
					(int)(dl->lease_ns / 3000000));
		} while (!rc && !w && !(dl->o->stop && *dl->o->stop));
		if (w < 0)
			rc = ag_watch_wait(dl->c, &fd, 0) < 0 ? -ENOTCONN : 0;
	}
	ag_watch_close(fd);
	return rc;
}

int ag_trigger_run(struct ag_cluster *c, const struct ag_deliver_opts *o)
{
	struct ag_event_paths *p = NULL;
	struct ag_event_view *vs = NULL;
	struct deliverer *dl = calloc(1, sizeof(*dl));
	struct trig *ts = malloc(TRIGGERS_MAX * sizeof(*ts));
	int rc = dl && ts ? 0 : -ENOMEM;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!rc) {
		vs = malloc(BATCH * sizeof(*vs));
		rc = vs ? ag_event_paths_new(&p) : -ENOMEM;
	}
	if (rc)
		goto out;
	dl->c = c;
	dl->o = o;
	dl->lease_ns = (uint64_t)(o->lease_s > 0 ? o->lease_s : 10) *
		       1000000000ull;
	if (getrandom(&dl->token, sizeof(dl->token), 0) !=
	    (ssize_t)sizeof(dl->token)) {
		rc = -EIO;
		goto out;
	}
	/* a deliverer that watches waits its turn: another holds the
	 * lease until it stops or its lease runs out */
	while ((rc = lease(dl, dl->lease_ns)) == -EBUSY && o->watch &&
	       !(o->stop && *o->stop))
		nap_ms(dl->lease_ns / 4000000);
	if (rc)
		goto out;
	rc = run_rounds(dl, ts, vs, p);
	lease(dl, 0);
out:
	if (dl && dl->curl)
		curl_easy_cleanup(dl->curl);
	ag_event_paths_free(p);
	free(vs);
	free(ts);
	free(dl);
	return rc;
}
