/*
 * request.c - S3 requests from fuzz input (see request.h).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "request.h"

/* Cut the line at *p ('\n' or the end; a '\r' before it dropped). */
static char *next_line(char **p, char *end)
{
	char *s = *p, *nl;

	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', end - s);
	if (nl) {
		*nl = 0;
		*p = nl + 1;
	} else {
		*p = end;
	}
	if (nl && nl > s && nl[-1] == '\r')
		nl[-1] = 0;
	return s;
}

int fuzz_request_open(struct fuzz_request *f, const uint8_t *data,
		      size_t size)
{
	char *p, *end, *line, *sp, *q;

	memset(f, 0, sizeof(*f));
	f->text = malloc(size + 1);
	if (!f->text)
		return -1;
	memcpy(f->text, data, size);
	f->text[size] = 0;
	p = f->text;
	/* the strings civetweb hands over end at their first NUL */
	end = f->text + strlen(f->text);
	line = next_line(&p, end);
	sp = line ? strchr(line, ' ') : NULL;
	if (!sp) {
		free(f->text);
		return -1;
	}
	*sp = 0;
	f->ri.request_method = line;
	f->ri.request_uri = sp + 1;
	sp = strchr(sp + 1, ' ');
	if (sp)
		*sp = 0;
	/* as civetweb splits the target: the query string cut off */
	q = strchr(f->ri.request_uri, '?');
	if (q) {
		*q = 0;
		f->ri.query_string = q + 1;
	}
	f->ri.content_length = -1;
	f->r.ri = &f->ri;
	f->r.conf = &f->conf;
	f->r.method = f->ri.request_method;
	while ((line = next_line(&p, end)) && *line) {
		char *colon = strchr(line, ':');
		struct mg_header *h;

		if (!colon || f->ri.num_headers >= MG_MAX_HEADERS)
			continue;
		*colon = 0;
		h = &f->ri.http_headers[f->ri.num_headers++];
		h->name = line;
		h->value = colon + 1 + strspn(colon + 1, " \t");
	}
	f->body = p < end ? p : "";
	f->body_len = p < end ? (size_t)(end - p) : 0;
	f->r.mem_body = f->body;
	f->r.mem_left = f->body_len;
	line = (char *)s3_header(&f->r, "Content-Length");
	if (line)
		f->ri.content_length = strtoll(line, NULL, 10);
	strcpy(f->conf.domain, "s3.test");
	strcpy(f->conf.region, "us-east-1");
	f->conf.max_skew = 30 * 365 * 86400;
	return 0;
}

void fuzz_request_close(struct fuzz_request *f)
{
	s3_req_free(&f->r);
	free(f->text);
}
