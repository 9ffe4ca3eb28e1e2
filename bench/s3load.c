/*
 * bench/s3load.c - an S3 load generator: PUTs or GETs of one object size
 * over C keep-alive connections at once (libcurl multi, one easy handle
 * per connection), each request signed with AWS SigV4 (UNSIGNED-PAYLOAD).
 * Prints requests/s, MB/s (10^6 bytes) and latency percentiles, and
 * "result KEY VALUE" lines for bench/s3.sh.
 *
 *   s3load -e http://127.0.0.1:PORT [-a KEY -s SECRET] [-r REGION]
 *          -b BUCKET -o put|get|mkbucket [-z SIZE] [-c CONNS] [-n REQUESTS]
 *          [-k KEYS] [-p PREFIX] [-d SECONDS] [-v]
 *
 * put: REQUESTS objects PREFIX-0 .. PREFIX-(REQUESTS-1), each SIZE bytes
 * of distinct content (a random buffer with a request number stamped in
 * every 4 KiB, so that neither deduplication nor compression helps).
 * get: REQUESTS GETs of PREFIX-(i % KEYS); every body must be SIZE bytes.
 * mkbucket: one PUT of the bucket itself. -d stops starting requests after
 * SECONDS (a put then prints how many objects it made: "result requests").
 * -v shows libcurl's trace. Without -a/-s, requests go unsigned. Exit 1 if any request failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define STAMP_EVERY 4096

struct conn {
	CURL *easy;
	struct curl_slist *headers;
	char *buf;           /* PUT body, SIZE bytes, restamped per request */
	size_t len;          /* body bytes of the current PUT */
	size_t sent;         /* bytes of buf handed to curl so far */
	size_t received;     /* body bytes of the current GET */
	struct timespec start;
	char url[512];
};

struct load {
	const char *endpoint, *access, *secret, *region, *bucket, *prefix;
	const char *host;    /* host[:port] of the endpoint, as signed */
	int put;
	size_t size;
	long requests, keys, next, done, failed;
	double seconds;      /* stop starting requests after this long (0: no limit) */
	double *latency_us;  /* one per finished request */
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len);
}

/* SigV4 headers for METHOD PATH (no query string) into *list. */
static int sign(const struct load *l, const char *method, const char *path,
		struct curl_slist **list)
{
	char amzdate[17], date[9], canon[1024], tosign[512], line[640];
	unsigned char digest[32], key[32];
	char digest_hex[65], sig_hex[65], secret_key[256];
	time_t now = time(NULL);
	struct tm tm;
	struct curl_slist *h = NULL;

	gmtime_r(&now, &tm);
	strftime(amzdate, sizeof(amzdate), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, amzdate, 8);
	date[8] = '\0';

