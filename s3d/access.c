/*
 * access.c - who may do what over S3: owners, ACLs, and the modes the
 * POSIX face sets, checked together (agora-s3d(8), "Permissions").
 *
 * A request is signed by a user (ag_user: a name, a uid and a gid) or by
 * no one (anonymous: uid and gid S3_NOBODY). An element's S3 owner is its
 * POSIX owner: the user of the same uid owns it, and a user of uid 0 (the
 * cluster's administrator) passes every check, as root does on the mount.
 * A request is allowed when both faces allow it:
 *  - S3: a Deny of the bucket's policy (policy.c) refuses; else the
 *    bucket's owner may do everything to the bucket and to every object
 *    in it, an object's owner everything to the object; anyone else
 *    what an Allow of the policy or a grant of the element's ACL gives
 *    (a user by name, all users, or every signed user).
 *  - POSIX: the user's uid and gid against the modes, as ag_may and
 *    ag_may_path rule (search on every directory on a key's way, read on
 *    an object read, write on the directory a write changes).
 * A denial answers AccessDenied; a key that is missing answers NoSuchKey
 * only to a user who may list the bucket (a missing key looks the same
 * as a forbidden one to others).
 *
 * An ACL is kept in the private xattr S3_ACL_XATTR of the element, one
 * grant a line, "PERMISSION KIND ID" (KIND user, all or auth; ID a user
 * name, "-" for the two groups); none, or no xattr, is "private". The
 * owner's full control is implied and never stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "s3d.h"

#define GROUPS_URI "http://acs.amazonaws.com/groups/global/"
#define XSI "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""

static const struct {
	unsigned perm;
	const char *name, *header;
} perms[] = {
	{ S3_PERM_FULL, "FULL_CONTROL", "x-amz-grant-full-control" },
	{ S3_PERM_READ, "READ", "x-amz-grant-read" },
	{ S3_PERM_WRITE, "WRITE", "x-amz-grant-write" },
	{ S3_PERM_READ_ACP, "READ_ACP", "x-amz-grant-read-acp" },
	{ S3_PERM_WRITE_ACP, "WRITE_ACP", "x-amz-grant-write-acp" },
};

static const char *const kinds[] = { "user", "all", "auth" };
static const char *const group_names[] = { NULL, "AllUsers",
					   "AuthenticatedUsers" };

static unsigned perm_named(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < S3_ARRAY_LEN(perms); i++)
		if (strlen(perms[i].name) == n && !memcmp(perms[i].name, s, n))
			return perms[i].perm;
	return 0;
}

static const char *perm_name(unsigned perm)
{
	size_t i;

	for (i = 0; i < S3_ARRAY_LEN(perms); i++)
		if (perms[i].perm == perm)
			return perms[i].name;
	return "READ";
}

static enum s3_err acl_add(struct s3_acl *acl, unsigned perm, int kind,
			   const char *id)
{
	struct s3_grant *g;

	if (acl->n == S3_GRANTS_MAX)
		return S3_INVALID_ARGUMENT;
	g = &acl->g[acl->n++];
	g->perm = perm;
	g->kind = kind;
	snprintf(g->id, sizeof(g->id), "%s", kind == S3_GRANTEE_USER ? id : "-");
	return S3_OK;
}

/* ---- the identity and the rule ---- */

int s3_may(struct s3_req *r, const struct ag_attr *a, unsigned want)
{
	return !ag_may(a, r->user.uid, r->user.gid, want);
}

int s3_owns(struct s3_req *r, const struct ag_attr *a)
{
	return !r->anonymous && (!r->user.uid || r->user.uid == a->uid);
}

int s3_acl_load(struct s3_req *r, uint64_t ino, struct s3_acl *acl)
{
	char buf[S3_GRANTS_MAX * 96], *line, *save = NULL;
	ssize_t n = ag_getxattr(r->c, ino, S3_ACL_XATTR, buf, sizeof(buf) - 1);

	acl->n = 0;
	if (n == -ENODATA)
		return 0;
	if (n < 0)
		return (int)n;
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char perm[16], kind[8], id[sizeof(acl->g[0].id)];
		int k;

		if (sscanf(line, "%15s %7s %64s", perm, kind, id) != 3)
			continue;
		for (k = 0; k < (int)S3_ARRAY_LEN(kinds); k++)
			if (!strcmp(kind, kinds[k]))
				break;
		if (k < (int)S3_ARRAY_LEN(kinds) && perm_named(perm, strlen(perm)))
			acl_add(acl, perm_named(perm, strlen(perm)), k, id);
	}
	return 0;
}

