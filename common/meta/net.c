/*
 * net.c - the transport seam of the metad RPC: libc sockets for "unix:"
 * and "HOST:PORT", rsockets (librdmacm) for "rdma:HOST:PORT".
 *
 * The transport of a descriptor is chosen once, by the address it was
 * opened for; every later call finds it again by the descriptor. An
 * rsocket's descriptor is a kernel descriptor of its own (librdmacm
 * numbers an rsocket by the descriptor of its connection-manager
 * channel), so no plain socket ever has the same number while it is
 * open: a table indexed by descriptor says which ones are rsockets, and
 * for those the stall timeout, which rsockets do not take as
 * SO_RCVTIMEO and which is kept here instead (a blocking call waits in
 * rpoll for at most that long first).
 *
 * Without HAVE_RDMA the table and the rsocket calls are not built, and
 * an rdma: address is refused with -EPROTONOSUPPORT.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_RDMA
#include <rdma/rsocket.h>
#endif

#include "net.h"
#include "util.h"

static int is_rdma_addr(const char *addr)
{
	return !strncmp(addr, AG_NET_RDMA_PREFIX,
			sizeof(AG_NET_RDMA_PREFIX) - 1);
}

#ifdef HAVE_RDMA
#define FD_TABLE 65536
/* 0: not an rsocket; else 1 + its stall timeout in ms (0: none) */
static _Atomic uint16_t rsock[FD_TABLE];

static int is_rsock(int fd)
{
	return fd >= 0 && fd < FD_TABLE && atomic_load(&rsock[fd]);
}

/* Wait up to fd's stall timeout for events; 0 when they came, else -1
 * with errno EAGAIN (as a timed-out SO_RCVTIMEO socket says). */
static int rsock_stall_wait(int fd, short events, int flags)
{
	unsigned ms = atomic_load(&rsock[fd]) - 1u;
	struct pollfd pfd = { .fd = fd, .events = events };
	int rc;

	if (!ms || (flags & MSG_DONTWAIT) ||
	    (rfcntl(fd, F_GETFL) & O_NONBLOCK))
		return 0;
	rc = rpoll(&pfd, 1, (int)ms);
	if (rc == 0)
		errno = EAGAIN;
	return rc == 0 || (rc < 0 && errno != EINTR) ? -1 : 0;
}
#endif

int ag_net_check(const char *addr)
{
	const char *hostport = addr, *colon;

	if (!strncmp(addr, "unix:", 5))
		return addr[5] ? 0 : -EINVAL;
	if (is_rdma_addr(addr)) {
#ifndef HAVE_RDMA
		AG_ERR("%s: this agora was built without RDMA: configure it "
		       "--with-rdma (libibverbs, librdmacm), or use HOST:PORT",
		       addr);
		return -EPROTONOSUPPORT;
#endif
		hostport = addr + sizeof(AG_NET_RDMA_PREFIX) - 1;
	}
	colon = strrchr(hostport, ':');
	if (!colon || colon == hostport || !colon[1])
		return -EINVAL;
	return 0;
}

/* Resolve addr (ag_net_check passed) into sa (capacity *len). */
static int resolve(const char *addr, struct sockaddr_storage *sa,
		   socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	const char *colon;
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
	if (is_rdma_addr(addr))
		addr += sizeof(AG_NET_RDMA_PREFIX) - 1;
	colon = strrchr(addr, ':');
	if ((size_t)(colon - addr) >= sizeof(host))
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

/* A new stream socket of the transport of addr; the descriptor or
 * -errno. */
static int new_socket(int rdma, int family)
{
	int fd;

#ifdef HAVE_RDMA
	if (rdma) {
		fd = rsocket(family, SOCK_STREAM, 0);
		if (fd < 0)
			return -errno;
		if (fd >= FD_TABLE) {
			rclose(fd);
			return -EMFILE;
		}
		atomic_store(&rsock[fd], 1);
		return fd;
	}
#else
	(void)rdma;
#endif
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

static int net_setsockopt(int fd, int level, int name, int value)
{
#ifdef HAVE_RDMA
	if (is_rsock(fd))
		return rsetsockopt(fd, level, name, &value, sizeof(value));
#endif
	return setsockopt(fd, level, name, &value, sizeof(value));
}

static int net_fcntl(int fd, int cmd, int arg)
{
#ifdef HAVE_RDMA
	if (is_rsock(fd))
		return rfcntl(fd, cmd, arg);
#endif
	return fcntl(fd, cmd, arg);
}

static int net_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
#ifdef HAVE_RDMA
	if (is_rsock(fd))
		return rconnect(fd, sa, len);
#endif
	return connect(fd, sa, len);
}

/* The error a non-blocking connect ended with, in *err; 0 or -1. */
static int net_connect_error(int fd, int *err)
{
	socklen_t elen = sizeof(*err);

#ifdef HAVE_RDMA
	if (is_rsock(fd))
		return rgetsockopt(fd, SOL_SOCKET, SO_ERROR, err, &elen);
#endif
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &elen);
}

