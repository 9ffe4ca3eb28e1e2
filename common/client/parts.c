/*
 * parts.c - what an object completed from parts keeps of them: the one
 * codec of the parts claim (AG_XATTR_PARTS), and the answers drawn from
 * it (the "-N" of the ETag, the byte range of part N, the upload that
 * completed it).
 *
 * The claim is "N[ ID[ RUNS]]": the part count, the ID of the upload,
 * and the parts' sizes as runs "SIZE" or "SIZE*COUNT" separated by
 * commas ("8388608*99,1024"). Objects completed by older gateways hold
 * "N" only. Like the stored ETag it describes the completed bytes, so it
 * holds only while AG_ATTR_ETAG does, and the core drops it with the
 * ETag when the data changes (objects.c). Runs that would not fit an
 * xattr (parts of many sizes) are left out: the count and the ID stay.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora.h"
#include "btree.h" /* AG_VAL_MAX, for AG_XATTR_MAX */
#include "keys.h"

#define CLAIM_SMALL 256 /* most claims: one read into the stack */

int ag_object_set_parts(struct ag_writer *w, const uint8_t md5[16],
			unsigned nparts, const char *upload_id,
			const uint64_t *sizes)
{
	size_t cap = 64 + (size_t)nparts * 32, len, with_id;
	char *claim;
	unsigned i, run;
	int rc;

	if (!nparts || nparts > AG_PARTS_MAX ||
	    (upload_id && strlen(upload_id) != AG_UPLOAD_ID_LEN))
		return -EINVAL;
	claim = malloc(cap);
	if (!claim)
		return -ENOMEM;
	len = snprintf(claim, cap, "%u", nparts);
	if (upload_id) {
		len += snprintf(claim + len, cap - len, " %s", upload_id);
		with_id = len;
		for (i = 0; sizes && i < nparts; i += run) {
			for (run = 1; i + run < nparts &&
				      sizes[i + run] == sizes[i]; run++)
				;
			len += snprintf(claim + len, cap - len, "%c%" PRIu64,
					i ? ',' : ' ', sizes[i]);
			if (run > 1)
				len += snprintf(claim + len, cap - len, "*%u",
						run);
		}
		if (len > AG_XATTR_MAX) /* sizes of too many kinds */
			len = with_id;
	}
	ag_writer_set_etag(w, md5);
	rc = ag_writer_setxattr(w, AG_XATTR_PARTS, claim, len);
	free(claim);
	return rc;
}

/* The claim of a, NUL-terminated: in small (CLAIM_SMALL bytes) or in
 * *big (malloc'd, to free); 0 and *claim NULL when a has none. */
static int claim_load(struct ag_cluster *c, const struct ag_attr *a,
		      char *small, char **big, const char **claim)
{
	ssize_t n;

	*big = NULL;
	*claim = NULL;
	if (!(a->flags & AG_ATTR_ETAG))
		return 0;
	n = ag_getxattr(c, a->ino, AG_XATTR_PARTS, small, CLAIM_SMALL - 1);
	if (n == -ERANGE) {
		n = ag_getxattr(c, a->ino, AG_XATTR_PARTS, NULL, 0);
		if (n >= 0 && !(*big = malloc(n + 1)))
			return -ENOMEM;
		if (n >= 0)
			n = ag_getxattr(c, a->ino, AG_XATTR_PARTS, *big, n);
		small = *big;
	}
	if (n == -ENODATA)
		return 0;
	if (n < 0)
		return (int)n;
	small[n] = 0;
	*claim = small;
	return 0;
}

/* The count at the head of a claim; 0 when it is not one. */
static unsigned claim_count(const char *claim, const char **rest)
{
	size_t digits = strspn(claim, "0123456789");
	unsigned long n;

	if (!digits || digits > 5 || (claim[digits] && claim[digits] != ' '))
		return 0;
	n = strtoul(claim, NULL, 10);
	*rest = claim + digits;
	return n <= AG_PARTS_MAX ? (unsigned)n : 0;
}

int ag_object_parts(struct ag_cluster *c, const struct ag_attr *a,
		    unsigned *nparts, char upload_id[AG_UPLOAD_ID_LEN + 1])
{
	char small[CLAIM_SMALL], *big;
	const char *claim, *rest = "";
	int rc = claim_load(c, a, small, &big, &claim);

	*nparts = 0;
	if (upload_id)
		upload_id[0] = 0;
	if (rc || !claim)
		return rc;
	*nparts = claim_count(claim, &rest);
	if (*nparts && upload_id && rest[0] == ' ' &&
	    strspn(rest + 1, "0123456789abcdef") == AG_UPLOAD_ID_LEN) {
		memcpy(upload_id, rest + 1, AG_UPLOAD_ID_LEN);
		upload_id[AG_UPLOAD_ID_LEN] = 0;
	}
	free(big);
	return 0;
}

/* Walk the runs to part (1-based): its offset and size; -ENODATA when
 * the runs do not say (absent, malformed, or fewer parts than n). */
static int runs_find(const char *runs, unsigned n, unsigned part,
		     uint64_t *off, uint64_t *len)
{
	const char *p = runs;
	unsigned seen = 0;
	uint64_t at = 0;

	while (*p) {
		char *end;
		unsigned long long size = strtoull(p, &end, 10);
		unsigned long count = 1;

		if (end == p)
			return -ENODATA;
		if (*end == '*') {
			p = end + 1;
			count = strtoul(p, &end, 10);
			if (end == p || !count || count > n - seen)
				return -ENODATA;
		}
		if (part <= seen + count) {
			*off = at + (uint64_t)(part - seen - 1) * size;
			*len = size;
			return 0;
		}
		seen += count;
		at += (uint64_t)count * size;
		if (*end != ',')
			return -ENODATA;
		p = end + 1;
	}
	return -ENODATA;
}

int ag_object_part(struct ag_cluster *c, const struct ag_attr *a,
		   unsigned part, uint64_t *off, uint64_t *len)
{
	char small[CLAIM_SMALL], *big;
	const char *claim, *rest = "";
	unsigned n = 0;
	int rc = claim_load(c, a, small, &big, &claim);

	if (rc)
		return rc;
	if (claim)
		n = claim_count(claim, &rest);
	if (!n) { /* not (or no longer) a completed upload: one part */
		*off = 0;
		*len = a->size;
		rc = part == 1 ? 0 : -ERANGE;
	} else if (!part || part > n) {
		rc = -ERANGE;
	} else if (rest[0] != ' ' || strlen(rest) < 2 + AG_UPLOAD_ID_LEN ||
		   rest[1 + AG_UPLOAD_ID_LEN] != ' ') {
		rc = -ENODATA;
	} else {
		rc = runs_find(rest + 2 + AG_UPLOAD_ID_LEN, n, part, off, len);
		if (!rc && (*off > a->size || *len > a->size - *off))
			rc = -ENODATA; /* a claim that lies: trust none */
	}
	free(big);
	return rc;
}
