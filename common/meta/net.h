/*
 * net.h - the transport under the metad RPC (rpc.h): the socket calls,
 * chosen by the address.
 *
 * Addresses: "unix:PATH" (a Unix stream socket), "HOST:PORT" (TCP) and
 * "rdma:HOST:PORT" (librdmacm's rsockets: a stream over RDMA, the same
 * frames as over TCP; only in a build configured --with-rdma, refused
 * with -EPROTONOSUPPORT otherwise). HOST is a name, an IPv4 address or
 * a bare IPv6 address: the port is what follows the last colon.
 *
 * Contract: every descriptor that ag_net_listen, ag_net_connect or
 * ag_net_accept returned is used only through the ag_net_* calls below,
 * never libc's (an rsocket descriptor is not a kernel socket: read(2)
 * or close(2) on it would break it). Plain sockets may be mixed in with
 * them in one ag_net_poll. Functions return 0 or a count, or -errno;
 * ag_net_send and ag_net_recv keep the libc convention (-1 and errno)
 * so that EINTR and EAGAIN read as they always did.
 */
#ifndef AG_NET_H
#define AG_NET_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AG_NET_RDMA_PREFIX "rdma:"

/* Whether addr can be used by this build: 0, -EPROTONOSUPPORT for an
 * rdma: address in a build without RDMA (logged, saying how to get
 * one), -EINVAL for an address of no known form. */
int ag_net_check(const char *addr);

/* A socket listening on addr; the descriptor or -errno. */
int ag_net_listen(const char *addr);
/* A socket connected to addr within timeout_ms; the descriptor or
 * -errno (-ETIMEDOUT when the host does not answer in time). */
int ag_net_connect(const char *addr, int timeout_ms);
/* A connection taken from a listener, non-blocking and close-on-exec;
 * the descriptor or -errno. */
int ag_net_accept(int lfd);

ssize_t ag_net_send(int fd, const void *buf, size_t len, int flags);
ssize_t ag_net_recv(int fd, void *buf, size_t len, int flags);
/* poll(2) with a timeout in nanoseconds (negative: none); the count of
 * ready descriptors, or -errno. */
int ag_net_poll(struct pollfd *pfd, nfds_t n, int64_t timeout_ns);
/* Blocking sends and receives on fd give up after ms with EAGAIN. */
void ag_net_set_stall(int fd, unsigned ms);
int ag_net_shutdown(int fd);
int ag_net_close(int fd);

#endif
