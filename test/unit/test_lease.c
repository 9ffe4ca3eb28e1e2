/*
 * test_lease.c - unit test of the active metad's lease
 * (common/meta/lease.c) on six drive files, with leases of 800 ms.
 *
 * A fresh cluster's lease is taken at once; a standby never takes one
 * that is renewed, and takes one left to expire only after it saw it
 * unchanged for a whole duration, with a higher epoch; a released one is
 * taken at once. A holder that finds a copy of a higher epoch on the
 * drives has lost the lease for good. Copies written by hand (format.h's
 * byte table) stand for holders that are other processes of this host: a
 * live one at the taker's own address or at one metad = does not list is
 * refused (-EBUSY), a dead one at its own address, or one whose pid now
 * runs another program, is taken over at once.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drives.h"
#include "format.h"
#include "lease.h"
#include "tap.h"
#include "util.h"

#define DURATION_NS (800ull * 1000000ull)

/* A lease copy by hand, format.h's table, onto every drive. */
static int put_lease(struct drive_files *c, uint32_t epoch, uint32_t pid,
		     const char *addr)
{
	uint8_t *b = ag_alloc_aligned(AG_BLOCK);
	int i, rc = 0;

	if (!b)
		return -ENOMEM;
	memset(b, 0, AG_BLOCK);
	memcpy(b, AG_LEASE_MAGIC, 8);
	memcpy(b + 8, c->ds->label.uuid, 16);
	put_le32(b + 24, epoch);
	put_le64(b + 32, 1);
	put_le64(b + 40, DURATION_NS);
	ag_lease_boot_id(b + 48);
	put_le32(b + 64, pid);
	memcpy(b + 72, addr, strlen(addr));
	put_le32(b + AG_BLOCK - 4, ag_crc32c(b, AG_BLOCK - 4));
	for (i = 0; i < c->n && !rc; i++)
		rc = ag_drive_write(c->ds, i, b, AG_BLOCK, AG_LEASE_OFF);
	free(b);
	return rc;
}

/* Look every poll until l takes the lease or max_ns passed: the time it
 * took (ns), or 0 when it never did. */
static uint64_t take_within(struct ag_lease *l, uint64_t max_ns)
{
	uint64_t start = ag_mono_ns();

	while (ag_mono_ns() - start < max_ns) {
		int rc = ag_lease_try_take(l, NULL, 0);

		if (rc == 1)
			return ag_mono_ns() - start;
		if (rc < 0)
			return 0;
		usleep((useconds_t)(ag_lease_poll_ns(l) / 1000));
	}
	return 0;
}

/* A live process of this host running what we run (a child that
 * sleeps until killed). */
static pid_t live_pid(void)
{
	pid_t p = fork();

	if (p == 0) {
		pause();
		_exit(0);
	}
	return p;
}

/* A pid that was a process of this host and is no more. */
static uint32_t dead_pid(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	if (p > 0)
		waitpid(p, NULL, 0);
	return (uint32_t)p;
}