/* The stored form of acl (see the top of the file). */
static int acl_text(const struct s3_acl *acl, char *buf, size_t size)
{
	size_t len = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < acl->n; i++) {
		int w = snprintf(buf + len, size - len, "%s %s %s\n",
				 perm_name(acl->g[i].perm),
				 kinds[acl->g[i].kind], acl->g[i].id);

		if (w < 0 || (size_t)w >= size - len)
			return -ENOSPC;
		len += (size_t)w;
	}
	return (int)len;
}

/* What the grants of acl give r's user. */
static unsigned granted(struct s3_req *r, const struct s3_acl *acl)
{
	unsigned got = 0;
	int i;

	for (i = 0; i < acl->n; i++) {
		const struct s3_grant *g = &acl->g[i];

		if (g->kind == S3_GRANTEE_ALL ||
		    (g->kind == S3_GRANTEE_AUTH && !r->anonymous) ||
		    (g->kind == S3_GRANTEE_USER && !r->anonymous &&
		     !strcmp(g->id, r->user.name)))
			got |= g->perm;
	}
	return got;
}

int s3_allowed(struct s3_req *r, const struct ag_attr *a, unsigned perm)
{
	struct s3_acl acl;

	if (s3_owns(r, a))
		return 1;
	if (s3_acl_load(r, a->ino, &acl))
		return 0;
	return (granted(r, &acl) & perm) == perm;
}

/* The S3 half of the rule (see the top of the file): the administrator;
 * a Deny of the bucket's policy; the bucket's owner, a's owner; an Allow
 * of the policy; a grant of perm in a's ACL (perm 0: none suffices).
 * key is NULL for the bucket itself. */
static int s3_half(struct s3_req *r, const struct ag_attr *bucket,
		   const char *bname, const struct ag_attr *a, unsigned perm,
		   const char *action, const char *key)
{
	enum s3_verdict v;

	if (!r->anonymous && !r->user.uid)
		return 1;
	v = s3_policy_decide(r, bucket, bname, action, key);
	if (v == S3_POLICY_DENY)
		return 0;
	if (s3_owns(r, bucket) || s3_owns(r, a) || v == S3_POLICY_ALLOW)
		return 1;
	return perm && s3_allowed(r, a, perm);
}

/* May r's user list the bucket (both halves)? */
static int may_list(struct s3_req *r, const struct ag_attr *bucket,
		    const char *bname)
{
	return s3_half(r, bucket, bname, bucket, S3_PERM_READ,
		       "s3:ListBucket", NULL) &&
	       s3_may(r, bucket, AG_MAY_READ | AG_MAY_EXEC);
}

static const char *object_action(unsigned perm)
{
	return perm == S3_PERM_READ_ACP ? "s3:GetObjectAcl"
	       : perm == S3_PERM_WRITE_ACP ? "s3:PutObjectAcl"
					   : "s3:GetObject";
}

enum s3_err s3_object_access(struct s3_req *r, const struct ag_attr *bucket,
			     const char *bname, const char *key,
			     struct ag_attr *a, unsigned perm)
{
	return s3_object_access_as(r, bucket, bname, key, a, perm,
				   object_action(perm));
}

enum s3_err s3_object_access_as(struct s3_req *r,
				const struct ag_attr *bucket,
				const char *bname, const char *key,
				struct ag_attr *a, unsigned perm,
				const char *action)
{
	int rc;

	/* the way first: a 0700 directory hides what is below it */
	rc = ag_may_path(r->c, bucket, key, r->user.uid, r->user.gid, 0);
	if (!rc)
		rc = ag_object_find(r->c, bucket->ino, key, a);
	if (rc == -ENOTDIR || rc == -EISDIR)
		rc = -ENOENT;
	if (rc == -ENOENT)
		return may_list(r, bucket, bname) ? S3_NO_SUCH_KEY
						  : S3_ACCESS_DENIED;
	if (rc)
		return s3_errno(rc, 1);
	return s3_element_access_as(r, bucket, bname, key, a, perm, action);
}

