/*
 * rpc.c - sockets and frames between clients and agora-metad.
 *
 * With several metad addresses (`metad = A,B,...`) only the active one
 * listens. A client connects to the one that last answered, else to the
 * next of the list that takes the connection. A metad that stopped
 * (SIGSTOP, a hung host) still takes connections, its kernel does, but
 * answers nothing: a call that hears nothing for STALL_MS on such a link
 * asks the other addresses whether one answers at once (a WATCH, which
 * an active metad answers without waiting for a commit), and moves there
 * when one does, resending its calls (idempotent by transaction id). A
 * busy active metad is never left so: no other one answers.
 *
 * A new link is greeted before anyone else may use it (a lazy handle
 * sends the transactions it keeps until they are synced, unsynced.h):
 * under r->lock, one call at a time, and a failed greeting is a link
 * that broke.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "net.h"
#include "rpc.h"
#include "util.h"

#define PATIENCE_NS (60ull * 1000000000ull) /* unless set otherwise */
#define MAX_ADDRS 16
#define CONNECT_MS 1000 /* a connect that takes longer has failed */
#define STALL_MS 1000   /* silence that makes a caller look elsewhere */
#define PROBE_MS 300    /* how long a probed metad has to answer */
/* how long a metad never reached is waited for: one of a list may be
 * taking over from another (the lease, lease.h, runs out first) */
#define ABSENT_NS (1000000000ull)
#define ABSENT_LIST_NS (15ull * 1000000000ull)

/* One connection to metad. Any number of calls share it: each sends its
 * frame whole under write_lock, then waits for the reply with its id.
 * One waiter at a time reads the socket (the reader) and hands each
 * reply to its caller, so a lone caller reads its own reply with no
 * thread in between. A broken link fails every call on it; its fd is
 * closed when the last user lets go. */
struct link {
	int fd;
	int addr;                /* its index in ag_rpc.addrs */
	int refs;
	int dead;
	int reading;             /* a waiter is reading the socket */
	struct pending *pending; /* calls sent, not answered */
	pthread_mutex_t write_lock;
	uint8_t *pages;          /* the reader's room for pushed pages */
};

/* A call waiting for its reply. */
struct pending {
	uint64_t id;
	uint32_t type;
	int done, rc;
	struct ag_rpc_reply reply;
	pthread_cond_t cv;
	struct pending *next;
};

struct ag_rpc {
	char *addr;           /* the list as given */
	char *addrs[MAX_ADDRS];
	int naddrs;
	atomic_int cur;       /* the address tried first */
	int was_connected; /* a lost metad is waited for; an absent one not */
	uint64_t patience_ns; /* how long a call waits for a lost metad */
	uint64_t next_id;
	pthread_mutex_t lock; /* link, ids, every link's pending list */
	struct link *link;
	void (*page_sink)(void *arg, const void *page);
	void *page_arg;
	int (*greet)(void *arg, struct ag_rpc_greeting *g);
	void *greet_arg;
};

/* A connection being greeted (ag_rpc_set_greeter), not yet shared. */
struct ag_rpc_greeting {
	struct ag_rpc *r;
	struct link *l;
};

void ag_rpc_set_greeter(struct ag_rpc *r,
			int (*greet)(void *arg, struct ag_rpc_greeting *g),
			void *arg)
{
	r->greet = greet;
	r->greet_arg = arg;
}

void ag_rpc_set_patience(struct ag_rpc *r, unsigned seconds)
{
	r->patience_ns = (uint64_t)seconds * 1000000000ull;
}

void ag_rpc_set_page_sink(struct ag_rpc *r,
			  void (*sink)(void *arg, const void *page),
			  void *arg)
{
	r->page_sink = sink;
	r->page_arg = arg;
}

void ag_rpc_reply_encode(uint8_t *p, const struct ag_rpc_reply *r)
{
	put_le32(p, (uint32_t)r->status);
	put_le32(p + 4, r->flags);
	put_le64(p + 8, r->gen);
	put_le64(p + 16, r->root);
	put_le64(p + 24, r->ino);
	put_le32(p + 32, r->seg);
	put_le32(p + 36, r->unsynced);
	put_le64(p + 40, r->fill);
}

int ag_rpc_reply_decode(const uint8_t *p, size_t len, struct ag_rpc_reply *r)
{
	if (len != AG_RPC_REPLY_LEN)
		return -AG_EPROTO;
	r->status = (int32_t)get_le32(p);
	r->flags = get_le32(p + 4);
	r->gen = get_le64(p + 8);
	r->root = get_le64(p + 16);
	r->ino = get_le64(p + 24);
	r->seg = get_le32(p + 32);
	r->unsynced = get_le32(p + 36);
	r->fill = get_le64(p + 40);
	return 0;
}

