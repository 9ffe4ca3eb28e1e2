/*
 * multipart.c - multipart uploads: the requests and their XML. Where
 * uploads and parts are kept is the core's (ag_upload_*, uploads.c).
 * Completing (ag_upload_build_*) builds the object by reference to the
 * parts' chunks and publishes it atomically with its AWS multipart ETag,
 * then drops the upload.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "s3d.h"

#define MAX_PART AG_PARTS_MAX

/* The upload named by ?uploadId= for this bucket and key. */
static enum s3_err find_upload(struct s3_req *r, struct ag_attr *up)
{
	return ag_upload_find(r->c, s3_param(r, "uploadId"), r->bucket,
			      r->key, up) ? S3_NO_SUCH_UPLOAD : S3_OK;
}

static void upload_xml_head(struct s3_req *r, struct s3_xml *x,
			    const char *root)
{
	s3_xml_init(x);
	s3_xml_raw(x, "<%s xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
		   root);
	s3_xml_text(x, "Bucket", r->bucket);
	s3_xml_text(x, "Key", r->key);
}

int s3_create_upload(struct s3_req *r)
{
	struct ag_attr bucket, up;
	enum s3_err e = s3_bucket_get(r, &bucket);
	char id[AG_UPLOAD_ID_LEN + 1], *tags = NULL;
	const char *detail = NULL;
	struct s3_sse sse;
	struct s3_xml x;
	int rc;

	if (!e)
		e = s3_key_check(r->key);
	if (!e && r->key[strlen(r->key) - 1] == '/')
		e = S3_INVALID_ARGUMENT;
	if (!e)
		e = s3_sse_request(r, &sse, &detail);
	if (!e)
		e = s3_tags_header(r, &tags, &detail);
	if (e)
		return s3_error(r, e, detail);
	rc = ag_upload_create(r->c, r->bucket, r->key, r->user.uid,
			      r->user.gid, id, &up);
	if (!rc)
		rc = s3_meta_store(r, NULL, up.ino);
	if (!rc) /* kept on the upload until it completes */
		rc = s3_tags_store(r, NULL, up.ino, tags);
	if (!rc)
		rc = s3_sse_upload_mark(r, up.ino, &sse);
	free(tags);
	if (rc)
		return s3_error(r, s3_errno(rc, 1), NULL);
	upload_xml_head(r, &x, "InitiateMultipartUploadResult");
	s3_xml_text(&x, "UploadId", id);
	s3_xml_raw(&x, "</InitiateMultipartUploadResult>");
	if (sse.kind) {
		char hdr[256] = "";
		uint8_t md5[16];
		unsigned ml = 16;

		EVP_Digest(sse.key, 32, md5, &ml, EVP_md5(), NULL);
		s3_sse_headers(sse.kind, md5, hdr, sizeof(hdr));
		OPENSSL_cleanse(&sse, sizeof(sse));
		rc = x.error ? s3_error(r, S3_INTERNAL, NULL)
			     : s3_reply_body(r, 200, "application/xml", hdr,
					     x.buf, x.len);
		s3_xml_free(&x);
		return rc;
	}
	return s3_xml_reply(r, 200, &x);
}

static int part_number(struct s3_req *r)
{
	const char *v = s3_param(r, "partNumber");
	char *e;
	long n;

	if (!v)
		return -1;
	n = strtol(v, &e, 10);
	return *e || e == v || n < 1 || n > MAX_PART ? -1 : (int)n;
}