enum s3_err s3_element_access(struct s3_req *r, const struct ag_attr *bucket,
			      const char *bname, const char *key,
			      const struct ag_attr *a, unsigned perm)
{
	return s3_element_access_as(r, bucket, bname, key, a, perm,
				    object_action(perm));
}

enum s3_err s3_element_access_as(struct s3_req *r,
				 const struct ag_attr *bucket,
				 const char *bname, const char *key,
				 const struct ag_attr *a, unsigned perm,
				 const char *action)
{
	if (!s3_half(r, bucket, bname, a, perm, action, key))
		return S3_ACCESS_DENIED;
	if (perm == S3_PERM_READ && !s3_may(r, a, AG_MAY_READ))
		return S3_ACCESS_DENIED;
	return S3_OK;
}

enum s3_err s3_bucket_owner_or_policy(struct s3_req *r,
				      const struct ag_attr *b,
				      const char *action)
{
	return s3_half(r, b, r->bucket, b, 0, action, NULL) ? S3_OK
							     : S3_ACCESS_DENIED;
}

enum s3_err s3_may_write_key(struct s3_req *r, const struct ag_attr *bucket,
			     const char *key, const char *action)
{
	int rc;

	if (!s3_half(r, bucket, r->bucket, bucket, S3_PERM_WRITE, action,
		     *key ? key : NULL))
		return S3_ACCESS_DENIED;
	rc = ag_may_path(r->c, bucket, key, r->user.uid, r->user.gid,
			 AG_MAY_WRITE | AG_MAY_EXEC);
	return rc == -EACCES ? S3_ACCESS_DENIED : s3_errno(rc, 1);
}

enum s3_err s3_authorize(struct s3_req *r, enum s3_need need,
			 const char *action)
{
	struct ag_attr b;
	/* the ACL headers a write may carry: refused before a body is read */
	enum s3_err e = s3_acl_check(r);

	if (e || need == S3_NEED_NONE)
		return e;
	if (r->anonymous && need == S3_NEED_SIGNED)
		return S3_ACCESS_DENIED;
	if (need == S3_NEED_SIGNED)
		return S3_OK;
	e = s3_bucket_get(r, &b);
	if (e)
		return e;
	switch (need) {
	case S3_NEED_READ:
		return s3_half(r, &b, r->bucket, &b, S3_PERM_READ, action,
			       NULL) &&
		       s3_may(r, &b, AG_MAY_READ | AG_MAY_EXEC)
			       ? S3_OK : S3_ACCESS_DENIED;
	case S3_NEED_WRITE:
		return s3_may_write_key(r, &b, r->key, action);
	case S3_NEED_OWNER:
	default:
		return s3_half(r, &b, r->bucket, &b, 0, action, NULL)
			       ? S3_OK : S3_ACCESS_DENIED;
	}
}

/* ---- ACLs from requests ---- */

struct uid_name {
	uint32_t uid;
	char *out;
	size_t size;
};

static int uid_match(void *arg, const struct ag_user *u)
{
	struct uid_name *n = arg;

	if (u->uid != n->uid)
		return 0;
	snprintf(n->out, n->size, "%s", u->name);
	return 1;
}

void s3_owner_name(struct s3_req *r, uint32_t uid, char *out, size_t size)
{
	struct uid_name n = { uid, out, size };

	if (ag_user_list(r->c, uid_match, &n) != 1)
		snprintf(out, size, "%u", (unsigned)uid);
}

struct name_find {
	const char *name;
	int found;
};

static int name_match(void *arg, const struct ag_user *u)
{
	struct name_find *f = arg;

	f->found |= !strcmp(u->name, f->name);
	return f->found;
}

