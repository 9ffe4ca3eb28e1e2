/*
 * lifecycle.c - Get/Put/DeleteBucketLifecycleConfiguration: the S3 form
 * of a bucket's lifecycle rules, read into and rendered from the core's
 * (ag_lifecycle_*, which keeps them and applies them: agora lifecycle).
 *
 * Served: rules with an ID, a Status, a Filter (Prefix, Tag, or And of a
 * Prefix and Tags; or the older Prefix of the rule), Expiration by Days
 * or Date, AbortIncompleteMultipartUpload, and NoncurrentVersionExpiration
 * by NoncurrentDays. What needs what is not here (transitions to other
 * storage classes, NewerNoncurrentVersions, expired delete markers,
 * object size filters) is refused with 501, never stored and ignored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3d.h"

#define RULES_MAX 1000
#define CONFIG_MAX (1 << 20)
#define NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static const char *const refused[] = {
	"Transition", "NoncurrentVersionTransition",
	"NewerNoncurrentVersions", "ObjectSizeGreaterThan",
	"ObjectSizeLessThan",
};

/* Whether [v, v + vl) has a <tag> anywhere inside. */
static int has(const char *v, size_t vl, const char *tag)
{
	const char *p = v, *x;
	size_t xl;

	return !s3_xml_next(&p, v + vl, tag, &x, &xl);
}

/* The text of the <tag> child of [v, v + vl) into out: 0, 1 absent, -1
 * malformed. */
static int text(const char *v, size_t vl, const char *tag, char *out,
		size_t size)
{
	const char *p = v, *x;
	size_t xl;
	int rc = s3_xml_next(&p, v + vl, tag, &x, &xl);

	if (rc)
		return rc;
	return s3_xml_unescape(x, xl, out, size) < 0 ? -1 : 0;
}

static int positive(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 1 || v > 100000)
		return -1;
	*out = (int)v;
	return 0;
}

