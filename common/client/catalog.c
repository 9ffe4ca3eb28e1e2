/*
 * catalog.c - agora catalog: a SQLite database of the namespace, one row
 * per element (schema in agora(8)), built once by a walk of the
 * tree and then kept current from the event log, resumable: the table
 * catalog holds the event seq to apply next, committed in the same
 * SQLite transaction as the rows it brought.
 *
 * The walk reads one root; the log position is taken before it, so the
 * events the walk may already show are applied again after it, which
 * changes nothing: an event sets a row from the element as the newest
 * root has it (created, closed, metadata), or removes it (deleted), or
 * moves it and the rows below it (renamed). A hard link is one row, at
 * the path seen last.
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agora.h"
#include "btree.h"
#include "cluster.h"
#include "event.h"
#include "events.h"
#include "keys.h"
#include "util.h"

#define BATCH 64
#define FOLLOW_WAIT_MS 500
#define CATALOG_CACHE_KIB "262144" /* SQLite's page cache, at most */
#define CATALOG_BUSY_MS 30000 /* how long a write waits for readers */

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS elements ("
	" ino INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
	" parent INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
	" size INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL,"
	" gid INTEGER NOT NULL, nlink INTEGER NOT NULL,"
	" mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,"
	" btime_ns INTEGER NOT NULL, etag TEXT);"
	"CREATE INDEX IF NOT EXISTS elements_parent ON elements(parent);"
	"CREATE TABLE IF NOT EXISTS catalog (key TEXT PRIMARY KEY,"
	" value INTEGER NOT NULL);";

struct catalog {
	struct ag_cluster *c;
	sqlite3 *db;
	sqlite3_stmt *put, *del, *del_below, *move_below;
	uint64_t rows;
};

static int sql_err(struct catalog *k, const char *what)
{
	AG_ERR("catalog: %s: %s", what, sqlite3_errmsg(k->db));
	return -EIO;
}

static int exec(struct catalog *k, const char *sql)
{
	return sqlite3_exec(k->db, sql, NULL, NULL, NULL) == SQLITE_OK
		       ? 0 : sql_err(k, sql);
}

static int prepare(struct catalog *k)
{
	static const char *const sql[] = {
		"INSERT OR REPLACE INTO elements VALUES "
		"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
		"DELETE FROM elements WHERE ino = ?1 OR path = ?2",
		"DELETE FROM elements WHERE substr(path, 1, length(?1) + 1) "
		"= ?1 || '/'",
		"UPDATE OR REPLACE elements SET path = ?2 || substr(path, "
		"length(?1) + 1) WHERE substr(path, 1, length(?1) + 1) = "
		"?1 || '/'",
	};
	sqlite3_stmt **st[] = { &k->put, &k->del, &k->del_below,
				&k->move_below };
	size_t i;

	for (i = 0; i < AG_ARRAY_LEN(sql); i++)
		if (sqlite3_prepare_v2(k->db, sql[i], -1, st[i], NULL) !=
		    SQLITE_OK)
			return sql_err(k, sql[i]);
	return 0;
}

static int step(struct catalog *k, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : sql_err(k, "step");
}

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	}
	return "special";
}