/* A grantee named by its ID must be a user. */
static enum s3_err grant_user(struct s3_req *r, struct s3_acl *acl,
			      unsigned perm, const char *id)
{
	struct name_find f = { id, 0 };

	if (!*id || strlen(id) >= sizeof(acl->g[0].id) ||
	    strpbrk(id, " \t\n") || ag_user_list(r->c, name_match, &f) < 0 ||
	    !f.found)
		return S3_INVALID_ARGUMENT;
	return acl_add(acl, perm, S3_GRANTEE_USER, id);
}

static enum s3_err grant_group(struct s3_acl *acl, unsigned perm,
			       const char *uri, size_t n)
{
	size_t gl = strlen(GROUPS_URI);
	int k;

	if (n > gl && !memcmp(uri, GROUPS_URI, gl))
		for (k = 1; k < (int)S3_ARRAY_LEN(group_names); k++)
			if (n - gl == strlen(group_names[k]) &&
			    !memcmp(uri + gl, group_names[k], n - gl))
				return acl_add(acl, perm, k, NULL);
	return S3_INVALID_ARGUMENT;
}

enum s3_err s3_acl_canned(const char *name, struct s3_acl *acl)
{
	if (!strcmp(name, "private") ||
	    !strcmp(name, "bucket-owner-full-control") ||
	    !strcmp(name, "bucket-owner-read"))
		return S3_OK; /* the bucket's owner has all of it anyway */
	if (!strcmp(name, "public-read"))
		return acl_add(acl, S3_PERM_READ, S3_GRANTEE_ALL, NULL);
	if (!strcmp(name, "public-read-write")) {
		acl_add(acl, S3_PERM_READ, S3_GRANTEE_ALL, NULL);
		return acl_add(acl, S3_PERM_WRITE, S3_GRANTEE_ALL, NULL);
	}
	if (!strcmp(name, "authenticated-read"))
		return acl_add(acl, S3_PERM_READ, S3_GRANTEE_AUTH, NULL);
	return S3_INVALID_ARGUMENT;
}

/* x-amz-grant-*: id="name", uri="http://acs.../AllUsers", comma
 * separated (emailAddress is not served). */
static enum s3_err grant_header(struct s3_req *r, struct s3_acl *acl,
				unsigned perm, const char *v)
{
	enum s3_err e = S3_OK;

	while (!e && *v) {
		const char *eq, *q, *end;
		char id[sizeof(acl->g[0].id)];

		v += strspn(v, " \t,");
		if (!*v)
			break;
		eq = strchr(v, '=');
		if (!eq || eq[1] != '"' || !(end = strchr(eq + 2, '"')))
			return S3_INVALID_ARGUMENT;
		q = eq + 2;
		if (eq - v == 2 && !strncasecmp(v, "id", 2)) {
			if ((size_t)(end - q) >= sizeof(id))
				return S3_INVALID_ARGUMENT;
			memcpy(id, q, end - q);
			id[end - q] = 0;
			e = grant_user(r, acl, perm, id);
		} else if (eq - v == 3 && !strncasecmp(v, "uri", 3)) {
			e = grant_group(acl, perm, q, end - q);
		} else {
			return S3_NOT_IMPLEMENTED;
		}
		v = end + 1;
	}
	return e;
}

enum s3_err s3_acl_from_headers(struct s3_req *r, struct s3_acl *acl,
				int *given)
{
	const char *c = s3_header(r, "x-amz-acl");
	enum s3_err e = S3_OK;
	size_t i;

	acl->n = 0;
	*given = c != NULL;
	if (c)
		e = s3_acl_canned(c, acl);
	for (i = 0; !e && i < S3_ARRAY_LEN(perms); i++) {
		const char *v = s3_header(r, perms[i].header);

		if (!v)
			continue;
		if (c)
			return S3_INVALID_REQUEST; /* one or the other */
		*given = 1;
		e = grant_header(r, acl, perms[i].perm, v);
	}
	return e;
}

int s3_acl_store(struct s3_req *r, struct ag_writer *w, uint64_t ino,
		 const struct s3_acl *acl)
{
	char buf[S3_GRANTS_MAX * 96];
	int len = acl_text(acl, buf, sizeof(buf)), rc;

	if (len < 0)
		return len;
	if (w)
		return len ? ag_writer_setxattr(w, S3_ACL_XATTR, buf, len) : 0;
	if (len)
		return ag_setxattr(r->c, ino, S3_ACL_XATTR, buf, len, 0);
	rc = ag_removexattr(r->c, ino, S3_ACL_XATTR);
	return rc == -ENODATA ? 0 : rc;
}

