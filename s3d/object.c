/*
 * object.c - PutObject (streamed through an ag_writer, published
 * atomically only once the whole body is in and verified), GetObject and
 * HeadObject (ranges, conditions, stored headers), DeleteObject and
 * DeleteObjects.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <civetweb.h>

#include "s3d.h"

#define IO_SIZE (1u << 20)

/* Network reads and chunking overlap: a reader thread fills one buffer
 * from the body while the writer chunks the other. */
#define PUMP_SIZE (4u << 20)

struct pump {
	struct s3_body *b;
	uint8_t *buf[2];
	long len[2];          /* bytes, or -s3_err; 0: the verified end */
	int full[2], stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* a buffer was filled or emptied */
};

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	int i = 0;

	for (;;) {
		long n = 0, got = 1;

		pthread_mutex_lock(&p->lock);
		while (p->full[i] && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		pthread_mutex_unlock(&p->lock);
		if (p->stop)
			break;
		while (n < PUMP_SIZE &&
		       (got = s3_body_read(p->b, p->buf[i] + n, PUMP_SIZE - n)) > 0)
			n += got;
		pthread_mutex_lock(&p->lock);
		p->len[i] = got < 0 ? got : n;
		p->full[i] = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		if (got <= 0)
			break; /* the end (an empty buffer follows) or an error */
		i ^= 1;
	}
	return NULL;
}

/* The bytes the body will give: what SSE sizes its blocks by. */
static uint64_t body_size(struct s3_req *r)
{
	const char *d = s3_header(r, "x-amz-decoded-content-length");

	if (d)
		return strtoull(d, NULL, 10);
	return r->ri->content_length > 0 ? (uint64_t)r->ri->content_length
					 : 0;
}

int s3_put_stream(struct s3_req *r, struct s3_body *b,
		  const struct s3_sse *sse, struct ag_writer **wp,
		  enum s3_err *e)
{
	struct pump p = { .b = b };
	struct ag_crypt_writer *cw = NULL;
	struct ag_writer *w = NULL;
	pthread_t thr;
	int i = 0, rc, last = 0;

	*e = S3_OK;
	p.buf[0] = malloc(2 * (size_t)PUMP_SIZE);
	if (!p.buf[0])
		return -ENOMEM;
	p.buf[1] = p.buf[0] + PUMP_SIZE;
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	rc = ag_writer_new(r->c, 0644, r->user.uid, r->user.gid, &w);
	if (!rc && sse && sse->kind)
		rc = ag_crypt_writer_new(w, sse->kind, sse->key, body_size(r),
					 &cw);
	if (!rc && pthread_create(&thr, NULL, pump_main, &p))
		rc = -EAGAIN;
	if (rc)
		goto out;
	while (!rc && !last) {
		long n;

		pthread_mutex_lock(&p.lock);
		while (!p.full[i])
			pthread_cond_wait(&p.cond, &p.lock);
		n = p.len[i];
		pthread_mutex_unlock(&p.lock);
		if (n < 0) {
			*e = (enum s3_err)-n;
			rc = -EIO;
			break;
		}
		/* a short buffer is the last one: the reader met the end */
		last = n < PUMP_SIZE;
		if (n)
			rc = cw ? ag_crypt_write(cw, p.buf[i], n)
				: ag_writer_write(w, p.buf[i], n);
		pthread_mutex_lock(&p.lock);
		p.full[i] = 0;
		pthread_cond_broadcast(&p.cond);
		pthread_mutex_unlock(&p.lock);
		i ^= 1;
	}
	pthread_mutex_lock(&p.lock);
	p.stop = 1;
	pthread_cond_broadcast(&p.cond);
	pthread_mutex_unlock(&p.lock);
	pthread_join(thr, NULL);
	if (!rc && cw)
		rc = ag_crypt_writer_finish(cw);
out:
	ag_crypt_writer_free(cw);
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	free(p.buf[0]);
	if (rc) {
		ag_writer_free(w);
		return rc;
	}
	*wp = w;
	return 0;
}

