/*
 * copy.c - CopyObject: the new element shares the source's chunks
 * (ag_writer_clone), so no object data is read or written. Metadata and
 * tags are each copied (directive COPY, the default) or taken from the
 * request (REPLACE). A copy onto itself that changes neither is refused,
 * as AWS does: it would change nothing but the date.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "s3d.h"

enum s3_err s3_copy_source(struct s3_req *r, struct ag_attr *a,
			   uint64_t *off, uint64_t *len)
{
	const char *h = s3_header(r, "x-amz-copy-source");
	const char *range = s3_header(r, "x-amz-copy-source-range");
	struct ag_attr bucket;
	char *src, *slash, *q;
	enum s3_err e;

	if (!h)
		return S3_INVALID_ARGUMENT;
	src = strdup(h[0] == '/' ? h + 1 : h);
	if (!src)
		return S3_INTERNAL;
	q = strchr(src, '?'); /* ?versionId=: that version's bytes */
	if (q)
		*q++ = 0;
	slash = strchr(src, '/');
	if (!slash || s3_uri_decode(src)) {
		free(src);
		return S3_INVALID_ARGUMENT;
	}
	slash = strchr(src, '/');
	*slash = 0;
	if (q && !strncmp(q, "versionId=", 10))
		e = s3_version_lookup(r, src, slash + 1, q + 10, &bucket, a,
				      NULL);
	else
		e = s3_object_find(r, src, slash + 1, &bucket, a);
	free(src);
	if (e)
		return e;
	if (S_ISDIR(a->mode))
		return S3_NO_SUCH_KEY;
	if (!ag_sse_get(r->c, a->ino, NULL)) /* its bytes need its key */
		return S3_NOT_IMPLEMENTED;
	return s3_copy_range(range, a->size, off, len);
}

enum s3_err s3_copy_range(const char *range, uint64_t size, uint64_t *off,
			  uint64_t *len)
{
	unsigned long long from, to;
	int n = 0;

	*off = 0;
	*len = size;
	if (!range)
		return S3_OK;
	if (sscanf(range, "bytes=%llu-%llu%n", &from, &to, &n) != 2 ||
	    range[n] || to < from || to >= size)
		return S3_INVALID_RANGE;
	*off = from;
	*len = to - from + 1;
	return S3_OK;
}

/* A directive header: 0 COPY (or absent), 1 REPLACE, -1 neither. */
static int directive(struct s3_req *r, const char *name)
{
	const char *v = s3_header(r, name);

	if (!v || !strcasecmp(v, "COPY"))
		return 0;
	return strcasecmp(v, "REPLACE") ? -1 : 1;
}

/* Whether the copy's destination is its source. */
static int onto_itself(struct s3_req *r, const struct ag_attr *bucket,
		       const struct ag_attr *src)
{
	struct ag_attr dst;

	return !ag_object_find(r->c, bucket->ino, r->key, &dst) &&
	       dst.ino == src->ino;
}

int s3_copy_object(struct s3_req *r)
{
	struct ag_attr bucket, src, a;
	int replace = directive(r, "x-amz-metadata-directive");
	int replace_tags = directive(r, "x-amz-tagging-directive");
	struct ag_writer *w = NULL;
	char etag[48], date[40], *tags = NULL;
	const char *detail = NULL;
	uint64_t off, len;
	uint8_t md5[16];
	enum s3_err e = s3_bucket_get(r, &bucket);
	struct s3_xml x;
	int rc, cond = 0;

	if (!e)
		e = s3_key_check(r->key);
	if (!e && r->key[strlen(r->key) - 1] == '/')
		e = S3_INVALID_ARGUMENT;
	/* If-Match and If-None-Match: on the destination, in the commit */
	if (!e)
		e = s3_write_condition(r, &cond, md5);
	if (!e)
		e = s3_copy_source(r, &src, &off, &len);
	if (e)
		return s3_error(r, e, NULL);
	if (s3_etag(r, &src, etag))
		return s3_error(r, S3_INTERNAL, NULL);
	/* x-amz-copy-source-if-*: on the source; unchanged is no 304 here */
	e = s3_conditions(r, "x-amz-copy-source-", etag, src.mtime,
			  S3_PRECONDITION_FAILED);
	if (e)
		return s3_error(r, e, NULL);
	if (replace < 0)
		return s3_error(r, S3_INVALID_ARGUMENT,
				"Unknown metadata directive.");
	if (replace_tags < 0)
		return s3_error(r, S3_INVALID_ARGUMENT,
				"Unknown tagging directive.");
	if (!replace && !replace_tags && onto_itself(r, &bucket, &src))
		return s3_error(r, S3_INVALID_REQUEST,
				"This copy request is illegal because it is "
				"trying to copy an object to itself without "
				"changing the object's metadata, storage "
				"class, website redirect location or "
				"encryption attributes.");
	if (replace_tags)
		e = s3_tags_header(r, &tags, &detail);
	if (!e)
		e = s3_key_free(r, bucket.ino, r->key);
	if (e) {
		free(tags);
		return s3_error(r, e, detail);
	}
	rc = ag_writer_new(r->c, 0644, r->user.uid, r->user.gid, &w);
	if (!rc && len)
		rc = ag_writer_clone(w, src.ino, off, len);
	if (!rc)
		rc = replace ? s3_meta_store(r, w, 0)
			     : s3_meta_copy(r, src.ino, w);
	if (!rc && !replace)
		rc = s3_acl_store_request(r, w, 0);
	if (!rc)
		rc = replace_tags ? s3_tags_store(r, w, 0, tags)
				  : s3_tags_copy(r, src.ino, w);
	free(tags);
	/* the same bytes: the source's MD5 stays right (not a multipart
	 * one, whose "-N" form a copy does not keep) */
	if (!rc && (src.flags & AG_ATTR_ETAG) && !strchr(etag, '-'))
		ag_writer_set_etag(w, src.etag);
	if (!rc && cond == AG_EXPECT_ETAG)
		s3_etag_store(r, bucket.ino, r->key);
	if (!rc && cond)
		rc = ag_writer_expect(w, cond, md5);
	if (!rc)
		rc = ag_object_commit(w, bucket.ino, r->key, r->user.uid,
				      r->user.gid, &a);
	ag_writer_free(w);
	if (!rc)
		rc = s3_etag(r, &a, etag);
	if (rc)
		return s3_error(r, rc == -EISDIR ? S3_KEY_CONFLICT
						  : s3_errno(rc, 1), NULL);
	s3_version_note(r, bucket.ino, &a);
	s3_iso_date(a.mtime, date, sizeof(date));
	s3_xml_init(&x);
	s3_xml_raw(&x, "<CopyObjectResult>");
	s3_xml_text(&x, "LastModified", date);
	s3_xml_text(&x, "ETag", etag);
	s3_xml_raw(&x, "</CopyObjectResult>");
	return s3_xml_reply(r, 200, &x);
}