int s3_acl_store_request(struct s3_req *r, struct ag_writer *w, uint64_t ino)
{
	struct s3_acl acl;
	int given;
	enum s3_err e = s3_acl_from_headers(r, &acl, &given);

	if (e)
		return -EINVAL; /* checked before: s3_acl_check */
	return s3_acl_store(r, w, ino, &acl);
}

int s3_acl_copy(struct s3_req *r, uint64_t src, struct ag_writer *w)
{
	struct s3_acl acl;
	int rc = s3_acl_load(r, src, &acl);

	return rc ? rc : s3_acl_store(r, w, 0, &acl);
}

enum s3_err s3_acl_check(struct s3_req *r)
{
	struct s3_acl acl;
	int given;

	return s3_acl_from_headers(r, &acl, &given);
}

int s3_bucket_opened(struct s3_req *r, const struct ag_attr *b)
{
	struct s3_acl acl;
	int i;

	if (s3_policy_writes(r, b))
		return 1;
	if (s3_acl_load(r, b->ino, &acl))
		return 0;
	for (i = 0; i < acl.n; i++)
		if (acl.g[i].perm & S3_PERM_WRITE)
			return 1;
	return 0;
}

int s3_bucket_mode_follow(struct s3_req *r, const struct ag_attr *b,
			  int was_open)
{
	struct ag_attr in = { 0 }, now;
	int open = s3_bucket_opened(r, b), rc;

	if (open == was_open)
		return 0;
	rc = ag_getattr(r->c, b->ino, &now);
	if (rc)
		return rc;
	in.mode = open ? now.mode | 0033 : now.mode & ~(uint32_t)0022;
	return ag_setattr(r->c, b->ino, AG_SET_MODE, &in, NULL);
}

int s3_bucket_acl_set(struct s3_req *r, const struct ag_attr *b,
		      const struct s3_acl *acl)
{
	int was_open = s3_bucket_opened(r, b);
	int rc = s3_acl_store(r, NULL, b->ino, acl);

	return rc ? rc : s3_bucket_mode_follow(r, b, was_open);
}

/* ---- GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl ---- */

static enum s3_err acl_target(struct s3_req *r, unsigned perm,
			      struct ag_attr *bucket, struct ag_attr *a)
{
	enum s3_err e = s3_bucket_get(r, bucket);

	if (e)
		return e;
	if (!*r->key) {
		*a = *bucket;
		return s3_half(r, bucket, r->bucket, bucket, perm,
			       perm == S3_PERM_READ_ACP ? "s3:GetBucketAcl"
							: "s3:PutBucketAcl",
			       NULL) ? S3_OK : S3_ACCESS_DENIED;
	}
	e = s3_key_check(r->key);
	return e ? e : s3_object_access(r, bucket, r->bucket, r->key, a, perm);
}

int s3_get_acl(struct s3_req *r)
{
	struct ag_attr bucket, a;
	struct s3_acl acl;
	struct s3_xml x;
	char owner[80];
	enum s3_err e = acl_target(r, S3_PERM_READ_ACP, &bucket, &a);
	int i;

	if (e)
		return s3_error(r, e, NULL);
	if (s3_acl_load(r, a.ino, &acl))
		return s3_error(r, S3_INTERNAL, NULL);
	s3_owner_name(r, a.uid, owner, sizeof(owner));
	s3_xml_init(&x);
	s3_xml_raw(&x, "<AccessControlPolicy " S3_NS "><Owner>");
	s3_xml_text(&x, "ID", owner);
	s3_xml_text(&x, "DisplayName", owner);
	s3_xml_raw(&x, "</Owner><AccessControlList>"
		   "<Grant><Grantee " XSI " xsi:type=\"CanonicalUser\">");
	s3_xml_text(&x, "ID", owner);
	s3_xml_text(&x, "DisplayName", owner);
	s3_xml_raw(&x, "</Grantee><Permission>FULL_CONTROL</Permission>"
		   "</Grant>");
	for (i = 0; i < acl.n; i++) {
		const struct s3_grant *g = &acl.g[i];

		if (g->kind == S3_GRANTEE_USER) {
			s3_xml_raw(&x, "<Grant><Grantee " XSI
				   " xsi:type=\"CanonicalUser\">");
			s3_xml_text(&x, "ID", g->id);
			s3_xml_text(&x, "DisplayName", g->id);
		} else {
			s3_xml_raw(&x, "<Grant><Grantee " XSI
				   " xsi:type=\"Group\"><URI>" GROUPS_URI
				   "%s</URI>", group_names[g->kind]);
		}
		s3_xml_raw(&x, "</Grantee><Permission>%s</Permission></Grant>",
			   perm_name(g->perm));
	}
	s3_xml_raw(&x, "</AccessControlList></AccessControlPolicy>");
	return s3_xml_reply(r, 200, &x);
}