static int reply_etag(struct s3_req *r, const uint8_t md5[16],
		      const struct s3_body *b, const struct s3_sse *sse)
{
	char hdr[1024], hex[33];
	uint8_t key_md5[16];
	unsigned ml = 16;
	int n;

	s3_hex(md5, 16, hex);
	n = snprintf(hdr, sizeof(hdr), "ETag: \"%s\"\r\n", hex);
	if (b->sum != S3_SUM_NONE)
		snprintf(hdr + n, sizeof(hdr) - n, "x-amz-checksum-%s: %s\r\n",
			 b->sum_name, b->sum_b64);
	if (sse->kind) {
		EVP_Digest(sse->key, 32, key_md5, &ml, EVP_md5(), NULL);
		s3_sse_headers(sse->kind, key_md5, hdr, sizeof(hdr));
	}
	return s3_reply_head(r, 200, hdr, 0);
}

/* PUT of "a/b/": an explicit, empty directory. */
static int put_dir_marker(struct s3_req *r, struct ag_attr *bucket)
{
	char *body = NULL;
	size_t len;
	struct ag_attr a;
	int rc = s3_read_small_body(r, 0, &body, &len);

	free(body);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	rc = ag_object_mkdir(r->c, bucket->ino, r->key, r->user.uid,
			     r->user.gid, &a);
	if (rc)
		return s3_error(r, s3_errno(rc, 1), NULL);
	return s3_reply_head(r, 200,
			     "ETag: \"d41d8cd98f00b204e9800998ecf8427e\"\r\n",
			     0);
}

int s3_put_object(struct s3_req *r)
{
	struct ag_attr bucket, a;
	struct ag_writer *w = NULL;
	struct s3_body b;
	struct s3_sse sse;
	uint8_t md5[16];
	enum s3_err e = s3_bucket_get(r, &bucket);
	const char *detail = NULL;
	char *tags = NULL;
	int rc, cond = 0;

	if (!e)
		e = s3_key_check(r->key);
	if (!e)
		e = s3_write_condition(r, &cond, md5);
	if (!e)
		e = s3_sse_request(r, &sse, &detail);
	if (!e)
		e = s3_tags_header(r, &tags, &detail);
	if (e)
		return s3_error(r, e, detail);
	if (r->key[strlen(r->key) - 1] == '/') {
		free(tags);
		return cond ? s3_error(r, S3_NOT_IMPLEMENTED, NULL)
			    : put_dir_marker(r, &bucket);
	}
	e = s3_body_open(&b, r);
	if (!e)
		e = s3_key_free(r, bucket.ino, r->key);
	if (e) {
		free(tags);
		s3_body_close(&b);
		return s3_error(r, e, NULL);
	}
	rc = s3_put_stream(r, &b, &sse, &w, &e);
	if (!rc)
		rc = s3_meta_store(r, w, 0);
	if (!rc)
		rc = s3_tags_store(r, w, 0, tags);
	free(tags);
	if (!rc && b.sum != S3_SUM_NONE) {
		char xn[64];

		snprintf(xn, sizeof(xn), AG_XATTR_CHECKSUM_PREFIX "%s",
			 b.sum_name);
		rc = ag_writer_setxattr(w, xn, b.sum_b64, strlen(b.sum_b64));
	}
	/* decided by metad in the commit that publishes, not here */
	if (!rc && cond == AG_EXPECT_ETAG)
		s3_etag_store(r, bucket.ino, r->key);
	if (!rc && cond)
		rc = ag_writer_expect(w, cond, md5);
	/* the writer's MD5 of the bytes becomes the stored ETag; the
	 * missing parents are made in the same commit */
	if (!rc)
		rc = ag_object_commit(w, bucket.ino, r->key, r->user.uid,
				      r->user.gid, &a);
	ag_writer_free(w);
	if (rc) {
		s3_body_close(&b);
		if (!e)
			e = rc == -EISDIR ? S3_KEY_CONFLICT : s3_errno(rc, 1);
		return s3_error(r, e, NULL);
	}
	s3_version_note(r, bucket.ino, &a);
	/* the writer stored the MD5 of what it was given as the ETag */
	rc = reply_etag(r, a.etag, &b, &sse);
	OPENSSL_cleanse(&sse, sizeof(sse));
	s3_body_close(&b);
	return rc;
}

/* ---- GET and HEAD ---- */

static enum s3_err find_object(struct s3_req *r, struct ag_attr *bucket,
			       struct ag_attr *a)
{
	return s3_object_find(r, r->bucket, r->key, bucket, a);
}

/* Whether the list of ETags names etag; weak: W/"x" names "x" too (the
 * weak comparison of If-None-Match, RFC 7232; If-Match never takes a
 * weak one, and the ETags here are never weak). */
