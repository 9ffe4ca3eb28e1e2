/*
 * post.c - PostObject: a browser's HTML form upload (multipart/form-data
 * POST to the bucket), signed with a SigV4 POST policy.
 *
 * The form's fields come before its file (AWS ignores those after it,
 * and so does this): they are read whole (FIELDS_MAX bytes at most),
 * then checked before a byte of the file is stored: the signature of
 * the policy (x-amz-credential, x-amz-date, x-amz-signature, sigv4.c),
 * its expiration, each of its conditions (exact matches, "eq",
 * "starts-with", "content-length-range"), and that every field but
 * policy, x-amz-signature, file and x-ignore-* is named by a condition.
 * A form without a policy is anonymous. Then the user must be allowed
 * to write the key, as for a PUT (access.c). The file streams into a
 * writer and the object is published as by PutObject, with the fields'
 * Content-Type, Cache-Control, ..., x-amz-meta-* and canned acl. The
 * answer is success_action_redirect's 303, or success_action_status's
 * 200, 201 (with a PostResponse document) or 204 (the default).
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3d.h"

#define FIELDS_MAX (64 << 10)  /* every field before the file */
#define FIELDS_COUNT 64
#define BOUNDARY_MAX 70        /* RFC 2046 */
#define WINDOW (256 << 10)     /* bytes of the body looked at at once */

struct field {
	char *name, *value;
};

struct form {
	struct s3_req *r;
	struct s3_body b;
	char delim[BOUNDARY_MAX + 5]; /* "\r\n--" boundary */
	size_t dlen;
	char *buf;
	size_t pos, len;               /* unread bytes: [pos, len) */
	int eof;
	struct field f[FIELDS_COUNT];
	int n;
	size_t field_bytes;
	char filename[256];
};

static const char *field(const struct form *fm, const char *name)
{
	int i;

	for (i = 0; i < fm->n; i++)
		if (!strcasecmp(fm->f[i].name, name))
			return fm->f[i].value;
	return NULL;
}

/* Read more of the body behind what is unread: 0, or -s3_err. */
static long fill(struct form *fm)
{
	long got;

	if (fm->pos) {
		memmove(fm->buf, fm->buf + fm->pos, fm->len - fm->pos);
		fm->len -= fm->pos;
		fm->pos = 0;
	}
	if (fm->eof || fm->len == WINDOW)
		return 0;
	got = s3_body_read(&fm->b, fm->buf + fm->len, WINDOW - fm->len);
	if (got < 0)
		return got;
	if (!got)
		fm->eof = 1;
	fm->len += (size_t)got;
	return 0;
}

/* Find pat in the unread bytes, reading more as needed; the bytes before
 * it go to sink (a field's value, or the file) as they are passed: 0
 * with pat consumed, or -s3_err (S3_MALFORMED_POST when the body ends
 * first). */
static long until(struct form *fm, const char *pat, size_t plen,
		  long (*sink)(void *arg, const char *p, size_t n), void *arg)
{
	for (;;) {
		const char *at = memmem(fm->buf + fm->pos, fm->len - fm->pos,
					pat, plen);
		size_t safe;
		long rc;

		if (at) {
			size_t n = (size_t)(at - (fm->buf + fm->pos));

			rc = n ? sink(arg, fm->buf + fm->pos, n) : 0;
			fm->pos += n + plen;
			return rc;
		}
		/* all but what could be the start of pat is passed on */
		safe = fm->len - fm->pos > plen - 1 ? fm->len - fm->pos -
							    (plen - 1)
						    : 0;
		if (safe) {
			rc = sink(arg, fm->buf + fm->pos, safe);
			if (rc)
				return rc;
			fm->pos += safe;
		}
		if (fm->eof)
			return -(long)S3_MALFORMED_POST;
		rc = fill(fm);
		if (rc)
			return rc;
	}
}

struct text {
	struct form *fm;
	char *s;
	size_t len;
};

