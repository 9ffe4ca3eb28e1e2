/*
 * versioning.c - the S3 face of versioning: Get/PutBucketVersioning, the
 * x-amz-version-id and x-amz-delete-marker headers, and GET, HEAD and
 * DELETE of one version (?versionId). The versions themselves are the
 * core's (common/client/versions.c); ListObjectVersions is list.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "s3d.h"

int s3_bucket_versioning(struct s3_req *r)
{
	struct ag_attr a;
	enum s3_err e = s3_bucket_get(r, &a);
	struct s3_xml x;
	int state, rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = ag_versioning_get(r->c, a.ino, &state);
	if (rc)
		return s3_error(r, s3_errno(rc, 0), NULL);
	s3_xml_init(&x);
	if (state == AG_VERSIONING_OFF)
		s3_xml_raw(&x, "<VersioningConfiguration " S3_NS "/>");
	else
		s3_xml_raw(&x, "<VersioningConfiguration " S3_NS "><Status>%s"
			   "</Status></VersioningConfiguration>",
			   state == AG_VERSIONING_ENABLED ? "Enabled"
							  : "Suspended");
	return s3_xml_reply(r, 200, &x);
}

int s3_put_bucket_versioning(struct s3_req *r)
{
	struct ag_attr a;
	enum s3_err e = s3_bucket_get(r, &a);
	const char *p, *end, *v, *st;
	char *body = NULL;
	size_t len, vl, sl;
	int rc, state;

	if (e)
		return s3_error(r, e, NULL);
	rc = s3_read_small_body(r, 64 << 10, &body, &len);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	p = body;
	end = body + len;
	e = S3_MALFORMED_XML;
	if (!s3_xml_next(&p, end, "VersioningConfiguration", &v, &vl)) {
		const char *q = v;

		/* MFA delete needs a device we have not: refused, not
		 * ignored */
		if (!s3_xml_next(&q, v + vl, "MfaDelete", &st, &sl) &&
		    sl == 7 && !memcmp(st, "Enabled", 7))
			e = S3_NOT_IMPLEMENTED;
		q = v;
		if (e == S3_MALFORMED_XML &&
		    !s3_xml_next(&q, v + vl, "Status", &st, &sl)) {
			state = sl == 7 && !memcmp(st, "Enabled", 7)
					? AG_VERSIONING_ENABLED
				: sl == 9 && !memcmp(st, "Suspended", 9)
					? AG_VERSIONING_SUSPENDED
					: AG_VERSIONING_OFF;
			e = state ? S3_OK : S3_MALFORMED_XML;
		} else if (e == S3_MALFORMED_XML) {
			e = S3_OK; /* no Status: nothing changes */
			state = AG_VERSIONING_OFF;
		}
	}
	free(body);
	if (e)
		return s3_error(r, e, NULL);
	rc = state ? ag_versioning_set(r->c, a.ino, state) : 0;
	if (rc)
		return s3_error(r, s3_errno(rc, 0), NULL);
	return s3_reply_head(r, 200, NULL, 0);
}

void s3_version_header(struct s3_req *r, const struct ag_version *v)
{
	snprintf(r->version_hdr, sizeof(r->version_hdr),
		 "x-amz-version-id: %s\r\n%s", v->id,
		 v->flags & AG_VER_MARKER ? "x-amz-delete-marker: true\r\n"
					  : "");
}

void s3_version_note(struct s3_req *r, uint64_t bucket,
		     const struct ag_attr *a)
{
	struct ag_version v;
	int state;

	if (!ag_versioning_get(r->c, bucket, &state) && state &&
	    !ag_version_current(r->c, a, &v))
		s3_version_header(r, &v);
}

void s3_version_note_marker(struct s3_req *r, uint64_t bucket,
			    const char *key)
{
	struct ag_version v;
	struct ag_attr a;

	/* a key with a current element has no marker on top */
	if (ag_object_find(r->c, bucket, key, &a) == -ENOENT &&
	    !ag_version_newest(r->c, bucket, key, &v) &&
	    (v.flags & AG_VER_MARKER))
		s3_version_header(r, &v);
}

enum s3_err s3_version_lookup(struct s3_req *r, const char *bname,
			      const char *key, const char *id,
			      struct ag_attr *bucket, struct ag_attr *a,
			      struct ag_version *vp)
{
	struct ag_version v;
	enum s3_err e = s3_bucket_lookup(r, bname, bucket);
	int rc = 0;

	if (!e)
		e = s3_key_check(key);
	if (e)
		return e;
	/* the way first, as for the current version: a 0700 directory
	 * hides every version below it */
	rc = ag_may_path(r->c, bucket, key, r->user.uid, r->user.gid, 0);
	if (!rc)
		rc = ag_version_find(r->c, bucket->ino, key, id, &v, a);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return S3_NO_SUCH_VERSION;
	if (rc)
		return rc == -EINVAL ? S3_INVALID_ARGUMENT : s3_errno(rc, 1);
	if (vp)
		*vp = v;
	if (v.flags & AG_VER_MARKER)
		return S3_METHOD_NOT_ALLOWED; /* a marker has no object */
	return s3_element_access(r, bucket, bname, key, a, S3_PERM_READ);
}

enum s3_err s3_version_get(struct s3_req *r, struct ag_attr *bucket,
			   struct ag_attr *a)
{
	struct ag_version v = { .flags = 0 };
	enum s3_err e = s3_version_lookup(r, r->bucket, r->key,
					  s3_param(r, "versionId"), bucket, a,
					  &v);

	if (!e || e == S3_METHOD_NOT_ALLOWED)
		s3_version_header(r, &v);
	return e;
}

enum s3_err s3_version_delete(struct s3_req *r, const struct ag_attr *bucket,
			      const char *key, const char *id)
{
	struct ag_version v = { .flags = 0 };
	enum s3_err e = s3_key_check(key);
	int rc;

	if (!e)
		e = s3_may_write_key(r, bucket, key, "s3:DeleteObjectVersion");
	if (e)
		return e;
	rc = ag_version_remove(r->c, bucket->ino, key, id, r->user.uid,
			       r->user.gid, &v);
	/* as for DeleteObject, a version that is not there is gone */
	if (rc == -ENOENT || rc == -ENOTDIR)
		rc = 0;
	if (rc)
		return rc == -EINVAL ? S3_INVALID_ARGUMENT : s3_errno(rc, 1);
	snprintf(v.id, sizeof(v.id), "%s", id);
	s3_version_header(r, &v);
	return S3_OK;
}
