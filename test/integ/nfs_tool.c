/*
 * test/integ/nfs_tool.c - what test/integ/nfs.sh asks of an NFS server
 * that libnfs's own tools (nfs-ls, nfs-cp, nfs-cat) do not: holding a
 * file handle, rename, unlink, mkdir, stat. A user-space client (libnfs).
 *
 *   nfs_tool hold URL             open URL's file once, then read it
 *                                 through that handle at every line of
 *                                 stdin
 *   nfs_tool stat URL             print "size mode nlink ino" of URL's
 *                                 file (mode in octal)
 *   nfs_tool rename URL NEWPATH   rename URL's file to NEWPATH, a path
 *                                 from the directory URL's file is in
 *                                 (libnfs mounts that directory)
 *   nfs_tool unlink URL           remove URL's file
 *   nfs_tool mkdir URL            make URL's last name a directory
 *
 * URL is a libnfs URL, e.g.
 * nfs://HOST/export/dir/file?version=3&nfsport=2049&mountport=20048.
 *
 * hold prints "open" once the file is open, then for each line read on
 * stdin the file's first bytes up to a newline, read through the handle
 * the server gave at open (no new LOOKUP), or "ERROR message": so a test
 * can restart the server, or what it exports, between two reads and see
 * whether a handle handed out before still works. A server restarted
 * meanwhile is reconnected to.
 *
 * Exits 0 on success, 1 when the server refused (the message on
 * stderr), 2 on bad usage or no mount.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <nfsc/libnfs.h>

#define READ_MAX 4096

static int hold(struct nfs_context *nfs, const char *file)
{
	struct nfsfh *fh;
	char line[64], buf[READ_MAX + 1];
	int n;

	if (nfs_open(nfs, file, O_RDONLY, &fh))
		return -1;
	printf("open\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		n = nfs_pread(nfs, fh, 0, READ_MAX, buf);
		if (n < 0) {
			printf("ERROR %s\n", nfs_get_error(nfs));
		} else {
			buf[n] = 0;
			buf[strcspn(buf, "\n")] = 0;
			printf("%s\n", buf);
		}
		fflush(stdout);
	}
	nfs_close(nfs, fh);
	return 0;
}

static int do_stat(struct nfs_context *nfs, const char *file)
{
	struct nfs_stat_64 st;

	if (nfs_stat64(nfs, file, &st))
		return -1;
	printf("%" PRIu64 " %" PRIo64 " %" PRIu64 " %" PRIu64 "\n",
	       st.nfs_size, st.nfs_mode, st.nfs_nlink, st.nfs_ino);
	return 0;
}

int main(int argc, char **argv)
{
	struct nfs_context *nfs;
	struct nfs_url *url = NULL;
	const char *op = argc > 1 ? argv[1] : "";
	int rc = 2, want = strcmp(op, "rename") ? 3 : 4;

	if (argc != want) {
		fprintf(stderr, "usage: nfs_tool hold|stat|unlink|mkdir URL, "
			"nfs_tool rename URL NEWPATH\n");
		return 2;
	}
	nfs = nfs_init_context();
	if (!nfs) {
		fprintf(stderr, "nfs_tool: no NFS context\n");
		return 2;
	}
	nfs_set_autoreconnect(nfs, -1);
	url = nfs_parse_url_full(nfs, argv[2]);
	if (!url || nfs_mount(nfs, url->server, url->path)) {
		fprintf(stderr, "nfs_tool: %s: %s\n", argv[2],
			nfs_get_error(nfs));
		goto out;
	}
	rc = 1;
	if (!strcmp(op, "hold"))
		rc = hold(nfs, url->file) ? 1 : 0;
	else if (!strcmp(op, "stat"))
		rc = do_stat(nfs, url->file) ? 1 : 0;
	else if (!strcmp(op, "rename"))
		rc = nfs_rename(nfs, url->file, argv[3]) ? 1 : 0;
	else if (!strcmp(op, "unlink"))
		rc = nfs_unlink(nfs, url->file) ? 1 : 0;
	else if (!strcmp(op, "mkdir"))
		rc = nfs_mkdir(nfs, url->file) ? 1 : 0;
	else
		rc = 2;
	if (rc == 1)
		fprintf(stderr, "nfs_tool: %s %s: %s\n", op, argv[2],
			nfs_get_error(nfs));
out:
	if (url)
		nfs_destroy_url(url);
	nfs_destroy_context(nfs);
	return rc;
}
