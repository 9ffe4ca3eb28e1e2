/*
 * sigv4.c - AWS Signature Version 4: the Authorization header form and
 * presigned URLs (X-Amz-* query parameters with an expiry). The canonical
 * request is rebuilt from what was sent: the path decoded and re-encoded
 * the SigV4 way (so every client's escaping of special characters maps to
 * one form), the query sorted, the signed headers trimmed. The signing key
 * is kept on the request for aws-chunked bodies (body.c).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3d.h"

#define ALGO "AWS4-HMAC-SHA256"
#define MAX_PRESIGN_EXPIRY 604800

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t md[32];

	SHA256(data, len, md);
	s3_hex(md, 32, out);
}

/* SHA-256 fetched once: OpenSSL 3's HMAC() looks the algorithms up on
 * every call, which was a tenth of a small GET's time (five HMACs each). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* H(key ^ pad, data) into out. */
static int hmac_half(EVP_MD_CTX *ctx, const uint8_t *key, uint8_t pad,
		     const void *data, size_t len, uint8_t out[32])
{
	uint8_t k[64];
	int i;

	for (i = 0; i < 64; i++)
		k[i] = key[i] ^ pad;
	return EVP_DigestInit_ex(ctx, sha256_md, NULL) &&
	       EVP_DigestUpdate(ctx, k, sizeof(k)) &&
	       EVP_DigestUpdate(ctx, data, len) &&
	       EVP_DigestFinal_ex(ctx, out, NULL);
}

/* HMAC-SHA256 (RFC 2104). A failure leaves out zeroed, which matches no
 * signature. */
void s3_hmac(const uint8_t *key, size_t klen, const void *data, size_t len,
	     uint8_t out[32])
{
	uint8_t k[64] = { 0 }, inner[32];
	EVP_MD_CTX *ctx;
	int ok;

	pthread_once(&sha256_once, sha256_fetch);
	ctx = EVP_MD_CTX_new();
	if (klen > sizeof(k))
		SHA256(key, klen, k);
	else
		memcpy(k, key, klen);
	ok = ctx && sha256_md &&
	     hmac_half(ctx, k, 0x36, data, len, inner) &&
	     hmac_half(ctx, k, 0x5c, inner, sizeof(inner), out);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		memset(out, 0, 32);
}

/* What the Authorization header or the query says. */
struct auth {
	char access[64], date[16], region[64], service[16];
	char signed_headers[1024];
	char signature[80];
	char amz_date[32];
	long expires; /* presigned only */
	int presigned;
};

/* Credential=AK/YYYYMMDD/region/s3/aws4_request */
static int parse_credential(struct auth *a, const char *cred, size_t len)
{
	char buf[256], term[32];

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, cred, len);
	buf[len] = 0;
	if (sscanf(buf, "%63[^/]/%15[^/]/%63[^/]/%15[^/]/%31s", a->access,
		   a->date, a->region, a->service, term) != 5 ||
	    strcmp(term, "aws4_request") || strlen(a->date) != 8)
		return -1;
	return 0;
}

static int copy_field(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(dst, src, len);
	dst[len] = 0;
	return 0;
}

static enum s3_err parse_header_auth(const char *h, struct auth *a)
{
	const char *p = h + strlen(ALGO);
	int have = 0;

	while (*p) {
		const char *eq, *end;

		p += strspn(p, " ,");
		if (!*p)
			break;
		eq = strchr(p, '=');
		if (!eq)
			return S3_AUTH_MALFORMED;
		end = eq + 1 + strcspn(eq + 1, ",");
		if (!strncmp(p, "Credential=", 11)) {
			if (parse_credential(a, eq + 1, end - eq - 1))
				return S3_AUTH_MALFORMED;
			have |= 1;
		} else if (!strncmp(p, "SignedHeaders=", 14)) {
			if (copy_field(a->signed_headers,
				       sizeof(a->signed_headers), eq + 1,
				       end - eq - 1))
				return S3_AUTH_MALFORMED;
			have |= 2;
		} else if (!strncmp(p, "Signature=", 10)) {
			if (copy_field(a->signature, sizeof(a->signature),
				       eq + 1, end - eq - 1))
				return S3_AUTH_MALFORMED;
			have |= 4;
		}
		p = end;
	}
	return have == 7 ? S3_OK : S3_AUTH_MALFORMED;
}

