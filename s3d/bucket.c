/*
 * bucket.c - bucket operations. A bucket is a top-level directory whose
 * name follows S3's bucket naming rules; other top-level names (such as
 * the multipart staging directory) are never buckets. A bucket's owner is
 * its directory's (access.c); a user lists the buckets it owns or is
 * granted something on.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "s3d.h"


static int valid_bucket(const char *b)
{
	size_t n = strlen(b), i;
	int dots = 0, digits_only = 1;

	if (n < 3 || n > 63)
		return 0;
	if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = b[i];

		if (!(islower(ch) || isdigit(ch) || ch == '.' || ch == '-'))
			return 0;
		if (ch == '.' && (b[i + 1] == '.' || b[i + 1] == '-' ||
				  (i && b[i - 1] == '-')))
			return 0;
		dots += ch == '.';
		if (!isdigit(ch) && ch != '.')
			digits_only = 0;
	}
	return !(digits_only && dots == 3); /* not an IP address */
}

enum s3_err s3_bucket_get(struct s3_req *r, struct ag_attr *a)
{
	return s3_bucket_lookup(r, r->bucket, a);
}

enum s3_err s3_bucket_lookup(struct s3_req *r, const char *name,
			     struct ag_attr *a)
{
	int rc;

	if (!valid_bucket(name))
		return S3_INVALID_BUCKET_NAME;
	rc = ag_lookup(r->c, AG_ROOT, name, a);
	if (rc == -ENOENT || (!rc && !S_ISDIR(a->mode)))
		return S3_NO_SUCH_BUCKET;
	return rc ? S3_INTERNAL : S3_OK;
}

/* Whether the bucket a is r's user's, or granted to it at all. */
static int visible(struct s3_req *r, const struct ag_attr *a)
{
	struct s3_acl acl;
	int i;

	if (s3_owns(r, a))
		return 1;
	if (s3_acl_load(r, a->ino, &acl))
		return 0;
	for (i = 0; i < acl.n; i++)
		if (acl.g[i].kind != S3_GRANTEE_USER ||
		    !strcmp(acl.g[i].id, r->user.name))
			return 1;
	return 0;
}

struct bucket_list {
	struct s3_req *r;
	struct s3_xml *x;
};

static int add_bucket(void *arg, const char *name, size_t nlen, uint64_t ino,
		      unsigned type)
{
	struct bucket_list *bl = arg;
	char n[256], date[40];
	struct ag_attr a;

	(void)type;
	if (nlen >= sizeof(n))
		return 0;
	memcpy(n, name, nlen);
	n[nlen] = 0;
	if (!valid_bucket(n) || ag_getattr(bl->r->c, ino, &a) ||
	    !S_ISDIR(a.mode) || !visible(bl->r, &a))
		return 0;
	s3_iso_date(a.btime, date, sizeof(date));
	s3_xml_raw(bl->x, "<Bucket>");
	s3_xml_text(bl->x, "Name", n);
	s3_xml_text(bl->x, "CreationDate", date);
	s3_xml_raw(bl->x, "</Bucket>");
	return 0;
}

int s3_list_buckets(struct s3_req *r)
{
	struct s3_xml x;
	struct bucket_list bl = { r, &x };
	int rc;

	s3_xml_init(&x);
	s3_xml_raw(&x, "<ListAllMyBucketsResult " S3_NS "><Owner>");
	s3_xml_text(&x, "ID", r->user.name);
	s3_xml_text(&x, "DisplayName", r->user.name);
	s3_xml_raw(&x, "</Owner><Buckets>");
	rc = ag_readdir(r->c, AG_ROOT, NULL, add_bucket, &bl);
	if (rc) {
		s3_xml_free(&x);
		return s3_error(r, s3_errno(rc, 0), NULL);
	}
	s3_xml_raw(&x, "</Buckets></ListAllMyBucketsResult>");
	return s3_xml_reply(r, 200, &x);
}

/* The region a CreateBucketConfiguration asks for, into loc ("" when the
 * body is empty or names none). A bucket lives in the one region the
 * gateway serves; S3's legacy "EU" is eu-west-1. Anything else the
 * configuration may hold (directory buckets' Location and Bucket) is not
 * implemented. */
