/*
 * main.c - agora-fused: mount an Agora cluster with FUSE.
 *
 *   agora-fused -c CONFIG [-f] [-o OPTIONS] MOUNTPOINT
 *
 * Opens the cluster, mounts, and (without -f) detaches once the mount is
 * ready, so that when the command returns the mount point works. Serves
 * requests on several threads; SIGTERM, SIGINT and SIGHUP unmount
 * cleanly, committing what open files still buffer. With -o keep_mount a
 * keeper process holds the mount and the gateway runs in a child it
 * starts again when it exits (keep.c): SIGUSR1 to the keeper restarts the
 * gateway without unmounting.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoconfig.h"
#include "fused.h"

static void gw_init(void *userdata, struct fuse_conn_info *conn)
{
	const struct gw *g = userdata;

	/* big writes: the core stores whole chunks, the fewer trips the
	 * better (libfuse asks for max_pages to match) */
	conn->max_write = 1 << 20;
	conn->max_readahead = 4 << 20;
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* O_TRUNC comes with open, not as a setattr before it */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* write-through: every write reaches us, so sizes and mtimes stay
	 * ours and another gateway sees a file once it is closed */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* POSIX ACLs as the kernel expects of a file system that has them:
	 * it sends us the ACLs that cp -a and setfacl set (the core makes
	 * the ones a mode can say a mode, and refuses the others), then
	 * drops its cached attributes and ACLs of the inode, so the new
	 * mode shows and holds at once; umask stays the kernel's, as no
	 * default ACL is ever set. It turns default_permissions on, so not
	 * when asked to leave access alone. */
	if (g->kernel_checks && (conn->capable & FUSE_CAP_POSIX_ACL))
		conn->want |= FUSE_CAP_POSIX_ACL;
}

static const struct fuse_lowlevel_ops gw_ops = {
	.init = gw_init,
	.lookup = gw_lookup,
	.forget = gw_forget,
	.forget_multi = gw_forget_multi,
	.getattr = gw_getattr,
	.setattr = gw_setattr,
	.readlink = gw_readlink,
	.mknod = gw_mknod,
	.mkdir = gw_mkdir,
	.unlink = gw_unlink,
	.rmdir = gw_rmdir,
	.symlink = gw_symlink,
	.rename = gw_rename,
	.link = gw_link,
	.open = gw_open,
	.create = gw_create,
	.read = gw_read,
	.write = gw_write,
	.flush = gw_flush,
	.release = gw_release,
	.fsync = gw_fsync,
	.opendir = gw_opendir,
	.readdir = gw_readdir,
	.readdirplus = gw_readdirplus,
	.releasedir = gw_releasedir,
	.fsyncdir = gw_fsyncdir,
	.statfs = gw_statfs,
	.setxattr = gw_setxattr,
	.getxattr = gw_getxattr,
	.listxattr = gw_listxattr,
	.removexattr = gw_removexattr,
	.fallocate = gw_fallocate,
	.lseek = gw_lseek,
	.copy_file_range = gw_copy_file_range,
};

struct options {
	char *config;
	char *log;
	char *pidfile;
	double entry_timeout, attr_timeout;
	int readahead_kb;
	int no_default_permissions;
	int keep_mount;
	int help;
};

#define OPT(t, p) { t, offsetof(struct options, p), 1 }
static const struct fuse_opt option_spec[] = {
	OPT("-c %s", config),
	OPT("--config=%s", config),
	OPT("log=%s", log),
	OPT("pidfile=%s", pidfile),
	OPT("entry_timeout=%lf", entry_timeout),
	OPT("attr_timeout=%lf", attr_timeout),
	OPT("readahead_kb=%d", readahead_kb),
	OPT("no_default_permissions", no_default_permissions),
	OPT("keep_mount", keep_mount),
	OPT("-h", help),
	OPT("--help", help),
	FUSE_OPT_END
};