	h = curl_slist_append(h, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	snprintf(line, sizeof(line), "x-amz-date: %s", amzdate);
	h = curl_slist_append(h, line);
	/* no "Expect: 100-continue" round trip before a body */
	h = curl_slist_append(h, "Expect:");
	if (l->access) {
		snprintf(canon, sizeof(canon),
			 "%s\n%s\n\nhost:%s\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"
			 "x-amz-date:%s\n\nhost;x-amz-content-sha256;x-amz-date\n"
			 "UNSIGNED-PAYLOAD",
			 method, path, l->host, amzdate);
		SHA256((const unsigned char *)canon, strlen(canon), digest);
		hex(digest, 32, digest_hex);
		snprintf(tosign, sizeof(tosign),
			 "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s",
			 amzdate, date, l->region, digest_hex);
		snprintf(secret_key, sizeof(secret_key), "AWS4%s", l->secret);
		hmac(secret_key, strlen(secret_key), date, key);
		hmac(key, 32, l->region, key);
		hmac(key, 32, "s3", key);
		hmac(key, 32, "aws4_request", key);
		hmac(key, 32, tosign, digest);
		hex(digest, 32, sig_hex);
		snprintf(line, sizeof(line),
			 "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/aws4_request, "
			 "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s",
			 l->access, date, l->region, sig_hex);
		h = curl_slist_append(h, line);
	}
	if (!h)
		return -ENOMEM;
	*list = h;
	return 0;
}

static size_t read_body(char *out, size_t size, size_t nmemb, void *arg)
{
	struct conn *c = arg;
	size_t want = size * nmemb;

	if (want > c->len - c->sent)
		want = c->len - c->sent;
	memcpy(out, c->buf + c->sent, want);
	c->sent += want;
	return want;
}

static size_t write_body(char *in, size_t size, size_t nmemb, void *arg)
{
	struct conn *c = arg;

	(void)in;
	c->received += size * nmemb;
	return size * nmemb;
}

/* Stamp request number n into every 4 KiB of the body: distinct content. */
static void stamp(char *buf, size_t size, uint64_t n)
{
	for (size_t off = 0; off + sizeof(n) <= size; off += STAMP_EVERY) {
		uint64_t v = n * 0x9e3779b97f4a7c15ull ^ off;

		memcpy(buf + off, &v, sizeof(v));
	}
}

/* Start request number l->next on connection c. */
static int start(struct load *l, struct conn *c, CURLM *multi, int mkbucket)
{
	char path[300];
	long key = l->put ? l->next : l->next % l->keys;
	int rc;

	if (mkbucket)
		snprintf(path, sizeof(path), "/%s", l->bucket);
	else
		snprintf(path, sizeof(path), "/%s/%s-%ld", l->bucket, l->prefix, key);
	snprintf(c->url, sizeof(c->url), "%s%s", l->endpoint, path);
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	rc = sign(l, l->put || mkbucket ? "PUT" : "GET", path, &c->headers);
	if (rc)
		return rc;
	curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	if (l->put || mkbucket) {
		size_t n = mkbucket ? 0 : l->size;

		if (!mkbucket)
			stamp(c->buf, l->size, (uint64_t)l->next + 1);
		c->len = n;
		c->sent = 0;
		curl_easy_setopt(c->easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(c->easy, CURLOPT_READFUNCTION, read_body);
		curl_easy_setopt(c->easy, CURLOPT_READDATA, c);
	}
	c->received = 0;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	l->next++;
	return curl_multi_add_handle(multi, c->easy) == CURLM_OK ? 0 : -EIO;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: s3load -e URL [-a KEY -s SECRET] [-r REGION] -b BUCKET\n"
		"              -o put|get|mkbucket [-z SIZE] [-c CONNS] [-n REQUESTS]\n"
		"              [-k KEYS] [-p PREFIX] [-d SECONDS] [-v]\n");
	exit(2);
}

static long number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (errno || *end || v < 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct load l = { .region = "us-east-1", .prefix = "obj", .size = 4096,
			  .requests = 1000 };
	const char *op = NULL;
	struct conn *conns = NULL;
	CURLM *multi = NULL;
	long nconns = 1, running = 0;
	char hostbuf[256];
	double secs;
	int opt, mkbucket, still, verbose = 0, rc = 1;

	while ((opt = getopt(argc, argv, "e:a:s:r:b:o:z:c:n:k:p:d:v")) != -1) {
		switch (opt) {
		case 'e': l.endpoint = optarg; break;
		case 'a': l.access = optarg; break;
		case 's': l.secret = optarg; break;
		case 'r': l.region = optarg; break;
		case 'b': l.bucket = optarg; break;
		case 'o': op = optarg; break;
		case 'z': l.size = (size_t)number(optarg); break;
		case 'c': nconns = number(optarg); break;
		case 'n': l.requests = number(optarg); break;
		case 'k': l.keys = number(optarg); break;
		case 'p': l.prefix = optarg; break;
		case 'v': verbose = 1; break;
		case 'd': l.seconds = (double)number(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || !l.endpoint || !l.bucket || !op || nconns < 1 ||
	    !l.requests || (!l.access != !l.secret))
		usage();
	mkbucket = strcmp(op, "mkbucket") == 0;
	l.put = strcmp(op, "put") == 0;
	if (!mkbucket && !l.put && strcmp(op, "get") != 0)
		usage();
	if (mkbucket)
		l.requests = 1, nconns = 1;
	if (!l.keys)
		l.keys = l.requests;
	if (nconns > l.requests)
		nconns = l.requests;
	/* the host as the server sees it in the Host header */
	{
		const char *h = strstr(l.endpoint, "://");

		h = h ? h + 3 : l.endpoint;
		snprintf(hostbuf, sizeof(hostbuf), "%.*s", (int)strcspn(h, "/"), h);
		l.host = hostbuf;
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return 1;
	multi = curl_multi_init();
	conns = calloc((size_t)nconns, sizeof(*conns));
	l.latency_us = calloc((size_t)l.requests, sizeof(double));
	if (!multi || !conns || !l.latency_us)
		goto out;
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, nconns);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, nconns);
	for (long i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		c->easy = curl_easy_init();
		if (!c->easy)
			goto out;
		if (l.put) {
			c->buf = malloc(l.size ? l.size : 1);
			if (!c->buf)
				goto out;
			for (size_t j = 0; j < l.size; j++)
				c->buf[j] = (char)(rand() >> 7);
		}
		curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_body);
		curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
		curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c->easy, CURLOPT_VERBOSE, (long)verbose);
	}

	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < nconns; i++) {
		if (start(&l, &conns[i], multi, mkbucket))
			goto out;
		running++;
	}
	while (running) {
		CURLMsg *msg;
		int left;

		int finished = 0;

		if (curl_multi_perform(multi, &still) != CURLM_OK)
			goto out;
		while ((msg = curl_multi_info_read(multi, &left))) {
			struct conn *c = NULL;
			long status = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			for (long i = 0; i < nconns; i++)
				if (conns[i].easy == msg->easy_handle)
					c = &conns[i];
			curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
			if (msg->data.result != CURLE_OK || status / 100 != 2 ||
			    (!l.put && !mkbucket && c->received != l.size)) {
				if (l.failed++ < 5)
					fprintf(stderr, "s3load: %s %s: %s, HTTP %ld, %zu bytes\n",
						l.put || mkbucket ? "PUT" : "GET", c->url,
						curl_easy_strerror(msg->data.result), status,
						c->received);
			}
			l.latency_us[l.done++] = since(&c->start) * 1e6;
			curl_multi_remove_handle(multi, c->easy);
			running--;
			finished++;
			if (l.next < l.requests &&
			    !(l.seconds > 0 && since(&t0) >= l.seconds)) {
				if (start(&l, c, multi, 0))
					goto out;
				running++;
			}
		}
		/* poll only when nothing finished: a finished request has no
		 * socket left to wake us, its successor needs a perform first */
		if (!finished && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
			goto out;
	}
	secs = since(&t0);

	qsort(l.latency_us, (size_t)l.done, sizeof(double), cmp_double);
	if (mkbucket) {
		printf("mkbucket %s: %s\n", l.bucket, l.failed ? "failed" : "ok");
	} else {
		double ops = l.done / secs, mbps = ops * (double)l.size / 1e6;

		printf("%s %zu bytes x %ld, %ld connections: %.0f req/s, %.1f MB/s, "
		       "p50 %.0f us, p99 %.0f us, %ld failed\n",
		       l.put ? "PUT" : "GET", l.size, l.done, nconns, ops, mbps,
		       l.latency_us[l.done / 2], l.latency_us[l.done * 99 / 100], l.failed);
		printf("result req_per_s %.0f\nresult MBps %.1f\nresult p50_us %.0f\n"
		       "result requests %ld\n",
		       ops, mbps, l.latency_us[l.done / 2], l.done);
	}
	rc = l.failed ? 1 : 0;
out:
	for (long i = 0; conns && i < nconns; i++) {
		if (conns[i].easy) {
			curl_multi_remove_handle(multi, conns[i].easy);
			curl_easy_cleanup(conns[i].easy);
		}
		curl_slist_free_all(conns[i].headers);
		free(conns[i].buf);
	}
	free(conns);
	free(l.latency_us);
	if (multi)
		curl_multi_cleanup(multi);
	curl_global_cleanup();
	return rc;
}
