/*
 * fsck.c - check a whole cluster, and report its status.
 *
 * fsck reads the newest commit and walks everything it references: every
 * page (each mirror), every record, every reference between records, and
 * every stripe and chunk of data. It recounts what the tree stores as
 * counts (link counts, chunk references from extents and deltas, live
 * bytes per segment, the STATS record) and reports each difference. A
 * delta chunk must name a reference that is recorded, no delta and
 * marked reduced, and decode to bytes of its own SHA-256. A SIMILAR
 * entry naming a chunk gone or a delta is stale, not damage (keys.h):
 * fsck counts those. It changes nothing.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster.h"
#include "event.h"
#include "ec.h"
#include "file_int.h"
#include "format.h"
#include "keys.h"
#include "space.h" /* the reserves held back from data leases */
#include "util.h"

/* ---- a small open-addressing map with 32-byte keys ---- */

struct entry {
	uint8_t key[32];
	uint8_t used;
	uint32_t mode;
	uint64_t a, b, c; /* meaning depends on the map */
};

struct map {
	struct entry *e;
	size_t n, cap;
};

static struct entry *map_get(struct map *m, const void *key, size_t klen,
			     int create)
{
	uint8_t k[32] = { 0 };
	uint64_t h;
	size_t i;

	memcpy(k, key, klen);
	if (create && (m->n + 1) * 2 > m->cap) {
		struct map nm = { .cap = m->cap ? 2 * m->cap : 1024 };
		size_t j;

		nm.e = calloc(nm.cap, sizeof(*nm.e));
		if (!nm.e)
			return NULL;
		for (j = 0; j < m->cap; j++) {
			if (!m->e[j].used)
				continue;
			memcpy(&h, m->e[j].key, 8);
			h *= 0x9e3779b97f4a7c15ull;
			for (i = h % nm.cap; nm.e[i].used; i = (i + 1) % nm.cap)
				;
			nm.e[i] = m->e[j];
		}
		free(m->e);
		m->e = nm.e;
		m->cap = nm.cap;
	}
	if (!m->cap)
		return NULL;
	memcpy(&h, k, 8);
	h *= 0x9e3779b97f4a7c15ull;
	for (i = h % m->cap; m->e[i].used; i = (i + 1) % m->cap)
		if (!memcmp(m->e[i].key, k, 32))
			return &m->e[i];
	if (!create)
		return NULL;
	memcpy(m->e[i].key, k, 32);
	m->e[i].used = 1;
	m->n++;
	return &m->e[i];
}

/* ---- the check ---- */

struct delta_seen {
	uint8_t sha[32];
	struct ag_chunk_rec rec;
};

struct fsck {
	struct ag_cluster *c;
	FILE *out;
	int verbose;
	unsigned long problems;
	struct map inodes;  /* ino -> mode, a = links counted, b = nlink,
			     * c = subdirectories counted */
	struct map chunks;  /* sha -> a = references counted, b = 1 once
			     * its record is seen, c = references recorded,
			     * mode = its flags */
	struct delta_seen *deltas; /* the delta chunks, to check at the end */
	size_t ndeltas, deltas_cap;
	uint64_t similar, similar_stale;
	uint64_t *seg_live; /* live bytes counted per segment */
	uint8_t *seg_state; /* state recorded per segment (0xff: none) */
	uint64_t *seg_rec_live;
	uint32_t *seg_pages;
	struct ag_stats_rec counted;
	uint64_t max_ino, next_ino, orphans, pages, bad_copies, torn_copies;
	/* the pages the newest whole commit wrote, sorted: a crash may have
	 * cut it short before all their copies were written */
	uint64_t *cur_pages;
	uint32_t ncur_pages;
	uint64_t cur_gen;
	int have_stats;
	struct ag_stats_rec stats;
	/* the event seen last, whole, for the next one, which is coded
	 * against it (event.h) */
	uint64_t ev_seq;
	int ev_have;
	struct ag_event ev;
	char ev_name[AG_EVENT_TEXT_MAX];
	struct rec_bytes {
		uint64_t n, key, val;
	} bytes[AG_K_ORPHAN + 2]; /* by type; the last: unknown types */
};

static void problem(struct fsck *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	f->problems++;
	if (!f->out || (f->problems > 200 && !f->verbose))
		return;
	fprintf(f->out, "DAMAGE: ");
	va_start(ap, fmt);
	vfprintf(f->out, fmt, ap);
	va_end(ap);
	fprintf(f->out, "\n");
}

static void note(struct fsck *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	if (!f->out)
		return;
	va_start(ap, fmt);
	vfprintf(f->out, fmt, ap);
	va_end(ap);
	fprintf(f->out, "\n");
}

