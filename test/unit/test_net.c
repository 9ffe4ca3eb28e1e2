/*
 * test_net.c - unit tests for the transport seam of the metad RPC
 * (net.c): which addresses a build takes (an rdma: address refused with
 * EPROTONOSUPPORT without --with-rdma), and a connection over each
 * transport there is here: listen, connect, accept, send, receive,
 * poll, the stall timeout (EAGAIN), the peer's close.
 *
 * The rdma: round trip needs an RDMA device and an address on it:
 * AGORA_RDMA_HOST (an IPv4 address of a netdev with an RDMA link, as
 * test/integ/rdma.sh sets up over soft-RoCE); without them it is
 * skipped, saying which is missing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "autoconfig.h"
#include "net.h"
#include "tap.h"
#include "util.h"

#define STALL_MS 100

static void skip(const char *why)
{
	printf("ok %d - # SKIP %s\n", ++tap_count, why);
}

/* Listen on prefix (up to the port's colon) with a port near base,
 * trying the next ones while taken; the socket or -errno, the address
 * used in addr. */
static int listen_near(const char *prefix, int base, char *addr, size_t len)
{
	int i, fd = -EADDRINUSE;

	for (i = 0; i < 20 && fd == -EADDRINUSE; i++) {
		snprintf(addr, len, "%s%d", prefix, base + i);
		fd = ag_net_listen(addr);
	}
	return fd;
}

/* One connection over addr's transport, from listening to close. */
static void round_trip(const char *what, int lfd, const char *addr)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	char buf[16] = "";
	int cfd, sfd = -1, rc;
	uint64_t t0;

	cfd = ag_net_connect(addr, 1000);
	ok(cfd >= 0, "%s: connect to %s (%s)", what, addr,
	   cfd < 0 ? ag_strerror(cfd) : "ok");
	if (cfd < 0)
		return;
	ok(ag_net_poll(&pfd, 1, 1000000000ll) == 1 && (pfd.revents & POLLIN),
	   "%s: the listener polls readable", what);
	sfd = ag_net_accept(lfd);
	ok(sfd >= 0, "%s: accept", what);
	if (sfd < 0)
		goto out;
	ok(ag_net_send(cfd, "frame", 5, 0) == 5, "%s: send", what);
	pfd.fd = sfd;
	pfd.revents = 0;
	ok(ag_net_poll(&pfd, 1, 1000000000ll) == 1, "%s: data polls readable",
	   what);
	rc = (int)ag_net_recv(sfd, buf, sizeof(buf), MSG_DONTWAIT);
	ok(rc == 5 && !memcmp(buf, "frame", 5), "%s: the bytes arrive whole",
	   what);
	rc = (int)ag_net_recv(sfd, buf, sizeof(buf), MSG_DONTWAIT);
	ok(rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
	   "%s: nothing more: EAGAIN on the accepted (non-blocking) socket",
	   what);
	ag_net_set_stall(cfd, STALL_MS);
	t0 = ag_mono_ns();
	rc = (int)ag_net_recv(cfd, buf, sizeof(buf), 0);
	ok(rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
	   ag_mono_ns() - t0 >= (STALL_MS - 10) * 1000000ull,
	   "%s: a blocking receive gives up with EAGAIN after the stall "
	   "timeout (%llu ms)", what,
	   (unsigned long long)((ag_mono_ns() - t0) / 1000000));
	ok(ag_net_close(sfd) == 0, "%s: close", what);
	sfd = -1;
	rc = (int)ag_net_recv(cfd, buf, sizeof(buf), 0);
	ok(rc == 0, "%s: the peer's close reads as the end of the stream",
	   what);
out:
	if (sfd >= 0)
		ag_net_close(sfd);
	ag_net_close(cfd);
}

#ifdef HAVE_RDMA
/* Whether /sys/class/infiniband lists a device. */
static int have_rdma_device(void)
{
	DIR *d = opendir("/sys/class/infiniband");
	struct dirent *e;
	int found = 0;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			found = 1;
	if (d)
		closedir(d);
	return found;
}
#endif

int main(void)
{
	char addr[128], path[64];
	int base = 20000 + (int)(getpid() % 20000), lfd;

	ok(ag_net_check("unix:/run/agora.sock") == 0, "unix:PATH is taken");
	ok(ag_net_check("10.0.0.1:7000") == 0, "HOST:PORT is taken");
	ok(ag_net_check("::1:7000") == 0, "a bare IPv6 HOST:PORT is taken");
	ok(ag_net_check("unix:") == -EINVAL, "unix: without a path: EINVAL");
	ok(ag_net_check("metad-host") == -EINVAL, "no port: EINVAL");
	ok(ag_net_check("host:") == -EINVAL, "an empty port: EINVAL");
#ifdef HAVE_RDMA
	ok(ag_net_check("rdma:10.0.0.1:7000") == 0,
	   "rdma:HOST:PORT is taken (built --with-rdma)");
	ok(ag_net_check("rdma:10.0.0.1") == -EINVAL,
	   "rdma: without a port: EINVAL");
#else
	ok(ag_net_check("rdma:10.0.0.1:7000") == -EPROTONOSUPPORT,
	   "rdma:HOST:PORT without --with-rdma: EPROTONOSUPPORT");
	ok(ag_net_listen("rdma:127.0.0.1:7000") == -EPROTONOSUPPORT,
	   "listening on rdma: without --with-rdma: EPROTONOSUPPORT");
	ok(ag_net_connect("rdma:127.0.0.1:7000", 100) == -EPROTONOSUPPORT,
	   "connecting to rdma: without --with-rdma: EPROTONOSUPPORT");
#endif
	ok(ag_net_connect("unix:/nonexistent/agora.sock", 100) == -ENOENT,
	   "connecting to a missing Unix socket: ENOENT");

	snprintf(path, sizeof(path), "/tmp/test_net.%d.sock", (int)getpid());
	snprintf(addr, sizeof(addr), "unix:%s", path);
	lfd = ag_net_listen(addr);
	ok(lfd >= 0, "listen on %s", addr);
	if (lfd >= 0) {
		round_trip("unix", lfd, addr);
		ag_net_close(lfd);
	}
	unlink(path);

	lfd = listen_near("127.0.0.1:", base, addr, sizeof(addr));
	ok(lfd >= 0, "listen on %s", addr);
	if (lfd >= 0) {
		round_trip("tcp", lfd, addr);
		ag_net_close(lfd);
	}

#ifdef HAVE_RDMA
	{
		const char *host = getenv("AGORA_RDMA_HOST");
		char prefix[96];

		if (!have_rdma_device()) {
			skip("rdma: round trip: no RDMA device "
			     "(/sys/class/infiniband is empty or absent)");
		} else if (!host) {
			skip("rdma: round trip: AGORA_RDMA_HOST names no "
			     "address on the RDMA device");
		} else {
			snprintf(prefix, sizeof(prefix), "rdma:%s:", host);
			lfd = listen_near(prefix, base + 100, addr,
					  sizeof(addr));
			ok(lfd >= 0, "listen on %s (%s)", addr,
			   lfd < 0 ? ag_strerror(lfd) : "ok");
			if (lfd >= 0) {
				round_trip("rdma", lfd, addr);
				ag_net_close(lfd);
			}
		}
	}
#else
	skip("rdma: round trip: built without --with-rdma");
#endif
	return tap_done();
}
