/*
 * test_core.c - the element core end to end: a real agora-metad (built
 * next to this test) on six drive files, libagora as its client.
 *
 * Checks the namespace rules, random writes/truncates against an
 * in-memory model, dedup reference counting through the STATS record,
 * fsck after each phase, offsets past 4 GiB, degraded reads with a
 * zeroed drive, and a listing whose root moves on under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agora.h"
#include "apply.h"
#include "cluster.h"
#include "config.h"
#include "drive.h"
#include "txn.h"
#include "util.h"
#include "tap.h"
#include "fixture.h"

static uint64_t seed;

static int fsck_clean(struct ag_cluster *c)
{
	int rc = ag_fsck(c, stderr, 0);

	return rc == 0;
}

static void test_namespace(struct ag_cluster *c)
{
	struct ag_attr d, f, g, a;
	char name[300];
	ssize_t n;

	ok(!ag_mkdir(c, AG_ROOT, "dir", 0755, 1000, 1000, &d), "mkdir");
	ok(S_ISDIR(d.mode) && d.nlink == 2 && d.uid == 1000, "dir attrs");
	ok(ag_mkdir(c, AG_ROOT, "dir", 0755, 0, 0, &a) == -EEXIST,
	   "mkdir twice: EEXIST");
	ok(!ag_mknod(c, d.ino, "f", 0644, 0, 0, 0, &f), "create file");
	ok(ag_lookup(c, d.ino, "f", &a) == 0 && a.ino == f.ino, "lookup");
	ok(ag_lookup(c, d.ino, "nope", &a) == -ENOENT, "lookup: ENOENT");
	ok(ag_lookup(c, f.ino, "x", &a) == -ENOTDIR, "lookup in file: ENOTDIR");
	ok(ag_resolve(c, "/dir/f", &a) == 0 && a.ino == f.ino, "resolve");
	ok(ag_resolve(c, "/dir/../dir/f", &a) == -EINVAL, "resolve: .. refused");
	memset(name, 'x', 256);
	name[256] = 0;
	ok(ag_mknod(c, d.ino, name, 0644, 0, 0, 0, &a) == -ENAMETOOLONG,
	   "256-byte name: ENAMETOOLONG");
	name[255] = 0;
	ok(!ag_mknod(c, d.ino, name, 0644, 0, 0, 0, &a), "255-byte name ok");
	ok(ag_mknod(c, d.ino, "a/b", 0644, 0, 0, 0, &a) == -EINVAL,
	   "slash in name: EINVAL");
	ok(ag_rmdir(c, AG_ROOT, "dir") == -ENOTEMPTY, "rmdir non-empty");
	ok(ag_unlink(c, AG_ROOT, "dir") == -EISDIR, "unlink dir: EISDIR");
	ok(ag_rmdir(c, d.ino, "f") == -ENOTDIR, "rmdir file: ENOTDIR");
	ok(!ag_mkdir(c, d.ino, "sub", 0700, 0, 0, &g), "mkdir sub");
	ok(!ag_getattr(c, d.ino, &a) && a.nlink == 3, "parent nlink 3");
	ok(ag_rename(c, AG_ROOT, "dir", g.ino, "x", 0) == -EINVAL,
	   "rename dir into itself: EINVAL");
	ok(!ag_link(c, f.ino, AG_ROOT, "hard", &a) && a.nlink == 2,
	   "hard link: nlink 2");
	ok(ag_link(c, d.ino, AG_ROOT, "dl", &a) == -EPERM, "link dir: EPERM");
	ok(!ag_rename(c, AG_ROOT, "hard", d.ino, "f", 0), "rename onto own link");
	ok(!ag_mknod(c, AG_ROOT, "other", 0644, 0, 0, 0, &a), "create other");
	ok(!ag_rename(c, AG_ROOT, "other", d.ino, "f", 0),
	   "rename over existing file");
	ok(!ag_getattr(c, f.ino, &a) && a.nlink == 1,
	   "replaced file lost a link");
	ok(ag_rename(c, AG_ROOT, "hard", d.ino, "f2",
		     AG_RENAME_NOREPLACE) == 0, "noreplace to new name");
	ok(ag_rename(c, d.ino, "f2", d.ino, "f", AG_RENAME_NOREPLACE) ==
	   -EEXIST, "noreplace over existing: EEXIST");
	ok(!ag_rename(c, d.ino, "f2", d.ino, "sub", AG_RENAME_EXCHANGE),
	   "exchange file and dir");
	ok(!ag_lookup(c, d.ino, "sub", &a) && S_ISREG(a.mode),
	   "exchange swapped");
	ok(!ag_symlink(c, AG_ROOT, "ln", "/dir/f", 0, 0, &a) &&
	   S_ISLNK(a.mode), "symlink");
	n = ag_readlink(c, a.ino, name, sizeof(name));
	ok(n == 6 && !memcmp(name, "/dir/f", 6), "readlink");
	ok(!ag_setxattr(c, a.ino, "user.k", "v1", 2, 0), "setxattr");
	ok(ag_getxattr(c, a.ino, "user.k", name, sizeof(name)) == 2 &&
	   !memcmp(name, "v1", 2), "getxattr");
	ok(ag_setxattr(c, a.ino, "user.k", "v", 1, 1) == -EEXIST,
	   "setxattr create: EEXIST");
	ok(ag_listxattr(c, a.ino, name, sizeof(name)) == 7, "listxattr");
	ok(!ag_removexattr(c, a.ino, "user.k") &&
	   ag_getxattr(c, a.ino, "user.k", name, 10) == -ENODATA,
	   "removexattr");
	ok(fsck_clean(c), "fsck clean after namespace ops");
}

/* Symlink targets up to PATH_MAX - 1 bytes, in pieces past one record. */
static void test_long_symlink(struct ag_cluster *c)
{
	static char target[4097], got[4097];
	struct ag_attr a;
	ssize_t n;
	int i;

	for (i = 0; i < 4096; i++)
		target[i] = i % 251 == 250 ? '/' : 'a' + i % 26;
	target[4095] = 0;
	ok(!ag_symlink(c, AG_ROOT, "long", target, 0, 0, &a) &&
	   a.size == 4095, "symlink with a 4095-byte target");
	n = ag_readlink(c, a.ino, got, sizeof(got));
	ok(n == 4095 && !memcmp(got, target, 4095), "its target reads back");
	target[4095] = 'z';
	ok(ag_symlink(c, AG_ROOT, "too-long", target, 0, 0, &a) ==
	   -ENAMETOOLONG, "a 4096-byte target: ENAMETOOLONG");
	ok(ag_lookup(c, AG_ROOT, "too-long", &a) == -ENOENT, "...makes nothing");
	ok(!ag_unlink(c, AG_ROOT, "long"), "unlink the long symlink");
	ok(fsck_clean(c), "fsck clean: no piece of the target left");
}

/* An ACL xattr value: the header, then n (tag, perm) entries (ids are
 * not looked at). */
static size_t acl_value(uint8_t *v, const unsigned *ent, int n)
{
	int i;

	memcpy(v, "\2\0\0\0", 4);
	for (i = 0; i < n; i++) {
		uint8_t *e = v + 4 + 8 * i;

		e[0] = ent[2 * i];
		e[1] = 0;
		e[2] = ent[2 * i + 1];
		e[3] = 0;
		memset(e + 4, 0xff, 4);
	}
	return 4 + 8 * (size_t)n;
}

/* POSIX ACLs: one that says a mode is that mode, the others refused. */
static void test_acl(struct ag_cluster *c)
{
	static const unsigned basic[] = { 1, 6, 4, 6, 0x20, 4 };
	static const unsigned named[] = { 1, 6, 2, 4, 4, 4, 0x10, 4, 0x20, 0 };
	static const unsigned twice[] = { 1, 6, 1, 6, 4, 4, 0x20, 4 };
	struct ag_attr f, a;
	uint8_t v[64];
	size_t len;

	ok(!ag_mknod(c, AG_ROOT, "acl", 02600, 0, 0, 0, &f), "create 02600");
	len = acl_value(v, basic, 3);
	ok(!ag_acl_set(c, f.ino, AG_ACL_ACCESS, v, len, 1) &&
	   !ag_getattr(c, f.ino, &a) && a.mode == (S_IFREG | 02664),
	   "an ACL saying 0664 makes the mode 02664");
	ok(ag_getxattr(c, f.ino, AG_ACL_ACCESS, v, sizeof(v)) == -ENODATA,
	   "...and is not stored");
	len = acl_value(v, basic, 3);
	ok(!ag_acl_set(c, f.ino, AG_ACL_ACCESS, v, len, 0) &&
	   !ag_getattr(c, f.ino, &a) && a.mode == (S_IFREG | 0664),
	   "a caller outside the group loses set-group-ID");
	len = acl_value(v, named, 5);
	ok(ag_acl_set(c, f.ino, AG_ACL_ACCESS, v, len, 1) == -EOPNOTSUPP,
	   "an ACL naming a user: EOPNOTSUPP");
	ok(ag_setxattr(c, f.ino, AG_ACL_ACCESS, v, len, 0) == -EOPNOTSUPP,
	   "...through setxattr too");
	len = acl_value(v, twice, 4);
	ok(ag_acl_set(c, f.ino, AG_ACL_ACCESS, v, len, 1) == -EINVAL,
	   "two owner entries: EINVAL");
	ok(ag_acl_set(c, f.ino, AG_ACL_ACCESS, v, 7, 1) == -EINVAL,
	   "a torn value: EINVAL");
	len = acl_value(v, basic, 3);
	ok(ag_acl_set(c, AG_ROOT, AG_ACL_DEFAULT, v, len, 1) == -EOPNOTSUPP,
	   "a default ACL: EOPNOTSUPP");
	ok(!ag_getattr(c, f.ino, &a) && a.mode == (S_IFREG | 0664),
	   "refused ACLs leave the mode");
	ok(!ag_removexattr(c, f.ino, AG_ACL_ACCESS),
	   "removing the ACL of a file without one succeeds");
	ag_unlink(c, AG_ROOT, "acl");
}

