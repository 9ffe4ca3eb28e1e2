/*
 * policy.c - bucket policies: the JSON documents of Put/Get/
 * DeleteBucketPolicy, checked when they are put and evaluated for each
 * request that touches the bucket (access.c asks).
 *
 * The subset served: Version, Id, Statement (one or a list), each with
 * Sid, Effect (Allow or Deny), Principal ("*", or {"AWS": ...} or
 * {"CanonicalUser": ...} naming users by name or by an IAM user ARN, "*"
 * for everyone), Action and Resource (a string or a list; * and ? match
 * any run of characters and any one; actions are matched without regard
 * to case; a resource must lie in the bucket), and Condition with
 * IpAddress and NotIpAddress on aws:SourceIp (CIDR, IPv4 or IPv6),
 * StringEquals, StringNotEquals, StringLike and StringNotLike on
 * s3:prefix, and Bool on aws:SecureTransport. Anything else a statement
 * may say (NotPrincipal, NotAction, NotResource, other operators and
 * keys) is refused with 501 when the policy is put, never stored and
 * ignored; a document that is no policy is MalformedPolicy.
 *
 * As AWS evaluates: a statement applies when its principal, action,
 * resource and every condition match; any Deny that applies wins over
 * everything, else any Allow that applies allows. A missing condition
 * key matches only the negated operators (StringNot*, NotIpAddress).
 * The document is the private xattr S3_POLICY_XATTR of the bucket, as
 * it was put. A policy that allows PutObject or DeleteObject lets others
 * write the bucket, which its mode must then let them too (access.c,
 * s3_bucket_opened).
 */
#include <arpa/inet.h>
#include <civetweb.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3d.h"

#define POLICY_MAX (20 << 10) /* AWS's limit for a bucket policy */
#define ARN_S3 "arn:aws:s3:::"

/* ---- the subset: checked once, when the policy is put ---- */

static const char *const stmt_keys[] = { "Sid", "Effect", "Principal",
					 "Action", "Resource", "Condition" };

/* Condition operators and the keys each takes. */
static const struct cond_op {
	const char *op, *key;
	int negated;
} cond_ops[] = {
	{ "IpAddress", "aws:SourceIp", 0 },
	{ "NotIpAddress", "aws:SourceIp", 1 },
	{ "StringEquals", "s3:prefix", 0 },
	{ "StringNotEquals", "s3:prefix", 1 },
	{ "StringLike", "s3:prefix", 0 },
	{ "StringNotLike", "s3:prefix", 1 },
	{ "Bool", "aws:SecureTransport", 0 },
};

static const struct cond_op *cond_op(const char *op, const char *key)
{
	size_t i;

	for (i = 0; i < S3_ARRAY_LEN(cond_ops); i++)
		if (!strcmp(cond_ops[i].op, op) &&
		    !strcasecmp(cond_ops[i].key, key))
			return &cond_ops[i];
	return NULL;
}

/* An address or a CIDR block into 16 bytes (IPv4 mapped) and the
 * prefix bits that count; -1 when it is neither. */
static int parse_cidr(const char *s, unsigned char addr[16], int *bits)
{
	char buf[64], *slash;
	struct in_addr v4;
	int v6;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	memset(addr, 0, 16);
	v6 = strchr(buf, ':') != NULL;
	if (v6) {
		if (inet_pton(AF_INET6, buf, addr) != 1)
			return -1;
		*bits = 128;
	} else {
		if (inet_pton(AF_INET, buf, &v4) != 1)
			return -1;
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &v4, 4);
		*bits = 128;
	}
	if (slash) {
		char *end;
		long n = strtol(slash, &end, 10);

		if (end == slash || *end || n < 0 || n > (v6 ? 128 : 32))
			return -1;
		*bits = (int)n + (v6 ? 0 : 96);
	}
	return 0;
}

static enum s3_err check_condition(const struct s3_jval *c, const char **detail)
{
	int i, k;

	if (c->t != S3_J_OBJ)
		return S3_MALFORMED_POLICY;
	for (i = 0; i < c->n; i++) {
		const struct s3_jval *keys = &c->items[2 * i + 1];

		if (keys->t != S3_J_OBJ)
			return S3_MALFORMED_POLICY;
		for (k = 0; k < keys->n; k++) {
			const struct cond_op *op =
				cond_op(c->items[2 * i].s, keys->items[2 * k].s);
			const struct s3_jval *vals = &keys->items[2 * k + 1];
			int n = s3_json_strings(vals), m;

			if (!op) {
				*detail = "Only IpAddress and NotIpAddress "
					  "(aws:SourceIp), String[Not]Equals "
					  "and String[Not]Like (s3:prefix) and "
					  "Bool (aws:SecureTransport) are "
					  "implemented.";
				return S3_NOT_IMPLEMENTED;
			}
			if (n < 0)
				return S3_MALFORMED_POLICY;
			for (m = 0; m < n && !strcmp(op->key, "aws:SourceIp");
			     m++) {
				unsigned char a[16];
				int bits;

				if (parse_cidr(s3_json_str_at(vals, m), a,
					       &bits))
					return S3_MALFORMED_POLICY;
			}
		}
	}
	return S3_OK;
}