static int cmp_addr(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static int check_page(uint64_t addr, int level, void *arg)
{
	struct fsck *f = arg;
	int bad = 0, unwritten = 0, good;
	uint32_t seg = AG_ADDR_SEG(addr);

	f->pages++;
	if (level < 0) {
		problem(f, "page %#llx cannot be read from any mirror",
			(unsigned long long)addr);
		return 0;
	}
	if (seg < f->c->ds->label.nsegments)
		f->seg_pages[seg]++;
	good = ag_page_check(f->c->ps, addr, &bad, &unwritten);
	if (good < 0)
		return good;
	if (unwritten && f->cur_pages &&
	    bsearch(&addr, f->cur_pages, f->ncur_pages, sizeof(addr),
		    cmp_addr)) {
		/* never written, not damaged: agora-metad writes them */
		f->torn_copies += unwritten;
		unwritten = 0;
	}
	bad += unwritten;
	if (bad) {
		f->bad_copies += bad;
		problem(f, "page %#llx: %d of its mirrors are corrupt or "
			"unreadable (%d good)", (unsigned long long)addr, bad,
			good);
	}
	return 0;
}

static void rec_inode(struct fsck *f, const uint8_t *k, size_t kl,
		      const void *v, size_t vl)
{
	uint64_t ino;
	struct ag_attr a;
	struct entry *e;

	if (ag_key_inode_decode(k, kl, &ino))
		ino = 0;
	if (!ino || ag_inode_decode(v, vl, ino, &a)) {
		problem(f, "inode record %llu is malformed",
			(unsigned long long)ino);
		return;
	}
	e = map_get(&f->inodes, &ino, 8, 1);
	if (!e)
		return;
	e->mode = a.mode;
	e->b = a.nlink;
	if (ino > f->max_ino)
		f->max_ino = ino;
	f->counted.inodes++;
}

static void rec_dirent(struct fsck *f, const uint8_t *k, size_t kl,
		       const uint8_t *v, size_t vl)
{
	uint64_t parent = 0, ino;
	struct entry *pe, *ce;
	const char *name = NULL;
	size_t nlen = 0;
	unsigned type;

	if (ag_key_dirent_decode(k, kl, &parent, &name, &nlen) || !nlen ||
	    ag_dirent_decode(v, vl, parent, &ino, &type)) {
		problem(f, "directory entry in %llu is malformed",
			(unsigned long long)parent);
		return;
	}
	if (nlen > AG_NAME_MAX || memchr(name, '/', nlen) ||
	    memchr(name, 0, nlen))
		problem(f, "directory %llu holds an invalid name",
			(unsigned long long)parent);
	pe = map_get(&f->inodes, &parent, 8, 0);
	ce = map_get(&f->inodes, &ino, 8, 0);
	if (!pe || !S_ISDIR(pe->mode)) {
		problem(f, "entry '%.*s' is in %llu, which is not a directory",
			(int)nlen, name, (unsigned long long)parent);
		return;
	}
	if (!ce) {
		problem(f, "entry '%.*s' in %llu names missing inode %llu",
			(int)nlen, name, (unsigned long long)parent,
			(unsigned long long)ino);
		return;
	}
	if (type != ((ce->mode & S_IFMT) >> 12))
		problem(f, "entry '%.*s' in %llu has the wrong type",
			(int)nlen, name, (unsigned long long)parent);
	ce->a++;
	if (S_ISDIR(ce->mode))
		pe->c++;
}

static void rec_extent(struct fsck *f, const uint8_t *k, size_t kl,
		       const void *v, size_t vl, uint64_t *last_ino,
		       uint64_t *last_end)
{
	struct ag_extent x;
	struct entry *ie, *ce;
	uint64_t ino, off;

	if (ag_extent_decode(k, kl, v, vl, &x) ||
	    ag_key_extent_decode(k, kl, &ino, &off)) {
		problem(f, "malformed extent record");
		return;
	}
	ie = map_get(&f->inodes, &ino, 8, 0);
	if (!ie || !S_ISREG(ie->mode))
		problem(f, "extent at %llu of %llu, which is not a file",
			(unsigned long long)x.off, (unsigned long long)ino);
	if (ino == *last_ino && x.off < *last_end)
		problem(f, "extents of %llu overlap at %llu",
			(unsigned long long)ino, (unsigned long long)x.off);
	*last_ino = ino;
	*last_end = x.off + x.len;
	ce = map_get(&f->chunks, x.sha, 32, 1);
	if (ce)
		ce->a++;
	f->counted.logical += x.len;
}

/* Keep a delta chunk for check_deltas; with no memory it goes
 * unchecked (and says so). */
static void delta_keep(struct fsck *f, const uint8_t *sha,
		       const struct ag_chunk_rec *r)
{
	if (f->ndeltas == f->deltas_cap) {
		size_t cap = f->deltas_cap ? 2 * f->deltas_cap : 256;
		struct delta_seen *nd = realloc(f->deltas, cap * sizeof(*nd));

		if (!nd) {
			problem(f, "out of memory: delta chunk %02x%02x%02x%02x "
				"not checked", sha[0], sha[1], sha[2], sha[3]);
			return;
		}
		f->deltas = nd;
		f->deltas_cap = cap;
	}
	memcpy(f->deltas[f->ndeltas].sha, sha, 32);
	f->deltas[f->ndeltas++].rec = *r;
}

static void rec_chunk(struct fsck *f, const uint8_t *k, size_t kl,
		      const void *v, size_t vl, int check_data)
{
	struct ag_chunk_rec r;
	struct entry *e;
	uint8_t sha[32];
	uint32_t seg;

	if (ag_key_chunk_decode(k, kl, sha) || ag_chunk_rec_decode(v, vl, &r)) {
		problem(f, "malformed chunk record");
		return;
	}
	/* a delta holds a reference on its reference chunk, which may sort
	 * before or after it: the counts are compared in check_counts */
	if (r.flags & AG_CHUNK_DELTA) {
		e = map_get(&f->chunks, r.ref, 32, 1);
		if (e)
			e->a++;
		delta_keep(f, sha, &r);
	}
	e = map_get(&f->chunks, sha, 32, 1);
	if (e) {
		e->b = 1; /* seen */
		e->c = r.refs;
		e->mode = r.flags;
	}
	seg = AG_ADDR_SEG(r.addr);
	if (seg >= f->c->ds->label.nsegments) {
		problem(f, "chunk address %#llx outside the cluster",
			(unsigned long long)r.addr);
		return;
	}
	f->seg_live[seg] += r.clen;
	f->counted.chunks++;
	f->counted.unique += r.ulen;
	f->counted.stored += r.clen;
	if (check_data) {
		uint8_t *buf = malloc(r.clen);
		int rc;

		if (!buf)
			return;
		rc = ag_stripes_read(f->c->stripes, r.addr, buf, r.clen, r.crc);
		if (rc)
			problem(f, "chunk %02x%02x%02x%02x at %#llx cannot be "
				"read back: %s", sha[0], sha[1], sha[2], sha[3],
				(unsigned long long)r.addr, ag_strerror(rc));
		free(buf);
	}
}

/* An entry of the similarity index: it must be well formed; one naming
 * a chunk that is gone or a delta is stale (keys.h). CHUNK records sort
 * before SIMILAR ones, so every chunk has been seen. */
/* An event is made whole from the one before: an anchor, or an event
 * after a gap, is not coded against one (event.h). */
static void rec_event(struct fsck *f, const void *k, size_t kl,
		      const void *v, size_t vl)
{
	struct ag_event e;
	uint64_t seq;
	int have;

	if (ag_key_event_decode(k, kl, &seq) || ag_event_decode(v, vl, &e))
		return; /* ag_event_record_check reports it */
	have = f->ev_have && f->ev_seq + 1 == seq &&
	       seq % AG_EVENT_ANCHOR != 0;
	f->ev_have = !ag_event_join(&e, have ? &f->ev : NULL, f->ev_name);
	if (!f->ev_have)
		problem(f, "event %llu is coded against an event before that "
			"it cannot have", (unsigned long long)seq);
	f->ev = e;
	f->ev.name = f->ev_name;
	f->ev_seq = seq;
}

static void rec_similar(struct fsck *f, const uint8_t *k, size_t kl,
			const void *v, size_t vl)
{
	struct entry *e;
	uint8_t sha[32];
	uint64_t sf;

	if (ag_key_similar_decode(k, kl, &sf) ||
	    ag_similar_decode(v, vl, sha)) {
		problem(f, "malformed similarity index record");
		return;
	}
	f->similar++;
	e = map_get(&f->chunks, sha, 32, 0);
	if (!e || !e->b || e->mode & AG_CHUNK_DELTA)
		f->similar_stale++;
}

/* Each delta chunk: its reference is recorded and no delta, and (with
 * the data) the delta decodes against it to bytes of the delta's own
 * SHA-256. */
static void check_deltas(struct fsck *f, struct ag_tree *t, int check_data)
{
	size_t i;

	for (i = 0; i < f->ndeltas; i++) {
		const struct delta_seen *d = &f->deltas[i];
		const uint8_t *s = d->sha, *r = d->rec.ref;
		struct entry *re = map_get(&f->chunks, r, 32, 0);
		uint8_t got[32], *plain = NULL;
		unsigned mdlen = 0;
		int rc;

		if (!re || !re->b) {
			problem(f, "delta chunk %02x%02x%02x%02x names reference "
				"%02x%02x%02x%02x, which has no record", s[0],
				s[1], s[2], s[3], r[0], r[1], r[2], r[3]);
			continue;
		}
		if (re->mode & AG_CHUNK_DELTA) {
			problem(f, "delta chunk %02x%02x%02x%02x names reference "
				"%02x%02x%02x%02x, which is a delta itself",
				s[0], s[1], s[2], s[3], r[0], r[1], r[2], r[3]);
			continue;
		}
		/* unmarked, it could become a delta itself (keys.h) */
		if (!(re->mode & AG_CHUNK_REDUCED))
			problem(f, "delta chunk %02x%02x%02x%02x names reference "
				"%02x%02x%02x%02x, which is not marked reduced",
				s[0], s[1], s[2], s[3], r[0], r[1], r[2], r[3]);
		if (!check_data)
			continue;
		rc = ag_read_chunk_plain(f->c, t, &d->rec, &plain);
		if (!rc && (!EVP_Digest(plain, d->rec.ulen, got, &mdlen,
					EVP_sha256(), NULL) ||
			    mdlen != 32))
			rc = -ENOMEM;
		if (rc)
			problem(f, "delta chunk %02x%02x%02x%02x does not decode: "
				"%s", s[0], s[1], s[2], s[3], ag_strerror(rc));
		else if (memcmp(got, s, 32))
			problem(f, "delta chunk %02x%02x%02x%02x decodes to other "
				"bytes (%02x%02x%02x%02x)", s[0], s[1], s[2],
				s[3], got[0], got[1], got[2], got[3]);
		free(plain);
	}
}

/* Every copy of a mirrored stripe's blocks must be readable and equal. */
static void rec_mirrored(struct fsck *f, uint32_t seg, uint32_t stripe,
			 uint32_t bytes)
{
	const struct ag_label *l = &f->c->ds->label;
	uint32_t i, n = l->ec_k + l->ec_m;
	uint8_t bad[AG_EC_MAX];
	int rc;

	rc = ag_stripes_check_mirror(f->c->stripes, seg, stripe, bytes, bad);
	if (rc < 0) {
		problem(f, "mirrored stripe %u/%u (%u bytes) cannot be "
			"checked: %s", seg, stripe, bytes, ag_strerror(rc));
		return;
	}
	for (i = 0; rc && i < n; i++) {
		int d = ag_slot_drive(l, (uint64_t)stripe * n + i);

		if (!bad[i] || f->c->ds->d[d].state != AG_DRIVE_OK)
			continue; /* reported once as a missing drive */
		problem(f, "segment %u mirrored stripe %u copy in slot %u "
			"(drive %d) %s", seg, stripe, i, d,
			bad[i] == 1 ? "is unreadable" : "differs from the others");
	}
}

static void rec_stripe(struct fsck *f, uint32_t seg, uint32_t stripe,
		       const uint8_t *v, size_t vl, uint8_t **bufs,
		       uint8_t *ok)
{
	const struct ag_label *l = &f->c->ds->label;
	uint32_t i, n = l->ec_k + l->ec_m;

	if (vl == 4) {
		rec_mirrored(f, seg, stripe, get_le32(v));
		return;
	}
	if (vl != 4 * n) {
		problem(f, "stripe %u/%u record is malformed", seg, stripe);
		return;
	}
	if (ag_stripes_read_raw(f->c->stripes, seg, stripe, bufs, ok))
		memset(ok, 0, n);
	for (i = 0; i < n; i++) {
		int d = ag_slot_drive(l, (uint64_t)stripe * n + i);

		if (f->c->ds->d[d].state != AG_DRIVE_OK)
			continue; /* reported once as a missing drive */
		if (!ok[i])
			problem(f, "segment %u stripe %u strip %u (drive %d) "
				"is unreadable", seg, stripe, i, d);
		else if (ag_crc32c(bufs[i], l->strip_size) !=
			 get_le32(v + 4 * i))
			problem(f, "segment %u stripe %u strip %u (drive %d) "
				"fails its checksum", seg, stripe, i, d);
	}
}

static void rec_segment(struct fsck *f, uint32_t seg, const void *v,
			size_t vl)
{
	struct ag_seg_rec r;

	if (seg >= f->c->ds->label.nsegments || ag_seg_rec_decode(v, vl, &r)) {
		problem(f, "segment record %u is malformed", seg);
		return;
	}
	f->seg_state[seg] = r.state;
	f->seg_rec_live[seg] = r.live;
}

static void rec_orphan(struct fsck *f, uint64_t ino)
{
	struct entry *e = map_get(&f->inodes, &ino, 8, 0);

	if (!e) {
		problem(f, "orphan record names missing inode %llu",
			(unsigned long long)ino);
		return;
	}
	e->c |= 1ull << 63; /* marked: allowed to have no name */
	f->orphans++;
}

/* A VERSION record names its element as a directory entry does (the
 * element's one name, counted in its nlink); a marker names nothing. */
static void rec_version(struct fsck *f, const void *k, size_t kl,
			const uint8_t *v, size_t vl)
{
	struct ag_version_rec r;
	struct entry *be, *e;
	uint64_t bucket, seq;
	const char *key;
	size_t klen;

	if (ag_key_version_decode(k, kl, &bucket, &key, &klen, &seq) ||
	    ag_version_rec_decode(v, vl, &r)) {
		problem(f, "version record is malformed");
		return;
	}
	be = map_get(&f->inodes, &bucket, 8, 0);
	if (!be || !S_ISDIR(be->mode))
		problem(f, "version of '%.*s' is in %llu, which is not a "
			"directory", (int)klen, key,
			(unsigned long long)bucket);
	if (!r.ino)
		return;
	e = map_get(&f->inodes, &r.ino, 8, 0);
	if (!e || !S_ISREG(e->mode)) {
		problem(f, "version of '%.*s' names %s inode %llu", (int)klen,
			key, e ? "a non-file" : "missing",
			(unsigned long long)r.ino);
		return;
	}
	e->a++;
}

static int scan_records(struct fsck *f, struct ag_tree *t, int check_data)
{
	const struct ag_label *l = &f->c->ds->label;
	uint8_t *bufs[AG_MAX_DRIVES], ok[AG_MAX_DRIVES];
	uint64_t last_ino = 0, last_end = 0;
	struct ag_cursor *cur;
	const void *ck, *cv;
	size_t ckl, cvl;
	uint32_t i, n = l->ec_k + l->ec_m;
	int rc;

	for (i = 0; i < n; i++) {
		bufs[i] = ag_alloc_aligned(l->strip_size);
		if (!bufs[i]) {
			while (i--)
				free(bufs[i]);
			return -ENOMEM;
		}
	}
	rc = ag_tree_seek(t, NULL, 0, &cur);
	if (rc)
		goto out;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		const uint8_t *k = ck;
		int type = ag_key_type(ck, ckl);
		const char *name;
		size_t nlen;
		uint32_t seg, stripe;
		uint64_t id;
		struct rec_bytes *rb =
			&f->bytes[type > 0 && type <= AG_K_ORPHAN ? type
								  : AG_K_ORPHAN + 1];

		rb->n++;
		rb->key += ckl;
		rb->val += cvl;
		switch (type) {
		case AG_K_SUPER:
			if (!ag_key_super_decode(ck, ckl, &name, &nlen) &&
			    nlen == 8 && !memcmp(name, "next_ino", 8) &&
			    cvl == 8)
				f->next_ino = get_le64(cv);
			break;
		case AG_K_SEGMENT:
			if (!ag_key_segment_decode(ck, ckl, &seg))
				rec_segment(f, seg, cv, cvl);
			break;
		case AG_K_INODE:
			rec_inode(f, k, ckl, cv, cvl);
			break;
		case AG_K_DIRENT:
			rec_dirent(f, k, ckl, cv, cvl);
			break;
		case AG_K_XATTR: {
			unsigned piece;

			/* a malformed key names inode 0, which is missing */
			if (ag_key_xattr_decode(ck, ckl, &id, &name, &nlen,
						&piece) || (!nlen && !piece))
				id = 0;
			if (!map_get(&f->inodes, &id, 8, 0))
				problem(f, "xattr of missing inode %llu",
					(unsigned long long)id);
			break;
		}
		case AG_K_EXTENT:
			rec_extent(f, k, ckl, cv, cvl, &last_ino, &last_end);
			break;
		case AG_K_CHUNK:
			rec_chunk(f, k, ckl, cv, cvl, check_data);
			break;
		case AG_K_STRIPE:
			if (check_data &&
			    !ag_key_stripe_decode(ck, ckl, &seg, &stripe))
				rec_stripe(f, seg, stripe, cv, cvl, bufs, ok);
			break;
		case AG_K_CLIENT:
			break;
		case AG_K_STATS:
			if (!ag_stats_rec_decode(cv, cvl, &f->stats))
				f->have_stats = 1;
			break;
		case AG_K_ORPHAN:
			if (!ag_key_orphan_decode(ck, ckl, &id))
				rec_orphan(f, id);
			break;
		case AG_K_SIMILAR:
			rec_similar(f, k, ckl, cv, cvl);
			break;
		case AG_K_EVENT:
		case AG_K_TRIGGER:
		case AG_K_CURSOR:
			if (ag_event_record_check(ck, ckl, cv, cvl))
				problem(f, "malformed event or trigger record");
			else if (type == AG_K_EVENT)
				rec_event(f, ck, ckl, cv, cvl);
			break;
		case AG_K_VERSION:
			rec_version(f, ck, ckl, cv, cvl);
			break;
		default:
			if (type < 0)
				problem(f, "record with an empty key");
			else
				problem(f, "record of unknown type %#x", type);
		}
	}
	ag_cursor_free(cur);
	if (rc < 0)
		problem(f, "the tree cannot be scanned: %s", ag_strerror(rc));
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(bufs[i]);
	return rc;
}

