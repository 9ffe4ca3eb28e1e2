/*
 * cors.c - cross-origin resource sharing for browsers: a bucket's CORS
 * rules (Get/Put/DeleteBucketCors), the preflight OPTIONS request, and
 * the Access-Control-* headers of an actual request that carries Origin.
 *
 * The rules are kept in the private xattr S3_CORS_XATTR of the bucket as
 * the CORSConfiguration document given (checked when put: 1 to 100
 * rules, each with an origin and a method of GET, PUT, POST, DELETE or
 * HEAD, at most one '*' in an origin or a header). A request is matched
 * against the rules in order, the first one whose AllowedOrigin matches
 * Origin, whose AllowedMethod is the method, and whose AllowedHeaders
 * cover every header the preflight names deciding, as on AWS. A
 * preflight is answered to anyone (it carries no signature); what it
 * allows is only what the rules say, and permissions still decide the
 * actual request.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3d.h"

#define RULES_MAX 100
#define CONFIG_MAX (64 << 10)
#define VALUE_MAX 1024

static const char *const methods[] = { "GET", "PUT", "POST", "DELETE",
				       "HEAD" };

/* Whether s matches pattern, where '*' is any run of bytes. */
static int glob_match(const char *pat, const char *s, int fold)
{
	const char *star = NULL, *retry = NULL;

	while (*s) {
		if (*pat == '*') {
			star = ++pat;
			retry = s;
		} else if (fold ? tolower((unsigned char)*pat) ==
					  tolower((unsigned char)*s)
				: *pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star;
			s = ++retry;
		} else {
			return 0;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

/* The values of every <tag> child of [v, v + vl), unescaped, one at a
 * time: 0 and the next in out, 1 at the end, -1 malformed. */
static int next_value(const char **p, const char *end, const char *tag,
		      char out[VALUE_MAX])
{
	const char *v;
	size_t vl;
	int rc = s3_xml_next(p, end, tag, &v, &vl);

	if (rc)
		return rc;
	return s3_xml_unescape(v, vl, out, VALUE_MAX) < 0 ? -1 : 0;
}

static int count_char(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* Check one <CORSRule> of a configuration being put. */
static enum s3_err rule_check(const char *v, size_t vl, const char **detail)
{
	char val[VALUE_MAX];
	const char *p = v, *end = v + vl;
	int n = 0, rc;
	size_t i;

	while (!(rc = next_value(&p, end, "AllowedOrigin", val))) {
		if (count_char(val, '*') > 1) {
			*detail = "AllowedOrigin can have at most one * "
				  "wildcard.";
			return S3_INVALID_REQUEST;
		}
		n++;
	}
	if (rc < 0)
		return S3_MALFORMED_XML;
	if (!n)
		return S3_MALFORMED_XML;
	p = v;
	n = 0;
	while (!(rc = next_value(&p, end, "AllowedMethod", val))) {
		for (i = 0; i < S3_ARRAY_LEN(methods); i++)
			if (!strcmp(val, methods[i]))
				break;
		if (i == S3_ARRAY_LEN(methods)) {
			*detail = "Found unsupported HTTP method in CORS "
				  "config.";
			return S3_INVALID_REQUEST;
		}
		n++;
	}
	if (rc < 0 || !n)
		return S3_MALFORMED_XML;
	p = v;
	while (!(rc = next_value(&p, end, "AllowedHeader", val)))
		if (count_char(val, '*') > 1) {
			*detail = "AllowedHeader can have at most one * "
				  "wildcard.";
			return S3_INVALID_REQUEST;
		}
	if (rc < 0)
		return S3_MALFORMED_XML;
	p = v;
	rc = next_value(&p, end, "MaxAgeSeconds", val);
	if (rc < 0 || (!rc && (!*val || strspn(val, "0123456789") !=
						 strlen(val))))
		return S3_MALFORMED_XML;
	return S3_OK;
}

static enum s3_err config_check(const char *doc, size_t len,
				const char **detail)
{
	const char *p = doc, *v, *rules;
	size_t vl, rl;
	enum s3_err e = S3_OK;
	int n = 0, rc;

	if (s3_xml_next(&p, doc + len, "CORSConfiguration", &rules, &rl))
		return S3_MALFORMED_XML;
	p = rules;
	while (!e && !(rc = s3_xml_next(&p, rules + rl, "CORSRule", &v, &vl))) {
		if (++n > RULES_MAX) {
			*detail = "The CORS configuration has more than 100 "
				  "rules.";
			return S3_INVALID_REQUEST;
		}
		e = rule_check(v, vl, detail);
	}
	if (!e && (rc < 0 || !n))
		e = S3_MALFORMED_XML;
	return e;
}

/* Whether the header list [names] (comma-separated, as in
 * Access-Control-Request-Headers) is covered by the rule's
 * AllowedHeaders. */
static int headers_allowed(const char *v, size_t vl, const char *names)
{
	char want[VALUE_MAX], val[VALUE_MAX];
	const char *s = names;

	while (s && *s) {
		size_t n;
		const char *p = v;
		int ok = 0;

		s += strspn(s, " \t,");
		n = strcspn(s, ",");
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (!n)
			break;
		if (n >= sizeof(want))
			return 0;
		memcpy(want, s, n);
		want[n] = 0;
		while (!ok && !next_value(&p, v + vl, "AllowedHeader", val))
			ok = glob_match(val, want, 1);
		if (!ok)
			return 0;
		s += n;
	}
	return 1;
}

static void add_line(struct s3_xml *out, const char *name, const char *val)
{
	if (!strpbrk(val, "\r\n"))
		s3_xml_raw(out, "%s: %s\r\n", name, val);
}

/* The values of every <tag> of the rule joined by ", ", into buf. */
static void joined(const char *v, size_t vl, const char *tag, char *buf,
		   size_t size)
{
	char val[VALUE_MAX];
	const char *p = v;
	size_t n = 0;

	buf[0] = 0;
	while (!next_value(&p, v + vl, tag, val) && n < size)
		n += snprintf(buf + n, size - n, "%s%s", n ? ", " : "", val);
}

/* The headers rule [v, v + vl) gives a request from origin by method
 * (asking for headers in a preflight), into out; 0 when it does not
 * match. */
static int rule_apply(const char *v, size_t vl, const char *origin,
		      const char *method, const char *headers, int preflight,
		      struct s3_xml *out)
{
	char val[VALUE_MAX], list[4096];
	const char *p = v;
	int origin_ok = 0, any = 0, method_ok = 0;

	while (!origin_ok && !next_value(&p, v + vl, "AllowedOrigin", val)) {
		origin_ok = glob_match(val, origin, 0);
		any = origin_ok && !strcmp(val, "*");
	}
	p = v;
	while (!method_ok && !next_value(&p, v + vl, "AllowedMethod", val))
		method_ok = !strcmp(val, method);
	if (!origin_ok || !method_ok ||
	    (preflight && !headers_allowed(v, vl, headers)))
		return 0;
	add_line(out, "Access-Control-Allow-Origin", any ? "*" : origin);
	if (!any)
		add_line(out, "Access-Control-Allow-Credentials", "true");
	joined(v, vl, "AllowedMethod", list, sizeof(list));
	add_line(out, "Access-Control-Allow-Methods", list);
	if (preflight && headers && *headers)
		add_line(out, "Access-Control-Allow-Headers", headers);
	joined(v, vl, "ExposeHeader", list, sizeof(list));
	if (*list)
		add_line(out, "Access-Control-Expose-Headers", list);
	p = v;
	if (!next_value(&p, v + vl, "MaxAgeSeconds", val))
		add_line(out, "Access-Control-Max-Age", val);
	add_line(out, "Vary", "Origin, Access-Control-Request-Headers, "
		 "Access-Control-Request-Method");
	return 1;
}

/* The stored configuration of bucket ino (malloc'd, NUL-terminated), or
 * NULL without one. */
static int config_load(struct s3_req *r, uint64_t ino, char **doc,
		       size_t *len)
{
	ssize_t n = ag_getxattr(r->c, ino, S3_CORS_XATTR, NULL, 0);

	*doc = NULL;
	*len = 0;
	if (n == -ENODATA)
		return 0;
	if (n < 0)
		return (int)n;
	*doc = malloc(n + 1);
	if (!*doc)
		return -ENOMEM;
	n = ag_getxattr(r->c, ino, S3_CORS_XATTR, *doc, n);
	if (n < 0) {
		free(*doc);
		*doc = NULL;
		return n == -ENODATA ? 0 : (int)n;
	}
	(*doc)[n] = 0;
	*len = (size_t)n;
	return 0;
}

/* The headers the bucket's first matching rule gives, into out: 1 when
 * one matched, 0 when none did (or there are none), < 0 on an error. */
static int cors_match(struct s3_req *r, uint64_t bucket, const char *origin,
		      const char *method, const char *headers, int preflight,
		      struct s3_xml *out)
{
	const char *p, *v, *rules;
	size_t len, vl, rl;
	char *doc;
	int rc = config_load(r, bucket, &doc, &len), found = 0;

	if (rc || !doc)
		return rc;
	p = doc;
	if (!s3_xml_next(&p, doc + len, "CORSConfiguration", &rules, &rl)) {
		p = rules;
		while (!found &&
		       !s3_xml_next(&p, rules + rl, "CORSRule", &v, &vl))
			found = rule_apply(v, vl, origin, method, headers,
					   preflight, out);
	}
	free(doc);
	return found;
}

void s3_cors_prepare(struct s3_req *r)
{
	const char *origin = s3_header(r, "Origin");
	struct ag_attr b;
	struct s3_xml out;

	if (!origin || !*r->bucket || !strcmp(r->method, "OPTIONS") ||
	    s3_bucket_get(r, &b))
		return;
	memset(&out, 0, sizeof(out)); /* header lines, not a document */
	if (cors_match(r, b.ino, origin, r->method, NULL, 0, &out) == 1 &&
	    !out.error)
		r->cors = out.buf;
	else
		s3_xml_free(&out);
}

int s3_cors_preflight(struct s3_req *r)
{
	const char *origin = s3_header(r, "Origin");
	const char *method = s3_header(r, "Access-Control-Request-Method");
	struct ag_attr b;
	struct s3_xml out;
	enum s3_err e = s3_bucket_get(r, &b);
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	if (!origin)
		return s3_error(r, S3_BAD_REQUEST, "Insufficient information. "
				"Origin request header needed.");
	if (!method)
		return s3_error(r, S3_BAD_REQUEST, "Invalid "
				"Access-Control-Request-Method: null");
	memset(&out, 0, sizeof(out));
	rc = cors_match(r, b.ino, origin, method,
			s3_header(r, "Access-Control-Request-Headers"), 1, &out);
	if (rc == 1 && !out.error)
		rc = s3_reply_head(r, 200, out.buf, 0);
	else
		rc = s3_error(r, rc < 0 || out.error ? S3_INTERNAL
						     : S3_CORS_FORBIDDEN, NULL);
	s3_xml_free(&out);
	return rc;
}

/* ---- Get/Put/DeleteBucketCors: the bucket's owner, or its policy ---- */

static enum s3_err cors_target(struct s3_req *r, const char *action,
			       struct ag_attr *b)
{
	enum s3_err e = s3_bucket_get(r, b);

	return e ? e : s3_bucket_owner_or_policy(r, b, action);
}

int s3_get_cors(struct s3_req *r)
{
	struct ag_attr b;
	enum s3_err e = cors_target(r, "s3:GetBucketCORS", &b);
	char *doc;
	size_t len;
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = config_load(r, b.ino, &doc, &len);
	if (rc)
		return s3_error(r, s3_errno(rc, 0), NULL);
	if (!doc)
		return s3_error(r, S3_NO_SUCH_CORS, NULL);
	rc = s3_reply_body(r, 200, "application/xml", NULL, doc, len);
	free(doc);
	return rc;
}

int s3_put_cors(struct s3_req *r)
{
	struct ag_attr b;
	enum s3_err e = cors_target(r, "s3:PutBucketCORS", &b);
	const char *detail = NULL;
	char *doc = NULL;
	size_t len;
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = s3_read_small_body(r, CONFIG_MAX, &doc, &len);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	e = config_check(doc, len, &detail);
	if (!e)
		rc = ag_setxattr(r->c, b.ino, S3_CORS_XATTR, doc, len, 0);
	free(doc);
	if (e)
		return s3_error(r, e, detail);
	if (rc)
		return s3_error(r, s3_errno(rc, 0), NULL);
	return s3_reply_head(r, 200, NULL, 0);
}

int s3_delete_cors(struct s3_req *r)
{
	struct ag_attr b;
	enum s3_err e = cors_target(r, "s3:PutBucketCORS", &b);
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = ag_removexattr(r->c, b.ino, S3_CORS_XATTR);
	if (rc && rc != -ENODATA)
		return s3_error(r, s3_errno(rc, 0), NULL);
	return s3_reply_head(r, 204, NULL, -1);
}
