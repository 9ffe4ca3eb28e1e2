/*
 * tagging.c - tags of objects and buckets: Get/Put/DeleteObjectTagging,
 * Get/Put/DeleteBucketTagging, and the x-amz-tagging header of a write
 * (PutObject, CopyObject with x-amz-tagging-directive REPLACE,
 * CreateMultipartUpload).
 *
 * A tag set is kept in the private xattr S3_TAGS_XATTR of the element as
 * "key=value&key=value", in the order given, with '%', '&', '=', '+' and
 * bytes below 0x21 as %XX: one form for the header, the store and the
 * count. No xattr is no tags. Limits are AWS's: 10 tags on an object, 50
 * on a bucket, keys of 1-128 characters and values of 0-256 (counted in
 * UTF-16 units, as AWS does), keys unique, none beginning "aws:", only
 * letters, digits, spaces and "+-=._:/@". A bad set is refused whole with
 * InvalidTag; the longest valid one fits an xattr (64 KiB).
 *
 * Who may: tags of an object are read by whoever may read the object and
 * changed by whoever may change its ACL (s3:GetObjectTagging,
 * s3:PutObjectTagging in a policy); a bucket's by its owner or a policy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3d.h"

#define OBJECT_TAGS_MAX 10
#define BUCKET_TAGS_MAX 50
#define KEY_UNITS 128
#define VALUE_UNITS 256
#define TAG_BYTES S3_TAG_BYTES
#define S3_NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

/* Length in UTF-16 units of a UTF-8 string: 2 for a 4-byte sequence. */
static size_t utf16_units(const char *s, size_t n)
{
	size_t i, units = 0;

	for (i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];

		if ((b & 0xc0) != 0x80)
			units += b >= 0xf0 ? 2 : 1;
	}
	return units;
}

static int tag_char_ok(unsigned char b)
{
	return b >= 0x80 || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') ||
	       (b >= 'A' && b <= 'Z') || strchr(" +-=._:/@", b);
}

static int needs_escape(unsigned char b)
{
	return b < 0x21 || b == '%' || b == '&' || b == '=' || b == '+';
}

static void append_escaped(struct s3_xml *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];

		if (needs_escape(b))
			s3_xml_raw(out, "%%%02X", b);
		else
			s3_xml_raw(out, "%c", b);
	}
}

/* Decode [s, s + n) of the URL query form ('+' is a space) into out
 * (size bytes, NUL-terminated): its length, or -1 on a bad escape, an
 * encoded NUL or overflow. */
static long form_decode(const char *s, size_t n, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi;

			if (i + 2 >= n)
				return -1;
			hi = s3_hexval(s[i + 1]);
			c = s3_hexval(s[i + 2]);
			if (hi < 0 || c < 0 || (hi == 0 && c == 0))
				return -1;
			c = hi * 16 + c;
			i += 2;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = 0;
	return (long)o;
}

/* The next "key=value" of an encoded set at *p, decoded; *p moves past
 * it. 0 found, 1 at the end, -1 malformed. */
static int tags_next(const char **p, char key[TAG_BYTES],
		     char value[TAG_BYTES])
{
	const char *s = *p, *amp, *eq;
	long kl, vl;

	if (!*s)
		return 1;
	amp = strchr(s, '&');
	if (!amp)
		amp = s + strlen(s);
	eq = memchr(s, '=', amp - s);
	kl = form_decode(s, (eq ? eq : amp) - s, key, TAG_BYTES);
	vl = eq ? form_decode(eq + 1, amp - eq - 1, value, TAG_BYTES)
		: (value[0] = 0);
	if (kl < 0 || vl < 0)
		return -1;
	*p = *amp ? amp + 1 : amp;
	return 0;
}

/* Check one tag and append it to the set being built in out (n tags so
 * far, at most max). */