static const char *const rec_names[AG_K_ORPHAN + 2] = {
	[AG_K_SUPER] = "SUPER",	  [AG_K_SEGMENT] = "SEGMENT",
	[AG_K_INODE] = "INODE",	  [AG_K_DIRENT] = "DIRENT",
	[AG_K_XATTR] = "XATTR",	  [AG_K_EXTENT] = "EXTENT",
	[AG_K_CHUNK] = "CHUNK",	  [AG_K_STRIPE] = "STRIPE",
	[AG_K_CLIENT] = "CLIENT", [AG_K_STATS] = "STATS",
	[AG_K_ORPHAN] = "ORPHAN", [AG_K_ORPHAN + 1] = "other",
};

/* What the metadata costs (fsck -v): the bytes of one copy of the tree's
 * pages per inode, how full its pages are, and the records' bytes by
 * type, per inode and per record. */
static void report_bytes(struct fsck *f, struct ag_tree *t)
{
	struct ag_tree_usage u = { 0 };
	uint64_t inodes = f->counted.inodes ? f->counted.inodes : 1, total;
	int rc = ag_tree_usage(t, &u);

	if (rc) {
		note(f, "metadata usage: %s", ag_strerror(rc));
		return;
	}
	total = (u.leaves + u.branches) * u.page_size;
	note(f, "metadata: %llu bytes in %llu pages of %zu (one copy of "
	     "%d), %.1f bytes per inode",
	     (unsigned long long)total,
	     (unsigned long long)(u.leaves + u.branches), u.page_size,
	     AG_PAGE_COPIES, (double)total / inodes);
	note(f, "  leaves:   %llu, %.1f %% full", (unsigned long long)u.leaves,
	     u.leaves ? 100.0 * u.leaf_used / (u.leaves * u.page_size) : 0.0);
	note(f, "  branches: %llu, %.1f %% full",
	     (unsigned long long)u.branches,
	     u.branches ? 100.0 * u.branch_used / (u.branches * u.page_size)
			: 0.0);
	note(f, "  %-8s %9s %10s %10s %9s %9s", "record", "count", "key B",
	     "value B", "B/inode", "B/record");
	for (int i = 0; i <= AG_K_ORPHAN + 1; i++) {
		const struct rec_bytes *rb = &f->bytes[i];

		if (!rb->n)
			continue;
		note(f, "  %-8s %9llu %10llu %10llu %9.1f %9.1f",
		     rec_names[i], (unsigned long long)rb->n,
		     (unsigned long long)rb->key, (unsigned long long)rb->val,
		     (double)(rb->key + rb->val) / inodes,
		     (double)(rb->key + rb->val) / rb->n);
	}
}

