/*
 * notify.c - bucket notifications: Put/GetBucketNotificationConfiguration
 * kept as the core's triggers (agora(8), TRIGGERS), which agora trigger
 * run delivers with the triggers of every other face, for events from
 * every protocol: an object written over FUSE, NFS or SMB is notified as
 * one PUT over S3 is.
 *
 * Each TopicConfiguration, QueueConfiguration or CloudFunctionConfiguration
 * becomes one webhook trigger named s3.HASH.ID (HASH: 16 hex digits of
 * the SHA-256 of the bucket's name, ID: the configuration's Id), of
 * prefix "/BUCKET/" and the Prefix rule, suffix the Suffix rule, and of
 * the S3 form (the body POSTed is the S3 event notification). A PUT
 * replaces the bucket's triggers in one transaction; DeleteBucket drops
 * them. The destination is an http or https URL, written as itself or
 * as the ARN arn:agora:webhook:::URL (the form a GET answers with): an
 * Agora cluster has no SNS, SQS or Lambda to name. Events: s3:
 * ObjectCreated:* (every PUT, copy, completed upload and close after
 * writes) and s3:ObjectRemoved:* or s3:ObjectRemoved:Delete (there are
 * no delete markers). The other events, a subtype of ObjectCreated (the
 * log does not tell a PUT from a copy) and EventBridgeConfiguration are
 * refused with 501 rather than stored and delivered otherwise than asked.
 *
 * Both are the bucket owner's, or of whom its policy allows
 * s3:PutBucketNotification or s3:GetBucketNotification (http.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3d.h"

#define NOTIFY_BODY_MAX (64 << 10)
#define NOTIFY_MAX 32         /* configurations per bucket */
#define NOTIFY_NAME_MAX 64    /* of a trigger (agora(8)) */
#define NOTIFY_ID_MAX 44      /* that less "s3.HASH." */
#define NOTIFY_TEXT 1024
#define ARN_WEBHOOK "arn:agora:webhook:::"
#define EV_CREATED "s3:ObjectCreated:*"
#define EV_REMOVED "s3:ObjectRemoved:*"

/* The three elements a configuration may be, in the order of their
 * forms (AG_TRIGGER_FORM_S3_TOPIC + i). */
static const char *const elements[][2] = {
	{ "TopicConfiguration", "Topic" },
	{ "QueueConfiguration", "Queue" },
	{ "CloudFunctionConfiguration", "CloudFunction" },
};

struct notify {
	char name[NOTIFY_NAME_MAX + 1];
	char prefix[NOTIFY_TEXT], suffix[NOTIFY_TEXT], url[NOTIFY_TEXT];
	const char *on;
	int form;
};

/* The name of r's bucket's triggers up to the Id: "s3.HASH.". */
static void notify_group(const char *bucket, char out[21])
{
	char sha[65];

	s3_sha256_hex(bucket, strlen(bucket), sha);
	snprintf(out, 21, "s3.%.16s.", sha);
}

/* The text of element tag in [p, end) unescaped into out (size bytes):
 * S3_OK, 1 when absent, or S3_MALFORMED_XML. */
static int xml_field(const char *p, const char *end, const char *tag,
		     char *out, size_t size)
{
	const char *v;
	size_t vl;
	int rc = s3_xml_next(&p, end, tag, &v, &vl);

	if (rc)
		return rc < 0 ? S3_MALFORMED_XML : 1;
	return s3_xml_unescape(v, vl, out, size) < 0 ? S3_MALFORMED_XML
						      : S3_OK;
}

static int id_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
	       ch == '-';
}

/* The events of one configuration as trigger kinds in *on. */
static enum s3_err events_parse(const char *p, const char *end,
				const char **on, const char **detail)
{
	int created = 0, removed = 0, rc;
	char ev[128];
	const char *v;
	size_t vl;

	while ((rc = s3_xml_next(&p, end, "Event", &v, &vl)) == 0) {
		if (s3_xml_unescape(v, vl, ev, sizeof(ev)) < 0)
			return S3_MALFORMED_XML;
		if (!strcmp(ev, EV_CREATED)) {
			created = 1;
		} else if (!strcmp(ev, EV_REMOVED) ||
			   !strcmp(ev, "s3:ObjectRemoved:Delete")) {
			removed = 1;
		} else if (!strncmp(ev, "s3:", 3)) {
			*detail = "Only s3:ObjectCreated:*, s3:ObjectRemoved:* "
				  "and s3:ObjectRemoved:Delete are notified";
			return S3_NOT_IMPLEMENTED;
		} else {
			*detail = "The event is not supported for "
				  "notifications";
			return S3_INVALID_ARGUMENT;
		}
	}
	if (rc < 0)
		return S3_MALFORMED_XML;
	if (!created && !removed) {
		*detail = "A configuration names no event";
		return S3_INVALID_ARGUMENT;
	}
	*on = created && removed ? "closed,deleted"
				 : created ? "closed" : "deleted";
	return S3_OK;
}

