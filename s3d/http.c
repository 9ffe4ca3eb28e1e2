/*
 * http.c - the civetweb glue: turn one HTTP request into a struct s3_req
 * (bucket and key from path-style or virtual-host-style addressing, the
 * decoded query), authenticate it, pick the operation from one table, and
 * the small reply helpers every operation uses.
 */
#include <civetweb.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3d.h"

enum level { SERVICE, BUCKET, OBJECT };

/* One S3 operation: method, addressing level, the subresource (query
 * parameter) that selects it and one more it also takes (NULL: none).
 * A route takes only the subresources it names: first match wins. */
static const struct route {
	const char *method;
	enum level level;
	const char *param;
	const char *also;
	const char *header; /* a header that must be present, or NULL */
	int (*run)(struct s3_req *r);
	enum s3_need need;  /* checked before it runs (access.c) */
	const char *action; /* its name in bucket policies */
} routes[] = {
#define R(method, level, param, also, header, run, need, action) \
	{ method, level, param, also, header, run, S3_NEED_##need, action }
	R("GET", SERVICE, NULL, NULL, NULL, s3_list_buckets, SIGNED,
	  "s3:ListAllMyBuckets"),
	R("GET", BUCKET, "location", NULL, NULL, s3_bucket_location, READ,
	  "s3:GetBucketLocation"),
	R("GET", BUCKET, "versioning", NULL, NULL, s3_bucket_versioning, READ,
	  "s3:GetBucketVersioning"),
	R("PUT", BUCKET, "versioning", NULL, NULL, s3_put_bucket_versioning,
	  OWNER, "s3:PutBucketVersioning"),
	/* ACLs and policies: the handler checks (access.c, policy.c) */
	R("GET", BUCKET, "acl", NULL, NULL, s3_get_acl, NONE, NULL),
	R("PUT", BUCKET, "acl", NULL, NULL, s3_put_acl, NONE, NULL),
	R("GET", BUCKET, "policy", NULL, NULL, s3_get_policy, NONE, NULL),
	R("PUT", BUCKET, "policy", NULL, NULL, s3_put_policy, NONE, NULL),
	R("DELETE", BUCKET, "policy", NULL, NULL, s3_delete_policy, NONE,
	  NULL),
	/* lifecycle: the handler checks (lifecycle.c) */
	R("GET", BUCKET, "lifecycle", NULL, NULL, s3_get_lifecycle, NONE, NULL),
	R("PUT", BUCKET, "lifecycle", NULL, NULL, s3_put_lifecycle, NONE, NULL),
	R("DELETE", BUCKET, "lifecycle", NULL, NULL, s3_delete_lifecycle, NONE,
	  NULL),
	/* CORS: the handler checks (cors.c); a preflight is anyone's */
	R("GET", BUCKET, "cors", NULL, NULL, s3_get_cors, NONE, NULL),
	R("PUT", BUCKET, "cors", NULL, NULL, s3_put_cors, NONE, NULL),
	R("DELETE", BUCKET, "cors", NULL, NULL, s3_delete_cors, NONE, NULL),
	R("OPTIONS", BUCKET, NULL, NULL, NULL, s3_cors_preflight, NONE, NULL),
	R("OPTIONS", OBJECT, NULL, NULL, NULL, s3_cors_preflight, NONE, NULL),
	/* tags: the handler checks (tagging.c) */
	R("GET", BUCKET, "tagging", NULL, NULL, s3_get_tagging, NONE, NULL),
	R("PUT", BUCKET, "tagging", NULL, NULL, s3_put_tagging, NONE, NULL),
	R("DELETE", BUCKET, "tagging", NULL, NULL, s3_delete_tagging, NONE,
	  NULL),
	R("GET", OBJECT, "tagging", NULL, NULL, s3_get_tagging, NONE, NULL),
	R("PUT", OBJECT, "tagging", NULL, NULL, s3_put_tagging, NONE, NULL),
	R("DELETE", OBJECT, "tagging", NULL, NULL, s3_delete_tagging, NONE,
	  NULL),
	/* notifications: kept as triggers (notify.c) */
	R("GET", BUCKET, "notification", NULL, NULL, s3_get_notification,
	  OWNER, "s3:GetBucketNotification"),
	R("PUT", BUCKET, "notification", NULL, NULL, s3_put_notification,
	  OWNER, "s3:PutBucketNotification"),
	R("GET", BUCKET, "uploads", NULL, NULL, s3_list_uploads, READ,
	  "s3:ListBucketMultipartUploads"),
	R("GET", BUCKET, "versions", NULL, NULL, s3_list_objects, READ,
	  "s3:ListBucketVersions"),
	R("GET", BUCKET, NULL, NULL, NULL, s3_list_objects, READ,
	  "s3:ListBucket"),
	R("HEAD", BUCKET, NULL, NULL, NULL, s3_head_bucket, READ,
	  "s3:ListBucket"),
	R("PUT", BUCKET, NULL, NULL, NULL, s3_create_bucket, SIGNED,
	  "s3:CreateBucket"),
	R("DELETE", BUCKET, NULL, NULL, NULL, s3_delete_bucket, OWNER,
	  "s3:DeleteBucket"),
	/* each key is checked as a DeleteObject (object.c) */
	R("POST", BUCKET, "delete", NULL, NULL, s3_delete_objects, NONE,
	  NULL),
	/* a browser form: the handler checks its policy (post.c) */
	R("POST", BUCKET, NULL, NULL, NULL, s3_post_object, NONE, NULL),
	R("POST", OBJECT, "uploads", NULL, NULL, s3_create_upload, WRITE,
	  "s3:PutObject"),
	R("POST", OBJECT, "uploadId", NULL, NULL, s3_complete_upload, WRITE,
	  "s3:PutObject"),
	R("PUT", OBJECT, "uploadId", "partNumber", NULL, s3_upload_part, WRITE,
	  "s3:PutObject"),
	R("GET", OBJECT, "uploadId", NULL, NULL, s3_list_parts, WRITE,
	  "s3:ListMultipartUploadParts"),
	R("DELETE", OBJECT, "uploadId", NULL, NULL, s3_abort_upload, WRITE,
	  "s3:AbortMultipartUpload"),
	R("GET", OBJECT, "acl", "versionId", NULL, s3_get_acl, NONE, NULL),
	R("PUT", OBJECT, "acl", "versionId", NULL, s3_put_acl, NONE, NULL),
	R("PUT", OBJECT, NULL, NULL, "x-amz-copy-source", s3_copy_object,
	  WRITE, "s3:PutObject"),
	R("PUT", OBJECT, NULL, NULL, NULL, s3_put_object, WRITE,
	  "s3:PutObject"),
	/* the object is checked where it is found (s3_object_access) */
	R("GET", OBJECT, NULL, "versionId", NULL, s3_get_object, NONE, NULL),
	R("HEAD", OBJECT, NULL, "versionId", NULL, s3_get_object, NONE, NULL),
	R("GET", OBJECT, "partNumber", "versionId", NULL, s3_get_object, NONE,
	  NULL),
	R("HEAD", OBJECT, "partNumber", "versionId", NULL, s3_get_object, NONE,
	  NULL),
	R("GET", OBJECT, "attributes", "versionId", NULL,
	  s3_get_object_attributes, NONE, NULL),
	R("DELETE", OBJECT, NULL, "versionId", NULL, s3_delete_object, WRITE,
	  "s3:DeleteObject"),
#undef R
};

/* Every query parameter that names a subresource or a variant of an
 * operation, served or not. A request with one that no route takes
 * (PUT ?versioning, GET ?acl, GET ?partNumber) is refused with 501,
 * never served as the plain operation. Other parameters (prefix,
 * max-keys, response-*, X-Amz-*, x-id...) modify an operation. */
static const char *const subresources[] = {
	"accelerate", "acl", "analytics", "attributes", "cors", "delete",
	"encryption", "intelligent-tiering", "inventory", "legal-hold",
	"lifecycle", "location", "logging", "metadataConfiguration",
	"metadataTable", "metrics", "notification", "object-lock",
	"ownershipControls", "partNumber", "policy", "policyStatus",
	"publicAccessBlock", "renameObject", "replication", "requestPayment",
	"restore", "retention", "select", "session", "tagging", "torrent",
	"uploadId", "uploads", "versionId", "versioning", "versions",
	"website",
};

/* Request headers that ask for something the gateway does not do, and
 * the values that say only what it does anyway: any other value is
 * refused with 501 rather than stored and ignored (SSE-C data would be
 * kept in plaintext). ACL headers are the permissions' (access.c). */
static const struct refused {
	const char *name;
	const char *ok[3];  /* values meaning what we do, case-insensitive */
	int sse;            /* served by PutObject, GetObject, HeadObject */
} refused_headers[] = {
	{ "x-amz-server-side-encryption", { NULL }, 1 },
	{ "x-amz-server-side-encryption-aws-kms-key-id", { NULL }, 0 },
	{ "x-amz-server-side-encryption-bucket-key-enabled", { "false" }, 0 },
	{ "x-amz-server-side-encryption-context", { NULL }, 0 },
	{ "x-amz-server-side-encryption-customer-algorithm", { NULL }, 1 },
	{ "x-amz-server-side-encryption-customer-key", { NULL }, 1 },
	{ "x-amz-server-side-encryption-customer-key-MD5", { NULL }, 1 },
	{ "x-amz-copy-source-server-side-encryption-customer-algorithm",
	  { NULL }, 0 },
	{ "x-amz-copy-source-server-side-encryption-customer-key", { NULL },
	  0 },
	{ "x-amz-copy-source-server-side-encryption-customer-key-MD5",
	  { NULL }, 0 },
	{ "x-amz-object-lock-mode", { NULL }, 0 },
	{ "x-amz-object-lock-retain-until-date", { NULL }, 0 },
	{ "x-amz-object-lock-legal-hold", { "OFF" }, 0 },
	{ "x-amz-bucket-object-lock-enabled", { "false" }, 0 },
	{ "x-amz-object-ownership", { "BucketOwnerEnforced" }, 0 },
	{ "x-amz-storage-class", { "STANDARD" }, 0 },
	{ "x-amz-write-offset-bytes", { NULL }, 0 },
};

/* As mg_get_header (the first field of that name, in any case), read
 * from the request's own table so that decoding needs no connection. */
const char *s3_header(struct s3_req *r, const char *name)
{
	int i;

	for (i = 0; i < r->ri->num_headers; i++)
		if (!strcasecmp(r->ri->http_headers[i].name, name))
			return r->ri->http_headers[i].value;
	return NULL;
}

const char *s3_param(struct s3_req *r, const char *name)
{
	int i;

	for (i = 0; i < r->nparams; i++)
		if (!strcmp(r->params[i].name, name))
			return r->params[i].value;
	return NULL;
}

void s3_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

void s3_uri_encode(const char *src, size_t len, int keep_slash, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = src[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~' || (ch == '/' && keep_slash)) {
			*out++ = ch;
		} else {
			*out++ = '%';
			*out++ = digits[ch >> 4];
			*out++ = digits[ch & 15];
		}
	}
	*out = 0;
}