/* One <Grant> of an AccessControlPolicy: a grantee with an ID (a user)
 * or a group URI, and a permission. The owner's own grant is implied. */
static enum s3_err grant_xml(struct s3_req *r, const struct ag_attr *a,
			     struct s3_acl *acl, const char *v, size_t vlen)
{
	const char *p = v, *end = v + vlen, *gv, *pv, *iv;
	size_t gl, pl, il;
	char id[sizeof(acl->g[0].id)], owner[80];
	unsigned perm;

	if (s3_xml_next(&p, end, "Grantee", &gv, &gl) ||
	    (p = v, s3_xml_next(&p, end, "Permission", &pv, &pl)))
		return S3_MALFORMED_XML;
	perm = perm_named(pv, pl);
	if (!perm)
		return S3_MALFORMED_XML;
	p = gv;
	if (!s3_xml_next(&p, gv + gl, "ID", &iv, &il)) {
		if (s3_xml_unescape(iv, il, id, sizeof(id)) < 0)
			return S3_INVALID_ARGUMENT;
		s3_owner_name(r, a->uid, owner, sizeof(owner));
		if (!strcmp(id, owner))
			return S3_OK;
		return grant_user(r, acl, perm, id);
	}
	p = gv;
	if (!s3_xml_next(&p, gv + gl, "URI", &iv, &il))
		return grant_group(acl, perm, iv, il);
	return S3_NOT_IMPLEMENTED; /* EmailAddress */
}

static enum s3_err acl_from_body(struct s3_req *r, const struct ag_attr *a,
				 struct s3_acl *acl)
{
	char *body = NULL;
	const char *p, *end, *v, *lv;
	size_t len, vlen, ll;
	enum s3_err e;
	int rc = s3_read_small_body(r, 64 << 10, &body, &len);

	if (rc)
		return (enum s3_err)-rc;
	p = body;
	end = body + len;
	e = S3_MALFORMED_XML;
	if (!s3_xml_next(&p, end, "AccessControlPolicy", &v, &vlen) &&
	    (p = v, !s3_xml_next(&p, v + vlen, "AccessControlList", &lv, &ll))) {
		int found;

		e = S3_OK;
		p = lv;
		while (!e && !(found = s3_xml_next(&p, lv + ll, "Grant", &v,
						   &vlen)))
			e = grant_xml(r, a, acl, v, vlen);
		if (!e && found < 0)
			e = S3_MALFORMED_XML;
	}
	free(body);
	return e;
}

int s3_put_acl(struct s3_req *r)
{
	struct ag_attr bucket, a;
	struct s3_acl acl;
	int given, rc;
	enum s3_err e = acl_target(r, S3_PERM_WRITE_ACP, &bucket, &a);

	if (!e)
		e = s3_acl_from_headers(r, &acl, &given);
	if (!e && !given)
		e = acl_from_body(r, &a, &acl);
	if (e)
		return s3_error(r, e, NULL);
	rc = *r->key ? s3_acl_store(r, NULL, a.ino, &acl)
		     : s3_bucket_acl_set(r, &a, &acl);
	if (rc)
		return s3_error(r, s3_errno(rc, 1), NULL);
	return s3_reply_head(r, 200, NULL, 0);
}