int main(void)
{
	struct drive_files c;
	struct ag_lease *a = NULL, *b = NULL;
	char holder[AG_LEASE_ADDR_MAX] = "";
	uint32_t ea, eb;
	uint64_t t;
	int rc, i, took = 0;
	pid_t live = -1, other;

	rc = drive_files_open(&c, NULL, "lease", 6, "4+2", "16M");
	if (!ok(!rc, "six drive files (%s)", ag_strerror(rc)))
		return tap_done();
	free(c.cfg->metad);
	c.cfg->metad = strdup("unix:a,unix:b");
	rc = ag_lease_new(c.cfg, "unix:a", DURATION_NS, &a);
	if (!rc)
		rc = ag_lease_new(c.cfg, "unix:b", DURATION_NS, &b);
	if (!ok(!rc, "two lease handles (%s)", ag_strerror(rc)))
		goto out;

	ok(ag_lease_try_take(a, NULL, 0) == 1 && ag_lease_held(a),
	   "a fresh cluster's lease is taken at once");
	ea = ag_lease_epoch(a);
	for (i = 0; i < 12; i++) {
		rc = ag_lease_try_take(b, holder, sizeof(holder));
		took |= rc != 0;
		usleep((useconds_t)(DURATION_NS / 4 / 1000));
	}
	ok(!took && !strcmp(holder, "unix:a") && ag_lease_held(a),
	   "a renewed lease is never taken in three durations (holder %s)",
	   holder);

	ag_lease_drop(a, 0);
	ok(!ag_lease_held(a), "a holder that stops renewing holds no more");
	t = take_within(b, 10 * DURATION_NS);
	eb = ag_lease_epoch(b);
	ok(t >= DURATION_NS && eb > ea,
	   "an expired lease is taken after a whole duration unchanged (%llu "
	   "ms), with a higher epoch (%u > %u)",
	   (unsigned long long)(t / 1000000), eb, ea);

	ag_lease_drop(b, 1);
	t = take_within(a, 10 * DURATION_NS);
	ok(t && t < DURATION_NS && ag_lease_epoch(a) > eb,
	   "a released lease is taken at once (%llu ms)",
	   (unsigned long long)(t / 1000000));

	/* a successor's copy while a still holds it, written again as a
	 * successor renews it (a renewal of a's under way when it landed
	 * may write over it once) */
	ea = ag_lease_epoch(a);
	for (i = rc = 0; i < 20 && !rc && ag_lease_held(a); i++) {
		rc = put_lease(&c, ea + 1, 1, "unix:b");
		usleep((useconds_t)(DURATION_NS / 4 / 1000));
	}
	ok(!rc && !ag_lease_held(a) && ag_lease_try_take(a, NULL, 0) == -EPERM,
	   "a holder that meets a higher epoch has lost the lease (-EPERM)");
	ag_lease_drop(a, 1);

	/* other processes of this host */
	ag_lease_free(a);
	a = NULL;
	rc = ag_lease_new(c.cfg, "unix:a", DURATION_NS, &a);
	live = live_pid();
	if (!rc)
		rc = live > 0 ? put_lease(&c, 50, (uint32_t)live, "unix:a")
			      : -errno;
	ok(!rc && ag_lease_try_take(a, NULL, 0) == -EBUSY,
	   "a live holder at our own address is not waited for (-EBUSY)");
	rc = put_lease(&c, 51, (uint32_t)live, "unix:elsewhere");
	ok(!rc && ag_lease_try_take(b, NULL, 0) == -EBUSY,
	   "nor one at an address metad = does not list (-EBUSY)");
	rc = put_lease(&c, 52, (uint32_t)live, "unix:b");
	ok(!rc && ag_lease_try_take(a, holder, sizeof(holder)) == 0 &&
	   !strcmp(holder, "unix:b"),
	   "one at another listed address is waited for");
	other = (pid_t)getppid(); /* alive, but another program */
	rc = put_lease(&c, 53, (uint32_t)other, "unix:a");
	if (!rc)
		rc = ag_lease_try_take(a, NULL, 0);
	ok(rc == 1 && ag_lease_epoch(a) == 54,
	   "one whose pid now runs another program is taken at once");
	ag_lease_drop(a, 1);
	rc = put_lease(&c, 60, dead_pid(), "unix:a");
	if (!rc)
		rc = ag_lease_try_take(a, NULL, 0);
	ok(rc == 1 && ag_lease_epoch(a) == 61,
	   "our own dead predecessor's lease is taken at once, epoch %u",
	   ag_lease_epoch(a));
out:
	if (live > 0) {
		kill(live, SIGKILL);
		waitpid(live, NULL, 0);
	}
	ag_lease_free(a);
	ag_lease_free(b);
	drive_files_close(&c);
	return tap_done();
}