/* connect(), given up after timeout_ms (a host that does not answer at
 * all would hold it for minutes): 0, or -1 with errno set. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len,
			  int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int flags = net_fcntl(fd, F_GETFL, 0), err = 0, rc;

	if (flags < 0 || net_fcntl(fd, F_SETFL, flags | O_NONBLOCK))
		return net_connect(fd, sa, len);
	if (!net_connect(fd, sa, len))
		goto done;
	/* a Unix socket whose listener's backlog is full says EAGAIN:
	 * to the caller, a metad not there now */
	if (errno == EAGAIN)
		errno = ECONNREFUSED;
	if (errno != EINPROGRESS)
		return -1;
	rc = ag_net_poll(&pfd, 1, (int64_t)timeout_ms * 1000000);
	if (rc != 1) {
		errno = rc < 0 ? -rc : ETIMEDOUT;
		return -1;
	}
	if (net_connect_error(fd, &err) || err) {
		errno = err ? err : ECONNREFUSED;
		return -1;
	}
done:
	return net_fcntl(fd, F_SETFL, flags) ? -1 : 0;
}

/* A socket bound and listening (listening) or connected to addr. */
static int open_socket(const char *addr, int listening, int timeout_ms)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int fd, rc, rdma = is_rdma_addr(addr);

	rc = ag_net_check(addr);
	if (!rc)
		rc = resolve(addr, &sa, &len);
	if (rc)
		return rc;
	fd = new_socket(rdma, sa.ss_family);
	if (fd < 0)
		return fd;
	if (sa.ss_family != AF_UNIX)
		net_setsockopt(fd, listening ? SOL_SOCKET : IPPROTO_TCP,
			       listening ? SO_REUSEADDR : TCP_NODELAY, 1);
	else if (listening)
		unlink(((struct sockaddr_un *)&sa)->sun_path); /* stale */
	if (listening) {
#ifdef HAVE_RDMA
		if (rdma)
			rc = rbind(fd, (struct sockaddr *)&sa, len) ||
			     rlisten(fd, 128);
		else
#endif
			rc = bind(fd, (struct sockaddr *)&sa, len) ||
			     listen(fd, 128);
	} else {
		rc = connect_within(fd, (struct sockaddr *)&sa, len,
				    timeout_ms);
	}
	if (rc) {
		rc = -errno;
		ag_net_close(fd);
		return rc;
	}
	return fd;
}

int ag_net_listen(const char *addr)
{
	return open_socket(addr, 1, 0);
}

int ag_net_connect(const char *addr, int timeout_ms)
{
	return open_socket(addr, 0, timeout_ms);
}

int ag_net_accept(int lfd)
{
	int fd;

#ifdef HAVE_RDMA
	if (is_rsock(lfd)) {
		fd = raccept(lfd, NULL, NULL);
		if (fd < 0)
			return -errno;
		if (fd >= FD_TABLE) {
			rclose(fd);
			return -EMFILE;
		}
		atomic_store(&rsock[fd], 1);
		if (rfcntl(fd, F_SETFL, O_NONBLOCK)) {
			int rc = -errno;

			ag_net_close(fd);
			return rc;
		}
		return fd;
	}
#endif
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

ssize_t ag_net_send(int fd, const void *buf, size_t len, int flags)
{
#ifdef HAVE_RDMA
	if (is_rsock(fd))
		return rsock_stall_wait(fd, POLLOUT, flags) ? -1 :
		       rsend(fd, buf, len, flags & MSG_DONTWAIT);
#endif
	return send(fd, buf, len, flags | MSG_NOSIGNAL);
}

ssize_t ag_net_recv(int fd, void *buf, size_t len, int flags)
{
#ifdef HAVE_RDMA
	if (is_rsock(fd))
		return rsock_stall_wait(fd, POLLIN, flags) ? -1 :
		       rrecv(fd, buf, len, flags & MSG_DONTWAIT);
#endif
	return recv(fd, buf, len, flags);
}

int ag_net_poll(struct pollfd *pfd, nfds_t n, int64_t timeout_ns)
{
	int rc;

#ifdef HAVE_RDMA
	nfds_t i;

	/* rpoll takes plain descriptors too, but only milliseconds */
	for (i = 0; i < n; i++)
		if (is_rsock(pfd[i].fd)) {
			rc = rpoll(pfd, n, timeout_ns < 0 ? -1 :
				   (int)((timeout_ns + 999999) / 1000000));
			return rc < 0 ? -errno : rc;
		}
#endif
	if (timeout_ns < 0) {
		rc = ppoll(pfd, n, NULL, NULL);
	} else {
		struct timespec ts = {
			.tv_sec = timeout_ns / 1000000000,
			.tv_nsec = timeout_ns % 1000000000,
		};

		rc = ppoll(pfd, n, &ts, NULL);
	}
	return rc < 0 ? -errno : rc;
}

void ag_net_set_stall(int fd, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

#ifdef HAVE_RDMA
	if (is_rsock(fd)) {
		atomic_store(&rsock[fd], (uint16_t)(1 + AG_MIN(ms, 65534u)));
		return;
	}
#endif
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int ag_net_shutdown(int fd)
{
#ifdef HAVE_RDMA
	if (is_rsock(fd))
		return rshutdown(fd, SHUT_RDWR) ? -errno : 0;
#endif
	return shutdown(fd, SHUT_RDWR) ? -errno : 0;
}

int ag_net_close(int fd)
{
#ifdef HAVE_RDMA
	if (is_rsock(fd)) {
		/* unmarked first: once closed, the number may be reused */
		atomic_store(&rsock[fd], 0);
		return rclose(fd) ? -errno : 0;
	}
#endif
	return close(fd) ? -errno : 0;
}
