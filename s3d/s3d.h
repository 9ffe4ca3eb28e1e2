/*
 * s3d.h - agora-s3d internals shared by its modules: the request being
 * served, S3 errors, the reply helpers, the body reader, and one entry per
 * operation group (bucket.c, object.c, list.c, multipart.c).
 *
 * Threads: civetweb runs each request on one of its worker threads; a
 * struct s3_req lives on that thread's stack for the request only. The
 * cluster handle is shared (libagora handles are thread-safe).
 */
#ifndef S3D_H
#define S3D_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "agora.h"

struct mg_connection;
struct mg_request_info;
struct s3_sse;

/* System xattrs (a namespace the kernel keeps FUSE clients out of). */
#define S3_XATTR_PREFIX "agora.s3."
#define S3_KEY_MAX 1024
#define S3_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Every error the gateway answers with (status, Code, message in err.c). */
enum s3_err {
	S3_OK = 0,
	S3_ACCESS_DENIED,
	S3_BAD_DIGEST,
	S3_BUCKET_EXISTS,
	S3_BUCKET_NOT_EMPTY,
	S3_ENTITY_TOO_SMALL,
	S3_EXPIRED,
	S3_INCOMPLETE_BODY,
	S3_INTERNAL,
	S3_INVALID_ACCESS_KEY,
	S3_INVALID_ARGUMENT,
	S3_INVALID_BUCKET_NAME,
	S3_INVALID_DIGEST,
	S3_INVALID_PART,
	S3_INVALID_PART_ORDER,
	S3_INVALID_RANGE,
	S3_INVALID_REQUEST,
	S3_KEY_TOO_LONG,
	S3_MALFORMED_XML,
	S3_METHOD_NOT_ALLOWED,
	S3_MISSING_CONTENT_LENGTH,
	S3_MISSING_SECURITY_HEADER,
	S3_NO_SUCH_BUCKET,
	S3_NO_SUCH_KEY,
	S3_NO_SUCH_UPLOAD,
	S3_NOT_IMPLEMENTED,
	S3_NOT_MODIFIED,
	S3_PRECONDITION_FAILED,
	S3_SHA256_MISMATCH,
	S3_SIGNATURE_MISMATCH,
	S3_TIME_SKEWED,
	S3_AUTH_MALFORMED,
	S3_SLOW_DOWN,
	S3_NO_SPACE,
	S3_KEY_CONFLICT,
	S3_BAD_CHECKSUM,
	S3_HEADERS_TOO_LARGE,
	S3_INVALID_URI,
	S3_ILLEGAL_LOCATION,
	S3_BUCKET_TAKEN,
	S3_MALFORMED_POLICY,
	S3_NO_SUCH_POLICY,
	S3_INVALID_TAG,
	S3_NO_SUCH_TAG_SET,
	S3_INVALID_PART_NUMBER,
	S3_BAD_REQUEST,
	S3_CORS_FORBIDDEN,
	S3_NO_SUCH_CORS,
	S3_MALFORMED_POST,
	S3_NOT_FORM,
	S3_INVALID_POLICY_DOCUMENT,
	S3_ENTITY_TOO_LARGE,
	S3_NO_SUCH_LIFECYCLE,
	S3_NO_SUCH_VERSION,
	S3_ERR_COUNT
};

/* The [s3] section of the config file. */
struct s3_conf {
	char listen[512];      /* civetweb listening_ports, comma separated */
	char certificate[512]; /* PEM with key and certificate, for "s" ports */
	char domain[256];      /* virtual-host style: BUCKET.domain */
	char region[64];
	char pidfile[512];
	char log[512];
	int threads;
	int tls;               /* some listen_tls address was given */
	int max_skew;          /* seconds */
	int timeout;           /* seconds a client may stay silent in the
				* middle of a request (body, reply) */
	int header_ms;         /* a request's headers (and a TLS handshake)
				* must be in within this */
	int keep_alive_ms;     /* an idle connection is closed after this */
	char sse_key_file[512]; /* the SSE-S3 cluster key, outside the drives */
	uint8_t cluster_key[32];
	int has_cluster_key;
};

