/*
 * xml.c - the XML S3 speaks: a growing buffer for replies (text escaped
 * once, here) and a small scanner for the few request bodies S3 has
 * (DeleteObjects, CompleteMultipartUpload). The scanner knows elements,
 * text and the five entities plus numeric references; nothing else of XML
 * appears in these bodies, so anything else is malformed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3d.h"

void s3_xml_init(struct s3_xml *x)
{
	memset(x, 0, sizeof(*x));
	s3_xml_raw(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

void s3_xml_free(struct s3_xml *x)
{
	free(x->buf);
	x->buf = NULL;
}

static int reserve(struct s3_xml *x, size_t more)
{
	char *nb;
	size_t cap;

	if (x->error)
		return -1;
	if (x->len + more + 1 <= x->cap)
		return 0;
	cap = x->cap ? x->cap : 1024;
	while (cap < x->len + more + 1)
		cap *= 2;
	nb = realloc(x->buf, cap);
	if (!nb) {
		x->error = 1;
		return -1;
	}
	x->buf = nb;
	x->cap = cap;
	return 0;
}

void s3_xml_raw(struct s3_xml *x, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(x, n))
		return;
	va_start(ap, fmt);
	vsnprintf(x->buf + x->len, n + 1, fmt, ap);
	va_end(ap);
	x->len += n;
}

void s3_xml_textn(struct s3_xml *x, const char *tag, const char *text,
		  size_t len)
{
	size_t i;

	s3_xml_raw(x, "<%s>", tag);
	if (reserve(x, len * 6))
		return;
	for (i = 0; i < len; i++) {
		unsigned char ch = text[i];
		const char *ent = NULL;

		switch (ch) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&apos;"; break;
		}
		if (ent) {
			memcpy(x->buf + x->len, ent, strlen(ent));
			x->len += strlen(ent);
		} else if (ch < 0x20 && ch != '\t' && ch != '\n') {
			x->len += sprintf(x->buf + x->len, "&#%u;", ch);
		} else {
			x->buf[x->len++] = ch;
		}
	}
	x->buf[x->len] = 0;
	s3_xml_raw(x, "</%s>", tag);
}

void s3_xml_text(struct s3_xml *x, const char *tag, const char *text)
{
	s3_xml_textn(x, tag, text, strlen(text));
}

int s3_xml_reply(struct s3_req *r, int status, struct s3_xml *x)
{
	int rc;

	if (x->error) {
		s3_xml_free(x);
		return s3_error(r, S3_INTERNAL, "out of memory");
	}
	rc = s3_reply_body(r, status, "application/xml", NULL, x->buf, x->len);
	s3_xml_free(x);
	return rc;
}

/* Past the end of a tag starting at p ('<'), NULL if unterminated. */
static const char *tag_end(const char *p, const char *end)
{
	const char *gt = memchr(p, '>', end - p);

	return gt ? gt + 1 : NULL;
}

static int name_ends(char ch)
{
	return ch == '>' || ch == '/' || ch == ' ' || ch == '\t' ||
	       ch == '\n' || ch == '\r';
}

/* Whether the tag [lt, te) ('<' to past '>') opens tag (tl bytes):
 * <tag>, <tag attr...> or <tag/>, not <tagger>. Every byte looked at lies
 * inside the tag: a body may end in any prefix of one. */
static int opens(const char *lt, const char *te, const char *tag, size_t tl)
{
	return (size_t)(te - lt) >= tl + 2 && !memcmp(lt + 1, tag, tl) &&
	       name_ends(lt[tl + 1]);
}

/* Whether [lt, te) is </tag> (white space allowed before '>'). */
static int closes(const char *lt, const char *te, const char *tag, size_t tl)
{
	return (size_t)(te - lt) >= tl + 3 && lt[1] == '/' &&
	       !memcmp(lt + 2, tag, tl) && name_ends(lt[tl + 2]) &&
	       lt[tl + 2] != '/';
}

int s3_xml_next(const char **pp, const char *end, const char *tag,
		const char **val, size_t *vlen)
{
	size_t tl = strlen(tag);
	const char *p = *pp;

	while (p < end) {
		const char *lt = memchr(p, '<', end - p), *te, *close;
		int depth = 0;

		if (!lt)
			return 1;
		te = tag_end(lt, end);
		if (!te)
			return -1;
		if (opens(lt, te, tag, tl)) {
			if (te[-2] == '/') { /* <tag/> : empty */
				*val = te;
				*vlen = 0;
				*pp = te;
				return 0;
			}
			/* find the matching close, counting nested same tags */
			for (close = te; close < end;) {
				const char *l = memchr(close, '<', end - close);
				const char *e2;

				if (!l)
					return -1;
				e2 = tag_end(l, end);
				if (!e2)
					return -1;
				if (closes(l, e2, tag, tl)) {
					if (!depth) {
						*val = te;
						*vlen = l - te;
						*pp = e2;
						return 0;
					}
					depth--;
				} else if (opens(l, e2, tag, tl) && e2[-2] != '/') {
					depth++;
				}
				close = e2;
			}
			return -1;
		}
		p = te;
	}
	return 1;
}

