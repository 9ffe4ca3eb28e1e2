/*
 * fuzz_xml.c - the XML request bodies (s3d/xml.c): the scanner and the
 * entity decoder, walked as the body parsers walk them. The input is a
 * body; each document element S3 takes (Delete, CompleteMultipartUpload,
 * CreateBucketConfiguration) is looked for, and each child element of
 * the one found, nested elements and all, is scanned and its text
 * decoded; every <Part> goes through the CompleteMultipartUpload part
 * parser.
 */
#include <string.h>

#include "fuzz.h"
#include "../s3d/s3d.h"

static const char *const documents[] = {
	"Delete", "CompleteMultipartUpload", "CreateBucketConfiguration",
};
static const char *const children[] = {
	"Object", "Key", "VersionId", "Quiet", "Part", "PartNumber", "ETag",
	"LocationConstraint", "Location", "Bucket",
};

/* Every child of [p, end), one level down from each (depth bounded). */
static void walk(const char *p, const char *end, int depth)
{
	char text[S3_KEY_MAX + 1];
	uint8_t md5[16];
	const char *q, *v;
	size_t i, vl;
	long number;

	for (i = 0; i < S3_ARRAY_LEN(children); i++) {
		q = p;
		while (!s3_xml_next(&q, end, children[i], &v, &vl)) {
			if (v < p || v + vl > end || q > end)
				__builtin_trap(); /* outside its parent */
			fuzz_touch(v, vl);
			if (s3_xml_unescape(v, vl, text, sizeof(text)) >= 0)
				fuzz_touch(text, strlen(text));
			if (!strcmp(children[i], "Part") &&
			    s3_xml_part(v, vl, &number, md5) == S3_OK)
				fuzz_touch(md5, sizeof(md5));
			if (depth < 2)
				walk(v, v + vl, depth + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data, *p, *v;
	size_t i, vl;

	for (i = 0; i < S3_ARRAY_LEN(documents); i++) {
		p = body;
		if (!s3_xml_next(&p, body + size, documents[i], &v, &vl))
			walk(v, v + vl, 0);
	}
	return 0;
}