/* The Prefix and Suffix rules of a <Filter> into n (after "/BUCKET/"
 * for the prefix). */
static enum s3_err filter_parse(const char *p, const char *end,
				struct notify *n, const char **detail)
{
	const char *f, *k, *kend, *rule;
	size_t fl, kl, rl;
	int rc = s3_xml_next(&p, end, "Filter", &f, &fl), got_p = 0,
	    got_s = 0;

	if (rc)
		return rc < 0 ? S3_MALFORMED_XML : S3_OK;
	rc = s3_xml_next(&f, f + fl, "S3Key", &k, &kl);
	if (rc)
		return rc < 0 ? S3_MALFORMED_XML : S3_OK;
	kend = k + kl;
	while ((rc = s3_xml_next(&k, kend, "FilterRule", &rule, &rl)) == 0) {
		char name[16], value[NOTIFY_TEXT];
		size_t room;
		int *got;
		char *to;

		if (xml_field(rule, rule + rl, "Name", name, sizeof(name)) ||
		    xml_field(rule, rule + rl, "Value", value, sizeof(value)))
			return S3_MALFORMED_XML;
		if (!strcasecmp(name, "prefix")) {
			got = &got_p;
			to = n->prefix + strlen(n->prefix);
			room = sizeof(n->prefix) - strlen(n->prefix);
		} else if (!strcasecmp(name, "suffix")) {
			got = &got_s;
			to = n->suffix;
			room = sizeof(n->suffix);
		} else {
			*detail = "A filter rule is named prefix or suffix";
			return S3_INVALID_ARGUMENT;
		}
		if (*got) {
			*detail = "A filter names a rule twice";
			return S3_INVALID_ARGUMENT;
		}
		*got = 1;
		if (strlen(value) >= room)
			return S3_KEY_TOO_LONG;
		strcpy(to, value);
	}
	return rc < 0 ? S3_MALFORMED_XML : S3_OK;
}

/* One configuration of element i ([p, end) its inner bytes) into n;
 * count is its place, for an Id it does not give. */
static enum s3_err config_parse(struct s3_req *r, int i, const char *p,
				const char *end, int count, struct notify *n,
				const char **detail)
{
	char id[NOTIFY_TEXT], target[NOTIFY_TEXT], group[21];
	const char *url = target;
	enum s3_err e;
	size_t j;
	int rc;

	memset(n, 0, sizeof(*n));
	rc = xml_field(p, end, "Id", id, sizeof(id));
	if (rc == 1)
		snprintf(id, sizeof(id), "notification-%d", count);
	else if (rc)
		return S3_MALFORMED_XML;
	for (j = 0; id[j]; j++)
		if (!id_char_ok(id[j]))
			break;
	if (!j || id[j] || j > NOTIFY_ID_MAX) {
		*detail = "An Id is 1 to 44 letters, digits, '.', '_' or '-'";
		return S3_INVALID_ARGUMENT;
	}
	rc = xml_field(p, end, elements[i][1], target, sizeof(target));
	if (rc)
		return rc == 1 ? S3_INVALID_ARGUMENT : S3_MALFORMED_XML;
	if (!strncmp(target, ARN_WEBHOOK, strlen(ARN_WEBHOOK)))
		url += strlen(ARN_WEBHOOK);
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		*detail = "The destination is an http(s) URL, or "
			  ARN_WEBHOOK "URL";
		return S3_INVALID_ARGUMENT;
	}
	e = events_parse(p, end, &n->on, detail);
	if (e)
		return e;
	notify_group(r->bucket, group);
	snprintf(n->name, sizeof(n->name), "%s%.*s", group, NOTIFY_ID_MAX, id);
	snprintf(n->prefix, sizeof(n->prefix), "/%s/", r->bucket);
	snprintf(n->url, sizeof(n->url), "%s", url);
	n->form = AG_TRIGGER_FORM_S3_TOPIC + i;
	return filter_parse(p, end, n, detail);
}

/* Every configuration of a NotificationConfiguration body into ns. */
static enum s3_err body_parse(struct s3_req *r, const char *body, size_t len,
			      struct notify *ns, size_t *n,
			      const char **detail)
{
	const char *p = body, *end = body + len, *v, *c;
	size_t vl, cl, i, j;
	int rc;

	*n = 0;
	if (s3_xml_next(&p, end, "NotificationConfiguration", &v, &vl))
		return S3_MALFORMED_XML;
	p = v;
	if (s3_xml_next(&p, v + vl, "EventBridgeConfiguration", &c, &cl) == 0) {
		*detail = "EventBridge is not served";
		return S3_NOT_IMPLEMENTED;
	}
	for (i = 0; i < S3_ARRAY_LEN(elements); i++) {
		p = v;
		while ((rc = s3_xml_next(&p, v + vl, elements[i][0], &c,
					 &cl)) == 0) {
			enum s3_err e;

			if (*n == NOTIFY_MAX) {
				*detail = "At most 32 configurations a bucket";
				return S3_INVALID_ARGUMENT;
			}
			e = config_parse(r, (int)i, c, c + cl, (int)*n + 1,
					 &ns[*n], detail);
			if (e)
				return e;
			for (j = 0; j < *n; j++)
				if (!strcmp(ns[j].name, ns[*n].name)) {
					*detail = "Two configurations have "
						  "one Id";
					return S3_INVALID_ARGUMENT;
				}
			(*n)++;
		}
		if (rc < 0)
			return S3_MALFORMED_XML;
	}
	return S3_OK;
}

