/*
 * lease.h - which agora-metad is the active one: a lease recorded on the
 * drives, held and renewed by the active metad, taken over by a standby
 * once it has expired.
 *
 * Every drive has one lease block at AG_LEASE_OFF (format.h has its byte
 * table). The lease is the copy with the highest (epoch, renewal count)
 * among the copies that decode; it names its holder (its address in
 * `metad =`, its boot id and pid), its fencing epoch and its duration.
 * A write of the lease counts when a majority of the cluster's drives
 * (missing ones count against it) took it and synced.
 *
 * Time. No two hosts' clocks are compared. The holder renews every
 * eighth of a duration and counts itself the holder until half a
 * duration after the start of its last renewal that a majority took, on
 * its own monotonic clock; a renewal that starts once that has passed
 * writes nothing and the lease is lost. A standby takes the lease only
 * after it saw the same lease (epoch, renewal count, holder) unchanged
 * for a whole duration on its own monotonic clock. So the holder stops
 * counting itself the holder half a duration before a standby may start,
 * however late a renewal's write lands, as long as the two clocks run at
 * rates within a factor of two of each other.
 *
 * Taking it. A standby writes a lease with an epoch above the lease's
 * and above every commit record's (ag_commit_ring_scan), waits an eighth
 * of a duration for a rival that took it at the same moment, and reads the
 * lease back: it is the holder when a majority holds its copy. The
 * metad that then opens the cluster writes with that fencing epoch; a
 * holder that sees a copy of a higher epoch, or of its own epoch by
 * someone else, has lost the lease. A lease released by a metad that
 * stopped cleanly is taken at once, and so is one whose holder is a
 * process of this host, at the taker's own address, that is gone (a
 * restart after a crash); a holder that is a live process of this host
 * is never waited for by a metad at another address that `metad =` does
 * not list, or at its own address (-EBUSY: another one serves).
 */
#ifndef AG_LEASE_H
#define AG_LEASE_H

#include <stdint.h>

#include "config.h"

#define AG_LEASE_ADDR_MAX 128 /* holder address, NUL included */

struct ag_lease;

/* Open the drives of cfg for the lease of the metad at address self,
 * with leases of duration_ns. 0 or -errno. */
int ag_lease_new(const struct ag_config *cfg, const char *self,
		 uint64_t duration_ns, struct ag_lease **lp);
/* Release the lease if held (written so that a standby takes over at
 * once), stop renewing, close. */
void ag_lease_free(struct ag_lease *l);
/* This boot's id, 16 bytes (/proc/sys/kernel/random/boot_id, its hex
 * digits): what a lease names its holder's host by. */
void ag_lease_boot_id(uint8_t *id);

/* One look at the lease by a metad that does not hold it: 1 when it has
 * taken it now (ag_lease_epoch says its epoch; the renewer runs), 0
 * while another holds it (*holder names it when not NULL), -EBUSY when
 * the holder is a live process of this host that must not be waited
 * for (above), or -errno. Call it every ag_lease_poll_ns. */
int ag_lease_try_take(struct ag_lease *l, char *holder, size_t len);
uint64_t ag_lease_poll_ns(const struct ag_lease *l);
/* The fencing epoch of the lease taken (0 before). */
uint32_t ag_lease_epoch(const struct ag_lease *l);
/* Whether the lease is still ours: taken, not lost to a higher epoch,
 * and renewed recently enough (above). A metad commits only while it
 * is, and acknowledges a commit only when it still is afterwards. */
int ag_lease_held(struct ag_lease *l);
/* Stop holding: stop renewing and write the lease released (when
 * release) or leave it to expire. */
void ag_lease_drop(struct ag_lease *l, int release);

#endif