int s3_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int s3_uri_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%') {
			int h = s3_hexval(s[1]);
			int l = h < 0 ? -1 : s3_hexval(s[2]);

			if (h < 0 || l < 0 || (h | l) == 0)
				return -1;
			*o++ = (char)(h << 4 | l);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
	return 0;
}

void s3_http_date(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void s3_iso_date(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ns / 1000000 % 1000));
}

int64_t s3_parse_http_date(const char *s)
{
	struct tm tm;
	const char *e;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!e) {
		memset(&tm, 0, sizeof(tm));
		e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	}
	if (!e)
		return INT64_MIN;
	t = timegm(&tm);
	/* a date nanoseconds cannot count (before 1678, after 2261) is
	 * earlier or later than any time there is */
	if (t < INT64_MIN / 1000000000 + 1)
		return INT64_MIN + 1;
	if (t > INT64_MAX / 1000000000)
		return INT64_MAX;
	return (int64_t)t * 1000000000;
}

/* Whether the request carries a body nobody has read yet. */
static int body_pending(struct s3_req *r)
{
	if (r->body_complete)
		return 0;
	return r->ri->content_length > 0 ||
	       (r->ri->content_length < 0 && s3_header(r, "Transfer-Encoding"));
}

/* civetweb decides keep-alive from the request's Connection header once
 * the handler returns; it has no call to drop a connection whose body was
 * left unread (and a client waiting on "Expect: 100-continue" never sends
 * that body), so we say "close" in its place. */