int s3_put_notification(struct s3_req *r)
{
	struct ag_trigger_spec specs[NOTIFY_MAX];
	struct notify *ns = calloc(NOTIFY_MAX, sizeof(*ns));
	struct ag_attr b;
	const char *detail = NULL;
	char *body = NULL, group[21];
	size_t len = 0, n = 0, i;
	enum s3_err e = ns ? s3_bucket_get(r, &b) : S3_INTERNAL;
	int rc;

	if (!e) {
		rc = s3_read_small_body(r, NOTIFY_BODY_MAX, &body, &len);
		e = rc ? (enum s3_err)-rc
		       : body_parse(r, body, len, ns, &n, &detail);
	}
	for (i = 0; !e && i < n; i++)
		specs[i] = (struct ag_trigger_spec){
			.name = ns[i].name, .prefix = ns[i].prefix,
			.suffix = ns[i].suffix, .on = ns[i].on,
			.webhook = ns[i].url, .form = ns[i].form };
	if (!e) {
		notify_group(r->bucket, group);
		rc = ag_trigger_replace(r->c, group, specs, n);
		e = rc == -ENAMETOOLONG ? S3_KEY_TOO_LONG : s3_errno(rc, 0);
	}
	free(body);
	free(ns);
	if (e)
		return s3_error(r, e, detail);
	return s3_reply_head(r, 200, NULL, 0);
}

/* A trigger of the bucket as its configuration element. */
static int config_print(void *arg, const struct ag_trigger_spec *s)
{
	struct s3_xml *x = arg;
	const char *id = s->name + 20, *kinds = s->on;
	const char *prefix = strchr(s->prefix + 1, '/');
	int i = s->form - AG_TRIGGER_FORM_S3_TOPIC;
	char arn[NOTIFY_TEXT + sizeof(ARN_WEBHOOK)];

	if (i < 0 || i >= (int)S3_ARRAY_LEN(elements) || !s->webhook ||
	    !prefix)
		return 0; /* not one this file made */
	prefix++;
	snprintf(arn, sizeof(arn), ARN_WEBHOOK "%s", s->webhook);
	s3_xml_raw(x, "<%s>", elements[i][0]);
	s3_xml_text(x, "Id", id);
	s3_xml_text(x, elements[i][1], arn);
	if (strstr(kinds, "closed"))
		s3_xml_text(x, "Event", EV_CREATED);
	if (strstr(kinds, "deleted"))
		s3_xml_text(x, "Event", EV_REMOVED);
	if (*prefix || *s->suffix) {
		s3_xml_raw(x, "<Filter><S3Key>");
		if (*prefix) {
			s3_xml_raw(x, "<FilterRule><Name>Prefix</Name>");
			s3_xml_text(x, "Value", prefix);
			s3_xml_raw(x, "</FilterRule>");
		}
		if (*s->suffix) {
			s3_xml_raw(x, "<FilterRule><Name>Suffix</Name>");
			s3_xml_text(x, "Value", s->suffix);
			s3_xml_raw(x, "</FilterRule>");
		}
		s3_xml_raw(x, "</S3Key></Filter>");
	}
	s3_xml_raw(x, "</%s>", elements[i][0]);
	return 0;
}

int s3_get_notification(struct s3_req *r)
{
	struct ag_attr b;
	enum s3_err e = s3_bucket_get(r, &b);
	struct s3_xml x;
	char group[21];
	int rc;

	if (e)
		return s3_error(r, e, NULL);
	notify_group(r->bucket, group);
	s3_xml_init(&x);
	s3_xml_raw(&x, "<NotificationConfiguration xmlns=\"http://s3."
		   "amazonaws.com/doc/2006-03-01/\">");
	rc = ag_trigger_list(r->c, group, config_print, &x);
	if (rc) {
		s3_xml_free(&x);
		return s3_error(r, s3_errno(rc, 0), NULL);
	}
	s3_xml_raw(&x, "</NotificationConfiguration>");
	return s3_xml_reply(r, 200, &x);
}

int s3_notification_drop(struct s3_req *r)
{
	char group[21];

	notify_group(r->bucket, group);
	return ag_trigger_replace(r->c, group, NULL, 0);
}