int ag_rpc_reply_header(const uint8_t *hdr, uint32_t *type, uint64_t *id,
			uint32_t *npages)
{
	uint32_t rlen = get_le32(hdr);

	*type = get_le32(hdr + 4);
	*id = get_le64(hdr + 8);
	*npages = rlen < 12 + AG_RPC_REPLY_LEN ? 0 :
		  (rlen - 12 - AG_RPC_REPLY_LEN) / AG_PAGE_SIZE;
	if (rlen != 12 + AG_RPC_REPLY_LEN + *npages * AG_PAGE_SIZE ||
	    *npages > AG_RPC_PUSH_MAX || !(*type & AG_RPC_REPLY) ||
	    (*npages && *type != (AG_RPC_TXN | AG_RPC_REPLY) &&
	     *type != (AG_RPC_TXN_LAZY | AG_RPC_REPLY)))
		return -AG_EPROTO;
	return 0;
}

int ag_rpc_listen(const char *addr)
{
	return ag_net_listen(addr);
}

int ag_rpc_connect(const char *addr)
{
	return ag_net_connect(addr, CONNECT_MS);
}

int ag_rpc_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = ag_net_send(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

int ag_rpc_read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = ag_net_recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

/* r->addr's comma-separated addresses into r->addrs (the first
 * MAX_ADDRS). */
static int split_addrs(struct ag_rpc *r)
{
	const char *p = r->addr;

	while (p && r->naddrs < MAX_ADDRS) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n) {
			r->addrs[r->naddrs] = strndup(p, n);
			if (!r->addrs[r->naddrs])
				return -ENOMEM;
			r->naddrs++;
		}
		p = e ? e + 1 : NULL;
	}
	if (!r->naddrs) { /* an empty list fails to connect, as ever */
		r->addrs[0] = strdup(r->addr);
		if (!r->addrs[0])
			return -ENOMEM;
		r->naddrs = 1;
	}
	return 0;
}

static void ag_rpc_free_addrs(struct ag_rpc *r)
{
	int i;

	for (i = 0; i < r->naddrs; i++)
		free(r->addrs[i]);
}

int ag_rpc_new(const char *addr, struct ag_rpc **rp)
{
	struct ag_rpc *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->addr = strdup(addr);
	if (!r->addr) {
		free(r);
		return -ENOMEM;
	}
	if (split_addrs(r)) {
		ag_rpc_free(r);
		return -ENOMEM;
	}
	r->next_id = 1;
	r->patience_ns = PATIENCE_NS;
	pthread_mutex_init(&r->lock, NULL);
	*rp = r;
	return 0;
}

static void link_put(struct link *l)
{
	if (--l->refs)
		return;
	ag_net_close(l->fd);
	pthread_mutex_destroy(&l->write_lock);
	free(l->pages);
	free(l);
}

/* Fail every call on l and stop new ones from using it. Under r->lock. */
static void link_break(struct ag_rpc *r, struct link *l)
{
	struct pending *p;

	if (l->dead)
		return;
	l->dead = 1;
	ag_net_shutdown(l->fd); /* wakes a reader blocked on it */
	while ((p = l->pending)) {
		l->pending = p->next;
		p->rc = -EPIPE;
		p->done = 1;
		pthread_cond_signal(&p->cv);
	}
	if (r->link == l) {
		r->link = NULL;
		link_put(l); /* last: this may free l */
	}
}

void ag_rpc_free(struct ag_rpc *r)
{
	if (!r)
		return;
	if (r->link)
		link_break(r, r->link);
	pthread_mutex_destroy(&r->lock);
	ag_rpc_free_addrs(r);
	free(r->addr);
	free(r);
}

/* Whether a metad of the list other than the one at index skip answers
 * a WATCH within PROBE_MS: it is active, and r->cur names it. */
static int another_answers(struct ag_rpc *r, int skip)
{
	uint8_t hdr[AG_RPC_HDR];
	int i, fd, found = 0;

	for (i = 0; i < r->naddrs && !found; i++) {
		struct pollfd pfd = { .events = POLLIN };

		if (i == skip)
			continue;
		fd = ag_rpc_connect(r->addrs[i]);
		if (fd < 0)
			continue;
		put_le32(hdr, 12);
		put_le32(hdr + 4, AG_RPC_WATCH);
		put_le64(hdr + 8, 1);
		pfd.fd = fd;
		found = !ag_rpc_write_all(fd, hdr, sizeof(hdr)) &&
			ag_net_poll(&pfd, 1, PROBE_MS * 1000000ll) == 1 &&
			ag_net_recv(fd, hdr, sizeof(hdr), MSG_DONTWAIT) > 0;
		ag_net_close(fd);
		if (found) {
			atomic_store(&r->cur, i);
			AG_WARN("agora-metad at %s does not answer, %s does: "
				"moving there", r->addrs[skip], r->addrs[i]);
		}
	}
	return found;
}