/* The permission rule gateways use for users the kernel never sees. */
static void test_may(struct ag_cluster *c)
{
	struct ag_attr f = { .mode = S_IFREG | 0640, .uid = 10, .gid = 20 };
	struct ag_attr b, d, x, a;

	ok(!ag_may(&f, 10, 99, AG_MAY_READ | AG_MAY_WRITE) &&
	   ag_may(&f, 10, 20, AG_MAY_EXEC) == -EACCES,
	   "the owner class decides for the owner (rw-, no x)");
	ok(!ag_may(&f, 11, 20, AG_MAY_READ) &&
	   ag_may(&f, 11, 20, AG_MAY_WRITE) == -EACCES,
	   "the group class for a member of the group");
	ok(ag_may(&f, 11, 21, AG_MAY_READ) == -EACCES,
	   "the other class for everyone else: EACCES");
	f.mode = S_IFREG | 0604;
	ok(ag_may(&f, 11, 20, AG_MAY_READ) == -EACCES &&
	   !ag_may(&f, 11, 21, AG_MAY_READ),
	   "the group class decides even when other would allow");
	ok(!ag_may(&f, 0, 0, AG_MAY_READ | AG_MAY_WRITE) &&
	   ag_may(&f, 0, 0, AG_MAY_EXEC) == -EACCES,
	   "uid 0 passes, but executes no file without an x bit");

	ok(!ag_mkdir(c, AG_ROOT, "maybkt", 0755, 10, 20, &b) &&
	   !ag_mkdir(c, b.ino, "closed", 0700, 10, 20, &d) &&
	   !ag_mknod(c, d.ino, "f", 0644, 10, 20, 0, &x) &&
	   !ag_mkdir(c, b.ino, "ro", 0555, 30, 30, &a),
	   "a bucket with a 0700 and a 0555 directory");
	ok(!ag_may_path(c, &b, "closed/f", 10, 20, 0) &&
	   ag_may_path(c, &b, "closed/f", 30, 30, 0) == -EACCES &&
	   ag_may_path(c, &b, "closed/nothere", 30, 30, 0) == -EACCES,
	   "a 0700 directory on the way: EACCES to others, missing or not");
	ok(!ag_may_path(c, &b, "closed/new/deeper", 10, 20, AG_MAY_WRITE),
	   "a write: the owner may add names below its directory");
	ok(ag_may_path(c, &b, "ro/new", 30, 30, AG_MAY_WRITE) == -EACCES &&
	   !ag_may_path(c, &b, "ro/new", 30, 30, 0),
	   "a write in a 0555 directory: EACCES; a read passes");
	ok(ag_may_path(c, &b, "top", 30, 30, AG_MAY_WRITE) == -EACCES &&
	   !ag_may_path(c, &b, "top", 10, 20, AG_MAY_WRITE),
	   "a write at the top: the bucket's own mode");
	ag_unlink(c, d.ino, "f");
	ag_rmdir(c, b.ino, "closed");
	ag_rmdir(c, b.ino, "ro");
	ag_rmdir(c, AG_ROOT, "maybkt");
}

/* A random sequence of writes and truncates, compared with a model. */
static void test_data_model(struct ag_cluster *c)
{
	size_t cap = 4 << 20, size = 0;
	uint8_t *model = calloc(1, cap), *buf = malloc(cap), *got = malloc(cap);
	struct ag_attr f, a;
	int i, bad = 0;

	ok(!ag_mknod(c, AG_ROOT, "model", 0644, 0, 0, 0, &f), "create model");
	for (i = 0; i < 120 && !bad; i++) {
		uint64_t r = tap_rand(&seed);
		size_t off = r % (cap / 2), len = 1 + (r >> 24) % (256 << 10);

		if ((r >> 50) % 8 == 0) {
			size_t ns = (r >> 8) % (cap / 2);

			int rc = ag_truncate(c, f.ino, ns);

			if (rc) {
				diag("truncate: %s", ag_strerror(rc));
				bad = 1;
				break;
			}
			if (ns > size)
				memset(model + size, 0, ns - size);
			size = ns;
			continue;
		}
		if (off + len > cap)
			len = cap - off;
		for (size_t j = 0; j < len; j++) /* partly compressible */
			buf[j] = (j / 64) % 3 ? (uint8_t)(i + j / 512)
					     : (uint8_t)tap_rand(&seed);
		ssize_t wn = ag_write(c, f.ino, off, buf, len);

		if (wn != (ssize_t)len) {
			diag("write %zu at %zu: %zd %s", len, off, wn,
			     wn < 0 ? ag_strerror((int)wn) : "");
			bad = 2;
			break;
		}
		if (off > size)
			memset(model + size, 0, off - size);
		memcpy(model + off, buf, len);
		if (off + len > size)
			size = off + len;
	}
	ok(!bad, "120 random writes and truncates (%d at op %d)", bad, i);
	memset(&a, 0, sizeof(a));
	ok(!ag_getattr(c, f.ino, &a) && a.size == size,
	   "size matches the model (%llu vs %zu)", (unsigned long long)a.size,
	   size);
	ok(ag_read(c, f.ino, 0, got, cap) == (ssize_t)size &&
	   !memcmp(got, model, size), "content matches the model");
	ok(fsck_clean(c), "fsck clean after random writes");
	free(model);
	free(buf);
	free(got);
}

static void stats(struct ag_cluster *c, struct ag_status *st)
{
	if (ag_cluster_status(c, st))
		memset(st, 0, sizeof(*st));
}

static int put(struct ag_cluster *c, const char *name, const void *data,
	       size_t len)
{
	struct ag_writer *w;
	int rc = ag_writer_new(c, 0644, 0, 0, &w);

	if (!rc)
		rc = ag_writer_write(w, data, len);
	if (!rc)
		rc = ag_writer_commit(w, AG_ROOT, name, NULL);
	ag_writer_free(w);
	if (rc)
		diag("put %s: %s", name, ag_strerror(rc));
	return rc;
}

static void test_dedup(struct ag_cluster *c)
{
	size_t len = 3 << 20;
	uint8_t *data = malloc(len), *got = malloc(len);
	struct ag_status s0, s1, s2, s3;
	struct ag_attr a;
	size_t j;

	for (j = 0; j < len; j++)
		data[j] = (uint8_t)tap_rand(&seed);
	stats(c, &s0);
	ok(!put(c, "one", data, len), "put one");
	stats(c, &s1);
	ok(!put(c, "two", data, len), "put the same bytes as two");
	stats(c, &s2);
	ok(s2.logical_bytes - s0.logical_bytes == 2 * len,
	   "logical bytes count both");
	ok(s2.unique_bytes == s1.unique_bytes && s2.chunks == s1.chunks,
	   "second copy stored no new chunk");
	ok(!ag_resolve(c, "/two", &a) && ag_read(c, a.ino, 0, got, len) ==
	   (ssize_t)len && !memcmp(got, data, len), "two reads back");
	ok(!ag_unlink(c, AG_ROOT, "one"), "unlink one");
	ok(!ag_resolve(c, "/two", &a) && ag_read(c, a.ino, 0, got, len) ==
	   (ssize_t)len && !memcmp(got, data, len), "two still reads back");
	ok(fsck_clean(c), "fsck clean with shared chunks");
	ok(!put(c, "two", data + 1000, len - 1000), "overwrite two by put");
	ok(!ag_unlink(c, AG_ROOT, "two"), "unlink two");
	stats(c, &s3);
	ok(s3.chunks == s0.chunks && s3.unique_bytes == s0.unique_bytes,
	   "all their chunks are gone (%llu vs %llu)",
	   (unsigned long long)s3.chunks, (unsigned long long)s0.chunks);
	ok(fsck_clean(c), "fsck clean after deletes");
	free(data);
	free(got);
}

static void test_big_offset(struct ag_cluster *c)
{
	uint64_t off = (5ull << 30) + 12345;
	uint8_t buf[5000], got[7000];
	struct ag_attr f, a;

	memset(buf, 0xab, sizeof(buf));
	ok(!ag_mknod(c, AG_ROOT, "sparse", 0644, 0, 0, 0, &f), "create sparse");
	ok(ag_write(c, f.ino, off, buf, sizeof(buf)) == sizeof(buf),
	   "write past 4 GiB");
	ok(!ag_getattr(c, f.ino, &a) && a.size == off + sizeof(buf),
	   "size past 4 GiB");
	ok(ag_read(c, f.ino, off - 2000, got, sizeof(got)) == 7000 &&
	   got[0] == 0 && got[1999] == 0 && got[2000] == 0xab &&
	   got[6999] == 0xab, "hole reads zeros, data reads back");
	ok(!ag_truncate(c, f.ino, off + 10) && !ag_getattr(c, f.ino, &a) &&
	   a.size == off + 10, "truncate shrinks");
	ok(ag_read(c, f.ino, off, got, 100) == 10, "read stops at size");
}

