/*
 * attributes.c - GetObjectAttributes: what x-amz-object-attributes asks
 * of an object (ETag, Checksum, ObjectParts, StorageClass, ObjectSize)
 * without its bytes. Parts are those of a multipart completion while
 * its data is the completed one (ag_object_parts, ag_object_part), paged
 * with x-amz-max-parts and x-amz-part-number-marker.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "s3d.h"

enum { WANT_ETAG = 1, WANT_CHECKSUM = 2, WANT_PARTS = 4, WANT_CLASS = 8,
       WANT_SIZE = 16 };

static const struct {
	const char *name;
	unsigned bit;
} attributes[] = {
	{ "ETag", WANT_ETAG }, { "Checksum", WANT_CHECKSUM },
	{ "ObjectParts", WANT_PARTS }, { "StorageClass", WANT_CLASS },
	{ "ObjectSize", WANT_SIZE },
};

/* The names S3 gives the checksums the gateway stores. */
static const char *const checksums[][2] = {
	{ "crc32", "ChecksumCRC32" }, { "crc32c", "ChecksumCRC32C" },
	{ "crc64nvme", "ChecksumCRC64NVME" }, { "sha1", "ChecksumSHA1" },
	{ "sha256", "ChecksumSHA256" },
};

/* The attributes of the header, a comma-separated list; 0 when it is
 * missing or names one there is not. */
static unsigned wanted(const char *h)
{
	unsigned want = 0;
	size_t i;

	while (h && *h) {
		size_t n;

		h += strspn(h, " ,");
		n = strcspn(h, " ,");
		if (!n)
			break;
		for (i = 0; i < S3_ARRAY_LEN(attributes); i++)
			if (strlen(attributes[i].name) == n &&
			    !strncmp(h, attributes[i].name, n))
				break;
		if (i == S3_ARRAY_LEN(attributes))
			return 0;
		want |= attributes[i].bit;
		h += n;
	}
	return want;
}

static void checksum_xml(struct s3_req *r, const struct ag_attr *a,
			 struct s3_xml *x)
{
	char name[64], val[128];
	int open = 0;
	size_t i;

	if (!(a->flags & AG_ATTR_ETAG)) /* changed since the S3 write */
		return;
	for (i = 0; i < S3_ARRAY_LEN(checksums); i++) {
		ssize_t n;

		snprintf(name, sizeof(name), AG_XATTR_CHECKSUM_PREFIX "%s",
			 checksums[i][0]);
		n = ag_getxattr(r->c, a->ino, name, val, sizeof(val) - 1);
		if (n <= 0)
			continue;
		if (!open++)
			s3_xml_raw(x, "<Checksum>");
		s3_xml_textn(x, checksums[i][1], val, (size_t)n);
	}
	if (open)
		s3_xml_raw(x, "</Checksum>");
}

static enum s3_err parts_xml(struct s3_req *r, const struct ag_attr *a,
			     struct s3_xml *x)
{
	const char *mh = s3_header(r, "x-amz-max-parts");
	const char *ph = s3_header(r, "x-amz-part-number-marker");
	long max = mh ? strtol(mh, NULL, 10) : 1000;
	long marker = ph ? strtol(ph, NULL, 10) : 0;
	unsigned nparts, part, shown = 0;
	uint64_t off, len;
	int rc = ag_object_parts(r->c, a, &nparts, NULL);

	if (rc)
		return s3_errno(rc, 1);
	if (max < 0 || marker < 0)
		return S3_INVALID_ARGUMENT;
	if (max > 1000)
		max = 1000;
	if (!nparts) /* not completed from parts: AWS shows none */
		return S3_OK;
	s3_xml_raw(x, "<ObjectParts><PartsCount>%u</PartsCount>",
		   nparts);
	s3_xml_raw(x, "<PartNumberMarker>%ld</PartNumberMarker>", marker);
	s3_xml_raw(x, "<MaxParts>%ld</MaxParts>", max);
	for (part = (unsigned)marker + 1; part <= nparts; part++) {
		if (shown == max)
			break;
		rc = ag_object_part(r->c, a, part, &off, &len);
		if (rc == -ENODATA) /* the sizes were not kept: the count */
			break;
		if (rc)
			return s3_errno(rc, 1);
		s3_xml_raw(x, "<Part><PartNumber>%u</PartNumber><Size>%" PRIu64
			   "</Size></Part>", part, len);
		shown++;
	}
	s3_xml_raw(x, "<IsTruncated>%s</IsTruncated>",
		   shown == max && part <= nparts ? "true" : "false");
	if (shown)
		s3_xml_raw(x, "<NextPartNumberMarker>%u</NextPartNumberMarker>",
			   part - 1);
	s3_xml_raw(x, "</ObjectParts>");
	return S3_OK;
}

int s3_get_object_attributes(struct s3_req *r)
{
	unsigned want = wanted(s3_header(r, "x-amz-object-attributes"));
	struct ag_attr bucket, a;
	char etag[48], date[64], hdr[128];
	struct s3_xml x;
	enum s3_err e;
	int rc;

	if (!want)
		return s3_error(r, S3_INVALID_ARGUMENT,
				"x-amz-object-attributes must name one or "
				"more of ETag, Checksum, ObjectParts, "
				"StorageClass, ObjectSize.");
	e = s3_object_find(r, r->bucket, r->key, &bucket, &a);
	if (!e && S_ISDIR(a.mode))
		a.size = 0;
	if (!e && s3_etag(r, &a, etag))
		e = S3_INTERNAL;
	if (e)
		return s3_error(r, e, NULL);
	s3_xml_init(&x);
	s3_xml_raw(&x, "<GetObjectAttributesResponse xmlns=\"http://s3."
		   "amazonaws.com/doc/2006-03-01/\">");
	if (want & WANT_ETAG) /* here without its quotes, as AWS has it */
		s3_xml_textn(&x, "ETag", etag + 1, strlen(etag) - 2);
	if (want & WANT_CHECKSUM)
		checksum_xml(r, &a, &x);
	if (want & WANT_PARTS)
		e = parts_xml(r, &a, &x);
	if (want & WANT_CLASS)
		s3_xml_text(&x, "StorageClass", "STANDARD");
	if (want & WANT_SIZE)
		s3_xml_raw(&x, "<ObjectSize>%" PRIu64 "</ObjectSize>", a.size);
	s3_xml_raw(&x, "</GetObjectAttributesResponse>");
	if (!e && x.error)
		e = S3_INTERNAL;
	if (e) {
		s3_xml_free(&x);
		return s3_error(r, e, NULL);
	}
	s3_http_date(a.mtime, date, sizeof(date));
	snprintf(hdr, sizeof(hdr), "Last-Modified: %s\r\n", date);
	rc = s3_reply_body(r, 200, "application/xml", hdr, x.buf, x.len);
	s3_xml_free(&x);
	return rc;
}