static enum s3_err parse_query_auth(struct s3_req *r, struct auth *a)
{
	const char *cred = s3_param(r, "X-Amz-Credential");
	const char *sh = s3_param(r, "X-Amz-SignedHeaders");
	const char *sig = s3_param(r, "X-Amz-Signature");
	const char *date = s3_param(r, "X-Amz-Date");
	const char *exp = s3_param(r, "X-Amz-Expires");
	char *e;

	if (strcmp(s3_param(r, "X-Amz-Algorithm"), ALGO))
		return S3_AUTH_MALFORMED;
	if (!cred || !sh || !sig || !date || !exp)
		return S3_AUTH_MALFORMED;
	if (parse_credential(a, cred, strlen(cred)) ||
	    copy_field(a->signed_headers, sizeof(a->signed_headers), sh,
		       strlen(sh)) ||
	    copy_field(a->signature, sizeof(a->signature), sig, strlen(sig)) ||
	    copy_field(a->amz_date, sizeof(a->amz_date), date, strlen(date)))
		return S3_AUTH_MALFORMED;
	a->expires = strtol(exp, &e, 10);
	if (*e || a->expires < 1 || a->expires > MAX_PRESIGN_EXPIRY)
		return S3_AUTH_MALFORMED;
	a->presigned = 1;
	return S3_OK;
}

static time_t parse_amz_date(const char *s)
{
	struct tm tm;
	const char *e;

	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
	if (!e || *e)
		return (time_t)-1;
	return timegm(&tm);
}

/* Growing string for the canonical request. */
struct str {
	char *p;
	size_t len, cap;
	int error;
};

static void put(struct str *s, const char *data, size_t len)
{
	if (s->error)
		return;
	if (s->len + len + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 1024;
		char *np;

		while (cap < s->len + len + 1)
			cap *= 2;
		np = realloc(s->p, cap);
		if (!np) {
			s->error = 1;
			return;
		}
		s->p = np;
		s->cap = cap;
	}
	memcpy(s->p + s->len, data, len);
	s->len += len;
	s->p[s->len] = 0;
}

static void puts_(struct str *s, const char *z)
{
	put(s, z, strlen(z));
}

static void put_encoded(struct str *s, const char *z, int keep_slash)
{
	size_t n = strlen(z);
	char *enc = malloc(3 * n + 1);

	if (!enc) {
		s->error = 1;
		return;
	}
	s3_uri_encode(z, n, keep_slash, enc);
	puts_(s, enc);
	free(enc);
}

struct qpair {
	char *name, *value; /* encoded */
};

static int by_pair(const void *x, const void *y)
{
	const struct qpair *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : strcmp(a->value, b->value);
}

static int canonical_query(struct s3_req *r, struct str *s)
{
	struct qpair *q = calloc(r->nparams + 1, sizeof(*q));
	int i, n = 0, rc = 0;

	if (!q)
		return -1;
	for (i = 0; i < r->nparams; i++) {
		const struct s3_param *p = &r->params[i];
		size_t nl = strlen(p->name), vl = strlen(p->value);

		if (!strcmp(p->name, "X-Amz-Signature"))
			continue;
		q[n].name = malloc(3 * nl + 1);
		q[n].value = malloc(3 * vl + 1);
		if (!q[n].name || !q[n].value) {
			free(q[n].name);
			free(q[n].value);
			rc = -1;
			goto out;
		}
		s3_uri_encode(p->name, nl, 0, q[n].name);
		s3_uri_encode(p->value, vl, 0, q[n].value);
		n++;
	}
	qsort(q, n, sizeof(*q), by_pair);
	for (i = 0; i < n; i++) {
		if (i)
			puts_(s, "&");
		puts_(s, q[i].name);
		puts_(s, "=");
		puts_(s, q[i].value);
	}
out:
	for (i = 0; i < n; i++) {
		free(q[i].name);
		free(q[i].value);
	}
	free(q);
	return rc;
}