/* Clones share chunks: no new chunk, refcounts right after deletes. */
static void test_clone(struct ag_cluster *c)
{
	size_t len = 2 << 20, j;
	uint8_t *data = malloc(len), *got = malloc(2 * len), md5[16];
	struct ag_status s0, s1;
	struct ag_attr src, dst, a;
	struct ag_writer *w = NULL;
	char val[16];

	for (j = 0; j < len; j++)
		data[j] = (uint8_t)tap_rand(&seed);
	ok(!put(c, "csrc", data, len) && !ag_resolve(c, "/csrc", &src),
	   "put the clone source");
	ok((src.flags & AG_ATTR_ETAG) && src.etag[0] | src.etag[15],
	   "put stored an ETag");
	memcpy(md5, src.etag, 16);
	stats(c, &s0);
	ok(!ag_mknod(c, AG_ROOT, "cdst", 0100644, 0, 0, 0, &dst), "create dst");
	ok(ag_clone_range(c, src.ino, 1000, dst.ino, 5000, len) ==
	   (ssize_t)(len - 1000), "clone is clipped at the source's end");
	ok(!ag_getattr(c, dst.ino, &a) && a.size == 5000 + len - 1000,
	   "dst size covers the clone");
	ok(ag_read(c, dst.ino, 0, got, a.size) == (ssize_t)a.size &&
	   !got[0] && !got[4999] && !memcmp(got + 5000, data + 1000,
					    len - 1000),
	   "dst reads a hole then the source's bytes");
	ok(ag_clone_range(c, src.ino, 0, src.ino, 100, 1000) == -EINVAL,
	   "overlapping clone within one file refused");
	stats(c, &s1);
	ok(s1.chunks == s0.chunks && s1.unique_bytes == s0.unique_bytes,
	   "clone stored no chunk");
	ok(!ag_writer_new(c, 0644, 0, 0, &w) &&
	   !ag_writer_write(w, "head", 4) &&
	   !ag_writer_clone(w, src.ino, 0, len) &&
	   !ag_writer_write(w, "tail", 4) &&
	   ag_writer_clone(w, src.ino, 1, len) == -EINVAL &&
	   !ag_writer_setxattr(w, "user.color", "blue", 4) &&
	   !ag_writer_commit(w, AG_ROOT, "cjoin", &a), "writer joins by clone");
	ag_writer_free(w);
	ok(a.size == len + 8 && !(a.flags & AG_ATTR_ETAG),
	   "joined size, no ETag after a clone");
	ok(ag_read(c, a.ino, 0, got, a.size) == (ssize_t)a.size &&
	   !memcmp(got, "head", 4) && !memcmp(got + 4, data, len) &&
	   !memcmp(got + 4 + len, "tail", 4), "joined bytes");
	ok(ag_getxattr(c, a.ino, "user.color", val, sizeof(val)) == 4 &&
	   !memcmp(val, "blue", 4), "xattr published with the element");
	w = NULL;
	ok(!ag_writer_new(c, 0644, 0, 0, &w) &&
	   !ag_writer_clone(w, src.ino, 0, len), "copy by clone");
	if (w)
		ag_writer_set_etag(w, md5);
	ok(w && !ag_writer_commit(w, AG_ROOT, "ccopy", &a) &&
	   (a.flags & AG_ATTR_ETAG) && !memcmp(a.etag, md5, 16),
	   "copy keeps the ETag it was given");
	ag_writer_free(w);
	ok(ag_write(c, a.ino, 0, "x", 1) == 1 && !ag_getattr(c, a.ino, &a) &&
	   !(a.flags & AG_ATTR_ETAG), "a write clears the ETag");
	ok(!ag_unlink(c, AG_ROOT, "csrc") && fsck_clean(c),
	   "fsck clean with the source gone");
	ok(!ag_unlink(c, AG_ROOT, "cdst") && !ag_unlink(c, AG_ROOT, "cjoin") &&
	   !ag_unlink(c, AG_ROOT, "ccopy"), "remove the clones");
	stats(c, &s1);
	ok(s1.chunks < s0.chunks && fsck_clean(c),
	   "their chunks are freed, fsck clean");
	free(data);
	free(got);
}

/* An ETag hashed from a file's data is kept, unless the data changed
 * since the caller read the attributes it hashed for. */
static void test_etag(struct ag_cluster *c)
{
	static const uint8_t md5_abc[16] = {
		0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
		0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72 };
	struct ag_attr f, a, stale;
	uint8_t md5[16];

	ok(!ag_mknod(c, AG_ROOT, "tagme", 0100644, 0, 0, 0, &f) &&
	   ag_write(c, f.ino, 0, "abc", 3) == 3 && !ag_getattr(c, f.ino, &a) &&
	   !(a.flags & AG_ATTR_ETAG), "a written file has no ETag yet");
	ok(!ag_etag(c, &a, md5) && !memcmp(md5, md5_abc, 16),
	   "ag_etag hashes the content");
	ok(!ag_getattr(c, f.ino, &a) && (a.flags & AG_ATTR_ETAG) &&
	   !memcmp(a.etag, md5_abc, 16), "and keeps it with the element");
	stale = a;
	stale.flags &= ~AG_ATTR_ETAG;
	ok(ag_write(c, f.ino, 3, "d", 1) == 1 && !ag_etag(c, &stale, md5) &&
	   !ag_getattr(c, f.ino, &a) && !(a.flags & AG_ATTR_ETAG),
	   "an ETag hashed for older data is not kept");
	ok(!ag_unlink(c, AG_ROOT, "tagme"), "remove it");
}

/* Publish "data" at key below dir through the object API. */
static int put_key(struct ag_cluster *c, uint64_t bucket, const char *key,
		   const char *data)
{
	struct ag_writer *w;
	int rc = ag_writer_new(c, 0644, 0, 0, &w);

	if (!rc)
		rc = ag_writer_write(w, data, strlen(data));
	if (!rc)
		rc = ag_object_commit(w, bucket, key, 0, 0, NULL);
	ag_writer_free(w);
	return rc;
}

static int count_entry(void *arg, const char *name, size_t nlen,
		       uint64_t ino, unsigned type)
{
	(void)ino;
	(void)type;
	if (nlen == strlen(AG_UPLOADS_DIR) && !memcmp(name, AG_UPLOADS_DIR, nlen))
		++*(int *)arg;
	return 0;
}

/* Part number part of up holding len bytes of byte. */
static int put_part(struct ag_cluster *c, const struct ag_attr *up,
		    unsigned part, int byte, size_t len, uint8_t md5[16])
{
	uint8_t *buf = malloc(len);
	struct ag_writer *w = NULL;
	struct ag_attr a;
	int rc = buf ? ag_writer_new(c, 0644, 0, 0, &w) : -ENOMEM;

	if (buf)
		memset(buf, byte, len);
	if (!rc)
		rc = ag_writer_write(w, buf, len);
	if (!rc)
		rc = ag_upload_part_commit(w, up, part, &a);
	if (!rc)
		memcpy(md5, a.etag, 16);
	ag_writer_free(w);
	free(buf);
	return rc;
}

/* An encrypted element reads back only with its key, and a changed byte
 * of its ciphertext is reported, never returned. */
static void test_crypt(struct ag_cluster *c)
{
	uint8_t key[32], other[32], *in = malloc(3 << 20);
	uint8_t *out = malloc(3 << 20);
	struct ag_crypt_writer *cw = NULL;
	struct ag_writer *w = NULL;
	struct ag_sse s = { 0 };
	struct ag_attr a;
	size_t i, n = (2 << 20) + 777;

	for (i = 0; i < 32; i++) {
		key[i] = (uint8_t)tap_rand(&seed);
		other[i] = (uint8_t)(key[i] ^ 1);
	}
	for (i = 0; in && i < n; i++)
		in[i] = (uint8_t)tap_rand(&seed);
	ok(in && out && !ag_writer_new(c, 0644, 0, 0, &w) &&
	   !ag_crypt_writer_new(w, AG_SSE_CUSTOMER, key, n, &cw) &&
	   !ag_crypt_write(cw, in, 1000) &&
	   !ag_crypt_write(cw, in + 1000, n - 1000) &&
	   !ag_crypt_writer_finish(cw) &&
	   !ag_writer_commit(w, AG_ROOT, "sealed", &a) && a.size == n,
	   "an encrypted element of three blocks, its size the plaintext's");
	ag_crypt_writer_free(cw);
	ag_writer_free(w);
	ok(!ag_sse_get(c, a.ino, &s) && s.blocks == 3 &&
	   ag_crypt_read(c, &a, &s, key, 0, out, n) == (ssize_t)n &&
	   !memcmp(in, out, n) &&
	   ag_crypt_read(c, &a, &s, key, (1 << 20) - 5, out, 10) == 10 &&
	   !memcmp(in + (1 << 20) - 5, out, 10),
	   "it reads back whole and across a block's edge with its key");
	ok(ag_crypt_read(c, &a, &s, other, 0, out, 10) == -EACCES,
	   "another key: EACCES");
	ok(ag_write(c, a.ino, 1500000, "x", 1) == 1 &&
	   !ag_getattr(c, a.ino, &a) &&
	   ag_crypt_read(c, &a, &s, key, (1 << 20) + 10, out, 10) == -EBADMSG &&
	   ag_crypt_read(c, &a, &s, key, 0, out, 10) == 10,
	   "a changed byte fails its block (EBADMSG), the others still read");
	ag_sse_free(&s);
	ok(!ag_unlink(c, AG_ROOT, "sealed"), "remove it");
	free(in);
	free(out);
}