int s3_upload_part(struct s3_req *r)
{
	struct ag_attr bucket, up, a, src;
	struct ag_writer *w = NULL;
	struct s3_body b;
	enum s3_err e = s3_bucket_get(r, &bucket);
	int pn = part_number(r), copy = s3_header(r, "x-amz-copy-source") != NULL;
	const char *detail = NULL;
	struct s3_sse sse = { 0 };
	int sse_kind = 0;
	uint64_t off, len;
	char etag[48], hdr[512];
	int rc;

	if (!e)
		e = find_upload(r, &up);
	if (!e && pn < 0)
		e = S3_INVALID_ARGUMENT;
	if (!e && copy)
		e = s3_copy_source(r, &src, &off, &len);
	if (!e && copy &&
	    ag_getxattr(r->c, up.ino, AG_XATTR_SSE_UPLOAD, NULL, 0) >= 0)
		e = S3_NOT_IMPLEMENTED; /* into an encrypted upload */
	if (!e && !copy)
		e = s3_sse_for_part(r, up.ino, &sse, &detail);
	if (e)
		return s3_error(r, e, detail);
	memset(&b, 0, sizeof(b));
	if (copy) {
		rc = ag_writer_new(r->c, 0600, r->user.uid, r->user.gid, &w);
		if (!rc && len)
			rc = ag_writer_clone(w, src.ino, off, len);
		/* the same bytes whole: the source's MD5 stays right (not
		 * a multipart one's "-N" form) */
		if (!rc && off == 0 && len == src.size &&
		    (src.flags & AG_ATTR_ETAG) && !s3_etag(r, &src, etag) &&
		    !strchr(etag, '-'))
			ag_writer_set_etag(w, src.etag);
	} else {
		e = s3_body_open(&b, r);
		if (e) {
			s3_body_close(&b);
			return s3_error(r, e, NULL);
		}
		rc = s3_put_stream(r, &b, &sse, &w, &e);
		sse_kind = sse.kind;
		OPENSSL_cleanse(&sse, sizeof(sse));
		s3_body_close(&b);
	}
	if (!rc)
		rc = ag_upload_part_commit(w, &up, (unsigned)pn, &a);
	ag_writer_free(w);
	if (!rc)
		rc = s3_etag(r, &a, etag);
	if (rc)
		return s3_error(r, e ? e : s3_errno(rc, 1), NULL);
	if (copy) {
		struct s3_xml x;
		char date[40];

		s3_iso_date(a.mtime, date, sizeof(date));
		s3_xml_init(&x);
		s3_xml_raw(&x, "<CopyPartResult>");
		s3_xml_text(&x, "LastModified", date);
		s3_xml_text(&x, "ETag", etag);
		s3_xml_raw(&x, "</CopyPartResult>");
		return s3_xml_reply(r, 200, &x);
	}
	snprintf(hdr, sizeof(hdr), "ETag: %s\r\n", etag);
	if (b.sum != S3_SUM_NONE)
		snprintf(hdr + strlen(hdr), sizeof(hdr) - strlen(hdr),
			 "x-amz-checksum-%s: %s\r\n", b.sum_name, b.sum_b64);
	if (sse_kind) {
		struct ag_sse ps;

		if (!ag_sse_get(r->c, a.ino, &ps)) {
			s3_sse_headers(sse_kind, ps.key_md5, hdr, sizeof(hdr));
			ag_sse_free(&ps);
		}
	}
	return s3_reply_head(r, 200, hdr, 0);
}

int s3_abort_upload(struct s3_req *r)
{
	struct ag_attr bucket, up;
	enum s3_err e = s3_bucket_get(r, &bucket);
	int rc;

	if (!e)
		e = find_upload(r, &up);
	if (e)
		return s3_error(r, e, NULL);
	rc = ag_upload_drop(r->c, &up, s3_param(r, "uploadId"));
	if (rc)
		return s3_error(r, s3_errno(rc, 1), NULL);
	return s3_reply_head(r, 204, NULL, -1);
}

static int complete_reply(struct s3_req *r, const char *etag)
{
	struct s3_xml x;

	s3_xml_init(&x);
	s3_xml_raw(&x, "<CompleteMultipartUploadResult xmlns=\"http://s3."
		   "amazonaws.com/doc/2006-03-01/\">");
	s3_xml_raw(&x, "<Location>/%s/", r->bucket);
	s3_xml_raw(&x, "</Location>");
	s3_xml_text(&x, "Bucket", r->bucket);
	s3_xml_text(&x, "Key", r->key);
	s3_xml_text(&x, "ETag", etag);
	s3_xml_raw(&x, "</CompleteMultipartUploadResult>");
	return s3_xml_reply(r, 200, &x);
}

/* CompleteMultipartUpload of an upload already completed: as on AWS, a
 * client retrying one whose answer it lost gets 200 and the ETag again,
 * while the key still holds what that upload made (the parts claim
 * names it: parts.c); else NoSuchUpload. */
static int completed_again(struct s3_req *r, const struct ag_attr *bucket)
{
	char id[AG_UPLOAD_ID_LEN + 1], etag[AG_ETAG_MAX], *body = NULL;
	const char *want = s3_param(r, "uploadId");
	unsigned nparts;
	struct ag_attr a;
	size_t len;
	int rc = s3_read_small_body(r, 1 << 20, &body, &len);

	free(body);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	if (!want || ag_object_find(r->c, bucket->ino, r->key, &a) ||
	    ag_object_parts(r->c, &a, &nparts, id) || !nparts ||
	    strcmp(id, want) || s3_etag(r, &a, etag))
		return s3_error(r, S3_NO_SUCH_UPLOAD, NULL);
	return complete_reply(r, etag);
}