/* Whole buffers on a link, as ag_rpc_read_all and ag_rpc_write_all, but
 * a stall (the socket's timeout, set when there are other addresses) is
 * a broken link (-EPIPE) when another metad answers, and goes on waiting
 * when none does. */
static int link_io(struct ag_rpc *r, struct link *l, void *buf, size_t len,
		   int writing)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = writing ? ag_net_send(l->fd, p, len, 0)
				    : ag_net_recv(l->fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (another_answers(r, l->addr))
				return -EPIPE;
			continue;
		}
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The current link, connecting when there is none. Under r->lock. */
static int link_get(struct ag_rpc *r, struct link **lp)
{
	struct link *l = r->link;

	if (!l) {
		int fd = -ENOENT, i, first = atomic_load(&r->cur), a = first;

		/* the one that answered last, then the others in turn: only
		 * the active one listens */
		for (i = 0; i < r->naddrs; i++) {
			a = (first + i) % r->naddrs;
			fd = ag_rpc_connect(r->addrs[a]);
			if (fd >= 0)
				break;
		}
		if (fd < 0)
			return fd;
		atomic_store(&r->cur, a);
		/* reads and writes give up after STALL_MS (then EAGAIN):
		 * the caller looks for another active metad, and goes on
		 * waiting if none */
		if (r->naddrs > 1)
			ag_net_set_stall(fd, STALL_MS);
		l = calloc(1, sizeof(*l));
		if (!l) {
			ag_net_close(fd);
			return -ENOMEM;
		}
		l->fd = fd;
		l->addr = a;
		l->refs = 1; /* r->link's */
		pthread_mutex_init(&l->write_lock, NULL);
		if (r->greet) {
			struct ag_rpc_greeting g = { r, l };
			int rc = r->greet(r->greet_arg, &g);

			if (rc) {
				link_put(l);
				return rc;
			}
		}
		r->link = l;
		r->was_connected = 1;
	}
	l->refs++;
	*lp = l;
	return 0;
}

/* Read one reply frame off l: its type, id and reply, its pushed pages
 * in l->pages (*npages of them). 0 or -EPIPE (the link is broken). */
static int read_frame(struct ag_rpc *r, struct link *l, uint32_t *type,
		      uint64_t *id, struct ag_rpc_reply *reply,
		      uint32_t *npages)
{
	uint8_t hdr[AG_RPC_HDR], body[AG_RPC_REPLY_LEN];
	int rc;

	rc = link_io(r, l, hdr, sizeof(hdr), 0);
	if (rc)
		return rc;
	if (ag_rpc_reply_header(hdr, type, id, npages))
		return -EPIPE;
	rc = link_io(r, l, body, sizeof(body), 0);
	if (rc || ag_rpc_reply_decode(body, sizeof(body), reply))
		return -EPIPE;
	if (*npages && !l->pages) {
		l->pages = malloc((size_t)AG_RPC_PUSH_MAX * AG_PAGE_SIZE);
		if (!l->pages)
			return -EPIPE;
	}
	if (*npages &&
	    link_io(r, l, l->pages, (size_t)*npages * AG_PAGE_SIZE, 0))
		return -EPIPE;
	return 0;
}

/* Read one reply off l and give it to its caller. The reader runs
 * without r->lock; 0 or -EPIPE (the link is broken). */