static void force_close(struct s3_req *r)
{
	struct mg_request_info *ri = (struct mg_request_info *)r->ri;
	int i;

	for (i = 0; i < ri->num_headers; i++)
		if (!strcasecmp(ri->http_headers[i].name, "Connection")) {
			ri->http_headers[i].value = "close";
			return;
		}
	if (ri->num_headers < MG_MAX_HEADERS) {
		ri->http_headers[ri->num_headers].name = "Connection";
		ri->http_headers[ri->num_headers].value = "close";
		ri->num_headers++;
	}
}

/* The status line and headers wait in r->head for the first bytes of
 * the body (or the end of the request): a small reply leaves in one
 * send, one packet, instead of two. */
int s3_reply_head(struct s3_req *r, int status, const char *extra,
		  int64_t len)
{
	char date[64], clen[48] = "";
	int n;

	s3_http_date((int64_t)time(NULL) * 1000000000, date, sizeof(date));
	if (len >= 0)
		snprintf(clen, sizeof(clen), "Content-Length: %" PRId64 "\r\n",
			 len);
	r->status = status;
	r->replied = 1;
	r->must_close |= body_pending(r); /* once set, it stays */
	free(r->head);
	r->head = NULL;
	n = asprintf(&r->head,
		     "HTTP/1.1 %d %s\r\n"
		     "Date: %s\r\n"
		     "Server: AgoraS3\r\n"
		     "x-amz-request-id: %s\r\n"
		     "x-amz-id-2: %s\r\n"
		     "%s%s%s%s%s%s\r\n",
		     status, mg_get_response_code_text(r->conn, status), date,
		     r->request_id, r->request_id, r->version_hdr, clen,
		     r->must_close ? "Connection: close\r\n" : "",
		     /* SlowDown: when to come back */
		     status == 503 ? "Retry-After: 1\r\n" : "",
		     r->cors ? r->cors : "", extra ? extra : "");
	if (n < 0) {
		r->head = NULL;
		r->must_close = 1; /* no answer can be given: hang up */
		return -ENOMEM;
	}
	r->head_len = (size_t)n;
	return 0;
}