static enum s3_err tag_add(struct s3_xml *out, int *n, int max,
			   const char *key, size_t kl, const char *value,
			   size_t vl, const char **detail)
{
	char k2[TAG_BYTES], v2[TAG_BYTES];
	const char *p = out->buf ? out->buf : "";
	size_t i;
	int rc;

	if (*n >= max) {
		*detail = "Object tags cannot be greater than 10";
		if (max == BUCKET_TAGS_MAX)
			*detail = "Bucket tags cannot be greater than 50";
		return S3_INVALID_TAG;
	}
	if (!kl || utf16_units(key, kl) > KEY_UNITS ||
	    utf16_units(value, vl) > VALUE_UNITS) {
		*detail = "The TagKey or TagValue you have provided is too "
			  "long (or the key is empty).";
		return S3_INVALID_TAG;
	}
	for (i = 0; i < kl + vl; i++)
		if (!tag_char_ok((unsigned char)(i < kl ? key[i]
							: value[i - kl]))) {
			*detail = "The TagKey or TagValue you have provided "
				  "has invalid characters.";
			return S3_INVALID_TAG;
		}
	if (kl >= 4 && !strncasecmp(key, "aws:", 4)) {
		*detail = "Your TagKey cannot be prefixed with aws:";
		return S3_INVALID_TAG;
	}
	while (!(rc = tags_next(&p, k2, v2)))
		if (strlen(k2) == kl && !memcmp(k2, key, kl)) {
			*detail = "Cannot provide multiple Tags with the "
				  "same key";
			return S3_INVALID_TAG;
		}
	if (*n)
		s3_xml_raw(out, "&");
	append_escaped(out, key, kl);
	s3_xml_raw(out, "=");
	append_escaped(out, value, vl);
	(*n)++;
	return out->error ? S3_INTERNAL : S3_OK;
}

/* The set of an x-amz-tagging header value h (query form). */
static enum s3_err tags_from_header(const char *h, struct s3_xml *out,
				    const char **detail)
{
	char key[TAG_BYTES], value[TAG_BYTES];
	const char *p = h;
	enum s3_err e = S3_OK;
	int n = 0, rc;

	while (!e && !(rc = tags_next(&p, key, value)))
		e = tag_add(out, &n, OBJECT_TAGS_MAX, key, strlen(key), value,
			    strlen(value), detail);
	if (!e && rc < 0) {
		*detail = "The header 'x-amz-tagging' shall be encoded as "
			  "UTF-8 then URLEncoded URL query parameters "
			  "without tag name duplicates.";
		e = S3_INVALID_ARGUMENT;
	}
	return e;
}

enum s3_err s3_tag_from_xml(const char *tag, size_t tagl, struct s3_xml *out,
			    int *n, int max, const char **detail)
{
	char key[TAG_BYTES], value[TAG_BYTES];
	const char *q = tag, *kv, *vv;
	size_t kvl, vvl;

	if (s3_xml_next(&q, tag + tagl, "Key", &kv, &kvl) ||
	    (q = tag, s3_xml_next(&q, tag + tagl, "Value", &vv, &vvl)) ||
	    s3_xml_unescape(kv, kvl, key, sizeof(key)) < 0 ||
	    s3_xml_unescape(vv, vvl, value, sizeof(value)) < 0)
		return S3_MALFORMED_XML;
	return tag_add(out, n, max, key, strlen(key), value, strlen(value),
		       detail);
}

int s3_tags_next(const char **p, char key[S3_TAG_BYTES],
		 char value[S3_TAG_BYTES])
{
	return tags_next(p, key, value);
}

/* The set of a <Tagging> request body. */
static enum s3_err tags_from_xml(const char *body, size_t len, int max,
				 struct s3_xml *out, const char **detail)
{
	const char *p = body, *end = body + len, *v, *set, *tag;
	size_t vl, setl, tagl;
	enum s3_err e = S3_OK;
	int n = 0, found;

	if (s3_xml_next(&p, end, "Tagging", &v, &vl) ||
	    (p = v, s3_xml_next(&p, v + vl, "TagSet", &set, &setl)))
		return S3_MALFORMED_XML;
	p = set;
	while (!e && !(found = s3_xml_next(&p, set + setl, "Tag", &tag,
					   &tagl)))
		e = s3_tag_from_xml(tag, tagl, out, &n, max, detail);
	if (!e && found < 0)
		e = S3_MALFORMED_XML;
	return e;
}

enum s3_err s3_tags_header(struct s3_req *r, char **set,
			   const char **detail)
{
	const char *h = s3_header(r, "x-amz-tagging");
	struct s3_xml out;
	enum s3_err e;

	*set = NULL;
	if (!h || !*h)
		return S3_OK;
	memset(&out, 0, sizeof(out)); /* a string, not a document */
	e = tags_from_header(h, &out, detail);
	if (e) {
		s3_xml_free(&out);
		return e;
	}
	*set = out.buf;
	return S3_OK;
}

int s3_tags_store(struct s3_req *r, struct ag_writer *w, uint64_t ino,
		  const char *set)
{
	if (!set)
		return 0;
	return w ? ag_writer_setxattr(w, S3_TAGS_XATTR, set, strlen(set))
		 : ag_setxattr(r->c, ino, S3_TAGS_XATTR, set, strlen(set), 0);
}