static enum s3_err location_asked(const char *body, size_t len, char *loc,
				  size_t size)
{
	const char *p = body, *end = body + len, *v;
	size_t vl;

	*loc = 0;
	while (p < end && *p && strchr(" \t\r\n", *p))
		p++;
	if (p == end)
		return S3_OK;
	if (s3_xml_next(&p, end, "CreateBucketConfiguration", &v, &vl))
		return S3_MALFORMED_XML;
	p = v;
	end = v + vl;
	{
		const char *q = p, *x;
		size_t xl;

		if (!s3_xml_next(&q, end, "Location", &x, &xl) ||
		    (q = p, !s3_xml_next(&q, end, "Bucket", &x, &xl)))
			return S3_NOT_IMPLEMENTED;
	}
	switch (s3_xml_next(&p, end, "LocationConstraint", &v, &vl)) {
	case 1:
		return S3_OK;
	case 0:
		if (s3_xml_unescape(v, vl, loc, size) < 0)
			return S3_MALFORMED_XML;
		if (!strcmp(loc, "EU"))
			snprintf(loc, size, "eu-west-1");
		return S3_OK;
	default:
		return S3_MALFORMED_XML;
	}
}

int s3_create_bucket(struct s3_req *r)
{
	struct ag_attr a;
	struct s3_acl acl;
	char *body = NULL, loc[128], want[64];
	size_t len;
	enum s3_err e;
	int rc, given;

	if (!valid_bucket(r->bucket))
		return s3_error(r, S3_INVALID_BUCKET_NAME, NULL);
	rc = s3_read_small_body(r, 64 << 10, &body, &len);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	e = location_asked(body, len, want, sizeof(want));
	free(body);
	if (e)
		return s3_error(r, e, NULL);
	/* the one region served: a bucket asked for elsewhere is refused as
	 * a regional S3 endpoint refuses it, so GetBucketLocation always
	 * names the region that was given (or this one, when none was) */
	if (*want && strcmp(want, r->conf->region)) {
		char msg[256];

		snprintf(msg, sizeof(msg), "The %s location constraint is "
			 "incompatible for the region specific endpoint this "
			 "request was sent to (%s).", want, r->conf->region);
		return s3_error(r, S3_ILLEGAL_LOCATION, msg);
	}
	rc = ag_mkdir(r->c, AG_ROOT, r->bucket, 0755, r->user.uid, r->user.gid,
		      &a);
	if (rc == -EEXIST)
		return s3_error(r, !s3_bucket_get(r, &a) && s3_owns(r, &a)
				   ? S3_BUCKET_EXISTS : S3_BUCKET_TAKEN, NULL);
	if (!rc)
		rc = s3_acl_from_headers(r, &acl, &given) ? -EINVAL
			: s3_bucket_acl_set(r, &a, &acl);
	if (rc)
		return s3_error(r, s3_errno(rc, 0), NULL);
	snprintf(loc, sizeof(loc), "Location: /%s\r\n", r->bucket);
	return s3_reply_head(r, 200, loc, 0);
}

int s3_head_bucket(struct s3_req *r)
{
	struct ag_attr a;
	enum s3_err e = s3_bucket_get(r, &a);
	char hdr[128];

	if (e)
		return s3_error(r, e, NULL);
	snprintf(hdr, sizeof(hdr), "x-amz-bucket-region: %s\r\n",
		 r->conf->region);
	return s3_reply_head(r, 200, hdr, 0);
}

int s3_delete_bucket(struct s3_req *r)
{
	struct ag_attr a;
	enum s3_err e = s3_bucket_get(r, &a);
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = ag_rmdir(r->c, AG_ROOT, r->bucket);
	if (rc)
		return s3_error(r, rc == -ENOTEMPTY ? S3_BUCKET_NOT_EMPTY
						    : s3_errno(rc, 0), NULL);
	/* the bucket is gone whatever this says: a new one of its name
	 * must not inherit its notifications */
	rc = s3_notification_drop(r);
	return rc ? s3_error(r, s3_errno(rc, 0), NULL)
		  : s3_reply_head(r, 204, NULL, -1);
}

int s3_bucket_location(struct s3_req *r)
{
	struct ag_attr a;
	enum s3_err e = s3_bucket_get(r, &a);
	struct s3_xml x;

	if (e)
		return s3_error(r, e, NULL);
	s3_xml_init(&x);
	if (!strcmp(r->conf->region, "us-east-1"))
		s3_xml_raw(&x, "<LocationConstraint " S3_NS "/>");
	else
		s3_xml_raw(&x, "<LocationConstraint " S3_NS ">%s"
			   "</LocationConstraint>", r->conf->region);
	return s3_xml_reply(r, 200, &x);
}