/* The answer to a part the core refused (ag_upload_build_add). */
static enum s3_err part_refused(int rc)
{
	switch (rc) {
	case -EINVAL:
		return S3_INVALID_PART_ORDER;
	case -ERANGE:
		return S3_ENTITY_TOO_SMALL;
	case -ENOENT:
		return S3_INVALID_PART;
	default:
		return S3_OK; /* an error of the store: rc says it */
	}
}

int s3_complete_upload(struct s3_req *r)
{
	struct ag_attr bucket, up, a;
	enum s3_err e = s3_bucket_get(r, &bucket);
	struct ag_upload_build *ub = NULL;
	char *body = NULL, etag[AG_ETAG_MAX];
	const char *p, *end, *v, *pv;
	size_t len, vl, pvl;
	uint8_t cond_md5[16];
	const char *detail = NULL;
	int rc, n = 0, found, cond = 0;

	if (!e)
		e = find_upload(r, &up);
	if (e == S3_NO_SUCH_UPLOAD)
		return completed_again(r, &bucket);
	if (!e)
		e = s3_write_condition(r, &cond, cond_md5);
	if (!e && (s3_header(r, "x-amz-server-side-encryption-customer-key") ||
		   s3_header(r, "x-amz-server-side-encryption"))) {
		struct s3_sse sse; /* clients may repeat the key: it must fit */

		e = s3_sse_for_part(r, up.ino, &sse, &detail);
		OPENSSL_cleanse(&sse, sizeof(sse));
	}
	if (e)
		return s3_error(r, e, detail);
	rc = s3_read_small_body(r, 1 << 20, &body, &len);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	p = body;
	end = body + len;
	if (s3_xml_next(&p, end, "CompleteMultipartUpload", &v, &vl)) {
		free(body);
		return s3_error(r, S3_MALFORMED_XML, NULL);
	}
	p = v;
	end = v + vl;
	rc = ag_upload_build_new(r->c, &up, s3_param(r, "uploadId"),
				 r->user.uid, r->user.gid, &ub);
	while (!rc && !e &&
	       (found = s3_xml_next(&p, end, "Part", &pv, &pvl)) == 0) {
		uint8_t md5[16];
		long pn;

		e = s3_xml_part(pv, pvl, &pn, md5);
		if (!e && (pn < 1 || pn > MAX_PART))
			e = S3_INVALID_PART;
		if (e)
			break;
		rc = ag_upload_build_add(ub, (unsigned)pn, md5);
		e = part_refused(rc);
		if (e)
			rc = 0;
		n++;
	}
	free(body);
	if (!rc && !e && (found < 0 || !n))
		e = S3_MALFORMED_XML;
	if (!rc && !e)
		rc = s3_meta_copy(r, up.ino, ag_upload_build_writer(ub));
	if (!rc && !e) /* the ACL and tags CreateMultipartUpload asked for */
		rc = s3_acl_copy(r, up.ino, ag_upload_build_writer(ub));
	if (!rc && !e)
		rc = s3_tags_copy(r, up.ino, ag_upload_build_writer(ub));
	if (!rc && !e)
		e = s3_key_free(r, bucket.ino, r->key);
	/* a failed condition leaves the upload, to be completed again */
	if (!rc && !e && cond == AG_EXPECT_ETAG)
		s3_etag_store(r, bucket.ino, r->key);
	if (!rc && !e && cond)
		rc = ag_writer_expect(ag_upload_build_writer(ub), cond,
				      cond_md5);
	if (!rc && !e)
		rc = ag_upload_build_commit(ub, bucket.ino, r->key, r->user.uid,
					    r->user.gid, &a, etag);
	ag_upload_build_free(ub);
	if (!e && rc == -EFBIG) {
		e = S3_ENTITY_TOO_LARGE;
		detail = "An encrypted object holds at most 3840 blocks of its "
			 "parts (1 MiB for parts under 3.75 GiB).";
	} else if (!e && rc == -EPERM) {
		e = S3_INVALID_REQUEST;
		detail = "The parts are not all encrypted with one key.";
	}
	if (rc || e)
		return s3_error(r, e ? e : rc == -EISDIR ? S3_KEY_CONFLICT
					       : s3_errno(rc, 1), detail);
	ag_upload_drop(r->c, &up, s3_param(r, "uploadId"));
	s3_version_note(r, bucket.ino, &a);
	return complete_reply(r, etag);
}