static void check_counts(struct fsck *f)
{
	const struct ag_label *l = &f->c->ds->label;
	size_t i;
	uint32_t s;

	for (i = 0; i < f->inodes.cap; i++) {
		struct entry *e = &f->inodes.e[i];
		uint64_t ino, want, orphan;

		if (!e->used)
			continue;
		memcpy(&ino, e->key, 8);
		orphan = e->c >> 63;
		if (S_ISDIR(e->mode)) {
			want = 2 + (e->c & ~(1ull << 63));
			if (ino != AG_ROOT && e->a != 1)
				problem(f, "directory %llu has %llu names",
					(unsigned long long)ino,
					(unsigned long long)e->a);
		} else {
			want = e->a;
			if (!want && !orphan)
				problem(f, "inode %llu has no name and is no "
					"orphan (lost)", (unsigned long long)ino);
		}
		if (e->b != want)
			problem(f, "inode %llu: nlink %llu, counted %llu",
				(unsigned long long)ino,
				(unsigned long long)e->b,
				(unsigned long long)want);
	}
	if (!map_get(&f->inodes, &(uint64_t){ AG_ROOT }, 8, 0))
		problem(f, "the root directory is missing");
	for (i = 0; i < f->chunks.cap; i++) {
		struct entry *e = &f->chunks.e[i];

		if (e->used && !e->b)
			problem(f, "extents or deltas name chunk "
				"%02x%02x%02x%02x, which has no record",
				e->key[0], e->key[1], e->key[2], e->key[3]);
		else if (e->used && (e->a != e->c || !e->a))
			problem(f, "chunk %02x%02x%02x%02x: %llu references "
				"recorded, %llu found", e->key[0], e->key[1],
				e->key[2], e->key[3], (unsigned long long)e->c,
				(unsigned long long)e->a);
	}
	for (s = 0; s < l->nsegments; s++) {
		if (f->seg_live[s] && f->seg_state[s] != AG_SEG_DATA)
			problem(f, "segment %u holds chunks but is not a data "
				"segment", s);
		if (f->seg_state[s] == AG_SEG_DATA &&
		    f->seg_live[s] != f->seg_rec_live[s])
			problem(f, "segment %u: %llu live bytes recorded, %llu "
				"counted", s,
				(unsigned long long)f->seg_rec_live[s],
				(unsigned long long)f->seg_live[s]);
		if (f->seg_pages[s] && f->seg_state[s] != AG_SEG_META)
			problem(f, "segment %u holds metadata pages but is not "
				"a metadata segment", s);
	}
	if (!f->have_stats)
		problem(f, "the STATS record is missing");
	else if (memcmp(&f->stats, &f->counted, sizeof(f->stats)))
		problem(f, "STATS disagree: recorded logical %llu unique %llu "
			"stored %llu chunks %llu inodes %llu; counted %llu %llu "
			"%llu %llu %llu",
			(unsigned long long)f->stats.logical,
			(unsigned long long)f->stats.unique,
			(unsigned long long)f->stats.stored,
			(unsigned long long)f->stats.chunks,
			(unsigned long long)f->stats.inodes,
			(unsigned long long)f->counted.logical,
			(unsigned long long)f->counted.unique,
			(unsigned long long)f->counted.stored,
			(unsigned long long)f->counted.chunks,
			(unsigned long long)f->counted.inodes);
	if (f->next_ino <= f->max_ino)
		problem(f, "next inode number %llu is not above the largest "
			"in use, %llu", (unsigned long long)f->next_ino,
			(unsigned long long)f->max_ino);
}