static int etag_matches(const char *list, const char *etag, int weak)
{
	const char *p = list;
	size_t el = strlen(etag);

	while (*p) {
		size_t n;

		p += strspn(p, " ,");
		if (*p == '*')
			return 1;
		if (!strncmp(p, "W/", 2)) {
			if (!weak) {
				p += strcspn(p, ",");
				continue;
			}
			p += 2;
		}
		n = strcspn(p, ",");
		while (n && p[n - 1] == ' ')
			n--;
		if (n == el && !memcmp(p, etag, n))
			return 1;
		/* unquoted forms are common in hand-made requests */
		if (n == el - 2 && !memcmp(p, etag + 1, n))
			return 1;
		p += n;
	}
	return 0;
}

/* The header prefix + name of r. */
static const char *cond_header(struct s3_req *r, const char *prefix,
			       const char *name)
{
	char h[64];

	snprintf(h, sizeof(h), "%s%s", prefix, name);
	return s3_header(r, h);
}

enum s3_err s3_conditions(struct s3_req *r, const char *prefix,
			  const char *etag, int64_t mtime, enum s3_err unchanged)
{
	const char *im = cond_header(r, prefix, "If-Match");
	const char *inm = cond_header(r, prefix, "If-None-Match");
	const char *ims = cond_header(r, prefix, "If-Modified-Since");
	const char *ius = cond_header(r, prefix, "If-Unmodified-Since");
	int64_t secs = mtime / 1000000000 * 1000000000, t;

	/* RFC 7232 order, as S3 applies it */
	if (im && !etag_matches(im, etag, 0))
		return S3_PRECONDITION_FAILED;
	if (!im && ius && (t = s3_parse_http_date(ius)) != INT64_MIN &&
	    secs > t)
		return S3_PRECONDITION_FAILED;
	if (inm && etag_matches(inm, etag, 1))
		return unchanged;
	/* a date later than the present is not a valid one (RFC 7232) */
	if (!inm && ims && (t = s3_parse_http_date(ims)) != INT64_MIN &&
	    secs <= t && t <= (int64_t)time(NULL) * 1000000000)
		return unchanged;
	return S3_OK;
}

/* An ETag as a client quotes it: 32 hex digits in quotes or not,
 * maybe with a multipart "-N" (not compared: an MD5 of part MD5s and
 * an MD5 of data do not meet). 0 and its MD5, or -1. */
static int parse_etag(const char *s, uint8_t md5[16])
{
	size_t n = strlen(s);
	int i;

	while (n && s[n - 1] == ' ')
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	if (n > 33 && s[32] == '-' &&
	    strspn(s + 33, "0123456789") == n - 33)
		n = 32;
	if (n != 32)
		return -1;
	for (i = 0; i < 16; i++) {
		unsigned v;

		if (!isxdigit((unsigned char)s[2 * i]) ||
		    !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		md5[i] = (uint8_t)v;
	}
	return 0;
}

/* If-Match of a write or a delete: "*" for any object, or one ETag. */
static enum s3_err if_match(const char *im, int *cond, uint8_t md5[16])
{
	im += strspn(im, " ");
	if (!strcmp(im, "*"))
		*cond = AG_EXPECT_FILE;
	else if (parse_etag(im, md5))
		return S3_PRECONDITION_FAILED; /* matches no ETag */
	else
		*cond = AG_EXPECT_ETAG;
	return S3_OK;
}

enum s3_err s3_write_condition(struct s3_req *r, int *cond, uint8_t md5[16])
{
	const char *im = s3_header(r, "If-Match");
	const char *inm = s3_header(r, "If-None-Match");

	*cond = 0;
	if (inm) {
		inm += strspn(inm, " ");
		/* S3 knows only "no object of that name" here */
		if (strcmp(inm, "*"))
			return S3_NOT_IMPLEMENTED;
		/* an object cannot be absent and present: no commit needed */
		if (im)
			return S3_PRECONDITION_FAILED;
		*cond = AG_EXPECT_ABSENT;
	}
	return im ? if_match(im, cond, md5) : S3_OK;
}

int s3_range_parse(const char *h, uint64_t size, uint64_t *from,
		   uint64_t *to)
{
	unsigned long long a, b;
	char *e;

	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0; /* absent, or a form we serve whole */
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &e, 10);
		if (e == h + 1 || *e)
			return 0;
		if (!b || !size)
			return -1;
		*from = b >= size ? 0 : size - b;
		*to = size - 1;
		return 1;
	}
	a = strtoull(h, &e, 10);
	if (e == h || *e != '-')
		return 0;
	h = e + 1;
	if (!*h) {
		b = size ? size - 1 : 0;
	} else {
		b = strtoull(h, &e, 10);
		if (*e || b < a)
			return 0;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b >= size ? size - 1 : b;
	return 1;
}

