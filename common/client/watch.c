/*
 * watch.c - the newest generation without asking agora-metad for it.
 *
 * A request must see every commit acknowledged before it began. Asking
 * metad each time costs a round trip and two thread switches on each
 * side, the largest part of a small S3 GET. Instead a thread of ours
 * holds a watching connection: metad writes every new generation to it
 * before it acknowledges the commit to anyone. On a Unix socket the
 * notice is in our socket buffer once written, so when that buffer is
 * empty and our thread is not in the middle of a notice, the state we
 * hold is at least as new as any acknowledgement the request can have
 * followed. Over TCP a notice can still be on the wire: no shortcut.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"
#include "net.h"
#include "rpc.h"
#include "util.h"

#define RETRY_US 100000 /* between attempts to watch again */
#define STOP_CHECK_MS 500 /* how often an idle thread looks at stop */

struct ag_watch {
	struct ag_cluster *c;
	pthread_t thread;
	atomic_int fd;      /* -1 while not watching */
	atomic_int busy;    /* a notice is being read or applied */
	atomic_int stop;
};

/* Read one frame: a reply to our WATCH or a notice. */
static int read_notice(int fd, uint32_t want, struct ag_rpc_reply *r)
{
	uint8_t hdr[AG_RPC_HDR], body[AG_RPC_REPLY_LEN];
	int rc = ag_rpc_read_all(fd, hdr, sizeof(hdr));

	if (!rc && (get_le32(hdr) != 12 + AG_RPC_REPLY_LEN ||
		    get_le32(hdr + 4) != want))
		rc = -EPROTO;
	if (!rc)
		rc = ag_rpc_read_all(fd, body, sizeof(body));
	return rc ? rc : ag_rpc_reply_decode(body, sizeof(body), r);
}

/* Connect and ask to watch; the socket, or -errno. */
static int subscribe_cluster(struct ag_cluster *c)
{
	uint8_t hdr[AG_RPC_HDR];
	struct ag_rpc_reply r;
	int fd = ag_rpc_connect(c->cfg->metad), rc;

	if (fd < 0)
		return fd;
	put_le32(hdr, 12);
	put_le32(hdr + 4, AG_RPC_WATCH);
	put_le64(hdr + 8, 1);
	rc = ag_rpc_write_all(fd, hdr, sizeof(hdr));
	if (!rc)
		rc = read_notice(fd, AG_RPC_WATCH | AG_RPC_REPLY, &r);
	if (rc) {
		ag_net_close(fd);
		return rc;
	}
	ag_cl_set_state(c, r.gen, r.root);
	return fd;
}

static int subscribe(struct ag_watch *w)
{
	return subscribe_cluster(w->c);
}

static void *watch_main(void *arg)
{
	struct ag_watch *w = arg;

	while (!atomic_load(&w->stop)) {
		struct pollfd pfd = { .events = POLLIN };
		struct ag_rpc_reply r;
		int fd = atomic_load(&w->fd), rc;

		if (fd < 0) {
			fd = subscribe(w);
			if (fd < 0) {
				usleep(RETRY_US);
				continue;
			}
			atomic_store(&w->fd, fd);
		}
		pfd.fd = fd;
		if (ag_net_poll(&pfd, 1, STOP_CHECK_MS * 1000000ll) <= 0)
			continue;
		/* busy before the bytes leave the socket: a reader that sees
		 * the socket empty sees busy until the state is applied */
		atomic_store(&w->busy, 1);
		rc = read_notice(fd, AG_RPC_NOTIFY | AG_RPC_REPLY, &r);
		if (!rc)
			ag_cl_set_state(w->c, r.gen, r.root);
		else
			atomic_store(&w->fd, -1);
		atomic_store(&w->busy, 0);
		if (rc)
			ag_net_close(fd);
	}
	return NULL;
}

int ag_watch_start(struct ag_cluster *c, struct ag_watch **wp)
{
	struct ag_watch *w;
	int rc;

	*wp = NULL;
	/* no shortcut over TCP, nor with several metad: a stopped one
	 * would look like one with nothing to say */
	if (strncmp(c->cfg->metad, "unix:", 5) || strchr(c->cfg->metad, ','))
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->c = c;
	atomic_init(&w->fd, -1);
	rc = pthread_create(&w->thread, NULL, watch_main, w);
	if (rc) {
		free(w);
		return -rc;
	}
	*wp = w;
	return 0;
}

void ag_watch_stop(struct ag_watch *w)
{
	int fd;

	if (!w)
		return;
	atomic_store(&w->stop, 1);
	fd = atomic_load(&w->fd);
	if (fd >= 0)
		ag_net_shutdown(fd); /* wakes the thread's poll */
	pthread_join(w->thread, NULL);
	fd = atomic_load(&w->fd);
	if (fd >= 0)
		ag_net_close(fd);
	free(w);
}

int ag_watch_fresh(struct ag_watch *w)
{
	int fd, pending = 1;

	if (!w)
		return 0;
	fd = atomic_load(&w->fd);
	if (fd < 0 || ioctl(fd, FIONREAD, &pending) || pending)
		return 0;
	return !atomic_load(&w->busy) && atomic_load(&w->fd) == fd;
}

int ag_watch_wait(struct ag_cluster *c, int *fd, int timeout_ms)
{
	struct pollfd pfd = { .events = POLLIN };
	struct ag_rpc_reply r;
	int rc;

	if (*fd < 0) {
		rc = subscribe_cluster(c);
		if (rc < 0)
			return rc;
		*fd = rc;
		return 1; /* the state is the newest now */
	}
	pfd.fd = *fd;
	rc = ag_net_poll(&pfd, 1, timeout_ms < 0 ? -1 :
				  timeout_ms * 1000000ll);
	if (rc < 0)
		return rc == -EINTR ? 0 : rc;
	if (!rc)
		return 0;
	rc = read_notice(*fd, AG_RPC_NOTIFY | AG_RPC_REPLY, &r);
	if (rc) {
		ag_net_close(*fd);
		*fd = -1;
		return rc;
	}
	ag_cl_set_state(c, r.gen, r.root);
	return 1;
}

void ag_watch_close(int fd)
{
	if (fd >= 0)
		ag_net_close(fd);
}