static long to_text(void *arg, const char *p, size_t n)
{
	struct text *t = arg;
	char *s;

	if (t->fm->field_bytes + n > FIELDS_MAX)
		return -(long)S3_MALFORMED_POST;
	s = realloc(t->s, t->len + n + 1);
	if (!s)
		return -(long)S3_INTERNAL;
	memcpy(s + t->len, p, n);
	t->len += n;
	s[t->len] = 0;
	t->s = s;
	t->fm->field_bytes += n;
	return 0;
}

/* A parameter of a Content-Disposition header (name="..."), into out. */
static int disposition_param(const char *h, const char *param, char *out,
			     size_t size)
{
	size_t pl = strlen(param);
	const char *p = h;

	while ((p = strcasestr(p, param))) {
		const char *v = p + pl, *end;

		if ((p == h || p[-1] == ' ' || p[-1] == ';') && *v == '=') {
			v++;
			if (*v == '"') {
				end = strchr(++v, '"');
				if (!end)
					return -1;
			} else {
				end = v + strcspn(v, "; \t");
			}
			if ((size_t)(end - v) >= size)
				return -1;
			memcpy(out, v, end - v);
			out[end - v] = 0;
			return 0;
		}
		p += pl;
	}
	return 1;
}

/* The headers of the next part: its field name, whether it is the file
 * (filename= given) and the file's name. 0, 1 at the closing
 * delimiter, -s3_err. */
static long part_head(struct form *fm, char *name, size_t size, int *file)
{
	struct text t = { .fm = fm };
	const char *line;
	char tail[2];
	long rc;
	int got_name = 0;

	/* after a delimiter: "--" ends the form, CRLF starts a part */
	while (fm->len - fm->pos < 2 && !fm->eof)
		if ((rc = fill(fm)))
			return rc;
	if (fm->len - fm->pos < 2)
		return -(long)S3_MALFORMED_POST;
	memcpy(tail, fm->buf + fm->pos, 2);
	fm->pos += 2;
	if (!memcmp(tail, "--", 2))
		return 1;
	if (memcmp(tail, "\r\n", 2))
		return -(long)S3_MALFORMED_POST;
	rc = until(fm, "\r\n\r\n", 4, to_text, &t);
	*file = 0;
	for (line = t.s; !rc && line && *line;) {
		size_t n = strcspn(line, "\r\n");
		char h[1024];

		if (n < sizeof(h)) {
			memcpy(h, line, n);
			h[n] = 0;
			if (!strncasecmp(h, "Content-Disposition:", 20)) {
				got_name = !disposition_param(h, "name", name,
							      size);
				*file = !disposition_param(h, "filename",
							   fm->filename,
							   sizeof(fm->filename));
			}
		}
		line += n;
		line += strspn(line, "\r\n");
	}
	free(t.s);
	if (!rc && !got_name)
		rc = -(long)S3_MALFORMED_POST;
	return rc;
}

/* ---- the policy ---- */