static int read_reply(struct ag_rpc *r, struct link *l)
{
	struct ag_rpc_reply reply;
	struct pending **pp, *p;
	uint32_t type, npages, i;
	uint64_t id;
	int rc;

	rc = read_frame(r, l, &type, &id, &reply, &npages);
	if (rc)
		return rc;
	/* the pages are cached before the caller learns of its commit: it
	 * is about to read them */
	for (i = 0; r->page_sink && i < npages; i++)
		r->page_sink(r->page_arg, l->pages + (size_t)i * AG_PAGE_SIZE);
	pthread_mutex_lock(&r->lock);
	for (pp = &l->pending; (p = *pp); pp = &p->next)
		if (p->id == id)
			break;
	if (!p || type != (p->type | AG_RPC_REPLY)) {
		pthread_mutex_unlock(&r->lock);
		return -EPIPE; /* an answer to nothing we asked */
	}
	*pp = p->next;
	p->reply = reply;
	p->rc = 0;
	p->done = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int send_frame(struct ag_rpc *r, struct link *l, uint32_t type,
		      uint64_t id, const void *payload, size_t len)
{
	uint8_t hdr[AG_RPC_HDR];
	int rc;

	put_le32(hdr, (uint32_t)(12 + len));
	put_le32(hdr + 4, type);
	put_le64(hdr + 8, id);
	pthread_mutex_lock(&l->write_lock);
	rc = link_io(r, l, hdr, sizeof(hdr), 1);
	if (!rc && len)
		rc = link_io(r, l, (void *)payload, len, 1);
	pthread_mutex_unlock(&l->write_lock);
	return rc;
}

int ag_rpc_greet_call(struct ag_rpc_greeting *g, uint32_t type,
		      const void *payload, size_t len,
		      struct ag_rpc_reply *reply)
{
	uint64_t id = g->r->next_id++, got;
	uint32_t rtype, npages;
	int rc;

	if (len > AG_RPC_MAX - 12)
		return -E2BIG;
	rc = send_frame(g->r, g->l, type, id, payload, len);
	/* no page sink: the page cache's locks are not taken under
	 * r->lock, and the pages only save reads */
	if (!rc)
		rc = read_frame(g->r, g->l, &rtype, &got, reply, &npages);
	if (!rc && (got != id || rtype != (type | AG_RPC_REPLY)))
		rc = -EPIPE; /* nobody else has asked anything on it */
	return rc;
}

static int call_once(struct ag_rpc *r, uint32_t type, const void *payload,
		     size_t len, struct ag_rpc_reply *reply)
{
	struct pending p = { .type = type };
	struct link *l;
	int rc;

	pthread_cond_init(&p.cv, NULL);
	pthread_mutex_lock(&r->lock);
	rc = link_get(r, &l);
	if (rc)
		goto out;
	p.id = r->next_id++;
	p.next = l->pending;
	l->pending = &p;
	pthread_mutex_unlock(&r->lock);

	rc = send_frame(r, l, type, p.id, payload, len);

	pthread_mutex_lock(&r->lock);
	if (rc)
		link_break(r, l);
	while (!p.done) {
		if (l->reading) {
			pthread_cond_wait(&p.cv, &r->lock);
			continue;
		}
		l->reading = 1;
		pthread_mutex_unlock(&r->lock);
		rc = read_reply(r, l);
		pthread_mutex_lock(&r->lock);
		l->reading = 0;
		if (rc)
			link_break(r, l);
	}
	/* someone else still waits: the socket is theirs to read now */
	if (!l->reading && l->pending)
		pthread_cond_signal(&l->pending->cv);
	link_put(l);
	rc = p.rc;
	if (!rc)
		*reply = p.reply;
out:
	pthread_mutex_unlock(&r->lock);
	pthread_cond_destroy(&p.cv);
	return rc;
}

/* No metad there now: a lost link, or none to be had at any address
 * (refused, no socket, a host that does not answer or cannot be
 * reached). */
static int lost(int rc)
{
	return rc == -EPIPE || rc == -ECONNREFUSED || rc == -ENOENT ||
	       rc == -ECONNRESET || rc == -ETIMEDOUT || rc == -EHOSTUNREACH ||
	       rc == -ENETUNREACH;
}

int ag_rpc_try(struct ag_rpc *r, uint32_t type, const void *payload,
	       size_t len, struct ag_rpc_reply *reply)
{
	int rc;

	if (len > AG_RPC_MAX - 12)
		return -E2BIG;
	rc = call_once(r, type, payload, len, reply);
	return lost(rc) ? -ENOTCONN : rc;
}

int ag_rpc_call(struct ag_rpc *r, uint32_t type, const void *payload,
		size_t len, struct ag_rpc_reply *reply)
{
	uint64_t start = ag_mono_ns();
	int rc, tries = 0;

	if (len > AG_RPC_MAX - 12)
		return -E2BIG;
	for (;;) {
		rc = call_once(r, type, payload, len, reply);
		if (!lost(rc))
			break;
		/* metad is restarting: the same transaction id is safe to
		 * send again, it is applied at most once */
		if (ag_mono_ns() - start >
		    (r->was_connected ? r->patience_ns
				      : AG_MIN(r->patience_ns,
					       r->naddrs > 1 ? ABSENT_LIST_NS
							     : ABSENT_NS)))
			break;
		if (tries++ == 3)
			AG_WARN("agora-metad at %s does not answer; retrying",
				r->addr);
		usleep(tries < 10 ? 20000 : 200000);
	}
	return lost(rc) ? -ENOTCONN : rc;
}