/* An ISO 8601 date at midnight UTC, as AWS requires. */
static int64_t midnight(const char *s)
{
	struct tm tm = { 0 };
	int n = 0;

	if (sscanf(s, "%4d-%2d-%2dT00:00:00%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &n) != 3 || !n)
		return -1;
	s += n;
	if (!strncmp(s, ".000", 4))
		s += 4;
	if (strcmp(s, "Z") && strcmp(s, "+00:00"))
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* The Filter (or the rule's own Prefix): prefix and tags. */
static enum s3_err filter_read(const char *v, size_t vl,
			       struct ag_lifecycle_rule *rule,
			       const char **detail)
{
	const char *p = v, *f, *and = NULL, *tag;
	size_t fl, al, tagl;
	struct s3_xml tags = { 0 };
	enum s3_err e = S3_OK;
	int n = 0, found, rc;

	rc = s3_xml_next(&p, v + vl, "Filter", &f, &fl);
	if (rc < 0)
		return S3_MALFORMED_XML;
	if (rc) { /* the older form: <Prefix> in the rule */
		rc = text(v, vl, "Prefix", rule->prefix, sizeof(rule->prefix));
		return rc < 0 ? S3_MALFORMED_XML : S3_OK;
	}
	p = f;
	if (!s3_xml_next(&p, f + fl, "And", &and, &al)) {
		f = and;
		fl = al;
	}
	if (text(f, fl, "Prefix", rule->prefix, sizeof(rule->prefix)) < 0)
		return S3_MALFORMED_XML;
	p = f;
	while (!e && !(found = s3_xml_next(&p, f + fl, "Tag", &tag, &tagl)))
		e = s3_tag_from_xml(tag, tagl, &tags, &n, 10, detail);
	if (!e && found < 0)
		e = S3_MALFORMED_XML;
	if (!e && n > 1 && f != and) {
		*detail = "A Filter with more than one Tag needs And.";
		e = S3_MALFORMED_XML;
	}
	if (e) {
		s3_xml_free(&tags);
		return e;
	}
	rule->tags = tags.buf; /* NULL: none */
	return S3_OK;
}

static enum s3_err rule_read(const char *v, size_t vl, int index,
			     struct ag_lifecycle_rule *rule,
			     const char **detail)
{
	char status[16], num[64];
	const char *p, *x;
	size_t i, xl;
	enum s3_err e;
	int rc;

	memset(rule, 0, sizeof(*rule));
	for (i = 0; i < S3_ARRAY_LEN(refused); i++)
		if (has(v, vl, refused[i])) {
			*detail = "Transitions, NewerNoncurrentVersions and "
				  "size filters in lifecycle rules are not "
				  "implemented.";
			return S3_NOT_IMPLEMENTED;
		}
	rc = text(v, vl, "ID", rule->id, sizeof(rule->id));
	if (rc < 0) {
		*detail = "The ID of a rule is at most 255 characters.";
		return S3_INVALID_ARGUMENT;
	}
	if (rc) /* as AWS, a rule without one gets one */
		snprintf(rule->id, sizeof(rule->id), "rule-%d", index + 1);
	if (text(v, vl, "Status", status, sizeof(status)) ||
	    (strcmp(status, "Enabled") && strcmp(status, "Disabled")))
		return S3_MALFORMED_XML;
	rule->enabled = !strcmp(status, "Enabled");
	e = filter_read(v, vl, rule, detail);
	if (e)
		return e;
	p = v;
	if (!s3_xml_next(&p, v + vl, "Expiration", &x, &xl)) {
		if (has(x, xl, "ExpiredObjectDeleteMarker")) {
			*detail = "ExpiredObjectDeleteMarker is not "
				  "implemented.";
			return S3_NOT_IMPLEMENTED;
		}
		if (!text(x, xl, "Days", num, sizeof(num))) {
			if (positive(num, &rule->expire_days)) {
				*detail = "'Days' for Expiration action must "
					  "be a positive integer";
				return S3_INVALID_ARGUMENT;
			}
		} else if (!text(x, xl, "Date", num, sizeof(num))) {
			rule->expire_date = midnight(num);
			if (rule->expire_date <= 0) {
				*detail = "'Date' must be at midnight GMT";
				return S3_INVALID_ARGUMENT;
			}
		} else {
			return S3_MALFORMED_XML;
		}
	}
	p = v;
	if (!s3_xml_next(&p, v + vl, "AbortIncompleteMultipartUpload", &x,
			 &xl)) {
		if (text(x, xl, "DaysAfterInitiation", num, sizeof(num)) ||
		    positive(num, &rule->abort_days)) {
			*detail = "'DaysAfterInitiation' must be a positive "
				  "integer";
			return S3_INVALID_ARGUMENT;
		}
		if (rule->tags) {
			*detail = "AbortIncompleteMultipartUpload cannot be "
				  "specified with Tags.";
			return S3_INVALID_REQUEST;
		}
	}
	p = v;
	if (!s3_xml_next(&p, v + vl, "NoncurrentVersionExpiration", &x, &xl) &&
	    (text(x, xl, "NoncurrentDays", num, sizeof(num)) ||
	     positive(num, &rule->noncurrent_days))) {
		*detail = "'NoncurrentDays' for NoncurrentVersionExpiration "
			  "action must be a positive integer";
		return S3_INVALID_ARGUMENT;
	}
	if (!rule->expire_days && !rule->expire_date && !rule->abort_days &&
	    !rule->noncurrent_days) {
		*detail = "At least one action needs to be specified in a "
			  "rule";
		return S3_INVALID_REQUEST;
	}
	return S3_OK;
}

static enum s3_err config_read(const char *doc, size_t len,
			       struct ag_lifecycle_rule **rules, int *n,
			       const char **detail)
{
	const char *p = doc, *v, *body;
	size_t vl, bl;
	enum s3_err e = S3_OK;
	int found, i;

	*rules = calloc(RULES_MAX, sizeof(**rules));
	*n = 0;
	if (!*rules)
		return S3_INTERNAL;
	if (s3_xml_next(&p, doc + len, "LifecycleConfiguration", &body, &bl))
		return S3_MALFORMED_XML;
	p = body;
	while (!e && !(found = s3_xml_next(&p, body + bl, "Rule", &v, &vl))) {
		if (*n == RULES_MAX) {
			*detail = "A lifecycle configuration has at most 1000 "
				  "rules.";
			return S3_INVALID_ARGUMENT;
		}
		e = rule_read(v, vl, *n, &(*rules)[*n], detail);
		(*n)++; /* its tags are freed with the others */
		for (i = 0; !e && i < *n - 1; i++)
			if (!strcmp((*rules)[i].id, (*rules)[*n - 1].id)) {
				*detail = "Rule ID must be unique. Found same "
					  "ID for more than one rule";
				e = S3_INVALID_ARGUMENT;
			}
	}
	if (!e && (found < 0 || !*n))
		e = S3_MALFORMED_XML;
	return e;
}

static void rule_xml(struct s3_xml *x, const struct ag_lifecycle_rule *r)
{
	char key[S3_TAG_BYTES], value[S3_TAG_BYTES], date[40];
	const char *p = r->tags ? r->tags : "";
	int and = *p && (*r->prefix || strchr(p, '&'));

	s3_xml_raw(x, "<Rule>");
	s3_xml_text(x, "ID", r->id);
	s3_xml_raw(x, "<Filter>%s", and ? "<And>" : "");
	if (*r->prefix || !*p)
		s3_xml_text(x, "Prefix", r->prefix);
	while (!s3_tags_next(&p, key, value)) {
		s3_xml_raw(x, "<Tag>");
		s3_xml_text(x, "Key", key);
		s3_xml_text(x, "Value", value);
		s3_xml_raw(x, "</Tag>");
	}
	s3_xml_raw(x, "%s</Filter>", and ? "</And>" : "");
	s3_xml_text(x, "Status", r->enabled ? "Enabled" : "Disabled");
	if (r->expire_days)
		s3_xml_raw(x, "<Expiration><Days>%d</Days></Expiration>",
			   r->expire_days);
	if (r->expire_date) {
		s3_iso_date(r->expire_date * 1000000000LL, date, sizeof(date));
		s3_xml_raw(x, "<Expiration>");
		s3_xml_text(x, "Date", date);
		s3_xml_raw(x, "</Expiration>");
	}
	if (r->noncurrent_days)
		s3_xml_raw(x, "<NoncurrentVersionExpiration><NoncurrentDays>%d"
			   "</NoncurrentDays></NoncurrentVersionExpiration>",
			   r->noncurrent_days);
	if (r->abort_days)
		s3_xml_raw(x, "<AbortIncompleteMultipartUpload>"
			   "<DaysAfterInitiation>%d</DaysAfterInitiation>"
			   "</AbortIncompleteMultipartUpload>", r->abort_days);
	s3_xml_raw(x, "</Rule>");
}

static enum s3_err lifecycle_target(struct s3_req *r, const char *action,
				    struct ag_attr *b)
{
	enum s3_err e = s3_bucket_get(r, b);

	return e ? e : s3_bucket_owner_or_policy(r, b, action);
}

int s3_get_lifecycle(struct s3_req *r)
{
	struct ag_lifecycle_rule *rules;
	struct ag_attr b;
	enum s3_err e = lifecycle_target(r, "s3:GetLifecycleConfiguration",
					 &b);
	struct s3_xml x;
	int rc, n, i;

	if (e)
		return s3_error(r, e, NULL);
	rc = ag_lifecycle_get(r->c, b.ino, &rules, &n);
	if (rc == -ENODATA)
		return s3_error(r, S3_NO_SUCH_LIFECYCLE, NULL);
	if (rc)
		return s3_error(r, s3_errno(rc, 0), NULL);
	s3_xml_init(&x);
	s3_xml_raw(&x, "<LifecycleConfiguration " NS ">");
	for (i = 0; i < n; i++)
		rule_xml(&x, &rules[i]);
	s3_xml_raw(&x, "</LifecycleConfiguration>");
	ag_lifecycle_free(rules, n);
	return s3_xml_reply(r, 200, &x);
}

int s3_put_lifecycle(struct s3_req *r)
{
	struct ag_lifecycle_rule *rules = NULL;
	struct ag_attr b;
	enum s3_err e = lifecycle_target(r, "s3:PutLifecycleConfiguration",
					 &b);
	const char *detail = NULL;
	char *doc = NULL;
	size_t len;
	int rc, n = 0;

	if (e)
		return s3_error(r, e, NULL);
	rc = s3_read_small_body(r, CONFIG_MAX, &doc, &len);
	if (rc)
		return s3_error(r, (enum s3_err)-rc, NULL);
	e = config_read(doc, len, &rules, &n, &detail);
	free(doc);
	if (!e)
		rc = ag_lifecycle_set(r->c, b.ino, rules, n);
	ag_lifecycle_free(rules, n);
	if (e)
		return s3_error(r, e, detail);
	if (rc)
		return s3_error(r, s3_errno(rc, 0), NULL);
	return s3_reply_head(r, 200, NULL, 0);
}

int s3_delete_lifecycle(struct s3_req *r)
{
	struct ag_attr b;
	enum s3_err e = lifecycle_target(r, "s3:PutLifecycleConfiguration",
					 &b);
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	rc = ag_lifecycle_set(r->c, b.ino, NULL, 0);
	if (rc)
		return s3_error(r, s3_errno(rc, 0), NULL);
	return s3_reply_head(r, 204, NULL, -1);
}