static void add_header(char *hdr, size_t size, const char *name,
		       const char *val, size_t vlen)
{
	size_t n = strlen(hdr);

	if (memchr(val, '\r', vlen) || memchr(val, '\n', vlen))
		return;
	snprintf(hdr + n, size - n, "%s: %.*s\r\n", name, (int)vlen, val);
}

/* Stored headers, user metadata and checksums of the element. */
static void object_headers(struct s3_req *r, const struct ag_attr *a,
			   int whole, char *hdr, size_t size)
{
	static const char *const overrides[][2] = {
		{ "response-content-type", "Content-Type" },
		{ "response-content-language", "Content-Language" },
		{ "response-expires", "Expires" },
		{ "response-cache-control", "Cache-Control" },
		{ "response-content-disposition", "Content-Disposition" },
		{ "response-content-encoding", "Content-Encoding" },
	};
	char *names = NULL, *p, val[1024];
	ssize_t len = ag_listxattr(r->c, a->ino, NULL, 0);
	int have_type = 0;
	size_t i;

	if (len > 0 && (names = malloc(len)) &&
	    (len = ag_listxattr(r->c, a->ino, names, len)) > 0) {
		for (p = names; p < names + len; p += strlen(p) + 1) {
			ssize_t n = ag_getxattr(r->c, a->ino, p, val,
						sizeof(val));
			char hn[300];
			int j;

			if (n < 0 && strcmp(p, S3_TAGS_XATTR)) /* may be long */
				continue;
			if (!strncmp(p, "user.", 5)) {
				snprintf(hn, sizeof(hn), "x-amz-meta-%s", p + 5);
				add_header(hdr, size, hn, val, n);
				continue;
			}
			if (!strcmp(p, S3_TAGS_XATTR)) {
				snprintf(hn, sizeof(hn), "%d",
					 s3_tags_count(r, a->ino));
				add_header(hdr, size, "x-amz-tagging-count",
					   hn, strlen(hn));
				continue;
			}
			if (strncmp(p, S3_XATTR_PREFIX, strlen(S3_XATTR_PREFIX)))
				continue;
			p += strlen(S3_XATTR_PREFIX);
			if (!strncmp(p, "checksum-", 9)) {
				const char *mode = s3_header(r, "x-amz-checksum-mode");

				snprintf(hn, sizeof(hn), "x-amz-%s", p);
				/* a checksum covers the whole object only,
				 * as the S3 write stored it (not since
				 * changed over POSIX) */
				if (whole && mode && !strcasecmp(mode, "ENABLED") &&
				    (a->flags & AG_ATTR_ETAG))
					add_header(hdr, size, hn, val, n);
			}
			for (j = 0; s3_stored_headers[j]; j++)
				if (!strcasecmp(p, s3_stored_headers[j])) {
					int over = 0;

					for (i = 0; i < S3_ARRAY_LEN(overrides); i++)
						over |= !strcasecmp(overrides[i][1], p) &&
							s3_param(r, overrides[i][0]);
					if (!over)
						add_header(hdr, size,
							   s3_stored_headers[j],
							   val, n);
					have_type |= j == 0;
				}
			p -= strlen(S3_XATTR_PREFIX);
		}
	}
	free(names);
	for (i = 0; i < S3_ARRAY_LEN(overrides); i++) {
		const char *v = s3_param(r, overrides[i][0]);

		if (v) {
			add_header(hdr, size, overrides[i][1], v, strlen(v));
			have_type |= i == 0;
		}
	}
	if (!have_type)
		add_header(hdr, size, "Content-Type", "binary/octet-stream", 19);
}

/* Send bytes [off, off + len) of a, decrypted with key when es (the
 * object is encrypted). */