/* ---- reads and sends under [s3] timeout ----
 *
 * civetweb's one request timeout is the header deadline (main.c): it also
 * ends any read or send that makes no progress for that long. A request
 * under way may stay silent for [s3] timeout instead, so a read or send
 * that gave up after the deadline is tried again. A call that failed
 * sooner than half the deadline met a closed connection. */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when a call that started at t0 and got nothing timed out, and the
 * connection has been quiet since `quiet` for less than [s3] timeout. */
static int try_again(const struct s3_req *r, int64_t t0, int64_t quiet)
{
	int64_t now = mono_ms();

	return now - t0 >= r->conf->header_ms / 2 &&
	       now - quiet < (int64_t)r->conf->timeout * 1000;
}

int s3_recv(struct s3_req *r, void *buf, size_t len)
{
	int64_t quiet = mono_ms();

	if (!r->conn) {
		size_t n = len < r->mem_left ? len : r->mem_left;

		n = n < INT_MAX ? n : INT_MAX;
		memcpy(buf, r->mem_body, n);
		r->mem_body += n;
		r->mem_left -= n;
		r->body_read += n;
		return (int)n;
	}
	for (;;) {
		int64_t t0 = mono_ms();
		int n = mg_read(r->conn, buf, len);

		if (n > 0)
			r->body_read += n;
		/* 0 is also the end of a body: of its Content-Length, or of
		 * a body sent in HTTP chunks (no length) */
		if (n != 0 || !len || r->ri->content_length < 0 ||
		    r->body_read >= r->ri->content_length ||
		    !try_again(r, t0, quiet))
			return n;
	}
}

static int send_all(struct s3_req *r, const void *data, size_t len)
{
	const char *p = data;
	int64_t quiet = mono_ms();

	while (len) {
		int64_t t0 = mono_ms();
		int n = mg_write(r->conn, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			quiet = mono_ms();
		} else if (!try_again(r, t0, quiet)) {
			return -EPIPE;
		}
	}
	return 0;
}

#define GATHER_MAX (64u << 10) /* body bytes sent with the headers */

