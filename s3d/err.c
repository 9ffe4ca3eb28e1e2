/*
 * err.c - the one table of S3 errors (HTTP status, <Code>, message) and
 * the one mapping from core errors to them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "s3d.h"

static const struct {
	int status;
	const char *code, *message;
} errors[S3_ERR_COUNT] = {
	[S3_ACCESS_DENIED] = { 403, "AccessDenied", "Access Denied" },
	[S3_BAD_DIGEST] = { 400, "BadDigest",
			    "The Content-MD5 you specified did not match what we received." },
	[S3_BUCKET_EXISTS] = { 409, "BucketAlreadyOwnedByYou",
			       "The bucket you tried to create already exists." },
	[S3_BUCKET_NOT_EMPTY] = { 409, "BucketNotEmpty",
				  "The bucket you tried to delete is not empty." },
	[S3_ENTITY_TOO_SMALL] = { 400, "EntityTooSmall",
				  "Your proposed upload is smaller than the minimum allowed object size." },
	[S3_EXPIRED] = { 403, "AccessDenied", "Request has expired" },
	[S3_INCOMPLETE_BODY] = { 400, "IncompleteBody",
				 "You did not provide the number of bytes specified by the Content-Length HTTP header." },
	[S3_INTERNAL] = { 500, "InternalError",
			  "We encountered an internal error. Please try again." },
	[S3_INVALID_ACCESS_KEY] = { 403, "InvalidAccessKeyId",
				    "The AWS Access Key Id you provided does not exist in our records." },
	[S3_INVALID_ARGUMENT] = { 400, "InvalidArgument", "Invalid Argument" },
	[S3_INVALID_BUCKET_NAME] = { 400, "InvalidBucketName",
				     "The specified bucket is not valid." },
	[S3_INVALID_DIGEST] = { 400, "InvalidDigest",
				"The Content-MD5 you specified is not valid." },
	[S3_INVALID_PART] = { 400, "InvalidPart",
			      "One or more of the specified parts could not be found or its entity tag did not match." },
	[S3_INVALID_PART_ORDER] = { 400, "InvalidPartOrder",
				    "The list of parts was not in ascending order." },
	[S3_INVALID_RANGE] = { 416, "InvalidRange",
			       "The requested range is not satisfiable" },
	[S3_INVALID_REQUEST] = { 400, "InvalidRequest", "Invalid Request" },
	[S3_KEY_TOO_LONG] = { 400, "KeyTooLongError", "Your key is too long" },
	[S3_MALFORMED_XML] = { 400, "MalformedXML",
			       "The XML you provided was not well-formed or did not validate against our published schema." },
	[S3_METHOD_NOT_ALLOWED] = { 405, "MethodNotAllowed",
				    "The specified method is not allowed against this resource." },
	[S3_MISSING_CONTENT_LENGTH] = { 411, "MissingContentLength",
					"You must provide the Content-Length HTTP header." },
	[S3_MISSING_SECURITY_HEADER] = { 400, "MissingSecurityHeader",
					 "Your request is missing a required header." },
	[S3_NO_SUCH_BUCKET] = { 404, "NoSuchBucket",
				"The specified bucket does not exist" },
	[S3_NO_SUCH_KEY] = { 404, "NoSuchKey",
			     "The specified key does not exist." },
	[S3_NO_SUCH_UPLOAD] = { 404, "NoSuchUpload",
				"The specified multipart upload does not exist." },
	[S3_NOT_IMPLEMENTED] = { 501, "NotImplemented",
				 "A header or operation you provided implies functionality that is not implemented." },
	[S3_NOT_MODIFIED] = { 304, "NotModified", "Not Modified" },
	[S3_PRECONDITION_FAILED] = { 412, "PreconditionFailed",
				     "At least one of the preconditions you specified did not hold." },
	[S3_SHA256_MISMATCH] = { 400, "XAmzContentSHA256Mismatch",
				 "The provided 'x-amz-content-sha256' header does not match what was computed." },
	[S3_SIGNATURE_MISMATCH] = { 403, "SignatureDoesNotMatch",
				    "The request signature we calculated does not match the signature you provided." },
	[S3_TIME_SKEWED] = { 403, "RequestTimeTooSkewed",
			     "The difference between the request time and the current time is too large." },
	[S3_AUTH_MALFORMED] = { 400, "AuthorizationHeaderMalformed",
				"The authorization header is malformed." },
	[S3_SLOW_DOWN] = { 503, "SlowDown", "Please reduce your request rate." },
	[S3_NO_SPACE] = { 507, "InsufficientStorage",
			  "The cluster has no space left for this object." },
	[S3_KEY_CONFLICT] = { 409, "KeyConflict",
			      "The key needs a file and a directory of the same name (one of its prefixes is an object, or it names an existing prefix)." },
	[S3_BAD_CHECKSUM] = { 400, "BadDigest",
			      "The checksum you specified did not match what we received." },
	[S3_HEADERS_TOO_LARGE] = { 400, "RequestHeaderSectionTooLarge",
				   "Your request header section exceeds the maximum allowed size." },
	[S3_INVALID_URI] = { 400, "InvalidURI",
			     "Couldn't parse the specified URI." },
	[S3_BUCKET_TAKEN] = { 409, "BucketAlreadyExists",
			      "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again." },
	[S3_MALFORMED_POLICY] = { 400, "MalformedPolicy",
				  "Policies must be valid JSON and the first byte must be '{'" },
	[S3_NO_SUCH_POLICY] = { 404, "NoSuchBucketPolicy",
				"The bucket policy does not exist" },
	[S3_NO_SUCH_VERSION] = { 404, "NoSuchVersion",
				 "The specified version does not exist." },
	[S3_ILLEGAL_LOCATION] = { 400, "IllegalLocationConstraintException",
				  "The location constraint is incompatible for the region specific endpoint this request was sent to." },
	[S3_INVALID_TAG] = { 400, "InvalidTag",
			     "The tag provided was not a valid tag." },
	[S3_NO_SUCH_TAG_SET] = { 404, "NoSuchTagSet",
				 "The TagSet does not exist." },
	[S3_INVALID_PART_NUMBER] = { 416, "InvalidPartNumber",
				     "The requested partnumber is not satisfiable" },
	[S3_BAD_REQUEST] = { 400, "BadRequest", "Bad Request" },
	[S3_CORS_FORBIDDEN] = { 403, "AccessForbidden",
				"CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec." },
	[S3_NO_SUCH_CORS] = { 404, "NoSuchCORSConfiguration",
			      "The CORS configuration does not exist" },
	[S3_MALFORMED_POST] = { 400, "MalformedPOSTRequest",
				"The body of your POST request is not well-formed multipart/form-data." },
	[S3_NOT_FORM] = { 412, "PreconditionFailed",
			  "Bucket POST must be of the enclosure-type multipart/form-data" },
	[S3_INVALID_POLICY_DOCUMENT] = { 400, "InvalidPolicyDocument",
					 "The content of the form does not meet the conditions specified in the policy document." },
	[S3_ENTITY_TOO_LARGE] = { 400, "EntityTooLarge",
				  "Your proposed upload exceeds the maximum allowed size" },
	[S3_NO_SUCH_LIFECYCLE] = { 404, "NoSuchLifecycleConfiguration",
				   "The lifecycle configuration does not exist" },
};

const char *s3_err_code(enum s3_err e)
{
	return e > S3_OK && e < S3_ERR_COUNT ? errors[e].code : "InternalError";
}

int s3_error(struct s3_req *r, enum s3_err e, const char *detail)
{
	struct s3_xml x;
	char resource[64];

	if (e <= S3_OK || e >= S3_ERR_COUNT)
		e = S3_INTERNAL;
	snprintf(resource, sizeof(resource), "%s", r->bucket);
	s3_xml_init(&x);
	s3_xml_raw(&x, "<Error>");
	s3_xml_text(&x, "Code", errors[e].code);
	s3_xml_text(&x, "Message", detail ? detail : errors[e].message);
	if (*r->key)
		s3_xml_text(&x, "Key", r->key);
	if (*r->bucket)
		s3_xml_text(&x, "BucketName", r->bucket);
	s3_xml_text(&x, "RequestId", r->request_id);
	s3_xml_raw(&x, "</Error>");
	/* HEAD and 304 carry no body */
	if (errors[e].status == 304 || !strcmp(r->method, "HEAD")) {
		s3_xml_free(&x);
		return s3_reply_head(r, errors[e].status, NULL, 0);
	}
	return s3_xml_reply(r, errors[e].status, &x);
}