static int send_data(struct s3_req *r, const struct ag_attr *a, uint64_t off,
		     uint64_t len, const struct ag_sse *es,
		     const uint8_t *key)
{
	/* a small object needs a small buffer: a 4 MiB one per GET is an
	 * mmap and a munmap each time */
	uint8_t *buf = malloc(len < 4 * IO_SIZE ? len : 4 * IO_SIZE);

	if (!buf)
		return -ENOMEM;
	while (len) {
		size_t want = len < 4 * IO_SIZE ? len : 4 * IO_SIZE;
		ssize_t n = es ? ag_crypt_read(r->c, a, es, key, off, buf, want)
			       : ag_read(r->c, a->ino, off, buf, want);

		if (n <= 0) {
			free(buf);
			return n ? (int)n : -EIO;
		}
		if (s3_write(r, buf, n))
			break; /* the client went away */
		off += n;
		len -= n;
	}
	free(buf);
	return 0;
}

#define HDR_MAX 16384

/* GET or HEAD with partNumber: the bytes of that part of an object
 * completed from parts (206, with x-amz-mp-parts-count), or all of any
 * other object for part 1 (200). */
static enum s3_err part_range(struct s3_req *r, const struct ag_attr *a,
			      int *ranged, uint64_t *from, uint64_t *to,
			      char *hdr)
{
	const char *v = s3_param(r, "partNumber");
	uint64_t off, len;
	unsigned nparts;
	char *end;
	long part = strtol(v, &end, 10);
	int rc;

	if (!*v || *end || part < 1 || part > AG_PARTS_MAX)
		return S3_INVALID_ARGUMENT;
	if (s3_header(r, "Range"))
		return S3_INVALID_REQUEST;
	rc = ag_object_parts(r->c, a, &nparts, NULL);
	if (!rc)
		rc = ag_object_part(r->c, a, (unsigned)part, &off, &len);
	if (rc == -ERANGE)
		return S3_INVALID_PART_NUMBER;
	if (rc == -ENODATA) /* completed before the sizes were kept */
		return S3_NOT_IMPLEMENTED;
	if (rc)
		return s3_errno(rc, 1);
	*ranged = nparts && len;
	*from = off;
	*to = off + len - 1;
	if (nparts)
		snprintf(hdr + strlen(hdr), HDR_MAX - strlen(hdr),
			 "x-amz-mp-parts-count: %u\r\n", nparts);
	return S3_OK;
}

/* The key that reads a (*key NULL when it is not encrypted: es->kind
 * 0), from what the request gives. */
static enum s3_err read_key(struct s3_req *r, const struct ag_attr *a,
			    struct ag_sse *es, struct s3_sse *given,
			    const uint8_t **key, const char **detail)
{
	enum s3_err e = s3_sse_request(r, given, detail);
	int rc;

	*key = NULL;
	memset(es, 0, sizeof(*es));
	if (e)
		return e;
	if (given->kind == AG_SSE_CLUSTER) {
		*detail = "x-amz-server-side-encryption is not taken by a "
			  "read.";
		return S3_INVALID_ARGUMENT;
	}
	rc = ag_sse_get(r->c, a->ino, es);
	if (rc == -ENODATA) {
		es->kind = 0;
		if (given->kind) {
			*detail = "The encryption parameters are not "
				  "applicable to this object.";
			return S3_INVALID_REQUEST;
		}
		return S3_OK;
	}
	if (rc)
		return s3_errno(rc, 1);
	e = s3_sse_key_for(r, es, given, key);
	if (e == S3_INVALID_REQUEST)
		*detail = "The object was stored using a form of Server Side "
			  "Encryption. The correct parameters must be "
			  "provided to retrieve the object.";
	return e;
}

/* The reply to GET or HEAD of a, into the heap buffer hdr (HDR_MAX). */
static int get_reply(struct s3_req *r, const struct ag_attr *a,
		     const char *etag, char *hdr)
{
	int head = !strcmp(r->method, "HEAD"), ranged = 0, rc = 0;
	enum s3_err e = s3_conditions(r, "", etag, a->mtime, S3_NOT_MODIFIED);
	uint64_t from = 0, to = 0, len;
	const char *detail = NULL;
	const uint8_t *key = NULL;
	struct s3_sse given;
	struct ag_sse es;
	char date[64];

	s3_http_date(a->mtime, date, sizeof(date));
	snprintf(hdr, HDR_MAX,
		 "ETag: %s\r\nLast-Modified: %s\r\nAccept-Ranges: bytes\r\n",
		 etag, date);
	if (e == S3_NOT_MODIFIED)
		return s3_reply_head(r, 304, hdr, -1);
	if (e)
		return s3_error(r, e, NULL);
	e = read_key(r, a, &es, &given, &key, &detail);
	if (e)
		goto out;
	if (es.kind)
		s3_sse_headers(es.kind, es.key_md5, hdr, HDR_MAX);
	if (s3_param(r, "partNumber")) {
		e = part_range(r, a, &ranged, &from, &to, hdr);
		if (e)
			goto out;
	} else {
		ranged = s3_range_parse(s3_header(r, "Range"), a->size, &from,
					&to);
		if (ranged < 0) {
			e = S3_INVALID_RANGE;
			goto out;
		}
	}
	object_headers(r, a, !ranged, hdr, HDR_MAX);
	len = a->size;
	if (ranged) {
		char cr[96];

		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
			 from, to, a->size);
		add_header(hdr, HDR_MAX, "Content-Range", cr, strlen(cr));
		len = to - from + 1;
	}
	rc = s3_reply_head(r, ranged ? 206 : 200, hdr, (int64_t)len);
	/* a read failing half-way leaves a short body: the client sees a
	 * length mismatch, which is the only way HTTP has to say so */
	if (!head && len)
		send_data(r, a, from, len, es.kind ? &es : NULL, key);