static void usage(const char *prog)
{
	printf("usage: %s -c CONFIG [options] MOUNTPOINT\n\n"
	       "  -c CONFIG              the cluster's agora.conf\n"
	       "  -f                     stay in the foreground\n"
	       "  -o allow_other         let other users in\n"
	       "  -o entry_timeout=SEC   cache names this long (default 1)\n"
	       "  -o attr_timeout=SEC    cache attributes this long (default 1)\n"
	       "  -o readahead_kb=KB     kernel read-ahead of the mount (default\n"
	       "                         1024; 0 leaves the kernel's)\n"
	       "  -o no_default_permissions  do not let the kernel check access\n"
	       "  -o keep_mount          keep the mount when the gateway restarts\n"
	       "                         (SIGUSR1 restarts it; for NFS/SMB exports)\n"
	       "  -o log=FILE            messages to FILE once detached\n"
	       "  -o pidfile=FILE        write the daemon's pid to FILE\n\n",
	       prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* The kernel reads ahead 128 KiB on a FUSE mount unless told otherwise
 * (a FUSE server cannot ask for more at init): set the mount's
 * read_ahead_kb, found by its device number in mountinfo. Best effort. */
static void set_readahead(const char *mountpoint, int kb)
{
	char path[PATH_MAX], line[4096], dev[64], mnt[PATH_MAX];
	int found = 0;
	FILE *f;

	if (kb <= 0 || !realpath(mountpoint, path))
		return;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %63s %*s %4095s", dev, mnt) == 2 &&
			!strcmp(mnt, path);
	fclose(f);
	if (!found)
		return;
	snprintf(line, sizeof(line), "/sys/class/bdi/%s/read_ahead_kb", dev);
	f = fopen(line, "w");
	if (!f)
		return;
	fprintf(f, "%d\n", kb);
	if (fclose(f))
		fprintf(stderr, "agora-fused: cannot set %s\n", line);
}

/* Tell the parent of -d how the start went; a detached daemon lets go
 * of the directory it was started in. */
static void report(int fd, int status, const char *log)
{
	ag_daemon_ready(fd, status, log != NULL);
	if (fd >= 0 && !status && chdir("/"))
		fprintf(stderr, "agora-fused: cannot chdir to /\n");
}

/* What a gateway process needs to serve: the options and libfuse's
 * arguments (copied before the keeper's session took its own). */
struct run {
	struct options *o;
	struct fuse_cmdline_opts *cl;
	struct fuse_args *args;
};

static int write_pidfile(const char *path)
{
	FILE *pf;

	if (!path)
		return 0;
	pf = fopen(path, "w");
	if (!pf || fprintf(pf, "%d\n", (int)getpid()) < 0 || fclose(pf)) {
		perror(path);
		return -1;
	}
	return 0;
}

/* Open the cluster and serve until unmounted or signalled: on the mount
 * point (mounting it, then reporting on report_fd as -d wants), or on the
 * keeper's connection fuse_fd (>= 0; taken over from an earlier gateway
 * when takeover), then writing one byte on report_fd once serving. */
static int gateway(void *arg, int fuse_fd, int takeover, int report_fd)
{
	const struct run *r = arg;
	const struct options *o = r->o;
	struct fuse_loop_config *lc = NULL;
	struct fuse_session *se = NULL;
	struct gw_notify *notify = NULL;
	struct gw g = { 0 };
	char fdpath[32];
	int rc, mounted = 0, dupfd;

	/* after the fork: the handle runs a heartbeat thread */
	rc = ag_cluster_open(o->config, AG_OPEN_WATCH | AG_OPEN_LAZY, &g.c);
	if (rc) {
		fprintf(stderr, "agora-fused: %s: %s\n", o->config,
			ag_strerror(rc));
		rc = 1;
		goto out;
	}
	ag_cluster_set_origin(g.c, AG_PROTO_FUSE);
	rc = 1;
	g.kernel_checks = !o->no_default_permissions;
	g.entry_timeout = o->entry_timeout;
	g.attr_timeout = o->attr_timeout;
	se = fuse_session_new(r->args, &gw_ops, sizeof(gw_ops), &g);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se))
		goto out;
	if (fuse_fd >= 0) {
		/* libfuse takes /dev/fd/N as a connection mounted already,
		 * and closes N (ours alone) at the end */
		dupfd = dup(fuse_fd);
		if (dupfd < 0)
			goto out;
		snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", dupfd);
		if (fuse_session_mount(se, fdpath)) {
			close(dupfd);
			goto out;
		}
		if (takeover && gw_takeover(se))
			goto out;
		if (write(report_fd, "", 1) != 1)
			goto out;
		close(report_fd);
	} else {
		if (fuse_session_mount(se, r->cl->mountpoint))
			goto out;
		mounted = 1;
		set_readahead(r->cl->mountpoint, o->readahead_kb);
		if (write_pidfile(o->pidfile))
			goto out;
		report(report_fd, 0, o->log);
	}
	report_fd = -1;
	rc = gw_notify_start(se, g.c, &notify);
	if (rc)
		fprintf(stderr, "agora-fused: no change notices to the kernel: "
			"%s\n", ag_strerror(rc));
	rc = 1;
	lc = fuse_loop_cfg_create();
	if (!lc)
		goto out;
	fuse_loop_cfg_set_clone_fd(lc, r->cl->clone_fd);
	fuse_loop_cfg_set_max_threads(lc, r->cl->max_threads);
	if (r->cl->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(lc, r->cl->max_idle_threads);
	rc = fuse_session_loop_mt(se, lc) ? 1 : 0;
out:
	if (report_fd >= 0 && fuse_fd < 0)
		report(report_fd, 1, o->log);
	if (lc)
		fuse_loop_cfg_destroy(lc);
	gw_notify_stop(notify);
	if (mounted)
		fuse_session_unmount(se);
	if (se) {
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	ag_cluster_close(g.c);
	return rc;
}

/* -o keep_mount: mount here, and serve in gateway processes (keep.c). */
static int keep(struct run *r, int report_fd)
{
	struct fuse_args own = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	int rc = 1, i, mounted = 0;

	/* the keeper's session takes the mount options out of args; the
	 * gateways parse the same arguments again */
	for (i = 0; i < r->args->argc; i++)
		if (fuse_opt_add_arg(&own, r->args->argv[i]))
			goto out;
	se = fuse_session_new(&own, &gw_ops, sizeof(gw_ops), NULL);
	if (!se || fuse_session_mount(se, r->cl->mountpoint))
		goto out;
	mounted = 1;
	set_readahead(r->cl->mountpoint, r->o->readahead_kb);
	if (write_pidfile(r->o->pidfile))
		goto out;
	rc = gw_keep(se, gateway, r, report_fd, r->o->log);
	report_fd = -1; /* reported */
	mounted = 0;    /* and unmounted */
out:
	if (report_fd >= 0)
		report(report_fd, 1, r->o->log);
	if (mounted)
		fuse_session_unmount(se);
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&own);
	return rc;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options o = { .entry_timeout = 1, .attr_timeout = 1,
			     .readahead_kb = 1024 };
	struct fuse_cmdline_opts cl = { 0 };
	struct run r = { &o, &cl, &args };
	int rc = 1, fd = -1;

	if (fuse_opt_parse(&args, &o, option_spec, NULL) ||
	    fuse_parse_cmdline(&args, &cl)) {
		fprintf(stderr, "agora-fused: bad options (see --help)\n");
		goto out;
	}
	if (o.help || cl.show_help) {
		usage(argv[0]);
		rc = 0;
		goto out;
	}
	if (cl.show_version) {
		printf("agora-fused %s, libfuse %s\n", PACKAGE_VERSION,
		       fuse_pkgversion());
		rc = 0;
		goto out;
	}
	if (!o.config || !cl.mountpoint) {
		fprintf(stderr, "agora-fused: need -c CONFIG and a mount "
			"point (see --help)\n");
		goto out;
	}
	if (o.keep_mount) {
		/* a gateway started later runs after the chdir to / */
		char *abs = realpath(o.config, NULL);

		if (!abs) {
			perror(o.config);
			goto out;
		}
		free(o.config);
		o.config = abs;
	}
	if (!o.no_default_permissions &&
	    fuse_opt_add_arg(&args, "-odefault_permissions"))
		goto out;
	if (fuse_opt_add_arg(&args, "-ofsname=agora,subtype=agora"))
		goto out;
	if (o.log) {
		int lfd = open(o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			       0644);

		if (lfd < 0) {
			perror(o.log);
			goto out;
		}
		dup2(lfd, 2);
		close(lfd);
	}
	if (!cl.foreground) {
		fd = ag_daemon_detach();
		if (fd < 0) {
			fprintf(stderr, "agora-fused: fork: %s\n",
				ag_strerror(fd));
			goto out;
		}
	}
	rc = o.keep_mount ? keep(&r, fd) : gateway(&r, -1, 0, fd);
	fd = -1;
out:
	if (fd >= 0)
		report(fd, 1, o.log);
	free(cl.mountpoint);
	free(o.config);
	free(o.log);
	free(o.pidfile);
	fuse_opt_free_args(&args);
	return rc;
}