struct part_list {
	struct s3_req *r;
	struct s3_xml *x;
	int marker, max, shown, truncated, next;
};

static int add_part(void *arg, unsigned part, const struct ag_attr *a)
{
	struct part_list *pl = arg;
	char etag[48], date[40];

	if ((int)part <= pl->marker)
		return 0;
	if (pl->shown == pl->max) {
		pl->truncated = 1;
		return 1;
	}
	if (s3_etag(pl->r, a, etag))
		return 0;
	s3_iso_date(a->mtime, date, sizeof(date));
	s3_xml_raw(pl->x, "<Part><PartNumber>%u</PartNumber>", part);
	s3_xml_text(pl->x, "LastModified", date);
	s3_xml_text(pl->x, "ETag", etag);
	s3_xml_raw(pl->x, "<Size>%" PRIu64 "</Size></Part>", a->size);
	pl->shown++;
	pl->next = (int)part;
	return 0;
}

int s3_list_parts(struct s3_req *r)
{
	struct ag_attr bucket, up;
	enum s3_err e = s3_bucket_get(r, &bucket);
	const char *v = s3_param(r, "part-number-marker");
	const char *mp = s3_param(r, "max-parts");
	struct s3_xml x;
	struct part_list pl = { .r = r, .x = &x, .marker = v ? atoi(v) : 0,
				.max = mp ? atoi(mp) : 1000 };

	if (!e)
		e = find_upload(r, &up);
	if (e)
		return s3_error(r, e, NULL);
	if (pl.max < 0 || pl.max > 1000)
		pl.max = 1000;
	upload_xml_head(r, &x, "ListPartsResult");
	s3_xml_text(&x, "UploadId", s3_param(r, "uploadId"));
	s3_xml_raw(&x, "<PartNumberMarker>%d</PartNumberMarker>", pl.marker);
	s3_xml_raw(&x, "<MaxParts>%d</MaxParts>", pl.max);
	s3_xml_raw(&x, "<StorageClass>STANDARD</StorageClass>");
	if (ag_upload_parts(r->c, &up, add_part, &pl) < 0) {
		s3_xml_free(&x);
		return s3_error(r, S3_INTERNAL, NULL);
	}
	s3_xml_raw(&x, "<NextPartNumberMarker>%d</NextPartNumberMarker>",
		   pl.next);
	s3_xml_text(&x, "IsTruncated", pl.truncated ? "true" : "false");
	s3_xml_raw(&x, "</ListPartsResult>");
	return s3_xml_reply(r, 200, &x);
}

struct upload_list {
	struct s3_xml *x;
	const char *prefix;
};

static int add_upload(void *arg, const char *id, const char *key,
		      const struct ag_attr *up)
{
	struct upload_list *ul = arg;
	char date[40];

	if (strncmp(key, ul->prefix, strlen(ul->prefix)))
		return 0;
	s3_iso_date(up->btime, date, sizeof(date));
	s3_xml_raw(ul->x, "<Upload>");
	s3_xml_text(ul->x, "Key", key);
	s3_xml_text(ul->x, "UploadId", id);
	s3_xml_raw(ul->x, "<StorageClass>STANDARD</StorageClass>");
	s3_xml_text(ul->x, "Initiated", date);
	s3_xml_raw(ul->x, "</Upload>");
	return 0;
}

int s3_list_uploads(struct s3_req *r)
{
	struct ag_attr bucket;
	enum s3_err e = s3_bucket_get(r, &bucket);
	const char *prefix = s3_param(r, "prefix");
	struct upload_list ul = { .prefix = prefix ? prefix : "" };
	struct s3_xml x;

	if (e)
		return s3_error(r, e, NULL);
	s3_xml_init(&x);
	ul.x = &x;
	s3_xml_raw(&x, "<ListMultipartUploadsResult xmlns=\"http://s3."
		   "amazonaws.com/doc/2006-03-01/\">");
	s3_xml_text(&x, "Bucket", r->bucket);
	s3_xml_raw(&x, "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
		   "<MaxUploads>1000</MaxUploads>"
		   "<IsTruncated>false</IsTruncated>");
	if (ag_upload_list(r->c, r->bucket, add_upload, &ul) < 0) {
		s3_xml_free(&x);
		return s3_error(r, S3_INTERNAL, NULL);
	}
	s3_xml_raw(&x, "</ListMultipartUploadsResult>");
	return s3_xml_reply(r, 200, &x);
}
