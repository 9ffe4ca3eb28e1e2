/*
 * keep.c - a mount that outlives the gateway process (-o keep_mount).
 *
 * An NFS or SMB server re-exporting the mount holds its files by the
 * mount's device and inode numbers; a new mount is a new device, so a
 * gateway that unmounts and mounts again leaves the server with handles
 * of a dead file system (NFS answers SERVERFAULT, then STALE). Here the
 * process that mounts (the keeper) holds the FUSE connection and serves
 * nothing: a gateway process it forks serves the requests, and when that
 * process exits for any reason but an unmount (a crash, kill -9, SIGUSR1
 * to the keeper) a new one takes the same connection over. The kernel
 * keeps its inodes, dentries and open files: the node ids are Agora's
 * inode numbers, handles of open files are found again (fh.c), and
 * requests the old process had read but not answered are sent again
 * (FUSE_NOTIFY_RESEND, Linux 6.9 and later; before it they wait for
 * ever).
 *
 * The keeper is single-threaded and opens no cluster: the gateway does,
 * after the fork. A gateway taking the connection over gets no FUSE_INIT
 * from the kernel (the connection was set up once): it is given one made
 * here, which sets up libfuse's session as the first one did; its reply
 * goes to a request id the kernel never used and is dropped there.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/fuse.h>

#include "fused.h"

#ifndef FUSE_NOTIFY_RESEND
#define FUSE_NOTIFY_RESEND 7
#endif

/* A request id the kernel never hands out (its ids count up by 2). */
#define TAKEOVER_UNIQUE (~0ull - 1)
/* Gateways in a row that die before they serve: then the keeper stops. */
#define MAX_FAILED_STARTS 5
#define RESTART_DELAY_US 100000
#define WAIT_POLL_US 20000

static volatile sig_atomic_t keep_stop, keep_restart;

static void on_stop(int sig)
{
	(void)sig;
	keep_stop = 1;
}

static void on_restart(int sig)
{
	(void)sig;
	keep_restart = 1;
}

static void on_child(int sig)
{
	(void)sig; /* only to interrupt waitpid */
}

static int set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

int gw_takeover(struct fuse_session *se)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in in;
	} msg;
	struct fuse_out_header resend = { .len = sizeof(resend),
					  .error = FUSE_NOTIFY_RESEND };
	struct fuse_buf buf = { .size = sizeof(msg), .mem = &msg };

	memset(&msg, 0, sizeof(msg));
	msg.h.len = sizeof(msg);
	msg.h.opcode = FUSE_INIT;
	msg.h.unique = TAKEOVER_UNIQUE;
	msg.in.major = FUSE_KERNEL_VERSION;
	msg.in.minor = FUSE_KERNEL_MINOR_VERSION;
	msg.in.max_readahead = UINT32_MAX;
	/* what the kernel offered the first gateway and gw_init takes */
	msg.in.flags = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC |
		       FUSE_EXPORT_SUPPORT | FUSE_BIG_WRITES |
		       FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS |
		       FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS |
		       FUSE_POSIX_ACL | FUSE_MAX_PAGES;
	fuse_session_process_buf(se, &buf);
	/* a kernel without resend refuses the notice: nothing to undo */
	if (write(fuse_session_fd(se), &resend, sizeof(resend)) < 0 &&
	    errno != EINVAL)
		fprintf(stderr, "agora-fused: cannot ask for unanswered "
			"requests again: %s\n", strerror(errno));
	return 0;
}

/* Start a gateway on the connection; its pid, or -1. It writes a byte on
 * ready[1] once it serves. */
static pid_t start(gw_serve_fn serve, void *arg, int fuse_fd, int takeover,
		   int ready[2])
{
	pid_t pid = fork();

	if (pid)
		return pid;
	close(ready[0]);
	set_handler(SIGTERM, SIG_DFL);
	set_handler(SIGINT, SIG_DFL);
	set_handler(SIGHUP, SIG_DFL);
	set_handler(SIGUSR1, SIG_DFL);
	set_handler(SIGCHLD, SIG_DFL);
	_exit(serve(arg, fuse_fd, takeover, ready[1]));
}

/* Whether the kernel still has the connection (not unmounted). */
static int connected(int fuse_fd)
{
	struct pollfd p = { .fd = fuse_fd, .events = POLLIN };

	return !(poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLNVAL)));
}

int gw_keep(struct fuse_session *se, gw_serve_fn serve, void *arg,
	    int report_fd, const char *log)
{
	int fuse_fd = fuse_session_fd(se), failed = 0, takeover = 0;
	int reported = 0, rc = 1;

	if (set_handler(SIGTERM, on_stop) || set_handler(SIGINT, on_stop) ||
	    set_handler(SIGHUP, on_stop) || set_handler(SIGUSR1, on_restart) ||
	    set_handler(SIGCHLD, on_child))
		goto out;
	while (!keep_stop) {
		int ready[2], status;
		char byte;
		pid_t pid;
		ssize_t got;

		if (pipe(ready))
			goto out;
		pid = start(serve, arg, fuse_fd, takeover, ready);
		close(ready[1]);
		if (pid < 0) {
			close(ready[0]);
			goto out;
		}
		do
			got = read(ready[0], &byte, 1);
		while (got < 0 && errno == EINTR && !keep_stop);
		close(ready[0]);
		if (got == 1) {
			failed = 0;
			if (!reported) {
				ag_daemon_ready(report_fd, 0, log != NULL);
				reported = 1;
				if (report_fd >= 0 && chdir("/"))
					fprintf(stderr, "agora-fused: cannot "
						"chdir to /\n");
			}
		}
		takeover = 1;
		if (got == 1 && !keep_stop)
			keep_restart = 0;
		for (;;) {
			pid_t done = waitpid(pid, &status, WNOHANG);

			if (done == pid)
				break;
			if (done < 0 && errno != EINTR)
				goto out;
			if (keep_stop || keep_restart)
				kill(pid, SIGTERM); /* answers what it has read */
			keep_restart = 0;
			usleep(WAIT_POLL_US);
		}
		if (keep_stop || !connected(fuse_fd)) {
			rc = 0; /* stopped, or unmounted */
			break;
		}
		if (got != 1 && (!reported || ++failed >= MAX_FAILED_STARTS)) {
			fprintf(stderr, "agora-fused: the gateway did not start"
				"; unmounting\n");
			break;
		}
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
			fprintf(stderr, "agora-fused: the gateway died of "
				"signal %d; starting another on the mount\n",
				WTERMSIG(status));
		usleep(RESTART_DELAY_US);
	}
out:
	if (!reported)
		ag_daemon_ready(report_fd, 1, log != NULL);
	fuse_session_unmount(se);
	return rc;
}
