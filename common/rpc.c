/*
 * rpc.c - sockets and frames between clients and agora-metad.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "rpc.h"
#include "util.h"

#define PATIENCE_NS (60ull * 1000000000ull)

struct ag_rpc {
	char *addr;
	int fd;
	int was_connected; /* a lost metad is waited for; an absent one not */
	uint64_t next_id;
	pthread_mutex_t lock;
	void (*page_sink)(void *arg, const void *page);
	void *page_arg;
	uint8_t *pages; /* room for AG_RPC_PUSH_MAX pushed pages */
};

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
	put_le32(p + 36, 0);
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
	r->fill = get_le64(p + 40);
	return 0;
}

/* Resolve "unix:PATH" or "HOST:PORT" into sa (capacity *len). */
static int resolve(const char *addr, struct sockaddr_storage *sa,
		   socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	const char *colon = strrchr(addr, ':');
	char host[256];

	memset(sa, 0, sizeof(*sa));
	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)sa;

		if (strlen(addr + 5) >= sizeof(un->sun_path))
			return -ENAMETOOLONG;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, addr + 5);
		*len = sizeof(*un);
		return 0;
	}
	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -EINVAL;
	memcpy(sa, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* A socket bound and listening (listen) or connected to addr. */
static int open_socket(const char *addr, int listening)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int fd, rc, one = 1;

	rc = resolve(addr, &sa, &len);
	if (rc)
		return rc;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sa.ss_family != AF_UNIX)
		setsockopt(fd, listening ? SOL_SOCKET : IPPROTO_TCP,
			   listening ? SO_REUSEADDR : TCP_NODELAY, &one,
			   sizeof(one));
	else if (listening)
		unlink(((struct sockaddr_un *)&sa)->sun_path); /* stale */
	if (listening ? bind(fd, (struct sockaddr *)&sa, len) ||
			listen(fd, 128)
		      : connect(fd, (struct sockaddr *)&sa, len)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int ag_rpc_listen(const char *addr)
{
	return open_socket(addr, 1);
}

int ag_rpc_connect(const char *addr)
{
	return open_socket(addr, 0);
}

int ag_rpc_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

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
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
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
	r->fd = -1;
	r->next_id = 1;
	pthread_mutex_init(&r->lock, NULL);
	*rp = r;
	return 0;
}

void ag_rpc_free(struct ag_rpc *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	pthread_mutex_destroy(&r->lock);
	free(r->pages);
	free(r->addr);
	free(r);
}

/* Read the pages pushed after a reply and hand them to the sink. */
static int read_pages(struct ag_rpc *r, uint32_t n)
{
	uint32_t i;
	int rc;

	if (!r->pages) {
		r->pages = malloc((size_t)AG_RPC_PUSH_MAX * AG_PAGE_SIZE);
		if (!r->pages)
			return -ENOMEM;
	}
	rc = ag_rpc_read_all(r->fd, r->pages, (size_t)n * AG_PAGE_SIZE);
	for (i = 0; !rc && r->page_sink && i < n; i++)
		r->page_sink(r->page_arg, r->pages + (size_t)i * AG_PAGE_SIZE);
	return rc;
}

static int call_once(struct ag_rpc *r, uint32_t type, const void *payload,
		     size_t len, struct ag_rpc_reply *reply)
{
	uint8_t hdr[AG_RPC_HDR], body[AG_RPC_REPLY_LEN];
	uint64_t id = r->next_id++;
	uint32_t rlen, npages;
	int rc;

	if (r->fd < 0) {
		r->fd = ag_rpc_connect(r->addr);
		if (r->fd < 0)
			return r->fd;
		r->was_connected = 1;
	}
	put_le32(hdr, (uint32_t)(12 + len));
	put_le32(hdr + 4, type);
	put_le64(hdr + 8, id);
	rc = ag_rpc_write_all(r->fd, hdr, sizeof(hdr));
	if (!rc && len)
		rc = ag_rpc_write_all(r->fd, payload, len);
	if (!rc)
		rc = ag_rpc_read_all(r->fd, hdr, sizeof(hdr));
	if (rc)
		goto broken;
	rlen = get_le32(hdr);
	if (rlen < 12 + AG_RPC_REPLY_LEN || get_le32(hdr + 4) !=
	    (type | AG_RPC_REPLY) || get_le64(hdr + 8) != id)
		goto broken;
	npages = (rlen - 12 - AG_RPC_REPLY_LEN) / AG_PAGE_SIZE;
	if (rlen != 12 + AG_RPC_REPLY_LEN + npages * AG_PAGE_SIZE ||
	    npages > AG_RPC_PUSH_MAX || (npages && type != AG_RPC_TXN))
		goto broken;
	rc = ag_rpc_read_all(r->fd, body, sizeof(body));
	if (!rc && npages)
		rc = read_pages(r, npages);
	if (rc)
		goto broken;
	return ag_rpc_reply_decode(body, sizeof(body), reply);
broken:
	close(r->fd);
	r->fd = -1;
	return -EPIPE;
}

int ag_rpc_try(struct ag_rpc *r, uint32_t type, const void *payload,
	       size_t len, struct ag_rpc_reply *reply)
{
	int rc;

	if (len > AG_RPC_MAX - 12)
		return -E2BIG;
	pthread_mutex_lock(&r->lock);
	rc = call_once(r, type, payload, len, reply);
	pthread_mutex_unlock(&r->lock);
	if (rc == -EPIPE || rc == -ECONNREFUSED || rc == -ENOENT)
		rc = -ENOTCONN;
	return rc;
}

int ag_rpc_call(struct ag_rpc *r, uint32_t type, const void *payload,
		size_t len, struct ag_rpc_reply *reply)
{
	uint64_t start = ag_mono_ns();
	int rc, tries = 0;

	if (len > AG_RPC_MAX - 12)
		return -E2BIG;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		rc = call_once(r, type, payload, len, reply);
		if (rc != -EPIPE && rc != -ECONNREFUSED && rc != -ENOENT)
			break;
		/* metad is restarting: the same transaction id is safe to
		 * send again, it is applied at most once */
		if (ag_mono_ns() - start > (r->was_connected ? PATIENCE_NS
							     : PATIENCE_NS / 60))
			break;
		if (tries++ == 3)
			AG_WARN("agora-metad at %s does not answer; retrying",
				r->addr);
		usleep(tries < 10 ? 20000 : 200000);
	}
	pthread_mutex_unlock(&r->lock);
	if (rc == -EPIPE || rc == -ECONNREFUSED || rc == -ENOENT)
		rc = -ENOTCONN;
	return rc;
}