/* The row of a at path. */
static int row_put(struct catalog *k, const struct ag_attr *a,
		   const char *path)
{
	const char *slash = strrchr(path, '/');
	char etag[33];
	int i;

	for (i = 0; i < 16; i++)
		snprintf(etag + 2 * i, 3, "%02x", a->etag[i]);
	sqlite3_bind_int64(k->put, 1, (sqlite3_int64)a->ino);
	sqlite3_bind_text(k->put, 2, path[0] ? path : "/", -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_int64(k->put, 3, (sqlite3_int64)a->parent);
	sqlite3_bind_text(k->put, 4, slash ? slash + 1 : "", -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_text(k->put, 5, type_name(a->mode), -1, SQLITE_STATIC);
	sqlite3_bind_int64(k->put, 6, (sqlite3_int64)a->size);
	sqlite3_bind_int64(k->put, 7, a->mode);
	sqlite3_bind_int64(k->put, 8, a->uid);
	sqlite3_bind_int64(k->put, 9, a->gid);
	sqlite3_bind_int64(k->put, 10, a->nlink);
	sqlite3_bind_int64(k->put, 11, a->mtime);
	sqlite3_bind_int64(k->put, 12, a->ctime);
	sqlite3_bind_int64(k->put, 13, a->btime);
	if (a->flags & AG_ATTR_ETAG)
		sqlite3_bind_text(k->put, 14, etag, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(k->put, 14);
	k->rows++;
	return step(k, k->put);
}

static int inode_get(struct ag_tree *t, uint64_t ino, struct ag_attr *a)
{
	uint8_t key[AG_KEYBUF], v[AG_INODE_LEN];
	size_t vl = sizeof(v);
	int rc = ag_tree_get(t, key, ag_key_inode(key, ino), v, &vl);

	return rc ? rc : ag_inode_decode(v, vl, ino, a);
}

/* ---- the walk ---- */

struct dir_queue {
	uint64_t *ino;
	char **path;
	size_t head, tail, cap;
};

static int queue_push(struct dir_queue *q, uint64_t ino, const char *path)
{
	if (q->tail == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 256;
		uint64_t *ni = realloc(q->ino, cap * sizeof(*ni));
		char **np;

		if (!ni)
			return -ENOMEM;
		q->ino = ni;
		np = realloc(q->path, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		q->path = np;
		q->cap = cap;
	}
	q->path[q->tail] = strdup(path);
	if (!q->path[q->tail])
		return -ENOMEM;
	q->ino[q->tail++] = ino;
	return 0;
}

/* Every entry of directory dir (at path) into rows; directories queued. */
static int walk_dir(struct catalog *k, struct ag_tree *t, uint64_t dir,
		    const char *path, struct dir_queue *q)
{
	uint8_t key[AG_KEYBUF];
	size_t kl = ag_key_dirent(key, dir, "", 0), ckl, cvl;
	char child[PATH_MAX];
	const void *ck, *cv;
	struct ag_cursor *cur;
	int rc = ag_tree_seek(t, key, kl, &cur);

	if (rc)
		return rc;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		struct ag_attr a;
		const char *name;
		uint64_t parent, ino;
		unsigned type;
		size_t nlen;

		if (ag_key_dirent_decode(ck, ckl, &parent, &name, &nlen) ||
		    parent != dir) {
			rc = 0;
			break;
		}
		if (ag_dirent_decode(cv, cvl, dir, &ino, &type) ||
		    (dir == AG_ROOT && ag_name_private(dir, name, nlen)))
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%.*s", path,
				     (int)nlen, name) >= sizeof(child))
			continue;
		rc = inode_get(t, ino, &a);
		if (!rc)
			rc = row_put(k, &a, child);
		if (!rc && S_ISDIR(a.mode))
			rc = queue_push(q, a.ino, child);
		if (rc)
			break;
	}
	ag_cursor_free(cur);
	return rc;
}

static int walk(struct catalog *k)
{
	struct dir_queue q = { 0 };
	struct ag_tree *t;
	struct ag_attr root;
	int rc = ag_cl_tree(k->c, &t);

	if (rc)
		return rc;
	rc = inode_get(t, AG_ROOT, &root);
	if (!rc)
		rc = row_put(k, &root, "");
	if (!rc)
		rc = queue_push(&q, AG_ROOT, "");
	while (!rc && q.head < q.tail) {
		rc = walk_dir(k, t, q.ino[q.head], q.path[q.head], &q);
		free(q.path[q.head++]);
	}
	while (q.head < q.tail)
		free(q.path[q.head++]);
	free(q.ino);
	free(q.path);
	ag_tree_close(t);
	return rc;
}

/* ---- following the log ---- */

static int bind_path(sqlite3_stmt *st, int i, const char *path)
{
	return sqlite3_bind_text(st, i, path[0] ? path : "/", -1,
				 SQLITE_TRANSIENT);
}

static int apply(struct catalog *k, struct ag_tree *t,
		 const struct ag_event_view *v)
{
	const struct ag_event *e = &v->e;
	int dir = e->ftype == (S_IFDIR >> 12), rc;
	struct ag_attr a;

	if (!v->path[0])
		return 0; /* its directory is gone: a later event says more */
	switch (e->kind) {
	case AG_EV_DELETED:
		sqlite3_bind_int64(k->del, 1, (sqlite3_int64)e->ino);
		bind_path(k->del, 2, v->path);
		rc = step(k, k->del);
		if (!rc && dir) {
			bind_path(k->del_below, 1, v->path);
			rc = step(k, k->del_below);
		}
		return rc;
	case AG_EV_RENAMED:
		if (dir && v->opath[0]) {
			bind_path(k->move_below, 1, v->opath);
			bind_path(k->move_below, 2, v->path);
			rc = step(k, k->move_below);
			if (rc)
				return rc;
		}
		break;
	}
	/* the element as the newest root has it */
	rc = inode_get(t, e->ino, &a);
	if (rc == -ENOENT)
		return 0;
	return rc ? rc : row_put(k, &a, v->path);
}

static int state_get(struct catalog *k, uint64_t *next)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(k->db, "SELECT value FROM catalog WHERE key = "
			       "'next_seq'", -1, &st, NULL) != SQLITE_OK)
		return sql_err(k, "state");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*next = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

