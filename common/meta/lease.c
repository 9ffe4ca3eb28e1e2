/*
 * lease.c - the active metad's lease on the drives: its codec, reading
 * and writing every drive's copy, taking it over and renewing it (the
 * rules and the timing are lease.h's).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "drive.h"
#include "format.h"
#include "lease.h"
#include "pool.h"
#include "util.h"

/* The lease block's fields (format.h): byte offsets. */
#define L_MAGIC 0
#define L_UUID 8
#define L_EPOCH 24
#define L_FLAGS 28
#define L_SEQ 32
#define L_DURATION 40
#define L_BOOT 48
#define L_PID 64
#define L_ADDR 72
#define L_CRC (AG_BLOCK - 4)

#define F_RELEASED 1u

_Static_assert(L_ADDR + AG_LEASE_ADDR_MAX <= L_CRC, "the address fits");

struct copy {
	uint32_t epoch, flags, pid;
	uint64_t seq, duration_ns;
	uint8_t boot[16];
	char addr[AG_LEASE_ADDR_MAX];
};

struct ag_lease {
	const struct ag_config *cfg;
	struct ag_drives *ds;
	char self[AG_LEASE_ADDR_MAX];
	uint64_t duration_ns;
	uint8_t boot[16];
	uint32_t pid;
	/* a standby's view: the lease it saw, since when (monotonic) */
	struct copy seen;
	int have_seen;
	uint64_t seen_since;
	/* the holder's: what it writes, until when it holds */
	struct copy mine;
	atomic_uint_fast64_t valid_until;
	atomic_int lost;
	pthread_t renewer;
	int renewing, stop;
	pthread_mutex_t lock; /* mine.seq, stop */
	pthread_cond_t cond;
};

static void encode(uint8_t *b, const uint8_t *uuid, const struct copy *c)
{
	memset(b, 0, AG_BLOCK);
	memcpy(b + L_MAGIC, AG_LEASE_MAGIC, 8);
	memcpy(b + L_UUID, uuid, 16);
	put_le32(b + L_EPOCH, c->epoch);
	put_le32(b + L_FLAGS, c->flags);
	put_le64(b + L_SEQ, c->seq);
	put_le64(b + L_DURATION, c->duration_ns);
	memcpy(b + L_BOOT, c->boot, 16);
	put_le32(b + L_PID, c->pid);
	memcpy(b + L_ADDR, c->addr, strnlen(c->addr, AG_LEASE_ADDR_MAX - 1));
	put_le32(b + L_CRC, ag_crc32c(b, L_CRC));
}

/* 0, or -ENOENT when b holds no lease of this cluster. */
static int decode(const uint8_t *b, const uint8_t *uuid, struct copy *c)
{
	if (memcmp(b + L_MAGIC, AG_LEASE_MAGIC, 8) ||
	    get_le32(b + L_CRC) != ag_crc32c(b, L_CRC) ||
	    memcmp(b + L_UUID, uuid, 16) || b[L_ADDR + AG_LEASE_ADDR_MAX - 1])
		return -ENOENT;
	c->epoch = get_le32(b + L_EPOCH);
	c->flags = get_le32(b + L_FLAGS);
	c->seq = get_le64(b + L_SEQ);
	c->duration_ns = get_le64(b + L_DURATION);
	memcpy(c->boot, b + L_BOOT, 16);
	c->pid = get_le32(b + L_PID);
	memcpy(c->addr, b + L_ADDR, AG_LEASE_ADDR_MAX);
	return 0;
}

static int same_holder(const struct copy *a, const struct copy *b)
{
	return a->pid == b->pid && !memcmp(a->boot, b->boot, 16) &&
	       !strcmp(a->addr, b->addr);
}

static int same_lease(const struct copy *a, const struct copy *b)
{
	return a->epoch == b->epoch && a->seq == b->seq &&
	       a->flags == b->flags && same_holder(a, b);
}

static int majority(const struct ag_drives *ds)
{
	return ds->n / 2 + 1;
}

/* The drives' part of read_copies and write_copies, all at once (the
 * time a renewal takes counts against the lease): drive i's block is
 * blocks + i * AG_BLOCK. */
