/*
 * events.c - the event log as a client reads it: batches of EVENT
 * records (event.h) from a sequence on, with the paths of their
 * directories resolved (a cache of directory paths, dropped when a
 * directory is renamed or removed), as JSON lines; agora events
 * [--follow], which waits for commits through a watching connection of
 * its own (watch.c), never by polling.
 *
 * A path is resolved at the root read, not at the event's commit: an
 * event of a directory renamed since names the new path.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agora.h"
#include "btree.h"
#include "cluster.h"
#include "event.h"
#include "events.h"
#include "keys.h"
#include "util.h"

#define FOLLOW_WAIT_MS 500 /* how often a follower looks at *stop */
#define BATCH 64

/* path of name in dir; "" when the directory cannot be resolved. */
static void elem_path(struct ag_tree *t, struct ag_event_paths *p,
		      uint64_t dir, const char *name, char *out)
{
	size_t len;

	if (!dir || ag_event_dir_path(t, p, dir, out)) {
		out[0] = 0;
		return;
	}
	len = strlen(out);
	snprintf(out + len, PATH_MAX - len, "/%s", name);
}

/* The event read last, whole, for the next one, which is coded against
 * it (event.h). */
struct event_chain {
	struct ag_event e;
	char name[AG_EVENT_TEXT_MAX];
	uint64_t seq;
	int have;
};

/* Make e (event seq) whole, its name into buf, and remember it. */
static int chain_join(struct event_chain *ch, uint64_t seq,
		      struct ag_event *e, char *buf)
{
	int have = ch->have && ch->seq + 1 == seq;
	int rc = ag_event_join(e, have ? &ch->e : NULL, buf);

	ch->have = !rc;
	if (rc)
		return rc;
	if (buf != ch->name)
		memcpy(ch->name, buf, e->nlen);
	ch->e = *e;
	ch->e.name = ch->name;
	ch->seq = seq;
	return 0;
}

static int view_fill(struct ag_tree *t, struct ag_event_paths *p,
		     struct event_chain *ch, uint64_t seq, const void *val,
		     size_t vl, struct ag_event_view *v)
{
	int rc = ag_event_decode(val, vl, &v->e);

	if (!rc)
		rc = chain_join(ch, seq, &v->e, v->name);
	if (rc)
		return rc;
	v->e.seq = seq;
	v->name[v->e.nlen] = 0;
	memcpy(v->oname, v->e.oname, v->e.olen);
	v->oname[v->e.olen] = 0;
	v->e.name = v->name;
	v->e.oname = v->oname;
	v->opath[0] = 0;
	if (v->e.flags & AG_EVENT_PATH) {
		snprintf(v->path, sizeof(v->path), "%s", v->name);
		snprintf(v->opath, sizeof(v->opath), "%s", v->oname);
		return 0;
	}
	elem_path(t, p, v->e.parent, v->name, v->path);
	if (v->e.kind == AG_EV_RENAMED)
		elem_path(t, p, v->e.oparent, v->oname, v->opath);
	/* a directory moved or gone: the paths below it changed */
	if ((v->e.kind == AG_EV_RENAMED || v->e.kind == AG_EV_DELETED) &&
	    v->e.ftype == (S_IFDIR >> 12))
		ag_event_paths_forget(p);
	return 0;
}

/* Whether path lies under a private name (agora.h): multipart upload
 * parts, which are no elements of anyone's namespace. */
static int path_private(const char *path)
{
	size_t l = strlen(AG_UPLOADS_DIR);

	return path[0] == '/' && !strncmp(path + 1, AG_UPLOADS_DIR, l) &&
	       (path[1 + l] == '/' || !path[1 + l]);
}

static int read_batch(struct ag_tree *t, struct ag_event_paths *p,
		      uint64_t since, struct ag_event_view *vs, size_t max,
		      size_t *n, uint64_t *next)
{
	uint8_t k[AG_KEYBUF], val[AG_EVENT_LEN_MAX];
	/* from the anchor before since: names need those before them */
	size_t kl = ag_key_event(k, since - since % AG_EVENT_ANCHOR), ckl, cvl;
	struct event_chain ch = { .have = 0 };
	const void *ck, *cv;
	struct ag_cursor *c;
	int rc = ag_tree_seek(t, k, kl, &c);

	*n = 0;
	*next = since;
	if (rc)
		return rc;
	while (*n < max && (rc = ag_cursor_next(c, &ck, &ckl, &cv, &cvl)) == 1) {
		uint64_t seq;

		if (ag_key_event_decode(ck, ckl, &seq)) {
			rc = 0;
			break;
		}
		if (cvl > sizeof(val)) {
			rc = AG_CORRUPT("event %" PRIu64 " of %zu bytes", seq,
					cvl);
			break;
		}
		/* the cursor's bytes last only to its next step, and paths
		 * are read meanwhile */
		memcpy(val, cv, cvl);
		if (seq < since) {
			struct ag_event e;

			rc = ag_event_decode(val, cvl, &e);
			if (!rc)
				rc = chain_join(&ch, seq, &e, ch.name);
			if (rc)
				break;
			continue;
		}
		rc = view_fill(t, p, &ch, seq, val, cvl, &vs[*n]);
		if (rc)
			break;
		*next = seq + 1;
		if (!path_private(vs[*n].path) && !path_private(vs[*n].opath))
			(*n)++;
	}
	ag_cursor_free(c);
	return rc < 0 ? rc : 0;
}

int ag_events_read(struct ag_cluster *c, struct ag_event_paths *p,
		   uint64_t since, struct ag_event_view *vs, size_t max,
		   size_t *n, uint64_t *next)
{
	struct ag_tree *t;

	return (int)AG_CL_READ(c, t,
			       read_batch(t, p, since, vs, max, n, next));
}