static enum s3_err check_principal(const struct s3_jval *p)
{
	int i;

	if (p->t == S3_J_STR)
		return strcmp(p->s, "*") ? S3_MALFORMED_POLICY : S3_OK;
	if (p->t != S3_J_OBJ || !p->n)
		return S3_MALFORMED_POLICY;
	for (i = 0; i < p->n; i++) {
		if (strcmp(p->items[2 * i].s, "AWS") &&
		    strcmp(p->items[2 * i].s, "CanonicalUser"))
			return S3_NOT_IMPLEMENTED; /* Service, Federated */
		if (s3_json_strings(&p->items[2 * i + 1]) < 0)
			return S3_MALFORMED_POLICY;
	}
	return S3_OK;
}

/* A resource lies in the bucket: "arn:aws:s3:::BUCKET" or
 * "arn:aws:s3:::BUCKET/..." (wildcards allowed after the name). */
static int in_bucket(const char *res, const char *bucket)
{
	size_t al = strlen(ARN_S3), bl = strlen(bucket);

	return !strncmp(res, ARN_S3, al) && !strncmp(res + al, bucket, bl) &&
	       (!res[al + bl] || res[al + bl] == '/');
}

static enum s3_err check_statement(const struct s3_jval *s, const char *bucket,
				   const char **detail)
{
	const struct s3_jval *v;
	size_t k;
	int i, n;

	if (s->t != S3_J_OBJ)
		return S3_MALFORMED_POLICY;
	for (i = 0; i < s->n; i++) {
		for (k = 0; k < S3_ARRAY_LEN(stmt_keys); k++)
			if (!strcmp(s->items[2 * i].s, stmt_keys[k]))
				break;
		if (k == S3_ARRAY_LEN(stmt_keys)) {
			*detail = "NotPrincipal, NotAction and NotResource "
				  "are not implemented.";
			return S3_NOT_IMPLEMENTED;
		}
	}
	v = s3_json_get(s, "Effect");
	if (!v || v->t != S3_J_STR ||
	    (strcmp(v->s, "Allow") && strcmp(v->s, "Deny")))
		return S3_MALFORMED_POLICY;
	v = s3_json_get(s, "Principal");
	if (!v)
		return S3_MALFORMED_POLICY;
	if (check_principal(v))
		return check_principal(v);
	v = s3_json_get(s, "Action");
	if (!v || s3_json_strings(v) < 0)
		return S3_MALFORMED_POLICY;
	v = s3_json_get(s, "Resource");
	n = v ? s3_json_strings(v) : -1;
	if (n < 0)
		return S3_MALFORMED_POLICY;
	for (i = 0; i < n; i++)
		if (!in_bucket(s3_json_str_at(v, i), bucket)) {
			*detail = "Policy has invalid resource";
			return S3_MALFORMED_POLICY;
		}
	v = s3_json_get(s, "Condition");
	return v ? check_condition(v, detail) : S3_OK;
}

/* The statements of a parsed policy: how many, and the i-th. */
static int statements(const struct s3_jval *doc, const struct s3_jval **list)
{
	const struct s3_jval *s = s3_json_get(doc, "Statement");

	if (!s)
		return -1;
	if (s->t == S3_J_OBJ) {
		*list = s;
		return 1;
	}
	if (s->t != S3_J_ARR || !s->n)
		return -1;
	*list = s->items;
	return s->n;
}

enum s3_err s3_policy_check(const char *doc, size_t len, const char *bucket,
			    const char **detail)
{
	const struct s3_jval *list;
	struct s3_jval root;
	enum s3_err e = S3_OK;
	int i, n, rc;

	if (len > POLICY_MAX)
		return S3_MALFORMED_POLICY;
	rc = s3_json_parse(doc, len, &root);
	if (rc)
		return rc == -ENOMEM ? S3_INTERNAL : S3_MALFORMED_POLICY;
	n = root.t == S3_J_OBJ ? statements(&root, &list) : -1;
	if (n < 0)
		e = S3_MALFORMED_POLICY;
	for (i = 0; !e && i < root.n; i++)
		if (strcmp(root.items[2 * i].s, "Version") &&
		    strcmp(root.items[2 * i].s, "Id") &&
		    strcmp(root.items[2 * i].s, "Statement"))
			e = S3_MALFORMED_POLICY;
	for (i = 0; !e && i < n; i++)
		e = check_statement(&list[i], bucket, detail);
	s3_json_free(&root);
	return e;
}