/* name:value with the value trimmed and inner runs of spaces collapsed. */
static int canonical_header(struct s3_req *r, struct str *s, const char *name)
{
	const char *v = s3_header(r, name);
	int space = 0;

	if (!v)
		return -1;
	puts_(s, name);
	puts_(s, ":");
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space)
			puts_(s, " ");
		space = 0;
		put(s, v, 1);
	}
	puts_(s, "\n");
	return 0;
}

static enum s3_err canonical_request(struct s3_req *r, const struct auth *a,
				     const char *payload, struct str *s)
{
	char *path = strdup(r->raw_path), *names, *tok, *save = NULL;
	int missing = 0;

	if (!path)
		return S3_INTERNAL;
	if (s3_uri_decode(path)) {
		free(path);
		return S3_INVALID_ARGUMENT;
	}
	puts_(s, r->method);
	puts_(s, "\n");
	put_encoded(s, path, 1);
	free(path);
	puts_(s, "\n");
	if (canonical_query(r, s))
		return S3_INTERNAL;
	puts_(s, "\n");
	names = strdup(a->signed_headers);
	if (!names)
		return S3_INTERNAL;
	for (tok = strtok_r(names, ";", &save); tok;
	     tok = strtok_r(NULL, ";", &save))
		missing |= canonical_header(r, s, tok);
	free(names);
	if (missing)
		return S3_SIGNATURE_MISMATCH;
	puts_(s, "\n");
	puts_(s, a->signed_headers);
	puts_(s, "\n");
	puts_(s, payload);
	return s->error ? S3_INTERNAL : S3_OK;
}

static void signing_key(const char *secret, const struct auth *a,
			uint8_t key[32])
{
	char k0[128];

	snprintf(k0, sizeof(k0), "AWS4%s", secret);
	s3_hmac((uint8_t *)k0, strlen(k0), a->date, strlen(a->date), key);
	s3_hmac(key, 32, a->region, strlen(a->region), key);
	s3_hmac(key, 32, a->service, strlen(a->service), key);
	s3_hmac(key, 32, "aws4_request", 12, key);
}

static int cluster_user(void *arg, const char *access, struct ag_user *u)
{
	return ag_user_get(arg, access, u);
}

enum s3_err s3_auth_post(struct s3_req *r, const char *credential,
			 const char *amz_date, const char *policy,
			 const char *signature)
{
	struct auth a = { 0 };
	uint8_t key[32], mac[32];
	char sig[65];

	if (parse_credential(&a, credential, strlen(credential)) ||
	    strcmp(a.service, "s3") || strlen(amz_date) != 16 ||
	    strncmp(amz_date, a.date, 8))
		return S3_AUTH_MALFORMED;
	if (ag_user_get(r->c, a.access, &r->user))
		return S3_INVALID_ACCESS_KEY;
	signing_key(r->user.secret, &a, key);
	s3_hmac(key, 32, policy, strlen(policy), mac);
	s3_hex(mac, 32, sig);
	if (strlen(signature) != 64 || CRYPTO_memcmp(sig, signature, 64)) {
		memset(&r->user, 0, sizeof(r->user));
		r->user.uid = r->user.gid = S3_NOBODY;
		return S3_SIGNATURE_MISMATCH;
	}
	r->anonymous = 0;
	return S3_OK;
}

enum s3_err s3_auth(struct s3_req *r)
{
	return s3_auth_with(r, cluster_user, r->c);
}