out:
	OPENSSL_cleanse(&given, sizeof(given));
	ag_sse_free(&es);
	return e ? s3_error(r, e, detail) : rc;
}

int s3_get_object(struct s3_req *r)
{
	struct ag_attr bucket, a;
	enum s3_err e = s3_param(r, "versionId") ? s3_version_get(r, &bucket, &a)
						: find_object(r, &bucket, &a);
	char etag[48], *hdr;
	int rc;

	if (e == S3_NO_SUCH_KEY)
		s3_version_note_marker(r, bucket.ino, r->key);
	else if (!e && !s3_param(r, "versionId"))
		s3_version_note(r, bucket.ino, &a);
	if (e)
		return s3_error(r, e, NULL);
	if (S_ISDIR(a.mode))
		a.size = 0;
	rc = s3_etag(r, &a, etag);
	if (rc)
		return s3_error(r, s3_errno(rc, 1), NULL);
	hdr = malloc(HDR_MAX); /* civetweb's worker stacks are small */
	if (!hdr)
		return s3_error(r, S3_INTERNAL, NULL);
	rc = get_reply(r, &a, etag, hdr);
	free(hdr);
	return rc;
}

/* ---- DELETE ---- */

/* If-Match of a DeleteObject: *cond 0 (none), AG_EXPECT_FILE or
 * AG_EXPECT_ETAG with md5; conditions S3 has only for other kinds of
 * buckets are refused. */
static enum s3_err delete_condition(struct s3_req *r, int *cond,
				    uint8_t md5[16])
{
	const char *im = s3_header(r, "If-Match");

	*cond = 0;
	if (s3_header(r, "If-None-Match") ||
	    s3_header(r, "x-amz-if-match-last-modified-time") ||
	    s3_header(r, "x-amz-if-match-size"))
		return S3_NOT_IMPLEMENTED;
	return im ? if_match(im, cond, md5) : S3_OK;
}

/* Delete one key; a missing key is success, as in S3, unless a
 * condition (cond, md5: delete_condition) names an object. */
static enum s3_err delete_key(struct s3_req *r, struct ag_attr *bucket,
			      const char *key, int cond, const uint8_t *md5)
{
	enum s3_err gone = cond ? S3_NO_SUCH_KEY : S3_OK;
	enum s3_err e = s3_key_check(key);
	int rc;

	if (!e)
		e = s3_may_write_key(r, bucket, key, "s3:DeleteObject");
	if (e)
		return e;
	if (cond == AG_EXPECT_ETAG)
		s3_etag_store(r, bucket->ino, key);
	/* decided by metad with the unlink, as a conditional write; the
	 * implicit parents left empty go in the same commit */
	rc = ag_object_remove(r->c, bucket->ino, key, cond, md5);
	switch (rc) {
	case 0:
	case -ENOTEMPTY: /* a marker with keys below stays a prefix */
		return S3_OK;
	case -ENOENT:
	case -ENOTDIR:
	case -EISDIR: /* "a" when a is a prefix: nothing to delete */
		return gone;
	case -EINVAL:
		/* the key passed s3_key_check: a condition on a directory */
		return cond ? S3_NOT_IMPLEMENTED : S3_INVALID_ARGUMENT;
	default:
		return s3_errno(rc, 1);
	}
}