/* The lifecycle rules' codec: fields with tabs, newlines and '%' come
 * back as they were, and a torn or forged line is refused. */
static void test_lifecycle_codec(void)
{
	struct ag_lifecycle_rule in[2] = {
		{ .id = "a\tb%c", .enabled = 1, .prefix = "logs/\n",
		  .tags = "k=v&x=%26", .expire_days = 3 },
		{ .id = "two", .prefix = "", .expire_date = 1577836800,
		  .abort_days = 7, .noncurrent_days = 5 },
	};
	static const char negative[] = "x\t1\t\t\t-1\t0\t0\n";
	static const char nul[] = "x\t1\t%00\t\t1\t0\t0\n";
	struct ag_lifecycle_rule *out = NULL;
	char *buf = NULL;
	size_t len = 0;
	int n = 0;

	ok(!ag_lifecycle_encode(in, 2, &buf, &len) && len &&
	   !ag_lifecycle_decode(buf, len, &out, &n) && n == 2 &&
	   !strcmp(out[0].id, in[0].id) && out[0].enabled &&
	   !strcmp(out[0].prefix, in[0].prefix) &&
	   !strcmp(out[0].tags, in[0].tags) && out[0].expire_days == 3 &&
	   !out[1].enabled && !*out[1].tags &&
	   out[1].expire_date == 1577836800 && out[1].abort_days == 7 &&
	   out[1].noncurrent_days == 5 && !out[0].noncurrent_days,
	   "lifecycle rules round-trip through their xattr");
	ag_lifecycle_free(out, n);
	ok(ag_lifecycle_decode(buf, len / 2, &out, &n) == -EINVAL && !out &&
	   !n, "a torn rule is refused");
	ok(ag_lifecycle_decode(negative, strlen(negative), &out, &n) ==
		   -EINVAL &&
	   ag_lifecycle_decode(nul, strlen(nul), &out, &n) == -EINVAL,
	   "so are negative days and an escaped NUL");
	free(buf);
}

/* A completion takes the parts in order, all but the last of the
 * minimum size, each with the MD5 its client names. */
static void test_upload_build(struct ag_cluster *c, const struct ag_attr *up,
			      const char *id, uint64_t bucket)
{
	struct ag_upload_build *b = NULL;
	uint8_t m1[16], m2[16], bad[16] = { 0 };
	char etag[AG_ETAG_MAX], got_id[AG_UPLOAD_ID_LEN + 1];
	uint64_t off = 0, len = 0;
	unsigned nparts = 0;
	struct ag_attr a;

	ok(!put_part(c, up, 1, 'a', AG_UPLOAD_MIN_PART, m1) &&
	   !put_part(c, up, 2, 'b', 10, m2), "two parts");
	ok(!ag_upload_build_new(c, up, id, 0, 0, &b) &&
	   ag_upload_build_add(b, 2, bad) == -ENOENT, "a wrong MD5 is refused");
	ag_upload_build_free(b);
	ok(!ag_upload_build_new(c, up, id, 0, 0, &b) &&
	   !ag_upload_build_add(b, 2, m2) &&
	   ag_upload_build_add(b, 1, m1) == -EINVAL, "so is a part out of order");
	ag_upload_build_free(b);
	ok(!ag_upload_build_new(c, up, id, 0, 0, &b) &&
	   !ag_upload_build_add(b, 2, m2) &&
	   ag_upload_build_add(b, 3, m2) == -ERANGE,
	   "and a small part that is not the last");
	ag_upload_build_free(b);
	ok(!ag_upload_build_new(c, up, id, 0, 0, &b) &&
	   !ag_upload_build_add(b, 1, m1) && !ag_upload_build_add(b, 2, m2) &&
	   !ag_upload_build_commit(b, bucket, "big/one", 0, 0, &a, etag) &&
	   strstr(etag, "-2\"") && a.size == AG_UPLOAD_MIN_PART + 10,
	   "the object of two parts has the -2 ETag and their bytes");
	ag_upload_build_free(b);
	ok(!ag_object_parts(c, &a, &nparts, got_id) && nparts == 2 &&
	   !strcmp(got_id, id), "it knows its parts and its upload");
	ok(!ag_object_part(c, &a, 1, &off, &len) && off == 0 &&
	   len == AG_UPLOAD_MIN_PART &&
	   !ag_object_part(c, &a, 2, &off, &len) &&
	   off == AG_UPLOAD_MIN_PART && len == 10 &&
	   ag_object_part(c, &a, 3, &off, &len) == -ERANGE &&
	   ag_object_part(c, &a, 0, &off, &len) == -ERANGE,
	   "and where each part is");
	ok(ag_write(c, a.ino, 0, "x", 1) == 1 && !ag_getattr(c, a.ino, &a) &&
	   !ag_object_parts(c, &a, &nparts, got_id) && nparts == 0 &&
	   !ag_object_part(c, &a, 1, &off, &len) && len == a.size,
	   "no longer once its data changed: part 1 is all of it");
	ok(!ag_object_remove(c, bucket, "big/one", 0, NULL), "remove it");
}

/* Keys below a bucket: implicit parents made with the object and pruned
 * with it, in one commit each; the "-N" ETag; private names that only a
 * handle opened with AG_OPEN_PRIVATE sees. */
static void test_objects(void)
{
	struct ag_cluster *s3 = NULL, *posix = NULL;
	struct ag_attr bk, a, up, f;
	struct ag_user u = { .name = "tu", .access = "TESTACCESS",
			     .secret = "sssss", .uid = 5, .gid = 5 };
	char id[AG_UPLOAD_ID_LEN + 1], etag[AG_ETAG_MAX], names[4096];
	struct ag_writer *w;
	uint8_t md5[16] = { 1 };
	int seen = 0;
	ssize_t n;

	if (!ok(!ag_cluster_open(conf, AG_OPEN_PRIVATE, &s3) &&
		!ag_cluster_open(conf, 0, &posix), "a private and an ordinary "
		"handle"))
		goto out;
	ok(!ag_mkdir(s3, AG_ROOT, "bk", 0755, 0, 0, &bk), "a bucket");
	ok(!put_key(s3, bk.ino, "a/b/c", "abc"), "PUT a/b/c");
	ok(!ag_resolve(s3, "/bk/a", &a) && (a.flags & AG_ATTR_IMPLICIT) &&
	   !ag_resolve(s3, "/bk/a/b", &a) && (a.flags & AG_ATTR_IMPLICIT) &&
	   !ag_object_find(s3, bk.ino, "a/b/c", &f) && f.size == 3,
	   "its parents are implicit, the object is there");
	ok(ag_object_find(s3, bk.ino, "a/b", &a) == -EISDIR &&
	   ag_object_find(s3, bk.ino, "a/b/c/", &a) == -ENOENT &&
	   ag_object_find(s3, bk.ino, "a/b/c/d", &a) == -ENOTDIR,
	   "a directory answers only to its name/ key");
	ok(put_key(s3, bk.ino, "a/b/c/d/e", "x") == -EEXIST &&
	   ag_resolve(s3, "/bk/a/b/c", &a) == 0 && S_ISREG(a.mode),
	   "a file on the way is a conflict");
	ok(!ag_writer_new(s3, 0644, 0, 0, &w) && !ag_writer_write(w, "n", 1) &&
	   !ag_writer_expect(w, AG_EXPECT_FILE, NULL) &&
	   ag_object_commit(w, bk.ino, "n/e/w", 0, 0, NULL) == -ENOENT &&
	   ag_resolve(s3, "/bk/n", &a) == -ENOENT,
	   "a PUT whose condition fails makes none of its parents");
	ag_writer_free(w);
	ok(!ag_object_mkdir(s3, bk.ino, "a/m/", 0, 0, &a) &&
	   !(a.flags & AG_ATTR_IMPLICIT), "a marker is explicit");
	ok(!ag_object_remove(s3, bk.ino, "a/b/c", 0, NULL) &&
	   ag_resolve(s3, "/bk/a/b", &a) == -ENOENT &&
	   !ag_resolve(s3, "/bk/a", &a),
	   "removing a/b/c prunes b, and a holds the marker still");
	ok(!ag_object_remove(s3, bk.ino, "a/m/", 0, NULL) &&
	   ag_resolve(s3, "/bk/a", &a) == -ENOENT,
	   "removing the marker prunes a");

	ok(!ag_writer_new(s3, 0644, 0, 0, &w) && !ag_writer_write(w, "p", 1) &&
	   !ag_object_set_parts(w, md5, 3, NULL, NULL) &&
	   !ag_object_commit(w, bk.ino, "mp", 0, 0, &f), "a completed upload");
	ag_writer_free(w);
	ok(!ag_object_etag(s3, &f, etag) &&
	   !strcmp(etag, "\"01000000000000000000000000000000-3\""),
	   "its ETag has the -N form");
	ok(ag_write(s3, f.ino, 0, "q", 1) == 1 && !ag_getattr(s3, f.ino, &f) &&
	   !ag_object_etag(s3, &f, etag) && !strchr(etag, '-') &&
	   ag_getxattr(s3, f.ino, AG_XATTR_PARTS, NULL, 0) == -ENODATA,
	   "rewritten, it has a plain one, and the part count is gone");

	ok(!ag_upload_create(s3, "bk", "k", 0, 0, id, &up) &&
	   !ag_upload_find(s3, id, "bk", "k", &a) &&
	   ag_upload_find(s3, id, "bk", "other", &a) == -ENOENT,
	   "an upload is found for its bucket and key only");
	test_upload_build(s3, &up, id, bk.ino);
	ok(!ag_user_add(s3, &u), "an S3 user");
	ag_cluster_refresh(posix);
	ok(ag_lookup(posix, AG_ROOT, AG_UPLOADS_DIR, &a) == -ENOENT &&
	   ag_resolve(posix, "/" AG_UPLOADS_DIR, &a) == -ENOENT &&
	   !ag_readdir(posix, AG_ROOT, NULL, count_entry, &seen) && !seen,
	   "an ordinary handle does not see the uploads");
	ok(ag_mkdir(posix, AG_ROOT, AG_UPLOADS_DIR, 0755, 0, 0, &a) == -EPERM &&
	   ag_rmdir(posix, AG_ROOT, AG_UPLOADS_DIR) == -ENOENT &&
	   ag_rename(posix, AG_ROOT, "bk", AG_ROOT, AG_UPLOADS_DIR, 0) == -EPERM,
	   "nor makes, removes or renames onto them");
	n = ag_listxattr(posix, AG_ROOT, names, sizeof(names));
	ok(n >= 0 && !memmem(names, (size_t)n, "agora.", 6) &&
	   ag_getxattr(posix, AG_ROOT, "agora.s3.user.TESTACCESS", NULL, 0) ==
		   -ENODATA &&
	   ag_setxattr(posix, AG_ROOT, "agora.s3.user.X", "s 0 0 x", 7, 0) ==
		   -EOPNOTSUPP &&
	   ag_removexattr(posix, AG_ROOT, "agora.s3.user.TESTACCESS") ==
		   -EOPNOTSUPP && ag_user_get(posix, "TESTACCESS", &u) == -ENOENT,
	   "and neither sees nor touches the secrets");
	seen = 0;
	ok(!ag_readdir(s3, AG_ROOT, NULL, count_entry, &seen) && seen == 1 &&
	   !ag_user_get(s3, "TESTACCESS", &u) && u.uid == 5,
	   "the private handle sees both");
	ok(!ag_upload_drop(s3, &up, id) && !ag_user_remove(s3, "tu") &&
	   !ag_object_remove(s3, bk.ino, "mp", 0, NULL) &&
	   !ag_rmdir(s3, AG_ROOT, "bk"), "clean up");
out:
	ag_cluster_close(posix);
	ag_cluster_close(s3);
}