static int base64_decode(const char *in, char **out, size_t *len)
{
	size_t n = strlen(in), pad = 0;
	int got;

	if (!n || n % 4)
		return -1;
	pad = (in[n - 1] == '=') + (in[n - 2] == '=');
	*out = malloc(n / 4 * 3 + 1);
	if (!*out)
		return -1;
	got = EVP_DecodeBlock((unsigned char *)*out, (const unsigned char *)in,
			      (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*len = (size_t)got - pad;
	(*out)[*len] = 0;
	return 0;
}

static time_t iso_time(const char *s)
{
	struct tm tm = { 0 };
	int n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return (time_t)-1;
	s += n;
	if (*s == '.')
		s += 1 + strspn(s + 1, "0123456789");
	if (strcmp(s, "Z"))
		return (time_t)-1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

struct limits {
	int64_t min, max; /* content-length-range, -1: none */
};

/* The value a condition names ("$key", "bucket", ...) in this form. */
static const char *named(const struct form *fm, const char *name)
{
	if (*name == '$')
		name++;
	if (!strcasecmp(name, "bucket"))
		return fm->r->bucket;
	return field(fm, name);
}

static int covered(const struct s3_jval *conds, const char *fname)
{
	int i, j;

	for (i = 0; i < conds->n; i++) {
		const struct s3_jval *c = &conds->items[i];

		if (c->t == S3_J_OBJ) {
			for (j = 0; j < c->n; j++)
				if (!strcasecmp(c->items[2 * j].s, fname))
					return 1;
		} else if (c->t == S3_J_ARR && c->n == 3 &&
			   c->items[1].t == S3_J_STR &&
			   c->items[1].s[0] == '$' &&
			   !strcasecmp(c->items[1].s + 1, fname)) {
			return 1;
		}
	}
	return 0;
}

/* Whether one condition holds; content-length-range fills lim. */
static int condition_holds(const struct form *fm, const struct s3_jval *c,
			   struct limits *lim)
{
	const char *v;

	if (c->t == S3_J_OBJ && c->n == 1 && c->items[1].t == S3_J_STR) {
		v = named(fm, c->items[0].s);
		return v && !strcmp(v, c->items[1].s);
	}
	if (c->t != S3_J_ARR || c->n != 3 || c->items[0].t != S3_J_STR)
		return 0;
	if (!strcasecmp(c->items[0].s, "content-length-range")) {
		char *e1, *e2;

		if (c->items[1].t != S3_J_NUM || c->items[2].t != S3_J_NUM)
			return 0;
		lim->min = strtoll(c->items[1].s, &e1, 10);
		lim->max = strtoll(c->items[2].s, &e2, 10);
		return !*e1 && !*e2 && lim->min >= 0 && lim->max >= lim->min;
	}
	if (c->items[1].t != S3_J_STR || c->items[2].t != S3_J_STR ||
	    c->items[1].s[0] != '$')
		return 0;
	v = named(fm, c->items[1].s);
	if (!strcasecmp(c->items[0].s, "eq"))
		return v && !strcmp(v, c->items[2].s);
	if (!strcasecmp(c->items[0].s, "starts-with"))
		return (v || !*c->items[2].s) &&
		       !strncmp(v ? v : "", c->items[2].s,
				strlen(c->items[2].s));
	return 0;
}

/* Fields a form may have without a condition naming them. */
static int exempt(const char *name)
{
	return !strcasecmp(name, "policy") ||
	       !strcasecmp(name, "x-amz-signature") ||
	       !strncasecmp(name, "x-ignore-", 9);
}

static enum s3_err policy_check(struct form *fm, struct limits *lim,
				const char **detail)
{
	const char *b64 = field(fm, "policy");
	const char *sig = field(fm, "x-amz-signature");
	const char *cred = field(fm, "x-amz-credential");
	const char *date = field(fm, "x-amz-date");
	const char *algo = field(fm, "x-amz-algorithm");
	const struct s3_jval *exp, *conds;
	struct s3_jval doc;
	char *json = NULL;
	size_t len;
	enum s3_err e;
	int i;

	lim->min = lim->max = -1;
	if (!b64) {
		if (sig || cred || field(fm, "AWSAccessKeyId"))
			return S3_INVALID_ARGUMENT;
		return S3_OK; /* anonymous: the permissions decide */
	}
	if (field(fm, "AWSAccessKeyId") || field(fm, "signature")) {
		*detail = "Signature version 2 POST forms are not served; "
			  "sign with AWS4-HMAC-SHA256.";
		return S3_NOT_IMPLEMENTED;
	}
	if (!algo || strcmp(algo, "AWS4-HMAC-SHA256") || !sig || !cred ||
	    !date) {
		*detail = "Bucket POST must contain x-amz-algorithm "
			  "AWS4-HMAC-SHA256, x-amz-credential, x-amz-date "
			  "and x-amz-signature.";
		return S3_INVALID_ARGUMENT;
	}
	e = s3_auth_post(fm->r, cred, date, b64, sig);
	if (e)
		return e;
	if (base64_decode(b64, &json, &len) || s3_json_parse(json, len, &doc)) {
		free(json);
		*detail = "Invalid Policy: Invalid JSON.";
		return S3_INVALID_POLICY_DOCUMENT;
	}
	free(json);
	exp = s3_json_get(&doc, "expiration");
	conds = s3_json_get(&doc, "conditions");
	e = S3_OK;
	if (!exp || exp->t != S3_J_STR || !conds || conds->t != S3_J_ARR ||
	    iso_time(exp->s) == (time_t)-1) {
		*detail = "Invalid Policy: it needs an expiration and "
			  "conditions.";
		e = S3_INVALID_POLICY_DOCUMENT;
	} else if (iso_time(exp->s) < time(NULL)) {
		*detail = "Invalid according to Policy: Policy expired.";
		e = S3_ACCESS_DENIED;
	}
	for (i = 0; !e && i < conds->n; i++)
		if (!condition_holds(fm, &conds->items[i], lim)) {
			*detail = "Invalid according to Policy: Policy "
				  "Condition failed.";
			e = S3_ACCESS_DENIED;
		}
	for (i = 0; !e && i < fm->n; i++)
		if (!exempt(fm->f[i].name) && !covered(conds, fm->f[i].name)) {
			*detail = "Invalid according to Policy: Extra input "
				  "fields.";
			e = S3_ACCESS_DENIED;
		}
	s3_json_free(&doc);
	return e;
}

/* Fields that ask for what is not done here. */
static enum s3_err refused_fields(const struct form *fm, const char **detail)
{
	static const char *const served[] = {
		"x-amz-algorithm", "x-amz-credential", "x-amz-date",
		"x-amz-signature", "x-amz-security-token",
	};
	const char *sc = field(fm, "x-amz-storage-class");
	size_t j;
	int i;

	for (i = 0; i < fm->n; i++) {
		const char *n = fm->f[i].name;
		int ok = strncasecmp(n, "x-amz-", 6) ||
			 !strncasecmp(n, "x-amz-meta-", 11);

		for (j = 0; !ok && j < S3_ARRAY_LEN(served); j++)
			ok = !strcasecmp(n, served[j]);
		ok |= !strcasecmp(n, "x-amz-storage-class") &&
		      !strcmp(sc, "STANDARD");
		if (!ok || !strcasecmp(n, "tagging")) {
			*detail = "A field of this form asks for what is not "
				  "implemented.";
			return S3_NOT_IMPLEMENTED;
		}
	}
	return S3_OK;
}

/* ---- the file ---- */

struct upload {
	struct ag_writer *w;
	int64_t size, max;
};

static long to_writer(void *arg, const char *p, size_t n)
{
	struct upload *u = arg;
	int rc;

	u->size += (int64_t)n;
	if (u->max >= 0 && u->size > u->max)
		return -(long)S3_ENTITY_TOO_LARGE;
	rc = ag_writer_write(u->w, p, n);
	return rc ? -(long)s3_errno(rc, 1) : 0;
}

/* The key field with ${filename} replaced by the file's name. */
static enum s3_err form_key(struct form *fm, char **key)
{
	const char *k = field(fm, "key"), *at;
	size_t n;

	*key = NULL;
	if (!k)
		return S3_INVALID_ARGUMENT;
	at = strstr(k, "${filename}");
	n = strlen(k) + (at ? strlen(fm->filename) : 0) + 1;
	*key = malloc(n);
	if (!*key)
		return S3_INTERNAL;
	if (at)
		snprintf(*key, n, "%.*s%s%s", (int)(at - k), k, fm->filename,
			 at + 11);
	else
		memcpy(*key, k, n);
	return s3_key_check(*key);
}

static int store_fields(struct form *fm, struct ag_writer *w)
{
	const char *acl_name = field(fm, "acl");
	struct s3_acl acl = { 0 };
	int i, rc;

	for (i = 0; i < fm->n; i++) {
		rc = s3_meta_store_field(fm->r, w, 0, fm->f[i].name,
					 fm->f[i].value);
		if (rc)
			return rc;
	}
	if (!acl_name)
		return 0;
	if (s3_acl_canned(acl_name, &acl))
		return -EINVAL;
	return s3_acl_store(fm->r, w, 0, &acl);
}

/* success_action_redirect / _status: the answer to a stored object. */
static int post_reply(struct form *fm, const char *key, const char *etag)
{
	struct s3_req *r = fm->r;
	const char *redirect = field(fm, "success_action_redirect");
	const char *status = field(fm, "success_action_status");
	char *enc_key = malloc(3 * strlen(key) + 1), *hdr = NULL;
	char enc_bucket[3 * 64 + 1], enc_etag[3 * 48 + 1];
	struct s3_xml x;
	int rc;

	if (!enc_key)
		return s3_error(r, S3_INTERNAL, NULL);
	if (!redirect)
		redirect = field(fm, "redirect");
	s3_uri_encode(key, strlen(key), 0, enc_key);
	s3_uri_encode(r->bucket, strlen(r->bucket), 0, enc_bucket);
	s3_uri_encode(etag, strlen(etag), 0, enc_etag);
	if (redirect && (!strncmp(redirect, "http://", 7) ||
			 !strncmp(redirect, "https://", 8)) &&
	    !strpbrk(redirect, "\r\n")) {
		rc = asprintf(&hdr, "Location: %s%sbucket=%s&key=%s&etag=%s\r\n"
			      "ETag: %s\r\n", redirect,
			      strchr(redirect, '?') ? "&" : "?", enc_bucket,
			      enc_key, enc_etag, etag);
		free(enc_key);
		if (rc < 0)
			return s3_error(r, S3_INTERNAL, NULL);
		rc = s3_reply_head(r, 303, hdr, 0);
		free(hdr);
		return rc;
	}
	rc = asprintf(&hdr, "Location: /%s/%s\r\nETag: %s\r\n", enc_bucket,
		      enc_key, etag);
	if (rc < 0) {
		free(enc_key);
		return s3_error(r, S3_INTERNAL, NULL);
	}
	if (status && !strcmp(status, "201")) {
		s3_xml_init(&x);
		s3_xml_raw(&x, "<PostResponse><Location>/%s/%s</Location>",
			   enc_bucket, enc_key);
		s3_xml_text(&x, "Bucket", r->bucket);
		s3_xml_text(&x, "Key", key);
		s3_xml_text(&x, "ETag", etag);
		s3_xml_raw(&x, "</PostResponse>");
		rc = x.error ? s3_error(r, S3_INTERNAL, NULL)
			     : s3_reply_body(r, 201, "application/xml", hdr,
					     x.buf, x.len);
		s3_xml_free(&x);
	} else {
		rc = s3_reply_head(r, status && !strcmp(status, "200") ? 200
								       : 204,
				   hdr, status && !strcmp(status, "200") ? 0
									 : -1);
	}
	free(enc_key);
	free(hdr);
	return rc;
}

/* until's sink for what is looked past: the preamble. */
static long discard(void *arg, const char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

/* Read the body to its end (what follows the file is ignored, as AWS
 * ignores it), so that the connection can serve the next request. */
static long drain(struct form *fm)
{
	long rc = 0;

	while (!rc && !fm->eof) {
		fm->pos = fm->len;
		rc = fill(fm);
	}
	return rc;
}

/* Read the fields up to the file part: 0 at the file, or -s3_err. */
static long read_fields(struct form *fm)
{
	char name[128];
	int file = 0;
	long rc = until(fm, fm->delim + 2, fm->dlen - 2, discard, NULL);

	while (!rc) {
		struct text t = { .fm = fm };

		rc = part_head(fm, name, sizeof(name), &file);
		if (rc == 1) /* the form ended without a file */
			return -(long)S3_MALFORMED_POST;
		if (rc || file)
			break;
		if (fm->n == FIELDS_COUNT)
			return -(long)S3_MALFORMED_POST;
		rc = until(fm, fm->delim, fm->dlen, to_text, &t);
		if (!rc && !(fm->f[fm->n].name = strdup(name)))
			rc = -(long)S3_INTERNAL;
		if (rc) {
			free(t.s);
			break;
		}
		fm->f[fm->n++].value = t.s ? t.s : strdup("");
		if (!fm->f[fm->n - 1].value)
			rc = -(long)S3_INTERNAL;
		else if (!strcmp(name, "file"))
			rc = -(long)S3_MALFORMED_POST; /* file with no name */
	}
	return rc;
}

static enum s3_err open_form(struct form *fm, struct s3_req *r)
{
	const char *ct = s3_header(r, "Content-Type");
	char boundary[BOUNDARY_MAX + 1];
	const char *bp;
	enum s3_err e;

	memset(fm, 0, sizeof(*fm));
	fm->r = r;
	if (!ct || strncasecmp(ct, "multipart/form-data", 19) ||
	    !(bp = strcasestr(ct, "boundary=")) ||
	    disposition_param(bp, "boundary", boundary, sizeof(boundary)) ||
	    !*boundary)
		return S3_NOT_FORM;
	fm->dlen = (size_t)snprintf(fm->delim, sizeof(fm->delim), "\r\n--%s",
				    boundary);
	e = s3_body_open(&fm->b, r);
	if (e)
		return e;
	fm->buf = malloc(WINDOW);
	return fm->buf ? S3_OK : S3_INTERNAL;
}

static void close_form(struct form *fm)
{
	int i;

	for (i = 0; i < fm->n; i++) {
		free(fm->f[i].name);
		free(fm->f[i].value);
	}
	free(fm->buf);
	s3_body_close(&fm->b);
}

int s3_post_object(struct s3_req *r)
{
	struct ag_attr bucket, a;
	struct upload u = { 0 };
	struct limits lim;
	const char *detail = NULL;
	char etag[48], *key = NULL;
	struct form fm;
	enum s3_err e = s3_bucket_get(r, &bucket);
	long rc = 0;

	if (e)
		return s3_error(r, e, NULL);
	e = open_form(&fm, r);
	if (!e) {
		rc = read_fields(&fm);
		e = rc < 0 ? (enum s3_err)-rc : S3_OK;
	}
	if (!e && (e = form_key(&fm, &key)) == S3_INVALID_ARGUMENT && !key)
		detail = "Bucket POST must contain a field named 'key'.";
	if (!e)
		e = refused_fields(&fm, &detail);
	if (!e)
		e = policy_check(&fm, &lim, &detail);
	if (!e)
		e = s3_may_write_key(r, &bucket, key, "s3:PutObject");
	if (!e)
		e = s3_key_free(r, bucket.ino, key);
	if (e) {
		r->must_close = 1; /* the rest of the body is not read */
		goto out;
	}
	u.max = lim.max;
	rc = ag_writer_new(r->c, 0644, r->user.uid, r->user.gid, &u.w);
	if (rc) {
		e = s3_errno((int)rc, 1);
		goto out;
	}
	rc = until(&fm, fm.delim, fm.dlen, to_writer, &u);
	if (!rc && lim.min >= 0 && u.size < lim.min)
		rc = -(long)S3_ENTITY_TOO_SMALL;
	if (!rc)
		rc = drain(&fm);
	if (rc) {
		e = (enum s3_err)-rc;
		r->must_close = 1;
		goto out;
	}
	rc = store_fields(&fm, u.w);
	if (!rc)
		rc = ag_object_commit(u.w, bucket.ino, key, r->user.uid,
				      r->user.gid, &a);
	if (!rc)
		rc = s3_etag(r, &a, etag);
	if (rc) {
		e = rc == -EISDIR ? S3_KEY_CONFLICT
		    : rc == -EINVAL ? S3_INVALID_ARGUMENT
				    : s3_errno((int)rc, 1);
		goto out;
	}
	rc = post_reply(&fm, key, etag);
out:
	ag_writer_free(u.w);
	close_form(&fm);
	free(key);
	return e ? s3_error(r, e, detail) : (int)rc;
}