int s3_write(struct s3_req *r, const void *data, size_t len)
{
	char *both;
	int rc;

	if (!r->head)
		return send_all(r, data, len);
	both = len <= GATHER_MAX ? malloc(r->head_len + len) : NULL;
	if (both) {
		memcpy(both, r->head, r->head_len);
		memcpy(both + r->head_len, data, len);
		rc = send_all(r, both, r->head_len + len);
		free(both);
	} else {
		rc = s3_reply_flush(r);
		if (!rc && len)
			rc = send_all(r, data, len);
	}
	free(r->head);
	r->head = NULL;
	return rc;
}

int s3_reply_flush(struct s3_req *r)
{
	int rc = 0;

	if (r->head)
		rc = send_all(r, r->head, r->head_len);
	free(r->head);
	r->head = NULL;
	return rc;
}

int s3_reply_body(struct s3_req *r, int status, const char *ctype,
		  const char *extra, const void *body, size_t len)
{
	char hdr[4096];

	snprintf(hdr, sizeof(hdr), "Content-Type: %s\r\n%s", ctype,
		 extra ? extra : "");
	s3_reply_head(r, status, hdr, (int64_t)len);
	if (len && strcmp(r->method, "HEAD"))
		s3_write(r, body, len);
	return s3_reply_flush(r);
}