static int state_put(struct catalog *k, uint64_t next)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO catalog VALUES "
		 "('next_seq', %" PRIu64 ")", next);
	return exec(k, sql);
}

/* The seq after the newest event of the log, at the newest root. */
static int log_end(struct catalog *k, struct ag_event_paths *p,
		   struct ag_event_view *vs, uint64_t *next)
{
	size_t n;
	int rc;

	*next = 1;
	do {
		uint64_t from = *next;

		rc = ag_events_read(k->c, p, from, vs, BATCH, &n, next);
		if (!rc && *next == from)
			break;
	} while (!rc);
	return rc;
}

/* Apply what the log holds from *next on, a SQLite transaction a batch. */
static int catch_up(struct catalog *k, struct ag_event_paths *p,
		    struct ag_event_view *vs, uint64_t *next)
{
	struct ag_tree *t = NULL;
	size_t n, i;
	uint64_t after;
	int rc;

	for (;;) {
		rc = ag_events_read(k->c, p, *next, vs, BATCH, &n, &after);
		if (rc || after == *next)
			return rc;
		rc = ag_cl_tree(k->c, &t);
		if (!rc)
			rc = exec(k, "BEGIN");
		for (i = 0; !rc && i < n; i++)
			rc = apply(k, t, &vs[i]);
		if (!rc)
			rc = state_put(k, after);
		if (!rc)
			rc = exec(k, "COMMIT");
		else
			exec(k, "ROLLBACK");
		ag_tree_close(t);
		if (rc)
			return rc;
		*next = after;
	}
}

int ag_catalog_run(struct ag_cluster *c, const char *db, int follow,
		   volatile int *stop, FILE *out)
{
	struct catalog k = { .c = c };
	struct ag_event_paths *p = NULL;
	struct ag_event_view *vs = malloc(BATCH * sizeof(*vs));
	uint64_t next = 0, t0 = ag_mono_ns();
	int rc = vs ? ag_event_paths_new(&p) : -ENOMEM, fd = -1, have;

	if (!rc && sqlite3_open(db, &k.db) != SQLITE_OK)
		rc = sql_err(&k, db);
	/* the build is one transaction of every row: with SQLite's
	 * default cache (2 MiB) it wrote and read back most pages of the
	 * database as it grew, each row's about once */
	/* a reader holding the database (sqlite3 in a shell, a report)
	 * makes a write wait, not fail: the catalog would stop following */
	if (!rc && sqlite3_busy_timeout(k.db, CATALOG_BUSY_MS) != SQLITE_OK)
		rc = sql_err(&k, db);
	if (!rc)
		rc = exec(&k, "PRAGMA cache_size = -" CATALOG_CACHE_KIB);
	if (!rc)
		rc = exec(&k, schema);
	if (!rc)
		rc = prepare(&k);
	if (!rc && follow)
		rc = ag_watch_wait(c, &fd, 0) < 0 ? -ENOTCONN : 0;
	else if (!rc)
		rc = ag_cluster_refresh(c);
	have = rc ? 0 : state_get(&k, &next);
	if (!rc && have < 0)
		rc = have;
	if (!rc && !have) {
		/* first run: where the log ends, then the walk */
		rc = log_end(&k, p, vs, &next);
		if (!rc)
			rc = exec(&k, "BEGIN");
		if (!rc)
			rc = walk(&k);
		if (!rc)
			rc = state_put(&k, next);
		if (!rc)
			rc = exec(&k, "COMMIT");
		if (!rc && out)
			fprintf(out, "walked %" PRIu64 " elements in %.2f s\n",
				k.rows, (ag_mono_ns() - t0) / 1e9);
	}
	while (!rc && !(stop && *stop)) {
		rc = catch_up(&k, p, vs, &next);
		if (rc || !follow)
			break;
		while (!rc && !(stop && *stop) &&
		       !(rc = ag_watch_wait(c, &fd, FOLLOW_WAIT_MS)))
			;
		if (rc == 1)
			rc = 0;
		else if (rc < 0 && fd < 0)
			rc = ag_watch_wait(c, &fd, 0) < 0 ? -ENOTCONN : 0;
	}
	if (!rc && out)
		fprintf(out, "catalog at event %" PRIu64 "\n", next);
	ag_watch_close(fd);
	sqlite3_finalize(k.put);
	sqlite3_finalize(k.del);
	sqlite3_finalize(k.del_below);
	sqlite3_finalize(k.move_below);
	sqlite3_close(k.db);
	ag_event_paths_free(p);
	free(vs);
	return rc;
}