/* ---- JSON ---- */

int ag_json_str(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t l = *len;

	if (l + 2 > cap)
		return -ENOSPC;
	buf[l++] = '"';
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (l + 7 > cap)
			return -ENOSPC;
		if (ch == '"' || ch == '\\') {
			buf[l++] = '\\';
			buf[l++] = (char)ch;
		} else if (ch < 0x20) {
			l += (size_t)snprintf(buf + l, cap - l, "\\u%04x", ch);
		} else {
			buf[l++] = (char)ch;
		}
	}
	if (l + 2 > cap)
		return -ENOSPC;
	buf[l++] = '"';
	buf[l] = 0;
	*len = l;
	return 0;
}

void ag_event_time(const struct ag_event_view *v, char *buf, size_t cap)
{
	time_t secs = (time_t)(v->e.time / 1000000000);
	struct tm tm;
	char day[32];

	gmtime_r(&secs, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%09" PRId64 "Z", day, v->e.time % 1000000000);
}

static const char *ftype_name(uint8_t ftype)
{
	switch ((unsigned)ftype << 12) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	case 0:
		return "unknown";
	}
	return "special";
}

/* printf to buf at *len; -ENOSPC when it does not fit */
__attribute__((format(printf, 4, 5))) static int
json_add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -ENOSPC;
	*len += (size_t)n;
	return 0;
}

/* The element's name: the record's, or the last of its path. */
static const char *base_name(const struct ag_event_view *v)
{
	const char *slash = strrchr(v->path, '/');

	if (!(v->e.flags & AG_EVENT_PATH))
		return v->name;
	return slash ? slash + 1 : v->path;
}

int ag_event_json(const struct ag_event_view *v, char *buf, size_t cap)
{
	const struct ag_event *e = &v->e;
	char when[48], etag[33] = "";
	size_t len = 0;
	int rc, i;

	ag_event_time(v, when, sizeof(when));
	for (i = 0; i < 16 && (e->flags & AG_EVENT_ETAG); i++)
		snprintf(etag + 2 * i, 3, "%02x", e->etag[i]);
	rc = json_add(buf, cap, &len, "{\"seq\":%" PRIu64 ",\"type\":\"%s\","
		      "\"path\":", e->seq, ag_event_kind_name(e->kind)
					   ? ag_event_kind_name(e->kind)
					   : "unknown");
	if (!rc)
		rc = ag_json_str(buf, cap, &len, v->path);
	if (!rc && e->kind == AG_EV_RENAMED) {
		rc = json_add(buf, cap, &len, ",\"old_path\":");
		if (!rc)
			rc = ag_json_str(buf, cap, &len, v->opath);
	}
	if (!rc)
		rc = json_add(buf, cap, &len,
			      ",\"ino\":%" PRIu64 ",\"parent\":%" PRIu64
			      ",\"name\":", e->ino, e->parent);
	if (!rc)
		rc = ag_json_str(buf, cap, &len, base_name(v));
	if (!rc)
		rc = json_add(buf, cap, &len,
			      ",\"file_type\":\"%s\",\"size\":%" PRIu64
			      ",\"etag\":%s%s%s,\"protocol\":\"%s\","
			      "\"gateway\":\"%016" PRIx64 "\",\"generation\":%"
			      PRIu64 ",\"time\":\"%s\",\"time_ns\":%" PRId64
			      "}",
			      ftype_name(e->ftype), e->size, etag[0] ? "\"" : "",
			      etag[0] ? etag : "null", etag[0] ? "\"" : "",
			      ag_event_proto_name(e->proto), e->gateway, e->gen,
			      when, e->time);
	return rc ? rc : (int)len;
}

/* ---- agora events ---- */

void ag_cluster_set_origin(struct ag_cluster *c, unsigned proto)
{
	c->proto = proto;
}

int ag_events_print(struct ag_cluster *c, uint64_t since, int follow,
		    volatile int *stop, FILE *out)
{
	struct ag_event_paths *p = NULL;
	struct ag_event_view *vs;
	char line[3 * PATH_MAX];
	uint64_t next = since;
	uint64_t after;
	size_t n, i;
	int fd = -1, rc;

	vs = malloc(BATCH * sizeof(*vs));
	rc = vs ? ag_event_paths_new(&p) : -ENOMEM;
	/* watch before the first read: a commit after it is then told */
	if (!rc && follow)
		rc = ag_watch_wait(c, &fd, 0) < 0 ? -ENOTCONN : 0;
	else if (!rc)
		rc = ag_cluster_refresh(c);
	while (!rc && !(stop && *stop)) {
		rc = ag_events_read(c, p, next, vs, BATCH, &n, &after);
		for (i = 0; !rc && i < n; i++) {
			int len = ag_event_json(&vs[i], line, sizeof(line));

			if (len < 0)
				rc = len;
			else if (fprintf(out, "%s\n", line) < 0)
				rc = -EIO;
		}
		if (rc || after > next) {
			next = after; /* read on: there may be more */
			continue;
		}
		if (fflush(out))
			rc = -EIO;
		if (!follow)
			break;
		/* caught up: sleep until metad says a commit happened */
		while (!rc && !(stop && *stop) &&
		       !(rc = ag_watch_wait(c, &fd, FOLLOW_WAIT_MS)))
			;
		if (rc == 1)
			rc = 0;
		else if (rc < 0 && fd < 0)
			rc = ag_watch_wait(c, &fd, 0) < 0 ? -ENOTCONN : 0;
	}
	ag_watch_close(fd);
	ag_event_paths_free(p);
	free(vs);
	return rc;
}