/* Publish "data" as NAME under the root, under condition cond. */
static int put_if(struct ag_cluster *c, const char *name, const char *data,
		  int cond, const uint8_t md5[16])
{
	struct ag_writer *w;
	int rc = ag_writer_new(c, 0644, 0, 0, &w);

	if (!rc)
		rc = ag_writer_write(w, data, strlen(data));
	if (!rc && cond)
		rc = ag_writer_expect(w, cond, md5);
	if (!rc)
		rc = ag_writer_commit(w, AG_ROOT, name, NULL);
	ag_writer_free(w);
	return rc;
}

/* Conditions of a commit are decided in it; a failed one changes
 * nothing, and an EXPECT op cut short is a malformed frame. */
/* The body of version id of key, into buf (size bytes): its length,
 * or -errno. */
static ssize_t version_body(struct ag_cluster *c, uint64_t bucket,
			    const char *key, const char *id, char *buf,
			    size_t size)
{
	struct ag_version v;
	struct ag_attr a;
	int rc = ag_version_find(c, bucket, key, id, &v, &a);

	if (rc)
		return rc;
	if (v.flags & AG_VER_MARKER)
		return -EISDIR;
	return ag_read(c, a.ino, 0, buf, size);
}

/* Versioning in the core: a key's versions newest first with their
 * bytes, a marker over a removed key, a marker removed brings the key
 * back, a version removed for good, suspended writes replacing the
 * null version; fsck clean at each step, and a bucket holding versions
 * not empty until the last goes. */