enum s3_err s3_errno(int rc, int on_key)
{
	switch (rc) {
	case 0:
		return S3_OK;
	case -ENOENT:
		return on_key ? S3_NO_SUCH_KEY : S3_NO_SUCH_BUCKET;
	case -ENOTDIR:
	case -EISDIR:
	case -EEXIST:
		return S3_KEY_CONFLICT;
	case -ENAMETOOLONG:
		return S3_KEY_TOO_LONG;
	case -EINVAL:
		return S3_INVALID_ARGUMENT;
	case -ENOTEMPTY:
		return S3_BUCKET_NOT_EMPTY;
	case -ENOSPC:
	case -EDQUOT:
		return S3_NO_SPACE;
	case -EACCES:
	case -EPERM:
		return S3_ACCESS_DENIED;
	case -EAGAIN:
	case -EBUSY:
	case -ENOTCONN: /* a change found no agora-metad: try again later */
	case -AG_ESTALEROOT: /* the tree moved under every try of a read */
		return S3_SLOW_DOWN;
	case -AG_ECONDITION:
		return S3_PRECONDITION_FAILED;
	default:
		/* the client only sees InternalError: say what it was */
		fprintf(stderr, "agora-s3d: internal error: %s\n",
			ag_strerror(rc));
		return S3_INTERNAL;
	}
}