/* Every copy of every commit record, against the rule in commit.h: a
 * damaged copy is damage even when other copies stand for it, and a
 * damaged newer generation is one the state would lose. */
static int check_rings(struct fsck *f)
{
	struct ag_commit_scan *scan = malloc(sizeof(*scan));
	struct ag_commit_rec rec;
	int i, rc;

	if (!scan)
		return -ENOMEM;
	rc = ag_commit_pick(f->c->ds, &rec, scan, ag_cl_check_commit,
			    f->c);
	if (rc && rc != -ENOENT)
		goto out;
	for (i = 0; i < AG_MIN(scan->nbad, AG_COMMIT_BAD_MAX); i++) {
		const struct ag_commit_bad *b = &scan->bad[i];

		if (b->gen)
			problem(f, "drive %d: the copy of commit record %llu "
				"in ring slot %u is damaged", b->drive,
				(unsigned long long)b->gen, b->slot);
		else
			problem(f, "drive %d: ring slot %u holds a damaged "
				"commit record (generation unreadable)",
				b->drive, b->slot);
	}
	if (scan->nbad > AG_COMMIT_BAD_MAX)
		problem(f, "%d more damaged commit record copies",
			scan->nbad - AG_COMMIT_BAD_MAX);
	if (!rc && rec.npages) {
		f->cur_pages = malloc(rec.npages * sizeof(*f->cur_pages));
		if (f->cur_pages) {
			memcpy(f->cur_pages, rec.pages,
			       rec.npages * sizeof(*f->cur_pages));
			qsort(f->cur_pages, rec.npages,
			      sizeof(*f->cur_pages), cmp_addr);
			f->ncur_pages = rec.npages;
			f->cur_gen = rec.gen;
		}
	}
	if (scan->lost_gen)
		problem(f, "generation %llu is damaged on every copy of its %s "
			"(not a torn commit): the newest whole one, %llu, is "
			"checked instead; agora-metad serves it only with "
			"--accept-rollback, losing generations up to %llu",
			(unsigned long long)scan->damaged_gen,
			scan->lost_pages ? "pages" : "record",
			rc ? 0ull : (unsigned long long)rec.gen,
			(unsigned long long)scan->lost_gen);
	rc = 0;
out:
	free(scan);
	return rc;
}