static void test_versions(void)
{
	struct ag_version_ent *e = calloc(16, sizeof(*e));
	struct ag_cluster *c = NULL;
	char ids[3][AG_VERSION_ID_MAX], buf[64], longkey[AG_VERSION_KEY_LEN + 2];
	struct ag_version v;
	struct ag_attr bk, a;
	int state = -1, i, n;
	ssize_t len;

	/* the S3 gateway's handle: the state is a private xattr */
	if (!e || !ok(!ag_cluster_open(conf, AG_OPEN_PRIVATE, &c),
		      "versioning: a private handle"))
		goto out;
	ok(!ag_mkdir(c, AG_ROOT, "vb", 0755, 0, 0, &bk) &&
	   !ag_versioning_get(c, bk.ino, &state) && state == AG_VERSIONING_OFF,
	   "versioning: a new bucket is not versioned");
	ok(ag_versioning_set(c, bk.ino, AG_VERSIONING_OFF) == -EINVAL,
	   "versioning: it cannot be turned off (EINVAL)");
	ok(!put_key(c, bk.ino, "d/k", "v0") &&
	   !ag_versioning_set(c, bk.ino, AG_VERSIONING_ENABLED) &&
	   !ag_versioning_get(c, bk.ino, &state) &&
	   state == AG_VERSIONING_ENABLED, "versioning: enabled");
	for (i = 0; i < 3; i++) {
		char data[8];

		snprintf(data, sizeof(data), "v%d", i + 1);
		if (put_key(c, bk.ino, "d/k", data) ||
		    ag_object_find(c, bk.ino, "d/k", &a) ||
		    ag_version_current(c, &a, &v))
			break;
		memcpy(ids[i], v.id, sizeof(v.id));
	}
	ok(i == 3 && strcmp(ids[0], ids[1]) < 0 && strcmp(ids[1], ids[2]) < 0 &&
	   strcmp(ids[0], "null"), "versioning: each PUT a new, later id");
	n = ag_version_scan(c, bk.ino, "", 0, e, 16);
	ok(n == 3 && !strcmp(e[0].v.id, ids[1]) && !strcmp(e[1].v.id, ids[0]) &&
	   !strcmp(e[2].v.id, "null") && !strcmp(e[0].key, "d/k"),
	   "versioning: the noncurrent ones, newest first (%d)", n);
	len = version_body(c, bk.ino, "d/k", ids[0], buf, sizeof(buf));
	ok(len == 2 && !memcmp(buf, "v1", 2), "versioning: version 1 reads v1");
	len = version_body(c, bk.ino, "d/k", "null", buf, sizeof(buf));
	ok(len == 2 && !memcmp(buf, "v0", 2),
	   "versioning: what was there before is version null");
	ok(ag_version_find(c, bk.ino, "d/k", "00000000000fffff", &v, &a) ==
		   -ENOENT &&
	   ag_version_find(c, bk.ino, "d/k", "nonsense", &v, &a) == -EINVAL,
	   "versioning: no such version (ENOENT), no version id (EINVAL)");
	ok(fsck_clean(c), "versioning: fsck clean with versions");

	ok(!ag_object_remove(c, bk.ino, "d/k", 0, NULL) &&
	   ag_object_find(c, bk.ino, "d/k", &a) == -ENOENT &&
	   !ag_version_newest(c, bk.ino, "d/k", &v) &&
	   (v.flags & AG_VER_MARKER), "versioning: a delete leaves a marker");
	ok(ag_resolve(c, "/vb/d", &a) == -ENOENT,
	   "versioning: the implicit directory went with the key");
	ok(!ag_version_remove(c, bk.ino, "d/k", v.id, 0, 0, &v) &&
	   version_body(c, bk.ino, "d/k", ids[2], buf, sizeof(buf)) == 2 &&
	   !ag_object_find(c, bk.ino, "d/k", &a) &&
	   !ag_version_current(c, &a, &v) && !strcmp(v.id, ids[2]),
	   "versioning: the marker removed, the key is back, in its directory");
	ok(!ag_version_remove(c, bk.ino, "d/k", ids[2], 0, 0, &v) &&
	   !ag_object_find(c, bk.ino, "d/k", &a) &&
	   !ag_version_current(c, &a, &v) && !strcmp(v.id, ids[1]),
	   "versioning: the current one removed, the one before is current");
	ok(ag_version_remove(c, bk.ino, "d/k", ids[2], 0, 0, &v) == -ENOENT,
	   "versioning: a version removed is gone (ENOENT)");
	memset(longkey, 'x', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = 0;
	ok(put_key(c, bk.ino, longkey, "x") == -ENAMETOOLONG,
	   "versioning: a key over %d bytes is refused (ENAMETOOLONG)",
	   AG_VERSION_KEY_LEN);

	ok(!ag_versioning_set(c, bk.ino, AG_VERSIONING_SUSPENDED) &&
	   !put_key(c, bk.ino, "d/k", "s1") && !put_key(c, bk.ino, "d/k", "s2"),
	   "versioning: suspended writes");
	n = ag_version_scan(c, bk.ino, "", 0, e, 16);
	ok(!ag_object_find(c, bk.ino, "d/k", &a) &&
	   !ag_version_current(c, &a, &v) && !strcmp(v.id, "null") &&
	   n == 2 && !strcmp(e[0].v.id, ids[1]) && !strcmp(e[1].v.id, ids[0]),
	   "versioning: suspended, the null version is replaced (%d kept)", n);
	ok(ag_rmdir(c, AG_ROOT, "vb") == -ENOTEMPTY,
	   "versioning: a bucket with versions is not empty (ENOTEMPTY)");
	ok(!ag_version_remove(c, bk.ino, "d/k", "null", 0, 0, &v) &&
	   !ag_version_remove(c, bk.ino, "d/k", ids[1], 0, 0, &v) &&
	   !ag_version_remove(c, bk.ino, "d/k", ids[0], 0, 0, &v) &&
	   ag_version_scan(c, bk.ino, "", 0, e, 16) == 0 &&
	   ag_object_find(c, bk.ino, "d/k", &a) == -ENOENT &&
	   !ag_rmdir(c, AG_ROOT, "vb"),
	   "versioning: every version removed, the bucket goes");
	ok(fsck_clean(c), "versioning: fsck clean after");
out:
	ag_cluster_close(c);
	free(e);
}

static void test_expect(struct ag_cluster *c)
{
	static const uint8_t md5_abc[16] = {
		0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
		0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72 };
	static const uint8_t other[16] = { 1 };
	struct ag_op_expect o = { .parent = AG_ROOT, .cond = AG_EXPECT_ABSENT,
				  .name = "x", .nlen = 1 };
	struct ag_txn_iter it;
	struct ag_attr a;
	struct ag_txn t;
	struct ag_op op;
	uint64_t client, txid;
	uint8_t md5[16];
	char buf[8] = { 0 };

	ok(!put_if(c, "cond", "abc", AG_EXPECT_ABSENT, NULL),
	   "absent: a new name is published");
	ok(put_if(c, "cond", "xyz", AG_EXPECT_ABSENT, NULL) == -AG_ECONDITION,
	   "absent: a taken name fails the commit");
	ok(put_if(c, "cond", "xyz", AG_EXPECT_ETAG, other) == -AG_ECONDITION,
	   "etag: another ETag fails it");
	ok(!ag_resolve(c, "/cond", &a) && ag_read(c, a.ino, 0, buf, 7) == 3 &&
	   !strcmp(buf, "abc"), "and the object is untouched");
	ok(!put_if(c, "cond", "abcd", AG_EXPECT_ETAG, md5_abc),
	   "etag: the stored ETag matches");
	ok(!put_if(c, "cond", "abcde", AG_EXPECT_FILE, NULL),
	   "file: an existing file matches");
	ok(put_if(c, "nocond", "a", AG_EXPECT_FILE, NULL) == -ENOENT &&
	   put_if(c, "nocond", "a", AG_EXPECT_ETAG, md5_abc) == -ENOENT &&
	   ag_resolve(c, "/nocond", &a) == -ENOENT,
	   "file, etag: a missing name is -ENOENT, nothing published");
	ok(!ag_unlink(c, AG_ROOT, "cond"), "remove it");
	ok(!ag_mknod(c, AG_ROOT, "posix", 0100644, 0, 0, 0, &a) &&
	   ag_write(c, a.ino, 0, "abc", 3) == 3 &&
	   put_if(c, "posix", "new", AG_EXPECT_ETAG, md5_abc) == -AG_ECONDITION,
	   "etag: a file with none stored matches none");
	ok(!ag_getattr(c, a.ino, &a) && !ag_etag(c, &a, md5) &&
	   !put_if(c, "posix", "new", AG_EXPECT_ETAG, md5_abc),
	   "once ag_etag stored it, it matches");
	ok(ag_unlink_if(c, AG_ROOT, "posix", AG_EXPECT_ETAG, md5_abc) ==
	   -AG_ECONDITION && !ag_resolve(c, "/posix", &a),
	   "unlink_if: another ETag removes nothing");
	ok(ag_unlink_if(c, AG_ROOT, "none", AG_EXPECT_FILE, NULL) == -ENOENT,
	   "unlink_if: a missing name is -ENOENT");
	ok(!ag_etag(c, &a, md5) &&
	   !ag_unlink_if(c, AG_ROOT, "posix", AG_EXPECT_ETAG, md5) &&
	   ag_resolve(c, "/posix", &a) == -ENOENT,
	   "unlink_if: the stored ETag removes it");

	ag_txn_init(&t, 5, 1);
	ok(!ag_txn_expect(&t, &o), "encode an EXPECT op");
	ok(!ag_txn_parse(t.buf, t.len, &client, &txid, &it) &&
	   ag_txn_next(&it, &op) == 1 && op.type == AG_OP_EXPECT &&
	   op.u.expect.nlen == 1 && op.u.expect.cond == AG_EXPECT_ABSENT,
	   "and decode it");
	put_le32(t.buf + AG_TXN_HDR + 4, 31); /* body shorter than its fields */
	ok(!ag_txn_parse(t.buf, t.len - 2, &client, &txid, &it) &&
	   ag_txn_next(&it, &op) == -AG_EPROTO, "a short one is malformed");
	ag_txn_release(&t);
}

/* Drop page writes: the commit record lands, the pages it lists do not. */
static int drop_pages(int drive, int is_write, uint64_t off, size_t len)
{
	(void)drive;
	(void)len;
	return is_write && off >= (1u << 20) ? 1 : 0;
}

/* mkdir NAME under the root as transaction txid of client 91. */
static int apply_mkdir(struct ag_meta *m, uint64_t txid, const char *name,
		       struct ag_meta_result *res)
{
	struct ag_op_mknode o = { .parent = AG_ROOT, .mode = 040755,
				  .name = name, .nlen = strlen(name) };
	struct ag_txn t;
	int rc;

	ag_txn_init(&t, 91, txid);
	ag_txn_mknode(&t, &o);
	rc = ag_meta_apply(m, t.buf, t.len, res);
	ag_txn_release(&t);
	return rc;
}

/* Retries of transactions in flight together, arriving in any order,
 * get their own answers, before and after a restart; a new id that
 * arrives after a higher one is applied. */
static void test_retries(void)
{
	struct ag_meta_result r1, r2, res;
	struct ag_config *cfg;
	struct ag_meta *m;
	uint64_t gen, root;
	int pass;

	if (!ok(!ag_config_load(conf, &cfg), "config for an in-process metad"))
		return;
	if (!ok(!ag_meta_open(cfg, &m), "in-process metad opens")) {
		ag_config_free(cfg);
		return;
	}
	ok(!apply_mkdir(m, 2, "retry2", &r2) && !r2.status && !r2.replay,
	   "txid 2 applied");
	ok(!apply_mkdir(m, 1, "retry1", &r1) && !r1.status && !r1.replay &&
	   r1.ino != r2.ino, "txid 1, arriving after 2, is applied too");
	for (pass = 0; pass < 2; pass++) {
		const char *when = pass ? "after a restart" : "in the batch";

		ok(!apply_mkdir(m, 1, "retry1", &res) && res.replay &&
		   !res.status && res.ino == r1.ino,
		   "%s: a retry of txid 1 gets its own inode", when);
		ok(!apply_mkdir(m, 2, "retry2", &res) && res.replay &&
		   !res.status && res.ino == r2.ino,
		   "%s: a retry of txid 2 gets its own inode", when);
		ag_meta_commit(m, 0, &gen, &root);
		ag_meta_close(m);
		if (ag_meta_open(cfg, &m)) {
			ok(0, "in-process metad opens again");
			ag_config_free(cfg);
			return;
		}
	}
	ok(!apply_mkdir(m, 3, "retry1", &res) && res.status == -EEXIST,
	   "a failing txid 3 is answered EEXIST");
	ok(!apply_mkdir(m, 3, "retry1", &res) && res.status == -EEXIST &&
	   !res.replay, "its retry is applied again, not taken as done");
	ag_meta_commit(m, 0, &gen, &root);
	ag_meta_close(m);
	ag_config_free(cfg);
}

/* A commit whose pages never reached the drives (a crash in its one
 * flush) must not count: the cluster stays at the commit before it. */
static void test_torn_commit(void)
{
	struct ag_config *cfg;
	struct ag_meta *m;
	struct ag_meta_result res;
	struct ag_op_mknode o = { .parent = AG_ROOT, .mode = 040755,
				  .name = "torn", .nlen = 4 };
	struct ag_cluster *c;
	struct ag_attr a;
	struct ag_txn t;
	uint64_t before = 0, gen, root;

	if (!ok(!ag_config_load(conf, &cfg), "config for an in-process metad"))
		return;
	if (ok(!ag_meta_open(cfg, &m), "in-process metad opens")) {
		before = ag_meta_gen(m);
		ag_txn_init(&t, 77, 1);
		ag_txn_mknode(&t, &o);
		ok(!ag_meta_apply(m, t.buf, t.len, &res) && !res.status,
		   "mkdir applied");
		ag_drive_fault_hook = drop_pages;
		ag_meta_commit(m, 0, &gen, &root);
		ag_drive_fault_hook = NULL;
		ag_txn_release(&t);
		ag_meta_close(m);
	}
	ag_config_free(cfg);
	ok(!ag_cluster_open(conf, AG_OPEN_RDONLY, &c), "open after the crash");
	ok(c && ag_cluster_generation(c) == before,
	   "the torn commit is ignored (generation %llu)",
	   (unsigned long long)before);
	ok(c && ag_resolve(c, "/torn", &a) == -ENOENT, "its mkdir is not there");
	ok(c && ag_fsck(c, NULL, 0) == 0, "fsck clean");
	ag_cluster_close(c);
}

/* Drive 0 fails every write. */
static int fail_drive0(int drive, int is_write, uint64_t off, size_t len)
{
	(void)off;
	(void)len;
	return is_write && drive == 0 ? -EIO : 0;
}

/* A commit writes its lane's 3 drives; when one of them fails, the record
 * goes to every drive and the commit still succeeds, in either lane. */
static void test_lane_fallback(void)
{
	struct ag_meta_result res;
	struct ag_config *cfg;
	struct ag_cluster *c;
	struct ag_meta *m;
	struct ag_attr a;
	uint64_t gen, root;
	int i, failed = 0;

	if (!ok(!ag_config_load(conf, &cfg), "config for an in-process metad"))
		return;
	if (ok(!ag_meta_open(cfg, &m), "in-process metad opens")) {
		ag_drive_fault_hook = fail_drive0;
		for (i = 0; i < 2; i++) {
			char name[32];

			snprintf(name, sizeof(name), "lane%d", i);
			apply_mkdir(m, 300 + i, name, &res);
			failed += ag_meta_commit(m, 0, &gen, &root) != 0;
		}
		ag_drive_fault_hook = NULL;
		ok(!failed, "both lanes commit with drive 0 failing writes");
		ag_meta_close(m);
	}
	ag_config_free(cfg);
	ok(!ag_cluster_open(conf, AG_OPEN_RDONLY, &c), "open after it");
	ok(c && !ag_resolve(c, "/lane0", &a) && !ag_resolve(c, "/lane1", &a),
	   "both mkdirs are there");
	ag_cluster_close(c);
}

/* Lazy commits: a run of them longer than the commit ring reads back
 * whole after a restart; a run in which one commit's pages were lost (a
 * power cut before the sync) does not count from that commit on, even
 * where a later commit of the run landed whole. */
static void test_lazy_run(void)
{
	struct ag_meta_result res;
	struct ag_config *cfg;
	struct ag_cluster *c;
	struct ag_meta *m;
	struct ag_attr a;
	uint64_t before = 0, gen, root;
	char name[32];
	int i, seen = 0;

	if (!ok(!ag_config_load(conf, &cfg), "config for an in-process metad"))
		return;
	if (ok(!ag_meta_open(cfg, &m), "in-process metad opens")) {
		for (i = 0; i < 40; i++) {
			snprintf(name, sizeof(name), "lazy%d", i);
			apply_mkdir(m, 100 + i, name, &res);
			ag_meta_commit(m, 1, &gen, &root);
		}
		before = ag_meta_gen(m);
		ag_meta_close(m);
	}
	ok(!ag_cluster_open(conf, AG_OPEN_RDONLY, &c), "open after 40 lazy "
	   "commits");
	for (i = 0; c && i < 40; i++) {
		snprintf(name, sizeof(name), "/lazy%d", i);
		seen += !ag_resolve(c, name, &a);
	}
	ok(c && ag_cluster_generation(c) == before && seen == 40,
	   "all 40 are there (%d)", seen);
	ag_cluster_close(c);
	if (ok(!ag_meta_open(cfg, &m), "in-process metad opens again")) {
		apply_mkdir(m, 200, "lost", &res);
		ag_drive_fault_hook = drop_pages;
		ag_meta_commit(m, 1, &gen, &root);
		ag_drive_fault_hook = NULL;
		apply_mkdir(m, 201, "after", &res);
		ag_meta_commit(m, 1, &gen, &root);
		ag_meta_close(m);
	}
	ag_config_free(cfg);
	ok(!ag_cluster_open(conf, AG_OPEN_RDONLY, &c), "open after the cut");
	ok(c && ag_cluster_generation(c) == before,
	   "the run is cut at the lost commit (generation %llu)",
	   (unsigned long long)before);
	ok(c && ag_resolve(c, "/lost", &a) == -ENOENT &&
	   ag_resolve(c, "/after", &a) == -ENOENT,
	   "neither its mkdir nor the next one is there");
	ok(c && ag_fsck(c, NULL, 0) == 0, "fsck clean");
	ag_cluster_close(c);
}

static void test_degraded(void)
{
	struct ag_cluster *c;
	uint8_t *data, *got;
	size_t len = 1 << 20, j;
	struct ag_attr a;
	char path[300];
	int fd;

	data = malloc(len);
	got = malloc(len);
	for (j = 0; j < len; j++)
		data[j] = (uint8_t)(j * 7 + j / 1000);
	ok(!ag_cluster_open(conf, 0, &c), "open");
	ok(!put(c, "degraded", data, len), "put before damage");
	ag_cluster_close(c);
	fixture_stop_metad();
	/* zero drive 2 but its label: every strip on it is garbage */
	snprintf(path, sizeof(path), "%s/d2", dir);
	fd = open(path, O_WRONLY);
	{
		static uint8_t z[1 << 20];

		for (j = 1; j < 128; j++)
			if (pwrite(fd, z, sizeof(z), (off_t)j << 20) < 0)
				break;
	}
	close(fd);
	ok(!ag_cluster_open(conf, AG_OPEN_RDONLY, &c), "open read-only");
	ok(!ag_resolve(c, "/degraded", &a) &&
	   ag_read(c, a.ino, 0, got, len) == (ssize_t)len &&
	   !memcmp(got, data, len), "reads right with a zeroed drive");
	ok(ag_fsck(c, NULL, 0) == 1, "fsck reports the damage");
	ag_cluster_close(c);
	/* drop drive 2 entirely: still opens and reads */
	unlink(path);
	ok(!ag_cluster_open(conf, AG_OPEN_RDONLY, &c), "open with a drive gone");
	ok(c && !ag_resolve(c, "/degraded", &a) &&
	   ag_read(c, a.ino, 0, got, len) == (ssize_t)len &&
	   !memcmp(got, data, len), "reads right with a drive missing");
	ag_cluster_close(c);
	free(data);
	free(got);
}

/* A crash after the first cut_after writes of a commit: the rest never
 * reach the drives (the writes of drive threads race, so which ones land
 * varies; any set is a crash that can happen). */
static atomic_int cut_after;

static int cut_writes(int drive, int is_write, uint64_t off, size_t len)
{
	(void)drive;
	(void)off;
	(void)len;
	return is_write && atomic_fetch_sub(&cut_after, 1) <= 0 ? 1 : 0;
}

/* However a commit is cut short, what is left is a torn commit, never a
 * damaged one: metad starts by itself, readers open, fsck is clean. */
static void test_cut_anywhere(void)
{
	struct ag_meta_result res;
	struct ag_config *cfg;
	struct ag_cluster *c;
	struct ag_meta *m;
	uint64_t gen, root;
	int n, lazy, bad = 0, opened = 0, clean = 0, runs = 0;
	char name[32];

	if (!ok(!ag_config_load(conf, &cfg), "config for an in-process metad"))
		return;
	for (lazy = 0; lazy < 2; lazy++) {
		for (n = 0; n < 16; n++) {
			if (ag_meta_open(cfg, &m)) {
				bad++;
				continue;
			}
			snprintf(name, sizeof(name), "cut%d-%d", lazy, n);
			apply_mkdir(m, 1000 + 100 * lazy + n, name, &res);
			/* a lazy commit before it: a run to cut short */
			ag_meta_commit(m, lazy, &gen, &root);
			snprintf(name, sizeof(name), "cut%d-%db", lazy, n);
			apply_mkdir(m, 1050 + 100 * lazy + n, name, &res);
			atomic_store(&cut_after, n);
			ag_drive_fault_hook = cut_writes;
			ag_meta_commit(m, lazy, &gen, &root);
			ag_meta_close(m);
			ag_drive_fault_hook = NULL;
			runs++;
			if (!ag_cluster_open(conf, AG_OPEN_RDONLY, &c)) {
				opened++;
				if (ag_fsck(c, NULL, 0) == 0)
					clean++;
				else
					ag_fsck(c, stderr, 0);
				ag_cluster_close(c);
			}
		}
	}
	ok(!bad, "metad starts by itself after every cut (%d of %d refused)",
	   bad, runs + bad);
	ok(opened == runs, "readers open after every cut (%d of %d)", opened,
	   runs);
	ok(clean == runs, "fsck is clean after every cut (%d of %d)", clean,
	   runs);
	ag_config_free(cfg);
}

/* Flip one byte of every copy of generation gen's record in the rings
 * of the test's drives; returns how many copies it found. */
static int flip_record(uint64_t gen)
{
	uint8_t b[4096];
	int i, n = 0;

	for (i = 0; i < 6; i++) {
		char path[300];
		off_t off = 4096 + (off_t)(gen % 16) * 4096;
		uint64_t g;
		int fd;

		snprintf(path, sizeof(path), "%s/d%d", dir, i);
		fd = open(path, O_RDWR);
		if (fd < 0)
			continue;
		if (pread(fd, b, sizeof(b), off) == (ssize_t)sizeof(b) &&
		    !memcmp(b, "AGORACMT", 8)) {
			memcpy(&g, b + 8, 8);
			if (g == gen) {
				b[1000] ^= 0xff;
				n += pwrite(fd, b, sizeof(b), off) ==
				     (ssize_t)sizeof(b);
			}
		}
		close(fd);
	}
	return n;
}

/* The middle record of a lazy run damaged on every copy: the newest
 * record is whole by its own pages, but its run is not, and that is
 * damage, not a tear: metad refuses; told to, it commits past it. */
static void test_damaged_run(void)
{
	struct ag_meta_result res;
	struct ag_config *cfg;
	struct ag_cluster *c;
	struct ag_meta *m;
	struct ag_attr a;
	uint64_t first = 0, last = 0, gen, root;

	if (!ok(!ag_config_load(conf, &cfg), "config for an in-process metad"))
		return;
	if (ok(!ag_meta_open(cfg, &m), "in-process metad opens")) {
		first = ag_meta_gen(m);
		apply_mkdir(m, 2000, "run1", &res);
		ag_meta_commit(m, 1, &gen, &root);
		apply_mkdir(m, 2001, "run2", &res);
		ag_meta_commit(m, 1, &gen, &root);
		apply_mkdir(m, 2002, "run3", &res);
		ag_meta_commit(m, 1, &gen, &root);
		last = ag_meta_gen(m);
		ag_meta_close(m);
	}
	ok(last == first + 3 && flip_record(first + 2) >= 3,
	   "every copy of the record of generation %llu flipped",
	   (unsigned long long)first + 2);
	ok(ag_meta_open(cfg, &m) == -AG_ELOST,
	   "metad refuses to start over it");
	ok(ag_cluster_open(conf, AG_OPEN_RDONLY, &c) == -AG_ELOST,
	   "readers refuse to open");
	c = NULL;
	if (ok(!ag_meta_open_flags(cfg, AG_META_ACCEPT_ROLLBACK, &m),
	       "metad told to accept the rollback starts")) {
		ok(ag_meta_gen(m) > last, "and commits past generation %llu "
		   "(%llu)", (unsigned long long)last,
		   (unsigned long long)ag_meta_gen(m));
		ag_meta_close(m);
	}
	ok(!ag_cluster_open(conf, AG_OPEN_RDONLY, &c), "readers open again");
	ok(c && !ag_resolve(c, "/run1", &a) &&
	   ag_resolve(c, "/run2", &a) == -ENOENT &&
	   ag_resolve(c, "/run3", &a) == -ENOENT,
	   "the run is there up to the damaged commit");
	ok(c && ag_fsck(c, NULL, 0) == 0, "fsck clean");
	ag_cluster_close(c);
	ag_config_free(cfg);
}

/* ---- a listing that outlives its root ---- */

#define STALE_NAMES 2400 /* some 16 leaves of directory entries */
#define STALE_EVERY 40   /* a new name beside every 40th touches each leaf */

struct stale_listing {
	struct ag_cluster *w; /* the writer, another handle */
	uint64_t dir;
	int n, out_of_order, churn_rc;
	char prev[256];
	unsigned char seen[STALE_NAMES];
};

/* Make (or with unmake, remove) names "n%05d" + suffix for every step-th
 * i, in batches of one transaction each. */
static int stale_names(struct ag_cluster *w, uint64_t parent, int step,
		       const char *suffix, int unmake)
{
	int i = 0, rc = 0;

	while (!rc && i < STALE_NAMES) {
		struct ag_txn t;
		int ops;

		ag_cl_txn(w, &t);
		for (ops = 0; ops < 200 && i < STALE_NAMES; ops++, i += step) {
			char name[32];
			size_t nlen = snprintf(name, sizeof(name), "n%05d%s",
					       i, suffix);
			struct ag_op_mknode o = {
				.parent = parent, .mode = S_IFREG | 0644,
				.name = name, .nlen = nlen,
			};
			struct ag_op_unlink u = { .parent = parent, .name = name,
						  .nlen = nlen };

			if (unmake)
				ag_txn_unlink(&t, &u);
			else
				ag_txn_mknode(&t, &o);
		}
		rc = ag_cl_commit(w, &t, NULL);
		ag_txn_release(&t);
	}
	return rc;
}

/* Rewrite every leaf of the directory, many times over, across several
 * reuse rounds (space.c: every 2 s): metad fills its metadata segment
 * and goes back to the holes, so the slots of the pages the reader's
 * root still names are written with newer pages. */
static int stale_churn(struct stale_listing *s)
{
	int round, i, rc = 0;

	for (round = 0; !rc && round < 4; round++) {
		for (i = 0; !rc && i < 25; i++) {
			rc = stale_names(s->w, s->dir, STALE_EVERY, ".x", 0);
			if (!rc)
				rc = stale_names(s->w, s->dir, STALE_EVERY,
						 ".x", 1);
		}
		usleep(2100 * 1000);
	}
	return rc;
}

static int stale_entry(void *arg, const char *name, size_t nlen,
		       uint64_t ino, unsigned type)
{
	struct stale_listing *s = arg;
	char nm[256];

	(void)ino;
	(void)type;
	snprintf(nm, sizeof(nm), "%.*s", (int)nlen, name);
	if (s->n && strcmp(nm, s->prev) <= 0)
		s->out_of_order++;
	strcpy(s->prev, nm);
	if (nlen == 6 && nm[0] == 'n' && atoi(nm + 1) < STALE_NAMES)
		s->seen[atoi(nm + 1)]++;
	if (s->n++ == 0)
		s->churn_rc = stale_churn(s);
	return 0;
}

static void test_stale_listing(void)
{
	struct stale_listing s = { 0 };
	struct ag_cluster *r = NULL;
	struct ag_attr d;
	unsigned long retries = atomic_load(&ag_cl_read_retries);
	int i, once = 1, rc;

	if (!ok(!ag_cluster_open(conf, 0, &s.w) &&
		!ag_cluster_open(conf, 0, &r), "writer and reader open"))
		goto out;
	rc = ag_mkdir(s.w, AG_ROOT, "stale", 0755, 0, 0, &d);
	s.dir = d.ino;
	if (!ok(!rc && !stale_names(s.w, s.dir, 1, "", 0),
		"a directory of %d names", STALE_NAMES))
		goto out;
	/* the reader, which never saw these pages, stops at the first
	 * entry while the writer moves the root on and reuses the slots */
	rc = ag_cluster_refresh(r);
	if (!rc)
		rc = ag_readdir(r, s.dir, NULL, stale_entry, &s);
	ok(!rc && !s.churn_rc, "the listing ends (%s)", ag_strerror(rc));
	for (i = 0; i < STALE_NAMES; i++)
		once &= s.seen[i] == 1;
	ok(once && !s.out_of_order,
	   "every name listed once, in order (%d entries)", s.n);
	ok(atomic_load(&ag_cl_read_retries) > retries,
	   "the listing met a moved root and went on at a newer one (%lu)",
	   atomic_load(&ag_cl_read_retries) - retries);
out:
	ag_cluster_close(r);
	ag_cluster_close(s.w);
}

/* An INO op: the MKNODE after it makes that inode (a lazy transaction
 * sent again after its commit was lost), once; numbers handed out later
 * are past it. */
static int mknode_at(struct ag_cluster *c, uint64_t ino, const char *name,
		     struct ag_rpc_reply *r)
{
	struct ag_op_mknode o = { .parent = AG_ROOT, .mode = 0100644,
				  .name = name, .nlen = strlen(name) };
	struct ag_txn t;
	int rc;

	ag_cl_txn(c, &t);
	ag_txn_ino(&t, ino);
	ag_txn_mknode(&t, &o);
	rc = ag_cl_commit(c, &t, r);
	ag_txn_release(&t);
	return rc;
}

static void test_pinned_ino(struct ag_cluster *c)
{
	struct ag_rpc_reply r;
	struct ag_attr a;
	uint64_t want;

	/* a number not handed out yet: one a lost commit may have made */
	ok(!ag_mknod(c, AG_ROOT, "pin_before", 0100644, 0, 0, 0, &a),
	   "a file to learn the next inode numbers");
	want = a.ino + 100;
	ok(!mknode_at(c, want, "pin_made", &r) && r.ino == want &&
		   !ag_resolve(c, "/pin_made", &a) && a.ino == want,
	   "an INO op makes the MKNODE after it make that inode");
	ok(mknode_at(c, want, "pin_again", &r) == -EEXIST &&
		   ag_resolve(c, "/pin_again", &a) == -ENOENT,
	   "the same inode again fails with EEXIST, nothing made");
	ok(mknode_at(c, AG_ROOT, "pin_root", &r) == -EINVAL,
	   "the root's number is refused with EINVAL");
	ok(!ag_mknod(c, AG_ROOT, "pin_after", 0100644, 0, 0, 0, &a) &&
		   a.ino > want,
	   "a new inode afterwards gets a number past it");
}

int main(void)
{
	struct ag_config *cfg;
	struct ag_cluster *c = NULL;

	seed = tap_seed() | 1;
	test_lifecycle_codec();
	if (fixture_init("core"))
		return 99;
	ok(!ag_config_load(conf, &cfg), "config loads");
	ok(!ag_meta_mkfs(cfg, 0), "mkfs");
	ok(ag_meta_mkfs(cfg, 0) == -EEXIST, "mkfs refuses formatted drives");
	ag_config_free(cfg);
	if (!ok(!fixture_start_metad(), "metad starts"))
		return tap_done();
	if (ok(!ag_cluster_open(conf, 0, &c), "cluster opens")) {
		test_namespace(c);
		test_long_symlink(c);
		test_acl(c);
		test_may(c);
		test_data_model(c);
		test_dedup(c);
		test_big_offset(c);
		test_clone(c);
		test_etag(c);
		test_expect(c);
		test_crypt(c);
		test_pinned_ino(c);
		test_stale_listing();
		ag_cluster_close(c);
		test_objects();
		test_versions();
	}
	fixture_stop_metad();
	test_retries();
	test_torn_commit();
	test_lazy_run();
	test_lane_fallback();
	test_cut_anywhere();
	test_damaged_run();
	if (!ok(!fixture_start_metad(), "metad starts again"))
		return tap_done();
	test_degraded();
	fixture_stop_metad();
	fixture_done(tap_failed);
	return tap_done();
}
