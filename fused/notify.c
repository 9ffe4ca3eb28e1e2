/*
 * notify.c - tell the kernel when a file this mount has open changed
 * through another gateway, so that what sits above the mount (an NFS or
 * SMB server re-exporting it, with its files open for long) sees the new
 * size and bytes at once rather than after the attribute timeout, and
 * never new bytes under an old size.
 *
 * A thread looks at the cluster's generation every POLL_MS (the watch
 * keeps it current without a round trip to agora-metad); when it moved,
 * it reads the ctime of every inode open here (fh.c) at the new state,
 * and each one whose ctime changed since the last look has its cached
 * attributes and pages dropped in the kernel
 * (fuse_lowlevel_notify_inval_inode). Changes this gateway committed are
 * dropped too: the kernel reads them back, which costs little, as a
 * written file's pages were written through. Inodes not open need
 * nothing: the kernel asks again after attr_timeout, and drops the pages
 * of a file at each open.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "fused.h"

#define POLL_MS 100

struct seen {
	uint64_t ino;
	int64_t ctime;
};

struct gw_notify {
	struct fuse_session *se;
	struct ag_cluster *c;
	pthread_t thread;
	atomic_int stop;
	struct seen *seen; /* sorted by ino: the last look */
	size_t nseen;
};

static const struct seen *find_seen(const struct gw_notify *n, uint64_t ino)
{
	size_t lo = 0, hi = n->nseen;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (n->seen[mid].ino == ino)
			return &n->seen[mid];
		if (n->seen[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* One look at the open inodes; the last look is replaced by this one. */
static void look(struct gw_notify *n)
{
	uint64_t *inos = NULL;
	ssize_t count = gw_fh_inodes(&inos), i;
	struct seen *now;
	size_t got = 0;

	if (count < 0)
		return;
	now = malloc((count ? count : 1) * sizeof(*now));
	if (!now) {
		free(inos);
		return;
	}
	for (i = 0; i < count; i++) {
		const struct seen *was;
		struct ag_attr a;

		if (ag_getattr(n->c, inos[i], &a))
			continue; /* gone: the kernel learns at its next call */
		/* opened since the last look: it may have changed as well */
		was = find_seen(n, inos[i]);
		if (!was || was->ctime != a.ctime)
			fuse_lowlevel_notify_inval_inode(n->se, inos[i], 0, 0);
		now[got].ino = inos[i];
		now[got].ctime = a.ctime;
		got++;
	}
	free(inos);
	free(n->seen);
	n->seen = now;
	n->nseen = got;
}

static void *notify_main(void *arg)
{
	struct gw_notify *n = arg;
	struct timespec pause = { 0, POLL_MS * 1000000L };
	uint64_t last = ag_cluster_generation(n->c), gen;

	while (!atomic_load(&n->stop)) {
		nanosleep(&pause, NULL);
		if (!gw_fh_any())
			continue;
		/* without a watch (metad over TCP) only a refresh moves it */
		ag_cluster_refresh(n->c);
		gen = ag_cluster_generation(n->c);
		if (gen != last) {
			last = gen;
			look(n);
		}
	}
	return NULL;
}

int gw_notify_start(struct fuse_session *se, struct ag_cluster *c,
		    struct gw_notify **np)
{
	struct gw_notify *n = calloc(1, sizeof(*n));
	int rc;

	*np = NULL;
	if (!n)
		return -ENOMEM;
	n->se = se;
	n->c = c;
	rc = pthread_create(&n->thread, NULL, notify_main, n);
	if (rc) {
		free(n);
		return -rc;
	}
	*np = n;
	return 0;
}

void gw_notify_stop(struct gw_notify *n)
{
	if (!n)
		return;
	atomic_store(&n->stop, 1);
	pthread_join(n->thread, NULL);
	free(n->seen);
	free(n);
}