int ag_fsck(struct ag_cluster *c, FILE *out, int verbose)
{
	const struct ag_label *l = &c->ds->label;
	struct fsck f = { .c = c, .out = out, .verbose = verbose };
	struct ag_tree *t = NULL;
	int rc, i;

	f.seg_live = calloc(l->nsegments, sizeof(uint64_t));
	f.seg_rec_live = calloc(l->nsegments, sizeof(uint64_t));
	f.seg_pages = calloc(l->nsegments, sizeof(uint32_t));
	f.seg_state = malloc(l->nsegments);
	if (!f.seg_live || !f.seg_rec_live || !f.seg_pages || !f.seg_state) {
		rc = -ENOMEM;
		goto out;
	}
	memset(f.seg_state, 0xff, l->nsegments);
	for (i = 0; i < c->ds->n; i++) {
		if (c->ds->d[i].state == AG_DRIVE_FAILED)
			problem(&f, "drive %d (%s) failed: truncated, removed "
				"or replaced", i, c->ds->d[i].path);
		else if (c->ds->d[i].state != AG_DRIVE_OK)
			problem(&f, "drive %d (%s) is missing or not of this "
				"cluster", i, c->ds->d[i].path);
	}
	rc = check_rings(&f);
	if (!rc)
		rc = ag_cluster_refresh(c);
	if (!rc)
		rc = ag_cl_tree(c, &t);
	if (rc)
		goto out;
	note(&f, "checking generation %llu",
	     (unsigned long long)ag_cluster_generation(c));
	rc = ag_tree_walk(t, check_page, &f);
	if (rc && rc != -AG_ECORRUPT && rc != -AG_ESTALEROOT && rc != -EIO)
		goto out;
	rc = scan_records(&f, t, 1);
	if (rc)
		goto out;
	check_deltas(&f, t, 1);
	check_counts(&f);
	if (verbose)
		report_bytes(&f, t);
	if (f.torn_copies)
		note(&f, "commit %llu was cut short by a crash: %llu copies of "
		     "its pages were never written (not damage; agora-metad "
		     "writes them when it starts)",
		     (unsigned long long)f.cur_gen,
		     (unsigned long long)f.torn_copies);
	note(&f, "%llu pages (%llu bad mirror copies), %llu inodes, %llu "
	     "chunks, %llu orphans", (unsigned long long)f.pages,
	     (unsigned long long)f.bad_copies,
	     (unsigned long long)f.counted.inodes,
	     (unsigned long long)f.counted.chunks,
	     (unsigned long long)f.orphans);
	if (f.ndeltas || f.similar)
		note(&f, "%zu delta chunks; %llu similarity index entries "
		     "(%llu stale)", f.ndeltas,
		     (unsigned long long)f.similar,
		     (unsigned long long)f.similar_stale);
	note(&f, f.problems ? "%lu problems found" : "clean", f.problems);
	rc = f.problems ? 1 : 0;
out:
	ag_tree_close(t);
	free(f.cur_pages);
	free(f.inodes.e);
	free(f.chunks.e);
	free(f.deltas);
	free(f.seg_live);
	free(f.seg_rec_live);
	free(f.seg_pages);
	free(f.seg_state);
	return rc;
}