enum s3_err s3_auth_with(struct s3_req *r,
			 int (*user_get)(void *arg, const char *access,
					 struct ag_user *u),
			 void *arg)
{
	const char *h = s3_header(r, "Authorization");
	const char *payload = "UNSIGNED-PAYLOAD";
	struct auth a = { 0 };
	struct str creq = { 0 };
	char sts[512], hash[65], sig[65];
	uint8_t mac[32];
	time_t t, now = time(NULL);
	enum s3_err e;

	if (h && !strncmp(h, ALGO " ", strlen(ALGO) + 1)) {
		const char *d = s3_header(r, "x-amz-date");

		e = parse_header_auth(h, &a);
		if (e)
			return e;
		if (!d)
			d = s3_header(r, "Date");
		if (!d || copy_field(a.amz_date, sizeof(a.amz_date), d,
				     strlen(d)))
			return S3_ACCESS_DENIED;
		payload = s3_header(r, "x-amz-content-sha256");
		if (!payload)
			return S3_MISSING_SECURITY_HEADER;
	} else if (s3_param(r, "X-Amz-Algorithm")) {
		e = parse_query_auth(r, &a);
		if (e)
			return e;
		/* a presigned URL may carry a signed payload hash header */
		if (s3_header(r, "x-amz-content-sha256") &&
		    strstr(a.signed_headers, "x-amz-content-sha256"))
			payload = s3_header(r, "x-amz-content-sha256");
	} else if (h) {
		return S3_AUTH_MALFORMED; /* V2 signatures are not served */
	} else {
		/* no one: the permissions decide (access.c). The body is
		 * what x-amz-content-sha256 says (a hash, or aws-chunked
		 * with no signatures), never signed chunks no key checks */
		const char *ph = s3_header(r, "x-amz-content-sha256");

		if (ph && !strncmp(ph, "STREAMING-AWS4-", 15))
			return S3_ACCESS_DENIED;
		if (ph && strlen(ph) >= sizeof(r->payload_hash))
			return S3_INVALID_ARGUMENT;
		if (ph)
			payload = ph;
		memset(&r->user, 0, sizeof(r->user));
		r->user.uid = r->user.gid = S3_NOBODY;
		r->anonymous = 1;
		snprintf(r->payload_hash, sizeof(r->payload_hash), "%s",
			 payload);
		return S3_OK;
	}
	if (strcmp(a.service, "s3"))
		return S3_AUTH_MALFORMED;
	t = parse_amz_date(a.amz_date);
	if (t == (time_t)-1 || strncmp(a.amz_date, a.date, 8))
		return S3_AUTH_MALFORMED;
	if (a.presigned) {
		if (now > t + a.expires)
			return S3_EXPIRED;
		if (t > now + r->conf->max_skew)
			return S3_TIME_SKEWED;
	} else if (t > now + r->conf->max_skew || t < now - r->conf->max_skew) {
		return S3_TIME_SKEWED;
	}
	if (strlen(payload) >= sizeof(r->payload_hash))
		return S3_INVALID_ARGUMENT;
	if (user_get(arg, a.access, &r->user))
		return S3_INVALID_ACCESS_KEY;
	e = canonical_request(r, &a, payload, &creq);
	if (e) {
		free(creq.p);
		return e;
	}
	s3_sha256_hex(creq.p, creq.len, hash);
	free(creq.p);
	snprintf(r->scope, sizeof(r->scope), "%s/%s/%s/aws4_request",
		 a.date, a.region, a.service);
	snprintf(sts, sizeof(sts), ALGO "\n%s\n%s\n%s", a.amz_date, r->scope,
		 hash);
	signing_key(r->user.secret, &a, r->signing_key);
	s3_hmac(r->signing_key, 32, sts, strlen(sts), mac);
	s3_hex(mac, 32, sig);
	if (strlen(a.signature) != 64 ||
	    CRYPTO_memcmp(sig, a.signature, 64))
		return S3_SIGNATURE_MISMATCH;
	snprintf(r->payload_hash, sizeof(r->payload_hash), "%s", payload);
	snprintf(r->amz_date, sizeof(r->amz_date), "%.16s", a.amz_date);
	memcpy(r->seed_signature, sig, sizeof(sig));
	return S3_OK;
}