int s3_delete_object(struct s3_req *r)
{
	struct ag_attr bucket;
	uint8_t md5[16];
	enum s3_err e = s3_bucket_get(r, &bucket);
	const char *id = s3_param(r, "versionId");
	int cond;

	if (!e)
		e = delete_condition(r, &cond, md5);
	if (!e && id)
		e = cond ? S3_NOT_IMPLEMENTED
			 : s3_version_delete(r, &bucket, r->key, id);
	else if (!e)
		e = delete_key(r, &bucket, r->key, cond, md5);
	if (!e && !id)
		s3_version_note_marker(r, bucket.ino, r->key);
	if (e)
		return s3_error(r, e, NULL);
	return s3_reply_head(r, 204, NULL, -1);
}

/* What a DeleteObjects entry says of the marker a delete made or
 * removed, from the version headers it would have answered with. */
static void deleted_marker(struct s3_xml *x, const char *hdr)
{
	const char *id = strstr(hdr, "x-amz-version-id: ");
	char buf[AG_VERSION_ID_MAX];

	if (!strstr(hdr, "x-amz-delete-marker: true") || !id)
		return;
	id += strlen("x-amz-version-id: ");
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(id, "\r"), id);
	s3_xml_raw(x, "<DeleteMarker>true</DeleteMarker>");
	s3_xml_text(x, "DeleteMarkerVersionId", buf);
}

int s3_delete_objects(struct s3_req *r)
{
	struct ag_attr bucket;
	enum s3_err e = s3_bucket_get(r, &bucket);
	char *body = NULL, key[S3_KEY_MAX + 1], vid[AG_VERSION_ID_MAX + 1];
	const char *p, *end, *obj, *v;
	size_t len, ol, vl;
	uint64_t seq;
	int rc, quiet = 0, count = 0, found, null;
	struct s3_xml x;

	if (e)
		return s3_error(r, e, NULL);
	rc = s3_read_small_body(r, 2 << 20, &body, &len);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	p = body;
	end = body + len;
	if (s3_xml_next(&p, end, "Delete", &v, &vl)) {
		free(body);
		return s3_error(r, S3_MALFORMED_XML, NULL);
	}
	p = v;
	end = v + vl;
	{
		const char *q = p, *qv;
		size_t qvl;

		if (!s3_xml_next(&q, end, "Quiet", &qv, &qvl))
			quiet = qvl == 4 && !memcmp(qv, "true", 4);
	}
	s3_xml_init(&x);
	s3_xml_raw(&x, "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/"
		   "2006-03-01/\">");
	while ((found = s3_xml_next(&p, end, "Object", &obj, &ol)) == 0) {
		const char *q = obj;

		if (++count > 1000 || s3_xml_next(&q, obj + ol, "Key", &v, &vl) ||
		    s3_xml_unescape(v, vl, key, sizeof(key)) < 0) {
			found = -1;
			break;
		}
		q = obj;
		vid[0] = 0;
		if (!s3_xml_next(&q, obj + ol, "VersionId", &v, &vl) &&
		    s3_xml_unescape(v, vl, vid, sizeof(vid)) < 0) {
			found = -1;
			break;
		}
		r->version_hdr[0] = 0;
		if (*vid && ag_version_id_parse(vid, &seq, &null))
			e = S3_NO_SUCH_VERSION;
		else if (*vid)
			e = s3_version_delete(r, &bucket, key, vid);
		else
			e = delete_key(r, &bucket, key, 0, NULL);
		if (!e && !*vid)
			s3_version_note_marker(r, bucket.ino, key);
		if (e) {
			s3_xml_raw(&x, "<Error>");
			s3_xml_text(&x, "Key", key);
			if (*vid)
				s3_xml_text(&x, "VersionId", vid);
			s3_xml_text(&x, "Code", s3_err_code(e));
			s3_xml_raw(&x, "</Error>");
		} else if (!quiet) {
			s3_xml_raw(&x, "<Deleted>");
			s3_xml_text(&x, "Key", key);
			if (*vid)
				s3_xml_text(&x, "VersionId", vid);
			deleted_marker(&x, r->version_hdr);
			s3_xml_raw(&x, "</Deleted>");
		}
		r->version_hdr[0] = 0;
	}
	free(body);
	if (found < 0 || !count) {
		s3_xml_free(&x);
		return s3_error(r, S3_MALFORMED_XML, NULL);
	}
	s3_xml_raw(&x, "</DeleteResult>");
	return s3_xml_reply(r, 200, &x);
}