/* The encoded set of ino, malloc'd and NUL-terminated; *set NULL when it
 * has none. */
static int tags_load(struct s3_req *r, uint64_t ino, char **set)
{
	ssize_t n = ag_getxattr(r->c, ino, S3_TAGS_XATTR, NULL, 0);
	char *buf;

	*set = NULL;
	if (n == -ENODATA)
		return 0;
	if (n < 0)
		return (int)n;
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	n = ag_getxattr(r->c, ino, S3_TAGS_XATTR, buf, n);
	if (n < 0) {
		free(buf);
		return n == -ENODATA ? 0 : (int)n;
	}
	buf[n] = 0;
	*set = buf;
	return 0;
}

int s3_tags_copy(struct s3_req *r, uint64_t src, struct ag_writer *w)
{
	char *set;
	int rc = tags_load(r, src, &set);

	if (!rc)
		rc = s3_tags_store(r, w, 0, set);
	free(set);
	return rc;
}

int s3_tags_count(struct s3_req *r, uint64_t ino)
{
	char *set, *p;
	int n = 0;

	if (tags_load(r, ino, &set) || !set)
		return 0;
	for (p = set, n = *p != 0; *p; p++)
		n += *p == '&';
	free(set);
	return n;
}

/* The element whose tags the request reads or changes (the bucket when
 * there is no key). */
static enum s3_err tags_target(struct s3_req *r, int change,
			       struct ag_attr *a)
{
	struct ag_attr bucket;
	enum s3_err e = s3_bucket_get(r, &bucket);

	if (e)
		return e;
	if (!*r->key) {
		*a = bucket;
		return s3_bucket_owner_or_policy(r, &bucket,
						 change ? "s3:PutBucketTagging"
							: "s3:GetBucketTagging");
	}
	e = s3_key_check(r->key);
	if (e)
		return e;
	return s3_object_access_as(r, &bucket, r->bucket, r->key, a,
				   change ? S3_PERM_WRITE_ACP : S3_PERM_READ,
				   change ? "s3:PutObjectTagging"
					  : "s3:GetObjectTagging");
}

int s3_get_tagging(struct s3_req *r)
{
	char key[TAG_BYTES], value[TAG_BYTES], *set = NULL;
	struct ag_attr a;
	enum s3_err e = tags_target(r, 0, &a);
	const char *p;
	struct s3_xml x;
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = tags_load(r, a.ino, &set);
	if (rc)
		return s3_error(r, s3_errno(rc, 1), NULL);
	if (!set && !*r->key)
		return s3_error(r, S3_NO_SUCH_TAG_SET, NULL);
	s3_xml_init(&x);
	s3_xml_raw(&x, "<Tagging " S3_NS "><TagSet>");
	p = set ? set : "";
	while (!tags_next(&p, key, value)) {
		s3_xml_raw(&x, "<Tag>");
		s3_xml_text(&x, "Key", key);
		s3_xml_text(&x, "Value", value);
		s3_xml_raw(&x, "</Tag>");
	}
	s3_xml_raw(&x, "</TagSet></Tagging>");
	free(set);
	return s3_xml_reply(r, 200, &x);
}

int s3_put_tagging(struct s3_req *r)
{
	struct ag_attr a;
	enum s3_err e = tags_target(r, 1, &a);
	const char *detail = NULL;
	char *body = NULL;
	struct s3_xml set;
	size_t len;
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = s3_read_small_body(r, 256 << 10, &body, &len);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	memset(&set, 0, sizeof(set)); /* a string, not a document */
	e = tags_from_xml(body, len, *r->key ? OBJECT_TAGS_MAX
					     : BUCKET_TAGS_MAX, &set, &detail);
	free(body);
	if (!e)
		rc = set.buf ? ag_setxattr(r->c, a.ino, S3_TAGS_XATTR, set.buf,
					   set.len, 0)
			     : ag_removexattr(r->c, a.ino, S3_TAGS_XATTR);
	s3_xml_free(&set);
	if (e)
		return s3_error(r, e, detail);
	if (rc && rc != -ENODATA)
		return s3_error(r, s3_errno(rc, 1), NULL);
	return s3_reply_head(r, *r->key ? 200 : 204, NULL, 0);
}

int s3_delete_tagging(struct s3_req *r)
{
	struct ag_attr a;
	enum s3_err e = tags_target(r, 1, &a);
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = ag_removexattr(r->c, a.ino, S3_TAGS_XATTR);
	if (rc && rc != -ENODATA)
		return s3_error(r, s3_errno(rc, 1), NULL);
	return s3_reply_head(r, 204, NULL, -1);
}