struct s3_param {
	char *name, *value; /* decoded */
};

/* One request. Strings are owned by the request (freed by s3_req_free). */
struct s3_req {
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	struct ag_cluster *c;
	const struct s3_conf *conf;
	const char *method;
	char *raw_path;         /* as sent, percent-encoded */
	char *bucket, *key;     /* decoded; "" when absent */
	struct s3_param *params;
	int nparams;
	struct ag_user user;    /* who signed (uid S3_NOBODY: no one) */
	int anonymous;          /* no signature: the request of no user */
	char request_id[17];
	int status;             /* of the reply, for the log */
	int replied;
	int body_complete;      /* the request body was read to its end */
	int must_close;         /* answered before reading the body */
	int continued;          /* "100 Continue" sent, or not asked for */
	int64_t body_read;      /* body bytes read from the connection */
	/* without a connection (conn NULL: the fuzz targets), the body's
	 * bytes not read yet */
	const char *mem_body;
	size_t mem_left;
	char *head;             /* status and headers not sent yet */
	char *cors;             /* Access-Control-* lines of every reply */
	size_t head_len;
	/* x-amz-version-id (and x-amz-delete-marker) lines that every
	 * reply to r carries (versioning.c), or "" */
	char version_hdr[96];
	/* from authentication, for the body reader */
	char payload_hash[80];  /* x-amz-content-sha256 or UNSIGNED-PAYLOAD */
	char amz_date[17], scope[128], seed_signature[65];
	uint8_t signing_key[32];
};

/* The namespace of S3's XML documents, as an attribute. */
#define S3_NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

/* ---- err.c ---- */
/* Reply with the S3 error document; resource names the bucket or key. */
int s3_error(struct s3_req *r, enum s3_err e, const char *detail);
/* The <Code> of an error ("AccessDenied"). */
const char *s3_err_code(enum s3_err e);
/* The S3 error for a core error in the context of a bucket or a key. */
enum s3_err s3_errno(int rc, int on_key);

/* ---- http.c ---- */
/* civetweb's request handler for every request, and its error callback
 * for those that fail before reaching it (main.c registers both). */
int s3_http_handle(struct mg_connection *conn, void *arg);
int s3_http_error(struct mg_connection *conn, int status, const char *msg);
/* Decode what r->ri says (r->conf and r->method set): the raw path, the
 * bucket and key, the query parameters, and how the body is framed.
 * S3_OK or the error to answer with (*detail, when set, says more);
 * bucket and key are set ("" at least) unless the error is S3_INTERNAL.
 * s3_req_free frees what it allocated, whatever it returned. */
enum s3_err s3_req_decode(struct s3_req *r, const char **detail);
void s3_req_free(struct s3_req *r);
const char *s3_header(struct s3_req *r, const char *name);
/* The decoded value of query parameter name, NULL when absent. */
const char *s3_param(struct s3_req *r, const char *name);
/* Send status and headers (extra: complete "Name: value\r\n" lines or
 * NULL); len < 0 means no Content-Length (no body follows). */
int s3_reply_head(struct s3_req *r, int status, const char *extra,
		  int64_t len);
int s3_reply_body(struct s3_req *r, int status, const char *ctype,
		  const char *extra, const void *body, size_t len);
/* mg_read of request body bytes, waiting out a client's silence up to
 * [s3] timeout: the count, 0 at the end of the body, -1 on a closed
 * connection or a longer silence. */
int s3_recv(struct s3_req *r, void *buf, size_t len);
/* Send body bytes (the pending headers with them); -EPIPE when the
 * client is gone or stayed unwilling to take them for [s3] timeout. */