struct lease_io {
	uint8_t *blocks;
	int writing;
};

static int lease_io_one(struct ag_drives *ds, int i, void *arg)
{
	struct lease_io *io = arg;
	uint8_t *b = io->blocks + (size_t)i * AG_BLOCK;
	int rc;

	if (ds->d[i].state != AG_DRIVE_OK)
		return 1;
	if (!io->writing)
		return ag_drive_read(ds, i, b, AG_BLOCK, AG_LEASE_OFF);
	rc = ag_drive_write(ds, i, b, AG_BLOCK, AG_LEASE_OFF);
	return rc ? rc : ag_drive_sync(ds, i);
}

/* Every present drive's copy into c[] (valid[i] 1 where one decodes);
 * the index of the lease (highest epoch, then renewal count), -1 when
 * no drive has one, or -ENOMEM. */
static int read_copies(struct ag_lease *l, struct copy *c, int *valid)
{
	struct lease_io io = {
		.blocks = ag_alloc_aligned((size_t)l->ds->n * AG_BLOCK),
	};
	int rc[AG_MAX_DRIVES], i, best = -1;

	if (!io.blocks)
		return -ENOMEM;
	ag_pool_run(l->ds, lease_io_one, &io, rc);
	for (i = 0; i < l->ds->n; i++) {
		valid[i] = !rc[i] && !decode(io.blocks + (size_t)i * AG_BLOCK,
					    l->ds->label.uuid, &c[i]);
		if (valid[i] && (best < 0 || c[i].epoch > c[best].epoch ||
				 (c[i].epoch == c[best].epoch &&
				  c[i].seq > c[best].seq)))
			best = i;
	}
	free(io.blocks);
	return best;
}

/* Write c to every present drive and sync: how many took it. */
static int write_copies(struct ag_lease *l, const struct copy *c)
{
	struct lease_io io = {
		.blocks = ag_alloc_aligned((size_t)l->ds->n * AG_BLOCK),
		.writing = 1,
	};
	int rc[AG_MAX_DRIVES], i, n = 0;

	if (!io.blocks)
		return 0;
	for (i = 0; i < l->ds->n; i++)
		encode(io.blocks + (size_t)i * AG_BLOCK, l->ds->label.uuid, c);
	ag_pool_run(l->ds, lease_io_one, &io, rc);
	for (i = 0; i < l->ds->n; i++)
		n += !rc[i];
	free(io.blocks);
	return n;
}

