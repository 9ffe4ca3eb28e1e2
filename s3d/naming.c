/*
 * naming.c - how S3 objects map onto elements: keys onto paths below the
 * bucket directory (the core's ag_object_*, which make and prune the
 * implicit parents), metadata onto xattrs, ETags onto the element's
 * stored MD5.
 *
 *   x-amz-meta-NAME           user.NAME
 *   Content-Type, ...         agora.s3.content-type, ...
 *   x-amz-checksum-ALGO       agora.s3.checksum-ALGO (core: objects.c)
 *   multipart part count      agora.s3.parts (core: the "-N" ETag)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <civetweb.h>

#include "s3d.h"

/* Headers stored as system xattrs and given back on GET/HEAD. */
const char *const s3_stored_headers[] = {
	"Content-Type", "Cache-Control", "Content-Disposition",
	"Content-Encoding", "Content-Language", "Expires",
	"x-amz-website-redirect-location", NULL,
};

/* Whether s is well-formed UTF-8: no stray continuation bytes, no
 * overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static int utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s, need, cp, min;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		for (s++; need; need--, s++) {
			if ((*s & 0xc0) != 0x80) /* also stops at the NUL */
				return 0;
			cp = cp << 6 | (*s & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

enum s3_err s3_key_check(const char *key)
{
	const char *p = key, *end;
	size_t n = strlen(key);

	if (!n)
		return S3_INVALID_ARGUMENT;
	if (n > S3_KEY_MAX)
		return S3_KEY_TOO_LONG;
	/* S3 keys are UTF-8; other bytes would come back in listings as
	 * XML no parser takes */
	if (!utf8_valid((const unsigned char *)key))
		return S3_INVALID_URI;
	for (;;) {
		end = strchrnul(p, '/');
		n = end - p;
		if (!n && *end) /* leading '/' or "//" */
			return S3_INVALID_ARGUMENT;
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return S3_INVALID_ARGUMENT;
		if (n > 255)
			return S3_KEY_TOO_LONG;
		if (!*end || !end[1])
			return S3_OK; /* a trailing '/' names a directory */
		p = end + 1;
	}
}

enum s3_err s3_object_find(struct s3_req *r, const char *bname,
			   const char *key, struct ag_attr *bucket,
			   struct ag_attr *a)
{
	enum s3_err e = s3_bucket_lookup(r, bname, bucket);

	if (!e)
		e = s3_key_check(key);
	if (e)
		return e;
	return s3_object_access(r, bucket, bname, key, a, S3_PERM_READ);
}

enum s3_err s3_key_free(struct s3_req *r, uint64_t bucket, const char *key)
{
	struct ag_attr a;
	int rc = ag_object_find(r->c, bucket, key, &a);

	if (rc == -ENOTDIR || rc == -EISDIR)
		return S3_KEY_CONFLICT;
	return S3_OK; /* the commit decides, this only answers early */
}

/* ---- ETags ---- */

int s3_etag(struct s3_req *r, const struct ag_attr *a, char out[48])
{
	_Static_assert(AG_ETAG_MAX == 48, "s3d's ETag buffers");
	return ag_object_etag(r->c, a, out);
}

void s3_etag_store(struct s3_req *r, uint64_t bucket, const char *key)
{
	struct ag_attr a;
	uint8_t md5[16];

	if (!ag_object_find(r->c, bucket, key, &a) &&
	    !(a.flags & AG_ATTR_ETAG))
		ag_etag(r->c, &a, md5);
}

/* ---- metadata ---- */

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

int s3_meta_store_field(struct s3_req *r, struct ag_writer *w, uint64_t ino,
			const char *field, const char *value)
{
	char name[300] = "";
	int j;

	if (!strncasecmp(field, "x-amz-meta-", 11)) {
		snprintf(name, sizeof(name), "user.%s", field + 11);
	} else {
		for (j = 0; s3_stored_headers[j]; j++)
			if (!strcasecmp(field, s3_stored_headers[j]))
				snprintf(name, sizeof(name),
					 S3_XATTR_PREFIX "%s", field);
	}
	if (!name[0])
		return 0;
	lower(name);
	return w ? ag_writer_setxattr(w, name, value, strlen(value))
		 : ag_setxattr(r->c, ino, name, value, strlen(value), 0);
}

int s3_meta_store(struct s3_req *r, struct ag_writer *w, uint64_t ino)
{
	int i, rc;

	for (i = 0; i < r->ri->num_headers; i++) {
		rc = s3_meta_store_field(r, w, ino, r->ri->http_headers[i].name,
					 r->ri->http_headers[i].value);
		if (rc)
			return rc;
	}
	return s3_acl_store_request(r, w, ino);
}

int s3_meta_copy(struct s3_req *r, uint64_t src, struct ag_writer *w)
{
	char *names = NULL, *p, val[1024];
	ssize_t len = ag_listxattr(r->c, src, NULL, 0);
	int rc = 0;

	if (len <= 0)
		return (int)len;
	names = malloc(len);
	if (!names)
		return -ENOMEM;
	len = ag_listxattr(r->c, src, names, len);
	for (p = names; len > 0 && p < names + len; p += strlen(p) + 1) {
		ssize_t n;

		if (strncmp(p, "user.", 5) &&
		    (strncmp(p, S3_XATTR_PREFIX, strlen(S3_XATTR_PREFIX)) ||
		     !strcmp(p, AG_XATTR_PARTS)))
			continue;
		n = ag_getxattr(r->c, src, p, val, sizeof(val));
		if (n < 0)
			continue;
		rc = ag_writer_setxattr(w, p, val, n);
		if (rc)
			break;
	}
	free(names);
	return rc < 0 ? rc : 0;
}