/* A character reference's digits [p, end) up to ';': the character
 * (ASCII only, not NUL) and *next past the ';', or -1. */
static int char_ref(const char *p, const char *end, const char **next)
{
	unsigned v = 0;
	int hex = p < end && *p == 'x', digits = 0;

	for (p += hex; p < end && *p != ';'; p++, digits++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' :
			hex && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 :
			hex && *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;

		if (d < 0)
			return -1;
		v = v * (hex ? 16 : 10) + d;
		if (v > 0x7f)
			return -1;
	}
	if (p == end || !digits || !v)
		return -1;
	*next = p + 1;
	return (int)v;
}

int s3_xml_unescape(const char *in, size_t len, char *out, size_t size)
{
	static const struct {
		const char *name;
		char ch;
	} ents[] = { { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' },
		     { "quot;", '"' }, { "apos;", '\'' } };
	size_t i = 0, o = 0, k;

	while (i < len) {
		char ch = in[i++];

		if (ch == '<')
			return -1;
		if (ch == '&') {
			for (k = 0; k < S3_ARRAY_LEN(ents); k++) {
				size_t n = strlen(ents[k].name);

				if (len - i >= n && !memcmp(in + i, ents[k].name, n)) {
					ch = ents[k].ch;
					i += n;
					break;
				}
			}
			if (k == S3_ARRAY_LEN(ents)) {
				const char *next;
				int v;

				if (i >= len || in[i] != '#')
					return -1;
				v = char_ref(in + i + 1, in + len, &next);
				if (v < 0)
					return -1;
				ch = (char)v;
				i = next - in;
			}
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = ch;
	}
	out[o] = 0;
	return (int)o;
}

/* The MD5 a <Part>'s ETag names (32 lowercase hex digits, quoted or
 * not): 0, or -1 for anything else (an ETag no part can have). */
static int part_md5(const char *v, size_t vl, uint8_t md5[16])
{
	static const char hex[] = "0123456789abcdef";
	char buf[128];
	int n = s3_xml_unescape(v, vl, buf, sizeof(buf)), i;
	char *p = buf;

	if (n < 0)
		return -1;
	while (*p == ' ' || *p == '"')
		p++;
	n = (int)strcspn(p, "\" ");
	if (n != 32)
		return -1;
	for (i = 0; i < 32; i++) {
		const char *d = memchr(hex, p[i], 16);

		if (!d)
			return -1;
		if (i % 2)
			md5[i / 2] |= (uint8_t)(d - hex);
		else
			md5[i / 2] = (uint8_t)((d - hex) << 4);
	}
	return 0;
}

enum s3_err s3_xml_part(const char *v, size_t vlen, long *number,
			uint8_t md5[16])
{
	const char *p = v, *nv, *ev;
	size_t nvl, evl;
	char num[16];

	if (s3_xml_next(&p, v + vlen, "PartNumber", &nv, &nvl) ||
	    (p = v, s3_xml_next(&p, v + vlen, "ETag", &ev, &evl)) ||
	    nvl >= sizeof(num))
		return S3_MALFORMED_XML;
	memcpy(num, nv, nvl);
	num[nvl] = 0;
	*number = strtol(num, NULL, 10);
	return part_md5(ev, evl, md5) ? S3_INVALID_PART : S3_OK;
}

int s3_read_small_body(struct s3_req *r, size_t max, char **out, size_t *len)
{
	struct s3_body b;
	size_t n = 0;
	char *buf;
	enum s3_err e = s3_body_open(&b, r);
	long got;

	if (e)
		return -(int)e;
	buf = malloc(max + 1);
	if (!buf) {
		s3_body_close(&b);
		return -(int)S3_INTERNAL;
	}
	while ((got = s3_body_read(&b, buf + n, max - n)) > 0) {
		n += got;
		if (n == max) {
			char extra;

			/* one more byte would be too much */
			got = s3_body_read(&b, &extra, 1);
			if (got > 0)
				got = -(long)S3_MALFORMED_XML;
			break;
		}
	}
	s3_body_close(&b);
	if (got < 0) {
		free(buf);
		return (int)got;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}