void ag_lease_boot_id(uint8_t *id)
{
	char s[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	int i, n = 0;

	memset(id, 0, 16);
	if (f) {
		if (!fgets(s, sizeof(s), f))
			s[0] = 0;
		fclose(f);
	}
	for (i = 0; s[i] && n < 32; i++) {
		int v = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
			s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;

		if (v < 0)
			continue;
		id[n / 2] |= (uint8_t)(n % 2 ? v : v << 4);
		n++;
	}
}

/* The "(comm) S" part of /proc/PID/stat (PID 0: ours) into buf; 0, or
 * -1 when there is none. */
static int proc_stat(uint32_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	size_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	return strchr(buf, '(') && strrchr(buf, ')') ? 0 : -1;
}

/* Whether pid is a live process of this host running what we run (not
 * gone, not a zombie, not another program that got the pid since). */
static int process_alive(uint32_t pid)
{
	char buf[512], self[512], *p, *q;

	if (!pid || (kill((pid_t)pid, 0) && errno == ESRCH))
		return 0;
	if (proc_stat(pid, buf, sizeof(buf)) || proc_stat(0, self, sizeof(self)))
		return 1; /* no /proc: believe kill */
	p = strrchr(buf, ')');
	if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
		return 0;
	q = strrchr(self, ')');
	*p = *q = 0;
	return !strcmp(strchr(buf, '('), strchr(self, '('));
}

int ag_lease_new(const struct ag_config *cfg, const char *self,
		 uint64_t duration_ns, struct ag_lease **lp)
{
	struct ag_lease *l;
	pthread_condattr_t ca;
	int rc;

	if (strlen(self) >= AG_LEASE_ADDR_MAX)
		return -ENAMETOOLONG;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	rc = ag_drives_open(cfg, &l->ds);
	if (rc) {
		free(l);
		return rc;
	}
	l->cfg = cfg;
	strcpy(l->self, self);
	l->duration_ns = duration_ns;
	ag_lease_boot_id(l->boot);
	l->pid = (uint32_t)getpid();
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	*lp = l;
	return 0;
}

uint64_t ag_lease_poll_ns(const struct ag_lease *l)
{
	return l->duration_ns / 8;
}

uint32_t ag_lease_epoch(const struct ag_lease *l)
{
	return l->mine.epoch;
}

int ag_lease_held(struct ag_lease *l)
{
	return l->renewing && !atomic_load(&l->lost) &&
	       ag_mono_ns() < atomic_load(&l->valid_until);
}

/* The first valid copy that says the lease is no longer ours (one of a
 * higher epoch, or of our epoch by another holder), or NULL. */
static const struct copy *superseding(const struct ag_lease *l,
				      const struct copy *c, const int *valid)
{
	int i;

	for (i = 0; i < l->ds->n; i++)
		if (valid[i] && (c[i].epoch > l->mine.epoch ||
				 (c[i].epoch == l->mine.epoch &&
				  !same_holder(&c[i], &l->mine))))
			return &c[i];
	return NULL;
}

/* One renewal: 0 when a majority took it (the holder holds on), or
 * -EPERM when the lease went to another (a copy of a higher epoch, or of
 * ours by someone else: it is lost for good). */
static int renew(struct ag_lease *l)
{
	struct copy c[AG_MAX_DRIVES];
	const struct copy *other;
	int valid[AG_MAX_DRIVES];
	uint64_t start = ag_mono_ns();

	/* Only a renewal that starts while we hold may extend: a standby
	 * takes over a whole duration after the last write it saw, and
	 * this one then ends half a duration after it started, before
	 * that, however late its write lands. One that starts after we
	 * ran out must not even write: a successor may be taking over. */
	if (start >= atomic_load(&l->valid_until)) {
		AG_ERR("the metad lease ran out before it was renewed (a stall "
		       "of over %llu ms): this metad no longer holds it",
		       (unsigned long long)(l->duration_ns / 2000000));
		atomic_store(&l->lost, 1);
		return -EPERM;
	}
	if (read_copies(l, c, valid) == -ENOMEM)
		return 0; /* try again next time: the time runs meanwhile */
	other = superseding(l, c, valid);
	if (other) {
		AG_ERR("the metad lease went to %s (epoch %u): this metad no "
		       "longer holds it", other->addr, other->epoch);
		atomic_store(&l->lost, 1);
		return -EPERM;
	}
	pthread_mutex_lock(&l->lock);
	l->mine.seq++;
	pthread_mutex_unlock(&l->lock);
	if (write_copies(l, &l->mine) >= majority(l->ds))
		atomic_store(&l->valid_until, start + l->duration_ns / 2);
	else
		AG_WARN("lease renewal reached fewer than %d drives",
			majority(l->ds));
	return 0;
}

static void *renewer_main(void *arg)
{
	struct ag_lease *l = arg;
	struct timespec ts;

	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		uint64_t at;

		pthread_mutex_unlock(&l->lock);
		if (renew(l))
			return NULL;
		at = ag_mono_ns() + l->duration_ns / 8;
		pthread_mutex_lock(&l->lock);
		ts.tv_sec = (time_t)(at / 1000000000ull);
		ts.tv_nsec = (long)(at % 1000000000ull);
		while (!l->stop &&
		       pthread_cond_timedwait(&l->cond, &l->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* Write our lease with an epoch above cur's (when have_cur) and every
 * record's, let a rival's write land, read back: 1 when a majority
 * holds ours. */
static int take(struct ag_lease *l, const struct copy *cur, int have_cur)
{
	struct ag_commit_rec *none = calloc(1, sizeof(*none));
	struct copy c[AG_MAX_DRIVES];
	int valid[AG_MAX_DRIVES], i, n = 0, rc;
	uint32_t epoch, page_epoch;
	uint64_t start;

	if (!none)
		return -ENOMEM;
	rc = ag_commit_ring_scan(l->ds, none, &epoch, &page_epoch);
	free(none);
	if (rc)
		return rc;
	memset(&l->mine, 0, sizeof(l->mine));
	l->mine.epoch = AG_MAX(epoch, have_cur ? cur->epoch : 0) + 1;
	l->mine.seq = 1;
	l->mine.duration_ns = l->duration_ns;
	memcpy(l->mine.boot, l->boot, 16);
	l->mine.pid = l->pid;
	strcpy(l->mine.addr, l->self);
	start = ag_mono_ns();
	if (write_copies(l, &l->mine) < majority(l->ds))
		return -AG_ENOQUORUM;
	usleep((useconds_t)(l->duration_ns / 8 / 1000));
	if (read_copies(l, c, valid) == -ENOMEM)
		return -ENOMEM;
	for (i = 0; i < l->ds->n; i++)
		n += valid[i] && same_lease(&c[i], &l->mine);
	if (n < majority(l->ds)) {
		AG_WARN("another metad took the lease at the same time; "
			"standing by");
		l->have_seen = 0;
		return 0;
	}
	atomic_store(&l->valid_until, start + l->duration_ns / 2);
	atomic_store(&l->lost, 0);
	l->stop = 0;
	rc = pthread_create(&l->renewer, NULL, renewer_main, l);
	if (rc)
		return -rc;
	l->renewing = 1;
	return 1;
}

int ag_lease_try_take(struct ag_lease *l, char *holder, size_t len)
{
	struct copy c[AG_MAX_DRIVES];
	int valid[AG_MAX_DRIVES], best;
	uint64_t now = ag_mono_ns(), wait;
	const struct copy *cur;

	if (l->renewing)
		return ag_lease_held(l) ? 1 : -EPERM;
	best = read_copies(l, c, valid);
	if (best == -ENOMEM)
		return best;
	if (best < 0)
		return take(l, NULL, 0); /* a new cluster: nobody ever held it */
	cur = &c[best];
	if (holder)
		snprintf(holder, len, "%s", cur->addr);
	if (cur->flags & F_RELEASED)
		return take(l, cur, 1);
	if (!memcmp(cur->boot, l->boot, 16) && cur->pid != l->pid) {
		int alive = process_alive(cur->pid);

		if (alive && (!strcmp(cur->addr, l->self) ||
			      !ag_config_metad_has(l->cfg, cur->addr))) {
			AG_ERR("another agora-metad already serves this "
			       "cluster (pid %u at %s holds its lease)",
			       cur->pid, cur->addr);
			return -EBUSY;
		}
		/* our own predecessor, gone: nobody else may wait for it */
		if (!alive && !strcmp(cur->addr, l->self))
			return take(l, cur, 1);
	}
	if (!l->have_seen || !same_lease(&l->seen, cur)) {
		l->seen = *cur;
		l->have_seen = 1;
		l->seen_since = now;
		return 0;
	}
	wait = AG_MAX(cur->duration_ns, l->duration_ns);
	if (now - l->seen_since < wait)
		return 0;
	AG_WARN("the metad lease of %s (epoch %u) was not renewed for %llu "
		"ms: taking over", cur->addr, cur->epoch,
		(unsigned long long)((now - l->seen_since) / 1000000ull));
	return take(l, cur, 1);
}

void ag_lease_drop(struct ag_lease *l, int release)
{
	struct copy c[AG_MAX_DRIVES];
	int valid[AG_MAX_DRIVES];

	if (!l->renewing)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = 1;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->renewer, NULL);
	l->renewing = 0;
	l->have_seen = 0;
	/* only a lease still ours is released: never another's */
	if (release && !atomic_load(&l->lost) &&
	    read_copies(l, c, valid) != -ENOMEM && !superseding(l, c, valid)) {
		l->mine.seq++;
		l->mine.flags |= F_RELEASED;
		write_copies(l, &l->mine);
	}
	atomic_store(&l->valid_until, 0);
}

void ag_lease_free(struct ag_lease *l)
{
	if (!l)
		return;
	ag_lease_drop(l, 1);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	ag_drives_close(l->ds);
	free(l);
}