/* The query string into decoded name/value pairs. */
static int parse_query(struct s3_req *r, const char *q)
{
	char *copy, *p, *tok, *save = NULL;
	int n = 1;

	if (!q || !*q)
		return 0;
	for (p = (char *)q; *p; p++)
		n += *p == '&';
	if (n > 256)
		return -1;
	r->params = calloc(n, sizeof(*r->params));
	copy = strdup(q);
	if (!r->params || !copy) {
		free(copy);
		return -1;
	}
	for (tok = strtok_r(copy, "&", &save); tok;
	     tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');
		struct s3_param *pp = &r->params[r->nparams];

		if (eq)
			*eq = 0;
		pp->name = strdup(tok);
		pp->value = strdup(eq ? eq + 1 : "");
		if (!pp->name || !pp->value) {
			free(pp->name);
			free(pp->value);
			free(copy);
			return -1;
		}
		r->nparams++;
		/* form encoding: '+' is a space in queries */
		for (p = pp->value; *p; p++)
			if (*p == '+')
				*p = ' ';
		if (s3_uri_decode(pp->name) || s3_uri_decode(pp->value)) {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return 0;
}

/* Bucket and key from the Host header and the path. */
static enum s3_err parse_target(struct s3_req *r)
{
	const char *host = s3_header(r, "Host");
	const char *path = r->raw_path;
	char *vbucket = NULL, *slash, *rest;
	size_t dl = strlen(r->conf->domain);

	if (*r->conf->domain && host) {
		size_t hl = strcspn(host, ":");

		if (hl > dl + 1 && host[hl - dl - 1] == '.' &&
		    !strncasecmp(host + hl - dl, r->conf->domain, dl))
			vbucket = strndup(host, hl - dl - 1);
	}
	if (*path != '/') {
		free(vbucket);
		return S3_INVALID_REQUEST;
	}
	rest = strdup(path + 1);
	if (!rest) {
		free(vbucket);
		return S3_INTERNAL;
	}
	if (vbucket) {
		r->bucket = vbucket;
		r->key = rest;
	} else {
		slash = strchr(rest, '/');
		if (slash) {
			*slash = 0;
			r->key = strdup(slash + 1);
		} else {
			r->key = strdup("");
		}
		r->bucket = rest;
		if (!r->key)
			return S3_INTERNAL;
	}
	if (s3_uri_decode(r->bucket) || s3_uri_decode(r->key))
		return S3_INVALID_ARGUMENT;
	return S3_OK;
}

void s3_req_free(struct s3_req *r)
{
	int i;

	for (i = 0; i < r->nparams; i++) {
		free(r->params[i].name);
		free(r->params[i].value);
	}
	free(r->params);
	free(r->raw_path);
	free(r->bucket);
	free(r->key);
	free(r->cors);
	free(r->head);
}

static int is_subresource(const char *name)
{
	size_t i;

	for (i = 0; i < S3_ARRAY_LEN(subresources); i++)
		if (!strcmp(subresources[i], name))
			return 1;
	return 0;
}

/* Whether every subresource of r is one that rt takes. */
static int takes(const struct route *rt, struct s3_req *r)
{
	int i;

	for (i = 0; i < r->nparams; i++) {
		const char *n = r->params[i].name;

		if (is_subresource(n) && !(rt->param && !strcmp(rt->param, n)) &&
		    !(rt->also && !strcmp(rt->also, n)))
			return 0;
	}
	return 1;
}

/* The route of r, or NULL and the error: 501 when the method serves the
 * resource but not with the subresources asked for, 405 when it does
 * not serve it at all. */
static const struct route *find_route(struct s3_req *r, enum s3_err *e)
{
	enum level lv = !*r->bucket ? SERVICE : !*r->key ? BUCKET : OBJECT;
	int known = 0;
	size_t i;

	for (i = 0; i < S3_ARRAY_LEN(routes); i++) {
		const struct route *rt = &routes[i];

		if (rt->level != lv || strcmp(rt->method, r->method))
			continue;
		known = 1;
		if (rt->param && !s3_param(r, rt->param))
			continue;
		if (rt->header && !s3_header(r, rt->header))
			continue;
		if (!takes(rt, r))
			continue;
		return rt;
	}
	*e = known ? S3_NOT_IMPLEMENTED : S3_METHOD_NOT_ALLOWED;
	for (i = 0; known && i < (size_t)r->nparams; i++)
		if (is_subresource(r->params[i].name))
			return NULL;
	/* no subresource: the method is simply not served here */
	*e = S3_METHOD_NOT_ALLOWED;
	return NULL;
}

/* A header asking for what route rt does not do: its name, or NULL.
 * Encryption is served by reads, a plain PUT and a multipart upload's
 * parts (not copies: sse.c). */
static const char *refused_header(struct s3_req *r, const struct route *rt)
{
	int sse_served = rt->run == s3_get_object ||
			 rt->run == s3_create_upload ||
			 rt->run == s3_complete_upload ||
			 ((rt->run == s3_put_object ||
			   rt->run == s3_upload_part) &&
			  !s3_header(r, "x-amz-copy-source"));
	size_t i, j;

	for (i = 0; i < S3_ARRAY_LEN(refused_headers); i++) {
		const struct refused *h = &refused_headers[i];
		const char *v = s3_header(r, h->name);
		int ok = 0;

		if (!v || (h->sse && sse_served))
			continue;
		for (j = 0; j < S3_ARRAY_LEN(h->ok) && h->ok[j]; j++)
			ok |= !strcasecmp(v, h->ok[j]);
		if (!ok)
			return h->name;
	}
	return NULL;
}

/* How the request is framed, checked before anything reads its body:
 * the header table full (civetweb keeps MG_MAX_HEADERS and drops the
 * rest unseen, so a refusal or a signed header could be among them),
 * Content-Length twice with two values, or beside Transfer-Encoding
 * (two readers of the request would cut the body in two places). */
static enum s3_err check_framing(struct s3_req *r, const char **detail)
{
	const struct mg_request_info *ri = r->ri;
	const char *clen = NULL;
	int i;

	if (ri->num_headers >= MG_MAX_HEADERS) {
		*detail = "Your request has too many header fields.";
		return S3_HEADERS_TOO_LARGE;
	}
	for (i = 0; i < ri->num_headers; i++) {
		const struct mg_header *h = &ri->http_headers[i];

		if (strcasecmp(h->name, "Content-Length"))
			continue;
		if (clen && strcmp(clen, h->value)) {
			*detail = "Your request has two Content-Length "
				  "headers that disagree.";
			return S3_INVALID_REQUEST;
		}
		clen = h->value;
	}
	if (clen && s3_header(r, "Transfer-Encoding")) {
		*detail = "Your request has both Content-Length and "
			  "Transfer-Encoding.";
		return S3_INVALID_REQUEST;
	}
	return S3_OK;
}

/* A versionId that is no version id at all (versions.c finds the
 * others, or says there is no such version). */
static enum s3_err check_version(struct s3_req *r)
{
	const char *v = s3_param(r, "versionId");
	uint64_t seq;
	int null;

	return v && ag_version_id_parse(v, &seq, &null) ? S3_INVALID_ARGUMENT
						       : S3_OK;
}

enum s3_err s3_req_decode(struct s3_req *r, const char **detail)
{
	enum s3_err e = S3_INTERNAL;
	char *q;

	/* the raw request target: signatures are over what was sent */
	r->raw_path = strdup(r->ri->request_uri ? r->ri->request_uri : "/");
	if (r->raw_path) {
		q = strchr(r->raw_path, '?');
		if (q)
			*q = 0;
		e = parse_target(r);
	}
	if (!r->bucket)
		r->bucket = strdup("");
	if (!r->key)
		r->key = strdup("");
	if (!r->bucket || !r->key)
		return S3_INTERNAL;
	if (!e && parse_query(r, r->ri->query_string))
		e = S3_INVALID_ARGUMENT;
	if (!e)
		e = check_framing(r, detail);
	return e;
}

/* The request handler civetweb calls for every request. */
int s3_http_handle(struct mg_connection *conn, void *arg)
{
	static unsigned long long counter;
	struct s3_req r = { .conn = conn };
	const struct route *rt;
	const char *detail = NULL, *h;
	enum s3_err e;

	r.ri = mg_get_request_info(conn);
	r.conf = arg;
	r.c = mg_get_user_data(mg_get_context(conn));
	r.method = r.ri->request_method;
	snprintf(r.request_id, sizeof(r.request_id), "%08X%08llX",
		 (unsigned)time(NULL),
		 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	e = s3_req_decode(&r, &detail);
	if (e == S3_INTERNAL) {
		s3_error(&r, e, NULL);
		goto out;
	}
	if (e) {
		/* a body framed two ways cannot be skipped safely */
		r.must_close = 1;
		s3_error(&r, e, detail);
		goto out;
	}
	/* S3 is strongly consistent: see what other gateways and clients
	 * committed before this request arrived */
	if (!e && ag_cluster_refresh(r.c))
		e = S3_INTERNAL;
	if (e) {
		s3_error(&r, e, NULL);
		goto out;
	}
	/* a browser reads the answer only with the bucket's CORS headers,
	 * errors included */
	s3_cors_prepare(&r);
	e = s3_auth(&r);
	if (e) {
		s3_error(&r, e, NULL);
		goto out;
	}
	rt = find_route(&r, &e);
	if (!rt) {
		s3_error(&r, e, NULL);
		goto out;
	}
	if ((h = refused_header(&r, rt))) {
		char msg[160];

		snprintf(msg, sizeof(msg), "The header %s (with this value) "
			 "is not implemented.", h);
		s3_error(&r, S3_NOT_IMPLEMENTED, msg);
		goto out;
	}
	if (check_version(&r)) {
		s3_error(&r, S3_INVALID_ARGUMENT, "Invalid version id specified");
		goto out;
	}
	e = s3_authorize(&r, rt->need, rt->action);
	if (e) {
		s3_error(&r, e, NULL);
		goto out;
	}
	rt->run(&r);
	if (!r.replied)
		s3_error(&r, S3_INTERNAL, NULL);
out:
	s3_reply_flush(&r);
	if (r.must_close)
		force_close(&r);
	s3_req_free(&r);
	return r.status;
}

/* civetweb's own errors, met before a request reaches s3_http_handle (a
 * header section over its 16 KiB limit, a request line it cannot parse):
 * the same S3 error document as everything else, where civetweb would
 * answer in plain text. It says "Malformed message" for a header section
 * too large and for bytes that are no HTTP alike, so the message names
 * both. The connection closes after it. */
int s3_http_error(struct mg_connection *conn, int status, const char *msg)
{
	char body[512];
	int n;

	(void)msg;
	if (status != 400 && status != 413 && status != 431)
		return 1; /* not about the request's bytes: civetweb's page */
	n = snprintf(body, sizeof(body),
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<Error><Code>%s</Code><Message>%s</Message></Error>",
		     status == 400 ? "BadRequest" : "RequestHeaderSectionTooLarge",
		     status == 400 ? "The request could not be parsed, or its "
				     "header section exceeds the maximum allowed "
				     "size (16 KiB)."
				   : "Your request header section exceeds the "
				     "maximum allowed size.");
	mg_printf(conn, "HTTP/1.1 400 Bad Request\r\n"
		  "Server: AgoraS3\r\n"
		  "Content-Type: application/xml\r\n"
		  "Content-Length: %d\r\n"
		  "Connection: close\r\n\r\n%s", n, body);
	return 0;
}