/* What the commit rings say beside the state: damaged copies per drive,
 * and a damaged newer generation (commit.h). */
static int ring_status(struct ag_cluster *c, struct ag_status *st)
{
	struct ag_commit_scan *scan = malloc(sizeof(*scan));
	struct ag_commit_rec rec;
	int i, rc;

	if (!scan)
		return -ENOMEM;
	rc = ag_commit_pick(c->ds, &rec, scan, ag_cl_check_commit,
			    c);
	for (i = 0; i < AG_MIN(scan->nbad, AG_COMMIT_BAD_MAX); i++)
		if (scan->bad[i].drive < AG_MAX_DRIVES)
			st->drives[scan->bad[i].drive].bad_records++;
	st->lost_generation = scan->lost_gen;
	st->damaged_generation = scan->damaged_gen;
	st->lost_pages = scan->lost_pages;
	free(scan);
	return rc == -ENOENT ? 0 : rc;
}

int ag_cluster_status(struct ag_cluster *c, struct ag_status *st)
{
	const struct ag_label *l = &c->ds->label;
	uint8_t k[AG_KEYBUF], v[AG_STATS_REC_LEN];
	uint64_t payload = ag_segment_payload(l);
	struct ag_stats_rec s;
	struct ag_cursor *cur;
	struct ag_tree *t;
	const void *ck, *cv;
	size_t ckl, cvl, vl = sizeof(v);
	uint32_t held;
	int i, rc;

	memset(st, 0, sizeof(*st));
	rc = ring_status(c, st);
	if (!rc)
		rc = ag_cluster_refresh(c);
	if (rc)
		return rc;
	memcpy(st->uuid, l->uuid, 16);
	st->generation = ag_cluster_generation(c);
	st->ndrives = c->ds->n;
	st->ec_k = l->ec_k;
	st->ec_m = l->ec_m;
	st->chunk_min = l->chunk_min;
	st->chunk_avg = l->chunk_avg;
	st->chunk_max = l->chunk_max;
	st->strip_size = l->strip_size;
	st->segment_size = l->segment_size;
	for (i = 0; i < c->ds->n && i < AG_MAX_DRIVES; i++) {
		struct ag_drive *d = &c->ds->d[i];

		snprintf(st->drives[i].path, sizeof(st->drives[i].path), "%s",
			 d->path ? d->path : "?");
		st->drives[i].state = d->state;
		st->drives[i].read_errors = d->read_errors;
		st->drives[i].write_errors = d->write_errors;
		st->drives[i].csum_errors = d->csum_errors;
	}
	st->nsegments = l->nsegments;
	st->raw_bytes = (uint64_t)l->nsegments * l->segment_size * c->ds->n;
	st->capacity_bytes = (uint64_t)l->nsegments * payload;
	rc = ag_cl_tree(c, &t);
	if (rc)
		return rc;
	rc = ag_tree_get(t, k, ag_key_stats(k), v, &vl);
	if (!rc && !ag_stats_rec_decode(v, vl, &s)) {
		st->logical_bytes = s.logical;
		st->unique_bytes = s.unique;
		st->stored_bytes = s.stored;
		st->chunks = s.chunks;
		st->inodes = s.inodes;
	}
	rc = ag_tree_seek(t, k, ag_key_segment(k, 0), &cur);
	if (rc)
		goto out;
	while ((rc = ag_cursor_next(cur, &ck, &ckl, &cv, &cvl)) == 1) {
		struct ag_seg_rec r;

		if (ag_key_type(ck, ckl) != AG_K_SEGMENT ||
		    ag_seg_rec_decode(cv, cvl, &r))
			break;
		if (r.state == AG_SEG_META)
			st->meta_segments++;
		else if (r.state == AG_SEG_DATA)
			st->data_segments++;
	}
	ag_cursor_free(cur);
	rc = rc < 0 ? rc : 0;
	st->free_segments = st->nsegments - st->meta_segments -
			    st->data_segments;
	st->used_bytes = (uint64_t)(st->meta_segments + st->data_segments) *
			 l->segment_size * c->ds->n;
	/* metad leases user data no segment out of the last AG_META_RESERVE
	 * and the cleaner's reserve (space.h: only the segment count counts) */
	held = AG_META_RESERVE +
	       ag_space_clean_reserve(&(struct ag_space){ .nseg = l->nsegments });
	st->free_bytes = st->free_segments > held ?
			 (uint64_t)(st->free_segments - held) * payload : 0;
out:
	ag_tree_close(t);
	return rc;
}
