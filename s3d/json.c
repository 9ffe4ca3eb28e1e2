/*
 * json.c - a small JSON reader for the documents S3 puts in requests
 * (bucket policies, browser POST policies): the whole document parsed
 * into a tree of values, strings decoded (escapes, surrogate pairs), at
 * most JSON_DEPTH levels deep, NUL bytes refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "s3d.h"

#define JSON_DEPTH 16

struct jparse {
	const char *p, *end;
	int depth;
};

void s3_json_free(struct s3_jval *v)
{
	int i, count = v->t == S3_J_OBJ ? 2 * v->n : v->n;

	for (i = 0; v->items && i < count; i++)
		s3_json_free(&v->items[i]);
	free(v->items);
	free(v->s);
	memset(v, 0, sizeof(*v));
}

static void jspace(struct jparse *j)
{
	while (j->p < j->end && strchr(" \t\r\n", *j->p))
		j->p++;
}

static void put_utf8(char **o, unsigned cp)
{
	char *q = *o;

	if (cp < 0x80) {
		*q++ = (char)cp;
	} else if (cp < 0x800) {
		*q++ = (char)(0xc0 | cp >> 6);
		*q++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*q++ = (char)(0xe0 | cp >> 12);
		*q++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*q++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*q++ = (char)(0xf0 | cp >> 18);
		*q++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*q++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*q++ = (char)(0x80 | (cp & 0x3f));
	}
	*o = q;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		int c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* A string at j->p ('"'): decoded into a new NUL-ended buffer. */
static int jstring(struct jparse *j, char **out)
{
	const char *p = j->p + 1;
	char *buf, *o;

	buf = malloc((size_t)(j->end - p) + 1);
	if (!buf)
		return -ENOMEM;
	o = buf;
	while (p < j->end && *p != '"') {
		unsigned cp, lo;

		if ((unsigned char)*p < 0x20)
			goto bad;
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		if (++p == j->end)
			goto bad;
		switch (*p) {
		case '"': case '\\': case '/': *o++ = *p; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (j->end - p < 5 || hex4(p + 1, &cp) || !cp)
				goto bad;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (j->end - p < 7 || p[1] != '\\' || p[2] != 'u' ||
				    hex4(p + 3, &lo) || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				goto bad;
			}
			put_utf8(&o, cp);
			break;
		default:
			goto bad;
		}
		p++;
	}
	if (p == j->end)
		goto bad;
	*o = 0;
	j->p = p + 1;
	*out = buf;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

static int jvalue(struct jparse *j, struct s3_jval *v);

/* Append one more slot (two for an object: key and value). */
static int jgrow(struct s3_jval *v, int per)
{
	struct s3_jval *n = realloc(v->items, (size_t)(v->n + 1) * per *
					   sizeof(*n));

	if (!n)
		return -ENOMEM;
	memset(n + v->n * per, 0, per * sizeof(*n));
	v->items = n;
	return 0;
}

static int jcontainer(struct jparse *j, struct s3_jval *v, char close)
{
	int per = close == '}' ? 2 : 1, rc;

	if (++j->depth > JSON_DEPTH)
		return -EINVAL;
	j->p++;
	jspace(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		struct s3_jval *slot;

		rc = jgrow(v, per);
		if (rc)
			return rc;
		slot = &v->items[v->n * per];
		v->n++;
		jspace(j);
		if (per == 2) {
			if (j->p == j->end || *j->p != '"')
				return -EINVAL;
			slot->t = S3_J_STR;
			rc = jstring(j, &slot->s);
			if (rc)
				return rc;
			jspace(j);
			if (j->p == j->end || *j->p++ != ':')
				return -EINVAL;
			slot++;
		}
		rc = jvalue(j, slot);
		if (rc)
			return rc;
		jspace(j);
		if (j->p == j->end)
			return -EINVAL;
		if (*j->p == close) {
			j->p++;
			j->depth--;
			return 0;
		}
		if (*j->p++ != ',')
			return -EINVAL;
	}
}

static int jword(struct jparse *j, struct s3_jval *v, enum s3_jtype t,
		 const char *accept)
{
	size_t n = 0;

	while (j->p + n < j->end && strchr(accept, j->p[n]) && j->p[n])
		n++;
	if (!n)
		return -EINVAL;
	v->t = t;
	v->s = strndup(j->p, n);
	if (!v->s)
		return -ENOMEM;
	j->p += n;
	if (t == S3_J_BOOL && strcmp(v->s, "true") && strcmp(v->s, "false"))
		return -EINVAL;
	if (t == S3_J_NULL && strcmp(v->s, "null"))
		return -EINVAL;
	return 0;
}

static int jvalue(struct jparse *j, struct s3_jval *v)
{
	jspace(j);
	if (j->p == j->end)
		return -EINVAL;
	switch (*j->p) {
	case '{':
		v->t = S3_J_OBJ;
		return jcontainer(j, v, '}');
	case '[':
		v->t = S3_J_ARR;
		return jcontainer(j, v, ']');
	case '"':
		v->t = S3_J_STR;
		return jstring(j, &v->s);
	case 't': case 'f':
		return jword(j, v, S3_J_BOOL, "truefals");
	case 'n':
		return jword(j, v, S3_J_NULL, "nul");
	default:
		return jword(j, v, S3_J_NUM, "0123456789+-.eE");
	}
}

/* Parse the whole of [doc, doc + len): 0, -EINVAL, -ENOMEM. */
int s3_json_parse(const char *doc, size_t len, struct s3_jval *v)
{
	struct jparse j = { doc, doc + len, 0 };
	int rc;

	memset(v, 0, sizeof(*v));
	if (memchr(doc, 0, len))
		return -EINVAL;
	rc = jvalue(&j, v);
	jspace(&j);
	if (!rc && j.p != j.end)
		rc = -EINVAL;
	if (rc)
		s3_json_free(v);
	return rc;
}

const struct s3_jval *s3_json_get(const struct s3_jval *o, const char *key)
{
	int i;

	if (o->t != S3_J_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (!strcmp(o->items[2 * i].s, key))
			return &o->items[2 * i + 1];
	return NULL;
}

/* A string or a list of strings: how many, and the i-th. */
int s3_json_strings(const struct s3_jval *v)
{
	int i;

	if (v->t == S3_J_STR)
		return 1;
	if (v->t != S3_J_ARR || !v->n)
		return -1;
	for (i = 0; i < v->n; i++)
		if (v->items[i].t != S3_J_STR)
			return -1;
	return v->n;
}

const char *s3_json_str_at(const struct s3_jval *v, int i)
{
	return v->t == S3_J_STR ? v->s : v->items[i].s;
}