int s3_write(struct s3_req *r, const void *data, size_t len);
/* Send the pending headers, if any. */
int s3_reply_flush(struct s3_req *r);
/* Percent-encode src as SigV4 does (slash kept when keep_slash). */
void s3_uri_encode(const char *src, size_t len, int keep_slash, char *out);
/* The value of a hex digit, -1 for anything else. */
int s3_hexval(int ch);
/* Decode %XX in place; -1 on a bad escape or an encoded NUL. */
int s3_uri_decode(char *s);
/* HTTP date (RFC 1123) and ISO 8601 of nanoseconds since 1970. */
void s3_http_date(int64_t ns, char *buf, size_t len);
void s3_iso_date(int64_t ns, char *buf, size_t len);
int64_t s3_parse_http_date(const char *s);
void s3_hex(const uint8_t *in, size_t n, char *out);

/* ---- xml.c ---- */
struct s3_xml {
	char *buf;
	size_t len, cap;
	int error;
};
void s3_xml_init(struct s3_xml *x);
void s3_xml_free(struct s3_xml *x);
void s3_xml_raw(struct s3_xml *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* <tag>escaped text</tag> */
void s3_xml_text(struct s3_xml *x, const char *tag, const char *text);
void s3_xml_textn(struct s3_xml *x, const char *tag, const char *text,
		  size_t len);
int s3_xml_reply(struct s3_req *r, int status, struct s3_xml *x);
/* Find the next <tag>...</tag> in [*p, end); on success *val and *vlen are the
 * inner bytes and *p moves past it. 0 found, 1 none, -1 malformed. */
int s3_xml_next(const char **p, const char *end, const char *tag,
		const char **val, size_t *vlen);
/* Copy inner text decoding entities; -1 on a bad entity or overflow. */
int s3_xml_unescape(const char *in, size_t len, char *out, size_t size);
/* The PartNumber (as strtol reads it: the caller checks its range) and
 * the MD5 its ETag names of the <Part> whose inner bytes are [v, v +
 * vlen) in a CompleteMultipartUpload body: S3_OK, S3_MALFORMED_XML or
 * S3_INVALID_PART (an ETag no part can have). */
enum s3_err s3_xml_part(const char *v, size_t vlen, long *number,
			uint8_t md5[16]);
/* Read the whole request body (at most max bytes) through the body reader. */
int s3_read_small_body(struct s3_req *r, size_t max, char **out, size_t *len);

/* ---- sigv4.c ---- */
/* Check the request's signature (header or presigned URL) and fill
 * r->user; S3_OK or the error to answer with. */
enum s3_err s3_auth(struct s3_req *r);
/* The same with the users found by user_get (0 or -ENOENT, as
 * ag_user_get): all of it but the lookup is decoding the request. */
enum s3_err s3_auth_with(struct s3_req *r,
			 int (*user_get)(void *arg, const char *access,
					 struct ag_user *u),
			 void *arg);
/* A browser POST form's signature (SigV4): the user of credential
 * ("AK/YYYYMMDD/region/s3/aws4_request") becomes r's when signature is
 * the HMAC of the base64 policy with that user's signing key. S3_OK,
 * S3_AUTH_MALFORMED, S3_INVALID_ACCESS_KEY or S3_SIGNATURE_MISMATCH. */
enum s3_err s3_auth_post(struct s3_req *r, const char *credential,
			 const char *amz_date, const char *policy,
			 const char *signature);
/* HMAC-SHA256 and SHA-256 helpers for the chunked body reader. */
void s3_sha256_hex(const void *data, size_t len, char out[65]);
void s3_hmac(const uint8_t *key, size_t klen, const void *data, size_t len,
	     uint8_t out[32]);

/* ---- body.c: request bodies, plain or aws-chunked, verified ---- */
enum s3_sum { S3_SUM_NONE, S3_SUM_CRC32, S3_SUM_CRC32C, S3_SUM_CRC64NVME,
	      S3_SUM_SHA1, S3_SUM_SHA256 };
struct s3_body {
	struct s3_req *r;
	int chunked, signed_chunks, trailer;
	int64_t left;          /* plain: bytes still to read */
	uint64_t chunk_left;   /* aws-chunked: of the current chunk */
	int done;
	EVP_MD_CTX *sha, *md5, *chunk_sha, *sum_md;
	char prev_sig[65], chunk_sig[65];
	enum s3_sum sum;
	uint64_t crc;
	char sum_name[32];     /* "crc32", ... */
	char sum_expect[100];  /* base64 from the header or the trailer */
	uint64_t total;
	uint8_t md5_out[16];   /* of the body, only with Content-MD5 */
	char sum_b64[100];     /* the computed value, base64 */
};
enum s3_err s3_body_open(struct s3_body *b, struct s3_req *r);
/* Read up to len bytes: the count, 0 at the verified end, or -s3_err. */
long s3_body_read(struct s3_body *b, void *buf, size_t len);
void s3_body_close(struct s3_body *b);
/* CRCs as S3 names them, for sums computed outside a body. */
uint64_t s3_crc_update(enum s3_sum s, uint64_t crc, const void *p, size_t n);
void s3_sum_b64(enum s3_sum s, uint64_t crc, char *out);

/* ---- naming.c: keys, parents, ETags, metadata ---- */
extern const char *const s3_stored_headers[];
enum s3_err s3_key_check(const char *key);
/* Resolve the bucket; 0 and its attributes, or the S3 error. */
enum s3_err s3_bucket_get(struct s3_req *r, struct ag_attr *a);
/* The ETag of an element as a quoted string (computing the MD5 of a file
 * written over POSIX on first use). */
int s3_etag(struct s3_req *r, const struct ag_attr *a, char out[48]);
/* The If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since
 * headers (each behind prefix: "" for the object itself,
 * "x-amz-copy-source-" for a copy's source) against etag and mtime, in
 * RFC 7232 order; a match that means "unchanged" answers unchanged
 * (304 for a GET, 412 for a copy). (object.c) */
enum s3_err s3_conditions(struct s3_req *r, const char *prefix,
			  const char *etag, int64_t mtime, enum s3_err unchanged);
/* If-None-Match: * and If-Match: ETAG (or *) of a write (PutObject,
 * CopyObject, CompleteMultipartUpload) as a condition for
 * ag_writer_expect: S3_OK and *cond (0 without one) with md5, or the
 * error to answer with now. (object.c) */
enum s3_err s3_write_condition(struct s3_req *r, int *cond, uint8_t md5[16]);
/* A Range header (h, NULL when absent) against an object of size bytes:
 * 0 the whole object (no range, or a form served whole), 1 the bytes
 * [*from, *to], -1 not satisfiable. (object.c) */
int s3_range_parse(const char *h, uint64_t size, uint64_t *from,
		   uint64_t *to);
/* x-amz-copy-source-range (range, NULL when absent: the whole source)
 * against a source of size bytes: S3_OK and [*off, *off + *len), or
 * S3_INVALID_RANGE. (copy.c) */
enum s3_err s3_copy_range(const char *range, uint64_t size, uint64_t *off,
			  uint64_t *len);
/* Stream the body into a new writer (*wp, to commit or free), encrypted
 * when sse (not NULL) asks; on a bad body the S3 error is in *e. */
int s3_put_stream(struct s3_req *r, struct s3_body *b,
		  const struct s3_sse *sse, struct ag_writer **wp,
		  enum s3_err *e);
/* S3_KEY_CONFLICT when key in bucket cannot be an object (a file on its
 * way, a directory there), told before a body is read; the publishing
 * commit decides in the end (ag_object_commit). */
enum s3_err s3_key_free(struct s3_req *r, uint64_t bucket, const char *key);
/* Before a condition on an ETag (ag_writer_expect, ag_object_remove),
 * which metad compares with the stored one: store the ETag of a file
 * written over POSIX (hashing it), or it could never match. A failure
 * leaves none stored, and the condition fails. */
void s3_etag_store(struct s3_req *r, uint64_t bucket, const char *key);
/* Store S3 metadata (x-amz-meta-*, Content-Type, ...) and the ACL from
 * the request: in the writer's publishing transaction when w, else on
 * ino. */
int s3_meta_store(struct s3_req *r, struct ag_writer *w, uint64_t ino);
/* The same for one header or form field (0, storing nothing, when it is
 * none of the stored ones). */
int s3_meta_store_field(struct s3_req *r, struct ag_writer *w, uint64_t ino,
			const char *field, const char *value);
/* Copy every metadata xattr of src into the writer's element (not its
 * ACL: a copy has the one its request asks for). */
int s3_meta_copy(struct s3_req *r, uint64_t src, struct ag_writer *w);
/* The object bname/key, to be read by r's user: S3_OK and its
 * attributes, or the S3 error (s3_object_access). */
enum s3_err s3_object_find(struct s3_req *r, const char *bname,
			   const char *key, struct ag_attr *bucket,
			   struct ag_attr *a);
enum s3_err s3_bucket_lookup(struct s3_req *r, const char *name,
			     struct ag_attr *a);
/* x-amz-copy-source: the source object, and the range asked for in
 * x-amz-copy-source-range (whole object when absent). */
enum s3_err s3_copy_source(struct s3_req *r, struct ag_attr *a,
			   uint64_t *off, uint64_t *len);

/* ---- access.c: owners, ACLs and modes (agora-s3d(8), Permissions) ---- */
#define S3_NOBODY 65534 /* the uid and gid of an anonymous request */
#define S3_ACL_XATTR "agora.acl" /* private: no face shows it */
#define S3_GRANTS_MAX 32
enum s3_perm {
	S3_PERM_READ = 1, S3_PERM_WRITE = 2, S3_PERM_READ_ACP = 4,
	S3_PERM_WRITE_ACP = 8, S3_PERM_FULL = 15,
};
enum s3_grantee { S3_GRANTEE_USER, S3_GRANTEE_ALL, S3_GRANTEE_AUTH };
struct s3_grant {
	unsigned perm;
	int kind;             /* enum s3_grantee */
	char id[65];          /* S3_GRANTEE_USER: the user's name */
};
struct s3_acl {
	int n;
	struct s3_grant g[S3_GRANTS_MAX];
};
/* What an operation needs of its bucket, checked before it runs
 * (http.c's routes): nothing (object reads check the object:
 * s3_object_access), a signature, or a permission on the bucket. */
enum s3_need {
	S3_NEED_NONE, S3_NEED_SIGNED, S3_NEED_READ, S3_NEED_WRITE,
	S3_NEED_READ_ACP, S3_NEED_WRITE_ACP, S3_NEED_OWNER,
};
/* action: the policy's name of the operation ("s3:ListBucket"). */
enum s3_err s3_authorize(struct s3_req *r, enum s3_need need,
			 const char *action);
/* Whether r's user owns a (by uid; uid 0 owns everything), whether a's
 * mode grants it want (AG_MAY_*), whether owner or ACL give it perm. */
int s3_owns(struct s3_req *r, const struct ag_attr *a);
int s3_may(struct s3_req *r, const struct ag_attr *a, unsigned want);
/* The ID and DisplayName of the owner of uid: the name of its (first)
 * user, else the number. */
void s3_owner_name(struct s3_req *r, uint32_t uid, char *out, size_t size);
int s3_allowed(struct s3_req *r, const struct ag_attr *a, unsigned perm);
/* Find key in bucket for an operation that needs perm of it: S3_OK and
 * its attributes, AccessDenied, or NoSuchKey to a user who may list. */
enum s3_err s3_object_access(struct s3_req *r, const struct ag_attr *bucket,
			     const char *bname, const char *key,
			     struct ag_attr *a, unsigned perm);
/* The same for an operation a policy names action. */
enum s3_err s3_object_access_as(struct s3_req *r,
				const struct ag_attr *bucket,
				const char *bname, const char *key,
				struct ag_attr *a, unsigned perm,
				const char *action);
/* Whether r's user owns bucket b or its policy allows action. */
enum s3_err s3_bucket_owner_or_policy(struct s3_req *r,
				      const struct ag_attr *b,
				      const char *action);
/* The permission half of s3_object_access(_as), for an element a of
 * key already found (a noncurrent version). */
enum s3_err s3_element_access(struct s3_req *r, const struct ag_attr *bucket,
			      const char *bname, const char *key,
			      const struct ag_attr *a, unsigned perm);
enum s3_err s3_element_access_as(struct s3_req *r,
				 const struct ag_attr *bucket,
				 const char *bname, const char *key,
				 const struct ag_attr *a, unsigned perm,
				 const char *action);
/* May r's user make, replace or remove key in r's bucket (action
 * "s3:PutObject", "s3:DeleteObject", ...)? */
enum s3_err s3_may_write_key(struct s3_req *r, const struct ag_attr *bucket,
			     const char *key, const char *action);
int s3_acl_load(struct s3_req *r, uint64_t ino, struct s3_acl *acl);
/* The grants of a canned ACL ("public-read", ...) added to acl;
 * InvalidArgument for a name there is not. */
enum s3_err s3_acl_canned(const char *name, struct s3_acl *acl);
/* The ACL x-amz-acl or x-amz-grant-* ask for (*given: some header did). */
enum s3_err s3_acl_from_headers(struct s3_req *r, struct s3_acl *acl,
				int *given);
enum s3_err s3_acl_check(struct s3_req *r);
/* Store acl in the writer's element (w) or on ino; the request's. */
int s3_acl_store(struct s3_req *r, struct ag_writer *w, uint64_t ino,
		 const struct s3_acl *acl);
int s3_acl_store_request(struct s3_req *r, struct ag_writer *w, uint64_t ino);
int s3_acl_copy(struct s3_req *r, uint64_t src, struct ag_writer *w);
/* A bucket's ACL, and the mode that lets others write when it does. */
int s3_bucket_acl_set(struct s3_req *r, const struct ag_attr *b,
		      const struct s3_acl *acl);
/* Whether the ACL or the policy of bucket b lets anyone but its owner
 * write (make and remove names in it): its mode must then let others
 * too (g+wx, o+wx), and no longer when neither does. After a change,
 * s3_bucket_mode_follow sets the mode if the answer changed from
 * was_open (the answer before). */
int s3_bucket_opened(struct s3_req *r, const struct ag_attr *b);
int s3_bucket_mode_follow(struct s3_req *r, const struct ag_attr *b,
			  int was_open);
int s3_get_acl(struct s3_req *r);   /* ?acl of a bucket or an object */
int s3_put_acl(struct s3_req *r);

/* ---- json.c: a small JSON reader ---- */
enum s3_jtype { S3_J_NULL, S3_J_BOOL, S3_J_NUM, S3_J_STR, S3_J_ARR, S3_J_OBJ };
struct s3_jval {
	enum s3_jtype t;
	char *s;               /* S3_J_STR: decoded; S3_J_NUM, S3_J_BOOL: as
				* written */
	int n;                 /* S3_J_ARR: items; S3_J_OBJ: members */
	struct s3_jval *items; /* S3_J_ARR: n values; S3_J_OBJ: n keys, then
				* n values, interleaved */
};
/* Parse the whole of [doc, doc + len): 0, -EINVAL, -ENOMEM. */
int s3_json_parse(const char *doc, size_t len, struct s3_jval *v);
void s3_json_free(struct s3_jval *v);
/* The value of member key of object o, NULL when absent or no object. */
const struct s3_jval *s3_json_get(const struct s3_jval *o, const char *key);
/* A string or a non-empty list of strings: how many (-1: neither), and
 * the i-th. */
int s3_json_strings(const struct s3_jval *v);
const char *s3_json_str_at(const struct s3_jval *v, int i);

/* ---- policy.c: bucket policies ---- */
#define S3_POLICY_XATTR "agora.policy" /* private, as S3_ACL_XATTR */
enum s3_verdict { S3_POLICY_NONE, S3_POLICY_ALLOW, S3_POLICY_DENY };
/* What the policy of bucket b (named bname) says of r's user doing
 * action to key (NULL: the bucket itself). */
enum s3_verdict s3_policy_decide(struct s3_req *r, const struct ag_attr *b,
				 const char *bname, const char *action,
				 const char *key);
/* Whether doc (len bytes, untrusted) is a policy of the subset served
 * for bucket: S3_OK, S3_MALFORMED_POLICY or S3_NOT_IMPLEMENTED (*detail
 * may say why). */
enum s3_err s3_policy_check(const char *doc, size_t len, const char *bucket,
			    const char **detail);
/* Whether the policy of b has an Allow of PutObject or DeleteObject. */
int s3_policy_writes(struct s3_req *r, const struct ag_attr *b);
int s3_get_policy(struct s3_req *r);
int s3_put_policy(struct s3_req *r);
int s3_delete_policy(struct s3_req *r);

/* ---- tagging.c: tags of objects and buckets ---- */
#define S3_TAGS_XATTR AG_XATTR_TAGS /* private, as S3_ACL_XATTR */
/* The tag set x-amz-tagging asks for, checked and encoded (*set
 * malloc'd, NULL without the header), or the error to answer with. */
enum s3_err s3_tags_header(struct s3_req *r, char **set,
			   const char **detail);
/* Store an encoded set (NULL: none) in the writer's element or on ino;
 * copy src's into the writer. */
int s3_tags_store(struct s3_req *r, struct ag_writer *w, uint64_t ino,
		  const char *set);
int s3_tags_copy(struct s3_req *r, uint64_t src, struct ag_writer *w);
/* One <Tag> (its inner bytes) checked and added to the set being built
 * in out (a string: zeroed, not s3_xml_init), *n tags so far, at most
 * max. */
enum s3_err s3_tag_from_xml(const char *tag, size_t tagl, struct s3_xml *out,
			    int *n, int max, const char **detail);
/* The next tag of an encoded set at *p, decoded: 0, 1 at its end, -1
 * malformed. */
#define S3_TAG_BYTES 1024 /* a decoded key or value: 256 units are <= 768 */
int s3_tags_next(const char **p, char key[S3_TAG_BYTES],
		 char value[S3_TAG_BYTES]);
/* How many tags ino has (0 on an error: a header, not an answer). */
int s3_tags_count(struct s3_req *r, uint64_t ino);
int s3_get_object_attributes(struct s3_req *r); /* attributes.c */
int s3_post_object(struct s3_req *r);           /* post.c */
int s3_get_lifecycle(struct s3_req *r);         /* lifecycle.c */
int s3_put_lifecycle(struct s3_req *r);
int s3_delete_lifecycle(struct s3_req *r);

/* ---- sse.c: server-side encryption in requests and answers ---- */
struct s3_sse {
	int kind;        /* 0 none, AG_SSE_CUSTOMER, AG_SSE_CLUSTER */
	uint8_t key[32];
};
/* What the request's SSE headers ask for (kind 0: nothing), checked. */
enum s3_err s3_sse_request(struct s3_req *r, struct s3_sse *sse,
			   const char **detail);
/* The key that reads an object stored as stored says, from what the
 * request gave: InvalidRequest when the request's kind is not the
 * object's, AccessDenied for another customer key. */
enum s3_err s3_sse_key_for(struct s3_req *r, const struct ag_sse *stored,
			   const struct s3_sse *given, const uint8_t **key);
/* CreateMultipartUpload: mark the upload up as encrypted as sse says
 * (nothing when it says nothing). UploadPart: the key its part is
 * encrypted with (sse->kind 0: none), from the mark and the request. */
int s3_sse_upload_mark(struct s3_req *r, uint64_t up, const struct s3_sse *sse);
enum s3_err s3_sse_for_part(struct s3_req *r, uint64_t up, struct s3_sse *sse,
			    const char **detail);
/* The headers that tell how an object is encrypted, appended to hdr. */
void s3_sse_headers(int kind, const uint8_t key_md5[16], char *hdr,
		    size_t size);

/* ---- cors.c: cross-origin requests ---- */
#define S3_CORS_XATTR "agora.cors" /* private, as S3_ACL_XATTR */
/* For a request with Origin to a bucket whose CORS rules allow it: set
 * r->cors, the headers every reply to it carries. */
void s3_cors_prepare(struct s3_req *r);
int s3_cors_preflight(struct s3_req *r); /* OPTIONS */
int s3_get_cors(struct s3_req *r);
int s3_put_cors(struct s3_req *r);
int s3_delete_cors(struct s3_req *r);
int s3_get_tagging(struct s3_req *r);
int s3_put_tagging(struct s3_req *r);
int s3_delete_tagging(struct s3_req *r);

/* ---- notify.c: bucket notifications, kept as triggers ---- */
int s3_get_notification(struct s3_req *r);
int s3_put_notification(struct s3_req *r);
/* Drop the notification configuration of r's bucket (DeleteBucket). */
int s3_notification_drop(struct s3_req *r);

/* Operations, one group per file; http.c dispatches with one table. */
int s3_list_buckets(struct s3_req *r);      /* bucket.c */
int s3_create_bucket(struct s3_req *r);
int s3_head_bucket(struct s3_req *r);
int s3_delete_bucket(struct s3_req *r);
int s3_bucket_location(struct s3_req *r);
int s3_bucket_versioning(struct s3_req *r);
int s3_put_object(struct s3_req *r);        /* object.c */
int s3_get_object(struct s3_req *r);        /* GET and HEAD */
int s3_delete_object(struct s3_req *r);
int s3_delete_objects(struct s3_req *r);
int s3_copy_object(struct s3_req *r);       /* copy.c */
int s3_list_objects(struct s3_req *r);      /* list.c: v1, v2, versions */
/* versioning.c */
int s3_put_bucket_versioning(struct s3_req *r);
/* The version headers of v for every reply to r. */
void s3_version_header(struct s3_req *r, const struct ag_version *v);
/* The same for the current element a of a key of bucket, when the
 * bucket is versioned. */
void s3_version_note(struct s3_req *r, uint64_t bucket,
		     const struct ag_attr *a);
/* After a miss of key in a versioned bucket: when the key's newest
 * version is a delete marker, the headers that say so. */
void s3_version_note_marker(struct s3_req *r, uint64_t bucket,
			    const char *key);
/* Version id of bname/key, to be read by r's user: S3_OK and its
 * element in *a (and *v when vp), or the error (a marker: 405). */
enum s3_err s3_version_lookup(struct s3_req *r, const char *bname,
			      const char *key, const char *id,
			      struct ag_attr *bucket, struct ag_attr *a,
			      struct ag_version *vp);
/* GET or HEAD ?versionId: the version's element in *a (headers set),
 * or the error (a marker: 405 with its headers). */
enum s3_err s3_version_get(struct s3_req *r, struct ag_attr *bucket,
			   struct ag_attr *a);
/* DELETE ?versionId of key. */
enum s3_err s3_version_delete(struct s3_req *r, const struct ag_attr *bucket,
			      const char *key, const char *id);
int s3_create_upload(struct s3_req *r);     /* multipart.c */
int s3_upload_part(struct s3_req *r);
int s3_complete_upload(struct s3_req *r);
int s3_abort_upload(struct s3_req *r);
int s3_list_parts(struct s3_req *r);
int s3_list_uploads(struct s3_req *r);

#endif