/* ---- evaluation ---- */

struct context {
	struct s3_req *r;
	const char *action;    /* "s3:GetObject" */
	char resource[S3_KEY_MAX + 128];
};

static int principal_matches(const struct s3_jval *p, struct s3_req *r)
{
	int i, k, n;

	if (p->t == S3_J_STR)
		return 1; /* "*", as checked */
	for (i = 0; i < p->n; i++) {
		const struct s3_jval *v = &p->items[2 * i + 1];

		n = s3_json_strings(v);
		for (k = 0; k < n; k++) {
			const char *who = s3_json_str_at(v, k), *u;

			if (!strcmp(who, "*"))
				return 1;
			if (r->anonymous)
				continue;
			u = strstr(who, ":user/");
			if (!strncmp(who, "arn:aws:iam::", 13) && u)
				who = u + 6;
			if (!strcmp(who, r->user.name))
				return 1;
		}
	}
	return 0;
}

static int any_matches(const struct s3_jval *v, const char *s, int nocase)
{
	int i, n = s3_json_strings(v);

	for (i = 0; i < n; i++)
		if (!fnmatch(s3_json_str_at(v, i), s,
			     nocase ? FNM_CASEFOLD : 0))
			return 1;
	return 0;
}

static int ip_matches(const char *cidr, const char *remote)
{
	unsigned char want[16], got[16];
	int bits, gbits, i;

	if (parse_cidr(cidr, want, &bits) || parse_cidr(remote, got, &gbits))
		return 0;
	for (i = 0; i < bits; i++)
		if ((want[i / 8] ^ got[i / 8]) & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

/* Whether one operator's key holds: a missing key holds only for the
 * negated operators. */
static int cond_holds(const struct context *cx, const struct cond_op *op,
		      const struct s3_jval *vals)
{
	const char *remote = cx->r->ri->remote_addr;
	const char *prefix = NULL;
	int i, n = s3_json_strings(vals), any = 0;

	if (!strcmp(op->key, "aws:SecureTransport")) {
		for (i = 0; i < n; i++)
			any |= !strcasecmp(s3_json_str_at(vals, i),
					   cx->r->ri->is_ssl ? "true" : "false");
		return any;
	}
	if (!strcmp(op->key, "aws:SourceIp")) {
		for (i = 0; i < n; i++)
			any |= ip_matches(s3_json_str_at(vals, i), remote);
		return op->negated ? !any : any;
	}
	if (!strcmp(cx->action, "s3:ListBucket"))
		prefix = s3_param(cx->r, "prefix");
	if (!prefix)
		prefix = !strcmp(cx->action, "s3:ListBucket") ? "" : NULL;
	if (!prefix)
		return op->negated;
	for (i = 0; i < n; i++)
		any |= strstr(op->op, "Like")
			       ? !fnmatch(s3_json_str_at(vals, i), prefix, 0)
			       : !strcmp(s3_json_str_at(vals, i), prefix);
	return op->negated ? !any : any;
}

static int conditions_hold(const struct context *cx, const struct s3_jval *c)
{
	int i, k;

	for (i = 0; c && i < c->n; i++) {
		const struct s3_jval *keys = &c->items[2 * i + 1];

		for (k = 0; k < keys->n; k++) {
			const struct cond_op *op =
				cond_op(c->items[2 * i].s, keys->items[2 * k].s);

			if (!op || !cond_holds(cx, op, &keys->items[2 * k + 1]))
				return 0;
		}
	}
	return 1;
}

static int statement_applies(const struct context *cx, const struct s3_jval *s)
{
	return principal_matches(s3_json_get(s, "Principal"), cx->r) &&
	       any_matches(s3_json_get(s, "Action"), cx->action, 1) &&
	       any_matches(s3_json_get(s, "Resource"), cx->resource, 0) &&
	       conditions_hold(cx, s3_json_get(s, "Condition"));
}

/* The parsed policy of bucket b: 0, 1 when it has none, or -errno. */
static int policy_load(struct s3_req *r, const struct ag_attr *b,
		       struct s3_jval *root)
{
	char *doc = malloc(POLICY_MAX);
	ssize_t len;
	int rc;

	if (!doc)
		return -ENOMEM;
	len = ag_getxattr(r->c, b->ino, S3_POLICY_XATTR, doc, POLICY_MAX);
	rc = len == -ENODATA ? 1
	     : len < 0 ? (int)len
			     : s3_json_parse(doc, (size_t)len, root);
	free(doc);
	return rc;
}

enum s3_verdict s3_policy_decide(struct s3_req *r, const struct ag_attr *b,
				 const char *bname, const char *action,
				 const char *key)
{
	enum s3_verdict v = S3_POLICY_NONE;
	struct context cx = { .r = r, .action = action };
	const struct s3_jval *list;
	struct s3_jval root;
	int i, n, rc = policy_load(r, b, &root);

	if (rc)
		return rc > 0 ? S3_POLICY_NONE
			      : S3_POLICY_DENY; /* cannot tell: refuse */
	snprintf(cx.resource, sizeof(cx.resource), ARN_S3 "%s%s%s", bname,
		 key ? "/" : "", key ? key : "");
	n = statements(&root, &list);
	for (i = 0; i < n && v != S3_POLICY_DENY; i++) {
		const struct s3_jval *eff = s3_json_get(&list[i], "Effect");

		if (!statement_applies(&cx, &list[i]))
			continue;
		v = !strcmp(eff->s, "Deny") ? S3_POLICY_DENY : S3_POLICY_ALLOW;
	}
	s3_json_free(&root);
	return v;
}

int s3_policy_writes(struct s3_req *r, const struct ag_attr *b)
{
	const struct s3_jval *list;
	struct s3_jval root;
	int i, n, writes = 0;

	if (policy_load(r, b, &root))
		return 0;
	n = statements(&root, &list);
	for (i = 0; i < n && !writes; i++) {
		const struct s3_jval *action = s3_json_get(&list[i], "Action");

		writes = !strcmp(s3_json_get(&list[i], "Effect")->s, "Allow") &&
			 (any_matches(action, "s3:PutObject", 1) ||
			  any_matches(action, "s3:DeleteObject", 1));
	}
	s3_json_free(&root);
	return writes;
}

/* ---- Get/Put/DeleteBucketPolicy: the bucket's owner's alone ---- */

static enum s3_err owner_bucket(struct s3_req *r, struct ag_attr *b)
{
	enum s3_err e = s3_bucket_get(r, b);

	if (!e && !s3_owns(r, b))
		e = S3_ACCESS_DENIED;
	return e;
}

int s3_get_policy(struct s3_req *r)
{
	struct ag_attr b;
	enum s3_err e = owner_bucket(r, &b);
	char *doc;
	ssize_t len;
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	doc = malloc(POLICY_MAX);
	if (!doc)
		return s3_error(r, S3_INTERNAL, NULL);
	len = ag_getxattr(r->c, b.ino, S3_POLICY_XATTR, doc, POLICY_MAX);
	if (len < 0) {
		free(doc);
		return s3_error(r, len == -ENODATA ? S3_NO_SUCH_POLICY
				   : s3_errno((int)len, 0), NULL);
	}
	rc = s3_reply_body(r, 200, "application/json", NULL, doc, (size_t)len);
	free(doc);
	return rc;
}

int s3_put_policy(struct s3_req *r)
{
	struct ag_attr b;
	const char *detail = NULL;
	char *body = NULL;
	size_t len = 0;
	enum s3_err e = owner_bucket(r, &b);
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = s3_read_small_body(r, POLICY_MAX + 1, &body, &len);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	e = s3_policy_check(body, len, r->bucket, &detail);
	if (!e) {
		int was_open = s3_bucket_opened(r, &b);

		rc = ag_setxattr(r->c, b.ino, S3_POLICY_XATTR, body, len, 0);
		if (!rc)
			rc = s3_bucket_mode_follow(r, &b, was_open);
		e = s3_errno(rc, 0);
	}
	free(body);
	if (e)
		return s3_error(r, e, detail);
	return s3_reply_head(r, 204, NULL, -1);
}

int s3_delete_policy(struct s3_req *r)
{
	struct ag_attr b;
	enum s3_err e = owner_bucket(r, &b);
	int rc, was_open;

	if (e)
		return s3_error(r, e, NULL);
	was_open = s3_bucket_opened(r, &b);
	rc = ag_removexattr(r->c, b.ino, S3_POLICY_XATTR);
	if (!rc)
		rc = s3_bucket_mode_follow(r, &b, was_open);
	if (rc && rc != -ENODATA)
		return s3_error(r, s3_errno(rc, 0), NULL);
	return s3_reply_head(r, 204, NULL, -1);
}
